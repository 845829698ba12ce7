//! The health of remote instances we deliver to. A run of failed deliveries
//! spanning `dead_after` marks an instance dead: its deliveries wait (one
//! probe an hour) instead of being tried and given up. A successful
//! delivery, or any verified activity from it, revives it and sends what
//! waited at once.

use sqlx::{Any, Transaction};

use super::{Result, Store};
use crate::domain::federation::SignatureStyle;

/// How often a dead instance is tried.
const PROBE_EVERY_MS: i64 = 60 * 60 * 1000;

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct InstanceHealth {
    pub domain: String,
    pub failures: i64,
    pub dead_since: Option<i64>,
    pub last_success_at: Option<i64>,
}

/// One remote instance as the admin sees it: its health and what we have
/// sent it (counts over the deliveries still kept).
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct InstanceOverview {
    pub domain: String,
    pub failures: i64,
    pub first_failure_at: Option<i64>,
    pub dead_since: Option<i64>,
    pub next_probe_at: Option<i64>,
    pub last_success_at: Option<i64>,
    pub last_seen_at: Option<i64>,
    /// Stored, not yet delivered, still to be tried.
    pub pending: i64,
    pub delivered: i64,
    /// Given up (refused, or out of attempts).
    pub given_up: i64,
    /// The error of the latest failed attempt still pending, if any.
    pub last_error: Option<String>,
    /// How it takes our signatures, as stored (a `SignatureStyle` word), if known.
    pub http_signatures: Option<String>,
}

impl Store {
    /// Every instance we deliver to or hear from, dead ones first, then
    /// failing ones, then by name.
    pub async fn instances_overview(&self) -> Result<Vec<InstanceOverview>> {
        Ok(sqlx::query_as(
            "WITH names AS (SELECT domain FROM instances UNION SELECT domain FROM deliveries WHERE domain <> ''), \
             counts AS (SELECT domain, \
                CAST(SUM(CASE WHEN delivered_at IS NULL AND failed_at IS NULL THEN 1 ELSE 0 END) AS BIGINT) AS pending, \
                CAST(SUM(CASE WHEN delivered_at IS NOT NULL THEN 1 ELSE 0 END) AS BIGINT) AS delivered, \
                CAST(SUM(CASE WHEN failed_at IS NOT NULL THEN 1 ELSE 0 END) AS BIGINT) AS given_up, \
                MAX(CASE WHEN delivered_at IS NULL AND failed_at IS NULL THEN last_error END) AS last_error \
                FROM deliveries GROUP BY domain) \
             SELECT n.domain, COALESCE(i.failures, 0) AS failures, i.first_failure_at, i.dead_since, \
                i.next_probe_at, i.last_success_at, i.last_seen_at, COALESCE(c.pending, 0) AS pending, \
                COALESCE(c.delivered, 0) AS delivered, COALESCE(c.given_up, 0) AS given_up, c.last_error, \
                i.http_signatures \
             FROM names n LEFT JOIN instances i ON i.domain = n.domain LEFT JOIN counts c ON c.domain = n.domain \
             ORDER BY CASE WHEN i.dead_since IS NOT NULL THEN 0 WHEN COALESCE(i.failures, 0) > 0 THEN 1 ELSE 2 END, \
                n.domain",
        )
        .fetch_all(self.pool())
        .await?)
    }

    /// A delivery to `domain` failed; returns true when this marks it dead
    /// (failures for longer than `dead_after_ms`).
    pub async fn instance_failed(&self, domain: &str, dead_after_ms: i64, now: i64) -> Result<bool> {
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
    pub async fn instance_spoke(&self, domain: &str, now: i64) -> Result<bool> {
        let dead: Option<Option<i64>> = sqlx::query_scalar("SELECT dead_since FROM instances WHERE domain = $1")
            .bind(domain)
            .fetch_optional(self.pool())
            .await?;
        if !matches!(dead, Some(Some(_))) {
            return Ok(false);
        }
        let mut tx = self.begin_write().await?;
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

    /// How `domain` takes our signatures, when known.
    pub async fn instance_signatures(&self, domain: &str) -> Result<Option<SignatureStyle>> {
        let stored: Option<Option<String>> =
            sqlx::query_scalar("SELECT http_signatures FROM instances WHERE domain = $1")
                .bind(domain)
                .fetch_optional(self.pool())
                .await?;
        Ok(stored.flatten().and_then(|word| SignatureStyle::try_from(word).ok()))
    }

    /// `domain` takes our signatures as `style` (learned from a signed
    /// fetch): recorded without touching its health.
    pub async fn instance_signatures_learned(&self, domain: &str, style: SignatureStyle) -> Result<()> {
        sqlx::query(
            "INSERT INTO instances (domain, failures, http_signatures) VALUES ($1, 0, $2) \
             ON CONFLICT (domain) DO UPDATE SET http_signatures = excluded.http_signatures",
        )
        .bind(domain)
        .bind(style.as_str())
        .execute(self.writer())
        .await?;
        Ok(())
    }

    pub async fn instance_health(&self, domain: &str) -> Result<Option<InstanceHealth>> {
        Ok(sqlx::query_as("SELECT domain, failures, dead_since, last_success_at FROM instances WHERE domain = $1")
            .bind(domain)
            .fetch_optional(self.pool())
            .await?)
    }
}

/// A delivery to `domain` worked at `now`: it is alive (and takes our
/// signatures as `learned`, when that is news).
pub(super) async fn mark_alive(
    tx: &mut Transaction<'static, Any>,
    domain: &str,
    now: i64,
    learned: Option<SignatureStyle>,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO instances (domain, failures, last_success_at, http_signatures) VALUES ($1, 0, $2, $3) \
         ON CONFLICT (domain) DO UPDATE SET failures = 0, first_failure_at = NULL, dead_since = NULL, \
         next_probe_at = NULL, last_success_at = $2, \
         http_signatures = COALESCE(excluded.http_signatures, instances.http_signatures)",
    )
    .bind(domain)
    .bind(now)
    .bind(learned.map(SignatureStyle::as_str))
    .execute(&mut **tx)
    .await?;
    Ok(())
}
