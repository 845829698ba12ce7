//! Busy times imported from advisors' own calendars (S6): the intervals in
//! `busy_intervals` and the `busy_*` columns of `advisor_policies`.
//!
//! Each import replaces an advisor's intervals wholesale, together with the
//! calendar's status, in one transaction, so listings never see half of an
//! import. Only the `busy_*` columns are written: an import that takes a few
//! seconds cannot undo a policy change saved meanwhile.

use sqlx::{Any, Transaction};

use super::{Result, Store};

/// An advisor whose calendar the periodic refresh fetches.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct BusyCalendar {
    pub advisor_id: i64,
    pub url: String,
    pub horizon_days: i64,
    /// The advisor's zone, for floating times and all-day events.
    pub timezone: String,
}

/// Rows per INSERT (three parameters each; well under both databases' limits).
const INSERT_CHUNK: usize = 300;

impl Store {
    /// Replaces all busy intervals (`(start_ms, end_ms)`) of an advisor.
    pub async fn replace_busy_intervals(&self, advisor_id: i64, intervals: &[(i64, i64)]) -> Result<()> {
        let mut tx = self.begin_write().await?;
        write_intervals(&mut tx, advisor_id, intervals).await?;
        tx.commit().await?;
        Ok(())
    }

    /// An advisor's busy intervals, in time order.
    pub async fn busy_intervals(&self, advisor_id: i64) -> Result<Vec<(i64, i64)>> {
        Ok(sqlx::query_as(
            "SELECT starts_at, ends_at FROM busy_intervals WHERE advisor_id = $1 ORDER BY starts_at, ends_at",
        )
        .bind(advisor_id)
        .fetch_all(self.pool())
        .await?)
    }

    /// Stores the result of setting (or clearing, with `url = None`) an
    /// advisor's calendar: the URL, the intervals and the time of the check,
    /// clearing any earlier error, in one transaction.
    pub async fn save_busy_calendar(
        &self,
        advisor_id: i64,
        url: Option<&str>,
        checked_at: Option<i64>,
        intervals: &[(i64, i64)],
        now: i64,
    ) -> Result<()> {
        let mut tx = self.begin_write().await?;
        // Clearing never creates a policy row; setting creates one with the
        // default rules if the advisor has none yet.
        let sql = match url {
            None => {
                "UPDATE advisor_policies SET busy_ics_url = $2, busy_checked_at = $3, busy_error = NULL, \
                 updated_at = $4 WHERE user_id = $1"
            }
            Some(_) => {
                "INSERT INTO advisor_policies (user_id, busy_ics_url, busy_checked_at, busy_error, updated_at) \
                 VALUES ($1, $2, $3, NULL, $4) \
                 ON CONFLICT (user_id) DO UPDATE SET busy_ics_url = $2, busy_checked_at = $3, busy_error = NULL, \
                 updated_at = $4"
            }
        };
        sqlx::query(sql).bind(advisor_id).bind(url).bind(checked_at).bind(now).execute(&mut *tx).await?;
        write_intervals(&mut tx, advisor_id, intervals).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Every advisor with a calendar URL, for the periodic refresh.
    pub async fn busy_calendars(&self) -> Result<Vec<BusyCalendar>> {
        Ok(sqlx::query_as(
            "SELECT p.user_id AS advisor_id, p.busy_ics_url AS url, p.horizon_days, u.timezone \
             FROM advisor_policies p JOIN users u ON u.id = p.user_id \
             WHERE p.busy_ics_url IS NOT NULL ORDER BY p.user_id",
        )
        .fetch_all(self.pool())
        .await?)
    }

    /// Stores a successful refresh, unless the advisor changed the URL while
    /// it ran. Returns whether it was stored.
    pub async fn save_busy_refresh(
        &self,
        advisor_id: i64,
        url: &str,
        checked_at: i64,
        intervals: &[(i64, i64)],
        now: i64,
    ) -> Result<bool> {
        let mut tx = self.begin_write().await?;
        let updated = sqlx::query(
            "UPDATE advisor_policies SET busy_checked_at = $3, busy_error = NULL, updated_at = $4 \
             WHERE user_id = $1 AND busy_ics_url = $2",
        )
        .bind(advisor_id)
        .bind(url)
        .bind(checked_at)
        .bind(now)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if updated == 0 {
            return Ok(false);
        }
        write_intervals(&mut tx, advisor_id, intervals).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Records why a refresh failed (the old intervals stay), unless the
    /// advisor changed the URL meanwhile. Returns whether it was recorded.
    pub async fn record_busy_error(&self, advisor_id: i64, url: &str, error: &str, now: i64) -> Result<bool> {
        let updated = sqlx::query(
            "UPDATE advisor_policies SET busy_error = $3, updated_at = $4 WHERE user_id = $1 AND busy_ics_url = $2",
        )
        .bind(advisor_id)
        .bind(url)
        .bind(error)
        .bind(now)
        .execute(self.writer())
        .await?
        .rows_affected();
        Ok(updated > 0)
    }
}

async fn write_intervals(tx: &mut Transaction<'static, Any>, advisor_id: i64, intervals: &[(i64, i64)]) -> Result<()> {
    sqlx::query("DELETE FROM busy_intervals WHERE advisor_id = $1").bind(advisor_id).execute(&mut **tx).await?;
    for chunk in intervals.chunks(INSERT_CHUNK) {
        let values = super::value_rows(1, chunk.len(), 3);
        let sql = format!("INSERT INTO busy_intervals (advisor_id, starts_at, ends_at) VALUES {values}");
        let mut query = sqlx::query(&sql);
        for &(start, end) in chunk {
            query = query.bind(advisor_id).bind(start).bind(end);
        }
        query.execute(&mut **tx).await?;
    }
    Ok(())
}
