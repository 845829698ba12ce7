//! Remote people as this instance knows them: their stored actors and the
//! shadow accounts that stand for them in requests and messages.
//! Federation reaches storage only through these methods.

use crate::storage::{NewRemoteActor, RemoteActor, User};

use super::{App, AppError};
use crate::domain::booking::Action;

/// Why a deleted account's requests were cancelled (the advisor reads it).
const ACCOUNT_DELETED: &str = "Their account was deleted.";

impl App {
    pub async fn remote_actor(&self, ap_id: &str) -> Result<Option<RemoteActor>, AppError> {
        Ok(self.store.remote_actor(ap_id).await?)
    }

    /// The newest remote actor stored under a handle (`ada`, `alpha.test`).
    pub async fn remote_actor_by_handle(&self, username: &str, domain: &str) -> Result<Option<RemoteActor>, AppError> {
        Ok(self.store.remote_actor_by_handle(username, domain).await?)
    }

    /// Stores a freshly fetched actor, replacing what was known of it.
    pub async fn upsert_remote_actor(&self, actor: &NewRemoteActor) -> Result<RemoteActor, AppError> {
        Ok(self.store.upsert_remote_actor(actor, self.clock.now_ms()).await?)
    }

    pub async fn user_by_id(&self, id: i64) -> Result<User, AppError> {
        Ok(self.store.user_by_id(id).await?)
    }

    /// A local account by username (shadow accounts of remote people are
    /// never found by name or address).
    pub async fn user_by_username(&self, username: &str) -> Result<User, AppError> {
        Ok(self.store.user_by_username(username).await?)
    }

    /// A remote person deleted their account (their `Delete` of themselves,
    /// activity `activity_id`, applied once): they no longer follow anyone
    /// here nor are followed, what still waits to go to their inbox is
    /// given up, and their live requests (waiting or approved, ahead) are
    /// cancelled with the reason, so the advisor hears and the slot is
    /// free again. Returns how many requests were cancelled.
    pub async fn remote_actor_deleted(&self, actor: &RemoteActor, activity_id: &str) -> Result<usize, AppError> {
        let now = self.clock.now_ms();
        if !self.store.actor_gone(activity_id, &actor.ap_id, &actor.inbox, now).await? {
            return Ok(0);
        }
        let person = self.shadow_user(actor, now).await?;
        let live: Vec<i64> = self
            .store
            .sessions_between(person.id, now, i64::MAX)
            .await?
            .into_iter()
            .filter(|s| s.learner_username == person.username && s.status.is_live())
            .map(|s| s.request_id)
            .collect();
        let mut cancelled = 0;
        for request_id in live {
            match self.decide_by(&person, request_id, Action::Cancel, ACCOUNT_DELETED, None).await {
                Ok(_) => cancelled += 1,
                Err(AppError::Conflict(..)) => {}
                Err(err) => return Err(err),
            }
        }
        Ok(cancelled)
    }
}
