//! The inbox against a peer that signs like Mastodon (`rsa-sha256` over
//! `(request-target) host date digest content-type`), on SQLite and
//! PostgreSQL: the peer is a small server in this test that serves its
//! actor and receives our Accept. Replays, wrong origins, forged undos and
//! bad digests change nothing.

use crate::support;

use std::net::{IpAddr, Ipv4Addr};

use officehours::domain::booking::RequestStatus;
use reqwest::StatusCode;
use serde_json::{Value, json};
use support::peer::{Tamper, satisfies_mastodon, satisfies_rfc9421_get, start_peer};
use support::{TestServer, test_databases};

pub(crate) async fn followers(server: &TestServer, user: &str) -> i64 {
    let body = reqwest::Client::new()
        .get(server.url(&format!("/users/{user}/followers")))
        .header("accept", "application/activity+json")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    serde_json::from_str::<Value>(&body).unwrap()["totalItems"].as_i64().unwrap()
}

/// A Mastodon-like peer and a server in federation test mode that reaches
/// it (`peer.test` on loopback), with retries a second apart.
pub(crate) async fn peer_and_server(db: &support::TestDatabase) -> (support::peer::Peer, TestServer) {
    let peer = start_peer().await;
    let server = TestServer::start_with(db, |c| {
        c.federation_test_mode = true;
        c.federation_test_hosts = vec![("peer.test".into(), IpAddr::V4(Ipv4Addr::LOCALHOST))];
        c.federation_retry_base_secs = 1;
    })
    .await;
    (peer, server)
}

/// An actor document of ours, as a fediverse server fetches it.
async fn actor_json(url: &str) -> Value {
    let response = reqwest::Client::new().get(url).header("accept", "application/activity+json").send().await.unwrap();
    serde_json::from_str(&response.text().await.unwrap()).unwrap()
}

