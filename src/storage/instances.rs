//! The health of remote instances we deliver to. A run of failed deliveries
//! spanning `dead_after` marks an instance dead: its deliveries wait (one
//! probe an hour) instead of being tried and given up. A successful
//! delivery, or any verified activity from it, revives it and sends what
//! waited at once.

use super::{Result, Store, now_ms};

/// How often a dead instance is tried.
const PROBE_EVERY_MS: i64 = 60 * 60 * 1000;

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct InstanceHealth {
    pub domain: String,
    pub failures: i64,
    pub dead_since: Option<i64>,
    pub last_success_at: Option<i64>,
}

impl Store {
    /// A delivery to `domain` worked: it is alive.
    pub async fn instance_delivered(&self, domain: &str) -> Result<()> {
        let now = now_ms();
        sqlx::query(
            "INSERT INTO instances (domain, failures, last_success_at) VALUES ($1, 0, $2) \
             ON CONFLICT (domain) DO UPDATE SET failures = 0, first_failure_at = NULL, dead_since = NULL, \
             next_probe_at = NULL, last_success_at = $2",
        )
        .bind(domain)
        .bind(now)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// A delivery to `domain` failed; returns true when this marks it dead
    /// (failures for longer than `dead_after_ms`).
    pub async fn instance_failed(&self, domain: &str, dead_after_ms: i64) -> Result<bool> {
        let now = now_ms();
        let dead_since: Option<i64> = sqlx::query_scalar(
            "INSERT INTO instances (domain, failures, first_failure_at) VALUES ($1, 1, $2) \
             ON CONFLICT (domain) DO UPDATE SET failures = instances.failures + 1, \
             first_failure_at = COALESCE(instances.first_failure_at, $2), \
             dead_since = CASE WHEN instances.dead_since IS NULL \
                AND $2 - COALESCE(instances.first_failure_at, $2) >= $3 THEN $2 ELSE instances.dead_since END, \
             next_probe_at = $2 + $4 \
             RETURNING dead_since",
        )
        .bind(domain)
        .bind(now)
        .bind(dead_after_ms)
        .bind(PROBE_EVERY_MS)
        .fetch_one(self.pool())
        .await?;
        Ok(dead_since == Some(now))
    }

    /// `domain` sent us a verified activity: if it was dead, it is alive
    /// again and its waiting deliveries are due now. True when revived.
    pub async fn instance_spoke(&self, domain: &str) -> Result<bool> {
        let dead: Option<Option<i64>> = sqlx::query_scalar("SELECT dead_since FROM instances WHERE domain = $1")
            .bind(domain)
            .fetch_optional(self.pool())
            .await?;
        if !matches!(dead, Some(Some(_))) {
            return Ok(false);
        }
        let now = now_ms();
        let mut tx = self.pool().begin().await?;
        sqlx::query(
            "UPDATE instances SET failures = 0, first_failure_at = NULL, dead_since = NULL, next_probe_at = NULL, \
             last_seen_at = $2 WHERE domain = $1",
        )
        .bind(domain)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "UPDATE deliveries SET next_attempt_at = $2 \
             WHERE domain = $1 AND delivered_at IS NULL AND failed_at IS NULL",
        )
        .bind(domain)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    pub async fn instance_health(&self, domain: &str) -> Result<Option<InstanceHealth>> {
        Ok(sqlx::query_as("SELECT domain, failures, dead_since, last_success_at FROM instances WHERE domain = $1")
            .bind(domain)
            .fetch_optional(self.pool())
            .await?)
    }
}
