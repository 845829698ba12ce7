//! A booking change's effects after its answer (issue 18).
//!
//! A request, decision or cancellation commits its change and its booking
//! event in one transaction, and is answered then. Its effects —
//! notifications, queued mail and deliveries, karma — are written just
//! after, by one task per node that takes every change queued meanwhile
//! and writes their effects in one transaction (a group commit: under load,
//! one write for many bookings instead of one each, each queueing for
//! SQLite's one writer). Nothing is lost if the process dies in between:
//! the event is committed and unprocessed, and the background job applies
//! it (each event is claimed in the transaction that writes its effects,
//! so it is applied once, whoever gets there first).
//!
//! Reads that show effects ([`App::settle_effects`]: the activity feed,
//! unread counts, karma, a pass of the jobs) first wait for the effects
//! queued before them, so whoever made a change sees its effects at once.

use std::sync::Mutex;
use std::time::Duration;

use tokio::sync::watch;

use crate::service::App;

/// How long a read waits for queued effects before showing what is there.
const SETTLE_WAIT: Duration = Duration::from_secs(5);

pub(crate) struct AfterAnswer {
    queue: Mutex<Queue>,
    /// The generation of the last batch applied.
    applied: watch::Sender<u64>,
}

#[derive(Default)]
struct Queue {
    /// Requests whose events wait for their effects.
    requests: Vec<i64>,
    /// How many changes were queued since the start.
    generation: u64,
    /// The generation of the last change queued that may change karma (a
    /// no-show, a forgiveness, a late cancellation).
    karma_generation: u64,
    /// Whether the task applying them runs.
    draining: bool,
}

impl Default for AfterAnswer {
    fn default() -> Self {
        AfterAnswer { queue: Mutex::default(), applied: watch::Sender::new(0) }
    }
}

impl AfterAnswer {
    fn queue(&self) -> std::sync::MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl App {
    /// Queues the effects of the requests a change touched (committed with
    /// their events) and returns at once; the node's effects task writes
    /// them. `karma`: the change may change someone's karma, which the next
    /// request's karma check must see (see [`App::settle_karma`]).
    pub(crate) fn after_booking_change(&self, request_ids: &[i64], karma: bool) {
        if request_ids.is_empty() {
            return;
        }
        let start = {
            let mut queue = self.after_answer.queue();
            queue.requests.extend_from_slice(request_ids);
            queue.generation += 1;
            if karma {
                queue.karma_generation = queue.generation;
            }
            !std::mem::replace(&mut queue.draining, true)
        };
        if start {
            let app = self.clone();
            tokio::spawn(async move { app.drain_effects().await });
        }
    }

    /// Applies queued effects until none are left, all that were queued
    /// meanwhile in one go.
    async fn drain_effects(&self) {
        loop {
            let (requests, generation) = {
                let mut queue = self.after_answer.queue();
                if queue.requests.is_empty() {
                    queue.draining = false;
                    return;
                }
                (std::mem::take(&mut queue.requests), queue.generation)
            };
            let outcome = async {
                for chunk in requests.chunks(100) {
                    let events = self.store.pending_events(chunk).await?;
                    self.apply_events(&events).await;
                }
                Ok::<_, super::AppError>(())
            };
            if let Err(err) = outcome.await {
                tracing::warn!(error = %err, "processing booking events failed; the background job will retry");
            }
            self.after_answer.applied.send_if_modified(|applied| {
                let newer = *applied < generation;
                *applied = (*applied).max(generation);
                newer
            });
        }
    }

    /// Waits (at most a few seconds) until the effects of the changes
    /// queued so far on this node are written: a read that shows effects
    /// then shows those of every change answered before it.
    pub async fn settle_effects(&self) {
        let queued = self.after_answer.queue().generation;
        self.settle_until(queued).await;
    }

    /// Waits until the effects of the changes queued so far that may
    /// change karma are written (a request's karma check; other changes
    /// are not waited for).
    pub(crate) async fn settle_karma(&self) {
        let queued = self.after_answer.queue().karma_generation;
        self.settle_until(queued).await;
    }

    async fn settle_until(&self, queued: u64) {
        let mut applied = self.after_answer.applied.subscribe();
        let _ = tokio::time::timeout(SETTLE_WAIT, applied.wait_for(|done| *done >= queued)).await;
    }
}
