//! Calendar subscriptions (C1): the feed row of each person and what a feed
//! lists (sessions on either side, and an advisor's open availability).

use super::{DbBool, Result, Store};
use crate::domain::booking::RequestStatus;

/// A person's calendar subscription. `token_hash` is `None` once revoked.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct CalendarFeed {
    pub user_id: i64,
    pub generation: i64,
    pub token_hash: Option<String>,
    #[sqlx(try_from = "DbBool")]
    pub include_blocks: bool,
    pub updated_at: i64,
}

/// One request as a calendar event: times, people, state and how often it
/// changed (`changes` = events logged after its creation, the `SEQUENCE`).
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct FeedSession {
    pub request_id: i64,
    #[sqlx(try_from = "String")]
    pub status: RequestStatus,
    pub starts_at: i64,
    pub ends_at: i64,
    pub advisor_id: i64,
    pub advisor_username: String,
    pub advisor_name: String,
    pub learner_username: String,
    pub learner_name: String,
    pub note: String,
    pub created_at: i64,
    pub updated_at: i64,
    pub changes: i64,
    /// The title and description of the slot's offering, if it has one.
    pub offering_title: Option<String>,
    pub offering_description: Option<String>,
}

/// One occurrence of an advisor's availability block.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct FeedOccurrence {
    pub block_id: i64,
    pub occurrence_date: String,
    pub starts_at: i64,
    pub ends_at: i64,
    /// Slots of this occurrence that are still offered.
    pub open_slots: i64,
    pub created_at: i64,
    /// The latest cancellation among its slots (0 when none).
    pub changed_at: i64,
}

const FEED_SESSION_SELECT: &str = "SELECT r.id AS request_id, r.status, s.starts_at, s.ends_at, r.advisor_id, \
     a.username AS advisor_username, a.display_name AS advisor_name, \
     l.username AS learner_username, l.display_name AS learner_name, r.note, r.created_at, r.updated_at, \
     (SELECT COUNT(*) FROM booking_events e WHERE e.request_id = r.id) - 1 AS changes, \
     (SELECT o.title FROM blocks b JOIN offerings o ON o.id = b.offering_id WHERE b.id = s.block_id) AS offering_title, \
     (SELECT o.description FROM blocks b JOIN offerings o ON o.id = b.offering_id WHERE b.id = s.block_id) \
     AS offering_description \
     FROM requests r JOIN slots s ON s.id = r.slot_id \
     JOIN users a ON a.id = r.advisor_id JOIN users l ON l.id = r.learner_id";

const FEED_COLUMNS: &str = "user_id, generation, token_hash, include_blocks, updated_at";

impl Store {
    pub async fn calendar_feed(&self, user_id: i64) -> Result<Option<CalendarFeed>> {
        let sql = format!("SELECT {FEED_COLUMNS} FROM calendar_feeds WHERE user_id = $1");
        Ok(sqlx::query_as(&sql).bind(user_id).fetch_optional(self.pool()).await?)
    }

    /// Starts the next generation of a person's feed: `token_hash` is the hash
    /// of the token derived for `generation`, which must be the stored one
    /// plus one (or 1 for a first feed). Returns false when another request
    /// rotated first.
    pub async fn start_feed_generation(
        &self,
        user_id: i64,
        generation: i64,
        token_hash: &str,
        include_blocks: bool,
        now: i64,
    ) -> Result<bool> {
        let done = sqlx::query(
            "INSERT INTO calendar_feeds (user_id, generation, token_hash, include_blocks, updated_at) \
             VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (user_id) DO UPDATE SET generation = excluded.generation, token_hash = excluded.token_hash, \
             updated_at = excluded.updated_at WHERE calendar_feeds.generation = excluded.generation - 1",
        )
        .bind(user_id)
        .bind(generation)
        .bind(token_hash)
        .bind(include_blocks)
        .bind(now)
        .execute(self.writer())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Stops the feed from answering; the generation stays, so a later feed
    /// gets a new token.
    pub async fn revoke_feed(&self, user_id: i64, now: i64) -> Result<()> {
        sqlx::query("UPDATE calendar_feeds SET token_hash = NULL, updated_at = $2 WHERE user_id = $1")
            .bind(user_id)
            .bind(now)
            .execute(self.writer())
            .await?;
        Ok(())
    }

    pub async fn set_feed_blocks(&self, user_id: i64, include_blocks: bool, now: i64) -> Result<()> {
        sqlx::query("UPDATE calendar_feeds SET include_blocks = $2, updated_at = $3 WHERE user_id = $1")
            .bind(user_id)
            .bind(include_blocks)
            .bind(now)
            .execute(self.writer())
            .await?;
        Ok(())
    }

    pub async fn feed_by_token_hash(&self, token_hash: &str) -> Result<Option<CalendarFeed>> {
        let sql = format!("SELECT {FEED_COLUMNS} FROM calendar_feeds WHERE token_hash = $1");
        Ok(sqlx::query_as(&sql).bind(token_hash).fetch_optional(self.pool()).await?)
    }

    /// A person's requests on either side for a feed: pending and approved
    /// ones, and those cancelled or declined since `changed_since`.
    pub async fn feed_sessions(&self, user_id: i64, changed_since: i64) -> Result<Vec<FeedSession>> {
        let sql = format!(
            "{FEED_SESSION_SELECT} WHERE (r.learner_id = $1 OR r.advisor_id = $1) \
             AND (r.status IN ('requested', 'approved') OR r.updated_at >= $2) ORDER BY s.starts_at, r.id"
        );
        Ok(sqlx::query_as(&sql).bind(user_id).bind(changed_since).fetch_all(self.pool()).await?)
    }

    /// One request as a calendar event (for its `.ics` download).
    pub async fn feed_session(&self, request_id: i64) -> Result<FeedSession> {
        let sql = format!("{FEED_SESSION_SELECT} WHERE r.id = $1");
        Ok(sqlx::query_as(&sql).bind(request_id).fetch_one(self.pool()).await?)
    }

    /// An advisor's block occurrences ending after `since`, with how many of
    /// their slots are still open.
    pub async fn feed_occurrences(&self, advisor_id: i64, since: i64) -> Result<Vec<FeedOccurrence>> {
        Ok(sqlx::query_as(
            "SELECT s.block_id, s.occurrence_date, MIN(s.starts_at) AS starts_at, MAX(s.ends_at) AS ends_at, \
             SUM(CASE WHEN s.cancelled_at IS NULL THEN 1 ELSE 0 END) AS open_slots, \
             MIN(b.created_at) AS created_at, COALESCE(MAX(s.cancelled_at), 0) AS changed_at \
             FROM slots s JOIN blocks b ON b.id = s.block_id \
             WHERE s.advisor_id = $1 AND s.ends_at >= $2 \
             GROUP BY s.block_id, s.occurrence_date ORDER BY MIN(s.starts_at)",
        )
        .bind(advisor_id)
        .bind(since)
        .fetch_all(self.pool())
        .await?)
    }
}
