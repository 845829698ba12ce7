//! Busy times from the advisor's own calendar (S6): an advisor gives the ICS
//! address of their calendar; it is fetched at once (and the address is kept
//! only if that works), then refreshed periodically. Its busy intervals hide
//! the slots they overlap (see `App::advisor_slots` and the `slot_taken`
//! refusal of requests).

use std::sync::Arc;
use std::time::Duration;

use jiff::SignedDuration;
use jiff::tz::TimeZone;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::calendar::{self, FetchError, FetchOptions, IcsError};
use crate::service::App;
use crate::storage::{AdvisorPolicy, BusyCalendar, User};

use super::AppError;

/// How often the busy-calendar job (registered in `crate::root`) refreshes every calendar.
pub const REFRESH_EVERY: Duration = Duration::from_secs(30 * 60);
/// The farthest ahead busy times are imported, whatever the horizon.
pub const MAX_WINDOW_DAYS: i64 = 366;
/// Calendars fetched at the same time during a refresh.
const REFRESH_CONCURRENCY: usize = 4;
const FIELD: &str = "busy_ics_url";

/// What one run of [`App::refresh_busy_calendars`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RefreshSummary {
    pub refreshed: usize,
    pub failed: usize,
}

impl App {
    /// Sets the advisor's calendar: fetches and reads it at once and, only if
    /// that works, stores the address, its busy times and the time of the
    /// check. On failure nothing changes and the error names the
    /// `busy_ics_url` field with one of `invalid_url`, `private_address`,
    /// `calendar_unreachable`, `calendar_too_large` or `not_a_calendar`.
    /// `None` or an empty address removes the calendar and its busy times.
    /// Only advisors may connect a calendar; anyone may remove theirs.
    pub async fn set_busy_calendar(&self, advisor: &User, url: Option<&str>) -> Result<AdvisorPolicy, AppError> {
        match url.map(str::trim).filter(|u| !u.is_empty()) {
            None => self.store.save_busy_calendar(advisor.id, None, None, &[], self.clock.now_ms()).await?,
            Some(_) if !advisor.is_advisor => {
                return Err(AppError::Forbidden(
                    "not_an_advisor",
                    "Switch on your advisor profile before you connect a calendar.".into(),
                ));
            }
            Some(text) => {
                let url = calendar::parse_calendar_url(text).map_err(fetch_error)?;
                let policy = self.store.advisor_policy(advisor.id).await?;
                let intervals = self.import_busy(&url, &advisor.timezone, policy.horizon_days).await?;
                let now = self.clock.now_ms();
                self.store.save_busy_calendar(advisor.id, Some(url.as_str()), Some(now), &intervals, now).await?;
                tracing::info!(
                    advisor_id = advisor.id,
                    host = url.host_str().unwrap_or_default(),
                    intervals = intervals.len(),
                    "busy calendar connected"
                );
            }
        }
        self.availability_changed(advisor.id);
        Ok(self.store.advisor_policy(advisor.id).await?)
    }

    /// Refreshes every advisor's calendar. A failure keeps the old busy
    /// times, records the reason in `busy_error` and logs a warning.
    pub async fn refresh_busy_calendars(&self) -> Result<RefreshSummary, AppError> {
        let calendars = self.store.busy_calendars().await?;
        let limit = Arc::new(Semaphore::new(REFRESH_CONCURRENCY));
        let mut tasks = JoinSet::new();
        for entry in calendars {
            let permit = limit.clone().acquire_owned().await.map_err(|e| AppError::Internal(e.into()))?;
            let app = self.clone();
            tasks.spawn(async move {
                let _permit = permit;
                app.refresh_busy_calendar(&entry).await
            });
        }
        let mut summary = RefreshSummary::default();
        while let Some(done) = tasks.join_next().await {
            match done {
                Ok(true) => summary.refreshed += 1,
                Ok(false) => summary.failed += 1,
                Err(err) => {
                    tracing::error!(error = %err, "a busy calendar refresh panicked");
                    summary.failed += 1;
                }
            }
        }
        if summary != RefreshSummary::default() {
            tracing::info!(refreshed = summary.refreshed, failed = summary.failed, "busy calendars refreshed");
        }
        Ok(summary)
    }

