//! Local actors for federation: every account's key pair (made on first
//! use, kept with the account) and the instance actor's.

use crate::service::App;
use crate::storage::User;

use super::AppError;

const INSTANCE_KEYS: &str = "federation.instance_keys";
/// The instance actor's Ed25519 key (its own setting: the RSA pair's
/// setting predates it).
const INSTANCE_ED25519: &str = "federation.instance_ed25519";

/// An actor's keys in PEM: the RSA pair (`publicKey`, draft-cavage and RFC
/// 9421 `rsa-v1_5-sha256` signatures) and an Ed25519 key (PKCS#8, which
/// holds the public half too), published as a FEP-521a Multikey.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyPair {
    pub public_pem: String,
    pub private_pem: String,
    pub ed25519_pem: String,
}

impl App {
    /// The person's keys, each made (2048-bit RSA, Ed25519) the first time
    /// it is asked for.
    pub async fn actor_keys(&self, user: &User) -> Result<KeyPair, AppError> {
        let (public_pem, private_pem, ed25519) = match self.store.actor_keys(user.id).await? {
            Some(stored) => stored,
            None => {
                let fresh = generate().await?;
                self.store.set_actor_keys_once(user.id, &fresh.0, &fresh.1).await?
            }
        };
        let ed25519_pem = match ed25519 {
            Some(pem) => pem,
            None => self.store.set_actor_ed25519_once(user.id, &generate_ed25519_pem()?).await?,
        };
        Ok(KeyPair { public_pem, private_pem, ed25519_pem })
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
                let (public, private) = generate().await?;
                let json = serde_json::json!({"public": public, "private": private}).to_string();
                self.store.instance_setting_once(INSTANCE_KEYS, &json, self.clock.now_ms()).await?
            }
        };
        let ed25519_pem = match self.store.instance_setting(INSTANCE_ED25519).await? {
            Some(pem) => pem,
            None => {
                self.store
                    .instance_setting_once(INSTANCE_ED25519, &generate_ed25519_pem()?, self.clock.now_ms())
                    .await?
            }
        };
        let value: serde_json::Value = serde_json::from_str(&stored)
            .map_err(|e| AppError::Internal(anyhow::anyhow!("stored instance keys unreadable: {e}")))?;
        match (value["public"].as_str(), value["private"].as_str()) {
            (Some(public), Some(private)) => {
                Ok(KeyPair { public_pem: public.to_string(), private_pem: private.to_string(), ed25519_pem })
            }
            _ => Err(AppError::Internal(anyhow::anyhow!("stored instance keys incomplete"))),
        }
    }
}

/// A fresh RSA pair (public, private) in PEM.
async fn generate() -> Result<(String, String), AppError> {
    let keys = tokio::task::spawn_blocking(activitypub_federation::http_signatures::generate_actor_keypair)
        .await
        .map_err(|e| AppError::Internal(anyhow::anyhow!("key generation task: {e}")))?
        .map_err(|e| AppError::Internal(anyhow::anyhow!("generating an actor key pair: {e}")))?;
    Ok((keys.public_key, keys.private_key))
}

/// A fresh Ed25519 key pair as a PKCS#8 PEM (`BEGIN PRIVATE KEY`; ring's
/// PKCS#8 v2 document holds the public key too).
pub fn generate_ed25519_pem() -> Result<String, AppError> {
    use base64::Engine;
    let document = ring::signature::Ed25519KeyPair::generate_pkcs8(&ring::rand::SystemRandom::new())
        .map_err(|_| AppError::Internal(anyhow::anyhow!("Ed25519 key generation failed")))?;
    let encoded = base64::engine::general_purpose::STANDARD.encode(document.as_ref());
    let lines: Vec<&str> = encoded.as_bytes().chunks(64).filter_map(|c| std::str::from_utf8(c).ok()).collect();
    Ok(format!("-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n", lines.join("\n")))
}
