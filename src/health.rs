//! Liveness (`/healthz`: the process answers) and readiness (`/readyz`: the
//! database answers too), for load balancers and orchestrators.

use axum::extract::State;
use axum::http::StatusCode;

use crate::app::App;

pub async fn live() -> &'static str {
    "ok"
}

pub async fn ready(State(app): State<App>) -> (StatusCode, &'static str) {
    match app.store.ping().await {
        Ok(()) => (StatusCode::OK, "ready"),
        Err(err) => {
            tracing::warn!(error = %err, "readiness check failed");
            (StatusCode::SERVICE_UNAVAILABLE, "database unreachable")
        }
    }
}
