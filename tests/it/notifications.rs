//! Notifications (N1) on SQLite and PostgreSQL: the activity feed with its
//! unread count, mail through a real SMTP server (aiosmtpd) in the reader's
//! zone, types switched off, reminders, and settings that refuse nonsense.

use crate::support;

use std::time::Duration;

use jiff::{SignedDuration, Timestamp, ToSpan};
use officehours::domain::booking::RequestStatus;
use reqwest::StatusCode;
use serde_json::json;
use support::server::PASSWORD;
use support::smtp::SmtpServer;
use support::{TestServer, test_databases};

async fn smtp_server(db: &support::TestDatabase, smtp: &SmtpServer) -> TestServer {
    let port = smtp.port;
    TestServer::start_with(db, |c| {
        c.smtp_url = Some(format!("smtp://127.0.0.1:{port}"));
        c.job_interval_secs = 1;
    })
    .await
}

/// A block today-or-later in UTC that starts `minutes` from now (rounded up
/// to the next minute), with automatic approval off or on.
fn block_in(server: &TestServer, minutes: i64, auto: bool) -> serde_json::Value {
    let start = server.now().checked_add(SignedDuration::from_mins(minutes + 1)).unwrap();
    let start = start.to_zoned(jiff::tz::TimeZone::UTC).round(jiff::Unit::Minute).unwrap();
    let end = start.checked_add(10.minutes()).unwrap();
    json!({
        "start": start.strftime("%Y-%m-%dT%H:%M").to_string(),
        "end": end.strftime("%Y-%m-%dT%H:%M").to_string(),
        "timezone": "UTC",
        "min_notice_minutes": 0,
        "approval_required": !auto,
    })
}

