//! RFC 9421 HTTP Message Signatures: `Signature-Input` names what each
//! signature (a label) covers and its parameters, `Signature` holds the
//! signature bytes per label; both are structured-field dictionaries
//! (RFC 8941, [`super::sfv`]).
//!
//! Inbound, [`read`] takes a request only when every signature in it is
//! readable and sufficient (the policy, before any key is fetched):
//!
//! - `created` is present, at most an hour old and at most a minute ahead
//!   (and `expires`, when given, has not passed);
//! - `keyid` is present; `alg`, when given, is `rsa-v1_5-sha256`,
//!   `rsa-pss-sha512` or `ed25519`;
//! - the covered components include `@method` and `@target-uri` (or
//!   `@authority` and `@path`, with `@query` when the target has one), and
//!   `content-digest` when there is a body, which must match it (RFC 9530,
//!   `sha-256` and/or `sha-512`).
//!
//! [`Signature::verify_with`] then checks each against the key its `keyid`
//! names. Outbound, [`SigningKey::sign_post_rfc9421`] signs
//! `@method @target-uri content-type content-digest` of a POST and
//! [`SigningKey::sign_get_rfc9421`] `@method @target-uri` of a GET, with
//! `rsa-v1_5-sha256`, the algorithm every RFC 9421 implementation in the
//! fediverse reads.

use axum::http::HeaderMap;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use url::Url;

use super::super::error::FederationError;
use super::digest::{content_digest, verify_content_digest};
use super::keys::{Ed25519Key, PublicKey, SigningKey};
use super::sfv::{self, BareItem, Item, Member, Parameters};

/// A signature's `created` may be this old (seconds) …
const MAX_AGE_SECS: i64 = 60 * 60;
/// … and this far in the sender's future (clocks differ a little).
const MAX_AHEAD_SECS: i64 = 60;
/// More signatures than this on one request are refused unread.
const MAX_SIGNATURES: usize = 4;
/// The label we sign with.
const LABEL: &str = "sig1";

/// The algorithms we check (RFC 9421 section 3.3, the registered names).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    RsaV15Sha256,
    RsaPssSha512,
    Ed25519,
}

impl Algorithm {
    pub fn from_name(name: &str) -> Option<Algorithm> {
        match name {
            "rsa-v1_5-sha256" => Some(Algorithm::RsaV15Sha256),
            "rsa-pss-sha512" => Some(Algorithm::RsaPssSha512),
            "ed25519" => Some(Algorithm::Ed25519),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Algorithm::RsaV15Sha256 => "rsa-v1_5-sha256",
            Algorithm::RsaPssSha512 => "rsa-pss-sha512",
            Algorithm::Ed25519 => "ed25519",
        }
    }
}

/// A request as its signatures see it.
pub struct Message<'a> {
    pub method: &'a str,
    /// The target URI as the sender used it (`https://us.example/inbox`).
    pub target: &'a Url,
    pub headers: &'a HeaderMap,
}

impl Message<'_> {
    /// The value of one covered component (RFC 9421 section 2).
    fn component(&self, name: &str) -> Result<String, String> {
        let target = self.target;
        Ok(match name {
            "@method" => self.method.to_string(),
            "@target-uri" => target.as_str().to_string(),
            "@authority" => authority(target).ok_or("the target has no host")?,
            "@scheme" => target.scheme().to_string(),
            "@path" => target.path().to_string(),
            "@query" => format!("?{}", target.query().unwrap_or_default()),
            "@request-target" => match target.query() {
                Some(query) => format!("{}?{query}", target.path()),
                None => target.path().to_string(),
            },
            "@status" => return Err("@status belongs to responses".into()),
            derived if derived.starts_with('@') => return Err(format!("the component {derived} is not supported")),
            field => {
                if field.bytes().any(|c| c.is_ascii_uppercase()) {
                    return Err(format!("the covered field {field} is not lowercase"));
                }
                let mut values = Vec::new();
                for value in self.headers.get_all(field) {
                    values.push(value.to_str().map_err(|_| format!("the field {field} is not text"))?.trim());
                }
                if values.is_empty() {
                    return Err(format!("the covered field {field} is missing"));
                }
                values.join(", ")
            }
        })
    }
}

/// `host[:port]`, lowercase, without a default port.
fn authority(url: &Url) -> Option<String> {
    let host = url.host_str()?.to_ascii_lowercase();
    Some(match url.port() {
        Some(port) => format!("{host}:{port}"),
        None => host,
    })
}