#[tokio::test]
async fn a_mastodon_style_signed_follow_is_accepted_once_and_forgeries_change_nothing() {
    for db in test_databases().await {
        let (peer, server) = peer_and_server(&db).await;
        server.create_advisor("ada").await;
        let ada = server.url("/users/ada");
        let inbox = server.url("/inbox");
        let follow = json!({
            "@context": "https://www.w3.org/ns/activitystreams",
            "id": format!("{}/follows/1", peer.base), "type": "Follow", "actor": peer.actor, "object": ada,
        })
        .to_string();

        // A body that does not match its digest: 401, nothing recorded.
        assert_eq!(peer.send(&inbox, &follow, Tamper::Body).await, StatusCode::UNAUTHORIZED, "[{}]", db.backend);
        assert_eq!(followers(&server, "ada").await, 0);

        assert_eq!(peer.send(&inbox, &follow, Tamper::None).await, StatusCode::ACCEPTED, "[{}]", db.backend);
        assert_eq!(followers(&server, "ada").await, 1);
        // The same activity again (a replay, or a retry): accepted, no second effect.
        assert_eq!(peer.send(&inbox, &follow, Tamper::None).await, StatusCode::ACCEPTED);
        assert_eq!(followers(&server, "ada").await, 1);

        // Our signed Accept reaches the peer, once: the replay queued
        // nothing (the inbox writes what it sends in the transaction that
        // records the activity, so its 202 means the queue is final), and
        // once the one delivery is recorded as delivered nothing else is
        // left to send.
        let to_peer = peer.base.trim_start_matches("http://").to_string();
        for _ in 0..100 {
            let queued = queued_for(&server, &to_peer).await;
            assert_eq!(queued.0 + queued.1, 1, "[{}] one Accept queued: {queued:?}", db.backend);
            if queued == (0, 1) {
                break;
            }
            server.node.run_jobs_once().await;
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        assert_eq!(queued_for(&server, &to_peer).await, (0, 1), "[{}] delivered", db.backend);
        let received = peer.received.lock().unwrap().clone();
        assert_eq!(received.len(), 1, "{received:?}");
        assert_eq!(received[0]["type"], "Accept");
        assert_eq!(received[0]["actor"], ada.as_str());
        assert_eq!(received[0]["object"]["id"], format!("{}/follows/1", peer.base));
        let (headers, body) = peer.requests.lock().unwrap()[0].clone();
        let person = actor_json(&ada).await;
        satisfies_mastodon(&headers, &body, "post", "/users/masto/inbox", &person);
        // Our fetches of the peer's actor are signed by the instance actor:
        // RFC 9421 while the instance is not known to refuse it, else the
        // way Mastodon's secure mode requires of a GET (`host` signed).
        let instance = actor_json(&server.url("/actor")).await;
        let fetches = peer.fetches.lock().unwrap().clone();
        assert!(!fetches.is_empty());
        for headers in &fetches {
            if headers.contains_key("signature-input") {
                satisfies_rfc9421_get(headers, &peer.actor, &instance);
            } else {
                satisfies_mastodon(headers, "", "get", "/users/masto", &instance);
            }
        }

        // The stored actor is sanitised.
        let (status, profile) = server
            .api_as(&server.create_user("ida", false).await)
            .await
            .get(&format!("/api/v1/advisors/masto@{}", peer.base.trim_start_matches("http://")))
            .await;
        assert_eq!(status, StatusCode::OK, "{profile}");
        assert!(!profile["bio"].as_str().unwrap().contains("script"), "{profile}");

        // An activity whose id is on another server than its actor: refused.
        let foreign = json!({
            "@context": "https://www.w3.org/ns/activitystreams",
            "id": "http://elsewhere.test/follows/2", "type": "Follow", "actor": peer.actor, "object": ada,
        })
        .to_string();
        assert!(peer.send(&inbox, &foreign, Tamper::None).await.is_client_error());
        // Undoing a follow that someone else made: refused; the follower stays.
        let forged_undo = json!({
            "@context": "https://www.w3.org/ns/activitystreams",
            "id": format!("{}/undos/1", peer.base), "type": "Undo", "actor": peer.actor,
            "object": {"id": "http://other.test/follows/9", "type": "Follow", "actor": "http://other.test/users/eve", "object": ada},
        })
        .to_string();
        assert_eq!(peer.send(&inbox, &forged_undo, Tamper::None).await, StatusCode::FORBIDDEN);
        assert_eq!(followers(&server, "ada").await, 1);
        // The real undo works.
        let undo = json!({
            "@context": "https://www.w3.org/ns/activitystreams",
            "id": format!("{}/undos/2", peer.base), "type": "Undo", "actor": peer.actor,
            "object": {"id": format!("{}/follows/1", peer.base), "type": "Follow", "actor": peer.actor, "object": ada},
        })
        .to_string();
        assert_eq!(peer.send(&inbox, &undo, Tamper::None).await, StatusCode::ACCEPTED);
        assert_eq!(followers(&server, "ada").await, 0);
    }
}

#[tokio::test]
async fn a_peer_that_rotated_its_key_is_fetched_again_but_forgeries_cause_no_refetch_storm() {
    for db in test_databases().await {
        let (peer, server) = peer_and_server(&db).await;
        server.create_advisor("ada").await;
        let inbox = server.url("/inbox");
        let follow = |n: u32| {
            json!({"@context": "https://www.w3.org/ns/activitystreams", "id": format!("{}/follows/{n}", peer.base),
                   "type": "Follow", "actor": peer.actor, "object": server.url("/users/ada")})
            .to_string()
        };
        let fetches = || peer.fetches.lock().unwrap().len();
        assert_eq!(peer.send(&inbox, &follow(1), Tamper::None).await, StatusCode::ACCEPTED);
        assert_eq!(fetches(), 1);

        // A new key: our copy was fetched a moment ago, so a signature that
        // does not verify is refused without asking the peer again.
        peer.rotate_key();
        assert_eq!(peer.send(&inbox, &follow(2), Tamper::None).await, StatusCode::UNAUTHORIZED);
        assert_eq!(fetches(), 1);

        // Later (the copy is 15 s old), the actor is fetched once more and the new key verifies.
        server.advance(jiff::SignedDuration::from_secs(15));
        server.node.federation().remote_actors.invalidate_all();
        assert_eq!(peer.send(&inbox, &follow(3), Tamper::None).await, StatusCode::ACCEPTED, "[{}]", db.backend);
        assert_eq!(fetches(), 2);
        // Another key right after (as a forger's would be): refused, no further fetch.
        peer.rotate_key();
        assert_eq!(peer.send(&inbox, &follow(4), Tamper::None).await, StatusCode::UNAUTHORIZED);
        assert_eq!(fetches(), 2);
        assert_eq!(followers(&server, "ada").await, 1);
    }
}

#[tokio::test]
async fn oversized_and_wrong_owner_activities_are_refused_and_change_nothing() {
    for db in test_databases().await {
        let (peer, server) = peer_and_server(&db).await;
        server.create_advisor("ada").await;
        let inbox = server.url("/inbox");

        // Larger than the inbox's 256 KiB: 413 before anything is read.
        let huge = json!({
            "@context": "https://www.w3.org/ns/activitystreams",
            "id": format!("{}/notes/huge", peer.base), "type": "Create", "actor": peer.actor,
            "object": {"id": format!("{}/notes/huge/o", peer.base), "type": "Note", "content": "x".repeat(300 * 1024)},
        })
        .to_string();
        assert_eq!(peer.send(&inbox, &huge, Tamper::None).await, StatusCode::PAYLOAD_TOO_LARGE, "[{}]", db.backend);

        // An event attributed to someone else, or hosted elsewhere: refused.
        let event = |id: String, owner: &str| {
            json!({
                "@context": "https://www.w3.org/ns/activitystreams",
                "id": format!("{}/activities/update/1", peer.base), "type": "Update", "actor": peer.actor,
                "object": {"id": id, "type": "Event", "attributedTo": owner, "name": "x",
                           "startTime": "2030-01-01T10:00:00Z", "endTime": "2030-01-01T11:00:00Z"},
            })
            .to_string()
        };
        let ada = server.url("/users/ada");
        let not_theirs = event(format!("{}/events/1", peer.base), &ada);
        assert_eq!(peer.send(&inbox, &not_theirs, Tamper::None).await, StatusCode::FORBIDDEN, "[{}]", db.backend);
        let elsewhere = event(server.url("/events/1/2030-01-01"), peer.actor.as_str());
        let status = peer.send(&inbox, &elsewhere, Tamper::None).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "an object on another host [{}]", db.backend);
        // Nothing was mirrored.
        for id in [format!("{}/events/1", peer.base), server.url("/events/1/2030-01-01")] {
            assert_eq!(server.store.mirrored_block(&id).await.unwrap(), None, "[{}]", db.backend);
        }
    }
}

