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
//! Sent, with the booking events (exactly once, in the transaction that
//! processes them; see `protocol_effects`): our `Join` and its `Undo` for
//! local learners on remote slots, and `Accept`/`Reject` (or a direct
//! message, for Mastodon requests) for remote learners on ours.

use serde_json::{Value, json};
use url::Url;

use crate::domain::booking::{Channel, EventKind, RequestStatus};
use crate::domain::federation::PublishedStatus;
use crate::domain::time_zone;
use crate::service::App;
use crate::service::AppError;
use crate::service::ports::People;
use crate::storage::{NewDelivery, Origin, PendingEvent, RemoteActor, Request, SessionEntry, Slot, User};

use super::actors;
use super::error::FederationError;
use super::events::rfc3339_in;
use super::follows::new_activity_id;
use super::messages::direct_note;
use super::objects::{Incoming, Note, object_id, object_type};
use super::remote::{Remote, html_to_text, sanitise};

const AS_CONTEXT: &str = "https://www.w3.org/ns/activitystreams";

/// The answer to a request for an event that is no longer offered.
const WITHDRAWN: &str = "That time is no longer offered. Follow the advisor to see new availability.";

/// The answer to a request for an event whose every slot is taken.
const FULL: &str = "Every session of this event is taken. Follow the advisor to see new availability.";

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

/// The slot id inside one of our slot links (`https://us/slots/42`).
fn local_slot_id(app: &App, url: &Url) -> Option<i64> {
    let prefix = actors::link(app, "/slots/").ok()?;
    url.as_str().strip_prefix(prefix.as_str())?.parse().ok()
}

/// A `Join` of one of our events.
pub async fn receive_join(app: &App, actor: &Remote, join: &Incoming) -> Result<(), FederationError> {
    let Some(event_id) = object_id(&join.object) else {
        return Err(FederationError::Invalid("A Join names the event it joins.".into()));
    };
    let Some(published) = app.published_event(event_id.as_str()).await? else {
        return refuse_join(app, actor, join, None, "There is no such event on this instance.").await;
    };
    let advisor = app.user_by_id(published.advisor_id).await?;
    if published.status == PublishedStatus::Deleted {
        // Removed, or made unlisted: it is not offered to the fediverse.
        return refuse_join(app, actor, join, Some(&advisor), WITHDRAWN).await;
    }
    let slots = occurrence_slots(app, published.block_id, &published.occurrence_date).await?;
    let wanted = join.slot.as_ref().and_then(object_id).and_then(|u| local_slot_id(app, &u));
    let slot = match wanted {
        Some(id) => slots.iter().find(|s| s.id == id).cloned(),
        None => slots.iter().find(|s| s.status.takes_requests()).cloned(),
    };
    let Some(slot) = slot else {
        let reason = if wanted.is_none() && !slots.is_empty() { FULL } else { "That slot is not part of this event." };
        return refuse_join(app, actor, join, Some(&advisor), reason).await;
    };
    let learner = app.shadow_user(&actor.row).await?;
    let note = text_of(join.content.as_deref().or(join.participation_message.as_deref()).unwrap_or(""));
    let answers = join.answers.clone().unwrap_or(Value::Null);
    let origin = Origin { ap_id: join.id.as_str(), kind: Channel::Join, received: true };
    match app.request_slot_from(&learner, slot, &note, &answers, Some(origin)).await {
        Ok(_) => Ok(()),
        Err(AppError::Conflict("already_received", _)) => Ok(()),
        Err(
            err @ (AppError::Conflict(..) | AppError::Invalid(_) | AppError::Forbidden(..) | AppError::NotFound(_)),
        ) => refuse_join(app, actor, join, Some(&advisor), &err.message()).await,
        Err(err) => Err(err.into()),
    }
}

/// Answers a `Join` we cannot take with a `Reject` naming the reason (once).
async fn refuse_join(
    app: &App,
    actor: &Remote,
    join: &Incoming,
    advisor: Option<&User>,
    reason: &str,
) -> Result<(), FederationError> {
    let Some(advisor) = advisor else {
        app.mark_seen(join.id.as_str()).await?;
        return Err(FederationError::NotFound);
    };
    let reply = answer(app, advisor, &actor.row, "Reject", join.id.as_str(), None, Some(reason.to_string()))?;
    if app.reply_once(join.id.as_str(), &reply).await? {
        app.wake_jobs();
    }
    Ok(())
}

/// An occurrence's slots, in time order.
async fn occurrence_slots(app: &App, block_id: i64, date: &str) -> Result<Vec<Slot>, FederationError> {
    let mut slots = app.block_slots(block_id).await?;
    slots.retain(|s| s.occurrence_date == date);
    Ok(slots)
}

