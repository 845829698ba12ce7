//! Background jobs: sending queued mail (with retries), processing booking
//! events left over by a crash, reminders, and attendance karma.
//!
//! The composition root registers them as a list of [`Job`]s; one loop runs
//! the list every `job_interval_secs` or as soon as a service signals new
//! work (`App::wake_jobs`), and jobs with their own timer run apart. Each job
//! claims its work in the database, so several nodes can run the loop at
//! once without doing anything twice.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;

use crate::domain::retry::RetryPolicy;
use crate::service::App;
use crate::storage::MAIL_OUTBOX;

use super::AppError;

/// The mail outbox's retries: 16 attempts, 1, 2, 4 … minutes apart (at most
/// 8 hours: about two and a half days in all); a claimed mail stays claimed
/// for 5 minutes before another worker may retry it.
const MAIL_RETRY: RetryPolicy = RetryPolicy::doubling(16, 5 * 60_000, 60_000);
/// Mails claimed per query.
const MAIL_CLAIM: i64 = 20;
/// A pass of the loop starts at least this long after the previous one
/// started, however often services wake it: under a stream of bookings one
/// pass then sends the mail of many (claimed 20 at a time) instead of each
/// booking causing a pass of its own, whose claims each take the write lock
/// (docs/benchmarks.md, "The realistic mix").
const MIN_PASS_GAP: Duration = Duration::from_millis(50);

/// One background job: a name for the logs, when it runs, and what it does
/// (returns how many things it did). The composition root (`crate::root`)
/// registers the list; a new subsystem adds its jobs there.
pub struct Job {
    pub name: &'static str,
    pub schedule: Schedule,
    run: Box<dyn Fn() -> JobRun + Send + Sync>,
}

/// One run of a job, as a future.
type JobRun = Pin<Box<dyn Future<Output = Result<usize, AppError>> + Send>>;

/// When a [`Job`] runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Schedule {
    /// On every pass of the loop: every `job_interval_secs`, or as soon as
    /// a service signals new work (`App::wake_jobs`).
    EveryPass,
    /// On a pass, but at most once per this long (a costly comparison that
    /// a busy inbox must not run back to back).
    AtMostEvery(Duration),
    /// On its own timer, apart from the loop (slow network work, purges):
    /// at start, then every this long.
    Every(Duration),
}

impl Job {
    pub fn new<F, Fut>(name: &'static str, schedule: Schedule, run: F) -> Job
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<usize, AppError>> + Send + 'static,
    {
        Job { name, schedule, run: Box::new(move || Box::pin(run())) }
    }

    async fn run_logged(&self) {
        match (self.run)().await {
            Ok(0) => {}
            Ok(n) => tracing::debug!(job = self.name, count = n, "background job done"),
            Err(err) => tracing::warn!(job = self.name, error = %err, "background job failed"),
        }
    }
}

/// The registered jobs and the signal that wakes them.
pub struct Jobs {
    list: Vec<Job>,
    wake: Arc<Notify>,
    interval: Duration,
}

impl Jobs {
    pub fn new(app: &App, list: Vec<Job>) -> Jobs {
        Jobs { list, wake: app.jobs.clone(), interval: Duration::from_secs(app.config.job_interval_secs) }
    }

    /// One pass over every job that runs in the loop (all of them, the
    /// rate-limited ones too), in the order registered; failures are logged
    /// and retried next time.
    pub async fn run_once(&self) {
        for job in self.list.iter().filter(|job| !matches!(job.schedule, Schedule::Every(_))) {
            job.run_logged().await;
        }
    }

