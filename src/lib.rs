//! Officehours: a self-hostable, federated office-hours server.
//!
//! Layers (see `docs/architecture.md`): `web` and `api` (HTTP) call
//! `service` (use cases), which applies `domain` rules (pure) and calls
//! `storage` (SQLite/PostgreSQL) and `mail` (notifications).

/// mimalloc for every binary built on this crate (the server, tests,
/// benchmarks): see docs/dependencies.md.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

pub mod allocator;

pub mod api;

pub mod calendar;
pub mod cli;
pub mod clock;
pub mod config;
pub mod demo;
pub mod domain;
pub mod federation;
mod health;
mod input;
pub mod live;
pub mod mail;
pub mod outbound;
pub mod root;
pub mod service;
pub mod storage;
mod test_clock;
pub mod voice;
pub mod web;

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use activitypub_federation::config::{FederationConfig, FederationMiddleware};
use axum::Router;
use axum::http::HeaderValue;
use axum::http::header::{self, HeaderName};
use axum::routing::get;
use tokio::net::TcpListener;
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

use federation::context::FedData;
pub use service::App;

/// Installs rustls' *ring* crypto provider for the process (the federation
/// crate's HTTP client needs one). Safe to call more than once.
pub fn install_crypto() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}
pub use config::Config;

/// The whole HTTP application: web pages, JSON API, ActivityPub and health
/// checks, with the federation crate's data for the handlers that need it.
pub fn router(
    state: App,
    federation: FederationConfig<FedData>,
    jobs: std::sync::Arc<service::jobs::Jobs>,
    rooms: std::sync::Arc<live::Rooms>,
) -> Router {
    let router = Router::new()
        .merge(web::router(state.clone()))
        .merge(live::router(state.clone(), rooms))
        .merge(api::router())
        .merge(federation::router())
        .merge(test_clock::router(&state, jobs))
        .route("/healthz", get(health::live))
        .route("/readyz", get(health::ready))
        .layer(axum::middleware::from_fn(input::refuse_nul))
        .layer(tower_http::limit::RequestBodyLimitLayer::new(1024 * 1024))
        .layer(TimeoutLayer::with_status_code(axum::http::StatusCode::REQUEST_TIMEOUT, Duration::from_secs(30)))
        .layer(security_header(header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .layer(security_header(header::X_FRAME_OPTIONS, "DENY"))
        .layer(security_header(header::REFERRER_POLICY, "same-origin"))
        .layer(security_header(
            header::CONTENT_SECURITY_POLICY,
            "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'; form-action 'self'",
        ))
        .layer(TraceLayer::new_for_http());
    router.layer(FederationMiddleware::new(federation)).with_state(state)
}

fn security_header(name: HeaderName, value: &'static str) -> SetResponseHeaderLayer<HeaderValue> {
    SetResponseHeaderLayer::if_not_present(name, HeaderValue::from_static(value))
}

/// Serves on an already-bound listener until `shutdown` resolves, so tests
/// can bind port 0 and start as many instances as they like. The router
/// comes from [`root::Node::router`].
pub async fn serve(
    listener: TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    axum::serve(listener, router.into_make_service_with_connect_info::<SocketAddr>())
        .with_graceful_shutdown(shutdown)
        .await?;
    Ok(())
}
