//! Instance administration over the API: the health of federation.

use axum::Json;
use axum::extract::State;
use serde::Serialize;
use utoipa::ToSchema;

use crate::service::App;
use crate::service::instances::{instance_signatures, instance_state};
use crate::storage::InstanceOverview;

use super::ApiError;
use super::auth::ApiUser;
use super::error::ErrorBody;

#[derive(Debug, Serialize, ToSchema)]
pub struct InstanceJson {
    /// `host` or `host:port`, as in its inbox URL.
    pub domain: String,
    /// `ok`, `failing` (recent deliveries failed; retrying) or `dead` (failing
    /// for longer than `federation_dead_after_secs`: deliveries wait, one
    /// probe an hour, until it answers or sends us anything).
    pub state: String,
    /// Failed attempts since the last success.
    pub failures: i64,
    pub failing_since: Option<String>,
    pub dead_since: Option<String>,
    pub next_probe_at: Option<String>,
    pub last_success_at: Option<String>,
    /// When it last sent us a verified activity after being dead.
    pub last_seen_at: Option<String>,
    /// Stored deliveries still to be sent.
    pub pending: i64,
    pub delivered: i64,
    /// Deliveries given up (refused, or out of attempts).
    pub given_up: i64,
    pub last_error: Option<String>,
    /// How it takes the signatures of our deliveries: `rfc9421` (HTTP
    /// Message Signatures) or `cavage` (it refused RFC 9421 and took the
    /// draft); null until the first delivery went through.
    pub signatures: Option<String>,
}

fn at(ms: Option<i64>) -> Option<String> {
    ms.and_then(|ms| jiff::Timestamp::from_millisecond(ms).ok()).map(|t| t.to_string())
}

impl From<InstanceOverview> for InstanceJson {
    fn from(i: InstanceOverview) -> Self {
        InstanceJson {
            state: instance_state(&i).to_text(),
            signatures: instance_signatures(&i).map(|s| s.to_text()),
            failures: i.failures,
            failing_since: at(i.first_failure_at),
            dead_since: at(i.dead_since),
            next_probe_at: at(i.next_probe_at),
            last_success_at: at(i.last_success_at),
            last_seen_at: at(i.last_seen_at),
            pending: i.pending,
            delivered: i.delivered,
            given_up: i.given_up,
            last_error: i.last_error,
            domain: i.domain,
        }
    }
}

/// Remote instances and their delivery queues, dead ones first (admins only).
#[utoipa::path(get, path = "/api/v1/admin/federation", tag = "admin", security(("token" = [])),
    responses((status = 200, body = [InstanceJson]), (status = 403, body = ErrorBody, description = "admin_only")))]
pub async fn federation(State(app): State<App>, ApiUser(user): ApiUser) -> Result<Json<Vec<InstanceJson>>, ApiError> {
    let instances = app.federation_instances(&user).await?;
    Ok(Json(instances.into_iter().map(InstanceJson::from).collect()))
}
