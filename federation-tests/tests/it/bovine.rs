//! Officehours against an independent ActivityPub implementation: a peer
//! built on `bovine` (PyPI) follows an advisor; alpha verifies bovine's
//! signature and answers with a signed `Accept`, which bovine verifies with
//! its own code. A request signed with the wrong key is refused and changes
//! nothing. bovine reads draft-cavage signatures only: alpha's first
//! delivery knocks with RFC 9421, is refused with 401, goes again at once
//! with draft-cavage, and alpha remembers that for bovine's instance.

use std::time::{Duration, Instant};

use federation_tests::api::{followers, instance_health};
use federation_tests::{Cluster, Instance, InstanceSpec};
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

/// The id of an activity's object, embedded or not.
fn object_id(activity: &Value) -> &Value {
    match &activity["object"] {
        Value::Object(object) => &object["id"],
        other => other,
    }
}

#[tokio::test]
async fn a_bovine_peer_follows_an_advisor_and_verifies_the_accept() {
    if federation_tests::skip_without_python_module("bovine") {
        return;
    }
    let cluster =
        Cluster::builder().instance(InstanceSpec::new("alpha")).python_peer("bovine").start().await.expect("cluster");
    let (alpha, peer) = (&cluster["alpha"], cluster.peer("bovine"));
    alpha.create_advisor("ada");
    alpha.create_advisor("abe");
    let ada = alpha.url("/users/ada");

    // bovine follows Ada: alpha verifies bovine's signature (rsa-sha256,
    // Mastodon's headers) and records the follower.
    let follow = peer.follow(&ada).await;
    assert_eq!(follow["status"], 202, "alpha refused bovine's Follow: {follow:#}");
    assert_eq!(follow["inbox"], alpha.url("/users/ada/inbox"));
    until_followers(alpha, "ada", 1).await;

    // alpha's signed Accept reaches bovine, and bovine's own checker
    // verifies its digest and signature (and that Ada signed it): the copy
    // signed with draft-cavage, after the RFC 9421 knock bovine refused.
    let accept = peer
        .wait_for("a verified Accept", Duration::from_secs(30), |e| {
            e["activity"]["type"] == "Accept" && e["verified"] == true
        })
        .await;
    assert_eq!(accept["verified"], true, "bovine could not verify alpha's Accept: {accept:#}");
    assert_eq!(accept["signer"], ada.as_str());
    assert_eq!(accept["activity"]["actor"], ada.as_str());
    assert_eq!(object_id(&accept["activity"]), &follow["id"], "the Accept names bovine's Follow: {accept:#}");

    // A forged Undo of that Follow — bovine's keyId, another key — is
    // refused with 401, and Ada keeps her follower.
    let undo = json!({
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": peer.url("/objects/forged-undo"),
        "type": "Undo",
        "actor": peer.actor_id(),
        "object": follow["activity"],
    });
    let forged = peer.send_with_wrong_key(&alpha.url("/inbox"), &undo).await;
    assert_eq!(forged["status"], 401, "{forged:#}");
    // A later activity from bovine, taken: once Abe has the follower, the
    // forged Undo before it has had whatever effect it was going to have.
    let later = peer.follow(&alpha.url("/users/abe")).await;
    assert_eq!(later["status"], 202, "{later:#}");
    until_followers(alpha, "abe", 1).await;
    assert_eq!(followers(alpha, "ada").await, 1, "the forged Undo changed nothing");

    // The same Undo, signed with the right key, is taken: the forgery was
    // refused for its signature alone.
    let undo = json!({
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": peer.url("/objects/real-undo"),
        "type": "Undo",
        "actor": peer.actor_id(),
        "object": follow["activity"],
    });
    let real = peer.send(&alpha.url("/inbox"), &undo).await;
    assert_eq!(real["status"], 202, "{real:#}");
    until_followers(alpha, "ada", 0).await;

    // Everything alpha sent verified, but for one RFC 9421 knock, refused:
    // alpha remembers that bovine takes draft-cavage and knocks no more.
    let received = peer.received().await;
    let knocks: Vec<&Value> = received.iter().filter(|e| e["verified"] != true).collect();
    assert_eq!(knocks.len(), 1, "one RFC 9421 knock: {knocks:#?}");
    assert!(knocks[0]["headers"]["signature-input"].is_string(), "{:#}", knocks[0]);
    assert_eq!(knocks[0]["activity"]["type"], "Accept");
    for entry in received.iter().filter(|e| e["verified"] == true) {
        assert!(entry["headers"]["signature-input"].is_null(), "draft-cavage only: {entry:#}");
    }
    alpha.create_admin("boss");
    let actor = peer.actor_id();
    let bovine_domain = actor.trim_start_matches("http://").split('/').next().unwrap();
    let health = instance_health(alpha, &alpha.api_token("boss"), bovine_domain).await;
    assert_eq!(health["signatures"], "cavage", "{health}");
}

