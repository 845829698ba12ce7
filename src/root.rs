//! The composition root: the one place the application is put together.
//!
//! [`assemble`] builds the services ([`App`], which open storage and mail) with
//! the ports they need from outside (federation implements them), then the
//! federation layer around the services, and registers the background jobs
//! of every subsystem. References point one way (federation → services →
//! storage): nothing holds a weak handle, nothing is set after the start.
//!
//! A new subsystem adds its state to [`assemble`] and its jobs to
//! [`jobs`].

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use activitypub_federation::config::FederationConfig;
use axum::Router;

use crate::clock::Clock;
use crate::config::Config;
use crate::federation::context::FedData;
use crate::service::App;
use crate::service::jobs::{Job, Jobs, JobsRunning, Schedule};

/// The assembled application: services, the federation layer, the jobs.
pub struct Node {
    pub app: App,
    federation: FederationConfig<FedData>,
    data: FedData,
    jobs: Arc<Jobs>,
    /// The live session rooms of this node.
    pub rooms: Arc<crate::live::Rooms>,
}

/// Storage, mail, services, federation and jobs, ready to serve, on the
/// system clock (or, in federation test mode with
/// `OFFICEHOURS_TEST_CLOCK=manual`, on a manual one the test suite moves
/// through `POST /_test/clock`).
pub async fn assemble(config: Config) -> anyhow::Result<Node> {
    let clock = match config.test_clock {
        true => {
            tracing::warn!("test clock: time stands still until the test suite moves it (POST /_test/clock)");
            Clock::manual_from_now()
        }
        false => Clock::system(),
    };
    assemble_with_clock(config, clock).await
}

/// [`assemble`] on a given clock (tests hold a manual one).
pub async fn assemble_with_clock(mut config: Config, clock: Clock) -> anyhow::Result<Node> {
    if config.secret_key.is_none() {
        config.secret_key = Some(load_or_create_secret_key(&config.secret_key_file())?);
    }
    let app = App::open(config, clock, crate::federation::ports::ports()).await?;
    let client = crate::federation::context::http_client(&app)?;
    let data = FedData::new(app.clone(), client.clone());
    let federation = crate::federation::context::config(data.clone(), client).await?;
    let jobs = Arc::new(Jobs::new(&app, jobs(&app, &data)));
    // The media port. A port that cannot be bound leaves the rooms with
    // chat and timing but no voice, and says so, rather than no server.
    let voice = match crate::voice::start(&app.config.voice).await {
        Ok((voice, _events)) => {
            tracing::info!(advertised = %voice.local_addr(), "voice media on UDP");
            Some(voice)
        }
        Err(err) => {
            tracing::warn!(bind = %app.config.voice.bind, error = %err, "no voice: the media port cannot be bound");
            None
        }
    };
    Ok(Node { app, federation, data, jobs, rooms: crate::live::Rooms::new(voice) })
}

/// Every background job, in the order one pass runs them: booking events
/// first (they queue mail and deliveries), senders last.
fn jobs(app: &App, federation: &FedData) -> Vec<Job> {
    let interval = Duration::from_secs(app.config.job_interval_secs);
    let fed = federation.clone();
    let publisher = Job::new("publishing events", Schedule::AtMostEvery(interval), move || {
        let fed = fed.clone();
        async move { crate::federation::events::publish_due(fed.app()).await }
    });
    let fed = federation.clone();
    let deliveries = Job::new("federation deliveries", Schedule::EveryPass, move || {
        let fed = fed.clone();
        async move { crate::federation::delivery::deliver_due(&fed).await }
    });
    vec![
        service_job(
            app,
            "booking events",
            Schedule::EveryPass,
            |app| async move { app.process_booking_events().await },
        ),
        publisher,
        service_job(app, "reminders", Schedule::EveryPass, |app| async move { app.send_due_reminders().await }),
        service_job(app, "room no-shows", Schedule::EveryPass, |app| async move { app.check_room_attendance().await }),
        service_job(app, "attendance", Schedule::EveryPass, |app| async move { app.settle_attendance().await }),
        service_job(app, "mail", Schedule::EveryPass, |app| async move { app.send_queued_mail().await }),
        deliveries,
        service_job(app, "busy calendars", Schedule::Every(crate::service::busy::REFRESH_EVERY), |app| async move {
            app.refresh_busy_calendars().await.map(|summary| summary.refreshed)
        }),
        service_job(app, "purges", Schedule::Every(Duration::from_secs(3600)), |app| async move {
            app.purge_expired().await
        }),
    ]
}

/// A job that runs one service use case.
fn service_job<F, Fut>(app: &App, name: &'static str, schedule: Schedule, run: F) -> Job
where
    F: Fn(App) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<usize, crate::service::AppError>> + Send + 'static,
{
    let app = app.clone();
    Job::new(name, schedule, move || run(app.clone()))
}

impl Node {
    /// The whole HTTP application (see [`crate::router`]).
    pub fn router(&self) -> Router {
        crate::router(self.app.clone(), self.federation.clone(), self.jobs.clone(), self.rooms.clone())
    }

    /// Starts the background jobs; they stop when the handle is dropped.
    pub fn spawn_jobs(&self) -> JobsRunning {
        self.jobs.spawn()
    }

    /// One pass over the jobs of the loop (tests, benchmarks), once the
    /// effects of the changes answered so far are written.
    pub async fn run_jobs_once(&self) {
        self.app.settle_effects().await;
        self.jobs.run_once().await
    }

    /// The federation layer's state (tests and benchmarks drive its jobs).
    pub fn federation(&self) -> &FedData {
        &self.data
    }
}

/// Opens the database and applies the migrations (`officehours migrate`).
pub async fn migrate(config: &Config) -> anyhow::Result<()> {
    crate::service::app::migrate(config).await
}

/// Reads the instance secret key from `path`, creating it (readable by the
/// owner only) on first use.
fn load_or_create_secret_key(path: &std::path::Path) -> anyhow::Result<String> {
    match std::fs::read_to_string(path) {
        Ok(key) if key.trim().len() >= 32 => return Ok(key.trim().to_string()),
        Ok(_) => anyhow::bail!("the secret key in {} is shorter than 32 characters", path.display()),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
        Err(err) => anyhow::bail!("cannot read the secret key {}: {err}", path.display()),
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| anyhow::anyhow!("cannot create {}: {e}", dir.display()))?;
    }
    let key = crate::service::secrets::new_secret();
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(path) {
        Ok(mut file) => {
            std::io::Write::write_all(&mut file, key.as_bytes())
                .map_err(|e| anyhow::anyhow!("cannot write the secret key {}: {e}", path.display()))?;
            tracing::info!(path = %path.display(), "created the instance secret key");
            Ok(key)
        }
        // Another process created it first: use theirs.
        Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => load_or_create_secret_key(path),
        Err(err) => anyhow::bail!("cannot create the secret key {}: {err}", path.display()),
    }
}