#[tokio::test]
async fn requests_decisions_and_cancellations_notify_the_other_side_by_feed_and_mail() {
    let Some(smtp) = SmtpServer::start() else { return };
    for db in test_databases().await {
        let server = smtp_server(&db, &smtp).await;
        let advisor = server.create_advisor(&format!("ada{}", db.backend)).await;
        let learner = server.create_user(&format!("bob{}", db.backend), false).await;
        // Bob reads times in New York, Ada in Berlin (the test accounts' default).
        server.app.update_profile(&learner, "Bob", "", "America/New_York").await.unwrap();
        let ada = server.api_as(&advisor).await;
        let bob = server.api_as(&learner).await;

        let date = server.day(3);
        let (status, created) = ada
            .post(
                "/api/v1/blocks",
                json!({"start": format!("{date}T15:00"), "end": format!("{date}T15:10"), "timezone": "UTC"}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{created}");
        let slot = created["slots"][0]["id"].as_i64().unwrap();
        let (status, request) = bob.post(&format!("/api/v1/slots/{slot}/requests"), json!({"note": "lifetimes"})).await;
        assert_eq!(status, StatusCode::CREATED, "{request}");
        let request_id = request["id"].as_i64().unwrap();

        // Ada: in the feed at once, unread, and by mail in her zone.
        let (_, feed) = ada.get("/api/v1/me/notifications").await;
        assert_eq!(feed["unread"], 1, "{feed}");
        assert_eq!(feed["notifications"][0]["kind"], "request_received");
        assert_eq!(feed["notifications"][0]["request_id"], request_id);
        let berlin = officehours::domain::time_zone::format_range(
            created["slots"][0]["start"].as_str().unwrap().parse::<Timestamp>().unwrap().as_millisecond(),
            created["slots"][0]["end"].as_str().unwrap().parse::<Timestamp>().unwrap().as_millisecond(),
            "Europe/Berlin",
        );
        assert!(berlin.contains("16:00") && berlin.contains("CET"), "{berlin}");
        let mail = smtp.wait_for(&advisor.email, "asks for a session").await;
        assert!(mail.contains(&berlin), "the time in the reader's zone with its abbreviation:\n{mail}");
        assert!(mail.contains("Note: lifetimes") && mail.contains(&format!("/requests/{request_id}")), "{mail}");
        let (_, bob_feed) = bob.get("/api/v1/me/notifications").await;
        assert_eq!(bob_feed["unread"], 0, "nobody is told about their own action");

        // The unread count shows in the navigation, and reading clears it.
        let mut browser = server.browser();
        browser.log_in(&advisor.username, PASSWORD).await;
        let page = browser.page("/notifications").await;
        assert!(page.contains("aria-label=\"1 unread\""), "{page}");
        assert!(page.contains("asks for a session"));
        let reply = browser.post("/notifications/read", &[]).await;
        assert_eq!(reply.status, StatusCode::SEE_OTHER);
        assert!(!browser.page("/notifications").await.contains("unread\""));

        // Approval → Bob, in New York time.
        let (status, _) = ada.post(&format!("/api/v1/requests/{request_id}/approve"), json!({"note": "see you"})).await;
        assert_eq!(status, StatusCode::OK);
        let mail = smtp.wait_for(&learner.email, "is confirmed").await;
        assert!(mail.contains("10:00") && mail.contains("EST"), "Bob reads New York time:\n{mail}");
        let (_, bob_feed) = bob.get("/api/v1/me/notifications").await;
        assert_eq!(bob_feed["notifications"][0]["kind"], "request_approved");

        // Bob switches cancellation mails off: the feed still shows it, no mail comes.
        let all = ["request_received", "request_approved", "request_declined", "reminder", "message", "no_show"];
        let (status, saved) = bob
            .call(
                reqwest::Method::PUT,
                "/api/v1/me/notification-settings",
                Some(json!({"mail": all, "reminder_minutes": 30})),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{saved}");
        assert_eq!(saved["reminder_minutes"], 30);
        assert!(!saved["mail"].as_array().unwrap().iter().any(|k| k == "request_cancelled"));
        let (status, _) = ada.post(&format!("/api/v1/requests/{request_id}/cancel"), json!({"note": "sick"})).await;
        assert_eq!(status, StatusCode::OK);
        let (_, bob_feed) = bob.get("/api/v1/me/notifications").await;
        assert_eq!(bob_feed["notifications"][0]["kind"], "request_cancelled");
        assert!(bob_feed["notifications"][0]["text"].as_str().unwrap().contains("cancelled"));
        server.node.run_jobs_once().await;
        assert_eq!(server.store.unsent_mail().await.unwrap(), 0, "the outbox is empty: everything due was sent");
        assert!(
            !smtp
                .messages()
                .iter()
                .any(|m| m.contains(&format!("To: {}", learner.email)) && m.contains("cancelled the session")),
            "switched off"
        );
    }
}

#[tokio::test]
async fn reminders_go_out_once_at_the_chosen_time() {
    let Some(smtp) = SmtpServer::start() else { return };
    for db in test_databases().await {
        let server = smtp_server(&db, &smtp).await;
        let advisor = server.create_advisor(&format!("rhea{}", db.backend)).await;
        let learner = server.create_user(&format!("sam{}", db.backend), false).await;
        let ada = server.api_as(&advisor).await;
        let bob = server.api_as(&learner).await;
        // The session starts in about 20 minutes: the default 15-minute reminder is not due yet.
        let (status, created) = ada.post("/api/v1/blocks", block_in(&server, 20, true)).await;
        assert_eq!(status, StatusCode::CREATED, "{created}");
        let slot = created["slots"][0]["id"].as_i64().unwrap();
        let (status, request) = bob.post(&format!("/api/v1/slots/{slot}/requests"), json!({})).await;
        assert_eq!((status, request["status"].as_str()), (StatusCode::CREATED, Some("approved")));
        assert_eq!(server.app.send_due_reminders().await.unwrap(), 0);
        // Sam wants it 60 minutes before: due now. Rhea keeps the default: not yet.
        let (status, _) = bob
            .call(
                reqwest::Method::PUT,
                "/api/v1/me/notification-settings",
                Some(json!({"mail": ["reminder"], "reminder_minutes": 60})),
            )
            .await;
        assert_eq!(status, StatusCode::OK);
        let mail = smtp.wait_for(&learner.email, "Reminder: session with").await;
        assert!(mail.contains(&format!("@{}", advisor.username)), "{mail}");
        assert_eq!(server.app.send_due_reminders().await.unwrap(), 0, "once only");
        let (_, feed) = bob.get("/api/v1/me/notifications").await;
        let reminders = feed["notifications"].as_array().unwrap().iter().filter(|n| n["kind"] == "reminder").count();
        assert_eq!(reminders, 1);
        let (_, feed) = ada.get("/api/v1/me/notifications").await;
        assert!(!feed["notifications"].as_array().unwrap().iter().any(|n| n["kind"] == "reminder"));
    }
}

#[tokio::test]
async fn notification_settings_refuse_unknown_types_fields_and_ranges() {
    for db in test_databases().await {
        let server = TestServer::start(&db).await;
        let user = server.create_user("ida", false).await;
        let api = server.api_as(&user).await;
        let (status, defaults) = api.get("/api/v1/me/notification-settings").await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(defaults["mail"].as_array().unwrap().len(), 7, "everything on by default");
        assert_eq!(defaults["reminder_minutes"], serde_json::Value::Null, "the instance default");
        let put = |body| api.call(reqwest::Method::PUT, "/api/v1/me/notification-settings", Some(body));
        let (status, body) = put(json!({"mail": ["spam"], "reminder_minutes": null})).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some("unknown_notification_type"))
        );
        let (status, _) = put(json!({"mail": [], "reminder_minutes": null, "sms": true})).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "unknown settings are refused");
        let (status, body) = put(json!({"mail": [], "reminder_minutes": 5000})).await;
        assert_eq!((status, body["error"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("out_of_range")));
        let (_, after) = api.get("/api/v1/me/notification-settings").await;
        assert_eq!(after, defaults, "nothing changed");
        // The web form too.
        let mut browser = server.browser();
        browser.log_in("ida", PASSWORD).await;
        let reply = browser.post("/settings/notifications", &[("mail", "bogus"), ("reminder_minutes", "")]).await;
        assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(reply.body.contains("no notification type"), "{}", reply.body);
        let reply = browser.post("/settings/notifications", &[("mail", "message"), ("reminder_minutes", "0")]).await;
        assert_eq!(reply.status, StatusCode::SEE_OTHER);
        let (_, saved) = api.get("/api/v1/me/notification-settings").await;
        assert_eq!(saved, json!({"mail": ["message"], "reminder_minutes": 0}));
    }
}

#[tokio::test]
async fn events_left_by_a_crash_are_applied_once_and_mail_waits_for_the_server() {
    let port = support::free_port();
    for db in test_databases().await {
        // The mail server is down at first.
        let server = TestServer::start_with(&db, |c| c.smtp_url = Some(format!("smtp://127.0.0.1:{port}"))).await;
        let advisor = server.create_advisor("ada").await;
        let learner = server.create_user("bob", false).await;
        // A request written as a crash would leave it: the change committed, its effects not.
        let start = server.now() + SignedDuration::from_hours(30);
        let earlier = server.session_at(&advisor, &learner, start, RequestStatus::Approved).await;
        let slot: i64 = server.store.request(earlier).await.unwrap().slot_id;
        server.execute(&format!("UPDATE requests SET status = 'cancelled' WHERE id = {earlier}")).await;
        let request = server
            .store
            .create_request(
                slot,
                learner.id,
                (0, 1),
                |_| Ok::<_, ()>(RequestStatus::Requested),
                officehours::storage::RequestText { note: "left behind", answers: "{}", origin: None },
                server.clock.now_ms(),
            )
            .await
            .unwrap()
            .unwrap();
        let ada = server.api_as(&advisor).await;
        let count = |feed: serde_json::Value| {
            feed["notifications"].as_array().unwrap().iter().filter(|n| n["request_id"] == request.id).count()
        };
        // Nothing applied it inline; the background pass does (the job loop
        // may already have run: either way, exactly once).
        server.node.run_jobs_once().await;
        server.node.run_jobs_once().await;
        assert_eq!(count(ada.get("/api/v1/me/notifications").await.1), 1, "applied once by the background job");

        // Its mail failed (nothing listens) and waits for a retry.
        assert!(server.store.unsent_mail().await.unwrap() >= 1);
        let Some(smtp) = SmtpServer::start_on(port) else { return };
        // Let the retry delay pass (the background loop may be mid-attempt,
        // so repeat until the mail is through).
        for _ in 0..50 {
            server.advance(SignedDuration::from_mins(10));
            server.node.run_jobs_once().await;
            if server.store.unsent_mail().await.unwrap() == 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let mail = smtp.wait_for(&advisor.email, "asks for a session").await;
        assert!(mail.contains("left behind"), "{mail}");
        assert_eq!(server.store.unsent_mail().await.unwrap(), 0);
        drop(smtp);
    }
}
