//! A fediverse peer for tests and benchmarks: a small HTTP server that
//! serves one actor (with an RSA `publicKey` and an Ed25519 Multikey) and
//! records what reaches its inbox, and signs requests the way Mastodon
//! does (draft-cavage) or with RFC 9421. Its inbox refuses RFC 9421 with a
//! 401, as a server that only reads draft-cavage does, until
//! [`Peer::accept_rfc9421`]. Its actor document is served to any GET
//! unless [`Peer::fetches_need`] says which signature a fetch must carry.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use rsa::pkcs1v15::SigningKey;
use rsa::pkcs8::DecodePrivateKey;
use rsa::signature::{SignatureEncoding, Signer};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// A fediverse peer: its actor document and the activities it received.
pub struct Peer {
    /// `http://peer.test:<port>`.
    pub base: String,
    pub actor: String,
    /// The actor's document (its key changes with [`Peer::rotate_key`]).
    document: Arc<Mutex<Value>>,
    private_pem: Mutex<String>,
    pub received: Arc<Mutex<Vec<Value>>>,
    /// The requests behind them: (signature-relevant headers, raw body).
    pub requests: Arc<Mutex<Vec<(axum::http::HeaderMap, String)>>>,
    /// The headers of every fetch of the actor document.
    pub fetches: Arc<Mutex<Vec<axum::http::HeaderMap>>>,
    /// The paths of every other GET (all answered 404).
    pub misses: Arc<Mutex<Vec<String>>>,
    /// Whether the inbox takes RFC 9421 requests (else 401, unrecorded
    /// but for [`Peer::knocks`]).
    accepts_rfc9421: Arc<AtomicBool>,
    /// RFC 9421 requests the inbox refused.
    pub knocks: Arc<Mutex<Vec<axum::http::HeaderMap>>>,
    /// The Ed25519 key (PKCS#8) behind the actor's Multikey.
    ed25519_pkcs8: Mutex<Vec<u8>>,
    /// What a fetch of the actor document must be signed with.
    fetch_policy: Arc<Mutex<FetchPolicy>>,
    /// Fetches of the actor document refused by that policy (401).
    pub refused_fetches: Arc<Mutex<Vec<axum::http::HeaderMap>>>,
}

/// Which fetches of the actor document the peer answers (else 401).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum FetchPolicy {
    /// Any GET, signed or not (most servers).
    Any,
    /// Only GETs with an RFC 9421 signature (`Signature-Input`).
    Rfc9421,
    /// Only GETs with a draft-cavage `Signature` and no `Signature-Input`
    /// (a server that reads only the old draft).
    Cavage,
    /// None (a server that does not let us read it at all).
    Nobody,
}

impl FetchPolicy {
    fn admits(self, headers: &axum::http::HeaderMap) -> bool {
        let rfc9421 = headers.contains_key("signature-input");
        match self {
            FetchPolicy::Any => true,
            FetchPolicy::Rfc9421 => rfc9421,
            FetchPolicy::Cavage => !rfc9421 && headers.contains_key("signature"),
            FetchPolicy::Nobody => false,
        }
    }
}

/// A fresh Ed25519 key: its PKCS#8 document and its Multikey
/// (`publicKeyMultibase`).
fn ed25519_key() -> (Vec<u8>, String) {
    use ring::signature::KeyPair;
    let pkcs8 = ring::signature::Ed25519KeyPair::generate_pkcs8(&ring::rand::SystemRandom::new()).unwrap();
    let pair = ring::signature::Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).unwrap();
    let multibase =
        officehours::federation::signatures::Ed25519Key::from_bytes(pair.public_key().as_ref()).unwrap().to_multibase();
    (pkcs8.as_ref().to_vec(), multibase)
}

/// How [`Peer::sign_rfc9421`] signs.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Rfc9421 {
    /// `rsa-v1_5-sha256` with `#main-key`.
    Rsa,
    /// `ed25519` with the Multikey `#ed25519-key`.
    Ed25519,
}

