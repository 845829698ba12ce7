//! RFC 9421 HTTP Message Signatures against the real server, on SQLite and
//! PostgreSQL: a peer signs its activities with RFC 9421 (RSA and Ed25519,
//! the Ed25519 key published as a FEP-521a Multikey) and the inbox applies
//! them; tampered ones are refused with their reason and change nothing.
//! Our deliveries and our fetches try RFC 9421 first, fall back to
//! draft-cavage at once on a 401 (the double-knock), and remember per
//! instance what worked.

use crate::federation_inbox::{followers, peer_and_server};
use crate::support;

use officehours::domain::federation::SignatureStyle;
use reqwest::StatusCode;
use serde_json::{Value, json};
use support::peer::{
    FetchPolicy, Peer, Rfc9421, Tamper, satisfies_mastodon, satisfies_rfc9421, satisfies_rfc9421_get, start_peer,
};
use support::{TestServer, test_databases};

async fn get_json(url: &str) -> Value {
    let response = reqwest::Client::new().get(url).header("accept", "application/activity+json").send().await.unwrap();
    serde_json::from_str(&response.text().await.unwrap()).unwrap()
}

/// POSTs with exactly `headers`: the status and the error sentence.
async fn post(inbox: &str, body: &str, headers: Vec<(&'static str, String)>) -> (StatusCode, String) {
    let mut request = reqwest::Client::new().post(inbox).body(body.to_string());
    for (name, value) in headers {
        request = request.header(name, value);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    let text = response.text().await.unwrap();
    let message = serde_json::from_str::<Value>(&text).ok().and_then(|v| v["error"].as_str().map(str::to_string));
    (status, message.unwrap_or(text))
}

/// Runs the background jobs until the peer has received `n` activities.
async fn until_received(server: &TestServer, peer: &Peer, n: usize) {
    for _ in 0..200 {
        if peer.received.lock().unwrap().len() >= n {
            return;
        }
        server.node.run_jobs_once().await;
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("the peer received {:?}", peer.received.lock().unwrap());
}

fn follow(peer: &Peer, n: u32, object: &str) -> String {
    json!({
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": format!("{}/follows/{n}", peer.base), "type": "Follow", "actor": peer.actor, "object": object,
    })
    .to_string()
}

#[tokio::test]
async fn rfc9421_signed_activities_take_effect_and_tampered_ones_are_refused_without_effect() {
    for db in test_databases().await {
        let (peer, server) = peer_and_server(&db).await;
        let backend = db.backend;
        server.create_advisor("ada").await;
        let ada = server.url("/users/ada");
        let inbox = server.url("/inbox");
        let now = || server.now().as_second();
        let body = follow(&peer, 1, &ada);
        let sign = |body: &str, how: Rfc9421, created: i64| peer.sign_rfc9421(&peer.actor, &inbox, body, how, created);

        // Refused before anything is fetched: a body that does not match
        // its digest, a created time an hour old or missing, an algorithm
        // we do not take.
        let (status, why) = post(&inbox, &body.replace("Follow", "Folloo"), sign(&body, Rfc9421::Rsa, now())).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "[{backend}] {why}");
        assert!(why.contains("does not match the body"), "[{backend}] {why}");
        let (status, why) = post(&inbox, &body, sign(&body, Rfc9421::Rsa, now() - 3601)).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "[{backend}] {why}");
        assert!(why.contains("more than an hour ago"), "[{backend}] {why}");
        let without_created: Vec<_> = sign(&body, Rfc9421::Rsa, now())
            .into_iter()
            .map(|(name, value)| (name, value.replace(&format!(";created={}", now()), "")))
            .collect();
        let (status, why) = post(&inbox, &body, without_created).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "[{backend}] {why}");
        assert!(why.contains("no created time"), "[{backend}] {why}");
        let hmac: Vec<_> = sign(&body, Rfc9421::Rsa, now())
            .into_iter()
            .map(|(name, value)| (name, value.replace("rsa-v1_5-sha256", "hmac-sha256")))
            .collect();
        let (status, why) = post(&inbox, &body, hmac).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "[{backend}] {why}");
        assert!(why.contains("an algorithm we do not take"), "[{backend}] {why}");
        assert!(peer.fetches.lock().unwrap().is_empty(), "[{backend}] nothing fetched for those");

        // A key id of another actor on the same server: refused.
        let other = format!("{}/users/other", peer.base);
        let (status, why) = post(&inbox, &body, peer.sign_rfc9421(&other, &inbox, &body, Rfc9421::Rsa, now())).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "[{backend}] {why}");
        assert!(why.contains("not one of the actor's keys"), "[{backend}] {why}");
        // Two signatures, the second bad (made for another body): refused.
        let mut two = sign(&body, Rfc9421::Rsa, now());
        let other_body = follow(&peer, 9, &ada);
        let bad = peer.sign_rfc9421(&peer.actor, &inbox, &other_body, Rfc9421::Ed25519, now());
        for (name, value) in two.iter_mut() {
            let extra = bad.iter().find(|(n, _)| n == name).map(|(_, v)| v.replace("sig1=", "sig2=")).unwrap();
            if *name == "signature-input" || *name == "signature" {
                *value = format!("{value}, {extra}");
            }
        }
        let (status, why) = post(&inbox, &body, two).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "[{backend}] {why}");
        assert!(why.contains("sig2 does not verify"), "[{backend}] {why}");
        assert_eq!(followers(&server, "ada").await, 0, "[{backend}] none of those took effect");

        // Signed right (RSA): the follow takes effect.
        let (status, why) = post(&inbox, &body, sign(&body, Rfc9421::Rsa, now())).await;
        assert_eq!(status, StatusCode::ACCEPTED, "[{backend}] {why}");
        assert_eq!(followers(&server, "ada").await, 1);

        // Our Accept goes out: RFC 9421 first, refused by this peer (it
        // reads only draft-cavage for now), then draft-cavage at once.
        until_received(&server, &peer, 1).await;
        let person = get_json(&ada).await;
        let (headers, accept) = peer.requests.lock().unwrap()[0].clone();
        satisfies_mastodon(&headers, &accept, "post", "/users/masto/inbox", &person);
        assert_eq!(peer.knocks.lock().unwrap().len(), 1, "[{backend}] one RFC 9421 knock");
        let domain = peer.base.trim_start_matches("http://");
        assert_eq!(server.store.instance_signatures(domain).await.unwrap(), Some(SignatureStyle::Cavage));

        // The Ed25519 Multikey the peer publishes is read and kept: an
        // `Undo` signed with it takes effect.
        let undo = json!({
            "@context": "https://www.w3.org/ns/activitystreams",
            "id": format!("{}/undos/1", peer.base), "type": "Undo", "actor": peer.actor,
            "object": {"id": format!("{}/follows/1", peer.base), "type": "Follow", "actor": peer.actor, "object": ada},
        })
        .to_string();
        let (status, why) = post(&inbox, &undo, sign(&undo, Rfc9421::Ed25519, now())).await;
        assert_eq!(status, StatusCode::ACCEPTED, "[{backend}] {why}");
        assert_eq!(followers(&server, "ada").await, 0);
        let stored = server.store.remote_actor(&peer.actor).await.unwrap().unwrap();
        assert_eq!(stored.ed25519_key_id.as_deref(), Some(format!("{}#ed25519-key", peer.actor).as_str()));
        assert_eq!(stored.public_key_id, format!("{}#main-key", peer.actor));

        // A new Ed25519 key is fetched once when the stored copy is old and
        // does not verify (as for RSA keys).
        peer.rotate_ed25519_key();
        server.advance(jiff::SignedDuration::from_secs(60));
        let fetched = peer.fetches.lock().unwrap().len();
        let again = follow(&peer, 2, &ada);
        let (status, why) = post(&inbox, &again, sign(&again, Rfc9421::Ed25519, now())).await;
        assert_eq!(status, StatusCode::ACCEPTED, "[{backend}] {why}");
        assert_eq!(peer.fetches.lock().unwrap().len(), fetched + 1, "[{backend}] fetched once");
        assert_eq!(followers(&server, "ada").await, 1);

        // The next Accept goes straight out with draft-cavage: no new knock.
        until_received(&server, &peer, 2).await;
        assert_eq!(peer.knocks.lock().unwrap().len(), 1, "[{backend}] remembered");
    }
}

