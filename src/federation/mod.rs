//! Federation (issue 5): ActivityPub beside the web pages and the JSON API.
//!
//! - [`wire`]: the JSON shapes (actors, collections, NodeInfo), apart from
//!   behaviour.
//! - [`actors`]: our accounts as `Person`s and the instance `Application`.
//! - [`discovery`]: WebFinger, NodeInfo 2.1 and the actor documents.
//! - [`remote`]: remote actors, fetched through WebFinger or by id,
//!   verified, sanitised, stored and cached.
//! - [`context`]: the federation crate's configuration (built in `serve`).
//! - [`objects`]: wire types of events, notes and received activities.
//! - [`inbox`]: verification, origin checks and dispatch of activities.
//! - [`follows`], [`events`] (publishing), [`mirror`] (remote events),
//!   [`requests`] (Join/Accept/Reject/Undo/Leave, Mastodon replies),
//!   [`messages`] (direct messages), [`delivery`] (the durable queue,
//!   signed by [`signer`]'s low-priority threads).
//! - [`fetch`] (signed GETs) and [`knock`] (which signature each instance
//!   takes, for both).
//!
//! See `docs/FEDERATION.md` for the mapping and what is still to come.

pub mod actors;
pub mod context;
pub mod delivery;
pub mod discovery;
pub mod error;
pub mod events;
pub mod fetch;
pub mod follows;
pub mod inbox;
pub mod knock;
pub mod messages;
pub mod mirror;
pub mod objects;
pub mod ports;
pub mod remote;
pub mod requests;
pub mod signatures;
pub mod signer;
pub mod tolerant;
pub mod wire;

pub use error::FederationError;

use axum::Router;
use axum::http::header::{ACCEPT, CONTENT_TYPE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Serialize;
use tower_http::limit::RequestBodyLimitLayer;

use crate::service::App;

/// The largest activity the inbox reads (256 KiB; Mastodon's own limit is
/// 1 MiB, but no activity we act on comes near this). Larger: 413.
pub const INBOX_BODY_LIMIT: usize = 256 * 1024;

/// The media type of ActivityPub documents we send.
pub const ACTIVITY_JSON: &str = "application/activity+json; charset=utf-8";

pub fn router() -> Router<App> {
    Router::new()
        .route("/.well-known/webfinger", get(discovery::webfinger))
        .route("/.well-known/nodeinfo", get(discovery::nodeinfo_links))
        .route("/nodeinfo/2.1", get(discovery::nodeinfo))
        .route("/actor", get(discovery::instance_actor))
        .route("/users/{username}/{collection}", get(discovery::collection))
        .route("/events/{block}/{date}", get(events::serve_event))
        .route("/inbox", axum::routing::post(inbox::receive).layer(RequestBodyLimitLayer::new(INBOX_BODY_LIMIT)))
        .route(
            "/users/{username}/inbox",
            axum::routing::post(inbox::receive).layer(RequestBodyLimitLayer::new(INBOX_BODY_LIMIT)),
        )
}

/// Whether a request asks for ActivityPub JSON: its `Accept` header contains
/// `application/activity+json` or `application/ld+json` (Mastodon sends
/// both in one header, with parameters).
pub fn wants_activity_json(headers: &HeaderMap) -> bool {
    headers.get_all(ACCEPT).iter().filter_map(|v| v.to_str().ok()).any(|v| {
        let v = v.to_ascii_lowercase();
        v.contains("application/activity+json") || v.contains("application/ld+json")
    })
}

/// A document as `application/activity+json`.
pub fn activity_json<T: Serialize>(body: &T) -> Response {
    match serde_json::to_vec(body) {
        Ok(bytes) => {
            let mut response = bytes.into_response();
            response.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static(ACTIVITY_JSON));
            response.headers_mut().insert("vary", HeaderValue::from_static("Accept"));
            response
        }
        Err(err) => {
            tracing::error!(error = %err, "serialising an ActivityPub document failed");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

/// A short JSON error for federation endpoints: `{"error": "..."}`.
pub(crate) fn problem(status: StatusCode, message: &str) -> Response {
    (status, axum::Json(serde_json::json!({"error": message}))).into_response()
}
