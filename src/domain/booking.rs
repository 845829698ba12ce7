//! The booking rules: who may request a slot, and how a request moves
//! between states. Pure functions; storage enforces the one rule that must
//! hold under any concurrency (one approved request per slot) by itself.

use jiff::{SignedDuration, Timestamp};

words! {
    /// The life of a request for a slot.
    ///
    /// ```text
    /// requested ──approve (advisor)──▶ approved ──cancel (either)──▶ cancelled
    ///     │  └──decline (advisor)──▶ declined
    ///     └──cancel (learner withdraws)──▶ cancelled
    /// ```
    pub enum RequestStatus("request status") {
        Requested = "requested",
        Approved = "approved",
        Declined = "declined",
        Cancelled = "cancelled",
    }
}

impl RequestStatus {
    /// Still holding (or waiting for) the slot.
    pub fn is_live(self) -> bool {
        matches!(self, RequestStatus::Requested | RequestStatus::Approved)
    }
}

words! {
    /// What a slot looks like to people, derived from the slot and its
    /// requests (storage works it out): nobody asked yet, someone asked,
    /// someone has it (or a remote advisor's server says it is taken), or
    /// the advisor removed it.
    pub enum SlotState("slot state") {
        Open = "open",
        Requested = "requested",
        Booked = "booked",
        Cancelled = "cancelled",
    }
}

impl SlotState {
    /// A learner can still ask for it (an asked-for slot is not taken
    /// until the advisor approves someone).
    pub fn takes_requests(self) -> bool {
        matches!(self, SlotState::Open | SlotState::Requested)
    }
}

words! {
    /// What happened to a request, as its event log records it: each change
    /// of status, and the no-shows recorded and forgiven afterwards.
    /// Notifications, mail, karma and activities for other servers are made
    /// from these events.
    pub enum EventKind("booking event kind") {
        Requested = "requested",
        Approved = "approved",
        Declined = "declined",
        Cancelled = "cancelled",
        NoShow = "no_show",
        Forgiven = "forgiven",
    }
}

impl From<RequestStatus> for EventKind {
    /// The event that moving a request to `status` logs.
    fn from(status: RequestStatus) -> Self {
        match status {
            RequestStatus::Requested => EventKind::Requested,
            RequestStatus::Approved => EventKind::Approved,
            RequestStatus::Declined => EventKind::Declined,
            RequestStatus::Cancelled => EventKind::Cancelled,
        }
    }
}

words! {
    /// How a request travels between servers: as a `Join` of an event
    /// (Officehours, Mobilizon), or as a Mastodon note replying to or
    /// mentioning the advisor.
    pub enum Channel("request channel") {
        Join = "join",
        Note = "note",
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Approve,
    Decline,
    Cancel,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Advisor,
    Learner,
}

/// Why an action on a request is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransitionError {
    NotAllowed,
    AlreadyDecided,
}

impl TransitionError {
    pub fn code(self) -> &'static str {
        match self {
            TransitionError::NotAllowed => "not_allowed",
            TransitionError::AlreadyDecided => "already_decided",
        }
    }
}

/// The state after `role` does `action` to a request in `from`.
pub fn transition(from: RequestStatus, action: Action, role: Role) -> Result<RequestStatus, TransitionError> {
    use RequestStatus::*;
    match (action, role, from) {
        (Action::Approve | Action::Decline, Role::Learner, _) => Err(TransitionError::NotAllowed),
        (Action::Approve, Role::Advisor, Requested) => Ok(Approved),
        (Action::Decline, Role::Advisor, Requested) => Ok(Declined),
        (Action::Cancel, Role::Learner, Requested | Approved) => Ok(Cancelled),
        (Action::Cancel, Role::Advisor, Approved) => Ok(Cancelled),
        (Action::Cancel, Role::Advisor, Requested) => Err(TransitionError::NotAllowed),
        _ => Err(TransitionError::AlreadyDecided),
    }
}

/// The advisor's rules for requests, after per-block overrides.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    pub min_notice: SignedDuration,
    pub horizon: SignedDuration,
    /// At most this many live requests per learner per week (`0` = no limit).
    pub max_per_learner_week: u32,
    pub approval_required: bool,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            min_notice: SignedDuration::from_hours(2),
            horizon: SignedDuration::from_hours(24 * 60),
            max_per_learner_week: 2,
            approval_required: true,
        }
    }
}

/// What the slot looks like when someone asks for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SlotView {
    pub start: Timestamp,
    pub cancelled: bool,
    pub booked: bool,
    pub hidden_by_busy_time: bool,
}

/// Why a request for a slot is refused, each with a stable code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    OwnSlot,
    SlotPast,
    SlotCancelled,
    SlotTaken,
    InsideNotice,
    BeyondHorizon,
    WeeklyLimit,
    AlreadyRequested,
}

