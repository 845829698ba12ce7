//! Local accounts: every person on this instance, learner and advisor alike.

use serde::Serialize;

use super::{Result, StorageError, Store};

#[derive(Debug, Clone, sqlx::FromRow, Serialize)]
pub struct User {
    pub id: i64,
    pub username: String,
    pub email: String,
    #[sqlx(try_from = "super::DbBool")]
    pub email_verified: bool,
    #[serde(skip)]
    pub password_hash: String,
    pub display_name: String,
    pub bio: String,
    pub timezone: String,
    #[sqlx(try_from = "super::DbBool")]
    pub is_advisor: bool,
    #[sqlx(try_from = "super::DbBool")]
    pub is_pro: bool,
    #[sqlx(try_from = "super::DbBool")]
    pub is_admin: bool,
    pub headline: String,
    pub created_at: i64,
    pub updated_at: i64,
    /// When an admin suspended the account; suspended people cannot log in,
    /// request sessions or receive messages.
    pub suspended_at: Option<i64>,
    /// Minutes before a session the reminder goes out (`None`: the instance
    /// default; 0: no reminder).
    pub reminder_minutes: Option<i64>,
    /// Set for the shadow account of a remote person (see
    /// `storage::mirror`): it cannot log in and gets direct messages, not mail.
    pub remote_actor_id: Option<i64>,
}

impl User {
    /// The name to show: the display name, or the username when none is set.
    pub fn name(&self) -> &str {
        crate::domain::account::shown_name(&self.display_name, &self.username)
    }

    /// Whether this is the shadow account of someone on another server.
    pub fn is_remote(&self) -> bool {
        self.remote_actor_id.is_some()
    }

    /// The first letter of the name, for the avatar placeholder.
    pub fn initial(&self) -> String {
        self.name().chars().next().map(|c| c.to_uppercase().collect()).unwrap_or_default()
    }
}

/// A validated account, ready to insert.
#[derive(Debug, Clone)]
pub struct NewUser {
    pub username: String,
    pub email: String,
    pub email_verified: bool,
    pub password_hash: String,
    pub display_name: String,
    pub timezone: String,
    pub is_advisor: bool,
    pub is_pro: bool,
    pub is_admin: bool,
}

/// Settings a person edits about themself.
#[derive(Debug, Clone)]
pub struct ProfileUpdate {
    pub display_name: String,
    pub bio: String,
    pub timezone: String,
}

pub(super) const USER_COLUMNS: &str = "id, username, email, email_verified, password_hash, \
     display_name, bio, timezone, is_advisor, is_pro, is_admin, headline, created_at, updated_at, suspended_at, reminder_minutes, remote_actor_id";

/// The user columns qualified with a table alias, for joins.
pub(super) fn prefixed_user_columns(alias: &str) -> String {
    USER_COLUMNS.split(',').map(|c| format!("{alias}.{}", c.trim())).collect::<Vec<_>>().join(", ")
}

impl Store {
    pub async fn create_user(&self, new: &NewUser, now: i64) -> Result<User> {
        let sql = format!(
            "INSERT INTO users (username, email, email_verified, password_hash, display_name, \
             timezone, is_advisor, is_pro, is_admin, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10) RETURNING {USER_COLUMNS}"
        );
        let user = sqlx::query_as::<_, User>(&sql)
            .bind(&new.username)
            .bind(&new.email)
            .bind(new.email_verified)
            .bind(&new.password_hash)
            .bind(&new.display_name)
            .bind(&new.timezone)
            .bind(new.is_advisor)
            .bind(new.is_pro)
            .bind(new.is_admin)
            .bind(now)
            .fetch_one(self.pool())
            .await?;
        Ok(user)
    }

