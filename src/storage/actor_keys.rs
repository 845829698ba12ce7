//! Key pairs of local actors (HTTP signatures), stored with each account;
//! the instance actor's pair is an instance setting.

use super::{Result, Store};

impl Store {
    /// A person's RSA key pair (public, private), if made already, and their
    /// Ed25519 key (PKCS#8 PEM), if made already.
    pub async fn actor_keys(&self, user_id: i64) -> Result<Option<(String, String, Option<String>)>> {
        let row: Option<(Option<String>, Option<String>, Option<String>)> =
            sqlx::query_as("SELECT public_key_pem, private_key_pem, ed25519_private_pem FROM users WHERE id = $1")
                .bind(user_id)
                .fetch_optional(self.pool())
                .await?;
        Ok(match row {
            Some((Some(public), Some(private), ed25519)) => Some((public, private, ed25519)),
            _ => None,
        })
    }

    /// Stores a person's key pair unless they have one already (two requests
    /// racing to make one keep the first); returns the pair that counts.
    pub async fn set_actor_keys_once(
        &self,
        user_id: i64,
        public: &str,
        private: &str,
    ) -> Result<(String, String, Option<String>)> {
        sqlx::query(
            "UPDATE users SET public_key_pem = $2, private_key_pem = $3 WHERE id = $1 AND public_key_pem IS NULL",
        )
        .bind(user_id)
        .bind(public)
        .bind(private)
        .execute(self.writer())
        .await?;
        self.actor_keys(user_id).await?.ok_or(super::StorageError::NotFound)
    }

    /// Stores a person's Ed25519 key (PKCS#8 PEM) unless they have one
    /// already; returns the one that counts.
    pub async fn set_actor_ed25519_once(&self, user_id: i64, pem: &str) -> Result<String> {
        sqlx::query("UPDATE users SET ed25519_private_pem = $2 WHERE id = $1 AND ed25519_private_pem IS NULL")
            .bind(user_id)
            .bind(pem)
            .execute(self.writer())
            .await?;
        let stored: Option<String> = sqlx::query_scalar("SELECT ed25519_private_pem FROM users WHERE id = $1")
            .bind(user_id)
            .fetch_one(self.pool())
            .await?;
        stored.ok_or(super::StorageError::NotFound)
    }

    /// Stores an instance setting unless it exists; returns the value that counts.
    pub async fn instance_setting_once(&self, name: &str, value: &str, now: i64) -> Result<String> {
        sqlx::query(
            "INSERT INTO instance_settings (name, value, updated_at) VALUES ($1, $2, $3) ON CONFLICT (name) DO NOTHING",
        )
        .bind(name)
        .bind(value)
        .bind(now)
        .execute(self.writer())
        .await?;
        Ok(sqlx::query_scalar("SELECT value FROM instance_settings WHERE name = $1")
            .bind(name)
            .fetch_one(self.pool())
            .await?)
    }

    pub async fn instance_setting(&self, name: &str) -> Result<Option<String>> {
        Ok(sqlx::query_scalar("SELECT value FROM instance_settings WHERE name = $1")
            .bind(name)
            .fetch_optional(self.pool())
            .await?)
    }

    /// Local accounts (not suspended), and how many logged in since each of
    /// two instants (for NodeInfo; sessions are kept 30 days, so older
    /// activity counts only while a session lives).
    pub async fn user_counts(&self, since_month: i64, since_half_year: i64) -> Result<(i64, i64, i64)> {
        Ok(sqlx::query_as(
            "SELECT (SELECT COUNT(*) FROM users WHERE suspended_at IS NULL), \
             (SELECT COUNT(DISTINCT user_id) FROM login_sessions WHERE created_at >= $1), \
             (SELECT COUNT(DISTINCT user_id) FROM login_sessions WHERE created_at >= $2)",
        )
        .bind(since_month)
        .bind(since_half_year)
        .fetch_one(self.pool())
        .await?)
    }
}
