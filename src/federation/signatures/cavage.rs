//! draft-cavage HTTP signatures (the `Signature` header alone), both ways.
//!
//! Outbound, a POST is signed as Mastodon signs: `rsa-sha256` over
//! `(request-target) host date digest content-type`, with the sender's key
//! id `<actor>#main-key`, and a GET over `(request-target) host date` (the
//! fallback of the double-knock, see [`super`]).
//!
//! Inbound, the rules are the federation crate's (and what Mastodon sends): a
//! `Signature` header parsed and normalised by `http-signature-normalization`
//! (the crate's own parser), the `Digest` header among the signed ones, the
//! signature at most an hour old, RSA with SHA-256 (`rsa-sha256` or
//! `hs2019`), checked with `ring`.

use std::collections::BTreeMap;
use std::sync::LazyLock;
use std::time::Duration;

use axum::http::{HeaderMap, Method, Uri};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use http_signature_normalization::Config;
use http_signature_normalization::verify::{Algorithm, DeprecatedAlgorithm};
use sha2::{Digest, Sha256};

use super::super::error::FederationError;
use super::keys::{PublicKey, SigningKey};

/// How old a signature may be (the federation crate's limit).
const MAX_AGE: Duration = Duration::from_secs(60 * 60);

/// What an inbound POST's signature must cover besides `(request-target)`.
static RULES: LazyLock<Config> = LazyLock::new(|| Config::new().set_expiration(MAX_AGE).require_digest());

impl SigningKey {
    /// The headers of a POST of `body` to `inbox`, signed.
    pub fn sign_post(&self, inbox: &url::Url, body: &[u8]) -> Result<Vec<(&'static str, String)>, FederationError> {
        let (host, target, date) = request_parts(inbox)?;
        let digest = format!("SHA-256={}", STANDARD.encode(Sha256::digest(body)));
        let content_type = "application/activity+json";
        let signing_string = format!(
            "(request-target): post {target}\nhost: {host}\ndate: {date}\ndigest: {digest}\ncontent-type: {content_type}"
        );
        let signature = self.cavage_header("(request-target) host date digest content-type", &signing_string)?;
        Ok(vec![
            ("host", host),
            ("date", date),
            ("digest", digest),
            ("content-type", content_type.to_string()),
            ("signature", signature),
        ])
    }

    /// The headers of a GET of `url`, signed as Mastodon's secure mode
    /// requires of a fetch: `(request-target) host date`.
    pub fn sign_get(&self, url: &url::Url) -> Result<Vec<(&'static str, String)>, FederationError> {
        let (host, target, date) = request_parts(url)?;
        let signing_string = format!("(request-target): get {target}\nhost: {host}\ndate: {date}");
        let signature = self.cavage_header("(request-target) host date", &signing_string)?;
        Ok(vec![("host", host), ("date", date), ("signature", signature)])
    }

    /// The `Signature` header of `signing_string`, which covers `headers`.
    fn cavage_header(&self, headers: &str, signing_string: &str) -> Result<String, FederationError> {
        let signature = self.sign_rsa_sha256(signing_string.as_bytes())?;
        Ok(format!(
            r#"keyId="{}",algorithm="rsa-sha256",headers="{headers}",signature="{}""#,
            self.key_id,
            STANDARD.encode(signature)
        ))
    }
}

/// A request's `host` (with its port), `(request-target)` path and query,
/// and `Date` (real time, not the app's clock: the receiver compares the
/// `Date` with its own clock, as the inbound check below compares theirs
/// with ours).
fn request_parts(url: &url::Url) -> Result<(String, String, String), FederationError> {
    let host = match (url.host_str(), url.port()) {
        (Some(host), Some(port)) => format!("{host}:{port}"),
        (Some(host), None) => host.to_string(),
        (None, _) => return Err(FederationError::Invalid(format!("{url} has no host"))),
    };
    let target = match url.query() {
        Some(query) => format!("{}?{query}", url.path()),
        None => url.path().to_string(),
    };
    let date = jiff::fmt::rfc2822::DateTimePrinter::new()
        .timestamp_to_rfc9110_string(&jiff::Timestamp::now())
        .map_err(|e| FederationError::App(crate::service::AppError::Internal(e.into())))?;
    Ok((host, target, date))
}

