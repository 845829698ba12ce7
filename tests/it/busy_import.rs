//! Busy times imported from the advisor's own calendar (S6), on SQLite and
//! PostgreSQL: a calendar served by a local HTTP server hides exactly the
//! slots its events overlap (also an occurrence of a weekly series), requests
//! for them are refused, every kind of bad calendar address is refused with
//! its own code without storing anything, a failed refresh keeps the old busy
//! times, and clearing the address shows the slots again.

use crate::support;

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode as HttpStatus;
use axum::http::header::CONTENT_TYPE;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;
use officehours::service::AppError;
use officehours::storage::User;
use reqwest::StatusCode;
use serde_json::{Value, json};
use support::{TestServer, test_databases};

/// `YYYYMMDD` for ICS.
fn ics_day(server: &TestServer, days: i64) -> String {
    server.day(days).replace('-', "")
}

fn calendar(events: &str) -> String {
    format!(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Google Inc//Google Calendar 70.9054//EN\r\n\
         X-WR-TIMEZONE:Europe/Berlin\r\n{events}END:VCALENDAR\r\n"
    )
}

/// A one-off busy event 14:15–14:35 UTC in three days, a weekly series that
/// started two weeks earlier at 14:50–15:05 UTC, and events that must not
/// count (cancelled, free).
fn busy_calendar(server: &TestServer) -> String {
    let (today, start) = (ics_day(server, 3), ics_day(server, 3 - 14));
    calendar(&format!(
        "BEGIN:VEVENT\r\nUID:dentist@example.org\r\nDTSTART:{today}T141500Z\r\nDTEND:{today}T143500Z\r\n\
         SUMMARY:Dentist\r\nEND:VEVENT\r\n\
         BEGIN:VEVENT\r\nUID:weekly@example.org\r\nDTSTART:{start}T145000Z\r\nDURATION:PT15M\r\n\
         RRULE:FREQ=WEEKLY;COUNT=10\r\nSUMMARY:Weekly call\r\nEND:VEVENT\r\n\
         BEGIN:VEVENT\r\nUID:cancelled@example.org\r\nDTSTART:{today}T140000Z\r\nDTEND:{today}T141000Z\r\n\
         STATUS:CANCELLED\r\nEND:VEVENT\r\n\
         BEGIN:VEVENT\r\nUID:free@example.org\r\nDTSTART:{today}T144000Z\r\nDTEND:{today}T145000Z\r\n\
         TRANSP:TRANSPARENT\r\nEND:VEVENT\r\n"
    ))
}

/// The calendar server: `/cal.ics` serves whatever the test puts in `ics`
/// (or 500 when `fail` is set); the other paths serve bad answers.
#[derive(Clone, Default)]
struct Feed {
    ics: Arc<Mutex<String>>,
    fail: Arc<AtomicBool>,
}

async fn cal(State(feed): State<Feed>) -> Response {
    if feed.fail.load(Ordering::SeqCst) {
        return (HttpStatus::INTERNAL_SERVER_ERROR, "down for maintenance").into_response();
    }
    let body = feed.ics.lock().unwrap().clone();
    ([(CONTENT_TYPE, "text/calendar; charset=utf-8")], body).into_response()
}

const THREE_MIB: usize = 3 * 1024 * 1024;

/// A calendar of 3 MiB, padded with long descriptions.
fn huge_calendar() -> String {
    let mut text = String::from("BEGIN:VCALENDAR\r\nVERSION:2.0\r\n");
    let line = format!("BEGIN:VEVENT\r\nUID:x\r\nDESCRIPTION:{}\r\nEND:VEVENT\r\n", "x".repeat(1000));
    while text.len() < THREE_MIB {
        text.push_str(&line);
    }
    text.push_str("END:VCALENDAR\r\n");
    text
}

async fn start_feed(feed: Feed) -> String {
    let app = Router::new()
        .route("/cal.ics", get(cal))
        .route("/huge.ics", get(|| async { ([(CONTENT_TYPE, "text/calendar")], huge_calendar()) }))
        .route(
            "/login",
            get(|| async {
                Html("<!DOCTYPE html><html><head><title>Sign in</title></head><body>Sign in</body></html>")
            }),
        )
        .route("/moved", get(|| async { Redirect::temporary("/cal.ics") }))
        .route("/r1", get(|| async { Redirect::temporary("/r2") }))
        .route("/r2", get(|| async { Redirect::temporary("/cal.ics") }))
        .with_state(feed);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}")
}