/// `Accept` or `Reject` of a local learner's `Join`; false when the object
/// is not one of our requests (a follow, say).
pub async fn receive_answer(app: &App, actor: &Remote, activity: &Incoming) -> Result<bool, FederationError> {
    let Some(join_id) = object_id(&activity.object) else { return Ok(false) };
    let Some(request) = app.request_by_ap_id(join_id.as_str()).await? else { return Ok(false) };
    let advisor = app.user_by_id(request.advisor_id).await?;
    let owner = app.remote_actor_of(&advisor).await?;
    if owner.map(|o| o.ap_id) != Some(actor.id.to_string()) {
        return Err(FederationError::Forbidden("Only the advisor asked can answer a request.".into()));
    }
    use crate::domain::booking::Action;
    let reason = text_of(activity.content.as_deref().unwrap_or(""));
    let action = match (activity.kind.as_str(), request.status) {
        ("Accept", _) => Action::Approve,
        ("Reject", RequestStatus::Approved) => Action::Cancel,
        _ => Action::Decline,
    };
    match app.decide_by(&advisor, request.id, action, &reason, Some(activity.id.as_str())).await {
        Ok(_) | Err(AppError::Conflict(..)) => Ok(true),
        Err(err) => Err(err.into()),
    }
}

/// `Undo(Join)` or `Leave`: the learner withdraws their request.
pub async fn receive_withdrawal(app: &App, actor: &Remote, activity: &Incoming) -> Result<(), FederationError> {
    let learner = app.shadow_user(&actor.row).await?;
    let request = if activity.kind == "Leave" {
        let Some(event_id) = object_id(&activity.object) else {
            return Err(FederationError::Invalid("A Leave names the event.".into()));
        };
        match app.published_event(event_id.as_str()).await? {
            Some(p) => app.live_request_on_block(learner.id, p.block_id, &p.occurrence_date).await?,
            None => None,
        }
    } else {
        match object_id(&activity.object) {
            Some(join_id) => app.request_by_ap_id(join_id.as_str()).await?,
            None => None,
        }
    };
    let Some(request) = request.filter(|r| r.learner_id == learner.id) else {
        app.mark_seen(activity.id.as_str()).await?;
        return Ok(());
    };
    use crate::domain::booking::Action;
    match app.decide_by(&learner, request.id, Action::Cancel, "", Some(activity.id.as_str())).await {
        Ok(_) | Err(AppError::Conflict(..)) => Ok(()),
        Err(err) => Err(err.into()),
    }
}

/// `Create(Note)`: a reply to one of our events or a mention of an advisor
/// (a request), or a direct message to someone here (a message).
pub async fn receive_note(app: &App, actor: &Remote, create: &Incoming) -> Result<(), FederationError> {
    if object_type(&create.object) != Some("Note") {
        app.mark_seen(create.id.as_str()).await?;
        return Ok(());
    }
    let note: Note = serde_json::from_value(create.object.clone())
        .map_err(|e| FederationError::Invalid(format!("The note cannot be read: {e}")))?;
    activitypub_federation::protocol::verification::verify_domains_match(&note.id, &actor.id)?;
    if note.attributed_to.as_ref().is_some_and(|a| a != &actor.id) {
        return Err(FederationError::Forbidden("A note must be the sender's own.".into()));
    }
    let text = text_of(&note.content);
    let text = strip_mentions(&text);
    // A reply to one of our events: a request for that occurrence.
    if let Some(reply_to) = &note.in_reply_to
        && let Some(published) = app.published_event(reply_to.as_str()).await?
    {
        let advisor = app.user_by_id(published.advisor_id).await?;
        if published.status == PublishedStatus::Deleted {
            return refuse_note(app, actor, &note, &advisor, WITHDRAWN).await;
        }
        let slots = occurrence_slots(app, published.block_id, &published.occurrence_date).await?;
        return note_request(app, actor, &note, &advisor, slots, &text).await;
    }
    // A mention of someone here.
    let prefix = actors::link(app, "/users/")?;
    let addressed: Vec<Url> = note.to.iter().filter_map(|t| Url::parse(t).ok()).collect();
    let mentioned = note.mentions().chain(addressed.iter());
    let mut local = None;
    for url in mentioned {
        if let Some(name) = url.as_str().strip_prefix(prefix.as_str())
            && let Some(user) = app.federated_user(name).await?
        {
            local = Some(user);
            break;
        }
    }
    let Some(local) = local else {
        app.mark_seen(create.id.as_str()).await?;
        return Ok(());
    };
    // A new conversation opening with a mention asks for a session; replies,
    // existing threads and whatever a person's own advisor writes to them
    // (an approval with its room link, say) are messages.
    if local.is_advisor && note.in_reply_to.is_none() && !knows(app, actor, &local).await? {
        let now = app.clock.now_ms();
        let slots = app.slots_between(local.id, now, now + 60 * 24 * 60 * 60 * 1000).await?;
        // Unlisted offerings (the block's setting, else the advisor's) are
        // only for people with the private link, never for the fediverse.
        let unlisted = app.advisor_policy(local.id).await?.unlisted;
        let listed: Vec<Slot> = slots.into_iter().filter(|s| !s.block_unlisted.unwrap_or(unlisted)).collect();
        return note_request(app, actor, &note, &local, listed, &text).await;
    }
    if !note.is_direct() {
        app.mark_seen(create.id.as_str()).await?;
        return Ok(());
    }
    let sender = app.shadow_user(&actor.row).await?;
    app.receive_remote_message(&sender, &local, &text, note.id.as_str()).await?;
    Ok(())
}

