//! Availability blocks, their slots and the advisor's booking policy.

use serde::Serialize;
use sqlx::{Any, Transaction};

use super::{Backend, Constraint, Result, StorageError, Store};
use crate::domain::booking::{EventKind, RequestStatus, SlotState};

/// Slots inserted per statement when a block is created (5 values each;
/// well under both databases' limits on bound parameters).
const SLOT_INSERT_CHUNK: usize = 200;

/// An advisor's booking rules (defaults for every block).
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow, Serialize)]
pub struct AdvisorPolicy {
    pub user_id: i64,
    pub buffer_minutes: i64,
    pub min_notice_minutes: i64,
    pub horizon_days: i64,
    pub max_per_learner_week: i64,
    #[sqlx(try_from = "super::DbBool")]
    pub approval_required: bool,
    #[sqlx(try_from = "super::DbBool")]
    pub unlisted: bool,
    /// Requests may come without a note (the note is required by default).
    #[sqlx(try_from = "super::DbBool")]
    pub note_optional: bool,
    #[serde(skip)]
    pub private_link_hash: Option<String>,
    /// Calendar URLs often carry a secret: shown to their owner only.
    #[serde(skip)]
    pub busy_ics_url: Option<String>,
    pub busy_checked_at: Option<i64>,
    pub busy_error: Option<String>,
}

impl AdvisorPolicy {
    pub fn defaults(user_id: i64) -> Self {
        AdvisorPolicy {
            user_id,
            buffer_minutes: 0,
            min_notice_minutes: 120,
            horizon_days: 60,
            max_per_learner_week: 2,
            approval_required: true,
            unlisted: false,
            note_optional: false,
            private_link_hash: None,
            busy_ics_url: None,
            busy_checked_at: None,
            busy_error: None,
        }
    }
}

/// Per-block overrides of the policy; `None` inherits.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct BlockOverrides {
    pub buffer_minutes: Option<i64>,
    pub min_notice_minutes: Option<i64>,
    pub horizon_days: Option<i64>,
    pub max_per_learner_week: Option<i64>,
    pub approval_required: Option<bool>,
    pub unlisted: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow, Serialize)]
pub struct Block {
    pub id: i64,
    pub advisor_id: i64,
    pub timezone: String,
    pub start_date: String,
    pub start_time: String,
    pub end_time: String,
    pub weekdays: Option<i64>,
    pub until_date: Option<String>,
    pub session_minutes: i64,
    pub buffer_minutes: Option<i64>,
    pub min_notice_minutes: Option<i64>,
    pub horizon_days: Option<i64>,
    pub max_per_learner_week: Option<i64>,
    #[sqlx(try_from = "super::DbOptBool")]
    pub approval_required: Option<bool>,
    #[sqlx(try_from = "super::DbOptBool")]
    pub unlisted: Option<bool>,
    pub created_at: i64,
    /// The offering it belongs to; `None` for the advisor's default one.
    pub offering_id: Option<i64>,
}

impl Block {
    pub fn overrides(&self) -> BlockOverrides {
        BlockOverrides {
            buffer_minutes: self.buffer_minutes,
            min_notice_minutes: self.min_notice_minutes,
            horizon_days: self.horizon_days,
            max_per_learner_week: self.max_per_learner_week,
            approval_required: self.approval_required,
            unlisted: self.unlisted,
        }
    }
}

/// A validated block with its sessions, ready to insert.
#[derive(Debug, Clone)]
pub struct NewBlock {
    pub advisor_id: i64,
    pub timezone: String,
    pub start_date: String,
    pub start_time: String,
    pub end_time: String,
    pub weekdays: Option<i64>,
    pub until_date: Option<String>,
    pub session_minutes: i64,
    pub overrides: BlockOverrides,
    /// The offering it belongs to; `None` for the advisor's default one.
    pub offering_id: Option<i64>,
    /// Every occurrence with its sessions.
    pub occurrences: Vec<NewOccurrence>,
}

#[derive(Debug, Clone)]
pub struct NewOccurrence {
    pub date: String,
    pub start: i64,
    pub end: i64,
    pub slots: Vec<(i64, i64)>,
}

