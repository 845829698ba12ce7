//! The inbox against a peer that signs like Mastodon (`rsa-sha256` over
//! `(request-target) host date digest content-type`), on SQLite and
//! PostgreSQL: the peer is a small server in this test that serves its
//! actor and receives our Accept. Replays, wrong origins, forged undos and
//! bad digests change nothing.

mod support;

use std::net::{IpAddr, Ipv4Addr};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::routing::{get, post};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use reqwest::StatusCode;
use rsa::pkcs1v15::SigningKey;
use rsa::pkcs8::DecodePrivateKey;
use rsa::signature::{SignatureEncoding, Signer};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use support::{TestServer, test_databases};

/// A fediverse peer: its actor document and the activities it received.
struct Peer {
    base: String,
    actor: String,
    private_pem: String,
    received: Arc<Mutex<Vec<Value>>>,
    /// The requests behind them: (signature-relevant headers, raw body).
    requests: Arc<Mutex<Vec<(axum::http::HeaderMap, String)>>>,
}

async fn start_peer() -> Peer {
    let keys = activitypub_federation::http_signatures::generate_actor_keypair().unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let base = format!("http://peer.test:{port}");
    let actor = format!("{base}/users/masto");
    let document = json!({
        "@context": ["https://www.w3.org/ns/activitystreams", "https://w3id.org/security/v1"],
        "id": actor, "type": "Person", "preferredUsername": "masto", "name": "Masto Don",
        "summary": "<p>Hi <script>alert(1)</script></p>",
        "inbox": format!("{actor}/inbox"), "endpoints": {"sharedInbox": format!("{base}/inbox")},
        "publicKey": {"id": format!("{actor}#main-key"), "owner": actor, "publicKeyPem": keys.public_key},
    });
    let received: Arc<Mutex<Vec<Value>>> = Arc::default();
    let requests: Arc<Mutex<Vec<(axum::http::HeaderMap, String)>>> = Arc::default();
    let sink = received.clone();
    let raw = requests.clone();
    let app = Router::new()
        .route(
            "/users/masto",
            get(move || {
                let document = document.clone();
                async move { ([("content-type", "application/activity+json")], document.to_string()) }
            }),
        )
        .route(
            "/users/masto/inbox",
            post(move |headers: axum::http::HeaderMap, body: String| {
                let sink = sink.clone();
                let raw = raw.clone();
                async move {
                    sink.lock().unwrap().push(serde_json::from_str(&body).unwrap_or(Value::Null));
                    raw.lock().unwrap().push((headers, body));
                    StatusCode::ACCEPTED
                }
            }),
        );
    tokio::spawn(async move { axum::serve(listener, app).await });
    Peer { base, actor, private_pem: keys.private_key, received, requests }
}

