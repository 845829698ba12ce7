//! HTTP signatures and body digests, both ways.
//!
//! Inbound, a request signed with **RFC 9421** HTTP Message Signatures
//! (`Signature-Input` and `Signature`, [`rfc9421`]) or with the older
//! **draft-cavage** `Signature` header alone ([`cavage`]) is read by
//! [`Inbound::read`] — everything but the key checked, so an unsigned,
//! stale or insufficient request is refused before anything is fetched —
//! and then checked against the actor's keys by [`Inbound::verify`]. The
//! keys ([`keys`]) are the actor's RSA `publicKey` and, for RFC 9421
//! `ed25519`, the Ed25519 Multikey of its `assertionMethod` (FEP-521a).
//!
//! Outbound, deliveries are signed with RFC 9421 (`rsa-v1_5-sha256` with
//! `<actor>#main-key`) or draft-cavage (`rsa-sha256`), whichever the
//! receiving instance takes: see `federation::delivery` (the double-knock).
//!
//! `ring` checks and signs (about a tenth of the time of the `rsa` crate,
//! the inbox's largest single cost, see `docs/benchmarks.md`); each
//! actor's key is parsed once, when the actor is cached.

mod cavage;
mod digest;
mod keys;
pub mod rfc9421;
mod sfv;

use axum::http::{HeaderMap, Method, Uri};
use url::Url;

pub use cavage::{InboundSignature, verify_request};
pub use digest::{content_digest, verify_content_digest, verify_digest};
pub use keys::{Ed25519Key, Ed25519Pair, PublicKey, SigningKey, ed25519_multibase_of};

use super::error::FederationError;

/// An inbound request's signatures, read and checked for everything but
/// the key.
pub enum Inbound {
    Cavage(InboundSignature),
    Rfc9421(Vec<rfc9421::Signature>),
}

/// An actor's keys, as stored: the RSA `publicKey` (its id and key) and
/// the Ed25519 Multikey, if it publishes one.
#[derive(Debug, Clone, Copy)]
pub struct ActorKeys<'a> {
    /// `publicKey.id`; empty when not known (rows stored before it was kept).
    pub rsa_id: &'a str,
    pub rsa: Option<&'a PublicKey>,
    pub ed25519: Option<(&'a str, &'a Ed25519Key)>,
}

impl Inbound {
    /// Reads a request's signature: RFC 9421 when it has `Signature-Input`,
    /// else draft-cavage (with its `Digest`). `scheme` and `own_host` are
    /// ours (they stand in for what a proxy or HTTP/2 leaves out: the
    /// sender signed the URL it used); `now_ms` is the app's clock.
    pub fn read(
        method: &Method,
        uri: &Uri,
        headers: &HeaderMap,
        body: &[u8],
        (scheme, own_host): (&str, &str),
        now_ms: i64,
    ) -> Result<Inbound, FederationError> {
        if !headers.contains_key("signature-input") {
            let signature = InboundSignature::read(method, uri, headers, own_host)?;
            verify_digest(headers, body)?;
            return Ok(Inbound::Cavage(signature));
        }
        if !headers.contains_key("signature") {
            return Err(FederationError::Unsigned);
        }
        // The `Host` header, else the URI's authority (HTTP/2), else ours.
        let host = headers
            .get("host")
            .and_then(|h| h.to_str().ok())
            .or_else(|| uri.authority().map(|a| a.as_str()))
            .unwrap_or(own_host);
        let path = uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
        let target = Url::parse(&format!("{scheme}://{host}{path}"))
            .map_err(|_| FederationError::SignatureRefused("the request's target is no URL".into()))?;
        let message = rfc9421::Message { method: method.as_str(), target: &target, headers };
        let signatures =
            rfc9421::read(&message, body, now_ms.div_euclid(1000)).map_err(FederationError::SignatureRefused)?;
        Ok(Inbound::Rfc9421(signatures))
    }

    /// The keys the sender says it signed with (`https://them/users/a#main-key`).
    pub fn key_ids(&self) -> Vec<&str> {
        match self {
            Inbound::Cavage(signature) => vec![signature.key_id()],
            Inbound::Rfc9421(signatures) => signatures.iter().map(|s| s.key_id.as_str()).collect(),
        }
    }

    /// Whether the actor whose keys these are made the signature (every
    /// one of them, for RFC 9421). A draft-cavage signature is checked
    /// against the RSA key whatever its key id (as before); an RFC 9421
    /// `keyid` must be the id of one of the actor's keys.
    pub fn verify(&self, keys: &ActorKeys) -> Result<(), FederationError> {
        match self {
            Inbound::Cavage(signature) => signature.verify(keys.rsa.ok_or(FederationError::Unauthorized)?),
            Inbound::Rfc9421(signatures) => {
                for signature in signatures {
                    let key_id = signature.key_id.as_str();
                    let key = match keys.ed25519 {
                        Some((id, key)) if id == key_id => rfc9421::Key::Ed25519(key),
                        _ if keys.rsa_id == key_id || keys.rsa_id.is_empty() => {
                            let rsa = keys.rsa.ok_or_else(|| {
                                FederationError::SignatureRefused("the actor has no RSA key we can read".into())
                            })?;
                            rfc9421::Key::Rsa(rsa)
                        }
                        _ => {
                            return Err(FederationError::SignatureRefused(format!(
                                "the key {key_id} is not one of the actor's keys"
                            )));
                        }
                    };
                    signature.verify_with(key).map_err(FederationError::SignatureRefused)?;
                }
                Ok(())
            }
        }
    }
}
