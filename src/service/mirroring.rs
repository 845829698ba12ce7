//! Availability of advisors elsewhere, mirrored here so local learners can
//! see and ask for it: the use cases behind a remote `Create`/`Update` or
//! `Delete` of an `Event` and behind listing a remote advisor's slots.
//! Federation reads the event into a [`MirroredEvent`]; ownership and the
//! rest are decided here.

use crate::storage::{Mirrored, MirroredEvent, RemoteActor, Slot, User};

use super::{App, AppError};

impl App {
    /// The shadow account of a remote person, made or refreshed from their
    /// actor (their profile here may change).
    pub(crate) async fn shadow_user(&self, actor: &RemoteActor, now: i64) -> Result<User, AppError> {
        let user = self.store.shadow_user(actor, now).await?;
        self.person_changed(user.id);
        Ok(user)
    }

    /// Creates or updates the mirror of `owner`'s event. An event id already
    /// mirrored for someone else is refused: an actor cannot change what
    /// another actor owns. Slots no longer in the event are cancelled.
    ///
    /// `activity` (the `Create`/`Update` id, `None` for a fetched
    /// collection) is recorded in the same transaction: applied once.
    pub async fn mirror_remote_event(
        &self,
        owner: &RemoteActor,
        event: &MirroredEvent,
        activity: Option<&str>,
    ) -> Result<(), AppError> {
        let now = self.clock.now_ms();
        let advisor = self.shadow_user(owner, now).await?;
        let mirrored = self.store.mirror_event(advisor.id, event, activity, now).await?;
        self.availability_changed(advisor.id);
        match mirrored {
            Mirrored::Stored(_) | Mirrored::Seen => Ok(()),
            Mirrored::NotOwner => Err(AppError::Forbidden("not_owner", "That event belongs to someone else.".into())),
        }
    }

    /// `owner` withdrew their event `event_id` (a `Delete`, activity
    /// `activity`, applied once): its block and slots are cancelled. False
    /// when it is unknown here or seen before; someone else's event is
    /// refused.
    pub async fn withdraw_remote_event(
        &self,
        owner: &RemoteActor,
        event_id: &str,
        activity: &str,
    ) -> Result<bool, AppError> {
        let Some((_, owner_id)) = self.store.mirrored_block(event_id).await? else { return Ok(false) };
        let now = self.clock.now_ms();
        let advisor = self.shadow_user(owner, now).await?;
        if owner_id != advisor.id {
            return Err(AppError::Forbidden("not_owner", "An actor can only delete its own events.".into()));
        }
        let deleted = self.store.delete_mirrored_event(advisor.id, event_id, activity, now).await?;
        self.availability_changed(advisor.id);
        Ok(deleted)
    }

    /// A remote advisor as known here (their shadow account) and their
    /// mirrored slots starting in the next `days` days.
    pub async fn remote_advisor_slots(&self, advisor: &RemoteActor, days: i64) -> Result<(User, Vec<Slot>), AppError> {
        let now = self.clock.now_ms();
        let user = self.shadow_user(advisor, now).await?;
        let slots = self.store.advisor_slots(user.id, now, now + days * 24 * 60 * 60 * 1000).await?;
        Ok((user, slots))
    }
}
