//! Real payloads of other fediverse servers (`tests/fixtures/<server>/`,
//! sources in `tests/fixtures/README.md`) driven through the signed inbox,
//! on SQLite and PostgreSQL. The peer plays that server: it serves the
//! server's actor document (ids rewritten to the peer, the peer's key
//! published in it) and signs each activity with the key id that server
//! uses. Per server:
//!
//! - its actor document is fetched, parsed and stored (the sender of the
//!   first activity);
//! - its `Follow` (or, where we have none of that server, a plain one) makes
//!   it a follower and gets our `Accept`, with the whole `Follow` embedded;
//! - its reply to an advisor's `Event`, and its post mentioning an advisor,
//!   become pending requests, and the acknowledgement goes back to it by
//!   direct message;
//! - its `Update`, `Delete` and `Undo` shapes are applied (an `Undo` of the
//!   follow removes the follower, a `Delete` of the actor cancels what it
//!   asked for) or accepted and ignored.

use crate::federation_inbox::{followers, until_received};
use crate::support;

use std::net::{IpAddr, Ipv4Addr};

use reqwest::StatusCode;
use serde_json::{Value, json};
use support::peer::{Peer, start_peer};
use support::{TestServer, test_databases};

/// How a note fixture is sent.
#[derive(Clone, Copy, PartialEq)]
enum Shape {
    /// A `Create` as the server sends it.
    Create,
    /// The bare object (the fixture is a fetched object): wrapped in a
    /// `Create` as that server wraps it.
    Object,
}

/// One server's fixtures.
struct Server {
    dir: &'static str,
    actor: &'static str,
    follow: Option<&'static str>,
    /// The note that becomes a request: its file, how it is sent, and
    /// whether it also serves as a mention (it tags or addresses the advisor).
    request: Option<(&'static str, Shape, bool)>,
    /// Further activities, sent in order: (file, what must hold after).
    then: &'static [(&'static str, After)],
}

