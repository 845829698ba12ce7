//! Received activities and the delivery queue: what federation records as it
//! receives and sends (replays recognised, answers queued once, deliveries
//! claimed and settled).
//! Federation reaches storage only through these methods.

use crate::domain::retry::AfterFailure;
use crate::storage::{DELIVERIES, Delivery, Mirrored, MirroredEvent, NewDelivery, Request};

use super::{App, AppError};

impl App {
    /// Records an activity that has no effect of its own, so a replay is
    /// recognised; false when seen before.
    pub async fn mark_seen(&self, activity_id: &str) -> Result<bool, AppError> {
        Ok(self.store.mark_seen(activity_id).await?)
    }

    /// Records a received activity and queues our answer to it (a `Reject`,
    /// a direct message) in one transaction; false when seen before.
    pub async fn reply_once(&self, activity_id: &str, reply: &NewDelivery) -> Result<bool, AppError> {
        Ok(self.store.reply_once(activity_id, reply).await?)
    }

    /// Claims up to `limit` due deliveries for `lease_ms`.
    pub async fn claim_deliveries(&self, limit: i64, lease_ms: i64) -> Result<Vec<Delivery>, AppError> {
        Ok(self.store.claim(&DELIVERIES, limit, lease_ms, self.clock.now_ms()).await?)
    }

    /// Deliveries sent, as (id, domain): marked delivered and their
    /// instances alive, in one transaction (one commit for a whole group of
    /// a fan-out instead of two per delivery).
    pub async fn deliveries_sent(&self, sent: &[(i64, String)]) -> Result<(), AppError> {
        Ok(self.store.deliveries_sent(sent).await?)
    }

    /// A failed attempt: retried at `retry_at`, or given up when `None`.
    pub async fn delivery_failed(&self, id: i64, error: &str, next: AfterFailure, now: i64) -> Result<(), AppError> {
        Ok(self.store.failed(&DELIVERIES, id, error, next, now).await?)
    }

    /// The request a federated activity (a `Join` or note) made or sent.
    pub async fn request_by_ap_id(&self, ap_id: &str) -> Result<Option<Request>, AppError> {
        Ok(self.store.request_by_ap_id(ap_id).await?)
    }

    /// A learner's live request on one of the given slots (a `Leave` names
    /// the event, not the request).
    pub async fn live_request_on_block(
        &self,
        learner_id: i64,
        block_id: i64,
        date: &str,
    ) -> Result<Option<Request>, AppError> {
        Ok(self.store.live_request_on_block(learner_id, block_id, date).await?)
    }

    /// Whether `learner_id` has ever asked `advisor_id` for a session.
    pub async fn has_asked(&self, learner_id: i64, advisor_id: i64) -> Result<bool, AppError> {
        Ok(self.store.has_asked(learner_id, advisor_id).await?)
    }

    pub async fn conversation_id(&self, pair_key: &str) -> Result<Option<i64>, AppError> {
        Ok(self.store.conversation_id(pair_key).await?)
    }

    /// Creates or updates the mirror of a remote event for `advisor_id` (a
    /// shadow account). An event id already mirrored for someone else is
    /// refused: an actor cannot change what another actor owns. Slots no
    /// longer in the event are cancelled.
    ///
    /// `activity` (the `Create`/`Update` id, `None` for a fetched
    /// collection) is recorded in the same transaction: applied once.
    pub async fn mirror_event(
        &self,
        advisor_id: i64,
        event: &MirroredEvent,
        activity: Option<&str>,
    ) -> Result<Mirrored, AppError> {
        Ok(self.store.mirror_event(advisor_id, event, activity).await?)
    }

    /// The mirrored block of a remote event id, with its owner.
    pub async fn mirrored_block(&self, ap_id: &str) -> Result<Option<(i64, i64)>, AppError> {
        Ok(self.store.mirrored_block(ap_id).await?)
    }

    /// A remote `Delete` (activity id `activity`) of a mirrored event: its
    /// block and slots are cancelled, if `advisor_id` owns it, and the
    /// activity is recorded in the same transaction. False when it is
    /// unknown, not theirs, or seen before.
    pub async fn delete_mirrored_event(&self, advisor_id: i64, ap_id: &str, activity: &str) -> Result<bool, AppError> {
        Ok(self.store.delete_mirrored_event(advisor_id, ap_id, activity).await?)
    }
}