    /// Starts the loop and the jobs with their own timers. They stop when
    /// the returned handle is dropped.
    pub fn spawn(self: &Arc<Self>) -> JobsRunning {
        let mut tasks = Vec::new();
        for (index, job) in self.list.iter().enumerate() {
            if let Schedule::Every(period) = job.schedule {
                let jobs = self.clone();
                tasks.push(tokio::spawn(async move {
                    let mut ticker = tokio::time::interval(period);
                    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                    loop {
                        ticker.tick().await;
                        jobs.list[index].run_logged().await;
                    }
                }));
            }
        }
        let jobs = self.clone();
        tasks.push(tokio::spawn(async move {
            // Real time, not the app's clock: how often the loop wakes is
            // not application time (a manual test clock never moves by itself).
            let mut last_run: Vec<Option<tokio::time::Instant>> = vec![None; jobs.list.len()];
            loop {
                let pass = tokio::time::Instant::now();
                for (job, last) in jobs.list.iter().zip(last_run.iter_mut()) {
                    let due = match job.schedule {
                        Schedule::EveryPass => true,
                        Schedule::AtMostEvery(period) => last.is_none_or(|at| at.elapsed() >= period),
                        Schedule::Every(_) => false,
                    };
                    if due {
                        *last = Some(tokio::time::Instant::now());
                        job.run_logged().await;
                    }
                }
                let _ = tokio::time::timeout(jobs.interval, jobs.wake.notified()).await;
                tokio::time::sleep_until(pass + MIN_PASS_GAP).await;
            }
        }));
        JobsRunning(tasks)
    }
}

/// The running jobs; dropping this stops them.
pub struct JobsRunning(Vec<tokio::task::JoinHandle<()>>);

impl Drop for JobsRunning {
    fn drop(&mut self) {
        for task in &self.0 {
            task.abort();
        }
    }
}

impl App {
    /// Wakes the background jobs: there is new work (mail, deliveries).
    pub fn wake_jobs(&self) {
        self.jobs.notify_one();
    }

    /// Removes what is kept only for a while: expired sessions and links,
    /// sent mail and finished deliveries after a week, received activity
    /// ids after a month. Returns how many rows went.
    pub async fn purge_expired(&self) -> Result<usize, AppError> {
        let now = self.clock.now_ms();
        let mut removed = self.store.purge_expired(now).await? as usize;
        let week_ago = now - 7 * 24 * 3_600_000;
        removed += self.store.purge_sent_mail(week_ago).await? as usize;
        // Senders retry for days, not months: a month of activity ids is enough.
        let month_ago = now - 30 * 24 * 3_600_000;
        removed += self.store.purge_seen_activities(month_ago).await? as usize;
        // Sent and given-up deliveries are kept a week for the admin's
        // federation page, then dropped (the queue must not grow forever).
        removed += self.store.purge_finished_deliveries(week_ago).await? as usize;
        Ok(removed)
    }

    /// Queues a mail (durably) and wakes the sender.
    pub async fn queue_mail(&self, mail: crate::mail::Mail) -> Result<(), AppError> {
        let outgoing = crate::storage::OutgoingMail { recipient: mail.to, subject: mail.subject, body: mail.body };
        self.store.queue_mail(&outgoing, self.clock.now_ms()).await?;
        self.jobs.notify_one();
        Ok(())
    }

    /// Sends the mail that is due (the `MAIL_OUTBOX` queue), retrying
    /// failures with growing delays.
    pub async fn send_queued_mail(&self) -> Result<usize, AppError> {
        let mut sent = 0;
        loop {
            let batch = self.store.claim(&MAIL_OUTBOX, MAIL_CLAIM, MAIL_RETRY.lease_ms, self.clock.now_ms()).await?;
            if batch.is_empty() {
                break;
            }
            for mail in batch {
                let outgoing = crate::mail::Mail { to: mail.recipient.clone(), subject: mail.subject, body: mail.body };
                match self.mailer.send(&outgoing).await {
                    Ok(()) => {
                        self.store.finished(&MAIL_OUTBOX, mail.id, self.clock.now_ms()).await?;
                        sent += 1;
                    }
                    Err(err) => {
                        let now = self.clock.now_ms();
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
