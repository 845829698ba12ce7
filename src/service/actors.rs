//! Local actors for federation: every account's key pair (made on first
//! use, kept with the account) and the instance actor's.

use crate::service::App;
use crate::storage::User;

use super::AppError;

const INSTANCE_KEYS: &str = "federation.instance_keys";

/// An actor's key pair in PEM.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyPair {
    pub public_pem: String,
    pub private_pem: String,
}

impl App {
    /// The person's key pair, made (2048-bit RSA) the first time it is asked for.
    pub async fn actor_keys(&self, user: &User) -> Result<KeyPair, AppError> {
        if let Some((public_pem, private_pem)) = self.store.actor_keys(user.id).await? {
            return Ok(KeyPair { public_pem, private_pem });
        }
        let fresh = generate().await?;
        let (public_pem, private_pem) =
            self.store.set_actor_keys_once(user.id, &fresh.public_pem, &fresh.private_pem).await?;
        Ok(KeyPair { public_pem, private_pem })
    }

    /// A local account as federation sees it: `None` when there is no such
    /// account or it is suspended.
    pub async fn federated_user(&self, username: &str) -> Result<Option<User>, AppError> {
        match self.store.user_by_username(&username.to_lowercase()).await {
            Ok(user) if user.suspended_at.is_none() => Ok(Some(user)),
            Ok(_) | Err(crate::storage::StorageError::NotFound) => Ok(None),
            Err(err) => Err(err.into()),
        }
    }

    /// Whom a person follows on other servers.
    pub async fn follows(&self, user: &User) -> Result<Vec<crate::storage::Follow>, AppError> {
        Ok(self.store.follows_of(user.id).await?)
    }

    /// How many remote actors follow a person.
    pub async fn follower_count(&self, user: &User) -> Result<i64, AppError> {
        Ok(self.store.follower_count(user.id).await?)
    }

    /// Accounts, and those active in the last month and half-year (NodeInfo).
    pub async fn user_counts(&self) -> Result<(i64, i64, i64), AppError> {
        let now = self.clock.now_ms();
        let day = 24 * 3_600_000;
        Ok(self.store.user_counts(now - 30 * day, now - 182 * day).await?)
    }

    /// The instance actor's key pair (it signs server-to-server fetches).
    /// Both halves are one setting, so racing nodes keep the same pair.
    pub async fn instance_actor_keys(&self) -> Result<KeyPair, AppError> {
        let stored = match self.store.instance_setting(INSTANCE_KEYS).await? {
            Some(stored) => stored,
            None => {
                let fresh = generate().await?;
                let json = serde_json::json!({"public": fresh.public_pem, "private": fresh.private_pem}).to_string();
                self.store.instance_setting_once(INSTANCE_KEYS, &json).await?
            }
        };
        let value: serde_json::Value = serde_json::from_str(&stored)
            .map_err(|e| AppError::Internal(anyhow::anyhow!("stored instance keys unreadable: {e}")))?;
        match (value["public"].as_str(), value["private"].as_str()) {
            (Some(public), Some(private)) => {
                Ok(KeyPair { public_pem: public.to_string(), private_pem: private.to_string() })
            }
            _ => Err(AppError::Internal(anyhow::anyhow!("stored instance keys incomplete"))),
        }
    }
}

async fn generate() -> Result<KeyPair, AppError> {
    let keys = tokio::task::spawn_blocking(activitypub_federation::http_signatures::generate_actor_keypair)
        .await
        .map_err(|e| AppError::Internal(anyhow::anyhow!("key generation task: {e}")))?
        .map_err(|e| AppError::Internal(anyhow::anyhow!("generating an actor key pair: {e}")))?;
    Ok(KeyPair { public_pem: keys.public_key, private_pem: keys.private_key })
}