/// An inbound request's signature, read and checked for everything but the
/// key: present, covering `(request-target)` and the digest, recent.
pub struct InboundSignature(http_signature_normalization::verify::Unverified);

impl InboundSignature {
    /// Reads the `Signature` header of a request. Needs no key, so the
    /// inbox can refuse an unsigned or stale request before it fetches
    /// anything. `own_host` stands in for a `Host` header a proxy or HTTP/2
    /// left out.
    pub fn read(method: &Method, uri: &Uri, headers: &HeaderMap, own_host: &str) -> Result<Self, FederationError> {
        if !headers.contains_key("signature") {
            return Err(FederationError::Unsigned);
        }
        let mut signed: BTreeMap<String, String> = headers
            .iter()
            .filter_map(|(name, value)| Some((name.as_str().to_string(), value.to_str().ok()?.to_string())))
            .collect();
        signed.entry("host".to_string()).or_insert_with(|| own_host.to_string());
        let path_and_query = uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
        let unverified = RULES.begin_verify(method.as_str(), path_and_query, signed).map_err(|err| {
            tracing::debug!(error = %err, "an inbound signature could not be read");
            FederationError::Unauthorized
        })?;
        Ok(InboundSignature(unverified))
    }

    /// The key the sender says it signed with (`https://them/users/a#main-key`).
    pub fn key_id(&self) -> &str {
        self.0.key_id()
    }

    /// Whether `key` made this signature (RSA with SHA-256 only).
    pub fn verify(&self, key: &PublicKey) -> Result<(), FederationError> {
        let rsa_sha256 = matches!(
            self.0.algorithm(),
            None | Some(Algorithm::Hs2019) | Some(Algorithm::Deprecated(DeprecatedAlgorithm::RsaSha256))
        );
        let verified = rsa_sha256
            && self.0.verify(|signature, signing_string| {
                STANDARD.decode(signature).is_ok_and(|bytes| key.verifies(signing_string.as_bytes(), &bytes))
            });
        if verified { Ok(()) } else { Err(FederationError::Unauthorized) }
    }
}

/// The request is signed by `key`, covering its digest, and recent.
pub fn verify_request(
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    key: &PublicKey,
    own_host: &str,
) -> Result<(), FederationError> {
    InboundSignature::read(method, uri, headers, own_host)?.verify(key)
}

#[cfg(test)]
mod tests {
    use super::super::digest::verify_digest;
    use super::*;
    use rsa::pkcs1::EncodeRsaPublicKey;
    use rsa::pkcs1v15::SigningKey as RsaSigningKey;
    use rsa::pkcs8::DecodePublicKey;
    use rsa::pkcs8::EncodePublicKey;
    use rsa::signature::{SignatureEncoding, Signer};

    struct Keys {
        signing: RsaSigningKey<Sha256>,
        public_pem: String,
    }

    fn keys(bits: usize) -> Keys {
        let private = rsa::RsaPrivateKey::new(&mut rsa::rand_core::OsRng, bits).unwrap();
        let public_pem = private.to_public_key().to_public_key_pem(rsa::pkcs8::LineEnding::LF).unwrap();
        Keys { signing: RsaSigningKey::<Sha256>::new(private), public_pem }
    }

    fn http_date(at: jiff::Timestamp) -> String {
        jiff::fmt::rfc2822::DateTimePrinter::new().timestamp_to_rfc9110_string(&at).unwrap()
    }

    const BODY: &str = r#"{"type":"Follow"}"#;