/// A slot as people see it: its state is derived from its requests.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow, Serialize)]
pub struct Slot {
    pub id: i64,
    pub block_id: i64,
    pub advisor_id: i64,
    pub occurrence_date: String,
    pub starts_at: i64,
    pub ends_at: i64,
    #[sqlx(try_from = "String")]
    pub status: SlotState,
    /// Overlaps a busy time imported from the advisor's own calendar.
    #[sqlx(try_from = "super::DbBool")]
    pub busy: bool,
    /// The block's own "unlisted" override, if it has one.
    #[sqlx(try_from = "super::DbOptBool")]
    pub block_unlisted: Option<bool>,
    /// The offering of its block (`None`: the advisor's default one).
    pub offering_id: Option<i64>,
    /// The offering's own "unlisted" rule, if it has one.
    #[sqlx(try_from = "super::DbOptBool")]
    pub offering_unlisted: Option<bool>,
    /// For a remote advisor's slot mirrored here: its id over there.
    pub ap_id: Option<String>,
}

impl Slot {
    /// Whether the slot is unlisted (S4): its block's rule, else its
    /// offering's, else the advisor's.
    pub fn unlisted(&self, advisor_unlisted: bool) -> bool {
        self.block_unlisted.or(self.offering_unlisted).unwrap_or(advisor_unlisted)
    }
}

pub(super) const SLOT_SELECT: &str = "SELECT s.id, s.block_id, s.advisor_id, s.occurrence_date, s.starts_at, s.ends_at, \
     CASE WHEN s.cancelled_at IS NOT NULL THEN 'cancelled' \
          WHEN EXISTS (SELECT 1 FROM requests r WHERE r.slot_id = s.id AND r.status = 'approved') THEN 'booked' \
          WHEN s.remote_open = 0 THEN 'booked' \
          WHEN EXISTS (SELECT 1 FROM requests r WHERE r.slot_id = s.id AND r.status = 'requested') THEN 'requested' \
          ELSE 'open' END AS status, \
     CASE WHEN EXISTS (SELECT 1 FROM busy_intervals bi WHERE bi.advisor_id = s.advisor_id \
          AND bi.starts_at < s.ends_at AND bi.ends_at > s.starts_at) THEN 1 ELSE 0 END AS busy, \
     (SELECT b.unlisted FROM blocks b WHERE b.id = s.block_id) AS block_unlisted, \
     (SELECT b.offering_id FROM blocks b WHERE b.id = s.block_id) AS offering_id, \
     (SELECT o.unlisted FROM blocks b JOIN offerings o ON o.id = b.offering_id WHERE b.id = s.block_id) \
     AS offering_unlisted, s.ap_id \
     FROM slots s";

const BLOCK_COLUMNS: &str = "id, advisor_id, timezone, start_date, start_time, end_time, weekdays, until_date, \
     session_minutes, buffer_minutes, min_notice_minutes, horizon_days, max_per_learner_week, approval_required, \
     unlisted, created_at, offering_id";