/// The Note inside a received `Create`, as plain HTML.
fn note_content(entry: &Value) -> String {
    entry["activity"]["object"]["content"].as_str().unwrap_or_default().to_string()
}

#[tokio::test]
async fn a_bovine_follower_sees_the_event_replies_to_book_and_gets_direct_messages() {
    if federation_tests::skip_without_python_module("bovine") {
        return;
    }
    let cluster =
        Cluster::builder().instance(InstanceSpec::new("alpha")).python_peer("bovine").start().await.expect("cluster");
    let (alpha, peer) = (&cluster["alpha"], cluster.peer("bovine"));
    alpha.create_advisor("ada");
    let ada = alpha.url("/users/ada");
    let token = alpha.api_token("ada");

    // Ada publishes a block before bovine follows: the new follower gets the
    // live event anyway (a Create Mastodon can show), not only later changes.
    let day = (jiff::Timestamp::now() + jiff::SignedDuration::from_hours(48)).to_zoned(jiff::tz::TimeZone::UTC).date();
    let response = alpha
        .client()
        .post(alpha.url("/api/v1/blocks"))
        .bearer_auth(&token)
        .json(&json!({"start": format!("{day}T14:00"), "end": format!("{day}T15:00"), "timezone": "UTC",
                      "min_notice_minutes": 0, "approval_required": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 201);
    // Wait until it is published (the job loop runs every second).
    let events = alpha.url("/users/ada/events");
    let started = Instant::now();
    loop {
        let response = alpha.client().get(&events).header("Accept", "application/activity+json").send().await;
        let collection: Value = response.unwrap().json().await.unwrap();
        if collection["totalItems"] == 1 {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(30), "never published: {collection}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(peer.follow(&ada).await["status"], 202);
    until_followers(alpha, "ada", 1).await;
    let create = peer
        .wait_for("the Create(Event)", Duration::from_secs(30), |e| {
            // (Not the RFC 9421 knock bovine refused, if the Create was one.)
            e["verified"] == true && e["activity"]["type"] == "Create" && e["activity"]["object"]["type"] == "Event"
        })
        .await;
    assert_eq!(create["verified"], true, "{create:#}");
    let event = &create["activity"]["object"];
    assert_eq!(event["attributedTo"], ada.as_str());
    assert_eq!(event["slots"].as_array().unwrap().len(), 6, "{event:#}");
    let summary = event["summary"].as_str().unwrap();
    assert!(summary.contains("14:00–15:00 UTC") && summary.contains("Reply to this post"), "{summary}");

    // A reply naming 14:20 is a pending request for that slot, acknowledged
    // at once by a direct message.
    let reply = peer.reply(event["id"].as_str().unwrap(), &[&ada], "<p>@ada 14:20 please, about Rust</p>").await;
    assert_eq!(reply["status"], 202, "{reply:#}");
    let ack = peer
        .wait_for("the acknowledgement", Duration::from_secs(30), |e| {
            e["verified"] == true && note_content(e).contains("Received")
        })
        .await;
    assert_eq!(ack["verified"], true);
    assert_eq!(ack["activity"]["object"]["to"], json!([peer.actor_id()]), "a direct message to bovine alone");
    assert_eq!(ack["activity"]["object"]["tag"][0]["type"], "Mention");
    let sessions: Value = alpha
        .client()
        .get(alpha.url("/api/v1/me/sessions"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let session = &sessions[0];
    assert_eq!(session["status"], "requested", "{sessions}");
    assert_eq!(session["start"], format!("{day}T14:20:00Z"), "the slot the reply named: {sessions}");
    assert_eq!(session["note"], "14:20 please, about Rust");

    // A replay of the same signed reply (same activity id): accepted as
    // already seen, no second request.
    let replay = peer.send(&alpha.url("/inbox"), &reply["activity"]).await;
    assert!([200, 202].contains(&replay["status"].as_i64().unwrap()), "{replay:#}");
    // Another actor updating or deleting Ada's event, and a body above the
    // inbox limit: refused, and the event is unchanged.
    let event_id = event["id"].as_str().unwrap();
    let mut hijacked = event.clone();
    hijacked["summary"] = json!("Cancelled, come to my party instead");
    hijacked["eventStatus"] = json!("https://schema.org/EventCancelled");
    let forgeries = [
        json!({"@context": "https://www.w3.org/ns/activitystreams", "id": peer.url("/activities/hijack-update"),
               "type": "Update", "actor": peer.actor_id(), "object": hijacked}),
        json!({"@context": "https://www.w3.org/ns/activitystreams", "id": peer.url("/activities/hijack-delete"),
               "type": "Delete", "actor": peer.actor_id(), "object": event_id}),
    ];
    for forged in &forgeries {
        let answer = peer.send(&alpha.url("/inbox"), forged).await;
        let status = answer["status"].as_i64().unwrap();
        assert!([400, 403, 422].contains(&status), "{} must be refused: {answer:#}", forged["type"]);
    }
    let huge = json!({"@context": "https://www.w3.org/ns/activitystreams", "id": peer.url("/activities/huge"),
                      "type": "Create", "actor": peer.actor_id(),
                      "object": {"id": peer.url("/notes/huge"), "type": "Note", "attributedTo": peer.actor_id(),
                                 "to": [ada.as_str()], "content": "x".repeat(300 * 1024)}});
    assert_eq!(peer.send(&alpha.url("/inbox"), &huge).await["status"], 413);
    let served: Value = alpha
        .client()
        .get(event_id)
        .header("Accept", "application/activity+json")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(served["summary"], event["summary"], "the event is Ada's as before");
    assert_ne!(served["eventStatus"], "https://schema.org/EventCancelled");
    let sessions: Value = alpha
        .client()
        .get(alpha.url("/api/v1/me/sessions"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(sessions.as_array().unwrap().len(), 1, "one request, replay or not: {sessions}");

    // Approval: a direct message with a room link that opens the session
    // page without an account.
    let id = session["request_id"].as_i64().unwrap();
    let response = alpha
        .client()
        .post(alpha.url(&format!("/api/v1/requests/{id}/approve")))
        .bearer_auth(&token)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let confirmed = peer
        .wait_for("the confirmation", Duration::from_secs(30), |e| {
            e["verified"] == true && note_content(e).contains("is confirmed")
        })
        .await;
    let content = note_content(&confirmed);
    let start = content.find(&alpha.url("/rooms/")).expect("a room link");
    let link: String = content[start..].chars().take_while(|c| *c != '"' && *c != '<').collect();
    let link = link.replace("&amp;", "&");
    let page = alpha.client().get(&link).send().await.unwrap();
    assert_eq!(page.status().as_u16(), 200, "{link}");
    let html = page.text().await.unwrap();
    // Before the room opens, or (on a slow run) already open.
    let room_told = html.contains("The room opens at") || html.contains("The room is open");
    assert!(html.contains("Session with") && room_told, "{html}");
    // The same link with another token is someone else's room: refused.
    let forged =
        link.rsplit_once("token=").map(|(base, _)| format!("{base}token=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")).unwrap();
    assert_eq!(alpha.client().get(&forged).send().await.unwrap().status().as_u16(), 403);
}