pub async fn start_peer() -> Peer {
    let keys = activitypub_federation::http_signatures::generate_actor_keypair().unwrap();
    let (ed25519_pkcs8, multibase) = ed25519_key();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let base = format!("http://peer.test:{port}");
    let actor = format!("{base}/users/masto");
    let document = Arc::new(Mutex::new(json!({
        "@context": ["https://www.w3.org/ns/activitystreams", "https://w3id.org/security/v1"],
        "id": actor, "type": "Person", "preferredUsername": "masto", "name": "Masto Don",
        "summary": "<p>Hi <script>alert(1)</script></p>",
        "inbox": format!("{actor}/inbox"), "endpoints": {"sharedInbox": format!("{base}/inbox")},
        "publicKey": {"id": format!("{actor}#main-key"), "owner": actor, "publicKeyPem": keys.public_key},
        "assertionMethod": [{
            "id": format!("{actor}#ed25519-key"), "type": "Multikey", "controller": actor,
            "publicKeyMultibase": multibase,
        }],
    })));
    let served = document.clone();
    let received: Arc<Mutex<Vec<Value>>> = Arc::default();
    let requests: Arc<Mutex<Vec<(axum::http::HeaderMap, String)>>> = Arc::default();
    let fetches: Arc<Mutex<Vec<axum::http::HeaderMap>>> = Arc::default();
    let sink = received.clone();
    let raw = requests.clone();
    let seen = fetches.clone();
    let fetch_policy: Arc<Mutex<FetchPolicy>> = Arc::new(Mutex::new(FetchPolicy::Any));
    let refused_fetches: Arc<Mutex<Vec<axum::http::HeaderMap>>> = Arc::default();
    let (policy, refused) = (fetch_policy.clone(), refused_fetches.clone());
    let misses: Arc<Mutex<Vec<String>>> = Arc::default();
    let missed = misses.clone();
    let accepts_rfc9421: Arc<AtomicBool> = Arc::default();
    let knocks: Arc<Mutex<Vec<axum::http::HeaderMap>>> = Arc::default();
    let (accepts, knocked) = (accepts_rfc9421.clone(), knocks.clone());
    // Another server's actor document (`Peer::serve_actor`) is served at
    // its own path, and its inbox may be anywhere: every POST is recorded.
    let elsewhere = document.clone();
    let (other_sink, other_raw, other_seen) = (received.clone(), requests.clone(), fetches.clone());
    // The actor's inbox and the shared inbox record alike.
    let inbox = move |headers: axum::http::HeaderMap, body: String| {
        let sink = sink.clone();
        let raw = raw.clone();
        let (accepts, knocked) = (accepts.clone(), knocked.clone());
        async move {
            if headers.contains_key("signature-input") && !accepts.load(Ordering::SeqCst) {
                knocked.lock().unwrap().push(headers);
                return StatusCode::UNAUTHORIZED;
            }
            sink.lock().unwrap().push(serde_json::from_str(&body).unwrap_or(Value::Null));
            raw.lock().unwrap().push((headers, body));
            StatusCode::ACCEPTED
        }
    };
    let app = Router::new()
        .route(
            "/users/masto",
            get(move |headers: axum::http::HeaderMap| {
                let document = served.lock().unwrap().to_string();
                let admitted = policy.lock().unwrap().admits(&headers);
                let answer = if admitted {
                    seen.lock().unwrap().push(headers);
                    (StatusCode::OK, [("content-type", "application/activity+json")], document)
                } else {
                    refused.lock().unwrap().push(headers);
                    (
                        StatusCode::UNAUTHORIZED,
                        [("content-type", "application/json")],
                        r#"{"error":"signature"}"#.into(),
                    )
                };
                async move { answer }
            }),
        )
        .route("/users/masto/inbox", post(inbox.clone()))
        .route("/inbox", post(inbox))
        .fallback(
            move |method: axum::http::Method, uri: axum::http::Uri, headers: axum::http::HeaderMap, body: String| {
                let document = elsewhere.lock().unwrap().clone();
                let own = document["id"].as_str().and_then(|id| url::Url::parse(id).ok()).map(|u| u.path().to_string());
                let answer = if method == axum::http::Method::POST {
                    other_sink.lock().unwrap().push(serde_json::from_str(&body).unwrap_or(Value::Null));
                    other_raw.lock().unwrap().push((headers, body));
                    (StatusCode::ACCEPTED, Vec::new(), String::new())
                } else if own.as_deref() == Some(uri.path()) {
                    other_seen.lock().unwrap().push(headers);
                    (StatusCode::OK, vec![("content-type", "application/activity+json")], document.to_string())
                } else {
                    missed.lock().unwrap().push(uri.path().to_string());
                    (StatusCode::NOT_FOUND, Vec::new(), String::new())
                };
                async move {
                    let (status, headers, body) = answer;
                    let mut response = (status, body).into_response();
                    for (name, value) in headers {
                        response.headers_mut().insert(name, axum::http::HeaderValue::from_static(value));
                    }
                    response
                }
            },
        );
    tokio::spawn(async move { axum::serve(listener, app).await });
    Peer {
        base,
        actor,
        document,
        private_pem: Mutex::new(keys.private_key),
        received,
        requests,
        fetches,
        misses,
        accepts_rfc9421,
        knocks,
        ed25519_pkcs8: Mutex::new(ed25519_pkcs8),
        fetch_policy,
        refused_fetches,
    }
}

