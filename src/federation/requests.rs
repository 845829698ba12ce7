//! Requests across instances (F3).
//!
//! Received:
//! - `Join` of one of our events (Officehours, Mobilizon): the named slot
//!   (our `slot` extension), or the first open one, is requested for the
//!   learner's shadow account through the same rules as local learners
//!   (notice, horizon, weekly limit, karma). A refusal is answered with a
//!   `Reject` carrying the reason.
//! - `Create(Note)` replying to one of our events, or mentioning an advisor
//!   (Mastodon cannot send `Join`): a pending request for the slot whose
//!   time the text names, else the first open one; acknowledged at once by
//!   direct message, refusals too. Other direct notes become messages.
//! - `Accept`/`Reject` of our `Join` from the advisor it went to: the
//!   request is approved, declined or (when it was approved) cancelled.
//! - `Undo(Join)` or `Leave`: the learner withdraws.
//!
//! This module reads and checks the activities and builds the answers; the
//! booking rules that decide are the service's (`service::remote_requests`).
//!
//! Sent, with the booking events (exactly once, in the transaction that
//! processes them; see `protocol_effects`): our `Join` and its `Undo` for
//! local learners on remote slots, and `Accept`/`Reject` (or a direct
//! message, for Mastodon requests) for remote learners on ours.

use serde_json::{Value, json};
use url::Url;

use crate::domain::booking::{Channel, EventKind};
use crate::domain::time_zone;
use crate::service::App;
use crate::service::ports::People;
use crate::service::remote_requests::{Ask, Asked, IncomingNote, NoteOutcome, Withdrawal};
use crate::storage::{NewDelivery, PendingEvent, RemoteActor, Request, SessionEntry, User};

use super::actors;
use super::error::FederationError;
use super::events::rfc3339_in;
use super::follows::new_activity_id;
use super::messages::direct_note;
use super::objects::{Incoming, Note, object_id, object_type};
use super::remote::{Remote, html_to_text, sanitise};

const AS_CONTEXT: &str = "https://www.w3.org/ns/activitystreams";

/// What a booking event tells other servers.
pub async fn protocol_effects(
    app: &App,
    event: &PendingEvent,
    request: &Request,
    entry: &SessionEntry,
    people: People<'_>,
) -> Result<Vec<NewDelivery>, FederationError> {
    let Some(ap_id) = request.ap_id.as_deref() else { return Ok(Vec::new()) };
    let by_learner = event.actor_id == Some(people.learner.id);
    let note = event.note.trim();
    match (people.advisor_actor, people.learner_actor) {
        // A remote learner on one of our slots.
        (None, Some(learner)) => {
            let advisor = people.advisor;
            let reason = |fallback: &str| if note.is_empty() { fallback.to_string() } else { note.to_string() };
            match (request.ap_kind, event.kind) {
                (Some(Channel::Join), EventKind::Approved) => {
                    let slot = json!({
                        "id": actors::link(app, &format!("/slots/{}", request.slot_id))?,
                        "startTime": rfc3339_in(entry.starts_at, &entry.advisor_timezone),
                        "endTime": rfc3339_in(entry.ends_at, &entry.advisor_timezone),
                    });
                    Ok(vec![answer(app, advisor, learner, "Accept", ap_id, Some(slot), None)?])
                }
                (Some(Channel::Join), EventKind::Declined) => {
                    Ok(vec![answer(app, advisor, learner, "Reject", ap_id, None, Some(reason("Declined.")))?])
                }
                (Some(Channel::Join), EventKind::Cancelled) if !by_learner => {
                    Ok(vec![answer(app, advisor, learner, "Reject", ap_id, None, Some(reason("Cancelled.")))?])
                }
                (Some(Channel::Note), EventKind::Requested) => {
                    let when = time_zone::format_range(entry.starts_at, entry.ends_at, &advisor.timezone);
                    let text = format!(
                        "Received: your request for a session with {} on {when} ({}) is waiting for their \
                         answer. You will hear here when they decide.",
                        advisor.name(),
                        advisor.timezone
                    );
                    Ok(vec![direct_note(app, advisor, learner, &text, Some(ap_id))?])
                }
                _ => Ok(Vec::new()),
            }
        }
        // A local learner on a remote advisor's slot: their instance decides.
        (Some(advisor), None) if by_learner => {
            let learner_id = actors::person_id(app, &people.learner.username)?;
            let slot = app.slot(request.slot_id).await?;
            let event_id = app.block_ap_id(slot.block_id).await?.unwrap_or_default();
            let join = json!({
                "id": ap_id,
                "type": "Join",
                "actor": learner_id,
                "object": event_id,
                "slot": slot.ap_id,
                "content": request.note,
                "participationMessage": request.note,
                "answers": serde_json::from_str::<Value>(&request.answers).unwrap_or(Value::Null),
                "to": [advisor.ap_id],
            });
            let body = match event.kind {
                EventKind::Requested => {
                    let mut body = join.clone();
                    body["@context"] = super::objects::event_context();
                    Some(body)
                }
                EventKind::Cancelled => Some(json!({
                    "@context": AS_CONTEXT,
                    "id": new_activity_id(app, "undo")?,
                    "type": "Undo",
                    "actor": learner_id,
                    "object": join,
                    "to": [advisor.ap_id],
                })),
                _ => None,
            };
            Ok(body
                .map(|body| NewDelivery {
                    activity_id: body["id"].as_str().unwrap_or_default().to_string(),
                    sender_id: people.learner.id,
                    inbox: advisor.inbox.clone(),
                    body: body.to_string(),
                })
                .into_iter()
                .collect())
        }
        _ => Ok(Vec::new()),
    }
}

