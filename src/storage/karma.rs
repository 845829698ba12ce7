//! Karma events and scores, instance settings (the karma rules), no-show
//! records on requests, and settling attendance after a session.

use super::requests::{REQUEST_COLUMNS, log_event_about};
use super::{Request, Result, StorageError, Store};
use crate::domain::booking::EventKind;
use crate::domain::karma::KarmaKind;

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow, serde::Serialize)]
pub struct KarmaEvent {
    pub id: i64,
    #[sqlx(try_from = "String")]
    pub kind: KarmaKind,
    pub points: i64,
    pub request_id: Option<i64>,
    pub note: String,
    pub created_at: i64,
}

/// An approved session whose no-show window has closed, waiting for its
/// attendance karma.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct SettleCandidate {
    pub request_id: i64,
    pub advisor_id: i64,
    pub learner_id: i64,
}

/// What a request event's guard sees: the request, its slot's times, and
/// the request's earlier events as (kind, actor, subject, at).
#[derive(Debug, Clone)]
pub struct RequestHistory {
    pub request: Request,
    pub starts_at: i64,
    pub ends_at: i64,
    pub events: Vec<(EventKind, Option<i64>, Option<i64>, i64)>,
}

impl Store {
    pub async fn karma_score(&self, user_id: i64) -> Result<i64> {
        Ok(sqlx::query_scalar("SELECT CAST(COALESCE(SUM(points), 0) AS BIGINT) FROM karma_events WHERE user_id = $1")
            .bind(user_id)
            .fetch_one(self.pool())
            .await?)
    }

    /// A person's karma events, newest first.
    pub async fn karma_history(&self, user_id: i64, limit: i64) -> Result<Vec<KarmaEvent>> {
        Ok(sqlx::query_as(
            "SELECT id, kind, points, request_id, note, created_at FROM karma_events WHERE user_id = $1 \
             ORDER BY id DESC LIMIT $2",
        )
        .bind(user_id)
        .bind(limit)
        .fetch_all(self.pool())
        .await?)
    }

    /// The points a kind of karma event gave a person for one request.
    pub async fn karma_points_for(&self, request_id: i64, user_id: i64, kind: KarmaKind) -> Result<Option<i64>> {
        Ok(sqlx::query_scalar("SELECT points FROM karma_events WHERE request_id = $1 AND user_id = $2 AND kind = $3")
            .bind(request_id)
            .bind(user_id)
            .bind(kind.as_str())
            .fetch_optional(self.pool())
            .await?)
    }

    /// Settings whose names start with `prefix`, as (name without prefix, value).
    pub async fn instance_settings(&self, prefix: &str) -> Result<Vec<(String, String)>> {
        let rows: Vec<(String, String)> =
            sqlx::query_as("SELECT name, value FROM instance_settings WHERE name LIKE $1 ORDER BY name")
                .bind(format!("{prefix}%"))
                .fetch_all(self.pool())
                .await?;
        Ok(rows.into_iter().map(|(name, value)| (name[prefix.len()..].to_string(), value)).collect())
    }

    pub async fn save_instance_settings(&self, prefix: &str, values: &[(&str, String)], now: i64) -> Result<()> {
        let mut tx = self.begin_write().await?;
        for (name, value) in values {
            sqlx::query(
                "INSERT INTO instance_settings (name, value, updated_at) VALUES ($1, $2, $3) \
                 ON CONFLICT (name) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
            )
            .bind(format!("{prefix}{name}"))
            .bind(value)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Logs an event about a request (a no-show, a forgiveness) if `guard`
    /// allows it, judged inside the write transaction.
    pub async fn add_request_event<E>(
        &self,
        request_id: i64,
        actor_id: i64,
        kind: EventKind,
        note: &str,
        guard: impl FnOnce(&RequestHistory) -> std::result::Result<Option<i64>, E>,
        now: i64,
    ) -> Result<std::result::Result<(), E>> {
        let mut tx = self.begin_write().await?;
        if !self.lock_row(&mut tx, "requests", request_id).await? {
            return Err(StorageError::NotFound);
        }
        let sql = format!("SELECT {REQUEST_COLUMNS} FROM requests WHERE id = $1");
        let request: Request = sqlx::query_as(&sql).bind(request_id).fetch_one(&mut *tx).await?;
        let (starts_at, ends_at): (i64, i64) = sqlx::query_as("SELECT starts_at, ends_at FROM slots WHERE id = $1")
            .bind(request.slot_id)
            .fetch_one(&mut *tx)
            .await?;
        let rows: Vec<(String, Option<i64>, Option<i64>, i64)> = sqlx::query_as(
            "SELECT kind, actor_id, subject_id, created_at FROM booking_events WHERE request_id = $1 ORDER BY id",
        )
        .bind(request_id)
        .fetch_all(&mut *tx)
        .await?;
        let events = rows
            .into_iter()
            .map(|(kind, actor, subject, at)| Ok((super::db_word::word(kind)?, actor, subject, at)))
            .collect::<Result<_>>()?;
        let slot_id = request.slot_id;
        let subject = match guard(&RequestHistory { request, starts_at, ends_at, events }) {
            Ok(subject) => subject,
            Err(refusal) => return Ok(Err(refusal)),
        };
        log_event_about(&mut tx, request_id, slot_id, Some(actor_id), subject, kind, note, now).await?;
        tx.commit().await?;
        Ok(Ok(()))
    }

    /// Approved sessions that ended before `cutoff` and have no attendance
    /// karma yet.
    pub async fn settle_candidates(&self, cutoff: i64, limit: i64) -> Result<Vec<SettleCandidate>> {
        Ok(sqlx::query_as(
            "SELECT r.id AS request_id, r.advisor_id, r.learner_id FROM requests r JOIN slots s ON s.id = r.slot_id \
             WHERE r.status = 'approved' AND r.settled_at IS NULL AND s.ends_at < $1 ORDER BY s.ends_at LIMIT $2",
        )
        .bind(cutoff)
        .bind(limit)
        .fetch_all(self.pool())
        .await?)
    }

    /// Who was recorded absent from a session (forgiven or not: a forgiven
    /// no-show costs nothing, but it is no attendance either).
    pub async fn absentees(&self, request_id: i64) -> Result<Vec<i64>> {
        Ok(sqlx::query_scalar(
            "SELECT subject_id FROM booking_events WHERE request_id = $1 AND kind = 'no_show' AND subject_id IS NOT NULL",
        )
        .bind(request_id)
        .fetch_all(self.pool())
        .await?)
    }

    /// Marks a session settled and writes its attendance karma; false when
    /// another worker settled it first.
    pub async fn settle_request(&self, request_id: i64, karma: &super::Effects, now: i64) -> Result<bool> {
        self.claim_with_effects(
            "UPDATE requests SET settled_at = $2 WHERE id = $1 AND settled_at IS NULL",
            &[request_id],
            karma,
            now,
        )
        .await
    }
}
