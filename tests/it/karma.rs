//! Karma (K1) on SQLite and PostgreSQL: late cancellations, no-shows and
//! their windows, forgiveness, attendance, thresholds that block and unblock
//! requests and hide advisors, and the admin's rules.

use crate::support;

use jiff::{SignedDuration, Timestamp, ToSpan};
use officehours::domain::booking::RequestStatus;
use reqwest::StatusCode;
use serde_json::{Value, json};
use support::server::PASSWORD;
use support::{TestServer, test_databases};

fn ago(server: &TestServer, hours: i64) -> Timestamp {
    server.now().checked_sub(SignedDuration::from_hours(hours)).unwrap()
}

fn block_at(start: Timestamp) -> Value {
    let start = start.to_zoned(jiff::tz::TimeZone::UTC).round(jiff::Unit::Minute).unwrap();
    let end = start.checked_add(10.minutes()).unwrap();
    json!({
        "start": start.strftime("%Y-%m-%dT%H:%M").to_string(),
        "end": end.strftime("%Y-%m-%dT%H:%M").to_string(),
        "timezone": "UTC", "min_notice_minutes": 0, "approval_required": false,
        // Several sessions fall in one week whatever day the test runs on.
        "max_per_learner_week": 10,
    })
}

async fn score(api: &support::api::Api) -> i64 {
    api.get("/api/v1/me/karma").await.1["score"].as_i64().unwrap()
}

#[tokio::test]
async fn no_shows_cost_karma_block_requests_and_forgiveness_restores_them() {
    for db in test_databases().await {
        let server = TestServer::start(&db).await;
        let advisor = server.create_advisor("ada").await;
        let learner = server.create_user("bob", false).await;
        let ada = server.api_as(&advisor).await;
        let bob = server.api_as(&learner).await;
        assert_eq!(score(&bob).await, 0);

        // A late cancellation (30 minutes before) costs 2; an early one nothing.
        let soon = server.now().checked_add(SignedDuration::from_mins(31)).unwrap();
        let (_, created) = ada.post("/api/v1/blocks", block_at(soon)).await;
        let slot = created["slots"][0]["id"].as_i64().unwrap();
        let (status, req) = bob.post(&format!("/api/v1/slots/{slot}/requests"), json!({})).await;
        assert_eq!((status, req["status"].as_str()), (StatusCode::CREATED, Some("approved")), "[{}] {req}", db.backend);
        bob.post(&format!("/api/v1/requests/{}/cancel", req["id"]), json!({})).await;
        assert_eq!(score(&bob).await, -2);
        let later = server.now().checked_add(SignedDuration::from_hours(50)).unwrap();
        let (_, created) = ada.post("/api/v1/blocks", block_at(later)).await;
        let far_slot = created["slots"][0]["id"].as_i64().unwrap();
        let (_, req) = bob.post(&format!("/api/v1/slots/{far_slot}/requests"), json!({})).await;
        bob.post(&format!("/api/v1/requests/{}/cancel", req["id"]), json!({})).await;
        assert_eq!(score(&bob).await, -2, "cancelling days ahead is fine");

        // No-shows: only from the start until a day after the end, once, by the other party.
        let missed = server.session_at(&advisor, &learner, ago(&server, 1), RequestStatus::Approved).await;
        let future = server
            .session_at(&advisor, &learner, server.now() + SignedDuration::from_hours(5), RequestStatus::Approved)
            .await;
        let old = server.session_at(&advisor, &learner, ago(&server, 30), RequestStatus::Approved).await;
        // Its no-show window has closed: attendance counts (the background job may be first).
        server.app.settle_attendance().await.unwrap();
        assert_eq!((score(&bob).await, score(&ada).await), (-1, 1));
        let (status, body) = ada.post(&format!("/api/v1/requests/{future}/no-show"), json!({})).await;
        assert_eq!((status, body["error"].as_str()), (StatusCode::CONFLICT, Some("session_not_started")));
        let (status, body) = ada.post(&format!("/api/v1/requests/{old}/no-show"), json!({})).await;
        assert_eq!((status, body["error"].as_str()), (StatusCode::CONFLICT, Some("no_show_window_closed")));
        let stranger = server.create_user("eve", false).await;
        let (status, _) =
            server.api_as(&stranger).await.post(&format!("/api/v1/requests/{missed}/no-show"), json!({})).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let (status, _) =
            ada.post(&format!("/api/v1/requests/{missed}/no-show"), json!({"note": "waited 10 minutes"})).await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        let (status, body) = ada.post(&format!("/api/v1/requests/{missed}/no-show"), json!({})).await;
        assert_eq!((status, body["error"].as_str()), (StatusCode::CONFLICT, Some("no_show_recorded")));
        assert_eq!(score(&bob).await, -6);
        assert_eq!(score(&ada).await, 1);
        let (_, feed) = bob.get("/api/v1/me/notifications").await;
        assert_eq!(feed["notifications"][0]["kind"], "no_show");
        assert!(feed["notifications"][0]["text"].as_str().unwrap().contains("forgive"));

        // Below −5 Bob cannot request; the form and the API say why and how to recover.
        let (status, body) = bob.post(&format!("/api/v1/slots/{far_slot}/requests"), json!({})).await;
        assert_eq!((status, body["error"].as_str()), (StatusCode::FORBIDDEN, Some("karma_too_low")), "{body}");
        assert!(body["message"].as_str().unwrap().contains("forgive"));
        let mut browser = server.browser();
        browser.log_in("bob", PASSWORD).await;
        let form = browser.page(&format!("/slots/{far_slot}/request")).await;
        assert!(form.contains("Your karma is -6"), "{form}");
        let reply = browser.post(&format!("/slots/{far_slot}/request"), &[("note", "please")]).await;
        assert_eq!(reply.status, StatusCode::FORBIDDEN);
        assert!(reply.body.contains("forgive"));
        let (_, karma) = bob.get("/api/v1/me/karma").await;
        assert_eq!(karma["can_request"], false);
        let kinds: Vec<&str> =
            karma["history"].as_array().unwrap().iter().map(|e| e["kind"].as_str().unwrap()).collect();
        assert_eq!(kinds, ["no_show", "attended", "late_cancel"]);
        assert!(browser.page("/karma").await.contains("waited") || browser.page("/karma").await.contains("Missed"));

        // Only the one who recorded it forgives; then Bob can book again.
        let (status, body) = bob.post(&format!("/api/v1/requests/{missed}/forgive"), json!({})).await;
        assert_eq!((status, body["error"].as_str()), (StatusCode::CONFLICT, Some("no_no_show")));
        let (status, _) = ada.post(&format!("/api/v1/requests/{missed}/forgive"), json!({"note": "trains"})).await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        let (status, body) = ada.post(&format!("/api/v1/requests/{missed}/forgive"), json!({})).await;
        assert_eq!((status, body["error"].as_str()), (StatusCode::CONFLICT, Some("already_forgiven")));
        assert_eq!(score(&bob).await, -1);
        let (status, body) = bob.post(&format!("/api/v1/slots/{far_slot}/requests"), json!({})).await;
        assert_eq!(status, StatusCode::CREATED, "unblocked: {body}");

        // Once the window of the missed session (which ended within the
        // hour) closes — and before the future one's does: +1 for Ada,
        // nothing for the (forgiven) absentee.
        server.advance(officehours::domain::karma::NO_SHOW_WINDOW + SignedDuration::from_hours(1));
        server.app.settle_attendance().await.unwrap();
        assert_eq!(server.app.settle_attendance().await.unwrap(), 0, "once only");
        assert_eq!(score(&ada).await, 2, "present at both");
        assert_eq!(score(&bob).await, -1, "present at one");
    }
}