/// `Accept` or `Reject` of a learner's `Join`, from the advisor.
fn answer(
    app: &App,
    advisor: &User,
    learner: &RemoteActor,
    kind: &str,
    join_id: &str,
    slot: Option<Value>,
    reason: Option<String>,
) -> Result<NewDelivery, FederationError> {
    let id = new_activity_id(app, &kind.to_lowercase())?;
    let mut body = json!({
        "@context": super::objects::event_context(),
        "id": id,
        "type": kind,
        "actor": actors::person_id(app, &advisor.username)?,
        "object": join_id,
        "to": [learner.ap_id],
    });
    if let Some(slot) = slot {
        body["slot"] = slot;
    }
    if let Some(reason) = reason {
        body["content"] = Value::String(reason);
    }
    Ok(NewDelivery {
        activity_id: id.to_string(),
        sender_id: advisor.id,
        inbox: learner.inbox.clone(),
        body: body.to_string(),
    })
}

/// A `Join` of one of our events.
pub async fn receive_join(app: &App, actor: &Remote, join: &Incoming) -> Result<(), FederationError> {
    let Some(event_id) = object_id(&join.object) else {
        return Err(FederationError::Invalid("A Join names the event it joins.".into()));
    };
    let note = text_of(join.content.as_deref().or(join.participation_message.as_deref()).unwrap_or(""));
    let answers = join.answers.clone().unwrap_or(Value::Null);
    let slot = join.slot.as_ref().and_then(object_id);
    let ask = Ask { id: join.id.as_str(), text: &note, answers: &answers };
    match app.join_event(&actor.row, event_id.as_str(), slot.as_ref().map(Url::as_str), ask).await? {
        Asked::Taken => Ok(()),
        Asked::Refused { advisor, reason } => {
            let reply = answer(app, &advisor, &actor.row, "Reject", join.id.as_str(), None, Some(reason))?;
            reply_once(app, join.id.as_str(), &reply).await
        }
    }
}

/// Queues our answer to a received activity, once.
async fn reply_once(app: &App, activity_id: &str, reply: &NewDelivery) -> Result<(), FederationError> {
    if app.reply_once(activity_id, reply).await? {
        app.wake_jobs();
    }
    Ok(())
}

/// `Accept` or `Reject` of a local learner's `Join`; false when the object
/// is not one of our requests (a follow, say).
pub async fn receive_answer(app: &App, actor: &Remote, activity: &Incoming) -> Result<bool, FederationError> {
    let Some(join_id) = object_id(&activity.object) else { return Ok(false) };
    let reason = text_of(activity.content.as_deref().unwrap_or(""));
    let accepted = activity.kind == "Accept";
    Ok(app.remote_decision(actor.id.as_str(), join_id.as_str(), accepted, &reason, activity.id.as_str()).await?)
}

/// `Undo(Join)` or `Leave`: the learner withdraws their request.
pub async fn receive_withdrawal(app: &App, actor: &Remote, activity: &Incoming) -> Result<(), FederationError> {
    let object = object_id(&activity.object);
    let what = match (activity.kind.as_str(), object.as_ref()) {
        ("Leave", Some(event)) => Withdrawal::Leave { event_id: event.as_str() },
        ("Leave", None) => return Err(FederationError::Invalid("A Leave names the event.".into())),
        (_, Some(join)) => Withdrawal::Undo { join_id: join.as_str() },
        (_, None) => {
            app.mark_seen(activity.id.as_str()).await?;
            return Ok(());
        }
    };
    Ok(app.remote_withdrawal(&actor.row, what, activity.id.as_str()).await?)
}

