//! Every activity a learner's server sends has its effect, on SQLite and
//! PostgreSQL: a mention of an advisor in a titled post (`Article`, as
//! Friendica, WordPress and Lemmy write) is a request whose note has the
//! title and no mentions; an `Update` of that post changes the waiting
//! request's note (once); an `Update` of the actor refreshes the stored
//! profile at once; a `Delete` of the actor removes it as a follower,
//! cancels its requests with the reason and gives up what waits for its
//! inbox; a `Delete` from someone never seen fetches nothing.

use crate::federation_inbox::{followers, peer_and_server, until_received};
use crate::support;

use reqwest::StatusCode;
use serde_json::{Value, json};
use support::peer::Tamper;
use support::test_databases;

#[tokio::test]
async fn posts_edits_profile_updates_and_account_deletions_have_their_effect() {
    for db in test_databases().await {
        let (peer, server) = peer_and_server(&db).await;
        let ada = server.create_advisor("ada").await;
        let api = server.api_as(&ada).await;
        let inbox = server.url("/inbox");
        let ada_id = server.url("/users/ada");
        let day = (server.now() + jiff::SignedDuration::from_hours(48)).to_zoned(jiff::tz::TimeZone::UTC).date();
        let (status, block) = api
            .post(
                "/api/v1/blocks",
                json!({"start": format!("{day}T10:00"), "end": format!("{day}T10:30"), "timezone": "UTC",
                       "min_notice_minutes": 0}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{block}");
        let follow = json!({"@context": "https://www.w3.org/ns/activitystreams",
            "id": format!("{}/follows/1", peer.base), "type": "Follow", "actor": peer.actor, "object": ada_id});
        assert_eq!(peer.send(&inbox, &follow.to_string(), Tamper::None).await, StatusCode::ACCEPTED);
        assert_eq!(followers(&server, "ada").await, 1);

        // A titled post mentioning Ada in the middle of its text: a request.
        let post_id = format!("{}/posts/1", peer.base);
        let post = |content: &str| {
            json!({"id": post_id, "type": "Article", "attributedTo": peer.actor, "to": [ada_id], "cc": [],
                   "name": "Getting started with Rust",
                   "content": format!("<p>Hello <a href=\"{ada_id}\" class=\"u-url mention\">@ada</a>, {content}</p>"),
                   "tag": [{"type": "Mention", "href": ada_id, "name": "@ada"}]})
        };
        let create = json!({"@context": "https://www.w3.org/ns/activitystreams",
            "id": format!("{post_id}/activity"), "type": "Create", "actor": peer.actor, "to": [ada_id],
            "object": post("could we look at my borrow checker errors?")});
        assert_eq!(peer.send(&inbox, &create.to_string(), Tamper::None).await, StatusCode::ACCEPTED);
        let session = only_session(&api).await;
        assert_eq!(session["status"], "requested", "[{}] {session}", db.backend);
        let note = session["note"].as_str().unwrap();
        assert!(note.starts_with("Getting started with Rust\n\nHello"), "[{}] {note}", db.backend);
        assert!(note.contains("borrow checker") && !note.contains("@ada"), "[{}] {note}", db.backend);
        // The learner is told it was received.
        until_received(&server, &peer, "the acknowledgement", |a| {
            a["object"]["inReplyTo"] == post_id.as_str()
                && a["object"]["content"].as_str().is_some_and(|t| t.contains("Received"))
        })
        .await;

        // They edit the post: the waiting request takes the new text, once.
        let update = |n: u32, content: &str| {
            json!({"@context": "https://www.w3.org/ns/activitystreams",
                "id": format!("{post_id}/updates/{n}"), "type": "Update", "actor": peer.actor, "to": [ada_id],
                "object": post(content)})
            .to_string()
        };
        assert_eq!(peer.send(&inbox, &update(1, "lifetimes, really."), Tamper::None).await, StatusCode::ACCEPTED);
        let note = only_session(&api).await["note"].as_str().unwrap().to_string();
        assert!(note.ends_with("Hello lifetimes, really."), "[{}] {note}", db.backend);
        let replay = update(1, "a replayed edit");
        assert_eq!(peer.send(&inbox, &replay, Tamper::None).await, StatusCode::ACCEPTED);
        assert_eq!(only_session(&api).await["note"], note.as_str(), "a replay changes nothing [{}]", db.backend);
        // Someone else's post cannot be edited through this actor.
        let foreign = json!({"@context": "https://www.w3.org/ns/activitystreams",
            "id": format!("{post_id}/updates/9"), "type": "Update", "actor": peer.actor,
            "object": {"id": "http://elsewhere.test/posts/1", "type": "Note", "content": "mine now"}})
        .to_string();
        let refusal = refusal_of(&peer, &inbox, &foreign).await;
        assert!(refusal.contains("not the actor's own"), "[{}] {refusal}", db.backend);
        assert!(!refusal.contains("private"), "[{}] {refusal}", db.backend);

        // They rename themselves: the stored profile follows at once.
        peer.rename("Masto Renamed");
        let profile_update = json!({"@context": "https://www.w3.org/ns/activitystreams",
            "id": format!("{}/updates/profile-1", peer.actor), "type": "Update", "actor": peer.actor,
            "object": {"id": peer.actor, "type": "Person", "name": "Masto Renamed"}});
        assert_eq!(peer.send(&inbox, &profile_update.to_string(), Tamper::None).await, StatusCode::ACCEPTED);
        let handle = format!("masto@{}", peer.base.trim_start_matches("http://"));
        let (status, profile) = api.get(&format!("/api/v1/advisors/{handle}")).await;
        assert_eq!(status, StatusCode::OK, "{profile}");
        assert_eq!(profile["display_name"], "Masto Renamed", "[{}] {profile}", db.backend);
        assert_eq!(only_session(&api).await["learner"].as_str().map(|l| l.contains("masto")), Some(true));

        // Someone never seen deletes their account: accepted, nothing fetched.
        let ghost = format!("{}/users/ghost", peer.base);
        let ghost_delete = json!({"@context": "https://www.w3.org/ns/activitystreams",
            "id": format!("{ghost}#delete"), "type": "Delete", "actor": ghost, "object": ghost,
            "to": ["https://www.w3.org/ns/activitystreams#Public"]});
        let headers = peer.sign_as(&ghost, &inbox, &ghost_delete.to_string(), "application/activity+json");
        let (status, _) = peer.post(&inbox, &ghost_delete.to_string(), headers).await;
        assert_eq!(status, StatusCode::ACCEPTED);
        assert!(!peer.misses.lock().unwrap().iter().any(|p| p.contains("ghost")), "the ghost was fetched");

        // Something still waits to go to their inbox (a retry, say) …
        let pending = format!(
            "INSERT INTO deliveries (activity_id, sender_id, inbox, body, created_at, attempts, next_attempt_at, domain) \
             VALUES ('{base}/waiting', {ada}, '{actor}/inbox', '{{}}', 0, 1, {later}, '{domain}')",
            base = server.url("/activities"),
            ada = ada.id,
            actor = peer.actor,
            later = (server.now() + jiff::SignedDuration::from_hours(1)).as_millisecond(),
            domain = peer.base.trim_start_matches("http://"),
        );
        server.execute(&pending).await;
        // … and they delete their account.
        let delete = json!({"@context": "https://www.w3.org/ns/activitystreams",
            "id": format!("{}#delete", peer.actor), "type": "Delete", "actor": peer.actor, "object": peer.actor,
            "to": ["https://www.w3.org/ns/activitystreams#Public"]});
        assert_eq!(peer.send(&inbox, &delete.to_string(), Tamper::None).await, StatusCode::ACCEPTED);
        assert_eq!(followers(&server, "ada").await, 0, "[{}] still a follower", db.backend);
        let session = only_session(&api).await;
        assert_eq!(session["status"], "cancelled", "[{}] {session}", db.backend);
        let overview = server.store.instances_overview().await.unwrap();
        let theirs = overview.iter().find(|i| peer.base.ends_with(&i.domain)).expect("the peer's instance");
        assert_eq!(theirs.pending, 0, "[{}] deliveries still wait for a deleted account: {theirs:?}", db.backend);
        assert!(theirs.given_up >= 1, "[{}] {theirs:?}", db.backend);
        // A replay of the deletion changes nothing and is still accepted.
        assert_eq!(peer.send(&inbox, &delete.to_string(), Tamper::None).await, StatusCode::ACCEPTED);
    }
}

/// Ada's one session (the test makes exactly one).
async fn only_session(api: &support::api::Api) -> Value {
    let (status, sessions) = api.get("/api/v1/me/sessions").await;
    assert_eq!(status, StatusCode::OK, "{sessions}");
    let sessions = sessions.as_array().unwrap();
    assert_eq!(sessions.len(), 1, "{sessions:?}");
    sessions[0].clone()
}

/// The status and body of the inbox's answer to a signed `body`, as text.
async fn refusal_of(peer: &support::peer::Peer, inbox: &str, body: &str) -> String {
    let mut request = reqwest::Client::new().post(inbox).body(body.to_string());
    for (name, value) in peer.sign(inbox, body) {
        request = request.header(name, value);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    assert!(status.is_client_error(), "{status}");
    format!("{status} {}", response.text().await.unwrap())
}