/// Whether the remote person already has a conversation with `local`, or
/// is someone `local` asked for a session (then a mention is a message
/// rather than a request for a session).
async fn knows(app: &App, actor: &Remote, local: &User) -> Result<bool, FederationError> {
    let sender = app.shadow_user(&actor.row).await?;
    let key = crate::storage::local_pair_key(sender.id, local.id);
    Ok(app.conversation_id(&key).await?.is_some() || app.has_asked(local.id, sender.id).await?)
}

/// A Mastodon request: the slot whose local start time the text names
/// (`14:20`; a named time that is not open is refused with the open
/// times), or the first open one when the text names no time.
async fn note_request(
    app: &App,
    actor: &Remote,
    note: &Note,
    advisor: &User,
    slots: Vec<Slot>,
    text: &str,
) -> Result<(), FederationError> {
    let open: Vec<&Slot> = slots.iter().filter(|s| s.status.takes_requests()).collect();
    let times = clock_times(text);
    let named = open.iter().find(|s| times.contains(&time_zone::format_time(s.starts_at, &advisor.timezone))).copied();
    // A named time that is not open is refused (with the open times), not
    // swapped for another; without a time, the first open slot is asked for.
    let chosen = if times.is_empty() { open.first().copied() } else { named };
    let Some(slot) = chosen.cloned() else {
        let reason = if open.is_empty() {
            format!("Sorry, {} has no open slot right now. Follow them to see new availability.", advisor.name())
        } else {
            let offered: Vec<String> =
                open.iter().take(12).map(|s| time_zone::format_time(s.starts_at, &advisor.timezone)).collect();
            format!(
                "Sorry, {} has no open slot at that time. Open: {} ({}). Reply with one of these times.",
                advisor.name(),
                offered.join(", "),
                advisor.timezone
            )
        };
        return refuse_note(app, actor, note, advisor, &reason).await;
    };
    let learner = app.shadow_user(&actor.row).await?;
    let origin = Origin { ap_id: note.id.as_str(), kind: Channel::Note, received: true };
    match app.request_slot_from(&learner, slot, text, &Value::Null, Some(origin)).await {
        Ok(_) => Ok(()),
        Err(AppError::Conflict("already_received", _)) => Ok(()),
        Err(
            err @ (AppError::Conflict(..) | AppError::Invalid(_) | AppError::Forbidden(..) | AppError::NotFound(_)),
        ) => {
            let reason = format!("Your request could not be taken: {}", err.message());
            refuse_note(app, actor, note, advisor, &reason).await
        }
        Err(err) => Err(err.into()),
    }
}

/// Answers a Mastodon request we cannot take by direct message (once).
async fn refuse_note(
    app: &App,
    actor: &Remote,
    note: &Note,
    advisor: &User,
    reason: &str,
) -> Result<(), FederationError> {
    let reply = direct_note(app, advisor, &actor.row, reason, Some(note.id.as_str()))?;
    if app.reply_once(note.id.as_str(), &reply).await? {
        app.wake_jobs();
    }
    Ok(())
}

/// Remote HTML as plain text (sanitised first).
fn text_of(html: &str) -> String {
    html_to_text(&sanitise(html)).chars().take(crate::service::booking::NOTE_MAX).collect()
}

/// Drops leading `@name@domain` mentions from a note's text.
fn strip_mentions(text: &str) -> String {
    let words: Vec<&str> = text.split_whitespace().collect();
    let start = words.iter().take_while(|w| w.starts_with('@')).count();
    let rest: Vec<&str> = words[start..].to_vec();
    if start == 0 { text.trim().to_string() } else { rest.join(" ") }
}

/// Clock times written in a text: `14:20`, `9:05` (as `09:05`).
pub fn clock_times(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    for word in text.split(|c: char| !(c.is_ascii_digit() || c == ':')) {
        let Some((h, m)) = word.split_once(':') else { continue };
        let (Ok(h), Ok(m)) = (h.parse::<u32>(), m.parse::<u32>()) else { continue };
        if h < 24
            && m < 60
            && (1..=2).contains(&word.find(':').unwrap_or(0))
            && word.len() - word.find(':').unwrap_or(0) == 3
        {
            found.push(format!("{h:02}:{m:02}"));
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::{clock_times, strip_mentions};

    #[test]
    fn clock_times_are_found_in_free_text() {
        assert_eq!(clock_times("Could I have 14:20 please? or 9:05."), vec!["14:20", "09:05"]);
        assert!(clock_times("no times, 25:00, 1:2, 123:45").is_empty());
    }

    #[test]
    fn leading_mentions_are_dropped() {
        assert_eq!(strip_mentions("@ada@alpha.test Hello there"), "Hello there");
        assert_eq!(strip_mentions("Hi @ada"), "Hi @ada");
    }
}
