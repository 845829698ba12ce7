//! Personal API tokens: named, optionally expiring, listed and revoked by
//! their owner. Only SHA-256 hashes of the secrets are stored, and no query
//! here ever returns one.

use std::sync::LazyLock;

use sqlx::{FromRow, Row};

use serde::Serialize;

use super::accounts::prefixed_user_columns;
use super::{Result, StorageError, Store, User};

/// A token as its owner sees it: never its secret or hash.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow, Serialize)]
pub struct ApiToken {
    pub id: i64,
    pub name: String,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
    /// `None`: the token does not expire.
    pub expires_at: Option<i64>,
}

impl ApiToken {
    pub fn is_expired(&self, now: i64) -> bool {
        self.expires_at.is_some_and(|at| at <= now)
    }
}

/// How precisely a token's last use is recorded.
pub const LAST_USE_GRANULARITY_MS: i64 = 60_000;

const TOKEN_COLUMNS: &str = "id, label AS name, created_at, last_used_at, expires_at";

impl Store {
    /// Stores a new token (its hash) for `user_id`, valid until `expires_at`
    /// (ms) or for good.
    pub async fn create_api_token(
        &self,
        user_id: i64,
        token_hash: &str,
        name: &str,
        expires_at: Option<i64>,
        now: i64,
    ) -> Result<ApiToken> {
        static SQL: LazyLock<String> = LazyLock::new(|| {
            format!(
                "INSERT INTO api_tokens (user_id, token_hash, label, created_at, expires_at) \
                 VALUES ($1, $2, $3, $4, $5) RETURNING {TOKEN_COLUMNS}"
            )
        });
        Ok(sqlx::query_as(&SQL)
            .bind(user_id)
            .bind(token_hash)
            .bind(name)
            .bind(now)
            .bind(expires_at)
            .fetch_one(self.pool())
            .await?)
    }

    /// The owner of a token that has not expired (and is not suspended),
    /// recording when it was last used — to the minute: a token used again
    /// within [`LAST_USE_GRANULARITY_MS`] of its recorded use is not written
    /// again, so an API client's reads stay reads (on SQLite every write
    /// takes the one write lock).
    pub async fn api_token_user(&self, token_hash: &str, now: i64) -> Result<Option<User>> {
        static SQL: LazyLock<String> = LazyLock::new(|| {
            format!(
                "SELECT {}, t.last_used_at AS token_last_used_at FROM api_tokens t JOIN users u ON u.id = t.user_id \
                 WHERE t.token_hash = $1 AND u.suspended_at IS NULL \
                 AND (t.expires_at IS NULL OR t.expires_at > $2)",
                prefixed_user_columns("u")
            )
        });
        let Some(row) = sqlx::query(&SQL).bind(token_hash).bind(now).fetch_optional(self.pool()).await? else {
            return Ok(None);
        };
        let user = User::from_row(&row)?;
        let last_used: Option<i64> = row.try_get("token_last_used_at")?;
        if last_used.is_none_or(|at| now - at >= LAST_USE_GRANULARITY_MS) {
            // Bookkeeping: a valid token is not refused because its last use
            // cannot be written on a full disk (reads go on). A database
            // that stopped answering fails the request now, not after a
            // second wait.
            let stamped = sqlx::query("UPDATE api_tokens SET last_used_at = $2 WHERE token_hash = $1")
                .bind(token_hash)
                .bind(now)
                .execute(self.writer())
                .await;
            match stamped.map_err(StorageError::from) {
                Ok(_) => {}
                Err(err @ StorageError::Full(_)) => {
                    tracing::warn!(error = %err, "could not record when an API token was last used")
                }
                Err(err) => return Err(err),
            }
        }
        Ok(Some(user))
    }

    /// A person's tokens, expired ones included, newest first.
    pub async fn api_tokens_of(&self, user_id: i64) -> Result<Vec<ApiToken>> {
        static SQL: LazyLock<String> = LazyLock::new(|| {
            format!("SELECT {TOKEN_COLUMNS} FROM api_tokens WHERE user_id = $1 ORDER BY created_at DESC, id DESC")
        });
        Ok(sqlx::query_as(&SQL).bind(user_id).fetch_all(self.pool()).await?)
    }

    /// Deletes one token of `user_id` and returns its name; `None` when they
    /// have no token with that id (someone else's id changes nothing).
    pub async fn revoke_api_token(&self, user_id: i64, token_id: i64) -> Result<Option<String>> {
        Ok(sqlx::query_scalar("DELETE FROM api_tokens WHERE id = $1 AND user_id = $2 RETURNING label")
            .bind(token_id)
            .bind(user_id)
            .fetch_optional(self.pool())
            .await?)
    }

    /// Deletes every token of `user_id`; returns how many there were.
    pub async fn revoke_api_tokens_of(&self, user_id: i64) -> Result<u64> {
        let done =
            sqlx::query("DELETE FROM api_tokens WHERE user_id = $1").bind(user_id).execute(self.writer()).await?;
        Ok(done.rows_affected())
    }
}
