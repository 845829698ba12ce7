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

use super::AppError;

/// Attempts before a mail is given up (about two days with the delays below).
const MAIL_ATTEMPTS: i64 = 16;
/// How long a claimed mail stays claimed before another worker may retry it.
const MAIL_LEASE_MS: i64 = 5 * 60_000;

/// The delay before retry `attempt` (1-based): 1, 2, 4 … minutes, at most 8 hours.
pub fn retry_delay_ms(attempt: i64) -> i64 {
    let minutes = 1_i64 << attempt.clamp(1, 10).saturating_sub(1);
    minutes.min(8 * 60) * 60_000
}

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
            // Real time, not the app's clock: how often the loop wakes is
            // not application time (a manual test clock never moves by itself).
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

    /// Sends the mail that is due, retrying failures with growing delays.
    pub async fn send_queued_mail(&self) -> Result<usize, AppError> {
        let mut sent = 0;
        loop {
            let batch = self.store.claim_mail(20, MAIL_LEASE_MS).await?;
            if batch.is_empty() {
                break;
            }
            for mail in batch {
                let outgoing = crate::mail::Mail { to: mail.recipient.clone(), subject: mail.subject, body: mail.body };
                match self.mailer.send(&outgoing).await {
                    Ok(()) => {
                        self.store.mail_sent(mail.id).await?;
                        sent += 1;
                    }
                    Err(err) => {
                        let retry = (mail.attempts < MAIL_ATTEMPTS)
                            .then(|| self.clock.now_ms() + retry_delay_ms(mail.attempts));
                        tracing::warn!(mail = mail.id, attempt = mail.attempts, error = %err, gave_up = retry.is_none(), "sending mail failed");
                        self.store.mail_failed(mail.id, &err.to_string(), retry).await?;
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
    fn retries_back_off_and_cover_two_days() {
        assert_eq!(retry_delay_ms(1), 60_000);
        assert_eq!(retry_delay_ms(2), 120_000);
        assert_eq!(retry_delay_ms(10), 8 * 60 * 60_000);
        let total: i64 = (1..MAIL_ATTEMPTS).map(retry_delay_ms).sum();
        assert!(total >= 2 * 24 * 60 * 60_000, "{total}");
    }
}