/// A server that sends 3 MiB of calendar without a Content-Length (ended by
/// closing the connection), so the limit must hold while streaming.
fn start_endless_feed() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr: SocketAddr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming().take(4) {
            let Ok(mut stream) = stream else { continue };
            let mut request = [0u8; 4096];
            let _ = stream.read(&mut request);
            let body = huge_calendar();
            let head = "HTTP/1.1 200 OK\r\nContent-Type: text/calendar\r\nConnection: close\r\n\r\n";
            // The client hangs up after 2 MiB; the write error is expected.
            let _ = stream.write_all(head.as_bytes()).and_then(|_| stream.write_all(body.as_bytes()));
        }
    });
    format!("http://{addr}")
}

fn block(date: &str) -> Value {
    json!({"start": format!("{date}T14:00"), "end": format!("{date}T15:00"), "timezone": "UTC"})
}

fn starts(slots: &Value) -> Vec<String> {
    slots.as_array().unwrap().iter().map(|s| s["start"].as_str().unwrap()[11..16].to_string()).collect()
}

fn code(err: &AppError) -> (&'static str, u16, Option<&'static str>) {
    let field = match err {
        AppError::Invalid(errors) => errors.first().map(|e| e.field),
        _ => None,
    };
    (err.code(), err.status(), field)
}

/// The advisor's calendar URL and busy intervals as stored.
async fn stored(server: &TestServer, advisor: &User) -> (Option<String>, Option<String>, Vec<(i64, i64)>) {
    let policy = server.store.advisor_policy(advisor.id).await.unwrap();
    let intervals = server.store.busy_intervals(advisor.id).await.unwrap();
    (policy.busy_ics_url, policy.busy_error, intervals)
}

#[tokio::test]
async fn busy_calendar_hides_overlapping_slots_and_bad_addresses_change_nothing() {
    for db in test_databases().await {
        let backend = db.backend;
        let server = TestServer::start_with(&db, |config| config.allow_private_fetches = true).await;
        let feed = Feed::default();
        *feed.ics.lock().unwrap() = busy_calendar(&server);
        let base = start_feed(feed.clone()).await;
        let advisor = server.create_advisor("ada").await;
        let learner = server.create_user("bob", false).await;
        let ada = server.api_as(&advisor).await;
        let bob = server.api_as(&learner).await;

        let (status, created) = ada.post("/api/v1/blocks", block(&server.day(3))).await;
        assert_eq!(status, StatusCode::CREATED, "[{backend}] {created}");
        let slot_ids: Vec<i64> =
            created["slots"].as_array().unwrap().iter().map(|s| s["id"].as_i64().unwrap()).collect();
        let (_, listed) = bob.get("/api/v1/advisors/ada/slots").await;
        assert_eq!(starts(&listed), ["14:00", "14:10", "14:20", "14:30", "14:40", "14:50"], "[{backend}]");

        // Connecting the calendar fetches it at once.
        let url = format!("{base}/cal.ics");
        let policy = server.app.set_busy_calendar(&advisor, Some(&url)).await.expect("calendar connects");
        assert_eq!(policy.busy_ics_url.as_deref(), Some(url.as_str()));
        assert!(policy.busy_checked_at.is_some());
        assert_eq!(policy.busy_error, None);
        let (_, listed) = bob.get("/api/v1/advisors/ada/slots").await;
        // 14:15–14:35 hides 14:10, 14:20 and 14:30; the weekly 14:50–15:05 hides 14:50.
        assert_eq!(starts(&listed), ["14:00", "14:40"], "[{backend}] {listed}");
        let (_, own) = ada.get("/api/v1/advisors/ada/slots").await;
        assert_eq!(own.as_array().unwrap().len(), 6, "[{backend}] the advisor still sees every slot");

        // Requests for hidden slots are refused; the others still work.
        for hidden in [slot_ids[1], slot_ids[5]] {
            let (status, body) =
                bob.post(&format!("/api/v1/slots/{hidden}/requests"), json!({"note": "Hi", "answers": {}})).await;
            assert_eq!((status, body["error"].as_str()), (StatusCode::CONFLICT, Some("slot_taken")), "[{backend}]");
        }
        let (status, body) =
            bob.post(&format!("/api/v1/slots/{}/requests", slot_ids[0]), json!({"note": "Hi", "answers": {}})).await;
        assert_eq!(status, StatusCode::CREATED, "[{backend}] {body}");

        // Every bad address is refused with its own code and changes nothing.
        let before = stored(&server, &advisor).await;
        let dead = format!("http://127.0.0.1:{}/cal.ics", support::free_port());
        let endless = start_endless_feed();
        for (bad, expected) in [
            (dead, "calendar_unreachable"),
            (format!("{base}/huge.ics"), "calendar_too_large"),
            (format!("{endless}/cal.ics"), "calendar_too_large"),
            (format!("{base}/login"), "not_a_calendar"),
            (format!("{base}/r1"), "calendar_unreachable"),
            (format!("{base}/missing.ics"), "calendar_unreachable"),
            // https to a server that speaks plain http: the TLS handshake fails.
            (format!("{}/cal.ics", base.replace("http:", "https:")), "calendar_unreachable"),
            ("ftp://example.org/cal.ics".to_string(), "invalid_url"),
            ("not a url".to_string(), "invalid_url"),
        ] {
            let err = server.app.set_busy_calendar(&advisor, Some(&bad)).await.expect_err(&bad);
            assert_eq!(code(&err), (expected, 422, Some("busy_ics_url")), "[{backend}] {bad}: {}", err.message());
            assert_eq!(stored(&server, &advisor).await, before, "[{backend}] {bad} changed nothing");
        }
        let err = server.app.set_busy_calendar(&advisor, Some(&format!("{base}/r1"))).await.unwrap_err();
        assert!(err.message().contains("redirects more than 1"), "{}", err.message());

        // One redirect is fine.
        let moved = format!("{base}/moved");
        let policy = server.app.set_busy_calendar(&advisor, Some(&moved)).await.expect("one redirect");
        assert_eq!(policy.busy_ics_url.as_deref(), Some(moved.as_str()));
        assert_eq!(stored(&server, &advisor).await.2, before.2, "[{backend}] the same calendar, the same busy times");

        // A refresh picks up changes; a failed one keeps the old busy times.
        *feed.ics.lock().unwrap() = calendar("");
        let summary = server.app.refresh_busy_calendars().await.unwrap();
        assert_eq!((summary.refreshed, summary.failed), (1, 0));
        let (_, listed) = bob.get("/api/v1/advisors/ada/slots").await;
        assert_eq!(starts(&listed), ["14:00", "14:10", "14:20", "14:30", "14:40", "14:50"], "[{backend}]");
        *feed.ics.lock().unwrap() = busy_calendar(&server);
        server.app.refresh_busy_calendars().await.unwrap();
        let refreshed = stored(&server, &advisor).await;
        assert_eq!(refreshed.2, before.2, "[{backend}]");
        feed.fail.store(true, Ordering::SeqCst);
        let summary = server.app.refresh_busy_calendars().await.unwrap();
        assert_eq!((summary.refreshed, summary.failed), (0, 1));
        let (url_after, error, intervals) = stored(&server, &advisor).await;
        assert_eq!((url_after.as_deref(), intervals), (Some(moved.as_str()), before.2.clone()), "[{backend}]");
        assert!(error.as_deref().is_some_and(|e| e.contains("500")), "[{backend}] {error:?}");
        let (_, listed) = bob.get("/api/v1/advisors/ada/slots").await;
        assert_eq!(starts(&listed), ["14:00", "14:40"], "[{backend}] old busy times stay");

        // Clearing the address removes the busy times.
        let policy = server.app.set_busy_calendar(&advisor, None).await.unwrap();
        assert_eq!((policy.busy_ics_url, policy.busy_error), (None, None));
        assert_eq!(server.store.busy_intervals(advisor.id).await.unwrap(), []);
        let (_, listed) = bob.get("/api/v1/advisors/ada/slots").await;
        assert_eq!(starts(&listed), ["14:00", "14:10", "14:20", "14:30", "14:40", "14:50"], "[{backend}]");
        assert_eq!(server.app.refresh_busy_calendars().await.unwrap(), Default::default());
    }
}

