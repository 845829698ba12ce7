//! What the booking pages read around a request (issue 17): the next free
//! time of several advisors at once, a learner's standing with an advisor
//! (a live request on a slot, how many that week, earlier sessions).

use super::{Result, Store};

impl Store {
    /// The next free time of each of `advisor_ids` after `now`, in one
    /// query: (advisor id, start). The same rule as
    /// `domain::agenda::is_free` — local, not removed, not booked, not under
    /// a busy time, listed, past the minimum notice and inside the horizon
    /// (the block's own rule, else the advisor's, else the default).
    pub async fn next_free_times(&self, advisor_ids: &[i64], now: i64) -> Result<Vec<(i64, i64)>> {
        if advisor_ids.is_empty() {
            return Ok(Vec::new());
        }
        let ids = super::placeholders(2, advisor_ids.len());
        let sql = format!(
            "SELECT s.advisor_id, MIN(s.starts_at) FROM slots s JOIN blocks b ON b.id = s.block_id \
             LEFT JOIN advisor_policies p ON p.user_id = s.advisor_id LEFT JOIN offerings o ON o.id = b.offering_id \
             WHERE s.advisor_id IN ({ids}) AND s.ap_id IS NULL AND s.cancelled_at IS NULL AND s.starts_at > $1 \
             AND s.starts_at >= $1 + 60000 * COALESCE(b.min_notice_minutes, o.min_notice_minutes, p.min_notice_minutes, 120) \
             AND s.starts_at <= $1 + 86400000 * COALESCE(b.horizon_days, o.horizon_days, p.horizon_days, 60) \
             AND NOT COALESCE(b.unlisted, o.unlisted, p.unlisted, FALSE) \
             AND NOT EXISTS (SELECT 1 FROM requests r WHERE r.slot_id = s.id AND r.status = 'approved') \
             AND NOT EXISTS (SELECT 1 FROM busy_intervals bi WHERE bi.advisor_id = s.advisor_id \
                 AND bi.starts_at < s.ends_at AND bi.ends_at > s.starts_at) \
             GROUP BY s.advisor_id"
        );
        let mut query = sqlx::query_as(&sql).bind(now);
        for id in advisor_ids {
            query = query.bind(*id);
        }
        Ok(query.fetch_all(self.pool()).await?)
    }

    /// A learner's live (requested or approved) requests on an advisor's
    /// slots starting in `[from, to)`: (slot id, request id).
    pub async fn live_requests_with(
        &self,
        learner_id: i64,
        advisor_id: i64,
        from: i64,
        to: i64,
    ) -> Result<Vec<(i64, i64)>> {
        Ok(sqlx::query_as(
            "SELECT r.slot_id, r.id FROM requests r JOIN slots s ON s.id = r.slot_id WHERE r.learner_id = $1 \
             AND r.advisor_id = $2 AND r.status IN ('requested', 'approved') AND s.starts_at >= $3 AND s.starts_at < $4 \
             ORDER BY s.starts_at",
        )
        .bind(learner_id)
        .bind(advisor_id)
        .bind(from)
        .bind(to)
        .fetch_all(self.pool())
        .await?)
    }

    /// How many sessions a learner had with an advisor that are over by
    /// `now` (approved, not cancelled).
    pub async fn earlier_sessions(&self, learner_id: i64, advisor_id: i64, now: i64) -> Result<i64> {
        Ok(sqlx::query_scalar(
            "SELECT COUNT(*) FROM requests r JOIN slots s ON s.id = r.slot_id WHERE r.learner_id = $1 \
             AND r.advisor_id = $2 AND r.status = 'approved' AND s.ends_at <= $3",
        )
        .bind(learner_id)
        .bind(advisor_id)
        .bind(now)
        .fetch_one(self.pool())
        .await?)
    }
}