#[tokio::test]
async fn deliveries_go_rfc9421_to_an_instance_that_takes_it_and_our_actors_publish_a_multikey() {
    for db in test_databases().await {
        let (peer, server) = peer_and_server(&db).await;
        let backend = db.backend;
        peer.accept_rfc9421();
        server.create_advisor("ada").await;
        let ada = server.url("/users/ada");
        let inbox = server.url("/inbox");
        let body = follow(&peer, 1, &ada);
        let headers = peer.sign(&inbox, &body);
        let (status, why) = post(&inbox, &body, headers).await;
        assert_eq!(status, StatusCode::ACCEPTED, "[{backend}] draft-cavage still works: {why}");

        until_received(&server, &peer, 1).await;
        let person = get_json(&ada).await;
        let (headers, accept) = peer.requests.lock().unwrap()[0].clone();
        satisfies_rfc9421(&headers, &accept, &format!("{}/users/masto/inbox", peer.base), &person);
        assert!(peer.knocks.lock().unwrap().is_empty());
        let domain = peer.base.trim_start_matches("http://");
        assert_eq!(server.store.instance_signatures(domain).await.unwrap(), Some(SignatureStyle::Rfc9421));

        // FEP-521a: the actor's Ed25519 key as an assertionMethod Multikey.
        let key = &person["assertionMethod"][0];
        assert_eq!(key["id"], format!("{ada}#ed25519-key"), "{person}");
        assert_eq!(key["type"], "Multikey");
        assert_eq!(key["controller"], ada.as_str());
        let multibase = key["publicKeyMultibase"].as_str().unwrap();
        assert!(officehours::federation::signatures::Ed25519Key::from_multibase(multibase).is_some(), "{multibase}");
        assert!(person["@context"].as_array().unwrap().contains(&json!("https://w3id.org/security/multikey/v1")));
        // The same key every time; the instance actor has one too.
        assert_eq!(get_json(&ada).await["assertionMethod"][0]["publicKeyMultibase"], multibase);
        let instance = get_json(&server.url("/actor")).await;
        assert_eq!(instance["assertionMethod"][0]["type"], "Multikey", "{instance}");
    }
}

