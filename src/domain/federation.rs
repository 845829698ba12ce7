//! The states of federation's own records: follows, published events, the
//! slots our events announce, and remote instances. Pure.

use super::booking::SlotState;

words! {
    /// A local person's follow of a remote actor: asked, or confirmed by the
    /// actor's server (`Accept`).
    pub enum FollowState("follow state") {
        Pending = "pending",
        Accepted = "accepted",
    }
}

impl FollowState {
    /// From when (if ever) the follow was accepted.
    pub fn of(accepted_at: Option<i64>) -> FollowState {
        if accepted_at.is_some() { FollowState::Accepted } else { FollowState::Pending }
    }
}

words! {
    /// What followers last heard of one occurrence we published as an
    /// `Event`: still offered, cancelled (every slot removed), over (it
    /// just leaves the collection), or withdrawn with a `Delete`.
    pub enum PublishedStatus("published event status") {
        Live = "live",
        Cancelled = "cancelled",
        Ended = "ended",
        Deleted = "deleted",
    }
}

impl PublishedStatus {
    /// Still out there: followers may see it change or go.
    pub fn is_open(self) -> bool {
        matches!(self, PublishedStatus::Live | PublishedStatus::Cancelled)
    }
}

words! {
    /// A slot's state as our `Event`'s slot list announces it (and as a
    /// remote Officehours announces its own): a remote learner can ask for
    /// it, or not any more, or it was removed.
    pub enum OfferedState("offered slot state") {
        Open = "open",
        Taken = "taken",
        Cancelled = "cancelled",
    }
}

impl OfferedState {
    /// How a slot in `state` is announced; one that has `started` is no
    /// longer open.
    pub fn of(state: SlotState, started: bool) -> OfferedState {
        match state {
            SlotState::Cancelled => OfferedState::Cancelled,
            SlotState::Booked => OfferedState::Taken,
            SlotState::Open | SlotState::Requested if started => OfferedState::Taken,
            SlotState::Open | SlotState::Requested => OfferedState::Open,
        }
    }
}

words! {
    /// A remote instance's health as the admin sees it: deliveries go
    /// through, some failed lately, or it is dead (deliveries wait for a
    /// probe).
    pub enum InstanceState("instance state") {
        Ok = "ok",
        Failing = "failing",
        Dead = "dead",
    }
}

impl InstanceState {
    /// From when it was marked dead (if it is) and its failures in a row.
    pub fn of(dead_since: Option<i64>, failures: i64) -> InstanceState {
        if dead_since.is_some() {
            InstanceState::Dead
        } else if failures > 0 {
            InstanceState::Failing
        } else {
            InstanceState::Ok
        }
    }
}

words! {
    /// How a remote instance takes the signatures of what we deliver: RFC
    /// 9421 HTTP Message Signatures, or only draft-cavage (it refused RFC
    /// 9421 with a 401 or 403 and took draft-cavage). Unknown until the
    /// first delivery (RFC 9421 is tried first).
    pub enum SignatureStyle("signature style") {
        Rfc9421 = "rfc9421",
        Cavage = "cavage",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::assert_words;

    #[test]
    fn states_are_words() {
        assert_words(&FollowState::ALL, FollowState::as_str);
        assert_words(&PublishedStatus::ALL, PublishedStatus::as_str);
        assert_words(&OfferedState::ALL, OfferedState::as_str);
        assert_words(&InstanceState::ALL, InstanceState::as_str);
        assert_words(&SignatureStyle::ALL, SignatureStyle::as_str);
    }

    #[test]
    fn states_follow_from_what_is_stored() {
        assert_eq!(FollowState::of(None), FollowState::Pending);
        assert_eq!(FollowState::of(Some(1)), FollowState::Accepted);
        assert_eq!(InstanceState::of(None, 0), InstanceState::Ok);
        assert_eq!(InstanceState::of(None, 3), InstanceState::Failing);
        assert_eq!(InstanceState::of(Some(1), 0), InstanceState::Dead);
        let open: Vec<PublishedStatus> = PublishedStatus::ALL.into_iter().filter(|s| s.is_open()).collect();
        assert_eq!(open, [PublishedStatus::Live, PublishedStatus::Cancelled]);
    }

    #[test]
    fn slots_are_announced_open_only_while_they_take_requests() {
        use SlotState::*;
        assert_eq!(OfferedState::of(Open, false), OfferedState::Open);
        assert_eq!(OfferedState::of(Requested, false), OfferedState::Open);
        assert_eq!(OfferedState::of(Open, true), OfferedState::Taken);
        assert_eq!(OfferedState::of(Booked, false), OfferedState::Taken);
        assert_eq!(OfferedState::of(Cancelled, false), OfferedState::Cancelled);
        assert_eq!(OfferedState::of(Cancelled, true), OfferedState::Cancelled);
    }
}
