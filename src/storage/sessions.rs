//! Log-in sessions behind the session cookie. Only a hash of the cookie's
//! secret is stored, so a leaked database does not log anyone in.

use std::sync::LazyLock;

use super::accounts::prefixed_user_columns;
use super::{Result, Store, User};

impl Store {
    pub async fn create_login_session(&self, token_hash: &str, user_id: i64, expires_at: i64, now: i64) -> Result<()> {
        sqlx::query("INSERT INTO login_sessions (token_hash, user_id, created_at, expires_at) VALUES ($1, $2, $3, $4)")
            .bind(token_hash)
            .bind(user_id)
            .bind(now)
            .bind(expires_at)
            .execute(self.writer())
            .await?;
        Ok(())
    }

    /// The person a live session belongs to, if the session exists and has not expired.
    pub async fn login_session_user(&self, token_hash: &str, now: i64) -> Result<Option<User>> {
        static SQL: LazyLock<String> = LazyLock::new(|| {
            format!(
                "SELECT {} FROM login_sessions s JOIN users u ON u.id = s.user_id \
                 WHERE s.token_hash = $1 AND u.suspended_at IS NULL AND s.expires_at > $2",
                prefixed_user_columns("u")
            )
        });
        Ok(sqlx::query_as(&SQL).bind(token_hash).bind(now).fetch_optional(self.pool()).await?)
    }

    pub async fn delete_login_session(&self, token_hash: &str) -> Result<()> {
        sqlx::query("DELETE FROM login_sessions WHERE token_hash = $1").bind(token_hash).execute(self.writer()).await?;
        Ok(())
    }

    /// Ends every session of a person (after a password reset or change).
    pub async fn delete_user_login_sessions(&self, user_id: i64) -> Result<()> {
        sqlx::query("DELETE FROM login_sessions WHERE user_id = $1").bind(user_id).execute(self.writer()).await?;
        Ok(())
    }

    pub async fn purge_expired(&self, now: i64) -> Result<u64> {
        let a =
            sqlx::query("DELETE FROM login_sessions WHERE expires_at <= $1").bind(now).execute(self.writer()).await?;
        let b = sqlx::query("DELETE FROM email_tokens WHERE expires_at <= $1").bind(now).execute(self.writer()).await?;
        // Expired API tokens stay listed (as expired) for a month, so their
        // owner can see why a script stopped working.
        let month_ago = now - 30 * 24 * 3_600_000;
        let c =
            sqlx::query("DELETE FROM api_tokens WHERE expires_at <= $1").bind(month_ago).execute(self.writer()).await?;
        Ok(a.rows_affected() + b.rows_affected() + c.rows_affected())
    }
}
