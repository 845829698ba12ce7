//! Durable queues: work written to a table in the transaction that causes
//! it, then claimed, done or retried by the background jobs. One set of
//! statements serves every queue table; the policy (attempts, lease,
//! delays, giving up) is `domain::retry`.
//!
//! A queue table has `id`, `attempts` (0 when queued), `next_attempt_at`
//! (due from then; also the end of a claim's lease), `last_error`,
//! `failed_at` (given up) and a column that marks the work done (for
//! example `sent_at`). [`Store::claim`] takes the due rows, longest due
//! first (then oldest; an index on `(next_attempt_at, id)` over the pending
//! rows serves it without reading the others), and
//! moves their `next_attempt_at` to the end of the lease while counting the
//! attempt, so each row goes to one worker, and a worker that dies leaves
//! its rows to be claimed again when the lease ends. [`Store::finished`]
//! marks one done; [`Store::failed`] schedules the next attempt or gives up,
//! keeping the reason.
//!
//! A new queue is a table with those columns (both migration folders), a
//! row type, and a [`Queue`] constant naming them, next to the statement
//! that inserts its rows.

use std::marker::PhantomData;

use sqlx::any::AnyRow;
use sqlx::{Any, Executor, FromRow};

use crate::domain::retry::AfterFailure;

use super::{Backend, Result, Store};

/// A queue table, the row its claims return, and what a claim skips.
#[derive(Debug)]
pub struct Queue<Row> {
    /// The table.
    pub(super) table: &'static str,
    /// The column set when the work is done.
    pub(super) done_column: &'static str,
    /// The columns a claim returns, in `Row`'s terms.
    pub(super) returning: &'static str,
    /// More conditions on the rows a claim takes (`AND …`, the queue table
    /// aliased `q`, `$1` the current time), or "".
    pub(super) hold_back: &'static str,
    pub(super) row: PhantomData<fn() -> Row>,
}

impl<Row> Queue<Row> {
    /// The claim: the due rows picked by a subquery that reads them from
    /// the `(next_attempt_at, id)` index and stops at the limit, then
    /// updated by id. The outer conditions repeat the inner ones so that on
    /// PostgreSQL a row another node claimed meanwhile is skipped (its new
    /// version is checked again). PostgreSQL gets the ids as an array
    /// computed once (`= ANY(ARRAY(…))`): with `IN (…)` and statistics that
    /// lag a sudden fan-out, it plans the subquery once per pending row.
    fn claim_sql(&self, backend: Backend) -> String {
        let Queue { table, done_column: done, returning, hold_back, .. } = self;
        let due = format!(
            "SELECT q.id FROM {table} q WHERE q.{done} IS NULL AND q.failed_at IS NULL \
             AND q.next_attempt_at <= $1 {hold_back} ORDER BY q.next_attempt_at, q.id LIMIT $3"
        );
        let ids = match backend {
            Backend::Sqlite => format!("id IN ({due})"),
            Backend::Postgres => format!("id = ANY(ARRAY({due}))"),
        };
        format!(
            "UPDATE {table} SET next_attempt_at = $2, attempts = attempts + 1 \
             WHERE next_attempt_at <= $1 AND {done} IS NULL AND failed_at IS NULL AND {ids} \
             RETURNING {returning}"
        )
    }

    fn finished_sql(&self) -> String {
        format!("UPDATE {} SET {} = $2, last_error = NULL WHERE id = $1", self.table, self.done_column)
    }

    fn failed_sql(&self) -> String {
        format!(
            "UPDATE {} SET last_error = $2, next_attempt_at = COALESCE($3, next_attempt_at), \
             failed_at = CASE WHEN $3 IS NULL THEN $4 ELSE NULL END WHERE id = $1",
            self.table
        )
    }

    /// Every statement of this queue that both databases run (the
    /// statement test prepares them on both).
    pub fn statements(&self) -> [String; 3] {
        [self.finished_sql(), self.failed_sql(), self.pending_sql()]
    }

    /// The claim as `backend` runs it (the statement test prepares each on
    /// its database).
    pub fn claim_statement(&self, backend: Backend) -> String {
        self.claim_sql(backend)
    }

    /// Rows neither done nor given up.
    fn pending_sql(&self) -> String {
        format!("SELECT COUNT(*) FROM {} WHERE {} IS NULL AND failed_at IS NULL", self.table, self.done_column)
    }
}

impl Store {
    /// Claims up to `limit` rows due at `now` for `lease_ms`, counting the
    /// attempt (the returned rows carry the new count).
    pub async fn claim<Row>(&self, queue: &Queue<Row>, limit: i64, lease_ms: i64, now: i64) -> Result<Vec<Row>>
    where
        Row: for<'r> FromRow<'r, AnyRow> + Send + Unpin,
    {
        Ok(sqlx::query_as(&queue.claim_sql(self.backend()))
            .bind(now)
            .bind(now + lease_ms)
            .bind(limit)
            .fetch_all(self.writer())
            .await?)
    }

    /// Marks a claimed row done at `now`.
    pub async fn finished<Row>(&self, queue: &Queue<Row>, id: i64, now: i64) -> Result<()> {
        finished(self.writer(), queue, id, now).await
    }

    /// A failed attempt at `now`: retried when `next` says so, else given up;
    /// `reason` is kept either way.
    pub async fn failed<Row>(
        &self,
        queue: &Queue<Row>,
        id: i64,
        reason: &str,
        next: AfterFailure,
        now: i64,
    ) -> Result<()> {
        sqlx::query(&queue.failed_sql())
            .bind(id)
            .bind(reason)
            .bind(next.retry_at())
            .bind(now)
            .execute(self.writer())
            .await?;
        Ok(())
    }

    /// Rows neither done nor given up.
    pub async fn pending<Row>(&self, queue: &Queue<Row>) -> Result<i64> {
        Ok(sqlx::query_scalar(&queue.pending_sql()).fetch_one(self.pool()).await?)
    }
}

/// [`Store::finished`] on any connection or transaction (to record several
/// rows, or more than the queue, in one commit).
pub(super) async fn finished<'e, Row, E>(executor: E, queue: &Queue<Row>, id: i64, now: i64) -> Result<()>
where
    E: Executor<'e, Database = Any>,
{
    sqlx::query(&queue.finished_sql()).bind(id).bind(now).execute(executor).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statements_name_the_queue_and_its_columns() {
        let queue: Queue<()> =
            Queue { table: "jobs", done_column: "done_at", returning: "id, attempts", hold_back: "", row: PhantomData };
        for backend in [Backend::Sqlite, Backend::Postgres] {
            let claim = queue.claim_sql(backend);
            assert!(claim.starts_with("UPDATE jobs SET next_attempt_at = $2, attempts = attempts + 1"), "{claim}");
            assert!(claim.contains("q.done_at IS NULL") && claim.ends_with("RETURNING id, attempts"), "{claim}");
            assert!(claim.contains("ORDER BY q.next_attempt_at, q.id LIMIT $3"), "{claim}");
        }
        assert!(queue.claim_sql(Backend::Postgres).contains("id = ANY(ARRAY(SELECT q.id FROM jobs q"));
        assert_eq!(queue.finished_sql(), "UPDATE jobs SET done_at = $2, last_error = NULL WHERE id = $1");
        assert!(queue.failed_sql().starts_with("UPDATE jobs SET last_error = $2"));
        assert_eq!(queue.pending_sql(), "SELECT COUNT(*) FROM jobs WHERE done_at IS NULL AND failed_at IS NULL");
    }
}
