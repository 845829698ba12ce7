//! Background jobs: sending queued mail (with retries), processing booking
//! events left over by a crash, reminders, and attendance karma.
//!
//! One loop runs them all, every `job_interval_secs` or as soon as a service
//! signals new work (`App::jobs`). Each job claims its work in the database,
//! so several nodes can run the loop at once without doing anything twice.
//! The loop holds only a weak reference to the app and stops once the app
//! is gone.

use std::sync::Weak;
use std::time::Duration;

use crate::app::{App, AppInner};
use crate::domain::retry::RetryPolicy;
use crate::storage::{MAIL_OUTBOX, now_ms};

use super::AppError;

/// The mail outbox's retries: 16 attempts, 1, 2, 4 … minutes apart (at most
/// 8 hours: about two and a half days in all); a claimed mail stays claimed
/// for 5 minutes before another worker may retry it.
const MAIL_RETRY: RetryPolicy = RetryPolicy::doubling(16, 5 * 60_000, 60_000);
/// Mails claimed per query.
const MAIL_CLAIM: i64 = 20;

impl App {
    /// Starts the job loop (once per process).
    ///
    /// The loop runs whenever a service signals work (every inbox activity
    /// that queues an answer does), but the publisher — a comparison over
    /// every advisor with availability, about a millisecond each
    /// (`benches/publisher.rs`) — at most once per interval, so a busy
    /// inbox does not make it run back to back. What advisors change
    /// reaches followers within one interval, as before.
    pub fn spawn_jobs(&self) {
        let weak: Weak<AppInner> = self.downgrade();
        let interval = Duration::from_secs(self.config.job_interval_secs);
        let wake = self.jobs.clone();
        tokio::spawn(async move {
            let mut published_at: Option<tokio::time::Instant> = None;
            loop {
                let Some(app) = App::upgrade(&weak) else { break };
                let publish = published_at.is_none_or(|at| at.elapsed() >= interval);
                if publish {
                    published_at = Some(tokio::time::Instant::now());
                }
                app.run_jobs(publish).await;
                drop(app);
                let _ = tokio::time::timeout(interval, wake.notified()).await;
            }
        });
    }

    /// One pass over every job; failures are logged and retried next time.
    pub async fn run_jobs_once(&self) {
        self.run_jobs(true).await
    }

    /// One pass over every job, the publisher only when `publish`.
    async fn run_jobs(&self, publish: bool) {
        let booking_events = self.process_booking_events().await;
        let publishing = match publish {
            true => crate::federation::events::publish_due(self).await,
            false => Ok(0),
        };
        let jobs: [(&str, Result<usize, AppError>); 6] = [
            ("booking events", booking_events),
            ("publishing events", publishing),
            ("reminders", self.send_due_reminders().await),
            ("attendance", self.settle_attendance().await),
            ("mail", self.send_queued_mail().await),
            ("federation deliveries", crate::federation::delivery::deliver_due(self).await),
        ];
        for (name, outcome) in jobs {
            match outcome {
                Ok(0) => {}
                Ok(n) => tracing::debug!(job = name, count = n, "background job done"),
                Err(err) => tracing::warn!(job = name, error = %err, "background job failed"),
            }
        }
    }

    /// Queues a mail (durably) and wakes the sender.
    pub async fn queue_mail(&self, mail: crate::mail::Mail) -> Result<(), AppError> {
        let outgoing = crate::storage::OutgoingMail { recipient: mail.to, subject: mail.subject, body: mail.body };
        self.store.queue_mail(&outgoing).await?;
        self.jobs.notify_one();
        Ok(())
    }

    /// Sends the mail that is due (the `MAIL_OUTBOX` queue), retrying
    /// failures with growing delays.
    pub async fn send_queued_mail(&self) -> Result<usize, AppError> {
        let mut sent = 0;
        loop {
            let batch = self.store.claim(&MAIL_OUTBOX, MAIL_CLAIM, MAIL_RETRY.lease_ms, now_ms()).await?;
            if batch.is_empty() {
                break;
            }
            for mail in batch {
                let outgoing = crate::mail::Mail { to: mail.recipient.clone(), subject: mail.subject, body: mail.body };
                match self.mailer.send(&outgoing).await {
                    Ok(()) => {
                        self.store.finished(&MAIL_OUTBOX, mail.id, now_ms()).await?;
                        sent += 1;
                    }
                    Err(err) => {
                        let now = now_ms();
                        let next = MAIL_RETRY.after_failure(mail.attempts, now, false);
                        let gave_up = next.retry_at().is_none();
                        tracing::warn!(mail = mail.id, attempt = mail.attempts, error = %err, gave_up, "sending mail failed");
                        self.store.failed(&MAIL_OUTBOX, mail.id, &err.to_string(), next, now).await?;
                    }
                }
            }
        }
        Ok(sent)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mail_retries_back_off_from_a_minute_and_cover_two_days() {
        assert_eq!(MAIL_RETRY.delay_ms(1), 60_000);
        assert_eq!(MAIL_RETRY.delay_ms(2), 120_000);
        assert_eq!(MAIL_RETRY.delay_ms(10), 8 * 60 * 60_000);
        assert_eq!((MAIL_RETRY.attempts, MAIL_RETRY.lease_ms), (16, 5 * 60_000));
        assert!(MAIL_RETRY.retry_span_ms() >= 2 * 24 * 60 * 60_000, "{}", MAIL_RETRY.retry_span_ms());
    }
}