impl Store {
    /// A write transaction that holds the write lock from its first statement
    /// (`BEGIN IMMEDIATE` on SQLite, on the store's one write connection:
    /// writers queue for it first come, first served), so checks and
    /// writes inside it cannot interleave with another writer's. The wait
    /// is recorded (see [`Store::write_lock_waits`]).
    pub(super) async fn begin_write(&self) -> Result<Transaction<'static, Any>> {
        Ok(match self.backend() {
            Backend::Sqlite => {
                let asked = std::time::Instant::now();
                let tx = self.writer().begin_with("BEGIN IMMEDIATE").await?;
                self.record_write_lock_wait(asked.elapsed());
                tx
            }
            Backend::Postgres => self.pool().begin().await?,
        })
    }

    /// Locks one row for the rest of the transaction on PostgreSQL, timing
    /// the wait (SQLite's `BEGIN IMMEDIATE` already serialises writers).
    pub(super) async fn lock_row(&self, tx: &mut Transaction<'static, Any>, table: &str, id: i64) -> Result<bool> {
        let found = match self.backend() {
            Backend::Postgres => {
                let asked = std::time::Instant::now();
                let sql = format!("SELECT id FROM {table} WHERE id = $1 FOR UPDATE");
                let found = sqlx::query_scalar::<_, i64>(&sql).bind(id).fetch_optional(&mut **tx).await?;
                self.record_write_lock_wait(asked.elapsed());
                found
            }
            Backend::Sqlite => {
                let sql = format!("SELECT id FROM {table} WHERE id = $1");
                sqlx::query_scalar::<_, i64>(&sql).bind(id).fetch_optional(&mut **tx).await?
            }
        };
        Ok(found.is_some())
    }

    pub async fn advisor_policy(&self, user_id: i64) -> Result<AdvisorPolicy> {
        let found: Option<AdvisorPolicy> = sqlx::query_as(
            "SELECT user_id, buffer_minutes, min_notice_minutes, horizon_days, max_per_learner_week, approval_required, \
             unlisted, note_optional, private_link_hash, busy_ics_url, busy_checked_at, busy_error \
             FROM advisor_policies WHERE user_id = $1",
        )
        .bind(user_id)
        .fetch_optional(self.pool())
        .await?;
        Ok(found.unwrap_or_else(|| AdvisorPolicy::defaults(user_id)))
    }

    pub async fn save_advisor_policy(&self, policy: &AdvisorPolicy, now: i64) -> Result<()> {
        sqlx::query(
            "INSERT INTO advisor_policies (user_id, buffer_minutes, min_notice_minutes, horizon_days, max_per_learner_week, \
             approval_required, unlisted, private_link_hash, busy_ics_url, busy_checked_at, busy_error, updated_at, \
             note_optional) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) \
             ON CONFLICT (user_id) DO UPDATE SET buffer_minutes = $2, min_notice_minutes = $3, horizon_days = $4, \
             max_per_learner_week = $5, approval_required = $6, unlisted = $7, private_link_hash = $8, busy_ics_url = $9, \
             busy_checked_at = $10, busy_error = $11, updated_at = $12, note_optional = $13",
        )
        .bind(policy.user_id)
        .bind(policy.buffer_minutes)
        .bind(policy.min_notice_minutes)
        .bind(policy.horizon_days)
        .bind(policy.max_per_learner_week)
        .bind(policy.approval_required)
        .bind(policy.unlisted)
        .bind(&policy.private_link_hash)
        .bind(&policy.busy_ics_url)
        .bind(policy.busy_checked_at)
        .bind(&policy.busy_error)
        .bind(now)
        .bind(policy.note_optional)
        .execute(self.writer())
        .await?;
        Ok(())
    }

    /// Inserts a block and all its slots, refusing (`BlockOverlap`) when an
    /// occurrence overlaps a live slot of another block of the same advisor.
    pub async fn create_block(&self, new: &NewBlock, now: i64) -> Result<(Block, Vec<Slot>)> {
        self.create_block_capped(new, None, now).await
    }

    /// [`Store::create_block`], refusing with `Limit(SlotCap, open)`
    /// when the advisor's upcoming live slots plus the new ones would pass
    /// `max_open`. The advisor's row is locked first, so two blocks created
    /// at once cannot both pass the count.
    pub async fn create_block_capped(
        &self,
        new: &NewBlock,
        max_open: Option<i64>,
        now: i64,
    ) -> Result<(Block, Vec<Slot>)> {
        let mut tx = self.begin_write().await?;
        if !self.lock_row(&mut tx, "users", new.advisor_id).await? {
            return Err(StorageError::NotFound);
        }
        if let Some(max) = max_open {
            let open: i64 = sqlx::query_scalar(
                "SELECT COUNT(*) FROM slots WHERE advisor_id = $1 AND cancelled_at IS NULL AND starts_at >= $2",
            )
            .bind(new.advisor_id)
            .bind(now)
            .fetch_one(&mut *tx)
            .await?;
            let adding: i64 = new.occurrences.iter().map(|o| o.slots.len() as i64).sum();
            if open.saturating_add(adding) > max {
                return Err(StorageError::Limit(Constraint::SlotCap, open));
            }
        }
        for occ in &new.occurrences {
            let overlapping: i64 = sqlx::query_scalar(
                "SELECT COUNT(*) FROM slots WHERE advisor_id = $1 AND cancelled_at IS NULL \
                 AND starts_at < $3 AND ends_at > $2",
            )
            .bind(new.advisor_id)
            .bind(occ.start)
            .bind(occ.end)
            .fetch_one(&mut *tx)
            .await?;
            if overlapping > 0 {
                return Err(StorageError::Conflict(Constraint::BlockOverlap));
            }
        }
        let o = &new.overrides;
        let sql = format!(
            "INSERT INTO blocks (advisor_id, timezone, start_date, start_time, end_time, weekdays, until_date, \
             session_minutes, buffer_minutes, min_notice_minutes, horizon_days, max_per_learner_week, approval_required, \
             unlisted, created_at, offering_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, \
             $16) \
             RETURNING {BLOCK_COLUMNS}"
        );
        let block: Block = sqlx::query_as(&sql)
            .bind(new.advisor_id)
            .bind(&new.timezone)
            .bind(&new.start_date)
            .bind(&new.start_time)
            .bind(&new.end_time)
            .bind(new.weekdays)
            .bind(&new.until_date)
            .bind(new.session_minutes)
            .bind(o.buffer_minutes)
            .bind(o.min_notice_minutes)
            .bind(o.horizon_days)
            .bind(o.max_per_learner_week)
            .bind(o.approval_required)
            .bind(o.unlisted)
            .bind(now)
            .bind(new.offering_id)
            .fetch_one(&mut *tx)
            .await?;
        // One statement per chunk of slots, not one per slot, under the
        // write lock.
        let rows: Vec<(&str, i64, i64)> =
            new.occurrences.iter().flat_map(|o| o.slots.iter().map(|&(s, e)| (o.date.as_str(), s, e))).collect();
        for chunk in rows.chunks(SLOT_INSERT_CHUNK) {
            let values = super::value_rows(1, chunk.len(), 5);
            let sql = format!(
                "INSERT INTO slots (block_id, advisor_id, occurrence_date, starts_at, ends_at) VALUES {values}"
            );
            let mut insert = sqlx::query(&sql);
            for &(date, start, end) in chunk {
                insert = insert.bind(block.id).bind(new.advisor_id).bind(date).bind(start).bind(end);
            }
            insert.execute(&mut *tx).await?;
        }
        tx.commit().await?;
        let slots = self.block_slots(block.id).await?;
        Ok((block, slots))
    }

    pub async fn block(&self, id: i64) -> Result<Block> {
        let sql = format!("SELECT {BLOCK_COLUMNS} FROM blocks WHERE id = $1 AND deleted_at IS NULL");
        Ok(sqlx::query_as(&sql).bind(id).fetch_one(self.pool()).await?)
    }

    /// A block's time zone, even once the block is removed (its published
    /// occurrences still have to be cancelled in that zone).
    pub async fn block_timezone(&self, id: i64) -> Result<String> {
        Ok(sqlx::query_scalar("SELECT timezone FROM blocks WHERE id = $1").bind(id).fetch_one(self.pool()).await?)
    }

    pub async fn block_slots(&self, block_id: i64) -> Result<Vec<Slot>> {
        let sql = format!("{SLOT_SELECT} WHERE s.block_id = $1 ORDER BY s.starts_at");
        Ok(sqlx::query_as(&sql).bind(block_id).fetch_all(self.pool()).await?)
    }

    /// One page of a block's slots in time order, and how many it has.
    pub async fn block_slots_page(&self, block_id: i64, limit: i64, offset: i64) -> Result<(Vec<Slot>, i64)> {
        let sql = format!("{SLOT_SELECT} WHERE s.block_id = $1 ORDER BY s.starts_at, s.id LIMIT $2 OFFSET $3");
        let slots = sqlx::query_as(&sql).bind(block_id).bind(limit).bind(offset).fetch_all(self.pool()).await?;
        let total: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM slots WHERE block_id = $1")
            .bind(block_id)
            .fetch_one(self.pool())
            .await?;
        Ok((slots, total))
    }

    pub async fn slot(&self, id: i64) -> Result<Slot> {
        let sql = format!("{SLOT_SELECT} WHERE s.id = $1");
        Ok(sqlx::query_as(&sql).bind(id).fetch_one(self.pool()).await?)
    }

    /// An advisor's slots starting in `[from, to)`, in time order.
    pub async fn advisor_slots(&self, advisor_id: i64, from: i64, to: i64) -> Result<Vec<Slot>> {
        let sql = format!(
            "{SLOT_SELECT} WHERE s.advisor_id = $1 AND s.starts_at >= $2 AND s.starts_at < $3 ORDER BY s.starts_at"
        );
        Ok(sqlx::query_as(&sql).bind(advisor_id).bind(from).bind(to).fetch_all(self.pool()).await?)
    }
}