/// `Create(Note)`: a reply to one of our events or a mention of an advisor
/// (a request), or a direct message to someone here (a message).
pub async fn receive_note(app: &App, actor: &Remote, create: &Incoming) -> Result<(), FederationError> {
    if !object_type(&create.object).is_some_and(is_written) {
        app.mark_seen(create.id.as_str()).await?;
        return Ok(());
    }
    let note = read_note(actor, &create.object)?;
    let text = written_text(&note);
    let addressed: Vec<&str> = note.mentions().map(Url::as_str).chain(note.to.iter().map(String::as_str)).collect();
    let incoming = IncomingNote {
        ask: Ask { id: note.id.as_str(), text: &text, answers: &Value::Null },
        in_reply_to: note.in_reply_to.as_ref().map(Url::as_str),
        addressed,
        direct: note.is_direct(),
    };
    match app.receive_note(&actor.row, incoming).await? {
        NoteOutcome::Asked(Asked::Refused { advisor, reason }) => {
            let reply = direct_note(app, &advisor, &actor.row, &reason, Some(note.id.as_str()))?;
            reply_once(app, note.id.as_str(), &reply).await
        }
        NoteOutcome::Asked(Asked::Taken) | NoteOutcome::Message | NoteOutcome::Ignored => Ok(()),
    }
}

/// `Update` of something a remote person wrote: when it is the note that
/// asked for a session and the request still waits, the request takes the
/// new text; otherwise it has no effect here.
pub async fn receive_note_update(app: &App, actor: &Remote, update: &Incoming) -> Result<(), FederationError> {
    let note = read_note(actor, &update.object)?;
    let text = written_text(&note);
    app.remote_note_edited(&actor.row, note.id.as_str(), &text, update.id.as_str()).await?;
    Ok(())
}

/// Object types people write and that can mention an advisor: microblog
/// notes, posts with a title (Friendica, WordPress, Lemmy), polls, and
/// Pleroma/Akkoma chat messages.
pub fn is_written(kind: &str) -> bool {
    matches!(kind, "Note" | "Article" | "Page" | "Question" | "ChatMessage")
}

/// A written object, checked to be the sender's own.
fn read_note(actor: &Remote, object: &Value) -> Result<Note, FederationError> {
    let note = Note::read(object)?;
    activitypub_federation::protocol::verification::verify_domains_match(&note.id, &actor.id)?;
    if note.attributed_to.as_ref().is_some_and(|a| a != &actor.id) {
        return Err(FederationError::Forbidden("A note must be the sender's own.".into()));
    }
    Ok(note)
}

/// What a written object says, as plain text without mentions: its title
/// (posts have one) and its content.
fn written_text(note: &Note) -> String {
    let body = strip_mentions(&text_of(&note.content));
    match note.name.as_deref().map(|t| text_of(t).trim().to_string()) {
        Some(title) if !title.is_empty() && !body.starts_with(&title) => format!("{title}\n\n{body}"),
        _ => body,
    }
}

/// Remote HTML as plain text (sanitised first).
fn text_of(html: &str) -> String {
    html_to_text(&sanitise(html)).chars().take(crate::service::booking::NOTE_MAX).collect()
}

/// Drops `@name` and `@name@domain` mentions from a text, wherever they
/// are (the request note is what the person asks, not whom they address).
fn strip_mentions(text: &str) -> String {
    let lines: Vec<String> = text
        .lines()
        .map(|line| line.split_whitespace().filter(|w| !is_mention(w)).collect::<Vec<_>>().join(" "))
        .collect();
    lines.join("\n").trim().to_string()
}

/// `@name` or `@name@host`, perhaps followed by punctuation.
fn is_mention(word: &str) -> bool {
    let word = word.trim_end_matches([',', ':', ';', '.', '!', '?', ')']);
    let Some(rest) = word.strip_prefix('@') else { return false };
    let (name, host) = match rest.split_once('@') {
        Some((name, host)) => (name, Some(host)),
        None => (rest, None),
    };
    let name_ok = !name.is_empty() && name.chars().all(|c| c.is_alphanumeric() || matches!(c, '_' | '.' | '-'));
    let host_ok =
        host.is_none_or(|h| h.contains('.') && h.chars().all(|c| c.is_alphanumeric() || matches!(c, '.' | '-' | ':')));
    name_ok && host_ok
}

#[cfg(test)]
mod tests {
    use super::strip_mentions;

    #[test]
    fn mentions_are_dropped_wherever_they_are() {
        assert_eq!(strip_mentions("@ada@alpha.test Hello there"), "Hello there");
        assert_eq!(strip_mentions("Hi @ada, could we talk at 14:20?"), "Hi could we talk at 14:20?");
        assert_eq!(strip_mentions("Question for @ada@alpha.test:\nhow do I start?"), "Question for\nhow do I start?");
        // Not mentions: an e-mail address, a lone @, a word with @ inside.
        assert_eq!(strip_mentions("mail me at me@example.org @ noon"), "mail me at me@example.org @ noon");
    }
}
