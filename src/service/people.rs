//! The profile cache: people's public profiles (account, advisor profile
//! and the karma score their page shows), read once and kept for a few
//! seconds. Every write on this node that changes one marks its person
//! (`App::person_changed`, see `service::changes`); other nodes catch up
//! within `AVAILABILITY_CACHE_SECS`.

use std::sync::Arc;

use crate::storage::{AdvisorProfile, StorageError, User};

use super::{App, AppError};

/// A public profile as read at one moment.
pub struct ProfileEntry {
    /// `Changes::stamp` when the read began.
    stamp: u64,
    pub profile: Arc<AdvisorProfile>,
    pub karma: i64,
}

impl App {
    /// Anyone's public profile with their karma, from the cache. A
    /// suspended person's is shown to admins only, as if it did not exist
    /// to everyone else.
    pub async fn public_profile(&self, username: &str, viewer: Option<&User>) -> Result<Arc<ProfileEntry>, AppError> {
        let entry = self.cached_profile(username).await?;
        if entry.profile.user.suspended_at.is_some() && !viewer.is_some_and(|v| v.is_admin) {
            return Err(AppError::NotFound("person"));
        }
        Ok(entry)
    }

    /// A listed, not suspended advisor's account, from the profile cache.
    pub async fn cached_advisor(&self, username: &str) -> Result<Arc<ProfileEntry>, AppError> {
        match self.cached_profile(username).await {
            Ok(entry) if entry.profile.user.is_advisor && entry.profile.user.suspended_at.is_none() => Ok(entry),
            Ok(_) | Err(AppError::NotFound(_)) => Err(AppError::NotFound("advisor")),
            Err(other) => Err(other),
        }
    }

    async fn cached_profile(&self, username: &str) -> Result<Arc<ProfileEntry>, AppError> {
        let key = username.to_ascii_lowercase();
        if let Some(hit) = self.fresh_profile(&key) {
            return Ok(hit);
        }
        // One reader per missing entry (see `App::availability`).
        let _loading = self.loads.lock_name(&key).await;
        if let Some(hit) = self.fresh_profile(&key) {
            return Ok(hit);
        }
        let stamp = self.changes.stamp();
        let profile = match self.store.advisor_profile(&key).await {
            Ok(profile) => profile,
            Err(StorageError::NotFound) => return Err(AppError::NotFound("person")),
            Err(other) => return Err(other.into()),
        };
        let karma = self.store.karma_score(profile.user.id).await?;
        let entry = Arc::new(ProfileEntry { stamp, profile: Arc::new(profile), karma });
        self.profile_cache.insert(key, entry.clone());
        Ok(entry)
    }

    fn fresh_profile(&self, key: &str) -> Option<Arc<ProfileEntry>> {
        let hit = self.profile_cache.get(key)?;
        self.changes.fresh(hit.profile.user.id, hit.stamp).then_some(hit)
    }
}
