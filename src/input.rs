//! One boundary for every text input: no request reaches a handler with a
//! NUL character (U+0000) in its path, query or body.
//!
//! PostgreSQL cannot store NUL in text (`invalid byte sequence for encoding
//! "UTF8": 0x00`) while SQLite can, so without this the same request would
//! answer 500 on one database and 404/422 on the other. No field of ours
//! has a use for NUL, so it is refused here, once, with a clear 422 —
//! instead of being checked (or forgotten) in each handler, form, JSON type
//! and activity.

use axum::body::{Body, Bytes};
use axum::extract::Request;
use axum::http::header::{ACCEPT, CONTENT_TYPE};
use axum::http::{HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Response};

/// The largest body read here; the router's own limit is the same, so a
/// larger body is refused by it either way.
const BODY_LIMIT: usize = 1024 * 1024;

const MESSAGE: &str = "Text may not contain NUL characters (U+0000).";

/// Refuses a request whose path, query or body carries a NUL: `%00` in the
/// URL or a form, `\u0000` in JSON, or the raw byte anywhere in a body.
pub async fn refuse_nul(request: Request, next: Next) -> Response {
    let uri = request.uri();
    if contains_percent_nul(uri.path().as_bytes()) || uri.query().is_some_and(|q| contains_percent_nul(q.as_bytes())) {
        return refusal(request.headers(), uri.path());
    }
    if !has_body(request.headers()) {
        return next.run(request).await;
    }
    let (parts, body) = request.into_parts();
    let bytes: Bytes = match axum::body::to_bytes(body, BODY_LIMIT).await {
        Ok(bytes) => bytes,
        Err(_) => return (StatusCode::PAYLOAD_TOO_LARGE, "request body too large").into_response(),
    };
    let form = parts
        .headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim_start().to_ascii_lowercase().starts_with("application/x-www-form-urlencoded"));
    if body_has_nul(&bytes, form) {
        return refusal(&parts.headers, parts.uri.path());
    }
    next.run(Request::from_parts(parts, Body::from(bytes))).await
}

/// Whether a request announces a body (GETs and HEADs normally do not).
fn has_body(headers: &HeaderMap) -> bool {
    let length = headers.get(axum::http::header::CONTENT_LENGTH).and_then(|v| v.to_str().ok());
    headers.contains_key(axum::http::header::TRANSFER_ENCODING) || length.is_some_and(|l| l.trim() != "0")
}

/// A body with a NUL: the raw byte, `%00` in a form, or the JSON escape
/// `\u0000` (not an escaped backslash followed by `u0000`).
pub fn body_has_nul(body: &[u8], form: bool) -> bool {
    if body.contains(&0) {
        return true;
    }
    if form {
        return contains_percent_nul(body);
    }
    const ESCAPE: &[u8] = b"\\u0000";
    body.windows(ESCAPE.len()).enumerate().any(|(at, window)| {
        // `\\u0000` is a backslash and the text "u0000": count the
        // backslashes before this one.
        window == ESCAPE && body[..at].iter().rev().take_while(|b| **b == b'\\').count() % 2 == 0
    })
}

fn contains_percent_nul(text: &[u8]) -> bool {
    text.windows(3).any(|w| w == b"%00")
}

/// 422 in the shape the asker reads: the API's JSON error, or a small page.
fn refusal(headers: &HeaderMap, path: &str) -> Response {
    let wants_json = path.starts_with("/api/")
        || path.ends_with("/inbox")
        || path.starts_with("/.well-known/")
        || headers.get(ACCEPT).and_then(|v| v.to_str().ok()).is_some_and(|v| v.contains("json"));
    if wants_json {
        let body = serde_json::json!({"error": "invalid_text", "message": MESSAGE});
        return (StatusCode::UNPROCESSABLE_ENTITY, axum::Json(body)).into_response();
    }
    let page = format!(
        "<!doctype html><html lang=\"en\"><meta charset=\"utf-8\"><meta name=\"viewport\" \
         content=\"width=device-width\"><title>Bad request</title><h1>Bad request</h1><p>{MESSAGE}</p>\
         <p><a href=\"/\">Home</a></p></html>"
    );
    (StatusCode::UNPROCESSABLE_ENTITY, Html(page)).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nul_in_bodies_of_every_kind_is_found() {
        assert!(body_has_nul(b"{\"note\":\"a\\u0000b\"}", false));
        assert!(body_has_nul(b"{\"note\":\"a\\\\\\u0000b\"}", false), "an escaped backslash, then the escape");
        assert!(body_has_nul(b"login=%00x&password=y", true));
        assert!(body_has_nul(b"raw\0byte", false));
        assert!(body_has_nul(b"raw\0byte", true));
    }

    #[test]
    fn text_that_only_looks_like_nul_passes() {
        assert!(!body_has_nul(b"{\"note\":\"write \\\\u0000 in C\"}", false), "a backslash and the text u0000");
        assert!(!body_has_nul(b"{\"note\":\"100%00 sure\"}", false), "%00 is plain text in JSON");
        assert!(!body_has_nul(b"note=100%2500", true), "an encoded percent sign");
        assert!(!body_has_nul(b"", false));
    }

    #[test]
    fn percent_nul_is_found_in_paths_and_queries() {
        assert!(contains_percent_nul(b"/users/a%00b"));
        assert!(contains_percent_nul(b"q=a%00b"));
        assert!(!contains_percent_nul(b"/users/a%0Ab"));
        assert!(!contains_percent_nul(b"q=100%25"));
    }
}
