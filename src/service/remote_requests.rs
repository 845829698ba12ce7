//! Requests that arrive from other servers, the use cases: a remote
//! learner's `Join` of one of our events, a reply to an event or a mention
//! of an advisor (Mastodon and most microblogs cannot send `Join`), an
//! advisor elsewhere answering a local learner's `Join`, and a learner
//! withdrawing. Federation reads and checks the activity and hands over
//! what it says; these methods apply the booking rules (the same as for
//! local learners) and say what to answer. Answers themselves (a `Reject`,
//! a direct message) are built and queued by federation, which knows the
//! wire format.

use serde_json::Value;

use crate::domain::booking::{Action, Channel, RequestStatus};
use crate::domain::federation::PublishedStatus;
use crate::domain::time_zone;
use crate::storage::{Origin, RemoteActor, Request, Slot, User};

use super::{App, AppError};

/// The answer to a request for an event that is no longer offered.
const WITHDRAWN: &str = "That time is no longer offered. Follow the advisor to see new availability.";

/// The answer to a request for an event whose every slot is taken.
const FULL: &str = "Every session of this event is taken. Follow the advisor to see new availability.";

/// How far ahead a mention of an advisor looks for an open slot.
const MENTION_HORIZON_MS: i64 = 60 * 24 * 60 * 60 * 1000;

/// What a remote person's activity asks, as plain text.
pub struct Ask<'a> {
    /// The activity (a `Join`) or object (a note) that asks; a replay of
    /// it is recognised.
    pub id: &'a str,
    /// What they wrote (plain text, mentions of us left out).
    pub text: &'a str,
    /// Answers to the advisor's questions (a `Join` may carry them).
    pub answers: &'a Value,
}

/// What became of an ask.
#[derive(Debug)]
pub enum Asked {
    /// A pending request now exists (or already did: a replay).
    Taken,
    /// Refused: the advisor's answer to send back, with its reason.
    Refused { advisor: Box<User>, reason: String },
}

/// A note addressed to someone here: a reply to one of our events, or a
/// mention of local people.
pub struct IncomingNote<'a> {
    pub ask: Ask<'a>,
    /// The object it replies to, if any.
    pub in_reply_to: Option<&'a str>,
    /// Everyone it mentions or is addressed to (actor ids).
    pub addressed: Vec<&'a str>,
    /// Whether only the people addressed can see it.
    pub direct: bool,
}

/// What became of a note.
#[derive(Debug)]
pub enum NoteOutcome {
    /// It asked for a session.
    Asked(Asked),
    /// It is a direct message to someone here, now stored.
    Message,
    /// Nothing here for it (recorded, so a replay is recognised).
    Ignored,
}