#[tokio::test]
async fn loopback_and_private_addresses_are_refused_by_default() {
    for db in test_databases().await {
        let backend = db.backend;
        let server = TestServer::start(&db).await;
        assert!(!server.app.config.allow_private_fetches);
        let feed = Feed::default();
        *feed.ics.lock().unwrap() = busy_calendar(&server);
        let base = start_feed(feed).await;
        let port = base.rsplit(':').next().unwrap();
        let advisor = server.create_advisor("ada").await;
        for url in [
            format!("{base}/cal.ics"),
            format!("http://localhost:{port}/cal.ics"),
            format!("http://[::1]:{port}/cal.ics"),
            "http://169.254.169.254/latest/meta-data/".to_string(),
            "http://10.0.0.1/cal.ics".to_string(),
        ] {
            let err = server.app.set_busy_calendar(&advisor, Some(&url)).await.expect_err(&url);
            assert_eq!(code(&err), ("private_address", 422, Some("busy_ics_url")), "[{backend}] {url}");
            assert_eq!(stored(&server, &advisor).await, (None, None, vec![]), "[{backend}] {url}");
        }
        // People without an advisor profile cannot connect a calendar.
        let learner = server.create_user("bob", false).await;
        let err = server.app.set_busy_calendar(&learner, Some(&format!("{base}/cal.ics"))).await.unwrap_err();
        assert_eq!(err.code(), "not_an_advisor");
        let policy = server.app.set_busy_calendar(&learner, Some("")).await.expect("clearing is always allowed");
        assert_eq!(policy, officehours::storage::AdvisorPolicy::defaults(learner.id), "[{backend}] no policy row made");
    }
}
