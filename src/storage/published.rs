//! Events published to followers (F2): what was last sent for each block
//! occurrence, so changes go out as one `Update` and only when something
//! changed, and the events are served at their ids.

use super::follows::{Fanout, insert_fanout};
use super::{Result, Store};
use crate::domain::federation::PublishedStatus;

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct PublishedEvent {
    pub block_id: i64,
    pub occurrence_date: String,
    pub advisor_id: i64,
    pub ap_id: String,
    pub digest: String,
    #[sqlx(try_from = "String")]
    pub status: PublishedStatus,
    pub ends_at: i64,
    /// The `Event` as last published (JSON).
    pub body: String,
}

/// Deliveries queued at once from which PostgreSQL's statistics of the
/// queue are refreshed.
const ANALYZE_AFTER: usize = 1000;

const COLUMNS: &str = "block_id, occurrence_date, advisor_id, ap_id, digest, status, ends_at, body";

impl Store {
    /// Advisors with something to publish or withdraw: local advisors with
    /// slots in `[from, to)` (published even without followers yet, so the
    /// `upcomingEvents` collection is complete and new followers get it),
    /// and those with live or cancelled events out there.
    pub async fn advisors_to_publish(&self, from: i64, to: i64) -> Result<Vec<i64>> {
        Ok(sqlx::query_scalar(
            "SELECT DISTINCT s.advisor_id FROM slots s JOIN users u ON u.id = s.advisor_id \
             WHERE s.starts_at < $2 AND s.ends_at > $1 AND u.remote_actor_id IS NULL AND u.suspended_at IS NULL \
             UNION SELECT advisor_id FROM published_events WHERE status IN ('live', 'cancelled')",
        )
        .bind(from)
        .bind(to)
        .fetch_all(self.pool())
        .await?)
    }

    /// An advisor's published events that are not deleted or over.
    pub async fn open_published_events(&self, advisor_id: i64) -> Result<Vec<PublishedEvent>> {
        let sql =
            format!("SELECT {COLUMNS} FROM published_events WHERE advisor_id = $1 AND status IN ('live', 'cancelled')");
        Ok(sqlx::query_as(&sql).bind(advisor_id).fetch_all(self.pool()).await?)
    }

    /// An advisor's live events, soonest first (the `upcomingEvents` collection).
    pub async fn live_published_events(&self, advisor_id: i64, after: i64) -> Result<Vec<PublishedEvent>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM published_events WHERE advisor_id = $1 AND status = 'live' AND ends_at > $2 \
             ORDER BY ends_at LIMIT 200"
        );
        Ok(sqlx::query_as(&sql).bind(advisor_id).bind(after).fetch_all(self.pool()).await?)
    }

    pub async fn published_event(&self, ap_id: &str) -> Result<Option<PublishedEvent>> {
        let sql = format!("SELECT {COLUMNS} FROM published_events WHERE ap_id = $1");
        Ok(sqlx::query_as(&sql).bind(ap_id).fetch_optional(self.pool()).await?)
    }

    /// Where an advisor's followers receive: each shared inbox (or personal
    /// inbox) once.
    pub async fn follower_inboxes(&self, advisor_id: i64) -> Result<Vec<String>> {
        Ok(sqlx::query_scalar("SELECT DISTINCT inbox FROM followers WHERE user_id = $1 ORDER BY inbox")
            .bind(advisor_id)
            .fetch_all(self.pool())
            .await?)
    }

    /// Records what was published and queues its deliveries (each
    /// activity to each of its inboxes), in one transaction.
    pub async fn record_publication(&self, events: &[PublishedEvent], fanouts: &[Fanout<'_>], now: i64) -> Result<()> {
        let mut tx = self.begin_write().await?;
        for event in events {
            sqlx::query(
                "INSERT INTO published_events (block_id, occurrence_date, advisor_id, ap_id, digest, status, \
                 ends_at, body, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
                 ON CONFLICT (block_id, occurrence_date) DO UPDATE SET digest = excluded.digest, \
                 status = excluded.status, ends_at = excluded.ends_at, body = excluded.body, \
                 updated_at = excluded.updated_at",
            )
            .bind(event.block_id)
            .bind(&event.occurrence_date)
            .bind(event.advisor_id)
            .bind(&event.ap_id)
            .bind(&event.digest)
            .bind(event.status.as_str())
            .bind(event.ends_at)
            .bind(&event.body)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        }
        for fanout in fanouts {
            insert_fanout(&mut tx, fanout, now).await?;
        }
        tx.commit().await?;
        // A big fan-out changes the queue's size at once: PostgreSQL's
        // statistics of an hour ago (or none, on a new instance) would plan
        // each claim as if it held a handful of rows, re-reading thousands
        // per claim (seconds each). Refreshed now, each claim is an index read.
        let queued: usize = fanouts.iter().map(|f| f.inboxes.len()).sum();
        if queued >= ANALYZE_AFTER && self.backend() == super::Backend::Postgres {
            self.execute_raw("ANALYZE deliveries").await?;
        }
        Ok(())
    }
}
