//! Calendar output (C1): subscription feeds and single-event downloads as
//! RFC 5545 text (written with the `icalendar` crate), and "add to Google /
//! Outlook" links. Pure: callers pass plain values and get text back.
//!
//! Every time is written in UTC (`…Z`), so subscribers need no VTIMEZONE and
//! show the session in their own calendar's zone.

use icalendar::{Calendar, Component, Property};
use jiff::Timestamp;

/// How often subscribers should refresh a feed.
pub const REFRESH_INTERVAL: &str = "PT1H";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventState {
    Confirmed,
    Tentative,
    Cancelled,
}

impl EventState {
    fn as_str(self) -> &'static str {
        match self {
            EventState::Confirmed => "CONFIRMED",
            EventState::Tentative => "TENTATIVE",
            EventState::Cancelled => "CANCELLED",
        }
    }
}

/// One calendar event, in plain values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedEvent {
    /// Stable across refreshes: the same session keeps its UID forever.
    pub uid: String,
    pub start: Timestamp,
    pub end: Timestamp,
    pub summary: String,
    pub description: String,
    pub url: Option<String>,
    pub state: EventState,
    /// Bumped on every change, so calendars replace their copy.
    pub sequence: u32,
    pub created: Timestamp,
    pub last_modified: Timestamp,
    /// Open availability does not make its owner look busy.
    pub transparent: bool,
}

/// A whole calendar: `METHOD:PUBLISH`, a name, refresh hints and the events.
pub fn calendar(name: &str, product: &str, events: &[FeedEvent]) -> String {
    let mut calendar = Calendar::empty();
    calendar.append_property(Property::new("VERSION", "2.0"));
    calendar.append_property(Property::new("PRODID", format!("-//{product}//Officehours//EN")));
    calendar.append_property(Property::new("CALSCALE", "GREGORIAN"));
    calendar.append_property(Property::new("METHOD", "PUBLISH"));
    calendar.append_property(Property::new("X-WR-CALNAME", name));
    calendar.append_property(Property::new("NAME", name));
    calendar
        .append_property(Property::new("REFRESH-INTERVAL", REFRESH_INTERVAL).add_parameter("VALUE", "DURATION").done());
    calendar.append_property(Property::new("X-PUBLISHED-TTL", REFRESH_INTERVAL));
    for event in events {
        calendar.push(vevent(event));
    }
    calendar.to_string()
}

fn vevent(event: &FeedEvent) -> icalendar::Event {
    let mut vevent = icalendar::Event::new();
    vevent
        .uid(&event.uid)
        .add_property("DTSTAMP", utc(event.last_modified))
        .add_property("DTSTART", utc(event.start))
        .add_property("DTEND", utc(event.end))
        .add_property("CREATED", utc(event.created))
        .add_property("LAST-MODIFIED", utc(event.last_modified))
        .add_property("STATUS", event.state.as_str())
        .add_property("TRANSP", if event.transparent { "TRANSPARENT" } else { "OPAQUE" })
        .sequence(event.sequence)
        .summary(&event.summary)
        .description(&event.description);
    if let Some(url) = &event.url {
        vevent.url(url);
    }
    vevent.done()
}

/// `20261201T140000Z`, the UTC form of an RFC 5545 DATE-TIME.
pub fn utc(at: Timestamp) -> String {
    at.strftime("%Y%m%dT%H%M%SZ").to_string()
}

/// A link that opens Google Calendar's "new event" form filled in.
pub fn google_link(event: &FeedEvent) -> String {
    let dates = format!("{}/{}", utc(event.start), utc(event.end));
    let query = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("action", "TEMPLATE")
        .append_pair("text", &event.summary)
        .append_pair("dates", &dates)
        .append_pair("details", &event.description)
        .finish();
    format!("https://calendar.google.com/calendar/render?{query}")
}

/// A link that opens Outlook on the web's "new event" form filled in.
pub fn outlook_link(event: &FeedEvent) -> String {
    let query = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("path", "/calendar/action/compose")
        .append_pair("rru", "addevent")
        .append_pair("subject", &event.summary)
        .append_pair("startdt", &event.start.strftime("%Y-%m-%dT%H:%M:%SZ").to_string())
        .append_pair("enddt", &event.end.strftime("%Y-%m-%dT%H:%M:%SZ").to_string())
        .append_pair("body", &event.description)
        .finish();
    format!("https://outlook.live.com/calendar/0/deeplink/compose?{query}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event() -> FeedEvent {
        let start: Timestamp = "2026-03-29T00:55:00Z".parse().unwrap();
        FeedEvent {
            uid: "request-7@hours.example.org".into(),
            start,
            end: "2026-03-29T01:05:00Z".parse().unwrap(),
            summary: "Office hours with Ada; Lovelace, the first".into(),
            description: "Session page: https://hours.example.org/requests/7\nNote: bring code".into(),
            url: Some("https://hours.example.org/requests/7".into()),
            state: EventState::Cancelled,
            sequence: 2,
            created: "2026-03-01T10:00:00Z".parse().unwrap(),
            last_modified: "2026-03-02T10:00:00Z".parse().unwrap(),
            transparent: false,
        }
    }

    #[test]
    fn a_feed_is_published_in_utc_with_escaped_text_and_crlf_lines() {
        let text = calendar("Office hours", "hours.example.org", &[event()]);
        assert!(text.starts_with("BEGIN:VCALENDAR\r\n"));
        for needle in [
            "METHOD:PUBLISH\r\n",
            "REFRESH-INTERVAL;VALUE=DURATION:PT1H\r\n",
            "X-PUBLISHED-TTL:PT1H\r\n",
            "DTSTART:20260329T005500Z\r\n",
            "DTEND:20260329T010500Z\r\n",
            "STATUS:CANCELLED\r\n",
            "SEQUENCE:2\r\n",
            "UID:request-7@hours.example.org\r\n",
            "SUMMARY:Office hours with Ada\\; Lovelace\\, the first\r\n",
            "DTSTAMP:20260302T100000Z\r\n",
        ] {
            assert!(text.contains(needle), "missing {needle:?} in\n{text}");
        }
        let unfolded = text.replace("\r\n ", "");
        assert!(unfolded.contains("DESCRIPTION:Session page: https://hours.example.org/requests/7\\nNote: bring code"));
        assert!(text.lines().all(|l| l.len() <= 75), "lines are folded:\n{text}");
        assert_eq!(text.matches("PRODID").count(), 1);
    }

    #[test]
    fn add_to_calendar_links_carry_utc_times() {
        let google = google_link(&event());
        assert!(google.contains("dates=20260329T005500Z%2F20260329T010500Z"), "{google}");
        let outlook = outlook_link(&event());
        assert!(outlook.contains("startdt=2026-03-29T00%3A55%3A00Z"), "{outlook}");
        assert!(outlook.contains("subject=Office+hours+with+Ada%3B+Lovelace%2C+the+first"), "{outlook}");
    }
}
