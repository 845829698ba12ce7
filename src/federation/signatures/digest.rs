//! Body digests: the `Digest` header of draft-cavage signatures (RFC 3230,
//! `SHA-256=`) and the `Content-Digest` field of RFC 9421 (RFC 9530,
//! `sha-256` and `sha-512`).

use axum::http::HeaderMap;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use sha2::{Digest, Sha256, Sha512};

use super::super::error::FederationError;
use super::sfv::{self, BareItem, Member};

/// The body matches its `Digest` header: every `SHA-256=` part is the
/// body's hash, and there is at least one.
pub fn verify_digest(headers: &HeaderMap, body: &[u8]) -> Result<(), FederationError> {
    let header = headers.get("digest").and_then(|v| v.to_str().ok()).ok_or(FederationError::Unauthorized)?;
    let expected = STANDARD.encode(Sha256::digest(body));
    let mut sha256 = header
        .split(',')
        .filter_map(|part| part.trim().split_once('='))
        .filter(|(algorithm, _)| algorithm.eq_ignore_ascii_case("SHA-256"))
        .map(|(_, value)| value.trim())
        .peekable();
    if sha256.peek().is_none() {
        return Err(FederationError::Unauthorized);
    }
    if sha256.all(|value| value == expected) { Ok(()) } else { Err(FederationError::Unauthorized) }
}

/// `Content-Digest: sha-256=:…:` of a body (what we send).
pub fn content_digest(body: &[u8]) -> String {
    format!("sha-256=:{}:", STANDARD.encode(Sha256::digest(body)))
}

/// The body matches its `Content-Digest` field (RFC 9530): it names
/// `sha-256` or `sha-512` (other algorithms are ignored), and every one of
/// those it names is the body's hash. The reason when not.
pub fn verify_content_digest(value: &str, body: &[u8]) -> Result<(), String> {
    let dictionary = sfv::parse_dictionary(value).map_err(|e| format!("the Content-Digest is malformed ({e})"))?;
    let mut checked = 0;
    for (algorithm, member) in &dictionary {
        let expected: Vec<u8> = match algorithm.as_str() {
            "sha-256" => Sha256::digest(body).to_vec(),
            "sha-512" => Sha512::digest(body).to_vec(),
            _ => continue,
        };
        let Member::Item(sfv::Item { bare: BareItem::Bytes(given), .. }) = member else {
            return Err(format!("the Content-Digest's {algorithm} is not a byte sequence"));
        };
        if *given != expected {
            return Err(format!("the Content-Digest's {algorithm} does not match the body"));
        }
        checked += 1;
    }
    if checked == 0 {
        return Err("the Content-Digest has neither sha-256 nor sha-512".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const BODY: &str = r#"{"type":"Follow"}"#;

    #[test]
    fn digests_must_be_sha256_of_the_body() {
        let mut headers = HeaderMap::new();
        let good = STANDARD.encode(Sha256::digest(BODY));
        for (header, ok) in [
            (format!("SHA-256={good}"), true),
            (format!("sha-256={good}"), true),
            (format!("SHA-512=abc, SHA-256={good}"), true),
            (format!("SHA-256={good},SHA-256=AAAA"), false),
            ("SHA-512=abc".to_string(), false),
            ("garbage".to_string(), false),
        ] {
            headers.insert("digest", header.parse().unwrap());
            assert_eq!(verify_digest(&headers, BODY.as_bytes()).is_ok(), ok, "{header}");
        }
        headers.remove("digest");
        assert!(verify_digest(&headers, BODY.as_bytes()).is_err());
    }

    #[test]
    fn content_digests_follow_rfc_9530() {
        // RFC 9530 appendix B (and RFC 9421 appendix B.2): `{"hello": "world"}`.
        let body = br#"{"hello": "world"}"#;
        let sha256 = "sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:";
        let sha512 =
            "sha-512=:WZDPaVn/7XgHaAy8pmojAkGWoRx2UFChF41A2svX+TaPm+AbwAgBWnrIiYllu7BNNyealdVLvRwEmTHWXvJwew==:";
        assert_eq!(content_digest(body), sha256);
        assert!(verify_content_digest(sha256, body).is_ok());
        assert!(verify_content_digest(sha512, body).is_ok());
        assert!(verify_content_digest(&format!("{sha256}, {sha512}"), body).is_ok());
        assert!(verify_content_digest(&format!("md5=:AAAA:, {sha512}"), body).is_ok());
        for bad in [
            format!("{sha256}, sha-512=:AAAA:"),
            "sha-256=:AAAA:".to_string(),
            "md5=:AAAA:".to_string(),
            "sha-256=X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=".to_string(),
            "".to_string(),
        ] {
            assert!(verify_content_digest(&bad, body).is_err(), "{bad}");
        }
        assert!(verify_content_digest(sha256, br#"{"hello": "World"}"#).is_err());
    }
}
