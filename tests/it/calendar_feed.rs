//! Calendar feeds and downloads (C1), read back by an independent parser:
//! Python's `icalendar` with `recurring-ical-events`, on SQLite and
//! PostgreSQL. Times, UIDs, sequences, cancellations and DST switches.

use crate::support;

use std::process::Command;

use jiff::Timestamp;
use officehours::domain::booking::RequestStatus;
use reqwest::StatusCode;
use serde_json::{Value, json};
use support::server::PASSWORD;
use support::{TestServer, test_databases};

/// Parses iCalendar text with Python's `icalendar` and returns its events
/// as JSON: uid, start/end in UTC and in two zones, status, sequence, …
fn parse_with_python(text: &str) -> Option<Value> {
    let available = Command::new("python3")
        .args(["-c", "import icalendar, recurring_ical_events"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !support::require(
        "Python's icalendar and recurring-ical-events (pip install icalendar recurring-ical-events)",
        available,
    ) {
        return None;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("feed.ics");
    std::fs::write(&path, text).unwrap();
    let script = r#"
import json, sys, datetime, zoneinfo
import icalendar, recurring_ical_events
cal = icalendar.Calendar.from_ical(open(sys.argv[1], 'rb').read())
berlin, new_york = zoneinfo.ZoneInfo('Europe/Berlin'), zoneinfo.ZoneInfo('America/New_York')
def local(dt, zone):
    return dt.astimezone(zone).strftime('%Y-%m-%d %H:%M %Z')
events = []
for e in cal.walk('VEVENT'):
    start, end = e.decoded('DTSTART'), e.decoded('DTEND')
    assert start.tzinfo is not None and start.utcoffset() == datetime.timedelta(0), 'times are UTC'
    events.append({
        'uid': str(e['UID']), 'start': start.isoformat(), 'end': end.isoformat(),
        'berlin': local(start, berlin), 'new_york': local(start, new_york),
        'status': str(e.get('STATUS')), 'sequence': int(e.get('SEQUENCE', 0)),
        'summary': str(e['SUMMARY']), 'description': str(e.get('DESCRIPTION', '')),
        'url': str(e.get('URL', '')), 'transp': str(e.get('TRANSP', '')),
    })
window = recurring_ical_events.of(cal).between(datetime.datetime(2000, 1, 1), datetime.datetime(2100, 1, 1))
print(json.dumps({
    'method': str(cal.get('METHOD')), 'ttl': str(cal.get('X-PUBLISHED-TTL')),
    'refresh': cal.get('REFRESH-INTERVAL').to_ical().decode() if cal.get('REFRESH-INTERVAL') else None,
    'name': str(cal.get('X-WR-CALNAME')), 'events': events, 'expanded': len(window),
}))
"#;
    let out = Command::new("python3").arg("-c").arg(script).arg(&path).output().expect("run python3");
    assert!(
        out.status.success(),
        "Python could not parse the calendar:\n{}\n{text}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(serde_json::from_slice(&out.stdout).unwrap())
}

fn event<'a>(parsed: &'a Value, uid: &str) -> &'a Value {
    parsed["events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["uid"] == uid)
        .unwrap_or_else(|| panic!("{uid} in {parsed:#}"))
}

fn at(text: &str) -> Timestamp {
    text.parse().unwrap()
}

async fn fetch(url: &str) -> (StatusCode, String, String) {
    let response = reqwest::get(url).await.unwrap();
    let status = response.status();
    let kind = response.headers().get("content-type").map(|v| v.to_str().unwrap().to_string()).unwrap_or_default();
    (status, kind, response.text().await.unwrap())
}

#[tokio::test]
async fn feeds_list_both_sides_in_utc_with_sequences_and_cancellations_across_dst() {
    for db in test_databases().await {
        let server = TestServer::start(&db).await;
        let advisor = server.create_advisor("ada").await;
        let learner = server.create_user("bob", false).await;
        let domain = server.app.config.domain.clone();
        // Europe springs forward at 01:00 UTC on 28 March 2027; the US at 07:00 UTC on 14 March.
        let before_eu =
            server.session_at(&advisor, &learner, at("2027-03-28T00:40:00Z"), RequestStatus::Approved).await;
        let after_eu = server.session_at(&advisor, &learner, at("2027-03-28T01:10:00Z"), RequestStatus::Approved).await;
        let before_us =
            server.session_at(&advisor, &learner, at("2027-03-14T06:40:00Z"), RequestStatus::Requested).await;
        let after_us = server.session_at(&advisor, &learner, at("2027-03-14T07:10:00Z"), RequestStatus::Approved).await;
        let ada = server.api_as(&advisor).await;
        let bob = server.api_as(&learner).await;
        let (status, _) = ada.post(&format!("/api/v1/requests/{before_us}/approve"), json!({})).await;
        assert_eq!(status, StatusCode::OK);
        let (status, _) = bob.post(&format!("/api/v1/requests/{after_us}/cancel"), json!({"note": "ill"})).await;
        assert_eq!(status, StatusCode::OK);

        let (status, feed) = bob.get("/api/v1/me/calendar-feed").await;
        assert_eq!(status, StatusCode::OK, "[{}] {feed}", db.backend);
        let url = feed["url"].as_str().unwrap().to_string();
        assert!(url.starts_with(&server.base) && url.ends_with(".ics"), "{url}");
        let token = url.rsplit('/').next().unwrap().trim_end_matches(".ics");
        assert!(token.len() >= 22, "at least 128 bits: {token}");
        assert_eq!(bob.get("/api/v1/me/calendar-feed").await.1["url"], url.as_str(), "the same URL again");
        let stored: Option<String> = server.store.calendar_feed(learner.id).await.unwrap().unwrap().token_hash;
        assert!(stored.is_some_and(|hash| !hash.contains(token)), "only a hash is stored");

        let (status, kind, text) = fetch(&url).await;
        assert_eq!(status, StatusCode::OK);
        assert!(kind.starts_with("text/calendar"), "{kind}");
        let Some(parsed) = parse_with_python(&text) else { return };
        assert_eq!(parsed["method"], "PUBLISH");
        assert_eq!(parsed["ttl"], "PT1H");
        assert_eq!(parsed["refresh"], "PT1H");
        assert_eq!(parsed["events"].as_array().unwrap().len(), 4, "{parsed:#}");
        assert_eq!(parsed["expanded"], 4, "recurring-ical-events reads every event");

        let e = event(&parsed, &format!("request-{before_eu}@{domain}"));
        assert_eq!(e["start"], "2027-03-28T00:40:00+00:00");
        assert_eq!(e["end"], "2027-03-28T00:50:00+00:00");
        assert_eq!(e["berlin"], "2027-03-28 01:40 CET");
        assert_eq!((e["status"].as_str(), e["sequence"].as_i64()), (Some("CONFIRMED"), Some(0)));
        assert!(e["summary"].as_str().unwrap().contains("ada"), "{e}");
        let link = format!("{}/requests/{before_eu}", server.base);
        assert!(e["description"].as_str().unwrap().contains(&link), "{e}");
        // A confirmed session's URL is the reader's own room link.
        let room = e["url"].as_str().unwrap();
        assert!(room.starts_with(&format!("{}/rooms/{before_eu}?token=", server.base)), "{e}");
        assert!(e["description"].as_str().unwrap().contains(room), "{e}");
        let e = event(&parsed, &format!("request-{after_eu}@{domain}"));
        assert_eq!(e["berlin"], "2027-03-28 03:10 CEST", "one real hour after the other session: DST");
        let e = event(&parsed, &format!("request-{before_us}@{domain}"));
        assert_eq!(e["new_york"], "2027-03-14 01:40 EST");
        assert_eq!((e["status"].as_str(), e["sequence"].as_i64()), (Some("CONFIRMED"), Some(1)), "approved: bumped");
        let e = event(&parsed, &format!("request-{after_us}@{domain}"));
        assert_eq!(e["new_york"], "2027-03-14 03:10 EDT");
        assert_eq!(
            (e["status"].as_str(), e["sequence"].as_i64()),
            (Some("CANCELLED"), Some(1)),
            "cancelled: kept, bumped"
        );

        // The advisor's feed has the same sessions under the same UIDs.
        let (_, ada_feed) = ada.get("/api/v1/me/calendar-feed").await;
        let ada_url = ada_feed["url"].as_str().unwrap();
        assert_ne!(ada_url, url, "everyone has their own link");
        let parsed_ada = parse_with_python(&fetch(ada_url).await.2).unwrap();
        let e = event(&parsed_ada, &format!("request-{before_eu}@{domain}"));
        assert!(e["summary"].as_str().unwrap().contains("bob"), "{e}");
        assert_eq!(parsed_ada["events"].as_array().unwrap().len(), 4);

        // With open availability: the advisor's blocks, marked free.
        server.app.set_feed_blocks(&advisor, true).await.unwrap();
        let parsed_ada = parse_with_python(&fetch(ada_url).await.2).unwrap();
        let blocks: Vec<&Value> = parsed_ada["events"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["uid"].as_str().unwrap().starts_with("block-"))
            .collect();
        assert_eq!(blocks.len(), 4, "{parsed_ada:#}");
        assert!(blocks.iter().all(|b| b["transp"] == "TRANSPARENT"));

        // Cancelled sessions leave the feed 30 days after the cancellation.
        server.advance(jiff::SignedDuration::from_hours(30 * 24) - jiff::SignedDuration::from_mins(1));
        let parsed = parse_with_python(&fetch(&url).await.2).unwrap();
        assert_eq!(parsed["events"].as_array().unwrap().len(), 4, "kept for 30 days");
        server.advance(jiff::SignedDuration::from_mins(2));
        let parsed = parse_with_python(&fetch(&url).await.2).unwrap();
        assert_eq!(parsed["events"].as_array().unwrap().len(), 3);

        // Rotating: the old URL is gone (404, nothing said), the new one works.
        let (status, rotated) = bob.post("/api/v1/me/calendar-feed/rotate", json!({})).await;
        assert_eq!(status, StatusCode::OK);
        let new_url = rotated["url"].as_str().unwrap().to_string();
        assert_ne!(new_url, url);
        let (status, _, body) = fetch(&url).await;
        assert_eq!((status, body.as_str()), (StatusCode::NOT_FOUND, "Not found."));
        assert_eq!(fetch(&new_url).await.0, StatusCode::OK);
        // Revoking: 404 too; asking again makes a fresh link.
        let (status, _) = bob.call(reqwest::Method::DELETE, "/api/v1/me/calendar-feed", None).await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        assert_eq!(fetch(&new_url).await.0, StatusCode::NOT_FOUND);
        let (_, again) = bob.get("/api/v1/me/calendar-feed").await;
        let again = again["url"].as_str().unwrap();
        assert!(again != new_url && again != url);
        assert_eq!(fetch(again).await.0, StatusCode::OK);
        // Unknown and malformed tokens look the same.
        for bad in ["AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA.ics", "x", "..%2F..%2Fetc%2Fpasswd"] {
            let (status, _, body) = fetch(&server.url(&format!("/feeds/{bad}"))).await;
            assert_eq!((status, body.as_str()), (StatusCode::NOT_FOUND, "Not found."), "{bad}");
        }
    }
}

#[tokio::test]
async fn one_session_downloads_as_ics_with_add_to_calendar_links() {
    for db in test_databases().await {
        let server = TestServer::start(&db).await;
        let advisor = server.create_advisor("ada").await;
        let learner = server.create_user("bob", false).await;
        let id = server.session_at(&advisor, &learner, at("2027-10-31T00:30:00Z"), RequestStatus::Approved).await;
        let mut browser = server.browser();
        browser.log_in("bob", PASSWORD).await;
        let page = browser.page(&format!("/requests/{id}")).await;
        assert!(page.contains("calendar.google.com/calendar/render?action=TEMPLATE"), "{page}");
        assert!(page.contains("dates=20271031T003000Z%2F20271031T004000Z"), "{page}");
        assert!(page.contains("outlook.live.com/calendar/0/deeplink/compose"));
        let response = browser.get(&format!("/requests/{id}/event.ics")).await;
        assert_eq!(response.status, StatusCode::OK);
        let Some(parsed) = parse_with_python(&response.body) else { return };
        assert_eq!(parsed["events"].as_array().unwrap().len(), 1);
        let e = event(&parsed, &format!("request-{id}@{}", server.app.config.domain));
        // The last Sunday of October 2027: Berlin falls back at 01:00 UTC.
        assert_eq!(e["berlin"], "2027-10-31 02:30 CEST");
        let stranger = server.create_user("eve", false).await;
        let mut eve = server.browser();
        eve.log_in(&stranger.username, PASSWORD).await;
        assert_eq!(eve.get(&format!("/requests/{id}/event.ics")).await.status, StatusCode::NOT_FOUND);
    }
}

#[tokio::test]
async fn feed_links_are_https_behind_https_and_floods_are_refused() {
    let db = support::TestDatabase::sqlite().await;
    let server = TestServer::start_with(&db, |c| c.public_url = "https://hours.example.test/".parse().unwrap()).await;
    let learner = server.create_user("bob", false).await;
    let state = server.app.calendar_feed_url(&learner).await.unwrap();
    assert!(state.url.starts_with("https://hours.example.test/feeds/"), "{}", state.url);
    let local = state.url.replace("https://hours.example.test", &server.base);
    let mut statuses = Vec::new();
    for _ in 0..130 {
        statuses.push(fetch(&local).await.0);
    }
    assert_eq!(statuses[0], StatusCode::OK);
    assert_eq!(statuses.last(), Some(&StatusCode::TOO_MANY_REQUESTS), "a flood from one address is limited");
}
