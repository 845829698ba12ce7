//! Booking across instances, end to end between real processes: a learner
//! on beta (PostgreSQL) follows an advisor on alpha (SQLite); the block the
//! advisor publishes appears on beta as slots; the learner's request goes
//! out as a `Join`; the advisor approves, declines, and the learner
//! withdraws — each answer reaching the other side once.

use federation_tests::api::{get, post, until};
use federation_tests::{Cluster, Instance, InstanceSpec};
use serde_json::{Value, json};

/// The session on `slot_id` in `me/sessions`, once its status is `status`.
async fn session_state(instance: &Instance, token: &str, slot_id: i64, status: &str, what: &str) -> Value {
    until(what, || async move {
        let sessions = get(instance, token, "/api/v1/me/sessions").await;
        sessions.as_array().unwrap().iter().find(|s| s["slot_id"] == slot_id && s["status"] == status).cloned()
    })
    .await
}

/// The calendar feed at `url` (served by `instance`), as text.
async fn feed_text(instance: &Instance, url: &str) -> String {
    let response = instance.client().get(url).send().await.unwrap();
    assert_eq!(response.status(), 200, "{url}");
    response.text().await.unwrap()
}

#[tokio::test]
async fn a_learner_on_beta_books_an_advisor_on_alpha() {
    if federation_tests::skip_without_postgres() {
        return;
    }
    let cluster =
        Cluster::start([InstanceSpec::new("alpha"), InstanceSpec::new("beta").postgres()]).await.expect("cluster");
    let (alpha, beta) = (&cluster["alpha"], &cluster["beta"]);
    let ada = {
        alpha.create_advisor("ada");
        alpha.api_token("ada")
    };
    let bea = {
        beta.create_advisor("bea");
        beta.api_token("bea")
    };
    let handle = format!("ada@{}", alpha.domain());

    let (status, _) = post(beta, &bea, "/api/v1/follows", json!({"handle": handle})).await;
    assert_eq!(status, 202);
    until("beta's follow accepted", || async {
        let follows = get(beta, &bea, "/api/v1/me/follows").await;
        (follows[0]["state"] == "accepted").then_some(follows)
    })
    .await;

    // Ada publishes a block tomorrow: six 10-minute slots.
    let day = (jiff::Timestamp::now() + jiff::SignedDuration::from_hours(48)).to_zoned(jiff::tz::TimeZone::UTC).date();
    let block = json!({
        "start": format!("{day}T10:00"), "end": format!("{day}T11:00"), "timezone": "Europe/Berlin",
        "min_notice_minutes": 0, "approval_required": true, "max_per_learner_week": 10,
    });
    let (status, created) = post(alpha, &ada, "/api/v1/blocks", block).await;
    assert_eq!(status, 201, "{created}");

    // The Event reaches beta; its slots are listed there with beta's ids.
    let slots_path = format!("/api/v1/advisors/{handle}/slots");
    let slots = until("the published slots on beta", || async {
        let slots = get(beta, &bea, &slots_path).await;
        (slots.as_array().unwrap().len() == 6).then_some(slots)
    })
    .await;
    assert!(slots.as_array().unwrap().iter().all(|s| s["status"] == "open"), "{slots}");
    let slot = |i: usize| slots[i]["id"].as_i64().unwrap();
    // 10:00 in Berlin, whatever the season, as UTC.
    let ten_in_berlin = day.at(10, 0, 0, 0).in_tz("Europe/Berlin").unwrap().timestamp();
    assert_eq!(slots[0]["start"], ten_in_berlin.to_string(), "{slots}");

    // A request on beta is a Join on alpha, pending there.
    let (status, request) =
        post(beta, &bea, &format!("/api/v1/slots/{}/requests", slot(0)), json!({"note": "About Rust"})).await;
    assert_eq!(status, 201, "{request}");
    assert_eq!(request["status"], "requested");
    let learner = format!("bea@{}", beta.domain());
    let pending = until("the Join on alpha", || async {
        let sessions = get(alpha, &ada, "/api/v1/me/sessions").await;
        sessions.as_array().unwrap().iter().find(|s| s["learner"] == learner.as_str()).cloned()
    })
    .await;
    assert_eq!(pending["status"], "requested");
    assert_eq!(pending["note"], "About Rust");

    // Bea's calendar feed on beta shows the request as tentative (blue).
    let feed = get(beta, &bea, "/api/v1/me/calendar-feed").await["url"].as_str().unwrap().to_string();
    let calendar = feed_text(beta, &feed).await;
    assert!(calendar.contains("STATUS:TENTATIVE") && !calendar.contains("STATUS:CONFIRMED"), "{calendar}");

    // Approval on alpha turns the session green on beta.
    let alpha_request = pending["request_id"].as_i64().unwrap();
    let (status, _) =
        post(alpha, &ada, &format!("/api/v1/requests/{alpha_request}/approve"), json!({"note": "See you"})).await;
    assert_eq!(status, 200);
    let approved = session_state(beta, &bea, slot(0), "approved", "approval on beta").await;
    assert_eq!(approved["advisor"], handle.to_lowercase());
    let calendar = feed_text(beta, &feed).await;
    assert!(calendar.contains("STATUS:CONFIRMED") && !calendar.contains("STATUS:TENTATIVE"), "{calendar}");

    // The direct message with Bea's room link lands in her conversation with
    // Ada on beta, and the link opens the session on alpha with no account.
    let ada_here = format!("ada@{}", alpha.domain()).to_lowercase();
    let conversation = until("the direct message with the room link on beta", || async {
        let list = get(beta, &bea, "/api/v1/me/conversations").await;
        list.as_array().unwrap().iter().find(|c| c["with"] == ada_here.as_str()).cloned()
    })
    .await;
    let thread = get(beta, &bea, &format!("/api/v1/conversations/{ada_here}")).await;
    let messages = thread.as_array().unwrap();
    assert_eq!(messages.len(), 1, "one message, no request turned around: {thread} ({conversation})");
    let body = messages[0]["body"].as_str().unwrap();
    let room = body
        .split_whitespace()
        .map(|w| w.trim_end_matches(['.', ',', ')']))
        .find(|w| w.starts_with(&alpha.public_url()) && w.contains("/rooms/"))
        .unwrap_or_else(|| panic!("a room link on alpha in: {body}"));
    let page = alpha.client().get(room).send().await.unwrap();
    assert_eq!(page.status(), 200, "{room}");
    let html = page.text().await.unwrap();
    let text = html.to_lowercase();
    assert!(
        text.contains("ada") && text.contains("bea") && text.contains("the room opens at"),
        "the session's page: {html}"
    );
    let forged = alpha.client().get(format!("{}x", room)).send().await.unwrap();
    assert_eq!(forged.status(), 403, "a wrong token opens nothing");
    // The schedule for the countdown, and times in the reader's zone (the browser's, by cookie).
    let start = slots[0]["start"].as_str().unwrap();
    assert!(html.contains(&format!("data-starts=\"{start}\"")), "{html}");
    let in_new_york =
        alpha.client().get(room).header("cookie", "oh_tz=America/New_York").send().await.unwrap().text().await.unwrap();
    let there =
        ten_in_berlin.to_zoned(jiff::tz::TimeZone::get("America/New_York").unwrap()).strftime("%H:%M").to_string();
    assert!(in_new_york.contains(&there) && in_new_york.contains("America/New_York"), "{there}: {in_new_york}");
    let room = room.to_string();
    // Nothing went back the other way: Bea (an advisor on beta too) was not
    // sent a request for her own time, and Ada has no thread.
    assert!(get(alpha, &ada, "/api/v1/me/conversations").await.as_array().unwrap().is_empty());

    // The slot is taken for others now: the Update says so.
    until("the taken slot on beta", || async {
        let slots = get(beta, &bea, &slots_path).await;
        slots.as_array().unwrap().iter().find(|s| s["id"] == slot(0) && s["status"] == "booked").cloned()
    })
    .await;

    // Declined, with the reason.
    post(beta, &bea, &format!("/api/v1/slots/{}/requests", slot(1)), json!({"note": "Another one?"})).await;
    let second = until("the second Join on alpha", || async {
        let sessions = get(alpha, &ada, "/api/v1/me/sessions").await;
        sessions.as_array().unwrap().iter().find(|s| s["note"] == "Another one?").cloned()
    })
    .await;
    let id = second["request_id"].as_i64().unwrap();
    post(alpha, &ada, &format!("/api/v1/requests/{id}/decline"), json!({"note": "One is enough"})).await;
    let declined = session_state(beta, &bea, slot(1), "declined", "the decline on beta").await;
    assert_eq!(declined["decision_note"], "One is enough");
    // Bea's token for the first session opens nothing of the second.
    let other_room = room.replace(&format!("/rooms/{alpha_request}?"), &format!("/rooms/{id}?"));
    assert_ne!(other_room, room);
    assert_eq!(alpha.client().get(&other_room).send().await.unwrap().status(), 403, "{other_room}");

    // The learner withdraws a third request: cancelled on alpha.
    let (_, third) = post(beta, &bea, &format!("/api/v1/slots/{}/requests", slot(2)), json!({"note": "Third"})).await;
    let third_on_alpha = until("the third Join on alpha", || async {
        let sessions = get(alpha, &ada, "/api/v1/me/sessions").await;
        sessions.as_array().unwrap().iter().find(|s| s["note"] == "Third" && s["status"] == "requested").cloned()
    })
    .await;
    let (status, _) = post(beta, &bea, &format!("/api/v1/requests/{}/cancel", third["id"]), json!({})).await;
    assert_eq!(status, 200);
    let id = third_on_alpha["request_id"].clone();
    until("the withdrawal on alpha", || async {
        let sessions = get(alpha, &ada, "/api/v1/me/sessions").await;
        sessions.as_array().unwrap().iter().find(|s| s["request_id"] == id && s["status"] == "cancelled").cloned()
    })
    .await;

    // The advisor cancels the approved session: beta hears it.
    let (status, _) =
        post(alpha, &ada, &format!("/api/v1/requests/{alpha_request}/cancel"), json!({"note": "Ill"})).await;
    assert_eq!(status, 200);
    let cancelled = session_state(beta, &bea, slot(0), "cancelled", "the cancellation on beta").await;
    assert_eq!(cancelled["decision_note"], "Ill");

    // Nothing was applied twice: one request per slot on each side.
    let on_alpha = get(alpha, &ada, "/api/v1/me/sessions").await;
    assert_eq!(on_alpha.as_array().unwrap().len(), 3, "{on_alpha}");
    let on_beta = get(beta, &bea, "/api/v1/me/sessions").await;
    assert_eq!(on_beta.as_array().unwrap().len(), 3, "{on_beta}");
}
