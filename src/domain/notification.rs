//! Notification types (N1) and who hears about which booking event. Pure.

/// What a notification is about. Each type can be switched off for e-mail;
/// the activity feed always shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    RequestReceived,
    RequestApproved,
    RequestDeclined,
    RequestCancelled,
    Reminder,
    Message,
    NoShow,
}

impl Kind {
    pub const ALL: [Kind; 7] = [
        Kind::RequestReceived,
        Kind::RequestApproved,
        Kind::RequestDeclined,
        Kind::RequestCancelled,
        Kind::Reminder,
        Kind::Message,
        Kind::NoShow,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::RequestReceived => "request_received",
            Kind::RequestApproved => "request_approved",
            Kind::RequestDeclined => "request_declined",
            Kind::RequestCancelled => "request_cancelled",
            Kind::Reminder => "reminder",
            Kind::Message => "message",
            Kind::NoShow => "no_show",
        }
    }

    pub fn parse(text: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.as_str() == text)
    }

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
pub fn recipients(event_kind: &str, people: EventPeople) -> Vec<(i64, Kind)> {
    let EventPeople { advisor, learner, actor, subject } = people;
    let other_than_actor = |id: i64| actor != Some(id);
    let mut out = Vec::new();
    match event_kind {
        "requested" => out.push((advisor, Kind::RequestReceived)),
        "approved" if actor == Some(learner) => {
            // Booked at once (the advisor approves automatically).
            out.push((advisor, Kind::RequestReceived));
            out.push((learner, Kind::RequestApproved));
        }
        "approved" => out.push((learner, Kind::RequestApproved)),
        "declined" => out.push((learner, Kind::RequestDeclined)),
        "cancelled" => {
            for id in [advisor, learner] {
                if other_than_actor(id) {
                    out.push((id, Kind::RequestCancelled));
                }
            }
        }
        "no_show" | "forgiven" => {
            if let Some(subject) = subject {
                out.push((subject, Kind::NoShow));
            }
        }
        _ => {}
    }
    out
}

/// Where a notification leads: its request's page, the conversation with
/// the person a message is from, else the feed itself.
pub fn link(kind: &str, request_id: Option<i64>, sender_username: Option<&str>) -> String {
    match (request_id, sender_username) {
        (Some(request), _) => format!("/requests/{request}"),
        (None, Some(sender)) if kind == Kind::Message.as_str() => format!("/messages/{sender}"),
        _ => "/notifications".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_notification_leads_to_its_request_or_conversation() {
        assert_eq!(link("approved", Some(7), Some("ada")), "/requests/7");
        assert_eq!(link(Kind::Message.as_str(), None, Some("ada")), "/messages/ada");
        assert_eq!(link(Kind::Message.as_str(), None, None), "/notifications");
        assert_eq!(link("approved", None, Some("ada")), "/notifications");
    }

    const ADVISOR: i64 = 1;
    const LEARNER: i64 = 2;

    fn by(actor: Option<i64>) -> EventPeople {
        EventPeople { advisor: ADVISOR, learner: LEARNER, actor, subject: None }
    }

    #[test]
    fn kinds_round_trip_and_unknown_ones_are_rejected() {
        for kind in Kind::ALL {
            assert_eq!(Kind::parse(kind.as_str()), Some(kind));
        }
        assert_eq!(Kind::parse("spam"), None);
        assert_eq!(Kind::parse(""), None);
    }

    #[test]
    fn each_side_hears_about_the_other_sides_actions() {
        assert_eq!(recipients("requested", by(Some(LEARNER))), vec![(ADVISOR, Kind::RequestReceived)]);
        assert_eq!(recipients("approved", by(Some(ADVISOR))), vec![(LEARNER, Kind::RequestApproved)]);
        assert_eq!(recipients("declined", by(Some(ADVISOR))), vec![(LEARNER, Kind::RequestDeclined)]);
        assert_eq!(recipients("cancelled", by(Some(LEARNER))), vec![(ADVISOR, Kind::RequestCancelled)]);
        assert_eq!(recipients("cancelled", by(Some(ADVISOR))), vec![(LEARNER, Kind::RequestCancelled)]);
    }

    #[test]
    fn an_instant_booking_tells_both_and_a_system_cancellation_tells_both() {
        assert_eq!(
            recipients("approved", by(Some(LEARNER))),
            vec![(ADVISOR, Kind::RequestReceived), (LEARNER, Kind::RequestApproved)]
        );
        assert_eq!(
            recipients("cancelled", by(None)),
            vec![(ADVISOR, Kind::RequestCancelled), (LEARNER, Kind::RequestCancelled)]
        );
    }

    #[test]
    fn no_shows_go_to_the_absent_person_only() {
        let people = EventPeople { subject: Some(LEARNER), ..by(Some(ADVISOR)) };
        assert_eq!(recipients("no_show", people), vec![(LEARNER, Kind::NoShow)]);
        assert_eq!(recipients("forgiven", people), vec![(LEARNER, Kind::NoShow)]);
        assert!(recipients("no_show", by(Some(ADVISOR))).is_empty());
        assert!(recipients("something_else", by(Some(ADVISOR))).is_empty());
    }
}