#[derive(Clone, Copy, PartialEq, Debug)]
enum After {
    /// Accepted; nothing about follows or requests changed.
    Ignored,
    /// The follower is gone.
    Unfollowed,
    /// Taken as a request for a session and answered by direct message
    /// (the answer contains the text), with no new request.
    Answered(&'static str),
    /// The actor is gone: not a follower, and its waiting requests cancelled.
    ActorDeleted,
    /// A message to Ada (no new request): her conversation with the sender
    /// ends with the text.
    Message(&'static str),
}

const OURS: &str = "https://officehours.example";
const THEIRS: &str = "https://learner.example";
const EVENT: &str = "https://officehours.example/events/EVENT";

/// A fixture with its ids rewritten: the learner's server is the peer, ours
/// is the test server, the replied-to event is `event`.
fn fixture(dir: &str, file: &str, peer: &Peer, server: &TestServer, event: &str) -> Value {
    let path = format!("{}/tests/fixtures/{dir}/{file}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let text = text.replace(EVENT, event).replace(THEIRS, &peer.base).replace(OURS, &server.base);
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The advisor's pending requests (status `requested`).
async fn pending(api: &support::api::Api) -> Vec<Value> {
    let (_, sessions) = api.get("/api/v1/me/sessions").await;
    sessions.as_array().unwrap().iter().filter(|s| s["status"] == "requested").cloned().collect()
}

/// An advisor with a listed block two days ahead (ten-minute slots), and
/// the `Event` published for it.
async fn advisor_with_event(server: &TestServer, name: &str) -> (support::api::Api, String) {
    let advisor = server.create_advisor(name).await;
    let api = server.api_as(&advisor).await;
    let day = (server.now() + jiff::SignedDuration::from_hours(48)).to_zoned(jiff::tz::TimeZone::UTC).date();
    let (status, block) = api
        .post(
            "/api/v1/blocks",
            json!({"start": format!("{day}T10:00"), "end": format!("{day}T10:30"), "timezone": "UTC",
                   "min_notice_minutes": 0}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{block}");
    server.node.run_jobs_once().await;
    (api, server.url(&format!("/events/{}/{day}", block["id"])))
}

/// Signs `body` as the server's actor (with its key id) and posts it to our
/// shared inbox.
async fn send(peer: &Peer, server: &TestServer, key_id: &str, body: &Value) -> StatusCode {
    let inbox = server.url("/inbox");
    let body = body.to_string();
    let headers = peer.sign_keyed(key_id, &inbox, &body, "application/activity+json");
    peer.post(&inbox, &body, headers).await.0
}

/// Whether `a` is our direct message acknowledging the note `note`.
fn acknowledges(a: &Value, note: &str, actor: &str) -> bool {
    a["type"] == "Create"
        && a["object"]["type"] == "Note"
        && a["object"]["inReplyTo"] == note
        && a["to"] == json!([actor])
        && a["object"]["content"].as_str().is_some_and(|c| c.contains("Received"))
}

/// Drives one server's fixtures through the inbox on both databases.
async fn check(spec: Server) {
    for db in test_databases().await {
        let peer = start_peer().await;
        let server = TestServer::start_with(&db, |c| {
            c.federation_test_mode = true;
            c.federation_test_hosts = vec![("peer.test".into(), IpAddr::V4(Ipv4Addr::LOCALHOST))];
            c.federation_retry_base_secs = 1;
        })
        .await;
        let tag = format!("[{} on {}]", spec.dir, db.backend);
        let (ada, ada_event) = advisor_with_event(&server, "ada").await;
        let (abe, _) = advisor_with_event(&server, "abe").await;

        // The actor document, served by the peer as that server serves it.
        let document = fixture(spec.dir, spec.actor, &peer, &server, &ada_event);
        let actor = document["id"].as_str().unwrap().to_string();
        let key_id = peer.serve_actor(document.clone());

        // Follow: that server's own, else a plain one; our Accept embeds it.
        let follow = match spec.follow {
            Some(file) => fixture(spec.dir, file, &peer, &server, &ada_event),
            None => {
                json!({"@context": "https://www.w3.org/ns/activitystreams", "id": format!("{}/follows/1", peer.base),
                           "type": "Follow", "actor": actor, "object": server.url("/users/ada")})
            }
        };
        assert_eq!(send(&peer, &server, &key_id, &follow).await, StatusCode::ACCEPTED, "{tag} the Follow");
        let stored = server.store.remote_actor(&actor).await.unwrap().unwrap_or_else(|| panic!("{tag} not stored"));
        assert_eq!(stored.username, document["preferredUsername"].as_str().unwrap(), "{tag}");
        assert_eq!(Some(stored.inbox.as_str()), document["inbox"].as_str(), "{tag}");
        assert_eq!(followers(&server, "ada").await, 1, "{tag}");
        let follow_id = follow["id"].as_str().unwrap().to_string();
        let accept = until_received(&server, &peer, "the Accept", |a| a["type"] == "Accept").await;
        assert_eq!(accept["object"]["id"], follow_id.as_str(), "{tag} {accept}");
        assert_eq!(accept["object"]["type"], "Follow", "{tag} the whole Follow is embedded: {accept}");
        assert_eq!(accept["object"]["actor"], actor.as_str(), "{tag} {accept}");

        if let Some((file, shape, mentions)) = spec.request {
            let wrap = |mut note: Value| {
                if shape == Shape::Object {
                    let id = format!("{}/activity", note["id"].as_str().unwrap());
                    note = json!({"@context": note["@context"].clone(), "id": id, "type": "Create", "actor": actor,
                                  "to": note["to"].clone(), "cc": note["cc"].clone(), "object": note});
                }
                note
            };
            // A reply to Ada's event: a pending request, acknowledged.
            // Another post on the same server: new ids.
            let new_id = |v: &Value, n: u8| format!("{}-{n}", v.as_str().unwrap().trim_end_matches('/'));
            let mut reply = wrap(fixture(spec.dir, file, &peer, &server, &ada_event));
            let in_reply_to = reply["object"]["inReplyTo"].clone();
            if in_reply_to.is_null() {
                // A top-level post in the fixture: made a reply, as the
                // server sends replies.
                reply["object"]["inReplyTo"] = json!(ada_event);
            } else if in_reply_to != json!(ada_event) {
                // A reply in the sender's own thread: made a reply to the
                // event, as another post (the fixture itself may follow).
                reply["object"]["inReplyTo"] = json!(ada_event);
                reply["id"] = json!(new_id(&reply["id"], 1));
                reply["object"]["id"] = json!(new_id(&reply["object"]["id"], 1));
            }
            let note_id = reply["object"]["id"].as_str().unwrap().to_string();
            assert_eq!(send(&peer, &server, &key_id, &reply).await, StatusCode::ACCEPTED, "{tag} the reply");
            let requests = pending(&ada).await;
            assert_eq!(requests.len(), 1, "{tag} the reply is a pending request: {requests:?}");
            until_received(&server, &peer, "the acknowledgement of the reply", |a| acknowledges(a, &note_id, &actor))
                .await;

            // The same post mentioning Abe, not a reply: a request too.
            if mentions {
                let ada_id = server.url("/users/ada");
                let text = fixture(spec.dir, file, &peer, &server, &ada_event).to_string();
                let mut mention =
                    wrap(serde_json::from_str(&text.replace(&ada_id, &server.url("/users/abe"))).unwrap());
                mention["object"].as_object_mut().unwrap().remove("inReplyTo");
                mention["id"] = json!(new_id(&mention["id"], 2));
                mention["object"]["id"] = json!(new_id(&mention["object"]["id"], 2));
                let mention_id = mention["object"]["id"].as_str().unwrap().to_string();
                assert_eq!(send(&peer, &server, &key_id, &mention).await, StatusCode::ACCEPTED, "{tag} the mention");
                let requests = pending(&abe).await;
                assert_eq!(requests.len(), 1, "{tag} the mention is a pending request: {requests:?}");
                until_received(&server, &peer, "the acknowledgement of the mention", |a| {
                    acknowledges(a, &mention_id, &actor)
                })
                .await;
            }
        }

        for (file, after) in spec.then {
            let before = (pending(&ada).await.len(), pending(&abe).await.len(), followers(&server, "ada").await);
            let activity = fixture(spec.dir, file, &peer, &server, &ada_event);
            let status = send(&peer, &server, &key_id, &activity).await;
            assert_eq!(status, StatusCode::ACCEPTED, "{tag} {file}");
            let now = (pending(&ada).await.len(), pending(&abe).await.len(), followers(&server, "ada").await);
            match after {
                After::Ignored => assert_eq!(now, before, "{tag} {file} changed something"),
                After::Unfollowed => assert_eq!(now, (before.0, before.1, 0), "{tag} {file}"),
                After::Answered(text) => {
                    assert_eq!(now, before, "{tag} {file} changed requests or follows");
                    let object = activity["object"]["id"].as_str().unwrap().to_string();
                    let answer = until_received(&server, &peer, "the answer", |a| {
                        a["type"] == "Create" && a["object"]["inReplyTo"] == object.as_str()
                    })
                    .await;
                    let content = answer["object"]["content"].as_str().unwrap_or_default();
                    assert!(content.contains(text), "{tag} {file}: {content}");
                    assert_eq!(answer["to"], json!([actor]), "{tag} to the sender alone");
                }
                After::Message(text) => {
                    assert_eq!(now, before, "{tag} {file} changed requests or follows");
                    let (_, conversations) = ada.get("/api/v1/me/conversations").await;
                    assert!(
                        conversations.as_array().unwrap().iter().any(|c| c["last_message"] == *text),
                        "{tag} {file}: {conversations}"
                    );
                }
                After::ActorDeleted => {
                    assert!(before.0 + before.1 > 0, "{tag} nothing was waiting before {file}");
                    assert_eq!(now, (0, 0, 0), "{tag} {file}");
                }
            }
        }
    }
}

#[tokio::test]
async fn pleroma() {
    check(Server {
        dir: "pleroma",
        actor: "person.json",
        follow: Some("follow.json"),
        request: Some(("create_note.json", Shape::Create, true)),
        then: &[("delete.json", After::Ignored)],
    })
    .await;
}

#[tokio::test]
async fn akkoma() {
    check(Server {
        dir: "pleroma",
        actor: "person.json",
        follow: None,
        request: Some(("akkoma_reply.json", Shape::Create, true)),
        then: &[],
    })
    .await;
}

#[tokio::test]
async fn gotosocial() {
    check(Server {
        dir: "gotosocial",
        actor: "person.json",
        follow: None,
        request: Some(("create_reply.json", Shape::Create, true)),
        then: &[],
    })
    .await;
}

#[tokio::test]
async fn friendica() {
    check(Server {
        dir: "friendica",
        actor: "person.json",
        follow: None,
        request: Some(("create_note.json", Shape::Create, true)),
        then: &[("update_note.json", After::Ignored), ("delete.json", After::Ignored)],
    })
    .await;
}

#[tokio::test]
async fn peertube() {
    check(Server {
        dir: "peertube",
        actor: "person.json",
        follow: None,
        request: Some(("note.json", Shape::Object, true)),
        then: &[],
    })
    .await;
}

#[tokio::test]
async fn lemmy() {
    check(Server {
        dir: "lemmy",
        actor: "person.json",
        follow: Some("follow.json"),
        // Lemmy tags mentions on the activity, not the comment: a reply only.
        request: Some(("create_comment.json", Shape::Create, false)),
        then: &[
            // A chat message mentioning Ada asks like a note: the first open
            // slot is the one the comment already asked for.
            ("create_private_message.json", After::Answered("already asked for this slot")),
            ("undo_follow.json", After::Unfollowed),
            ("delete_user.json", After::ActorDeleted),
        ],
    })
    .await;
}

#[tokio::test]
async fn hubzilla() {
    check(Server {
        dir: "hubzilla",
        actor: "person.json",
        follow: None,
        request: Some(("create_note.json", Shape::Create, false)),
        then: &[],
    })
    .await;
}

#[tokio::test]
async fn wordpress() {
    check(Server {
        dir: "wordpress",
        actor: "person.json",
        follow: None,
        request: Some(("note.json", Shape::Object, false)),
        then: &[],
    })
    .await;
}

#[tokio::test]
async fn gnu_social() {
    check(Server {
        dir: "gnusocial",
        actor: "person.json",
        follow: None,
        request: Some(("create_note.json", Shape::Create, false)),
        then: &[],
    })
    .await;
}

#[tokio::test]
async fn ghost() {
    check(Server {
        dir: "ghost",
        actor: "person.json",
        follow: Some("follow.json"),
        // Compacted JSON-LD: `to` a string (`as:Public`), one `tag` object.
        request: Some(("create_note_with_mention.json", Shape::Create, true)),
        then: &[("undo_follow.json", After::Unfollowed)],
    })
    .await;
}

#[tokio::test]
async fn misskey() {
    check(Server {
        dir: "misskey",
        actor: "person.json",
        follow: Some("follow.json"),
        // A reply that mentions the advisor, to the sender's followers with
        // the public and the advisor in `cc`, `_misskey_content` and
        // `source` beside the HTML.
        request: Some(("create_reply.json", Shape::Create, true)),
        // Deleting the note leaves the request (the learner withdraws on
        // the request's page or by `Undo`); the Undo embeds the whole Follow.
        then: &[("delete_note.json", After::Ignored), ("undo_follow.json", After::Unfollowed)],
    })
    .await;
}

#[tokio::test]
async fn sharkey() {
    check(Server {
        dir: "sharkey",
        actor: "person.json",
        follow: Some("follow.json"),
        // A direct message (to the advisor alone, `cc` empty): as a reply to
        // the event and as a new mention, a request; as it was sent, in the
        // sender's own thread, a message to the advisor.
        request: Some(("direct_note.json", Shape::Create, true)),
        then: &[("direct_note.json", After::Message("2"))],
    })
    .await;
}

#[tokio::test]
async fn pixelfed() {
    check(Server {
        dir: "pixelfed",
        actor: "person.json",
        follow: None,
        // A photo comment: `tag` one `Mention` object, the mentioned actor
        // in `cc`, the text with no mention link in it.
        request: Some(("create_reply.json", Shape::Create, true)),
        then: &[],
    })
    .await;
}

#[tokio::test]
async fn mitra() {
    check(Server {
        dir: "mitra",
        actor: "person.json",
        // Addressed to the advisor too (`to`), as Mitra's Follow is.
        follow: Some("follow.json"),
        // A reply in Mitra's "conversation" visibility: `to` the mentioned
        // actor and their followers, `cc` empty; the actor's keys also as
        // Multikeys (an RSA one under the same id as `publicKey`).
        request: Some(("create_reply.json", Shape::Create, true)),
        then: &[],
    })
    .await;
}

#[tokio::test]
async fn takahe() {
    check(Server {
        dir: "takahe",
        actor: "person.json",
        follow: None,
        // Compacted by pyld: `to`, `cc` and `tag` single values, the public
        // as `as:Public`; ids ending in `/` under `/@name@domain/`.
        request: Some(("create_reply.json", Shape::Create, true)),
        then: &[],
    })
    .await;
}

#[tokio::test]
async fn discourse() {
    check(Server { dir: "discourse", actor: "person.json", follow: None, request: None, then: &[] }).await;
}

/// Posts `body` signed by the peer's own actor; the status and the error text.
async fn refused(peer: &Peer, server: &TestServer, body: &Value) -> (StatusCode, String) {
    let inbox = server.url("/inbox");
    let body = body.to_string();
    officehours::install_crypto();
    let mut request = reqwest::Client::new().post(&inbox).body(body.clone());
    for (name, value) in peer.sign(&inbox, &body) {
        request = request.header(name, value);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    let text: Value = response.json().await.unwrap_or(Value::Null);
    (status, text["error"].as_str().unwrap_or_default().to_string())
}

#[tokio::test]
async fn payloads_we_cannot_use_are_refused_with_what_is_missing_and_change_nothing() {
    for db in test_databases().await {
        let peer = start_peer().await;
        let server = TestServer::start_with(&db, |c| {
            c.federation_test_mode = true;
            c.federation_test_hosts = vec![("peer.test".into(), IpAddr::V4(Ipv4Addr::LOCALHOST))];
        })
        .await;
        let (ada, event) = advisor_with_event(&server, "ada").await;
        let ada_id = server.url("/users/ada");
        let create = |n: u32, object: Value| {
            json!({"@context": "https://www.w3.org/ns/activitystreams", "id": format!("{}/creates/{n}", peer.base),
                   "type": "Create", "actor": peer.actor, "object": object})
        };
        // A reply without any content: nothing to ask with.
        let empty = create(
            1,
            json!({"id": format!("{}/notes/1", peer.base), "type": "Note", "attributedTo": peer.actor,
                                      "inReplyTo": event, "tag": {"type": "Mention", "href": ada_id}}),
        );
        let (status, text) = refused(&peer, &server, &empty).await;
        assert_eq!(
            (status, text.as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, "The note has no content."),
            "[{}]",
            db.backend
        );
        // A note without an id (refused by the origin checks, before it is read).
        let anonymous = create(2, json!({"type": "Note", "content": "14:00 please", "inReplyTo": event}));
        let (status, text) = refused(&peer, &server, &anonymous).await;
        assert_eq!((status, text.as_str()), (StatusCode::UNPROCESSABLE_ENTITY, "Create without an object."));
        // An activity without an actor, or without a type.
        let (status, text) = refused(
            &peer,
            &server,
            &json!({"id": format!("{}/follows/1", peer.base), "type": "Follow", "object": ada_id}),
        )
        .await;
        assert_eq!((status, text.as_str()), (StatusCode::UNPROCESSABLE_ENTITY, "The activity has no actor."));
        let (status, text) = refused(
            &peer,
            &server,
            &json!({"id": format!("{}/x/1", peer.base), "actor": peer.actor, "object": ada_id}),
        )
        .await;
        assert_eq!((status, text.as_str()), (StatusCode::UNPROCESSABLE_ENTITY, "The activity has no type."));
        assert!(pending(&ada).await.is_empty(), "[{}] nothing was requested", db.backend);
        assert_eq!(followers(&server, "ada").await, 0);

        // A sender whose actor document has no inbox: refused, naming it.
        let mut document = fixture("lemmy", "person.json", &peer, &server, &event);
        document.as_object_mut().unwrap().remove("inbox");
        let key_id = peer.serve_actor(document.clone());
        let follow = json!({"id": format!("{}/follows/2", peer.base), "type": "Follow",
                            "actor": document["id"], "object": ada_id});
        let inbox = server.url("/inbox");
        let body = follow.to_string();
        let response = reqwest::Client::new()
            .post(&inbox)
            .body(body.clone())
            .headers(
                peer.sign_keyed(&key_id, &inbox, &body, "application/activity+json")
                    .into_iter()
                    .map(|(n, v)| (reqwest::header::HeaderName::from_static(n), v.parse().unwrap()))
                    .collect(),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY, "[{}]", db.backend);
        let text: Value = response.json().await.unwrap();
        assert!(text["error"].as_str().unwrap().starts_with("The actor has no inbox."), "{text}");
        assert_eq!(followers(&server, "ada").await, 0);
    }
}
