//! Remote people and remote availability as local rows.
//!
//! - A remote person who takes part here gets a **shadow account** in
//!   `users` (`remote_actor_id` set; username `name@domain`, no password, an
//!   address under `.invalid`). It is never found by name or address, so it
//!   cannot log in; requests, karma, notifications and threads treat it
//!   like anyone else.
//! - A remote advisor's `Event` is **mirrored** as a one-occurrence block
//!   with its slots, known by their ActivityPub ids, so local learners'
//!   requests, calendars and feeds need nothing special.

use std::collections::HashMap;

use super::accounts::USER_COLUMNS;
use super::{RemoteActor, Result, StorageError, Store, User};

/// Slots written per statement when mirroring (an event lists at most 200).
const MIRROR_CHUNK: usize = 200;

/// A remote event, as mirrored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MirroredEvent {
    pub ap_id: String,
    pub timezone: String,
    /// Local date and times in `timezone` (`2026-12-01`, `14:00`).
    pub date: String,
    pub start_time: String,
    pub end_time: String,
    pub session_minutes: i64,
    pub cancelled: bool,
    pub slots: Vec<MirroredSlot>,
    /// The event's `updated` (else `published`) time in ms, 0 when it has
    /// neither: a version older than the one mirrored is ignored.
    pub version: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MirroredSlot {
    pub ap_id: String,
    pub starts_at: i64,
    pub ends_at: i64,
    pub open: bool,
    pub cancelled: bool,
}

/// What mirroring an event did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mirrored {
    Stored(i64),
    /// The event id is known under another advisor: refused.
    NotOwner,
    /// The activity carrying it was applied before (a replay or a retry).
    Seen,
}

impl Store {
    /// The shadow account of a remote actor, created on first need.
    pub async fn shadow_user(&self, actor: &RemoteActor, now: i64) -> Result<User> {
        let name: String = actor.name.chars().take(100).collect();
        let sql = format!(
            "INSERT INTO users (username, email, email_verified, password_hash, display_name, timezone, \
             created_at, updated_at, remote_actor_id) VALUES ($1, $2, FALSE, '!', $3, 'UTC', $4, $4, $5) \
             ON CONFLICT (remote_actor_id) DO UPDATE SET display_name = excluded.display_name \
             RETURNING {USER_COLUMNS}"
        );
        let upsert = || {
            sqlx::query_as(&sql)
                .bind(format!("{}@{}", actor.username, actor.domain).to_lowercase())
                .bind(format!("remote-{}@federation.invalid", actor.id))
                .bind(name.clone())
                .bind(now)
                .bind(actor.id)
                .fetch_one(self.pool())
        };
        match upsert().await.map_err(StorageError::from) {
            // Two activities from a new actor at once (PostgreSQL): the other
            // one created the account first, on the username index, which
            // `ON CONFLICT (remote_actor_id)` does not cover. Now it does.
            Err(StorageError::Duplicate(_)) => Ok(upsert().await?),
            other => other,
        }
    }