/// An `Update` of the peer's actor: we fetch the actor again at once.
fn actor_update(peer: &Peer, n: u32) -> String {
    json!({
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": format!("{}/updates/{n}", peer.base), "type": "Update", "actor": peer.actor,
        "object": {"id": peer.actor, "type": "Person"},
    })
    .to_string()
}

#[tokio::test]
async fn fetches_are_signed_rfc9421_first_fall_back_to_draft_cavage_and_remember_what_worked() {
    for db in test_databases().await {
        let (peer, server) = peer_and_server(&db).await;
        let backend = db.backend;
        server.create_advisor("ada").await;
        let ada = server.url("/users/ada");
        let inbox = server.url("/inbox");
        let instance = get_json(&server.url("/actor")).await;
        let domain = |peer: &Peer| peer.base.trim_start_matches("http://").to_string();

        // A server that reads only RFC 9421 on GETs: our first fetch of
        // its actor carries an RFC 9421 signature by our instance actor,
        // which verifies with the key we publish; nothing is refused.
        peer.fetches_need(FetchPolicy::Rfc9421);
        peer.accept_rfc9421();
        assert_eq!(peer.send(&inbox, &follow(&peer, 1, &ada), Tamper::None).await, StatusCode::ACCEPTED, "[{backend}]");
        assert_eq!(followers(&server, "ada").await, 1);
        let fetches = peer.fetches.lock().unwrap().clone();
        assert_eq!(fetches.len(), 1, "[{backend}]");
        satisfies_rfc9421_get(&fetches[0], &peer.actor, &instance);
        assert!(peer.refused_fetches.lock().unwrap().is_empty(), "[{backend}] no second knock");
        assert_eq!(server.store.instance_signatures(&domain(&peer)).await.unwrap(), Some(SignatureStyle::Rfc9421));

        // A server that reads only draft-cavage: the RFC 9421 fetch gets
        // 401, the draft-cavage one at once gets the actor, and that is
        // remembered for its instance.
        let old = start_peer().await;
        old.fetches_need(FetchPolicy::Cavage);
        assert_eq!(old.send(&inbox, &follow(&old, 1, &ada), Tamper::None).await, StatusCode::ACCEPTED, "[{backend}]");
        assert_eq!(followers(&server, "ada").await, 2);
        let refused = old.refused_fetches.lock().unwrap().clone();
        assert_eq!(refused.len(), 1, "[{backend}] one RFC 9421 knock");
        satisfies_rfc9421_get(&refused[0], &old.actor, &instance);
        let fetches = old.fetches.lock().unwrap().clone();
        assert_eq!(fetches.len(), 1, "[{backend}]");
        let path = url::Url::parse(&old.actor).unwrap().path().to_string();
        satisfies_mastodon(&fetches[0], "", "get", &path, &instance);
        assert_eq!(server.store.instance_signatures(&domain(&old)).await.unwrap(), Some(SignatureStyle::Cavage));
        // The next fetch (the actor updated its profile) goes straight to
        // draft-cavage; so does our Accept (the memory is the deliveries' too).
        let status = old.send(&inbox, &actor_update(&old, 1), Tamper::None).await;
        assert_eq!(status, StatusCode::ACCEPTED, "[{backend}]");
        assert_eq!(old.fetches.lock().unwrap().len(), 2, "[{backend}] fetched again");
        assert_eq!(old.refused_fetches.lock().unwrap().len(), 1, "[{backend}] without a knock");
        satisfies_mastodon(&old.fetches.lock().unwrap()[1], "", "get", &path, &instance);
        until_received(&server, &old, 1).await;
        assert!(old.knocks.lock().unwrap().is_empty(), "[{backend}] the Accept did not knock");

        // A server that refuses every fetch: the activity is refused with
        // that reason (not a parser's message about its error page), and
        // nothing changes.
        let closed = start_peer().await;
        closed.fetches_need(FetchPolicy::Nobody);
        let body = follow(&closed, 1, &ada);
        let (status, why) = post(&inbox, &body, closed.sign(&inbox, &body)).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "[{backend}] {why}");
        assert!(why.contains("refused our signed fetch (401 Unauthorized)"), "[{backend}] {why}");
        assert!(why.contains(&closed.actor), "[{backend}] {why}");
        assert_eq!(closed.refused_fetches.lock().unwrap().len(), 2, "[{backend}] two knocks, no more");
        assert_eq!(followers(&server, "ada").await, 2, "[{backend}] nothing changed");
        assert_eq!(server.store.instance_signatures(&domain(&closed)).await.unwrap(), None);
    }
}