impl Peer {
    /// A new key pair, as when a server rotates its keys: the actor
    /// document publishes the new key and requests are signed with it.
    pub fn rotate_key(&self) {
        let keys = activitypub_federation::http_signatures::generate_actor_keypair().unwrap();
        self.document.lock().unwrap()["publicKey"]["publicKeyPem"] = Value::String(keys.public_key);
        *self.private_pem.lock().unwrap() = keys.private_key;
    }

    /// A new display name in the actor document (as after a profile edit).
    pub fn rename(&self, name: &str) {
        self.document.lock().unwrap()["name"] = Value::String(name.to_string());
    }

    /// A new Ed25519 key, published in place of the old Multikey.
    pub fn rotate_ed25519_key(&self) {
        let (pkcs8, multibase) = ed25519_key();
        self.document.lock().unwrap()["assertionMethod"][0]["publicKeyMultibase"] = Value::String(multibase);
        *self.ed25519_pkcs8.lock().unwrap() = pkcs8;
    }

    /// From now on fetches of the actor document must be signed so.
    pub fn fetches_need(&self, policy: FetchPolicy) {
        *self.fetch_policy.lock().unwrap() = policy;
    }

    /// From now on the inbox takes RFC 9421 requests too.
    pub fn accept_rfc9421(&self) {
        self.accepts_rfc9421.store(true, Ordering::SeqCst);
    }

