//! Received activities and the delivery queue: what federation records as it
//! receives and sends (replays recognised, answers queued once, deliveries
//! claimed and settled).
//! Federation reaches storage only through these methods.

use crate::domain::retry::AfterFailure;
use crate::storage::{DELIVERIES, Delivery, NewDelivery, Sent};

use super::{App, AppError};

impl App {
    /// Records an activity that has no effect of its own, so a replay is
    /// recognised; false when seen before.
    pub async fn mark_seen(&self, activity_id: &str) -> Result<bool, AppError> {
        Ok(self.store.mark_seen(activity_id, self.clock.now_ms()).await?)
    }

    /// Records a received activity and queues our answer to it (a `Reject`,
    /// a direct message) in one transaction; false when seen before.
    pub async fn reply_once(&self, activity_id: &str, reply: &NewDelivery) -> Result<bool, AppError> {
        Ok(self.store.reply_once(activity_id, reply, self.clock.now_ms()).await?)
    }

    /// Claims up to `limit` due deliveries for `lease_ms`.
    pub async fn claim_deliveries(&self, limit: i64, lease_ms: i64) -> Result<Vec<Delivery>, AppError> {
        Ok(self.store.claim(&DELIVERIES, limit, lease_ms, self.clock.now_ms()).await?)
    }

    /// Deliveries sent: marked delivered and their instances alive (with
    /// how they take our signatures, when just learned), in one transaction
    /// (one commit for a whole group of a fan-out instead of two per
    /// delivery).
    pub async fn deliveries_sent(&self, sent: &[Sent]) -> Result<(), AppError> {
        Ok(self.store.deliveries_sent(sent, self.clock.now_ms()).await?)
    }

    /// A failed attempt: retried at `retry_at`, or given up when `None`.
    pub async fn delivery_failed(&self, id: i64, error: &str, next: AfterFailure, now: i64) -> Result<(), AppError> {
        Ok(self.store.failed(&DELIVERIES, id, error, next, now).await?)
    }
}