impl Refusal {
    pub fn code(self) -> &'static str {
        match self {
            Refusal::OwnSlot => "own_slot",
            Refusal::SlotPast => "slot_past",
            Refusal::SlotCancelled => "slot_cancelled",
            Refusal::SlotTaken => "slot_taken",
            Refusal::InsideNotice => "inside_minimum_notice",
            Refusal::BeyondHorizon => "beyond_horizon",
            Refusal::WeeklyLimit => "weekly_limit",
            Refusal::AlreadyRequested => "already_requested",
        }
    }
}

/// Everything about the learner that the rules need.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LearnerView {
    pub is_advisor_of_slot: bool,
    /// Live requests of this learner with this advisor in the slot's week.
    pub live_requests_that_week: u32,
    pub already_requested_this_slot: bool,
}

/// Whether a learner may request a slot now.
pub fn check_request(slot: SlotView, learner: LearnerView, policy: &Policy, now: Timestamp) -> Result<(), Refusal> {
    if learner.is_advisor_of_slot {
        return Err(Refusal::OwnSlot);
    }
    if slot.cancelled {
        return Err(Refusal::SlotCancelled);
    }
    if slot.start <= now {
        return Err(Refusal::SlotPast);
    }
    if slot.booked || slot.hidden_by_busy_time {
        return Err(Refusal::SlotTaken);
    }
    if learner.already_requested_this_slot {
        return Err(Refusal::AlreadyRequested);
    }
    let until_start = now.duration_until(slot.start);
    if until_start < policy.min_notice {
        return Err(Refusal::InsideNotice);
    }
    if until_start > policy.horizon {
        return Err(Refusal::BeyondHorizon);
    }
    if policy.max_per_learner_week > 0 && learner.live_requests_that_week >= policy.max_per_learner_week {
        return Err(Refusal::WeeklyLimit);
    }
    Ok(())
}

/// What the person looking at a request may do with it now; the request
/// page and the API show exactly these actions.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Permissions {
    pub decide: bool,
    pub cancel: bool,
    pub mark_no_show: bool,
    pub forgive: bool,
}

/// One recorded event of a request, as far as the rules need it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PastEvent {
    pub kind: EventKind,
    pub actor_id: Option<i64>,
    pub at: Timestamp,
}