    /// Headers as Mastodon signs a POST to `/inbox`; `tweak` changes them
    /// after signing.
    fn signed(keys: &Keys, algorithm: &str, covered: &str, tweak: impl FnOnce(&mut HeaderMap)) -> HeaderMap {
        let date = http_date(jiff::Timestamp::now());
        let digest = format!("SHA-256={}", STANDARD.encode(Sha256::digest(BODY)));
        let values: BTreeMap<&str, String> = [
            ("(request-target)", "post /inbox".to_string()),
            ("host", "us.example".to_string()),
            ("date", date.clone()),
            ("digest", digest.clone()),
            ("content-type", "application/activity+json".to_string()),
        ]
        .into();
        let signing_string = covered.split(' ').map(|h| format!("{h}: {}", values[h])).collect::<Vec<_>>().join("\n");
        let signature = STANDARD.encode(keys.signing.sign(signing_string.as_bytes()).to_bytes());
        let mut headers = HeaderMap::new();
        headers.insert("host", "us.example".parse().unwrap());
        headers.insert("date", date.parse().unwrap());
        headers.insert("digest", digest.parse().unwrap());
        headers.insert("content-type", "application/activity+json".parse().unwrap());
        let header = format!(
            r#"keyId="https://them.example/users/a#main-key",algorithm="{algorithm}",headers="{covered}",signature="{signature}""#
        );
        headers.insert("signature", header.parse().unwrap());
        tweak(&mut headers);
        headers
    }

    fn check(headers: &HeaderMap, pem: &str) -> bool {
        let key = PublicKey::from_pem(pem).unwrap();
        let uri: Uri = "/inbox".parse().unwrap();
        verify_digest(headers, BODY.as_bytes()).is_ok()
            && verify_request(&Method::POST, &uri, headers, &key, "us.example").is_ok()
    }

    const MASTODON: &str = "(request-target) host date digest content-type";

    #[test]
    fn a_mastodon_signature_verifies_and_any_change_breaks_it() {
        let ours = keys(2048);
        assert!(matches!(PublicKey::from_pem(&ours.public_pem), Some(PublicKey::Ring(_))));
        assert!(check(&signed(&ours, "rsa-sha256", MASTODON, |_| {}), &ours.public_pem));
        assert!(check(&signed(&ours, "hs2019", MASTODON, |_| {}), &ours.public_pem));
        // Without a Host header (HTTP/2, a proxy), our own host stands in.
        assert!(check(&signed(&ours, "rsa-sha256", MASTODON, |h| drop(h.remove("host"))), &ours.public_pem));

        let other = keys(2048);
        assert!(!check(&signed(&ours, "rsa-sha256", MASTODON, |_| {}), &other.public_pem), "another key");
        let tampered = [
            signed(&ours, "rsa-sha256", MASTODON, |h| drop(h.insert("host", "elsewhere.example".parse().unwrap()))),
            signed(&ours, "rsa-sha256", MASTODON, |h| {
                drop(h.insert("digest", format!("SHA-256={}", STANDARD.encode(Sha256::digest("{}"))).parse().unwrap()))
            }),
            signed(&ours, "rsa-sha256", MASTODON, |h| drop(h.remove("signature"))),
            signed(&ours, "rsa-sha256", MASTODON, |h| drop(h.remove("digest"))),
            // Signed without the digest: the body is not covered.
            signed(&ours, "rsa-sha256", "(request-target) host date", |_| {}),
            // An hour and more ago.
            signed(&ours, "rsa-sha256", MASTODON, |h| {
                let old = jiff::Timestamp::now() - jiff::SignedDuration::from_hours(2);
                drop(h.insert("date", http_date(old).parse().unwrap()))
            }),
            signed(&ours, "hmac-sha256", MASTODON, |_| {}),
        ];
        for (n, headers) in tampered.iter().enumerate() {
            assert!(!check(headers, &ours.public_pem), "tampered request {n} verified");
        }
    }