impl Peer {
    /// POSTs `body` to `inbox`, signed as Mastodon signs.
    async fn send(&self, inbox: &str, body: &str, tamper: Tamper) -> StatusCode {
        let url = url::Url::parse(inbox).unwrap();
        let host = format!("{}:{}", url.host_str().unwrap(), url.port().unwrap());
        let date = jiff::Timestamp::now().strftime("%a, %d %b %Y %H:%M:%S GMT").to_string();
        let digest = format!("SHA-256={}", STANDARD.encode(Sha256::digest(body.as_bytes())));
        let signed = format!(
            "(request-target): post {}\nhost: {host}\ndate: {date}\ndigest: {digest}\ncontent-type: application/activity+json",
            url.path()
        );
        let key = SigningKey::<Sha256>::new(rsa::RsaPrivateKey::from_pkcs8_pem(&self.private_pem).unwrap());
        let signature = STANDARD.encode(key.sign(signed.as_bytes()).to_bytes());
        let header = format!(
            "keyId=\"{}#main-key\",algorithm=\"rsa-sha256\",headers=\"(request-target) host date digest content-type\",signature=\"{signature}\"",
            self.actor
        );
        let sent_body = if tamper == Tamper::Body { body.replace("Follow", "Folloo") } else { body.to_string() };
        officehours::install_crypto();
        reqwest::Client::new()
            .post(inbox)
            .header("host", host)
            .header("date", date)
            .header("digest", digest)
            .header("content-type", "application/activity+json")
            .header("signature", header)
            .body(sent_body)
            .send()
            .await
            .unwrap()
            .status()
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Tamper {
    None,
    Body,
}

async fn followers(server: &TestServer, user: &str) -> i64 {
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

#[tokio::test]
async fn a_mastodon_style_signed_follow_is_accepted_once_and_forgeries_change_nothing() {
    for db in test_databases().await {
        let peer = start_peer().await;
        let server = TestServer::start_with(&db, |c| {
            c.federation_test_mode = true;
            c.federation_test_hosts = vec![("peer.test".into(), IpAddr::V4(Ipv4Addr::LOCALHOST))];
            c.federation_retry_base_secs = 1;
        })
        .await;
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

        // Our signed Accept reaches the peer, once.
        for _ in 0..100 {
            if !peer.received.lock().unwrap().is_empty() {
                break;
            }
            server.app.run_jobs_once().await;
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        let received = peer.received.lock().unwrap().clone();
        assert_eq!(received.len(), 1, "{received:?}");
        assert_eq!(received[0]["type"], "Accept");
        assert_eq!(received[0]["actor"], ada.as_str());
        assert_eq!(received[0]["object"]["id"], format!("{}/follows/1", peer.base));
        let (headers, body) = peer.requests.lock().unwrap()[0].clone();
        let person: Value = serde_json::from_str(
            &reqwest::Client::new()
                .get(&ada)
                .header("accept", "application/activity+json")
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap(),
        )
        .unwrap();
        satisfies_mastodon(&headers, &body, "/users/masto/inbox", &person);

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

/// Mastodon's rules for an incoming signed POST (its signature
/// verification concern): a `Signature` with keyId, algorithm (`rsa-sha256`
/// or `hs2019`) and headers covering `(request-target)`, `host`, `date` and
/// `digest` (`(created)`/`(expires)` are taken from the header's own
/// fields); a `Date` within 12 hours; a SHA-256 `Digest` of the body; an
/// RSA-SHA256 signature that verifies against the key the actor publishes.
fn satisfies_mastodon(headers: &axum::http::HeaderMap, body: &str, path: &str, actor: &Value) {
    use rsa::pkcs1v15::{Signature, VerifyingKey};
    use rsa::pkcs8::DecodePublicKey;
    use rsa::signature::Verifier;

    let header = headers.get("signature").expect("a Signature header").to_str().unwrap();
    let field = |name: &str| {
        header
            .split(',')
            .find_map(|part| part.trim().strip_prefix(&format!("{name}=\"")))
            .map(|v| v.trim_end_matches('"').to_string())
            .unwrap_or_else(|| panic!("no {name} in {header}"))
    };
    assert_eq!(field("keyId"), actor["publicKey"]["id"].as_str().unwrap());
    assert!(["rsa-sha256", "hs2019"].contains(&field("algorithm").as_str()), "{header}");
    let covered = field("headers");
    for required in ["(request-target)", "host", "date", "digest"] {
        assert!(covered.split(' ').any(|h| h == required), "{required} not signed: {covered}");
    }
    let date = headers.get("date").unwrap().to_str().unwrap();
    let sent = jiff::fmt::rfc2822::parse(date).expect("an HTTP date").timestamp();
    assert!(sent.duration_until(jiff::Timestamp::now()).abs() < jiff::SignedDuration::from_hours(12), "{date}");
    let digest = headers.get("digest").unwrap().to_str().unwrap();
    assert_eq!(digest, format!("SHA-256={}", STANDARD.encode(Sha256::digest(body.as_bytes()))));
    let signed: Vec<String> = covered
        .split(' ')
        .map(|name| match name {
            "(request-target)" => format!("(request-target): post {path}"),
            // draft-cavage-12 pseudo-headers, which Mastodon also verifies.
            "(created)" | "(expires)" => format!("{name}: {}", field(name.trim_matches(|c| c == '(' || c == ')'))),
            other => format!(
                "{other}: {}",
                headers.get(other).unwrap_or_else(|| panic!("{other} missing")).to_str().unwrap()
            ),
        })
        .collect();
    let key = rsa::RsaPublicKey::from_public_key_pem(actor["publicKey"]["publicKeyPem"].as_str().unwrap()).unwrap();
    let signature = Signature::try_from(STANDARD.decode(field("signature")).unwrap().as_slice()).unwrap();
    VerifyingKey::<Sha256>::new(key).verify(signed.join("\n").as_bytes(), &signature).expect("the signature verifies");
}