/// The viewer's permissions on a request in `status`, given its history,
/// the session's times and `now`: approve or decline and cancel by the
/// state machine; a no-show once per session, inside its window; forgiving
/// one's own no-show report within the forgiveness window.
pub fn permissions(
    status: RequestStatus,
    role: Role,
    viewer_id: i64,
    history: &[PastEvent],
    session: (Timestamp, Timestamp),
    now: Timestamp,
) -> Permissions {
    let no_show = history.iter().rev().find(|e| e.kind == EventKind::NoShow);
    let forgiven = history.iter().any(|e| e.kind == EventKind::Forgiven);
    Permissions {
        decide: transition(status, Action::Approve, role).is_ok(),
        cancel: transition(status, Action::Cancel, role).is_ok(),
        mark_no_show: status == RequestStatus::Approved
            && no_show.is_none()
            && crate::domain::karma::no_show_open(now, session.0, session.1).is_ok(),
        forgive: no_show.is_some_and(|e| e.actor_id == Some(viewer_id))
            && !forgiven
            && no_show.is_some_and(|e| crate::domain::karma::forgive_open(now, e.at).is_ok()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use RequestStatus::*;

    #[test]
    fn the_state_machine_allows_only_its_arrows() {
        assert_eq!(transition(Requested, Action::Approve, Role::Advisor), Ok(Approved));
        assert_eq!(transition(Requested, Action::Decline, Role::Advisor), Ok(Declined));
        assert_eq!(transition(Requested, Action::Cancel, Role::Learner), Ok(Cancelled));
        assert_eq!(transition(Approved, Action::Cancel, Role::Learner), Ok(Cancelled));
        assert_eq!(transition(Approved, Action::Cancel, Role::Advisor), Ok(Cancelled));
        assert_eq!(transition(Requested, Action::Approve, Role::Learner), Err(TransitionError::NotAllowed));
        assert_eq!(transition(Requested, Action::Cancel, Role::Advisor), Err(TransitionError::NotAllowed));
        for end in [Declined, Cancelled] {
            for action in [Action::Approve, Action::Decline, Action::Cancel] {
                assert!(transition(end, action, Role::Advisor).is_err(), "{end:?} is final");
            }
        }
        assert_eq!(transition(Approved, Action::Approve, Role::Advisor), Err(TransitionError::AlreadyDecided));
    }

    #[test]
    fn states_and_kinds_are_words() {
        crate::domain::assert_words(&RequestStatus::ALL, RequestStatus::as_str);
        crate::domain::assert_words(&SlotState::ALL, SlotState::as_str);
        crate::domain::assert_words(&EventKind::ALL, EventKind::as_str);
        crate::domain::assert_words(&Channel::ALL, Channel::as_str);
        assert_eq!(RequestStatus::ALL, [Requested, Approved, Declined, Cancelled]);
        for status in RequestStatus::ALL {
            // A change of status logs the event of the same name.
            assert_eq!(EventKind::from(status).as_str(), status.as_str());
        }
        let open: Vec<SlotState> = SlotState::ALL.into_iter().filter(|s| s.takes_requests()).collect();
        assert_eq!(open, [SlotState::Open, SlotState::Requested]);
        assert!(Requested.is_live() && Approved.is_live() && !Declined.is_live() && !Cancelled.is_live());
    }

    fn slot_in(hours: i64, now: Timestamp) -> SlotView {
        SlotView {
            start: now.checked_add(SignedDuration::from_hours(hours)).unwrap(),
            cancelled: false,
            booked: false,
            hidden_by_busy_time: false,
        }
    }

    const LEARNER: LearnerView =
        LearnerView { is_advisor_of_slot: false, live_requests_that_week: 0, already_requested_this_slot: false };

    #[test]
    fn permissions_follow_the_state_machine_and_the_no_show_windows() {
        let now: Timestamp = "2026-12-01T12:00:00Z".parse().unwrap();
        let hours = |h: i64| now.checked_add(SignedDuration::from_hours(h)).unwrap();
        let ahead = (hours(1), hours(2));
        let advisor = permissions(Requested, Role::Advisor, 1, &[], ahead, now);
        assert_eq!(advisor, Permissions { decide: true, ..Default::default() });
        let learner = permissions(Requested, Role::Learner, 2, &[], ahead, now);
        assert_eq!(learner, Permissions { cancel: true, ..Default::default() });
        assert!(permissions(Approved, Role::Advisor, 1, &[], ahead, now).cancel);
        assert_eq!(permissions(Declined, Role::Learner, 2, &[], ahead, now), Permissions::default());
        // A session under way: a no-show may be reported, once.
        let started = (hours(-1), hours(1));
        assert!(permissions(Approved, Role::Advisor, 1, &[], started, now).mark_no_show);
        assert!(!permissions(Approved, Role::Advisor, 1, &[], ahead, now).mark_no_show, "not before the start");
        let reported = [PastEvent { kind: EventKind::NoShow, actor_id: Some(1), at: hours(-1) }];
        let after = permissions(Approved, Role::Advisor, 1, &reported, started, now);
        assert!(!after.mark_no_show && after.forgive, "{after:?}");
        assert!(
            !permissions(Approved, Role::Learner, 2, &reported, started, now).forgive,
            "only the reporter forgives"
        );
        let forgiven = [reported[0], PastEvent { kind: EventKind::Forgiven, actor_id: Some(1), at: now }];
        assert!(!permissions(Approved, Role::Advisor, 1, &forgiven, started, now).forgive);
        let long_ago = [PastEvent { kind: EventKind::NoShow, actor_id: Some(1), at: hours(-24 * 365) }];
        assert!(!permissions(Approved, Role::Advisor, 1, &long_ago, started, now).forgive, "window closed");
    }

    #[test]
    fn requests_are_checked_against_every_rule() {
        let now: Timestamp = "2026-12-01T12:00:00Z".parse().unwrap();
        let policy = Policy::default();
        assert_eq!(check_request(slot_in(24, now), LEARNER, &policy, now), Ok(()));
        assert_eq!(check_request(slot_in(-1, now), LEARNER, &policy, now), Err(Refusal::SlotPast));
        assert_eq!(check_request(slot_in(1, now), LEARNER, &policy, now), Err(Refusal::InsideNotice));
        assert_eq!(check_request(slot_in(24 * 61, now), LEARNER, &policy, now), Err(Refusal::BeyondHorizon));
        let taken = SlotView { booked: true, ..slot_in(24, now) };
        assert_eq!(check_request(taken, LEARNER, &policy, now), Err(Refusal::SlotTaken));
        let busy = SlotView { hidden_by_busy_time: true, ..slot_in(24, now) };
        assert_eq!(check_request(busy, LEARNER, &policy, now), Err(Refusal::SlotTaken));
        let gone = SlotView { cancelled: true, ..slot_in(24, now) };
        assert_eq!(check_request(gone, LEARNER, &policy, now), Err(Refusal::SlotCancelled));
        let busy_learner = LearnerView { live_requests_that_week: 2, ..LEARNER };
        assert_eq!(check_request(slot_in(24, now), busy_learner, &policy, now), Err(Refusal::WeeklyLimit));
        let unlimited = Policy { max_per_learner_week: 0, ..policy };
        assert_eq!(check_request(slot_in(24, now), busy_learner, &unlimited, now), Ok(()));
        let own = LearnerView { is_advisor_of_slot: true, ..LEARNER };
        assert_eq!(check_request(slot_in(24, now), own, &policy, now), Err(Refusal::OwnSlot));
        let again = LearnerView { already_requested_this_slot: true, ..LEARNER };
        assert_eq!(check_request(slot_in(24, now), again, &policy, now), Err(Refusal::AlreadyRequested));
    }
}