    /// Refreshes one calendar; `true` when its new busy times are stored.
    async fn refresh_busy_calendar(&self, entry: &BusyCalendar) -> bool {
        let host = url::Url::parse(&entry.url).ok().and_then(|u| u.host_str().map(str::to_string)).unwrap_or_default();
        let imported = match calendar::parse_calendar_url(&entry.url) {
            Ok(url) => self.import_busy(&url, &entry.timezone, entry.horizon_days).await,
            Err(err) => Err(fetch_error(err)),
        };
        let stored = match imported {
            Ok(intervals) => {
                let now = self.clock.now_ms();
                let saved = self.store.save_busy_refresh(entry.advisor_id, &entry.url, now, &intervals, now).await;
                self.availability_changed(entry.advisor_id);
                saved
            }
            Err(err) => {
                // The URL is not logged: calendar addresses often hold a secret.
                tracing::warn!(
                    advisor_id = entry.advisor_id,
                    host,
                    code = err.code(),
                    reason = %err.message(),
                    "refreshing a busy calendar failed; keeping its earlier busy times"
                );
                if let Err(db) = self
                    .store
                    .record_busy_error(entry.advisor_id, &entry.url, &err.message(), self.clock.now_ms())
                    .await
                {
                    tracing::warn!(advisor_id = entry.advisor_id, error = %db, "recording a busy calendar error failed");
                }
                return false;
            }
        };
        match stored {
            Ok(_) => true,
            Err(db) => {
                tracing::warn!(advisor_id = entry.advisor_id, error = %db, "storing refreshed busy times failed");
                false
            }
        }
    }

    /// Fetches and reads a calendar: its busy intervals (ms) from a day ago
    /// to the advisor's horizon (at most [`MAX_WINDOW_DAYS`]).
    async fn import_busy(
        &self,
        url: &url::Url,
        timezone: &str,
        horizon_days: i64,
    ) -> Result<Vec<(i64, i64)>, AppError> {
        let options = FetchOptions { allow_private: self.config.allow_private_fetches, ..FetchOptions::default() };
        let text = calendar::fetch_calendar(url, &options).await.map_err(fetch_error)?;
        // Floating times and all-day events are in the advisor's zone (UTC if unknown).
        let zone = TimeZone::get(timezone).unwrap_or(TimeZone::UTC);
        let now = self.clock.now();
        let from = now.checked_sub(SignedDuration::from_hours(24)).unwrap_or(now);
        let days = horizon_days.clamp(1, MAX_WINDOW_DAYS);
        let to = now.checked_add(SignedDuration::from_hours(24 * days)).unwrap_or(now);
        // Expanding recurrences is CPU work; keep it off the async workers.
        let busy = tokio::task::spawn_blocking(move || calendar::busy_times(&text, &zone, from, to))
            .await
            .map_err(|e| AppError::Internal(e.into()))?
            .map_err(ics_error)?;
        let stats = busy.stats;
        if stats.skipped_events + stats.unsupported_rules + stats.unknown_zones > 0 {
            tracing::info!(
                host = url.host_str().unwrap_or_default(),
                events = stats.events,
                skipped_events = stats.skipped_events,
                unsupported_rules = stats.unsupported_rules,
                unknown_zones = stats.unknown_zones,
                "parts of a busy calendar were approximated"
            );
        }
        Ok(busy.intervals.iter().map(|i| (i.start.as_millisecond(), i.end.as_millisecond())).collect())
    }
}

fn fetch_error(err: FetchError) -> AppError {
    AppError::invalid(FIELD, err.code(), err.message())
}

fn ics_error(err: IcsError) -> AppError {
    match err {
        IcsError::NotACalendar => AppError::invalid(
            FIELD,
            "not_a_calendar",
            "That address does not return an iCalendar (ICS) file. Use the ICS (iCal) address of your calendar.",
        ),
        IcsError::TooComplex => AppError::invalid(
            FIELD,
            "calendar_too_large",
            format!(
                "The calendar has more than {} busy times in the coming months; publish a calendar with fewer events.",
                calendar::busy::MAX_INTERVALS
            ),
        ),
    }
}
