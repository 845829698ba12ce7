//! The services' state, shared by every request: configuration, storage,
//! mail and in-memory limiters. Services are methods on [`App`]. Storage,
//! the mailer, the limiters and the caches are private to the service layer
//! (`pub(in crate::service)`): pages, the API and federation call services,
//! and only the configuration is readable outside.

use std::ops::Deref;
use std::sync::Arc;
use std::time::Duration;

use moka::sync::Cache;

use crate::clock::Clock;
use crate::config::Config;
use crate::mail::Mailer;
use crate::service::availability::{AVAILABILITY_CACHE_SECS, Availability};
use crate::service::changes::{Changes, Loads};
use crate::service::people::ProfileEntry;
use crate::service::rate_limit::RateLimiter;
use crate::storage::{Category, DirectoryPage, Store};

use super::AppError;

/// How long another node's (or the CLI's) change may take to show in the
/// directory of this node.
pub const DIRECTORY_CACHE_SECS: u64 = 10;

#[derive(Clone)]
pub struct App(Arc<AppInner>);

pub struct AppInner {
    pub config: Config,
    /// The one clock (`crate::clock`): services pass its `now` to storage.
    pub clock: Clock,
    pub(in crate::service) store: Store,
    pub(in crate::service) mailer: Mailer,
    /// Failed log-ins per account.
    pub(in crate::service) login_limiter: RateLimiter,
    /// Failed log-ins per client address, across accounts (higher, since
    /// many people may share one address).
    pub(in crate::service) client_limiter: RateLimiter,
    /// Sign-ups and reset mails per client address, calendar connections per
    /// account: actions that cost us work or send mail.
    pub(in crate::service) action_limiter: RateLimiter,
    /// The category list, read on most pages and changed rarely. Each node
    /// drops it on its own changes; other nodes see them within a minute.
    pub(in crate::service) categories: Cache<(), Arc<Vec<Category>>>,
    /// Recent directory searches (see `App::directory`).
    pub(in crate::service) directory_cache: Cache<String, Arc<DirectoryPage>>,
    /// Calendar feed fetches per client address (a flood gets 429).
    pub(in crate::service) feed_limiter: RateLimiter,
    /// Messages sent per person.
    pub(in crate::service) message_limiter: RateLimiter,
    /// The instance secret key (see `Config::secret_key`).
    pub(in crate::service) secret_key: Vec<u8>,
    /// Wakes the background jobs when there is new work (mail, events).
    pub(in crate::service) jobs: Arc<tokio::sync::Notify>,
    /// What the use cases need from outside (filled in by `crate::root`).
    pub(in crate::service) ports: crate::service::ports::Ports,
    /// Actor fetches the inbox made per remote host.
    pub(in crate::service) actor_fetch_limiter: RateLimiter,
    /// Remote domains recently known not to be dead (see `App::instance_spoke`).
    pub(in crate::service) live_instances: Cache<String, ()>,
    /// What this node changed, for the caches below (`service::changes`).
    pub(in crate::service) changes: Changes,
    /// One reader at a time per missing cache entry.
    pub(in crate::service) loads: Loads,
    /// Advisors' availability by advisor id (`service::availability`).
    pub(in crate::service) availability_cache: Cache<i64, Arc<Availability>>,
    /// Public profiles by username, with the karma they show (`service::people`).
    pub(in crate::service) profile_cache: Cache<String, Arc<ProfileEntry>>,
    /// The karma rules, for the directory's threshold.
    pub(in crate::service) karma_rules_cache: Cache<(), (u64, crate::domain::karma::Rules)>,
    /// Booking changes whose effects are written after their answer.
    pub(in crate::service) after_answer: super::after_answer::AfterAnswer,
}

