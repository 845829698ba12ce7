//! What the booking pages tell a person before they act (issue 17): which
//! of an advisor's times are free to ask for and the next one, how many
//! requests a learner has left in a week, whether a note is missing, and
//! what someone may do with a request in their agenda. Pure functions.

use jiff::{SignedDuration, Timestamp};

use super::FieldError;
use super::booking::{Action, RequestStatus, Role, SlotState, transition};
use super::room::RoomClock;

/// What a learner needs to know about one slot to see whether it is free.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FreeCheck {
    pub start: Timestamp,
    pub state: SlotState,
    /// Hidden by a busy time of the advisor's own calendar.
    pub busy: bool,
    /// Shown only through the advisor's private link.
    pub unlisted: bool,
    /// The advisor's minimum notice for this slot (its block's, else theirs).
    pub min_notice: SignedDuration,
}

/// Whether a slot is offered to learners in listings now: not removed, not
/// taken, not hidden by a busy time or unlisted, and far enough ahead for
/// the advisor's notice. (An asked-for slot is still free: the advisor has
/// not chosen anyone yet.) The directory's set query for the next free
/// time per advisor (`Store::next_free_times`) selects the same slots.
pub fn is_free(slot: &FreeCheck, now: Timestamp) -> bool {
    slot.state.takes_requests()
        && !slot.busy
        && !slot.unlisted
        && slot.start > now
        && now.duration_until(slot.start) >= slot.min_notice
}

/// The next free time among slots (in any order).
pub fn next_free<'a>(slots: impl IntoIterator<Item = &'a FreeCheck>, now: Timestamp) -> Option<Timestamp> {
    slots.into_iter().filter(|s| is_free(s, now)).map(|s| s.start).min()
}

/// How many more sessions a learner may ask this advisor for in a week:
/// `None` when the advisor sets no limit (`limit == 0`).
pub fn requests_left(limit: u32, live_that_week: u32) -> Option<u32> {
    (limit > 0).then(|| limit.saturating_sub(live_that_week))
}

/// The note of a request: required unless the advisor made it optional.
pub fn check_note(note: &str, optional: bool) -> Result<(), FieldError> {
    if optional || !note.trim().is_empty() {
        return Ok(());
    }
    Err(FieldError {
        field: "note",
        code: "note_required",
        message: "Say in a few words what you would like to talk about: the advisor reads it to prepare and to decide."
            .into(),
    })
}

/// What a person may do with one request from their agenda.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AgendaActions {
    /// Approve or decline (the advisor, while it waits).
    pub decide: bool,
    /// Withdraw a request or cancel a session.
    pub cancel: bool,
    /// Enter the session's room (from 5 minutes before its start).
    pub join: bool,
}

/// The actions of a request in `status` for `role`, for a session in
/// `[starts_at, ends_at)` (milliseconds) at `now`: the state machine says
/// who may approve, decline or cancel; nothing is decided or cancelled once
/// the session has started; the room opens 5 minutes early.
pub fn actions(status: RequestStatus, role: Role, starts_at: i64, ends_at: i64, now: i64) -> AgendaActions {
    let ahead = now < starts_at;
    let clock = RoomClock::new(starts_at, ends_at);
    AgendaActions {
        decide: ahead && transition(status, Action::Approve, role).is_ok(),
        cancel: ahead && transition(status, Action::Cancel, role).is_ok(),
        join: status == RequestStatus::Approved && clock.may_enter(now).is_ok(),
    }
}

/// Whether a request belongs in the agenda at `now`: still live and not over.
pub fn is_upcoming(status: RequestStatus, ends_at: i64, now: i64) -> bool {
    status.is_live() && ends_at > now
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    fn slot(start: &str, state: SlotState) -> FreeCheck {
        FreeCheck { start: at(start), state, busy: false, unlisted: false, min_notice: SignedDuration::from_hours(2) }
    }

    #[test]
    fn the_next_free_time_skips_taken_hidden_and_too_soon_slots() {
        let now = at("2026-12-01T12:00:00Z");
        let slots = [
            slot("2026-12-01T11:00:00Z", SlotState::Open),      // past
            slot("2026-12-01T13:00:00Z", SlotState::Open),      // inside the 2 h notice
            slot("2026-12-01T15:00:00Z", SlotState::Booked),    // taken
            slot("2026-12-01T15:10:00Z", SlotState::Cancelled), // removed
            FreeCheck { busy: true, ..slot("2026-12-01T15:20:00Z", SlotState::Open) },
            FreeCheck { unlisted: true, ..slot("2026-12-01T15:30:00Z", SlotState::Open) },
            slot("2026-12-02T09:00:00Z", SlotState::Open),
            slot("2026-12-01T16:00:00Z", SlotState::Requested), // asked for, still free
        ];
        assert_eq!(next_free(&slots, now), Some(at("2026-12-01T16:00:00Z")));
        assert_eq!(next_free(&slots[..6], now), None);
        let no_notice = FreeCheck { min_notice: SignedDuration::ZERO, ..slots[1] };
        assert!(is_free(&no_notice, now));
        assert!(!is_free(&FreeCheck { start: now, ..no_notice }, now), "a slot starting now is gone");
    }

    #[test]
    fn the_weekly_limit_is_told_as_what_is_left() {
        assert_eq!(requests_left(2, 0), Some(2));
        assert_eq!(requests_left(2, 1), Some(1));
        assert_eq!(requests_left(2, 5), Some(0));
        assert_eq!(requests_left(0, 9), None, "0 means no limit");
    }

    #[test]
    fn a_note_is_required_unless_the_advisor_says_otherwise() {
        assert_eq!(check_note("", false).unwrap_err().code, "note_required");
        assert_eq!(check_note(" \n ", false).unwrap_err().field, "note");
        assert!(check_note("Lifetimes in async code", false).is_ok());
        assert!(check_note("", true).is_ok());
    }

    #[test]
    fn agenda_actions_follow_the_state_machine_and_the_room_clock() {
        let start = 10 * 3_600_000;
        let end = start + 600_000;
        let before = start - 3_600_000;
        use RequestStatus::*;
        assert_eq!(
            actions(Requested, Role::Advisor, start, end, before),
            AgendaActions { decide: true, cancel: false, join: false }
        );
        assert_eq!(
            actions(Requested, Role::Learner, start, end, before),
            AgendaActions { decide: false, cancel: true, join: false }
        );
        assert_eq!(
            actions(Approved, Role::Advisor, start, end, before),
            AgendaActions { decide: false, cancel: true, join: false }
        );
        // The room opens 5 minutes before the start, not 6.
        assert!(!actions(Approved, Role::Learner, start, end, start - 6 * 60_000).join);
        let early = actions(Approved, Role::Learner, start, end, start - 5 * 60_000);
        assert!(early.join && early.cancel);
        let under_way = actions(Approved, Role::Learner, start, end, start + 60_000);
        assert_eq!(under_way, AgendaActions { decide: false, cancel: false, join: true });
        assert!(!actions(Requested, Role::Advisor, start, end, start + 60_000).decide, "too late to approve");
        assert_eq!(actions(Declined, Role::Learner, start, end, before), AgendaActions::default());
        assert!(is_upcoming(Approved, end, start) && !is_upcoming(Approved, end, end));
        assert!(!is_upcoming(Cancelled, end, before));
    }
}