#[tokio::test]
async fn admins_set_the_rules_and_low_karma_hides_advisors() {
    for db in test_databases().await {
        let server = TestServer::start(&db).await;
        let admin = server.create_user("boss", true).await;
        let advisor = server.create_advisor("ada").await;
        let learner = server.create_user("bob", false).await;
        let bob = server.api_as(&learner).await;
        let anyone = support::api::Api::new(&server);
        let listed = |page: Value| page["advisors"].as_array().unwrap().iter().any(|a| a["username"] == "ada");
        assert!(listed(anyone.get("/api/v1/advisors").await.1));

        // Bob records that Ada missed a session: −5, still above the default −10.
        let missed = server.session_at(&advisor, &learner, ago(&server, 1), RequestStatus::Approved).await;
        bob.post(&format!("/api/v1/requests/{missed}/no-show"), json!({})).await;
        assert_eq!(score(&server.api_as(&advisor).await).await, -5);

        let mut browser = server.browser();
        browser.log_in(&admin.username, PASSWORD).await;
        let page = browser.page("/admin/karma").await;
        assert!(page.contains("name=\"directory_threshold\"") && page.contains("value=\"-10\""), "{page}");
        // A bad value: a clear error, nothing saved.
        let reply = browser.post("/admin/karma", &[("no_show", "7"), ("directory_threshold", "-1")]).await;
        assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(reply.body.contains("from -100 to 0"), "{}", reply.body);
        assert_eq!(server.app.karma_rules().await.unwrap().directory_threshold, -10);
        let reply = browser.post("/admin/karma", &[("directory_threshold", "-1"), ("attended", "2")]).await;
        assert_eq!(reply.status, StatusCode::SEE_OTHER);
        let rules = server.app.karma_rules().await.unwrap();
        assert_eq!((rules.directory_threshold, rules.attended, rules.no_show), (-1, 2, -5));
        assert!(!listed(anyone.get("/api/v1/advisors").await.1), "below the threshold: hidden");
        assert_eq!(anyone.get("/api/v1/advisors/ada").await.0, StatusCode::OK, "the profile itself stays");

        // Not an admin: refused.
        let mut other = server.browser();
        other.log_in("bob", PASSWORD).await;
        assert_eq!(other.post("/admin/karma", &[("attended", "9")]).await.status, StatusCode::FORBIDDEN);

        browser.post("/admin/karma", &[("directory_threshold", "-10")]).await;
        assert!(listed(anyone.get("/api/v1/advisors").await.1), "back in the directory");
    }
}