/// How a remote learner withdraws.
pub enum Withdrawal<'a> {
    /// `Leave` of an event.
    Leave { event_id: &'a str },
    /// `Undo` of their `Join`.
    Undo { join_id: &'a str },
}

impl App {
    /// A remote learner's `Join` of one of our events (`event_id`), for the
    /// slot it names (one of our slot links) or else the first open one.
    /// An unknown event is "not found" (and recorded as seen).
    pub async fn join_event(
        &self,
        learner: &RemoteActor,
        event_id: &str,
        slot: Option<&str>,
        ask: Ask<'_>,
    ) -> Result<Asked, AppError> {
        let now = self.clock.now_ms();
        let Some(published) = self.store.published_event(event_id).await? else {
            self.store.mark_seen(ask.id, now).await?;
            return Err(AppError::NotFound("event"));
        };
        let advisor = self.store.user_by_id(published.advisor_id).await?;
        if published.status == PublishedStatus::Deleted {
            // Removed, or made unlisted: it is not offered to the fediverse.
            return Ok(Asked::Refused { advisor: Box::new(advisor), reason: WITHDRAWN.into() });
        }
        let slots = self.occurrence_slots(published.block_id, &published.occurrence_date).await?;
        let wanted = slot.and_then(|link| self.local_slot_id(link));
        let chosen = match wanted {
            Some(id) => slots.iter().find(|s| s.id == id).cloned(),
            None => slots.iter().find(|s| s.status.takes_requests()).cloned(),
        };
        let Some(chosen) = chosen else {
            let reason =
                if wanted.is_none() && !slots.is_empty() { FULL } else { "That slot is not part of this event." };
            return Ok(Asked::Refused { advisor: Box::new(advisor), reason: reason.into() });
        };
        let learner = self.shadow_user(learner, now).await?;
        let origin = Origin { ap_id: ask.id, kind: Channel::Join, received: true };
        match self.request_slot_from(&learner, chosen, ask.text, ask.answers, Some(origin)).await {
            Ok(_) | Err(AppError::Conflict("already_received", _)) => Ok(Asked::Taken),
            Err(err) if is_refusal(&err) => Ok(Asked::Refused { advisor: Box::new(advisor), reason: err.message() }),
            Err(err) => Err(err),
        }
    }

    /// A note from a remote person: a reply to one of our events asks for
    /// that occurrence; a mention of an advisor who does not know them yet
    /// asks for a session (the slot whose time the text names, else the
    /// first open one); other direct notes to someone here are messages.
    pub async fn receive_note(&self, sender: &RemoteActor, note: IncomingNote<'_>) -> Result<NoteOutcome, AppError> {
        let IncomingNote { ask, in_reply_to, addressed, direct } = note;
        let now = self.clock.now_ms();
        if let Some(reply_to) = in_reply_to
            && let Some(published) = self.store.published_event(reply_to).await?
        {
            let advisor = self.store.user_by_id(published.advisor_id).await?;
            if published.status == PublishedStatus::Deleted {
                return Ok(NoteOutcome::Asked(Asked::Refused { advisor: Box::new(advisor), reason: WITHDRAWN.into() }));
            }
            let slots = self.occurrence_slots(published.block_id, &published.occurrence_date).await?;
            return Ok(NoteOutcome::Asked(self.ask_by_note(sender, &advisor, slots, &ask).await?));
        }
        let mut local = None;
        for id in addressed {
            if let Some(user) = self.local_user_of(id).await? {
                local = Some(user);
                break;
            }
        }
        let Some(local) = local else {
            self.store.mark_seen(ask.id, now).await?;
            return Ok(NoteOutcome::Ignored);
        };
        // A new conversation opening with a mention asks for a session;
        // replies, existing threads and whatever a person's own advisor
        // writes to them (an approval with its room link, say) are messages.
        let may_ask = local.is_advisor && in_reply_to.is_none();
        let person = if may_ask || direct { Some(self.shadow_user(sender, now).await?) } else { None };
        if let Some(person) = person.as_ref().filter(|_| may_ask)
            && !self.knows(person, &local).await?
        {
            let slots = self.store.advisor_slots(local.id, now, now + MENTION_HORIZON_MS).await?;
            // Unlisted offerings (the block's setting, else the advisor's)
            // are only for people with the private link, never for the
            // fediverse.
            let unlisted = self.store.advisor_policy(local.id).await?.unlisted;
            let listed: Vec<Slot> = slots.into_iter().filter(|s| !s.unlisted(unlisted)).collect();
            return Ok(NoteOutcome::Asked(self.ask_by_note(sender, &local, listed, &ask).await?));
        }
        let Some(person) = person.filter(|_| direct) else {
            self.store.mark_seen(ask.id, now).await?;
            return Ok(NoteOutcome::Ignored);
        };
        self.receive_remote_message(&person, &local, ask.text, ask.id).await?;
        Ok(NoteOutcome::Message)
    }

    /// An advisor elsewhere accepted or rejected a local learner's `Join`
    /// (`join_id`; activity `activity_id`, applied once). False when the
    /// `Join` is not one of our requests (the object may be a follow).
    pub async fn remote_decision(
        &self,
        advisor_actor: &str,
        join_id: &str,
        accepted: bool,
        reason: &str,
        activity_id: &str,
    ) -> Result<bool, AppError> {
        let Some(request) = self.store.request_by_ap_id(join_id).await? else { return Ok(false) };
        let advisor = self.store.user_by_id(request.advisor_id).await?;
        let owner = self.store.remote_actor_of(&advisor).await?;
        if owner.map(|o| o.ap_id).as_deref() != Some(advisor_actor) {
            return Err(AppError::Forbidden("not_the_advisor", "Only the advisor asked can answer a request.".into()));
        }
        let action = match (accepted, request.status) {
            (true, _) => Action::Approve,
            (false, RequestStatus::Approved) => Action::Cancel,
            (false, _) => Action::Decline,
        };
        match self.decide_by(&advisor, request.id, action, reason, Some(activity_id)).await {
            Ok(_) | Err(AppError::Conflict(..)) => Ok(true),
            Err(err) => Err(err),
        }
    }

    /// A remote learner withdraws their request (`Undo(Join)` or `Leave`,
    /// activity `activity_id`, applied once). Nothing to withdraw is not an
    /// error.
    pub async fn remote_withdrawal(
        &self,
        learner: &RemoteActor,
        what: Withdrawal<'_>,
        activity_id: &str,
    ) -> Result<(), AppError> {
        let now = self.clock.now_ms();
        let learner = self.shadow_user(learner, now).await?;
        let request = match what {
            Withdrawal::Leave { event_id } => match self.store.published_event(event_id).await? {
                Some(p) => self.store.live_request_on_block(learner.id, p.block_id, &p.occurrence_date).await?,
                None => None,
            },
            Withdrawal::Undo { join_id } => self.store.request_by_ap_id(join_id).await?,
        };
        let Some(request) = request.filter(|r: &Request| r.learner_id == learner.id) else {
            self.store.mark_seen(activity_id, now).await?;
            return Ok(());
        };
        match self.decide_by(&learner, request.id, Action::Cancel, "", Some(activity_id)).await {
            Ok(_) | Err(AppError::Conflict(..)) => Ok(()),
            Err(err) => Err(err),
        }
    }

    /// A remote learner edited the note that asked for a session (an
    /// `Update` of it, activity `activity_id`, applied once): while the
    /// request waits for an answer, it takes the new text. False when the
    /// note made no request of theirs, or it was already decided.
    pub async fn remote_note_edited(
        &self,
        sender: &RemoteActor,
        note_id: &str,
        text: &str,
        activity_id: &str,
    ) -> Result<bool, AppError> {
        let now = self.clock.now_ms();
        let request = self.store.request_by_ap_id(note_id).await?;
        let Some(request) = request.filter(|r| r.ap_kind == Some(Channel::Note)) else {
            self.store.mark_seen(activity_id, now).await?;
            return Ok(false);
        };
        let learner = self.shadow_user(sender, now).await?;
        if request.learner_id != learner.id {
            return Err(AppError::Forbidden("not_the_author", "Only the learner who wrote a note can edit it.".into()));
        }
        let text: String = text.trim().chars().take(super::booking::NOTE_MAX).collect();
        Ok(self.store.edit_request_note(activity_id, request.id, &text, now).await?)
    }

    /// A request by note: the slot whose local start time the text names
    /// (`14:20`; a named time that is not open is refused with the open
    /// times, not swapped for another), or the first open one when the
    /// text names no time.
    async fn ask_by_note(
        &self,
        sender: &RemoteActor,
        advisor: &User,
        slots: Vec<Slot>,
        ask: &Ask<'_>,
    ) -> Result<Asked, AppError> {
        let open: Vec<&Slot> = slots.iter().filter(|s| s.status.takes_requests()).collect();
        let times = time_zone::clock_times(ask.text);
        let named =
            open.iter().find(|s| times.contains(&time_zone::format_time(s.starts_at, &advisor.timezone))).copied();
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
            return Ok(Asked::Refused { advisor: Box::new(advisor.clone()), reason });
        };
        let learner = self.shadow_user(sender, self.clock.now_ms()).await?;
        let origin = Origin { ap_id: ask.id, kind: Channel::Note, received: true };
        match self.request_slot_from(&learner, slot, ask.text, &Value::Null, Some(origin)).await {
            Ok(_) | Err(AppError::Conflict("already_received", _)) => Ok(Asked::Taken),
            Err(err) if is_refusal(&err) => Ok(Asked::Refused {
                advisor: Box::new(advisor.clone()),
                reason: format!("Your request could not be taken: {}", err.message()),
            }),
            Err(err) => Err(err),
        }
    }

    /// An occurrence's slots, in time order.
    async fn occurrence_slots(&self, block_id: i64, date: &str) -> Result<Vec<Slot>, AppError> {
        let mut slots = self.store.block_slots(block_id).await?;
        slots.retain(|s| s.occurrence_date == date);
        Ok(slots)
    }

    /// The slot id inside one of our slot links (`https://us/slots/42`).
    fn local_slot_id(&self, link: &str) -> Option<i64> {
        link.strip_prefix(&self.config.link("/slots/"))?.parse().ok()
    }

    /// The local person an actor id names (`https://us/users/name`), if
    /// they exist and are not suspended.
    pub async fn local_user_of(&self, actor_id: &str) -> Result<Option<User>, AppError> {
        let prefix = self.config.link("/users/");
        match actor_id.strip_prefix(&prefix).filter(|name| !name.is_empty() && !name.contains('/')) {
            Some(name) => self.federated_user(name).await,
            None => Ok(None),
        }
    }

    /// Whether `person` already has a conversation with `local`, or is
    /// someone `local` asked for a session (then a mention is a message
    /// rather than a request for a session).
    async fn knows(&self, person: &User, local: &User) -> Result<bool, AppError> {
        let key = crate::storage::local_pair_key(person.id, local.id);
        Ok(self.store.conversation_id(&key).await?.is_some() || self.store.has_asked(local.id, person.id).await?)
    }
}

/// Whether a booking error is a refusal to tell the learner (rather than a
/// failure of ours).
fn is_refusal(err: &AppError) -> bool {
    matches!(err, AppError::Conflict(..) | AppError::Invalid(_) | AppError::Forbidden(..) | AppError::NotFound(_))
}
