//! Officehours against a second independent ActivityPub implementation:
//! a peer built on Fedify (npm `@fedify/fedify`, see
//! `peers/fedify_peer.mjs`). Fedify compacts what it sends as JSON-LD (a
//! one-element list is written as a single value: `"tag": {…}`, `"to":
//! "…"`), signs with RFC 9421 first and falls back to draft-cavage after a
//! refusal (double-knocking), and verifies and reads what we send with its
//! own code and vocabulary. Every step is checked through the peer's own
//! state (what Fedify received, verified and parsed; each knock it made)
//! and through our API.

use std::time::{Duration, Instant};

use federation_tests::api::{followers, get, post};
use federation_tests::{Cluster, Instance, InstanceSpec, PythonPeer};
use serde_json::{Value, json};

/// Waits (up to 30 s) until `user` on `alpha` has `count` followers.
async fn until_followers(alpha: &Instance, user: &str, count: i64) {
    let started = Instant::now();
    loop {
        let now = followers(alpha, user).await;
        if now == count {
            return;
        }
        assert!(started.elapsed() < Duration::from_secs(30), "{user} has {now} followers, not {count}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Ada opens a one-hour block the day after tomorrow, 14:00–15:00 UTC
/// (approval required), and waits until it is published; returns the day.
async fn publish_block(alpha: &Instance, token: &str) -> jiff::civil::Date {
    let day = (jiff::Timestamp::now() + jiff::SignedDuration::from_hours(48)).to_zoned(jiff::tz::TimeZone::UTC).date();
    let (status, body) = post(
        alpha,
        token,
        "/api/v1/blocks",
        json!({"start": format!("{day}T14:00"), "end": format!("{day}T15:00"), "timezone": "UTC",
               "min_notice_minutes": 0, "approval_required": true}),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let events = alpha.url("/users/ada/events");
    let started = Instant::now();
    loop {
        let response = alpha.client().get(&events).header("Accept", "application/activity+json").send().await;
        let collection: Value = response.unwrap().json().await.unwrap();
        if collection["totalItems"] == 1 {
            return day;
        }
        assert!(started.elapsed() < Duration::from_secs(30), "never published: {collection}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The peer follows Ada; checks Fedify's knocks and that alpha took it.
async fn follow(alpha: &Instance, peer: &PythonPeer, ada: &str) -> Value {
    let follow = peer.follow(ada).await;
    assert_eq!(follow["status"], 202, "alpha refused Fedify's Follow: {follow:#}");
    assert_eq!(follow["inbox"], alpha.url("/users/ada/inbox"));
    // Fedify's first knock at a server it does not know is RFC 9421.
    assert_eq!(follow["attempts"][0]["spec"], "rfc9421", "{follow:#}");
    until_followers(alpha, "ada", 1).await;
    follow
}

/// The entry of the peer's inbox whose activity is a `Create` of an `Event`.
async fn wait_for_event(peer: &PythonPeer) -> Value {
    peer.wait_for("the Create(Event)", Duration::from_secs(30), |e| {
        e["activity"]["type"] == "Create" && e["activity"]["object"]["type"] == "Event"
    })
    .await
}

#[tokio::test]
async fn a_fedify_peer_follows_an_advisor_verifies_the_accept_and_reads_the_event() {
    if federation_tests::skip_without_node_package("@fedify/fedify") || federation_tests::skip_without_postgres() {
        return;
    }
    let cluster = Cluster::builder()
        .instance(InstanceSpec::new("alpha").postgres())
        .node_peer("fedify")
        .start()
        .await
        .expect("cluster");
    let (alpha, peer) = (&cluster["alpha"], cluster.peer("fedify"));
    alpha.create_advisor("ada");
    let ada = alpha.url("/users/ada");
    let token = alpha.api_token("ada");
    publish_block(alpha, &token).await;

    // Fedify follows Ada, signed with RFC 9421, taken on the first knock.
    let follow = follow(alpha, peer, &ada).await;
    assert_eq!(follow["attempts"].as_array().unwrap().len(), 1, "one knock: {follow:#}");
    assert_eq!(follow["attempts"][0]["status"], 202, "{follow:#}");
    // What Fedify sent is compacted JSON-LD: the Follow's object is a
    // plain id, its context Fedify's own.
    assert_eq!(follow["activity"]["object"], ada.as_str(), "{follow:#}");

    // Our signed Accept: Fedify verified the signature (its inbox listener
    // ran and named Ada as the key's owner) and read the embedded Follow.
    // Alpha signed it with RFC 9421, which Fedify verified: no fallback.
    let accept = peer.wait_for_activity("Accept").await;
    assert_eq!(accept["verified"], true, "Fedify could not verify alpha's Accept: {accept:#}");
    assert_eq!(accept["spec"], "rfc9421", "{accept:#}");
    assert_eq!(accept["signer"], ada.as_str(), "{accept:#}");
    assert_eq!(accept["parsed"]["type"], "Accept");
    assert_eq!(accept["parsed"]["object"]["type"], "Follow", "{accept:#}");
    assert_eq!(accept["parsed"]["object"]["id"], follow["id"], "the Accept names Fedify's Follow: {accept:#}");

    // The live event, as Fedify's vocabulary reads it: an Event by Ada,
    // with its name and the plain-text-friendly summary.
    let create = wait_for_event(peer).await;
    assert_eq!(create["verified"], true, "{create:#}");
    assert_eq!(create["signer"], ada.as_str());
    let event = &create["parsed"]["object"];
    assert_eq!(event["type"], "Event", "{create:#}");
    assert_eq!(event["id"], create["activity"]["object"]["id"]);
    assert_eq!(event["name"], "Office hours with ada", "{event:#}");
    let summary = event["summary"].as_str().unwrap_or_default();
    assert!(summary.contains("14:00–15:00 UTC") && summary.contains("Reply to this post"), "{event:#}");
    assert!(event["to"].as_array().unwrap().iter().any(|t| t == "https://www.w3.org/ns/activitystreams#Public"));

    // Everything alpha sent verified, all of it RFC 9421, and nothing else
    // arrived; alpha remembers that Fedify's instance takes RFC 9421.
    for entry in peer.received().await {
        assert_eq!(entry["verified"], true, "Fedify could not verify: {entry:#}");
        assert_eq!(entry["spec"], "rfc9421", "{entry:#}");
    }
    alpha.create_admin("boss");
    let actor = peer.actor_id();
    let domain = actor.trim_start_matches("http://").split('/').next().unwrap();
    let health = federation_tests::api::instance_health(alpha, &alpha.api_token("boss"), domain).await;
    assert_eq!(health["signatures"], "rfc9421", "{health}");
}

/// The HTML content of the Note inside a received `Create`.
fn note_content(entry: &Value) -> String {
    entry["activity"]["object"]["content"].as_str().unwrap_or_default().to_string()
}

// Fedify compacts one-element lists (`"tag": {…}`) and signs with RFC 9421
// first: both are read here.
#[tokio::test]
async fn a_fedify_follower_requests_a_session_by_reply_and_gets_direct_messages() {
    if federation_tests::skip_without_node_package("@fedify/fedify") {
        return;
    }
    let cluster =
        Cluster::builder().instance(InstanceSpec::new("alpha")).node_peer("fedify").start().await.expect("cluster");
    let (alpha, peer) = (&cluster["alpha"], cluster.peer("fedify"));
    alpha.create_advisor("ada");
    let ada = alpha.url("/users/ada");
    let token = alpha.api_token("ada");
    let day = publish_block(alpha, &token).await;

    // RFC 9421 is taken on the first knock: no fallback needed.
    let follow = follow(alpha, peer, &ada).await;
    assert_eq!(follow["attempts"].as_array().unwrap().len(), 1, "one knock: {follow:#}");
    assert_eq!(follow["attempts"][0]["status"], 202, "{follow:#}");
    let create = wait_for_event(peer).await;
    assert_eq!(create["verified"], true, "{create:#}");
    let event_id = create["parsed"]["object"]["id"].as_str().unwrap().to_string();

    // Fedify's reply, as Fedify writes it: one Mention compacted to a
    // single object, one recipient to a single string.
    let reply = peer.reply(&event_id, &[&ada], "<p>@ada 14:20 please, about Rust</p>").await;
    let note = &reply["activity"]["object"];
    assert!(note["tag"].is_object(), "Fedify compacts a one-element tag list: {reply:#}");
    assert_eq!(note["tag"]["type"], "Mention");
    assert_eq!(note["inReplyTo"], event_id.as_str());
    assert_eq!(reply["status"], 202, "alpha refused Fedify's reply: {reply:#}");
    for knock in reply["attempts"].as_array().unwrap() {
        assert_eq!(knock["spec"], "rfc9421", "Fedify kept to RFC 9421, which worked: {reply:#}");
    }

    // The acknowledgement: a direct message to the Fedify user alone, with
    // a Mention of them, as Fedify's vocabulary reads it.
    let ack =
        peer.wait_for("the acknowledgement", Duration::from_secs(30), |e| note_content(e).contains("Received")).await;
    assert_eq!(ack["verified"], true, "{ack:#}");
    assert_eq!(ack["signer"], ada.as_str());
    let dm = &ack["parsed"]["object"];
    assert_eq!(dm["type"], "Note", "{ack:#}");
    assert_eq!(dm["to"], json!([peer.actor_id()]), "a direct message to the Fedify user alone: {ack:#}");
    assert_eq!(dm["cc"], json!([]));
    assert_eq!(dm["tags"][0]["type"], "Mention", "{ack:#}");
    assert_eq!(dm["tags"][0]["href"], peer.actor_id().as_str());
    assert_eq!(dm["inReplyTo"], reply["object_id"], "the ack answers the reply: {ack:#}");

    // Ada sees the pending request for the slot the reply named.
    let sessions = get(alpha, &token, "/api/v1/me/sessions").await;
    let session = &sessions[0];
    assert_eq!(session["status"], "requested", "{sessions}");
    assert_eq!(session["start"], format!("{day}T14:20:00Z"), "the slot the reply named: {sessions}");
    assert_eq!(session["note"], "14:20 please, about Rust");

    // Approval: a direct message with a room link that opens the session
    // page without an account.
    let id = session["request_id"].as_i64().unwrap();
    let (status, body) = post(alpha, &token, &format!("/api/v1/requests/{id}/approve"), json!({})).await;
    assert_eq!(status, 200, "{body}");
    let confirmed =
        peer.wait_for("the confirmation", Duration::from_secs(30), |e| note_content(e).contains("is confirmed")).await;
    assert_eq!(confirmed["verified"], true, "{confirmed:#}");
    assert_eq!(confirmed["parsed"]["object"]["to"], json!([peer.actor_id()]));
    let content = confirmed["parsed"]["object"]["content"].as_str().unwrap().to_string();
    let start = content.find(&alpha.url("/rooms/")).expect("a room link");
    let link: String = content[start..].chars().take_while(|c| *c != '"' && *c != '<').collect();
    let link = link.replace("&amp;", "&");
    let page = alpha.client().get(&link).send().await.unwrap();
    assert_eq!(page.status().as_u16(), 200, "{link}");
    let html = page.text().await.unwrap();
    let room_told = html.contains("The room opens at") || html.contains("The room is open");
    assert!(html.contains("Session with") && room_told, "{html}");
}
