//! Who came into a session's room and when (`room_presence`), and which
//! sessions the server has checked for no-shows.

use super::{Result, Store};
use crate::domain::booking::RequestStatus;

/// One participant's time in a room.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Presence {
    pub user_id: i64,
    pub first_joined_at: i64,
    /// `None` while they are in.
    pub last_left_at: Option<i64>,
    pub joins: i64,
}

/// An approved session due for the server's no-show check.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct PresenceCheck {
    pub request_id: i64,
    pub advisor_id: i64,
    pub learner_id: i64,
    pub starts_at: i64,
}

impl Store {
    /// A participant came into the room at `at` (the first time, or again).
    pub async fn person_joined(&self, request_id: i64, user_id: i64, at: i64) -> Result<()> {
        sqlx::query(
            "INSERT INTO room_presence (request_id, user_id, first_joined_at, joins) VALUES ($1, $2, $3, 1) \
             ON CONFLICT (request_id, user_id) DO UPDATE SET joins = room_presence.joins + 1, last_left_at = NULL",
        )
        .bind(request_id)
        .bind(user_id)
        .bind(at)
        .execute(self.writer())
        .await?;
        Ok(())
    }

    /// A participant left the room at `at`.
    pub async fn person_left(&self, request_id: i64, user_id: i64, at: i64) -> Result<()> {
        sqlx::query("UPDATE room_presence SET last_left_at = $3 WHERE request_id = $1 AND user_id = $2")
            .bind(request_id)
            .bind(user_id)
            .bind(at)
            .execute(self.writer())
            .await?;
        Ok(())
    }

    /// Who was in a session's room, first come first.
    pub async fn presence(&self, request_id: i64) -> Result<Vec<Presence>> {
        Ok(sqlx::query_as(
            "SELECT user_id, first_joined_at, last_left_at, joins FROM room_presence WHERE request_id = $1 \
             ORDER BY first_joined_at",
        )
        .bind(request_id)
        .fetch_all(self.pool())
        .await?)
    }

    /// Approved sessions that started in `(after, before]` and were not
    /// checked yet, oldest first.
    pub async fn presence_to_check(&self, after: i64, before: i64, limit: i64) -> Result<Vec<PresenceCheck>> {
        Ok(sqlx::query_as(
            "SELECT r.id AS request_id, r.advisor_id, r.learner_id, s.starts_at FROM requests r \
             JOIN slots s ON s.id = r.slot_id \
             WHERE r.status = $1 AND r.presence_checked_at IS NULL AND s.starts_at > $2 AND s.starts_at <= $3 \
             ORDER BY s.starts_at LIMIT $4",
        )
        .bind(RequestStatus::Approved.as_str())
        .bind(after)
        .bind(before)
        .bind(limit)
        .fetch_all(self.pool())
        .await?)
    }

    /// The server has checked a session's room for no-shows.
    pub async fn presence_checked(&self, request_id: i64, now: i64) -> Result<()> {
        sqlx::query("UPDATE requests SET presence_checked_at = $2 WHERE id = $1")
            .bind(request_id)
            .bind(now)
            .execute(self.writer())
            .await?;
        Ok(())
    }
}