impl Store {
    /// Cancels the slots of one occurrence (`date`) or of the whole series
    /// (`None`: the block is deleted) from `from` on, and every live request
    /// on them, with `note` — in one transaction of set-based statements,
    /// however many slots the series has. Each cancelled request gets its
    /// `cancelled` event (by `actor_id`, in slot order). Returns the
    /// cancelled requests so both sides can be told.
    pub async fn cancel_block_slots(
        &self,
        block_id: i64,
        date: Option<&str>,
        from: i64,
        actor_id: i64,
        note: &str,
        now: i64,
    ) -> Result<Vec<super::Request>> {
        let mut tx = self.begin_write().await?;
        if !self.lock_row(&mut tx, "blocks", block_id).await? {
            return Err(StorageError::NotFound);
        }
        let series = date.is_none();
        let date = date.unwrap_or("");
        let scope = "block_id = $1 AND cancelled_at IS NULL AND starts_at >= $2 AND ($3 = '' OR occurrence_date = $3)";
        if self.backend() == Backend::Postgres {
            // Requests are made and decided with their slot locked: once
            // these slots are, none of their requests changes under us.
            // (SQLite's `BEGIN IMMEDIATE` already keeps other writers out.)
            sqlx::query(&format!("SELECT id FROM slots WHERE {scope} ORDER BY id FOR UPDATE"))
                .bind(block_id)
                .bind(from)
                .bind(date)
                .execute(&mut *tx)
                .await?;
        }
        let live = "status IN ('requested', 'approved')";
        sqlx::query(&format!(
            "INSERT INTO booking_events (request_id, slot_id, actor_id, kind, note, created_at) \
             SELECT id, slot_id, $4, $5, $6, $7 FROM requests \
             WHERE {live} AND slot_id IN (SELECT id FROM slots WHERE {scope}) ORDER BY slot_id, id"
        ))
        .bind(block_id)
        .bind(from)
        .bind(date)
        .bind(actor_id)
        .bind(EventKind::Cancelled.as_str())
        .bind(note)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        let mut cancelled: Vec<super::Request> = sqlx::query_as(&format!(
            "UPDATE requests SET status = $4, decision_note = $5, updated_at = $6 \
             WHERE {live} AND slot_id IN (SELECT id FROM slots WHERE {scope}) RETURNING {}",
            super::requests::REQUEST_COLUMNS
        ))
        .bind(block_id)
        .bind(from)
        .bind(date)
        .bind(RequestStatus::Cancelled.as_str())
        .bind(note)
        .bind(now)
        .fetch_all(&mut *tx)
        .await?;
        cancelled.sort_by_key(|r| (r.slot_id, r.id));
        sqlx::query(&format!("UPDATE slots SET cancelled_at = $4 WHERE {scope}"))
            .bind(block_id)
            .bind(from)
            .bind(date)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        if series {
            sqlx::query("UPDATE blocks SET deleted_at = $2 WHERE id = $1")
                .bind(block_id)
                .bind(now)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(cancelled)
    }

    /// The advisor whose private booking link has this hash.
    pub async fn advisor_by_private_link(&self, link_hash: &str) -> Result<Option<i64>> {
        Ok(sqlx::query_scalar("SELECT user_id FROM advisor_policies WHERE private_link_hash = $1")
            .bind(link_hash)
            .fetch_optional(self.pool())
            .await?)
    }

    /// Changes a block's rule overrides (not its times: those shape its slots).
    pub async fn update_block_overrides(&self, block_id: i64, o: &BlockOverrides) -> Result<()> {
        sqlx::query(
            "UPDATE blocks SET min_notice_minutes = $2, horizon_days = $3, max_per_learner_week = $4, \
             approval_required = $5, unlisted = $6 WHERE id = $1 AND deleted_at IS NULL",
        )
        .bind(block_id)
        .bind(o.min_notice_minutes)
        .bind(o.horizon_days)
        .bind(o.max_per_learner_week)
        .bind(o.approval_required)
        .bind(o.unlisted)
        .execute(self.writer())
        .await?;
        Ok(())
    }

    /// An advisor's live blocks, newest first.
    pub async fn advisor_blocks(&self, advisor_id: i64) -> Result<Vec<Block>> {
        let sql = format!(
            "SELECT {BLOCK_COLUMNS} FROM blocks WHERE advisor_id = $1 AND deleted_at IS NULL ORDER BY start_date, start_time"
        );
        Ok(sqlx::query_as(&sql).bind(advisor_id).fetch_all(self.pool()).await?)
    }
}
