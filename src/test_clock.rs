//! `POST /_test/clock`: how the multi-instance test suite moves a server's
//! manual clock (see `crate::clock`). Routed only in federation test mode
//! on a manual clock (`--federation-test-mode` with
//! `OFFICEHOURS_TEST_CLOCK=manual`); everywhere else the path is unknown.
//!
//! `{"advance_ms": N}` moves the clock N milliseconds forward, runs one pass
//! of the background jobs before answering (so when the answer arrives,
//! everything due by the new time has been tried once: a test can check
//! that something did *not* happen without sleeping) and wakes the job
//! loop. The answer is the new time: `{"now_ms": …, "now": "…"}`.

use axum::extract::State;
use axum::routing::post;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

use std::sync::Arc;

use crate::service::App;
use crate::service::jobs::Jobs;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Advance {
    #[serde(default)]
    advance_ms: u64,
}

/// The route when the app runs in test mode on a manual clock; no routes otherwise.
pub fn router(app: &App, jobs: Arc<Jobs>) -> Router<App> {
    match app.config.federation_test_mode && app.clock.is_manual() {
        true => Router::new().route("/_test/clock", post(move |state, body| advance(state, jobs, body))),
        false => Router::new(),
    }
}

async fn advance(State(app): State<App>, jobs: Arc<Jobs>, Json(body): Json<Advance>) -> Json<Value> {
    let by = jiff::SignedDuration::from_millis(i64::try_from(body.advance_ms).unwrap_or(i64::MAX));
    if let Some(now) = app.clock.advance(by) {
        tracing::info!(advance_ms = body.advance_ms, %now, "test clock moved");
    }
    jobs.run_once().await;
    app.wake_jobs();
    Json(json!({"now_ms": app.clock.now_ms(), "now": app.clock.now().to_string()}))
}