/// The signature base (RFC 9421 section 2.5) of `covered` with `params`:
/// one line per component, then `@signature-params`.
pub fn signature_base(message: &Message, covered: &[Item], params: &Parameters) -> Result<String, String> {
    let mut base = String::new();
    let mut seen: Vec<&str> = Vec::new();
    for item in covered {
        let BareItem::String(name) = &item.bare else {
            return Err("a covered component is not a string".into());
        };
        if !item.params.is_empty() {
            return Err(format!("parameters on the component {name} are not supported"));
        }
        if seen.contains(&name.as_str()) {
            return Err(format!("the component {name} is covered twice"));
        }
        seen.push(name);
        base.push_str(&format!("\"{name}\": {}\n", message.component(name)?));
    }
    base.push_str("\"@signature-params\": ");
    base.push_str(&sfv::serialize_inner_list(covered, params));
    Ok(base)
}

/// One signature of a request, read and found sufficient; not yet checked
/// against a key.
#[derive(Debug)]
pub struct Signature {
    pub label: String,
    pub key_id: String,
    /// `None` when the sender left `alg` out (the key decides).
    pub alg: Option<Algorithm>,
    base: String,
    bytes: Vec<u8>,
}

/// A key a signature may be checked against.
#[derive(Debug, Clone, Copy)]
pub enum Key<'a> {
    Rsa(&'a PublicKey),
    Ed25519(&'a Ed25519Key),
}

impl Signature {
    /// Whether `key` made this signature, with the algorithm `alg` names
    /// (which must suit the key), or without `alg` the one the key implies
    /// (for RSA: PKCS#1 v1.5 SHA-256, else PSS SHA-512).
    pub fn verify_with(&self, key: Key) -> Result<(), String> {
        let (message, signature) = (self.base.as_bytes(), self.bytes.as_slice());
        let verified = match (key, self.alg) {
            (Key::Rsa(key), Some(Algorithm::RsaV15Sha256)) => key.verifies(message, signature),
            (Key::Rsa(key), Some(Algorithm::RsaPssSha512)) => key.verifies_pss_sha512(message, signature),
            (Key::Rsa(key), None) => key.verifies(message, signature) || key.verifies_pss_sha512(message, signature),
            (Key::Ed25519(key), Some(Algorithm::Ed25519) | None) => key.verifies(message, signature),
            (Key::Rsa(_), Some(alg)) | (Key::Ed25519(_), Some(alg)) => {
                return Err(format!(
                    "the signature {} says {} but {} is not such a key",
                    self.label,
                    alg.name(),
                    self.key_id
                ));
            }
        };
        if verified {
            Ok(())
        } else {
            Err(format!("the signature {} does not verify with the key {}", self.label, self.key_id))
        }
    }
}

/// Every `label: value` of a dictionary field (its lines joined).
fn dictionary(headers: &HeaderMap, name: &str) -> Result<sfv::Dictionary, String> {
    let mut lines = Vec::new();
    for value in headers.get_all(name) {
        lines.push(value.to_str().map_err(|_| format!("{name} is not text"))?);
    }
    sfv::parse_dictionary(&lines.join(", ")).map_err(|e| format!("{name} is malformed: {e}"))
}

/// Reads every signature of a request and checks each against the policy
/// (see the module's documentation); `body` is what was sent (empty for a
/// GET), `now` in seconds. The reason when refused.
pub fn read(message: &Message, body: &[u8], now: i64) -> Result<Vec<Signature>, String> {
    let inputs = dictionary(message.headers, "signature-input")?;
    let values = dictionary(message.headers, "signature")?;
    if inputs.is_empty() {
        return Err("Signature-Input names no signature".into());
    }
    if inputs.len() > MAX_SIGNATURES {
        return Err(format!("more than {MAX_SIGNATURES} signatures"));
    }
    if let Some((label, _)) = values.iter().find(|(label, _)| !inputs.iter().any(|(l, _)| l == label)) {
        return Err(format!("the signature {label} is not in Signature-Input"));
    }
    let mut digest_checked = false;
    inputs
        .iter()
        .map(|(label, input)| {
            let Member::InnerList(covered, params) = input else {
                return Err(format!("the Signature-Input of {label} is not a list of components"));
            };
            let bytes = match values.iter().find(|(l, _)| l == label) {
                Some((_, Member::Item(Item { bare: BareItem::Bytes(bytes), .. }))) => bytes.clone(),
                Some(_) => return Err(format!("the signature {label} is not a byte sequence")),
                None => return Err(format!("the signature {label} has no value in Signature")),
            };
            let text = |name: &str| match sfv::param(params, name) {
                Some(BareItem::String(s) | BareItem::Token(s)) => Some(s.clone()),
                _ => None,
            };
            let integer = |name: &str| match sfv::param(params, name) {
                Some(BareItem::Integer(n)) => Some(*n),
                _ => None,
            };
            let created = integer("created").ok_or_else(|| format!("the signature {label} has no created time"))?;
            if created < now - MAX_AGE_SECS {
                return Err(format!("the signature {label} was created more than an hour ago"));
            }
            if created > now + MAX_AHEAD_SECS {
                return Err(format!("the signature {label} was created in the future"));
            }
            if integer("expires").is_some_and(|expires| expires < now) {
                return Err(format!("the signature {label} has expired"));
            }
            let key_id = text("keyid").ok_or_else(|| format!("the signature {label} has no keyid"))?;
            let alg = match text("alg") {
                None => None,
                Some(name) => Some(
                    Algorithm::from_name(&name)
                        .ok_or_else(|| format!("the signature {label} uses {name}, an algorithm we do not take"))?,
                ),
            };
            let names: Vec<&str> = covered
                .iter()
                .filter_map(|item| match &item.bare {
                    BareItem::String(name) => Some(name.as_str()),
                    _ => None,
                })
                .collect();
            let covers = |name: &str| names.contains(&name);
            let target_covered = covers("@target-uri")
                || (covers("@authority") && covers("@path") && (message.target.query().is_none() || covers("@query")));
            if !covers("@method") || !target_covered {
                return Err(format!(
                    "the signature {label} must cover @method and @target-uri (or @authority, @path and @query)"
                ));
            }
            if !body.is_empty() && !covers("content-digest") {
                return Err(format!("the signature {label} does not cover content-digest"));
            }
            if covers("content-digest") && !digest_checked {
                let value = message.headers.get("content-digest").and_then(|v| v.to_str().ok()).unwrap_or_default();
                verify_content_digest(value, body)?;
                digest_checked = true;
            }
            let base = signature_base(message, covered, params).map_err(|e| format!("the signature {label}: {e}"))?;
            Ok(Signature { label: label.clone(), key_id, alg, base, bytes })
        })
        .collect()
}

impl SigningKey {
    /// The headers of a POST of `body` to `inbox`, signed with RFC 9421:
    /// `rsa-v1_5-sha256` over `@method @target-uri content-type
    /// content-digest`, created at `now` (seconds), with our key id.
    pub fn sign_post_rfc9421(
        &self,
        inbox: &Url,
        body: &[u8],
        now: i64,
    ) -> Result<Vec<(&'static str, String)>, FederationError> {
        let content_type = "application/activity+json";
        let digest = content_digest(body);
        let mut headers = HeaderMap::new();
        headers.insert("content-type", axum::http::HeaderValue::from_static(content_type));
        headers
            .insert("content-digest", digest.parse().map_err(|_| FederationError::Invalid("unusable digest".into()))?);
        let covered: Vec<Item> = ["@method", "@target-uri", "content-type", "content-digest"]
            .into_iter()
            .map(|name| Item { bare: BareItem::String(name.into()), params: Vec::new() })
            .collect();
        let params = self.rfc9421_params(now);
        let message = Message { method: "POST", target: inbox, headers: &headers };
        let base = signature_base(&message, &covered, &params).map_err(FederationError::Invalid)?;
        let signature = self.sign_rsa_sha256(base.as_bytes())?;
        Ok(vec![
            ("content-type", content_type.to_string()),
            ("content-digest", digest),
            ("signature-input", format!("{LABEL}={}", sfv::serialize_inner_list(&covered, &params))),
            ("signature", format!("{LABEL}=:{}:", STANDARD.encode(signature))),
        ])
    }

    /// The headers of a GET of `target`, signed with RFC 9421:
    /// `rsa-v1_5-sha256` over `@method @target-uri`, created at `now`
    /// (seconds), with our key id (a fetch by the instance actor).
    pub fn sign_get_rfc9421(&self, target: &Url, now: i64) -> Result<Vec<(&'static str, String)>, FederationError> {
        let headers = HeaderMap::new();
        let covered: Vec<Item> = ["@method", "@target-uri"]
            .into_iter()
            .map(|name| Item { bare: BareItem::String(name.into()), params: Vec::new() })
            .collect();
        let params = self.rfc9421_params(now);
        let message = Message { method: "GET", target, headers: &headers };
        let base = signature_base(&message, &covered, &params).map_err(FederationError::Invalid)?;
        let signature = self.sign_rsa_sha256(base.as_bytes())?;
        Ok(vec![
            ("signature-input", format!("{LABEL}={}", sfv::serialize_inner_list(&covered, &params))),
            ("signature", format!("{LABEL}=:{}:", STANDARD.encode(signature))),
        ])
    }

    /// `created`, `keyid` and `alg` of what we sign.
    fn rfc9421_params(&self, now: i64) -> Parameters {
        vec![
            ("created".into(), BareItem::Integer(now)),
            ("keyid".into(), BareItem::String(self.key_id.clone())),
            ("alg".into(), BareItem::String(Algorithm::RsaV15Sha256.name().into())),
        ]
    }
}

#[cfg(test)]
mod tests;
