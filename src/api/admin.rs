//! Instance administration over the API: the health of federation, and
//! how long writers wait for the database's write lock.

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

/// How long this node's writers waited for the database's write lock since
/// it started: on SQLite the queue for the one write connection and its
/// `BEGIN IMMEDIATE`, on PostgreSQL the booking changes' row locks.
#[derive(Debug, Serialize, ToSchema)]
pub struct WriteLockJson {
    /// `sqlite` or `postgres`.
    pub database: String,
    /// Waits counted.
    pub count: u64,
    pub total_micros: u64,
    pub longest_micros: u64,
    /// Waits per power-of-two bucket: `buckets[i]` counts waits shorter than
    /// `2^i` microseconds (and at least `2^(i-1)`); the last bucket holds
    /// every longer one.
    pub buckets: Vec<u64>,
}

/// The write lock's wait histogram since the start (admins only).
#[utoipa::path(get, path = "/api/v1/admin/write-lock", tag = "admin", security(("token" = [])),
    responses((status = 200, body = WriteLockJson), (status = 403, body = ErrorBody, description = "admin_only")))]
pub async fn write_lock(State(app): State<App>, ApiUser(user): ApiUser) -> Result<Json<WriteLockJson>, ApiError> {
    let (backend, waits) = app.write_lock_waits(&user)?;
    let database = match backend {
        crate::storage::Backend::Sqlite => "sqlite",
        crate::storage::Backend::Postgres => "postgres",
    };
    Ok(Json(WriteLockJson {
        database: database.into(),
        count: waits.count,
        total_micros: waits.total_micros,
        longest_micros: waits.longest_micros,
        buckets: waits.buckets,
    }))
}
