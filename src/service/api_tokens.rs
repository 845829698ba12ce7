//! Personal API tokens: create (named, optionally expiring), list, revoke.
//! The secret is shown once and stored hashed. Password resets and
//! suspensions revoke every token (`accounts.rs`); a password change asks.

use crate::domain::{FieldErrors, api_token};
use crate::service::App;
use crate::storage::{ApiToken, User};

use super::AppError;
use super::secrets::{hash_secret, new_secret};

const DAY_MS: i64 = 24 * 3_600_000;

/// A token just made: its secret (shown this once) and how it is listed.
pub struct NewApiToken {
    pub secret: String,
    pub token: ApiToken,
}

impl App {
    /// A new token named `name`, expiring after `expires_in_days` days or
    /// never. Both are checked (all problems at once) before anything is
    /// stored.
    pub async fn issue_api_token(
        &self,
        user: &User,
        name: &str,
        expires_in_days: Option<i64>,
    ) -> Result<NewApiToken, AppError> {
        let (name, days) = check_api_token(name, expires_in_days)?;
        let secret = format!("oh_{}", new_secret());
        let now = self.clock.now_ms();
        let expires_at = days.map(|d| now + d * DAY_MS);
        let token = self.store.create_api_token(user.id, &hash_secret(&secret), &name, expires_at, now).await?;
        tracing::info!(username = %user.username, token = token.id, "API token created");
        Ok(NewApiToken { secret, token })
    }

    /// A token that does not expire; returns only the secret.
    pub async fn create_api_token(&self, user: &User, name: &str) -> Result<String, AppError> {
        Ok(self.issue_api_token(user, name, None).await?.secret)
    }

    /// The person a valid (known, unexpired) token belongs to.
    pub async fn api_token_user(&self, secret: &str) -> Result<Option<User>, AppError> {
        Ok(self.store.api_token_user(&hash_secret(secret), self.clock.now_ms()).await?)
    }

    pub async fn api_tokens(&self, user: &User) -> Result<Vec<ApiToken>, AppError> {
        Ok(self.store.api_tokens_of(user.id).await?)
    }

    /// Revokes one of the person's own tokens and returns its name; any
    /// other id is "not found".
    pub async fn revoke_api_token(&self, user: &User, token_id: i64) -> Result<String, AppError> {
        match self.store.revoke_api_token(user.id, token_id).await? {
            Some(name) => {
                tracing::info!(username = %user.username, token = token_id, "API token revoked");
                Ok(name)
            }
            None => Err(AppError::NotFound("API token")),
        }
    }

    /// Revokes every token of a person; returns how many there were.
    pub async fn revoke_all_api_tokens(&self, user_id: i64) -> Result<u64, AppError> {
        let revoked = self.store.revoke_api_tokens_of(user_id).await?;
        if revoked > 0 {
            tracing::info!(user_id, revoked, "API tokens revoked");
        }
        Ok(revoked)
    }
}

/// Checks a token's name and lifetime, reporting both problems at once;
/// returns the trimmed name and the days.
pub fn check_api_token(name: &str, expires_in_days: Option<i64>) -> Result<(String, Option<i64>), AppError> {
    let mut errors = FieldErrors::new();
    let name = errors.check(api_token::name(name));
    let days = errors.check(api_token::expires_in_days(expires_in_days));
    match (name, days) {
        (Some(name), Some(days)) => Ok((name, days)),
        _ => Err(AppError::Invalid(errors)),
    }
}