#[tokio::test]
async fn unsigned_or_mistyped_posts_fetch_nothing_and_failed_fetches_are_remembered() {
    for db in test_databases().await {
        let peer = start_peer().await;
        let server = TestServer::start_with(&db, |c| {
            c.federation_test_mode = true;
            c.federation_test_hosts = vec![("peer.test".into(), IpAddr::V4(Ipv4Addr::LOCALHOST))];
            c.federation_actor_fetches_per_minute = 3;
        })
        .await;
        server.create_advisor("ada").await;
        let ada = server.url("/users/ada");
        let inbox = server.url("/inbox");
        let follow = |actor: &str, n: u32| {
            json!({
                "@context": "https://www.w3.org/ns/activitystreams",
                "id": format!("{}/follows/{n}", peer.base), "type": "Follow", "actor": actor, "object": ada,
            })
            .to_string()
        };
        let ghost = |n: u32| format!("{}/users/ghost{n}", peer.base);
        let misses = || peer.misses.lock().unwrap().clone();

        // A valid digest and no signature: 401 before the actor is looked up.
        let body = follow(&ghost(1), 1);
        let unsigned: Vec<_> = peer
            .sign_as(&ghost(1), &inbox, &body, "application/activity+json")
            .into_iter()
            .filter(|(n, _)| *n != "signature")
            .collect();
        let (status, _) = peer.post(&inbox, &body, unsigned).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "[{}]", db.backend);
        // Not ActivityStreams by its media type: 415, before anything else.
        let (status, _) = peer.post(&inbox, &body, peer.sign_as(&ghost(1), &inbox, &body, "application/json")).await;
        assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "[{}]", db.backend);
        let (status, _) = peer.post(&inbox, &body, peer.sign_as(&ghost(1), &inbox, &body, "text/plain")).await;
        assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
        // A key on another server than the actor: refused unfetched.
        let (status, _) = peer
            .post(&inbox, &body, peer.sign_as("http://other.test/users/x", &inbox, &body, "application/activity+json"))
            .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert_eq!(misses(), Vec::<String>::new(), "[{}] nothing was fetched", db.backend);

        // A signed activity of an actor that cannot be fetched: fetched once;
        // the same actor again gets the same answer without a second fetch.
        let first =
            peer.post(&inbox, &body, peer.sign_as(&ghost(1), &inbox, &body, "application/activity+json")).await.0;
        assert!(!first.is_success() && first != StatusCode::TOO_MANY_REQUESTS, "[{}] {first}", db.backend);
        let again = follow(&ghost(1), 2);
        let second =
            peer.post(&inbox, &again, peer.sign_as(&ghost(1), &inbox, &again, "application/activity+json")).await.0;
        assert_eq!(second, first);
        assert_eq!(misses(), vec!["/users/ghost1".to_string()], "[{}] one fetch", db.backend);

        // The ld+json media type with the ActivityStreams profile is read.
        let masto = follow(&peer.actor, 3);
        let ld = "application/ld+json; profile=\"https://www.w3.org/ns/activitystreams\"";
        let (status, _) = peer.post(&inbox, &masto, peer.sign_as(&peer.actor, &inbox, &masto, ld)).await;
        assert_eq!(status, StatusCode::ACCEPTED, "[{}]", db.backend);
        assert_eq!(followers(&server, "ada").await, 1);

        // Three fetches a minute for this host (ghost1, masto, ghost2):
        // the next unknown actor is 429 with Retry-After, and not fetched.
        let body = follow(&ghost(2), 4);
        let (status, _) =
            peer.post(&inbox, &body, peer.sign_as(&ghost(2), &inbox, &body, "application/activity+json")).await;
        assert!(!status.is_success() && status != StatusCode::TOO_MANY_REQUESTS, "{status}");
        let body = follow(&ghost(3), 5);
        let (status, retry_after) =
            peer.post(&inbox, &body, peer.sign_as(&ghost(3), &inbox, &body, "application/activity+json")).await;
        assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "[{}]", db.backend);
        assert_eq!(retry_after.as_deref(), Some("60"));
        assert_eq!(misses(), vec!["/users/ghost1".to_string(), "/users/ghost2".to_string()]);
        // A known actor is never held back by it.
        let undo = json!({
            "@context": "https://www.w3.org/ns/activitystreams",
            "id": format!("{}/undos/1", peer.base), "type": "Undo", "actor": peer.actor,
            "object": {"id": format!("{}/follows/3", peer.base), "type": "Follow", "actor": peer.actor, "object": ada},
        })
        .to_string();
        assert_eq!(peer.send(&inbox, &undo, Tamper::None).await, StatusCode::ACCEPTED, "[{}]", db.backend);
        assert_eq!(followers(&server, "ada").await, 0);
    }
}

/// What is queued for `domain`: (waiting, delivered) deliveries; given-up
/// ones are counted as waiting, so that nothing hides.
async fn queued_for(server: &TestServer, domain: &str) -> (i64, i64) {
    let all = server.store.instances_overview().await.unwrap();
    all.iter().find(|i| i.domain == domain).map(|i| (i.pending + i.given_up, i.delivered)).unwrap_or((0, 0))
}