    pub async fn user_by_id(&self, id: i64) -> Result<User> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1");
        Ok(sqlx::query_as(&sql).bind(id).fetch_one(self.pool()).await?)
    }

    /// A local account by username (shadow accounts of remote people are
    /// never found by name or address).
    pub async fn user_by_username(&self, username: &str) -> Result<User> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE username = $1 AND remote_actor_id IS NULL");
        Ok(sqlx::query_as(&sql).bind(username).fetch_one(self.pool()).await?)
    }

    /// Local accounts for the admins' list, newest first: `pattern` a
    /// `LIKE` pattern (see `like_pattern`) over username, display name and
    /// address; `role` one of any, advisor, admin, learner; `state` one of
    /// any, active, unconfirmed, suspended.
    pub async fn list_users(&self, pattern: &str, role: &str, state: &str, limit: i64) -> Result<Vec<User>> {
        let sql = format!(
            "SELECT {USER_COLUMNS} FROM users WHERE remote_actor_id IS NULL \
             AND (LOWER(username) LIKE $1 ESCAPE '\\' OR LOWER(display_name) LIKE $1 ESCAPE '\\' \
                  OR LOWER(email) LIKE $1 ESCAPE '\\') \
             AND (CAST($2 AS TEXT) = 'any' OR (CAST($2 AS TEXT) = 'advisor' AND is_advisor = TRUE) \
                  OR (CAST($2 AS TEXT) = 'admin' AND is_admin = TRUE) \
                  OR (CAST($2 AS TEXT) = 'learner' AND is_advisor = FALSE AND is_admin = FALSE)) \
             AND (CAST($3 AS TEXT) = 'any' \
                  OR (CAST($3 AS TEXT) = 'active' AND suspended_at IS NULL AND email_verified = TRUE) \
                  OR (CAST($3 AS TEXT) = 'unconfirmed' AND suspended_at IS NULL AND email_verified = FALSE) \
                  OR (CAST($3 AS TEXT) = 'suspended' AND suspended_at IS NOT NULL)) \
             ORDER BY created_at DESC, id DESC LIMIT $4"
        );
        Ok(sqlx::query_as(&sql).bind(pattern).bind(role).bind(state).bind(limit).fetch_all(self.pool()).await?)
    }

    pub async fn user_by_email(&self, email: &str) -> Result<User> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE email = $1 AND remote_actor_id IS NULL");
        Ok(sqlx::query_as(&sql).bind(email).fetch_one(self.pool()).await?)
    }

    /// Whether a username or e-mail is already taken, for friendly form errors
    /// before the insert (the unique constraints still decide races).
    pub async fn username_taken(&self, username: &str) -> Result<bool> {
        exists(self, "SELECT COUNT(*) FROM users WHERE username = $1", username).await
    }

    pub async fn email_taken(&self, email: &str) -> Result<bool> {
        exists(self, "SELECT COUNT(*) FROM users WHERE email = $1", email).await
    }

    pub async fn count_users(&self) -> Result<i64> {
        Ok(sqlx::query_scalar("SELECT COUNT(*) FROM users WHERE remote_actor_id IS NULL")
            .fetch_one(self.pool())
            .await?)
    }

    pub async fn update_profile(&self, user_id: i64, update: &ProfileUpdate, now: i64) -> Result<User> {
        let sql = format!(
            "UPDATE users SET display_name = $2, bio = $3, timezone = $4, updated_at = $5 \
             WHERE id = $1 RETURNING {USER_COLUMNS}"
        );
        Ok(sqlx::query_as(&sql)
            .bind(user_id)
            .bind(&update.display_name)
            .bind(&update.bio)
            .bind(&update.timezone)
            .bind(now)
            .fetch_one(self.pool())
            .await?)
    }

    /// A new address starts unverified; pending links for the old one die.
    pub async fn change_email(&self, user_id: i64, email: &str, now: i64) -> Result<User> {
        let mut tx = self.begin_write().await?;
        let sql = format!(
            "UPDATE users SET email = $2, email_verified = FALSE, updated_at = $3 \
             WHERE id = $1 RETURNING {USER_COLUMNS}"
        );
        let user: User = sqlx::query_as(&sql).bind(user_id).bind(email).bind(now).fetch_one(&mut *tx).await?;
        sqlx::query("DELETE FROM email_tokens WHERE user_id = $1").bind(user_id).execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(user)
    }

    pub async fn set_password(&self, user_id: i64, password_hash: &str, now: i64) -> Result<()> {
        let done = sqlx::query("UPDATE users SET password_hash = $2, updated_at = $3 WHERE id = $1")
            .bind(user_id)
            .bind(password_hash)
            .bind(now)
            .execute(self.writer())
            .await?;
        if done.rows_affected() == 0 {
            return Err(StorageError::NotFound);
        }
        Ok(())
    }

    pub async fn set_roles(&self, user_id: i64, is_pro: bool, is_admin: bool, now: i64) -> Result<()> {
        sqlx::query("UPDATE users SET is_pro = $2, is_admin = $3, updated_at = $4 WHERE id = $1")
            .bind(user_id)
            .bind(is_pro)
            .bind(is_admin)
            .bind(now)
            .execute(self.writer())
            .await?;
        Ok(())
    }

    /// Suspends a person (`Some(when)`) or lifts the suspension (`None`);
    /// their log-in sessions end either way.
    pub async fn set_suspended(&self, user_id: i64, at: Option<i64>, now: i64) -> Result<()> {
        let mut tx = self.begin_write().await?;
        sqlx::query("UPDATE users SET suspended_at = $2, updated_at = $3 WHERE id = $1")
            .bind(user_id)
            .bind(at)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM login_sessions WHERE user_id = $1").bind(user_id).execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(())
    }
}

async fn exists(store: &Store, sql: &str, value: &str) -> Result<bool> {
    let count: i64 = sqlx::query_scalar(sql).bind(value).fetch_one(store.pool()).await?;
    Ok(count > 0)
}