impl App {
    fn new(config: Config, store: Store, mailer: Mailer, clock: Clock, ports: crate::service::ports::Ports) -> App {
        let secret_key = match &config.secret_key {
            Some(key) => key.as_bytes().to_vec(),
            None => {
                tracing::warn!("no secret key configured: calendar links will change at the next start");
                crate::service::secrets::new_secret().into_bytes()
            }
        };
        App(Arc::new(AppInner {
            feed_limiter: RateLimiter::new(120, Duration::from_secs(60)),
            message_limiter: RateLimiter::new(60, Duration::from_secs(60 * 60)),
            secret_key,
            jobs: Arc::new(tokio::sync::Notify::new()),
            ports,
            actor_fetch_limiter: RateLimiter::new(config.federation_actor_fetches_per_minute, Duration::from_secs(60)),
            live_instances: Cache::builder().max_capacity(10_000).time_to_live(Duration::from_secs(60)).build(),
            after_answer: Default::default(),
            config,
            store,
            clock,
            mailer,
            login_limiter: RateLimiter::new(10, Duration::from_secs(15 * 60)),
            client_limiter: RateLimiter::new(50, Duration::from_secs(15 * 60)),
            action_limiter: RateLimiter::new(20, Duration::from_secs(60 * 60)),
            categories: Cache::builder().max_capacity(1).time_to_live(Duration::from_secs(60)).build(),
            changes: Changes::default(),
            loads: Loads::default(),
            availability_cache: Cache::builder()
                .max_capacity(4_096)
                .time_to_live(Duration::from_secs(AVAILABILITY_CACHE_SECS))
                .build(),
            profile_cache: Cache::builder()
                .max_capacity(4_096)
                .time_to_live(Duration::from_secs(AVAILABILITY_CACHE_SECS))
                .build(),
            karma_rules_cache: Cache::builder().max_capacity(1).time_to_live(Duration::from_secs(60)).build(),
            directory_cache: Cache::builder()
                .max_capacity(256)
                .time_to_live(Duration::from_secs(DIRECTORY_CACHE_SECS))
                .build(),
        }))
    }
}

impl App {
    /// Opens storage (applying migrations) and mail for `config`, on `clock`.
    pub async fn open(config: Config, clock: Clock, ports: crate::service::ports::Ports) -> anyhow::Result<App> {
        let store = open_store(&config).await?;
        let mailer = Mailer::new(config.smtp_url.as_deref(), &config.mail_from, config.outbox_dir())?;
        Ok(App::new(config, store, mailer, clock, ports))
    }

    /// Closes the database connections (at shutdown, after the last
    /// request), once the effects of the changes answered are written.
    pub async fn close(&self) {
        self.settle_effects().await;
        self.store.close().await;
    }

    /// A cheap round trip to the database, for `/readyz`.
    pub async fn ping(&self) -> Result<(), AppError> {
        Ok(self.store.ping().await?)
    }

    /// Local accounts (the demo fills only an empty instance).
    pub async fn count_users(&self) -> Result<i64, AppError> {
        Ok(self.store.count_users().await?)
    }

    /// Where mail goes, for the start-up log.
    pub fn describe_mail(&self) -> String {
        self.mailer.describe()
    }
}

impl Deref for App {
    type Target = AppInner;

    fn deref(&self) -> &AppInner {
        &self.0
    }
}

/// Opens the database and applies the migrations (`officehours migrate`).
pub async fn migrate(config: &Config) -> anyhow::Result<()> {
    open_store(config).await?.close().await;
    Ok(())
}

async fn open_store(config: &Config) -> anyhow::Result<Store> {
    if config.database_url.starts_with("sqlite:") {
        std::fs::create_dir_all(&config.data_dir)
            .map_err(|e| anyhow::anyhow!("cannot create data dir {}: {e}", config.data_dir.display()))?;
    }
    let wait = std::time::Duration::from_secs(config.database_timeout_secs);
    let store = Store::connect_waiting(&config.database_url, config.max_db_connections, wait).await.map_err(|e| {
        anyhow::anyhow!("cannot open the database {}: {e}", crate::storage::redact_url(&config.database_url))
    })?;
    store.migrate().await?;
    Ok(store)
}
