//! What publishing availability reads and records: advisors with something to
//! publish, their slots and published events.
//! Federation reaches storage only through these methods.

use crate::storage::{AdvisorPolicy, Fanout, PublishedEvent, Slot};

use super::{App, AppError};

impl App {
    /// Advisors with something to publish or withdraw: local advisors with
    /// slots in `[from, to)` (published even without followers yet, so the
    /// `upcomingEvents` collection is complete and new followers get it),
    /// and those with live or cancelled events out there.
    pub async fn advisors_to_publish(&self, from: i64, to: i64) -> Result<Vec<i64>, AppError> {
        Ok(self.store.advisors_to_publish(from, to).await?)
    }

    /// An advisor's published events that are not deleted or over.
    pub async fn open_published_events(&self, advisor_id: i64) -> Result<Vec<PublishedEvent>, AppError> {
        Ok(self.store.open_published_events(advisor_id).await?)
    }

    pub async fn published_event(&self, ap_id: &str) -> Result<Option<PublishedEvent>, AppError> {
        Ok(self.store.published_event(ap_id).await?)
    }

    /// An advisor's live events, soonest first (the `upcomingEvents` collection).
    pub async fn live_published_events(&self, advisor_id: i64, after: i64) -> Result<Vec<PublishedEvent>, AppError> {
        Ok(self.store.live_published_events(advisor_id, after).await?)
    }

    /// Records what was published and queues its deliveries (each activity
    /// to each of its inboxes), in one transaction.
    pub async fn record_publication(&self, events: &[PublishedEvent], fanouts: &[Fanout<'_>]) -> Result<(), AppError> {
        Ok(self.store.record_publication(events, fanouts, self.clock.now_ms()).await?)
    }

    /// A block's time zone, even once the block is removed (its published
    /// occurrences still have to be cancelled in that zone).
    pub async fn block_timezone(&self, id: i64) -> Result<String, AppError> {
        Ok(self.store.block_timezone(id).await?)
    }

    /// The mirrored event id of a block (`None` for our own blocks).
    pub async fn block_ap_id(&self, block_id: i64) -> Result<Option<String>, AppError> {
        Ok(self.store.block_ap_id(block_id).await?)
    }

    pub async fn block_slots(&self, block_id: i64) -> Result<Vec<Slot>, AppError> {
        Ok(self.store.block_slots(block_id).await?)
    }

    pub async fn advisor_policy(&self, user_id: i64) -> Result<AdvisorPolicy, AppError> {
        Ok(self.store.advisor_policy(user_id).await?)
    }

    /// An advisor's slots starting in `[from, to)`, in time order.
    pub async fn slots_between(&self, advisor_id: i64, from: i64, to: i64) -> Result<Vec<Slot>, AppError> {
        Ok(self.store.advisor_slots(advisor_id, from, to).await?)
    }

    pub async fn slot(&self, id: i64) -> Result<Slot, AppError> {
        Ok(self.store.slot(id).await?)
    }
}