/// Runs the background jobs until `found` picks something out of what the
/// peer received (10 s at most).
pub(crate) async fn until_received(
    server: &TestServer,
    peer: &support::peer::Peer,
    what: &str,
    found: impl Fn(&Value) -> bool,
) -> Value {
    for _ in 0..200 {
        if let Some(hit) = peer.received.lock().unwrap().iter().find(|a| found(a)).cloned() {
            return hit;
        }
        server.node.run_jobs_once().await;
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("the peer never received {what}: {:#?}", peer.received.lock().unwrap());
}

/// The text of a direct message (`Create(Note)`) the peer received.
pub(crate) fn dm_text(activity: &Value) -> Option<&str> {
    (activity["type"] == "Create" && activity["object"]["type"] == "Note")
        .then(|| activity["object"]["content"].as_str())?
}

#[tokio::test]
async fn unlisted_offerings_never_leave_and_requests_for_them_are_refused() {
    for db in test_databases().await {
        let (peer, server) = peer_and_server(&db).await;
        let ada = server.create_advisor("ada").await;
        let api = server.api_as(&ada).await;
        let inbox = server.url("/inbox");
        let ada_id = server.url("/users/ada");
        let follow = json!({
            "@context": "https://www.w3.org/ns/activitystreams",
            "id": format!("{}/follows/1", peer.base), "type": "Follow", "actor": peer.actor, "object": ada_id,
        });
        assert_eq!(peer.send(&inbox, &follow.to_string(), Tamper::None).await, StatusCode::ACCEPTED);

        // Ada offers 10:00–10:30 to everyone and 12:00–12:30 behind her
        // private link only (Berlin time, two days ahead).
        let day = (server.now() + jiff::SignedDuration::from_hours(48))
            .to_zoned(jiff::tz::TimeZone::get("Europe/Berlin").unwrap())
            .date();
        let block = |from: &str, to: &str, unlisted: bool| {
            json!({"start": format!("{day}T{from}"), "end": format!("{day}T{to}"), "timezone": "Europe/Berlin",
                   "min_notice_minutes": 0, "unlisted": unlisted})
        };
        let (status, listed) = api.post("/api/v1/blocks", block("10:00", "10:30", false)).await;
        assert_eq!(status, StatusCode::CREATED, "{listed}");
        let (status, hidden) = api.post("/api/v1/blocks", block("12:00", "12:30", true)).await;
        assert_eq!(status, StatusCode::CREATED, "{hidden}");
        let listed_event = server.url(&format!("/events/{}/{day}", listed["id"]));
        let hidden_event = server.url(&format!("/events/{}/{day}", hidden["id"]));

        // Followers get the listed block's Event, and never the unlisted one.
        until_received(&server, &peer, "the listed Event", |a| {
            a["type"] == "Create" && a["object"]["id"] == listed_event.as_str()
        })
        .await;
        for _ in 0..5 {
            server.node.run_jobs_once().await;
        }
        let received = peer.received.lock().unwrap().clone();
        assert!(
            received.iter().all(|a| !a.to_string().contains(&format!("/events/{}/", hidden["id"]))),
            "an unlisted offering left the instance [{}]: {received:#?}",
            db.backend
        );
        let upcoming = actor_json(&server.url("/users/ada/events")).await;
        assert_eq!(upcoming["totalItems"], 1, "{upcoming}");
        assert_eq!(upcoming["orderedItems"][0]["id"], listed_event.as_str());
        let gone = reqwest::Client::new()
            .get(&hidden_event)
            .header("accept", "application/activity+json")
            .send()
            .await
            .unwrap();
        assert_eq!(gone.status(), StatusCode::NOT_FOUND);

        // A Mastodon mention asking for 12:00, the unlisted time, books
        // nothing: the answer names the open times instead.
        let mention_of = |to: &str, n: u32, text: &str| {
            json!({
                "@context": "https://www.w3.org/ns/activitystreams",
                "id": format!("{}/statuses/{n}/activity", peer.base), "type": "Create", "actor": peer.actor,
                "to": [to], "cc": [],
                "object": {"id": format!("{}/statuses/{n}", peer.base), "type": "Note", "attributedTo": peer.actor,
                           "to": [to], "cc": [], "inReplyTo": null,
                           "content": format!("<p><span class=\"h-card\"><a href=\"{to}\" class=\"u-url mention\">@someone</a></span> {text}</p>"),
                           "tag": [{"type": "Mention", "href": to, "name": "@someone"}]},
            })
            .to_string()
        };
        let mention = |n: u32, text: &str| mention_of(&ada_id, n, text);
        assert_eq!(peer.send(&inbox, &mention(1, "12:00 please?"), Tamper::None).await, StatusCode::ACCEPTED);
        let refusal =
            until_received(&server, &peer, "the refusal", |a| dm_text(a).is_some_and(|t| t.contains("at that time")))
                .await;
        let text = dm_text(&refusal).unwrap();
        assert!(text.contains("10:00") && text.contains("10:20") && !text.contains("12:"), "{text}");
        assert_eq!(refusal["object"]["inReplyTo"], format!("{}/statuses/1", peer.base));
        let (_, sessions) = api.get("/api/v1/me/sessions").await;
        assert_eq!(sessions.as_array().unwrap().len(), 0, "nothing was booked [{}]: {sessions}", db.backend);

        // Ada makes the listed block unlisted too: its Event is deleted, and a
        // Join or a reply to it is refused with the reason.
        let overrides = officehours::storage::BlockOverrides { unlisted: Some(true), ..Default::default() };
        server.app.update_block(&ada, listed["id"].as_i64().unwrap(), &overrides).await.unwrap();
        until_received(&server, &peer, "the Delete", |a| {
            a["type"] == "Delete" && a["object"]["id"] == listed_event.as_str()
        })
        .await;
        let join = json!({
            "@context": "https://www.w3.org/ns/activitystreams",
            "id": format!("{}/joins/1", peer.base), "type": "Join", "actor": peer.actor, "object": listed_event,
            "content": "About Rust",
        });
        assert_eq!(peer.send(&inbox, &join.to_string(), Tamper::None).await, StatusCode::ACCEPTED);
        let reject = until_received(&server, &peer, "the Reject", |a| a["type"] == "Reject").await;
        assert_eq!(reject["object"], format!("{}/joins/1", peer.base));
        assert!(reject["content"].as_str().unwrap().contains("no longer offered"), "{reject}");
        let mut reply: Value = serde_json::from_str(&mention(2, "10:10 please")).unwrap();
        reply["object"]["inReplyTo"] = json!(listed_event);
        assert_eq!(peer.send(&inbox, &reply.to_string(), Tamper::None).await, StatusCode::ACCEPTED);
        until_received(&server, &peer, "the refused reply", |a| {
            dm_text(a).is_some_and(|t| t.contains("no longer offered"))
                && a["object"]["inReplyTo"] == format!("{}/statuses/2", peer.base)
        })
        .await;
        let (_, sessions) = api.get("/api/v1/me/sessions").await;
        assert_eq!(sessions.as_array().unwrap().len(), 0, "[{}]: {sessions}", db.backend);

        // Abe keeps everything unlisted by default (his setting, not the
        // block's): a mention asking for any time is offered nothing.
        let abe = server.create_advisor("abe").await;
        let settings = officehours::service::booking::BookingSettings {
            buffer_minutes: 0,
            min_notice_minutes: 0,
            horizon_days: 60,
            max_per_learner_week: 10,
            approval_required: true,
            unlisted: true,
            note_optional: false,
        };
        server.app.save_booking_settings(&abe, &settings).await.unwrap();
        let abe_api = server.api_as(&abe).await;
        let plain =
            json!({"start": format!("{day}T14:00"), "end": format!("{day}T14:30"), "timezone": "Europe/Berlin"});
        let (status, body) = abe_api.post("/api/v1/blocks", plain).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        let abe_id = server.url("/users/abe");
        assert_eq!(
            peer.send(&inbox, &mention_of(&abe_id, 3, "a session please?"), Tamper::None).await,
            StatusCode::ACCEPTED
        );
        until_received(&server, &peer, "Abe's refusal", |a| {
            dm_text(a).is_some_and(|t| t.contains("no open slot right now"))
                && a["object"]["inReplyTo"] == format!("{}/statuses/3", peer.base)
        })
        .await;
        let (_, sessions) = abe_api.get("/api/v1/me/sessions").await;
        assert_eq!(sessions.as_array().unwrap().len(), 0, "an unlisted slot was booked [{}]: {sessions}", db.backend);
    }
}

#[tokio::test]
async fn a_followed_peers_events_are_applied_once_and_never_rolled_back() {
    for db in test_databases().await {
        let (peer, server) = peer_and_server(&db).await;
        server.create_advisor("ada").await;
        let inbox = server.url("/inbox");
        let activity = |id: &str, kind: &str, object: Value| {
            json!({"@context": "https://www.w3.org/ns/activitystreams", "id": format!("{}/{id}", peer.base),
                   "type": kind, "actor": peer.actor, "object": object})
            .to_string()
        };
        // The peer follows Ada (so we know it), and Lea here follows the peer.
        let follow = activity("follows/1", "Follow", json!(server.url("/users/ada")));
        assert_eq!(peer.send(&inbox, &follow, Tamper::None).await, StatusCode::ACCEPTED);
        let lea = server.api_as(&server.create_user("lea", false).await).await;
        let handle = format!("masto@{}", peer.base.trim_start_matches("http://"));
        let (status, body) = lea.post("/api/v1/follows", json!({"handle": handle})).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{body}");

        let start = server.now() + jiff::SignedDuration::from_hours(30);
        let at = |minutes: i64| (start + jiff::SignedDuration::from_mins(minutes)).to_string();
        let event_id = format!("{}/events/1", peer.base);
        let event = |state: &str, updated: Option<String>| {
            json!({"id": event_id, "type": "Event", "attributedTo": peer.actor, "name": "Office hours",
                   "startTime": at(0), "endTime": at(10), "updated": updated,
                   "slots": [{"id": format!("{event_id}/slots/1"), "startTime": at(0), "endTime": at(10), "state": state}]})
        };
        let slots = || async {
            let (status, slots) = lea.get(&format!("/api/v1/advisors/{handle}/slots")).await;
            assert_eq!(status, StatusCode::OK, "{slots}");
            slots.as_array().unwrap().iter().map(|s| s["status"].as_str().unwrap().to_string()).collect::<Vec<_>>()
        };
        let older = (server.now() - jiff::SignedDuration::from_mins(5)).to_string();
        let newer = server.now().to_string();

        let create = activity("creates/1", "Create", event("open", None));
        assert_eq!(peer.send(&inbox, &create, Tamper::None).await, StatusCode::ACCEPTED, "[{}]", db.backend);
        assert_eq!(slots().await, ["open"]);
        let update_a = activity("updates/a", "Update", event("open", Some(older.clone())));
        assert_eq!(peer.send(&inbox, &update_a, Tamper::None).await, StatusCode::ACCEPTED);
        let update_b = activity("updates/b", "Update", event("taken", Some(newer)));
        assert_eq!(peer.send(&inbox, &update_b, Tamper::None).await, StatusCode::ACCEPTED);
        assert_eq!(slots().await, ["booked"]);

        // The older Update again (a replay), or resent under a new id (a
        // retry overtaken by the newer one): accepted, nothing rolls back.
        assert_eq!(peer.send(&inbox, &update_a, Tamper::None).await, StatusCode::ACCEPTED);
        let late = activity("updates/a-again", "Update", event("open", Some(older)));
        assert_eq!(peer.send(&inbox, &late, Tamper::None).await, StatusCode::ACCEPTED);
        assert_eq!(slots().await, ["booked"], "an older version was applied [{}]", db.backend);

        // Deleted, then the original Create arrives late: it stays deleted.
        let delete = activity("deletes/1", "Delete", json!({"id": event_id, "type": "Tombstone"}));
        assert_eq!(peer.send(&inbox, &delete, Tamper::None).await, StatusCode::ACCEPTED);
        assert!(slots().await.is_empty());
        let late_create = activity("creates/1-again", "Create", event("open", None));
        assert_eq!(peer.send(&inbox, &late_create, Tamper::None).await, StatusCode::ACCEPTED);
        assert!(slots().await.is_empty(), "a deleted event came back [{}]", db.backend);
    }
}

#[tokio::test]
async fn a_remote_learners_join_meets_the_advisors_rules_and_every_refusal_is_answered() {
    for db in test_databases().await {
        let (peer, server) = peer_and_server(&db).await;
        let ada = server.create_advisor("ada").await;
        let api = server.api_as(&ada).await;
        let inbox = server.url("/inbox");
        // In three hours with ten hours' notice; in two days with one session a week per learner.
        let mut soon = (server.now() + jiff::SignedDuration::from_hours(3)).to_zoned(jiff::tz::TimeZone::UTC);
        if (&soon + jiff::SignedDuration::from_mins(20)).date() != soon.date() {
            // One day's block: start after midnight instead.
            soon = &soon + jiff::SignedDuration::from_mins(30);
        }
        let soon_end = &soon + jiff::SignedDuration::from_mins(20);
        let at = |z: &jiff::Zoned| z.strftime("%Y-%m-%dT%H:%M").to_string();
        let (status, soon_block) = api
            .post(
                "/api/v1/blocks",
                json!({"start": at(&soon), "end": at(&soon_end), "timezone": "UTC", "min_notice_minutes": 600}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{soon_block}");
        let day = (server.now() + jiff::SignedDuration::from_hours(48)).to_zoned(jiff::tz::TimeZone::UTC).date();
        let (status, later_block) = api
            .post(
                "/api/v1/blocks",
                json!({"start": format!("{day}T10:00"), "end": format!("{day}T10:30"), "timezone": "UTC",
                       "min_notice_minutes": 0, "max_per_learner_week": 1}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{later_block}");
        server.node.run_jobs_once().await;
        let soon_event = server.url(&format!("/events/{}/{}", soon_block["id"], soon.date()));
        let later_event = server.url(&format!("/events/{}/{day}", later_block["id"]));
        let slot = |i: usize| server.url(&format!("/slots/{}", later_block["slots"][i]["id"]));
        let join = |n: u32, event: &str, slot: Option<String>| {
            json!({"@context": "https://www.w3.org/ns/activitystreams", "id": format!("{}/joins/{n}", peer.base),
                   "type": "Join", "actor": peer.actor, "object": event, "slot": slot, "content": "About Rust"})
            .to_string()
        };
        let rejected = |n: u32| {
            let id = format!("{}/joins/{n}", peer.base);
            move |a: &Value| a["type"] == "Reject" && a["object"] == id.as_str()
        };
        let sessions = || async { api.get("/api/v1/me/sessions").await.1.as_array().unwrap().clone() };

        // Inside the notice: refused, and the Reject says why.
        assert_eq!(peer.send(&inbox, &join(1, &soon_event, None), Tamper::None).await, StatusCode::ACCEPTED);
        let reject = until_received(&server, &peer, "the Reject for too little notice", rejected(1)).await;
        assert!(reject["content"].as_str().unwrap().contains("600 minutes' notice"), "[{}] {reject}", db.backend);
        assert!(sessions().await.is_empty());

        // Within the rules: a pending request with the note, as for a local learner.
        assert_eq!(peer.send(&inbox, &join(2, &later_event, Some(slot(0))), Tamper::None).await, StatusCode::ACCEPTED);
        let booked = sessions().await;
        assert_eq!(booked.len(), 1, "{booked:?}");
        assert_eq!((booked[0]["status"].as_str(), booked[0]["note"].as_str()), (Some("requested"), Some("About Rust")));
        assert_eq!(booked[0]["slot_id"], later_block["slots"][0]["id"]);

        // A second slot the same week: over the weekly limit, refused with the reason.
        assert_eq!(peer.send(&inbox, &join(3, &later_event, Some(slot(1))), Tamper::None).await, StatusCode::ACCEPTED);
        let reject = until_received(&server, &peer, "the Reject for the weekly limit", rejected(3)).await;
        assert!(reject["content"].as_str().unwrap().contains("that week"), "[{}] {reject}", db.backend);
        assert_eq!(sessions().await.len(), 1);

        // An event that is not ours: 404, nothing stored.
        let unknown = server.url("/events/999999/2030-01-01");
        assert_eq!(peer.send(&inbox, &join(4, &unknown, None), Tamper::None).await, StatusCode::NOT_FOUND);
        assert_eq!(sessions().await.len(), 1);
    }
}

#[tokio::test]
async fn a_remote_learner_meets_capacity_horizon_and_karma_like_a_local_one() {
    for db in test_databases().await {
        let (peer, server) = peer_and_server(&db).await;
        let ada = server.create_advisor("ada").await;
        let api = server.api_as(&ada).await;
        let bob = server.create_user("bob", false).await;
        let inbox = server.url("/inbox");
        let day =
            |d: i64| (server.now() + jiff::SignedDuration::from_hours(24 * d)).to_zoned(jiff::tz::TimeZone::UTC).date();
        // Each block is one 10-minute slot, two or three days ahead: (its slot id, its event).
        let block = |day: jiff::civil::Date, hour: u8, rules: Value| {
            let mut body = json!({"start": format!("{day}T{hour:02}:00"), "end": format!("{day}T{hour:02}:10"),
                                  "timezone": "UTC", "min_notice_minutes": 0, "max_per_learner_week": 10});
            body.as_object_mut().unwrap().extend(rules.as_object().unwrap().clone());
            let (api, server) = (&api, &server);
            async move {
                let (status, block) = api.post("/api/v1/blocks", body).await;
                assert_eq!(status, StatusCode::CREATED, "{block}");
                (block["slots"][0]["id"].as_i64().unwrap(), server.url(&format!("/events/{}/{day}", block["id"])))
            }
        };
        let (beyond_slot, beyond) = block(day(3), 10, json!({"horizon_days": 1})).await;
        let (full_slot, full) = block(day(2), 12, json!({"approval_required": false})).await;
        let (open_slot, open) = block(day(2), 14, json!({})).await;
        server.node.run_jobs_once().await;
        let join_slot = |n: u32, event: &str, slot: Option<i64>| {
            let slot = slot.map(|id| server.url(&format!("/slots/{id}")));
            json!({"@context": "https://www.w3.org/ns/activitystreams", "id": format!("{}/joins/{n}", peer.base),
                   "type": "Join", "actor": peer.actor, "object": event, "slot": slot, "content": "About Rust"})
            .to_string()
        };
        let join = |n: u32, event: &str| join_slot(n, event, None);
        let reason = |n: u32| {
            let id = format!("{}/joins/{n}", peer.base);
            let (server, peer) = (&server, &peer);
            async move {
                let found = move |a: &Value| a["type"] == "Reject" && a["object"] == id.as_str();
                until_received(server, peer, "a Reject", found).await["content"].as_str().unwrap().to_string()
            }
        };
        let requests_on = |slot: i64| {
            let api = &api;
            async move {
                let (_, sessions) = api.get("/api/v1/me/sessions").await;
                sessions.as_array().unwrap().iter().filter(|s| s["slot_id"] == slot).count()
            }
        };

        // Beyond the block's one-day horizon.
        assert_eq!(peer.send(&inbox, &join(1, &beyond), Tamper::None).await, StatusCode::ACCEPTED);
        let why = reason(1).await;
        assert!(why.contains("at most 1 days ahead"), "[{}] {why}", db.backend);
        assert_eq!(requests_on(beyond_slot).await, 0);

        // Capacity: a local learner booked the one slot first.
        let bob_api = server.api_as(&bob).await;
        let (status, taken) = bob_api.post(&format!("/api/v1/slots/{full_slot}/requests"), json!({})).await;
        assert_eq!((status, taken["status"].as_str()), (StatusCode::CREATED, Some("approved")), "{taken}");
        assert_eq!(peer.send(&inbox, &join(2, &full), Tamper::None).await, StatusCode::ACCEPTED);
        let why = reason(2).await;
        assert!(why.contains("Every session of this event is taken"), "[{}] {why}", db.backend);
        assert_eq!(peer.send(&inbox, &join_slot(5, &full, Some(full_slot)), Tamper::None).await, StatusCode::ACCEPTED);
        let why = reason(5).await;
        assert!(why.contains("Someone else has this slot"), "[{}] {why}", db.backend);
        assert_eq!(requests_on(full_slot).await, 1, "only Bob's");

        // Karma: two sessions the learner missed, recorded as no-shows by the advisor.
        let actor = server.store.remote_actor(&peer.actor).await.unwrap().expect("the peer is known by now");
        let masto = server.store.shadow_user(&actor, server.clock.now_ms()).await.unwrap();
        let mut missed = Vec::new();
        for hours in [2, 3] {
            let start = server.now() - jiff::SignedDuration::from_hours(hours);
            let session = server.session_at(&ada, &masto, start, RequestStatus::Approved).await;
            let (status, body) = api.post(&format!("/api/v1/requests/{session}/no-show"), json!({})).await;
            assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
            missed.push(session);
        }
        assert_eq!(peer.send(&inbox, &join(3, &open), Tamper::None).await, StatusCode::ACCEPTED);
        let why = reason(3).await;
        assert!(why.contains("Your karma is -10"), "[{}] {why}", db.backend);
        assert_eq!(requests_on(open_slot).await, 0);

        // Forgiven, the same learner may ask again.
        for session in missed {
            let (status, body) = api.post(&format!("/api/v1/requests/{session}/forgive"), json!({})).await;
            assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
        }
        assert_eq!(peer.send(&inbox, &join(4, &open), Tamper::None).await, StatusCode::ACCEPTED);
        assert_eq!(requests_on(open_slot).await, 1, "[{}] forgiven, the request is pending", db.backend);
    }
}

#[tokio::test]
async fn remote_learners_get_reminders_and_thread_messages_as_direct_messages() {
    for db in test_databases().await {
        let (peer, server) = peer_and_server(&db).await;
        let ada = server.create_advisor("ada").await;
        let api = server.api_as(&ada).await;
        let inbox = server.url("/inbox");
        let ada_id = server.url("/users/ada");
        // A session in about five minutes, inside the 15-minute reminder.
        let mut start = (server.now() + jiff::SignedDuration::from_mins(5)).to_zoned(jiff::tz::TimeZone::UTC);
        if (&start + jiff::SignedDuration::from_mins(10)).date() != start.date() {
            start = start.date().tomorrow().unwrap().to_zoned(jiff::tz::TimeZone::UTC).unwrap();
        }
        let end = &start + jiff::SignedDuration::from_mins(10);
        let at = |z: &jiff::Zoned| z.strftime("%Y-%m-%dT%H:%M").to_string();
        let (status, block) = api
            .post(
                "/api/v1/blocks",
                json!({"start": at(&start), "end": at(&end), "timezone": "UTC", "min_notice_minutes": 0,
                       "approval_required": false}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{block}");
        server.node.run_jobs_once().await;
        let event = server.url(&format!("/events/{}/{}", block["id"], start.date()));
        let join = json!({"@context": "https://www.w3.org/ns/activitystreams", "id": format!("{}/joins/1", peer.base),
                          "type": "Join", "actor": peer.actor, "object": event, "content": "Quick question"});
        assert_eq!(peer.send(&inbox, &join.to_string(), Tamper::None).await, StatusCode::ACCEPTED);
        let private = |a: &Value| {
            a["to"] == json!([peer.actor])
                && a["object"]["to"] == json!([peer.actor])
                && a["object"]["tag"][0]["href"] == peer.actor.as_str()
        };

        // The reminder, with the room link, to the learner alone.
        let reminder = until_received(&server, &peer, "the reminder", |a| {
            dm_text(a).is_some_and(|t| t.contains("starts in") && t.contains("/rooms/"))
        })
        .await;
        assert!(private(&reminder), "[{}] {reminder}", db.backend);
        // It answers nothing, so it names nothing: no `"inReplyTo": null`
        // (Friendica files such a note to one person as a private message).
        assert!(reminder["object"].get("inReplyTo").is_none(), "{reminder}");

        // A message in the thread reaches them the same way …
        let handle = format!("masto@{}", peer.base.trim_start_matches("http://"));
        let (status, sent) =
            api.post(&format!("/api/v1/conversations/{handle}/messages"), json!({"body": "Bring your code"})).await;
        assert_eq!(status, StatusCode::CREATED, "{sent}");
        let note = until_received(&server, &peer, "the thread message", |a| {
            dm_text(a).is_some_and(|t| t.contains("Bring your code"))
        })
        .await;
        assert!(private(&note), "{note}");

        // … and their direct reply lands in the thread here.
        let reply = json!({
            "@context": "https://www.w3.org/ns/activitystreams",
            "id": format!("{}/statuses/9/activity", peer.base), "type": "Create", "actor": peer.actor,
            "to": [ada_id], "cc": [],
            "object": {"id": format!("{}/statuses/9", peer.base), "type": "Note", "attributedTo": peer.actor,
                       "to": [ada_id], "cc": [], "inReplyTo": note["object"]["id"],
                       "content": format!("<p><a href=\"{ada_id}\" class=\"u-url mention\">@ada</a> Will do, thanks</p>"),
                       "tag": [{"type": "Mention", "href": ada_id, "name": "@ada"}]},
        });
        assert_eq!(peer.send(&inbox, &reply.to_string(), Tamper::None).await, StatusCode::ACCEPTED);
        let (_, thread) = api.get(&format!("/api/v1/conversations/{handle}")).await;
        let bodies: Vec<&str> = thread.as_array().unwrap().iter().map(|m| m["body"].as_str().unwrap()).collect();
        assert_eq!(bodies, ["Bring your code", "Will do, thanks"], "[{}] {thread}", db.backend);
    }
}
