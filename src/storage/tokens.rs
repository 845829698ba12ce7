//! The one-use links sent by e-mail (verification and password reset). Only
//! SHA-256 hashes of the secrets are stored. API tokens: `api_tokens.rs`.

use std::sync::LazyLock;

use super::accounts::prefixed_user_columns;
use super::{Result, Store, User};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EmailTokenPurpose {
    Verify,
    Reset,
}

impl EmailTokenPurpose {
    fn as_str(self) -> &'static str {
        match self {
            EmailTokenPurpose::Verify => "verify",
            EmailTokenPurpose::Reset => "reset",
        }
    }
}

impl Store {
    /// Stores a new one-use link; older links of the same purpose die with it.
    pub async fn create_email_token(
        &self,
        user_id: i64,
        purpose: EmailTokenPurpose,
        token_hash: &str,
        email: &str,
        expires_at: i64,
        now: i64,
    ) -> Result<()> {
        let mut tx = self.begin_write().await?;
        sqlx::query("DELETE FROM email_tokens WHERE user_id = $1 AND purpose = $2")
            .bind(user_id)
            .bind(purpose.as_str())
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO email_tokens (token_hash, user_id, purpose, email, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(token_hash)
        .bind(user_id)
        .bind(purpose.as_str())
        .bind(email)
        .bind(now)
        .bind(expires_at)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Uses up a link: returns its person and the address it was sent to, if
    /// it exists, has the right purpose and has not expired. A link works once.
    pub async fn consume_email_token(
        &self,
        purpose: EmailTokenPurpose,
        token_hash: &str,
        now: i64,
    ) -> Result<Option<(i64, String)>> {
        let row: Option<(i64, String)> = sqlx::query_as(
            "DELETE FROM email_tokens WHERE token_hash = $1 AND purpose = $2 AND expires_at > $3 \
             RETURNING user_id, email",
        )
        .bind(token_hash)
        .bind(purpose.as_str())
        .bind(now)
        .fetch_optional(self.pool())
        .await?;
        Ok(row)
    }

    /// Marks an address verified, only if it is still the person's address.
    pub async fn mark_email_verified(&self, user_id: i64, email: &str, now: i64) -> Result<bool> {
        let done = sqlx::query("UPDATE users SET email_verified = TRUE, updated_at = $3 WHERE id = $1 AND email = $2")
            .bind(user_id)
            .bind(email)
            .bind(now)
            .execute(self.writer())
            .await?;
        Ok(done.rows_affected() == 1)
    }
}

impl Store {
    /// The person a still-valid link belongs to, without using it up (to show
    /// the reset form and check the new password against their name).
    pub async fn peek_email_token(
        &self,
        purpose: EmailTokenPurpose,
        token_hash: &str,
        now: i64,
    ) -> Result<Option<User>> {
        static SQL: LazyLock<String> = LazyLock::new(|| {
            format!(
                "SELECT {} FROM email_tokens t JOIN users u ON u.id = t.user_id \
                 WHERE t.token_hash = $1 AND t.purpose = $2 AND t.expires_at > $3",
                prefixed_user_columns("u")
            )
        });
        Ok(sqlx::query_as(&SQL).bind(token_hash).bind(purpose.as_str()).bind(now).fetch_optional(self.pool()).await?)
    }

    /// Sets a new password through a reset link, in one transaction: the link
    /// is used up, the password replaced, every session ended and every API
    /// token revoked, or nothing happens. Returns the person, or `None` for a dead link.
    pub async fn reset_password(&self, token_hash: &str, password_hash: &str, now: i64) -> Result<Option<i64>> {
        let mut tx = self.begin_write().await?;
        let user_id: Option<i64> = sqlx::query_scalar(
            "DELETE FROM email_tokens WHERE token_hash = $1 AND purpose = 'reset' AND expires_at > $2 \
             RETURNING user_id",
        )
        .bind(token_hash)
        .bind(now)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(user_id) = user_id else {
            return Ok(None);
        };
        sqlx::query("UPDATE users SET password_hash = $2, updated_at = $3 WHERE id = $1")
            .bind(user_id)
            .bind(password_hash)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM login_sessions WHERE user_id = $1").bind(user_id).execute(&mut *tx).await?;
        sqlx::query("DELETE FROM api_tokens WHERE user_id = $1").bind(user_id).execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(Some(user_id))
    }
}