    /// The headers that sign a POST of `body` to `inbox` with RFC 9421, as
    /// `actor` (the key id is `actor`'s), created at `created` (seconds):
    /// `@method @target-uri content-digest`, label `sig1`. Written out here
    /// by hand, apart from the server's code.
    pub fn sign_rfc9421(
        &self,
        actor: &str,
        inbox: &str,
        body: &str,
        how: Rfc9421,
        created: i64,
    ) -> Vec<(&'static str, String)> {
        let digest = format!("sha-256=:{}:", STANDARD.encode(Sha256::digest(body.as_bytes())));
        let (key_id, alg) = match how {
            Rfc9421::Rsa => (format!("{actor}#main-key"), "rsa-v1_5-sha256"),
            Rfc9421::Ed25519 => (format!("{actor}#ed25519-key"), "ed25519"),
        };
        let params =
            format!(r#"("@method" "@target-uri" "content-digest");created={created};keyid="{key_id}";alg="{alg}""#);
        let base = format!(
            "\"@method\": POST\n\"@target-uri\": {inbox}\n\"content-digest\": {digest}\n\"@signature-params\": {params}"
        );
        let signature = match how {
            Rfc9421::Rsa => {
                let pem = self.private_pem.lock().unwrap().clone();
                SigningKey::<Sha256>::new(rsa::RsaPrivateKey::from_pkcs8_pem(&pem).unwrap())
                    .sign(base.as_bytes())
                    .to_vec()
            }
            Rfc9421::Ed25519 => {
                let pkcs8 = self.ed25519_pkcs8.lock().unwrap().clone();
                let pair = ring::signature::Ed25519KeyPair::from_pkcs8(&pkcs8).unwrap();
                pair.sign(base.as_bytes()).as_ref().to_vec()
            }
        };
        vec![
            ("content-type", "application/activity+json".to_string()),
            ("content-digest", digest),
            ("signature-input", format!("sig1={params}")),
            ("signature", format!("sig1=:{}:", STANDARD.encode(signature))),
        ]
    }

    /// Serves another server's actor document instead of our own, at its
    /// own path (ids rewritten to this peer, e.g. by
    /// `federation_fixtures::fixture`), with the peer's key published in it
    /// so that what the peer signs verifies. Its key id, for
    /// [`Peer::sign_keyed`].
    pub fn serve_actor(&self, mut document: Value) -> String {
        let pem = self.document.lock().unwrap()["publicKey"]["publicKeyPem"].clone();
        if document["publicKey"].is_array() {
            document["publicKey"][0]["publicKeyPem"] = pem;
        } else {
            document["publicKey"]["publicKeyPem"] = pem;
        }
        let key = &document["publicKey"];
        let key_id = key.get("id").or_else(|| key.get(0).and_then(|k| k.get("id")));
        let key_id = key_id.and_then(Value::as_str).unwrap_or_default().to_string();
        *self.document.lock().unwrap() = document;
        key_id
    }

    /// The headers that sign a POST of `body` to `inbox` as Mastodon signs:
    /// host, date, digest, content-type and the signature.
    pub fn sign(&self, inbox: &str, body: &str) -> Vec<(&'static str, String)> {
        self.sign_as(&self.actor, inbox, body, "application/activity+json")
    }

    /// As [`Peer::sign`], with the peer's key but naming `actor`'s key and
    /// another content type.
    pub fn sign_as(&self, actor: &str, inbox: &str, body: &str, content_type: &str) -> Vec<(&'static str, String)> {
        self.sign_keyed(&format!("{actor}#main-key"), inbox, body, content_type)
    }

    /// As [`Peer::sign`], naming the key `key_id` (servers name their keys
    /// differently: `#main-key`, `#public-key`, the actor id itself).
    pub fn sign_keyed(&self, key_id: &str, inbox: &str, body: &str, content_type: &str) -> Vec<(&'static str, String)> {
        let url = url::Url::parse(inbox).unwrap();
        let host = format!("{}:{}", url.host_str().unwrap(), url.port().unwrap());
        let date = jiff::Timestamp::now().strftime("%a, %d %b %Y %H:%M:%S GMT").to_string();
        let digest = format!("SHA-256={}", STANDARD.encode(Sha256::digest(body.as_bytes())));
        let signed = format!(
            "(request-target): post {}\nhost: {host}\ndate: {date}\ndigest: {digest}\ncontent-type: {content_type}",
            url.path()
        );
        let key =
            SigningKey::<Sha256>::new(rsa::RsaPrivateKey::from_pkcs8_pem(&self.private_pem.lock().unwrap()).unwrap());
        let signature = STANDARD.encode(key.sign(signed.as_bytes()).to_bytes());
        let header = format!(
            "keyId=\"{key_id}\",algorithm=\"rsa-sha256\",headers=\"(request-target) host date digest content-type\",signature=\"{signature}\""
        );
        vec![
            ("host", host),
            ("date", date),
            ("digest", digest),
            ("content-type", content_type.to_string()),
            ("signature", header),
        ]
    }

    /// POSTs `body` to `inbox` with exactly `headers`; the status and the
    /// `Retry-After` header.
    pub async fn post(
        &self,
        inbox: &str,
        body: &str,
        headers: Vec<(&'static str, String)>,
    ) -> (StatusCode, Option<String>) {
        officehours::install_crypto();
        let mut request = reqwest::Client::new().post(inbox).body(body.to_string());
        for (name, value) in headers {
            request = request.header(name, value);
        }
        let response = request.send().await.unwrap();
        let retry_after = response.headers().get("retry-after").and_then(|v| v.to_str().ok()).map(str::to_string);
        (StatusCode::from_u16(response.status().as_u16()).unwrap(), retry_after)
    }

    /// POSTs `body` to `inbox`, signed as Mastodon signs (`Tamper::Body`
    /// changes the body after signing).
    pub async fn send(&self, inbox: &str, body: &str, tamper: Tamper) -> StatusCode {
        let headers = self.sign(inbox, body);
        let sent_body = if tamper == Tamper::Body { body.replace("Follow", "Folloo") } else { body.to_string() };
        officehours::install_crypto();
        let mut request = reqwest::Client::new().post(inbox).body(sent_body);
        for (name, value) in headers {
            request = request.header(name, value);
        }
        let status = request.send().await.unwrap().status();
        StatusCode::from_u16(status.as_u16()).unwrap()
    }
}

/// What an RFC 9421 receiver checks of a POST we signed (written out here,
/// apart from the server's code): `Signature-Input` names `sig1`, covering
/// `@method`, `@target-uri` and `content-digest`, with `created` within a
/// minute of now and the key id of `actor`'s `publicKey`, `alg`
/// `rsa-v1_5-sha256`; `Content-Digest` is the body's SHA-256; the signature
/// verifies against the published key over the signature base.
pub fn satisfies_rfc9421(headers: &axum::http::HeaderMap, body: &str, target: &str, actor: &Value) {
    satisfies_rfc9421_request(headers, "POST", body, target, actor)
}

/// As [`satisfies_rfc9421`] for a signed GET (a fetch): `@method` and
/// `@target-uri` covered, no body and so no digest.
pub fn satisfies_rfc9421_get(headers: &axum::http::HeaderMap, target: &str, actor: &Value) {
    satisfies_rfc9421_request(headers, "GET", "", target, actor)
}

fn satisfies_rfc9421_request(headers: &axum::http::HeaderMap, method: &str, body: &str, target: &str, actor: &Value) {
    use rsa::pkcs1v15::{Signature, VerifyingKey};
    use rsa::pkcs8::DecodePublicKey;
    use rsa::signature::Verifier;

    let text = |name: &str| headers.get(name).unwrap_or_else(|| panic!("no {name}")).to_str().unwrap().to_string();
    let input = text("signature-input");
    let params = input.strip_prefix("sig1=").unwrap_or_else(|| panic!("not labelled sig1: {input}"));
    let covered = &params[..params.find(')').unwrap() + 1];
    let required: &[&str] = if method == "POST" {
        &["\"@method\"", "\"@target-uri\"", "\"content-digest\""]
    } else {
        &["\"@method\"", "\"@target-uri\""]
    };
    for component in required {
        assert!(covered.contains(component), "{component} not covered: {input}");
    }
    let key_id = actor["publicKey"]["id"].as_str().unwrap();
    assert!(params.contains(&format!(";keyid=\"{key_id}\"")), "{input}");
    assert!(params.contains(r#";alg="rsa-v1_5-sha256""#), "{input}");
    let created: i64 = params.split(";created=").nth(1).unwrap().split(';').next().unwrap().parse().unwrap();
    assert!((jiff::Timestamp::now().as_second() - created).abs() < 60, "{input}");
    if method == "POST" {
        let digest = text("content-digest");
        assert_eq!(digest, format!("sha-256=:{}:", STANDARD.encode(Sha256::digest(body.as_bytes()))));
    }
    let mut lines = Vec::new();
    for component in covered.trim_matches(|c| c == '(' || c == ')').split(' ') {
        let name = component.trim_matches('"');
        let value = match name {
            "@method" => method.to_string(),
            "@target-uri" => target.to_string(),
            field => text(field),
        };
        lines.push(format!("{component}: {value}"));
    }
    lines.push(format!("\"@signature-params\": {params}"));
    let signature = text("signature");
    let encoded = signature.strip_prefix("sig1=:").and_then(|s| s.strip_suffix(':')).expect("sig1 as bytes");
    let key = rsa::RsaPublicKey::from_public_key_pem(actor["publicKey"]["publicKeyPem"].as_str().unwrap()).unwrap();
    let signature = Signature::try_from(STANDARD.decode(encoded).unwrap().as_slice()).unwrap();
    VerifyingKey::<Sha256>::new(key).verify(lines.join("\n").as_bytes(), &signature).expect("the signature verifies");
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Tamper {
    None,
    Body,
}

/// Mastodon's rules for an incoming signed POST (its signature
/// verification concern): a `Signature` with keyId, algorithm (`rsa-sha256`
/// or `hs2019`) and headers covering `(request-target)`, `host`, `date` and
/// `digest` (`(created)`/`(expires)` are taken from the header's own
/// fields); a `Date` within 12 hours; a SHA-256 `Digest` of the body; an
/// RSA-SHA256 signature that verifies against the key the actor publishes.
pub fn satisfies_mastodon(headers: &axum::http::HeaderMap, body: &str, method: &str, path: &str, actor: &Value) {
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
    // Mastodon wants the digest signed on POSTs only.
    let required: &[&str] = if method == "post" {
        &["(request-target)", "host", "date", "digest"]
    } else {
        &["(request-target)", "host", "date"]
    };
    for required in required {
        assert!(covered.split(' ').any(|h| h == *required), "{required} not signed: {covered}");
    }
    let date = headers.get("date").unwrap().to_str().unwrap();
    let sent = jiff::fmt::rfc2822::parse(date).expect("an HTTP date").timestamp();
    assert!(sent.duration_until(jiff::Timestamp::now()).abs() < jiff::SignedDuration::from_hours(12), "{date}");
    if method == "post" {
        let digest = headers.get("digest").unwrap().to_str().unwrap();
        assert_eq!(digest, format!("SHA-256={}", STANDARD.encode(Sha256::digest(body.as_bytes()))));
    }
    let signed: Vec<String> = covered
        .split(' ')
        .map(|name| match name {
            "(request-target)" => format!("(request-target): {method} {path}"),
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