    #[test]
    fn what_we_sign_verifies_and_covers_what_mastodon_requires() {
        use rsa::pkcs8::EncodePrivateKey;
        let private = rsa::RsaPrivateKey::new(&mut rsa::rand_core::OsRng, 2048).unwrap();
        let pem = private.to_pkcs8_pem(rsa::pkcs8::LineEnding::LF).unwrap();
        let public_pem = private.to_public_key().to_public_key_pem(rsa::pkcs8::LineEnding::LF).unwrap();
        let actor: url::Url = "https://us.example/users/ada".parse().unwrap();
        let key = SigningKey::from_pem(&actor, &pem).unwrap();
        let inbox: url::Url = "https://them.example:8443/inbox?x=1".parse().unwrap();
        let mut headers = HeaderMap::new();
        for (name, value) in key.sign_post(&inbox, BODY.as_bytes()).unwrap() {
            headers.insert(name, value.parse().unwrap());
        }
        let signature = headers["signature"].to_str().unwrap();
        assert!(signature.contains(r#"keyId="https://us.example/users/ada#main-key""#), "{signature}");
        assert!(signature.contains(r#"headers="(request-target) host date digest content-type""#), "{signature}");
        assert_eq!(headers["host"], "them.example:8443");
        let uri: Uri = "/inbox?x=1".parse().unwrap();
        let public = PublicKey::from_pem(&public_pem).unwrap();
        verify_digest(&headers, BODY.as_bytes()).unwrap();
        verify_request(&Method::POST, &uri, &headers, &public, "them.example:8443").unwrap();
        let elsewhere: Uri = "/inbox?x=2".parse().unwrap();
        assert!(verify_request(&Method::POST, &elsewhere, &headers, &public, "them.example:8443").is_err());
        assert!(SigningKey::from_pem(&actor, "-----BEGIN PRIVATE KEY-----\nno\n-----END PRIVATE KEY-----").is_err());
    }

    #[test]
    fn the_gets_we_sign_cover_request_target_host_and_date() {
        use rsa::pkcs8::EncodePrivateKey;
        let private = rsa::RsaPrivateKey::new(&mut rsa::rand_core::OsRng, 2048).unwrap();
        let pem = private.to_pkcs8_pem(rsa::pkcs8::LineEnding::LF).unwrap();
        let public_pem = private.to_public_key().to_public_key_pem(rsa::pkcs8::LineEnding::LF).unwrap();
        let actor: url::Url = "https://us.example/actor".parse().unwrap();
        let key = SigningKey::from_pem(&actor, &pem).unwrap();
        let url: url::Url = "https://them.example/users/a?x=1".parse().unwrap();
        let mut headers = HeaderMap::new();
        for (name, value) in key.sign_get(&url).unwrap() {
            headers.insert(name, value.parse().unwrap());
        }
        let signature = headers["signature"].to_str().unwrap();
        assert!(signature.contains(r#"keyId="https://us.example/actor#main-key""#), "{signature}");
        assert!(signature.contains(r#"headers="(request-target) host date""#), "{signature}");
        let public = PublicKey::from_pem(&public_pem).unwrap();
        let read = |method: &Method, path: &str| {
            let uri: Uri = path.parse().unwrap();
            let unverified = http_signature_normalization::Config::new()
                .set_expiration(MAX_AGE)
                .begin_verify(
                    method.as_str(),
                    uri.path_and_query().unwrap().as_str(),
                    headers
                        .iter()
                        .map(|(n, v)| (n.as_str().to_string(), v.to_str().unwrap().to_string()))
                        .collect::<BTreeMap<_, _>>(),
                )
                .unwrap();
            unverified.verify(|sig, signing_string| {
                STANDARD.decode(sig).is_ok_and(|bytes| public.verifies(signing_string.as_bytes(), &bytes))
            })
        };
        assert!(read(&Method::GET, "/users/a?x=1"));
        assert!(!read(&Method::GET, "/users/a?x=2"));
        assert!(!read(&Method::POST, "/users/a?x=1"));
    }

    #[test]
    fn pkcs1_pems_and_short_keys_are_read_too() {
        let short = keys(1024);
        assert!(matches!(PublicKey::from_pem(&short.public_pem), Some(PublicKey::Short(_))));
        assert!(check(&signed(&short, "rsa-sha256", MASTODON, |_| {}), &short.public_pem));
        let pkcs1 = rsa::RsaPublicKey::from_public_key_pem(&short.public_pem)
            .unwrap()
            .to_pkcs1_pem(rsa::pkcs1::LineEnding::LF)
            .unwrap();
        assert!(check(&signed(&short, "rsa-sha256", MASTODON, |_| {}), &pkcs1));
        assert!(PublicKey::from_pem("-----BEGIN PUBLIC KEY-----\nnot a key\n-----END PUBLIC KEY-----").is_none());
    }
}
