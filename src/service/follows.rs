//! Followers of local advisors, and local people following remote advisors:
//! the rows behind Follow, Accept and Undo.
//! Federation reaches storage only through these methods.

use crate::storage::{Follow, NewDelivery, User};

use super::{App, AppError};

impl App {
    /// A remote actor follows a local person: the follower is recorded and
    /// our `Accept` queued (once per activity id), and the person's live
    /// availability goes to the new follower's `inbox` so they see what is
    /// already published. False when the activity was seen before.
    pub async fn follower_arrived(
        &self,
        activity_id: &str,
        user: &User,
        actor_id: &str,
        inbox: &str,
        accept: &NewDelivery,
    ) -> Result<bool, AppError> {
        if !self.store.add_follower(activity_id, user.id, actor_id, inbox, accept, self.clock.now_ms()).await? {
            return Ok(false);
        }
        self.wake_jobs();
        self.ports.publisher.send_live_to(self, user, inbox).await?;
        Ok(true)
    }

    /// Stops following: removes the follow and queues the `Undo` built from
    /// it (`undo` receives the follow's id); `None` when there was none.
    pub async fn stop_follow(
        &self,
        user_id: i64,
        actor_id: &str,
        undo: impl FnOnce(&Follow) -> NewDelivery,
    ) -> Result<Option<Follow>, AppError> {
        Ok(self.store.stop_follow(user_id, actor_id, undo, self.clock.now_ms()).await?)
    }

    /// A remote actor stops following a local person (`Undo(Follow)`).
    pub async fn remove_follower(&self, activity_id: &str, user_id: i64, actor_id: &str) -> Result<bool, AppError> {
        Ok(self.store.remove_follower(activity_id, user_id, actor_id, self.clock.now_ms()).await?)
    }

    /// A remote actor accepted a local person's follow. Only the actor that
    /// was asked can accept it.
    pub async fn follow_accepted(&self, activity_id: &str, follow_id: &str, actor_id: &str) -> Result<bool, AppError> {
        Ok(self.store.follow_accepted(activity_id, follow_id, actor_id, self.clock.now_ms()).await?)
    }

    /// Whether anyone here follows (or asked to follow) a remote actor.
    pub async fn is_followed_here(&self, actor_id: &str) -> Result<bool, AppError> {
        Ok(self.store.is_followed_here(actor_id).await?)
    }

    /// Where an advisor's followers receive: each shared inbox (or personal
    /// inbox) once.
    pub async fn follower_inboxes(&self, advisor_id: i64) -> Result<Vec<String>, AppError> {
        Ok(self.store.follower_inboxes(advisor_id).await?)
    }

    /// Starts following a remote actor and queues the `Follow`; returns the
    /// existing follow when there is one (nothing is queued then).
    pub async fn start_follow(&self, user_id: i64, actor_id: &str, follow: &NewDelivery) -> Result<Follow, AppError> {
        Ok(self.store.start_follow(user_id, actor_id, follow, self.clock.now_ms()).await?)
    }
}
