//! Notification types (N1) and who hears about which booking event. Pure.

use super::booking::EventKind;

words! {
    /// What a notification is about. Each type can be switched off for
    /// e-mail; the activity feed always shows it.
    pub enum Kind("notification type") {
        RequestReceived = "request_received",
        RequestApproved = "request_approved",
        RequestDeclined = "request_declined",
        RequestCancelled = "request_cancelled",
        Reminder = "reminder",
        Message = "message",
        NoShow = "no_show",
    }
}

impl Kind {
    /// The settings page's label.
    pub fn label(self) -> &'static str {
        match self {
            Kind::RequestReceived => "Someone requests or books a session with me",
            Kind::RequestApproved => "My request is approved",
            Kind::RequestDeclined => "My request is declined",
            Kind::RequestCancelled => "A session is cancelled",
            Kind::Reminder => "Reminder before a session",
            Kind::Message => "New message",
            Kind::NoShow => "A no-show is recorded or forgiven",
        }
    }
}

/// The two people of a request and who acted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventPeople {
    pub advisor: i64,
    pub learner: i64,
    /// Who did it (`None`: the system, e.g. a removed block).
    pub actor: Option<i64>,
    /// Who it is about when that is not the actor (a no-show's absentee).
    pub subject: Option<i64>,
}

/// Who is told about a booking event, and as what. Nobody is told about
/// their own action, except that a learner whose request was approved at
/// once gets the confirmation.
pub fn recipients(event_kind: EventKind, people: EventPeople) -> Vec<(i64, Kind)> {
    let EventPeople { advisor, learner, actor, subject } = people;
    let other_than_actor = |id: i64| actor != Some(id);
    let mut out = Vec::new();
    match event_kind {
        EventKind::Requested => out.push((advisor, Kind::RequestReceived)),
        EventKind::Approved if actor == Some(learner) => {
            // Booked at once (the advisor approves automatically).
            out.push((advisor, Kind::RequestReceived));
            out.push((learner, Kind::RequestApproved));
        }
        EventKind::Approved => out.push((learner, Kind::RequestApproved)),
        EventKind::Declined => out.push((learner, Kind::RequestDeclined)),
        EventKind::Cancelled => {
            for id in [advisor, learner] {
                if other_than_actor(id) {
                    out.push((id, Kind::RequestCancelled));
                }
            }
        }
        EventKind::NoShow | EventKind::Forgiven => {
            if let Some(subject) = subject {
                out.push((subject, Kind::NoShow));
            }
        }
    }
    out
}

/// Where a notification leads: a confirmed session's room (approval,
/// reminder), else its request's page, the conversation with the person a
/// message is from, else the feed itself.
pub fn link(kind: Kind, request_id: Option<i64>, sender_username: Option<&str>) -> String {
    match (request_id, sender_username) {
        (Some(request), _) if matches!(kind, Kind::RequestApproved | Kind::Reminder) => format!("/rooms/{request}"),
        (Some(request), _) => format!("/requests/{request}"),
        (None, Some(sender)) if kind == Kind::Message => format!("/messages/{sender}"),
        _ => "/notifications".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use EventKind::*;

    #[test]
    fn a_notification_leads_to_its_request_or_conversation() {
        assert_eq!(link(Kind::RequestApproved, Some(7), Some("ada")), "/rooms/7");
        assert_eq!(link(Kind::Reminder, Some(7), None), "/rooms/7");
        assert_eq!(link(Kind::RequestDeclined, Some(7), Some("ada")), "/requests/7");
        assert_eq!(link(Kind::Message, None, Some("ada")), "/messages/ada");
        assert_eq!(link(Kind::Message, None, None), "/notifications");
        assert_eq!(link(Kind::RequestApproved, None, Some("ada")), "/notifications");
    }

    const ADVISOR: i64 = 1;
    const LEARNER: i64 = 2;

    fn by(actor: Option<i64>) -> EventPeople {
        EventPeople { advisor: ADVISOR, learner: LEARNER, actor, subject: None }
    }

    #[test]
    fn kinds_round_trip_and_unknown_ones_are_rejected() {
        crate::domain::assert_words(&Kind::ALL, Kind::as_str);
        assert_eq!(Kind::parse("spam"), None);
        assert_eq!(Kind::parse(""), None);
    }

    #[test]
    fn each_side_hears_about_the_other_sides_actions() {
        assert_eq!(recipients(Requested, by(Some(LEARNER))), vec![(ADVISOR, Kind::RequestReceived)]);
        assert_eq!(recipients(Approved, by(Some(ADVISOR))), vec![(LEARNER, Kind::RequestApproved)]);
        assert_eq!(recipients(Declined, by(Some(ADVISOR))), vec![(LEARNER, Kind::RequestDeclined)]);
        assert_eq!(recipients(Cancelled, by(Some(LEARNER))), vec![(ADVISOR, Kind::RequestCancelled)]);
        assert_eq!(recipients(Cancelled, by(Some(ADVISOR))), vec![(LEARNER, Kind::RequestCancelled)]);
    }

    #[test]
    fn an_instant_booking_tells_both_and_a_system_cancellation_tells_both() {
        assert_eq!(
            recipients(Approved, by(Some(LEARNER))),
            vec![(ADVISOR, Kind::RequestReceived), (LEARNER, Kind::RequestApproved)]
        );
        assert_eq!(
            recipients(Cancelled, by(None)),
            vec![(ADVISOR, Kind::RequestCancelled), (LEARNER, Kind::RequestCancelled)]
        );
    }

    #[test]
    fn no_shows_go_to_the_absent_person_only() {
        let people = EventPeople { subject: Some(LEARNER), ..by(Some(ADVISOR)) };
        assert_eq!(recipients(NoShow, people), vec![(LEARNER, Kind::NoShow)]);
        assert_eq!(recipients(Forgiven, people), vec![(LEARNER, Kind::NoShow)]);
        assert!(recipients(NoShow, by(Some(ADVISOR))).is_empty());
    }
}
