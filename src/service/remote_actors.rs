//! Remote people as this instance knows them: their stored actors and the
//! shadow accounts that stand for them in requests and messages.
//! Federation reaches storage only through these methods.

use crate::storage::{NewRemoteActor, RemoteActor, User};

use super::{App, AppError};

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
        Ok(self.store.upsert_remote_actor(actor).await?)
    }

    pub async fn user_by_id(&self, id: i64) -> Result<User, AppError> {
        Ok(self.store.user_by_id(id).await?)
    }

    /// A local account by username (shadow accounts of remote people are
    /// never found by name or address).
    pub async fn user_by_username(&self, username: &str) -> Result<User, AppError> {
        Ok(self.store.user_by_username(username).await?)
    }
}