    /// A shadow account by its username (`name@domain`).
    pub async fn shadow_by_username(&self, username: &str) -> Result<User> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE username = $1 AND remote_actor_id IS NOT NULL");
        Ok(sqlx::query_as(&sql).bind(username).fetch_one(self.pool()).await?)
    }

    /// The remote actor behind a shadow account.
    pub async fn remote_actor_of(&self, user: &User) -> Result<Option<RemoteActor>> {
        let Some(id) = user.remote_actor_id else { return Ok(None) };
        let sql = format!("SELECT {} FROM remote_actors WHERE id = $1", super::remote_actors::COLUMNS);
        Ok(sqlx::query_as(&sql).bind(id).fetch_optional(self.pool()).await?)
    }

    /// Creates or updates the mirror of a remote event for `advisor_id` (a
    /// shadow account). An event id already mirrored for someone else is
    /// refused: an actor cannot change what another actor owns. Slots no
    /// longer in the event are cancelled.
    ///
    /// `activity` (the `Create`/`Update` id, `None` for a fetched
    /// collection) is recorded in the same transaction: applied once.
    pub async fn mirror_event(
        &self,
        advisor_id: i64,
        event: &MirroredEvent,
        activity: Option<&str>,
        now: i64,
    ) -> Result<Mirrored> {
        let mut tx = self.begin_write().await?;
        if let Some(id) = activity
            && !super::follows::first_sight(&mut tx, id, now).await?
        {
            return Ok(Mirrored::Seen);
        }
        let existing: Option<(i64, i64, Option<i64>)> =
            sqlx::query_as("SELECT id, advisor_id, remote_version FROM blocks WHERE ap_id = $1")
                .bind(&event.ap_id)
                .fetch_optional(&mut *tx)
                .await?;
        let block_id = match existing {
            Some((_, owner, _)) if owner != advisor_id => return Ok(Mirrored::NotOwner),
            Some((_, _, Some(mirrored))) if event.version < mirrored => {
                // Overtaken by a newer version: recorded as seen, not applied.
                tx.commit().await?;
                return Ok(Mirrored::Seen);
            }
            Some((id, _, _)) => {
                sqlx::query(
                    "UPDATE blocks SET timezone = $2, start_date = $3, start_time = $4, end_time = $5, \
                     session_minutes = $6, deleted_at = NULL, remote_version = $7 WHERE id = $1",
                )
                .bind(id)
                .bind(&event.timezone)
                .bind(&event.date)
                .bind(&event.start_time)
                .bind(&event.end_time)
                .bind(event.session_minutes)
                .bind(event.version)
                .execute(&mut *tx)
                .await?;
                id
            }
            None => {
                sqlx::query_scalar(
                    "INSERT INTO blocks (advisor_id, timezone, start_date, start_time, end_time, session_minutes, \
                     created_at, ap_id, remote_version) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
                )
                .bind(advisor_id)
                .bind(&event.timezone)
                .bind(&event.date)
                .bind(&event.start_time)
                .bind(&event.end_time)
                .bind(event.session_minutes)
                .bind(now)
                .bind(&event.ap_id)
                .bind(event.version)
                .fetch_one(&mut *tx)
                .await?
            }
        };
        // Each slot once (a later listing of the same id wins), in the order listed.
        let mut slots: Vec<&MirroredSlot> = Vec::with_capacity(event.slots.len());
        let mut at: HashMap<&str, usize> = HashMap::new();
        for slot in &event.slots {
            match at.get(slot.ap_id.as_str()) {
                Some(&i) => slots[i] = slot,
                None => {
                    at.insert(&slot.ap_id, slots.len());
                    slots.push(slot);
                }
            }
        }
        for chunk in slots.chunks(MIRROR_CHUNK) {
            let list = super::placeholders(2, chunk.len());
            let sql = format!("SELECT COUNT(*) FROM slots WHERE block_id <> $1 AND ap_id IN ({list})");
            let mut foreign = sqlx::query_scalar::<_, i64>(&sql).bind(block_id);
            for slot in chunk {
                foreign = foreign.bind(&slot.ap_id);
            }
            if foreign.fetch_one(&mut *tx).await? > 0 {
                return Ok(Mirrored::NotOwner);
            }
        }
        for chunk in slots.chunks(MIRROR_CHUNK) {
            // New slots are inserted, known ones follow the event; a slot
            // cancelled before keeps its cancellation time.
            let values = super::value_rows(1, chunk.len(), 8);
            let sql = format!(
                "INSERT INTO slots (block_id, advisor_id, occurrence_date, starts_at, ends_at, cancelled_at, ap_id, \
                 remote_open) VALUES {values} \
                 ON CONFLICT (ap_id) DO UPDATE SET starts_at = excluded.starts_at, ends_at = excluded.ends_at, \
                 remote_open = excluded.remote_open, cancelled_at = CASE WHEN excluded.cancelled_at IS NULL THEN NULL \
                 ELSE COALESCE(slots.cancelled_at, excluded.cancelled_at) END \
                 WHERE slots.block_id = excluded.block_id"
            );
            let mut upsert = sqlx::query(&sql);
            for slot in chunk {
                upsert = upsert
                    .bind(block_id)
                    .bind(advisor_id)
                    .bind(&event.date)
                    .bind(slot.starts_at)
                    .bind(slot.ends_at)
                    .bind((slot.cancelled || event.cancelled).then_some(now))
                    .bind(&slot.ap_id)
                    .bind(i64::from(slot.open));
            }
            upsert.execute(&mut *tx).await?;
        }
        // Slots the event no longer lists are gone.
        let known: Vec<(i64, String)> =
            sqlx::query_as("SELECT id, ap_id FROM slots WHERE block_id = $1 AND cancelled_at IS NULL")
                .bind(block_id)
                .fetch_all(&mut *tx)
                .await?;
        let gone: Vec<i64> =
            known.into_iter().filter(|(_, ap_id)| !at.contains_key(ap_id.as_str())).map(|(id, _)| id).collect();
        for chunk in gone.chunks(MIRROR_CHUNK) {
            let list = super::placeholders(2, chunk.len());
            let sql = format!("UPDATE slots SET cancelled_at = $1 WHERE id IN ({list})");
            let mut cancel = sqlx::query(&sql).bind(now);
            for id in chunk {
                cancel = cancel.bind(*id);
            }
            cancel.execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(Mirrored::Stored(block_id))
    }

    /// A remote `Delete` (activity id `activity`) of a mirrored event: its
    /// block and slots are cancelled, if `advisor_id` owns it, and the
    /// activity is recorded in the same transaction. False when it is
    /// unknown, not theirs, or seen before.
    pub async fn delete_mirrored_event(&self, advisor_id: i64, ap_id: &str, activity: &str, now: i64) -> Result<bool> {
        let mut tx = self.begin_write().await?;
        if !super::follows::first_sight(&mut tx, activity, now).await? {
            return Ok(false);
        }
        let block: Option<i64> = sqlx::query_scalar("SELECT id FROM blocks WHERE ap_id = $1 AND advisor_id = $2")
            .bind(ap_id)
            .bind(advisor_id)
            .fetch_optional(&mut *tx)
            .await?;
        let Some(block) = block else { return Ok(false) };
        sqlx::query("UPDATE blocks SET deleted_at = $2 WHERE id = $1").bind(block).bind(now).execute(&mut *tx).await?;
        sqlx::query("UPDATE slots SET cancelled_at = COALESCE(cancelled_at, $2) WHERE block_id = $1")
            .bind(block)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// The mirrored block of a remote event id, with its owner.
    pub async fn mirrored_block(&self, ap_id: &str) -> Result<Option<(i64, i64)>> {
        Ok(sqlx::query_as("SELECT id, advisor_id FROM blocks WHERE ap_id = $1")
            .bind(ap_id)
            .fetch_optional(self.pool())
            .await?)
    }

    /// The mirrored event id of a block (`None` for our own blocks).
    pub async fn block_ap_id(&self, block_id: i64) -> Result<Option<String>> {
        let found: Option<Option<String>> = sqlx::query_scalar("SELECT ap_id FROM blocks WHERE id = $1")
            .bind(block_id)
            .fetch_optional(self.pool())
            .await?;
        found.ok_or(StorageError::NotFound)
    }
}
