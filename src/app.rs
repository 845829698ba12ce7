//! The application state shared by every request: configuration, storage,
//! mail and in-memory limiters. Services are methods on [`App`].

use std::ops::Deref;
use std::sync::Arc;
use std::time::Duration;

use moka::sync::Cache;

use crate::clock::Clock;
use crate::config::Config;
use crate::mail::Mailer;
use crate::service::rate_limit::RateLimiter;
use crate::storage::{Category, DirectoryPage, Store};

/// How long another node's (or the CLI's) change may take to show in the
/// directory of this node.
pub const DIRECTORY_CACHE_SECS: u64 = 10;

#[derive(Clone)]
pub struct App(Arc<AppInner>);

pub struct AppInner {
    pub config: Config,
    /// The one clock (`crate::clock`): the store holds the same handle.
    pub clock: Clock,
    pub store: Store,
    pub mailer: Mailer,
    /// Failed log-ins per account.
    pub login_limiter: RateLimiter,
    /// Failed log-ins per client address, across accounts (higher, since
    /// many people may share one address).
    pub client_limiter: RateLimiter,
    /// Sign-ups and reset mails per client address, calendar connections per
    /// account: actions that cost us work or send mail.
    pub action_limiter: RateLimiter,
    /// The category list, read on most pages and changed rarely. Each node
    /// drops it on its own changes; other nodes see them within a minute.
    pub categories: Cache<(), Arc<Vec<Category>>>,
    /// Recent directory searches (see `App::directory`).
    pub directory_cache: Cache<String, Arc<DirectoryPage>>,
    /// Calendar feed fetches per client address (a flood gets 429).
    pub feed_limiter: RateLimiter,
    /// Messages sent per person.
    pub message_limiter: RateLimiter,
    /// The instance secret key (see `Config::secret_key`).
    pub secret_key: Vec<u8>,
    /// Wakes the background jobs when there is new work (mail, events).
    pub jobs: Arc<tokio::sync::Notify>,
    /// The federation crate's configuration (set once by `cli::build_app`).
    pub federation:
        std::sync::OnceLock<activitypub_federation::config::FederationConfig<crate::federation::context::FedData>>,
    /// What delivery keeps: its HTTP client and senders' keys (set once by `cli::build_app`).
    pub sender: std::sync::OnceLock<crate::federation::delivery::Sender>,
    /// Remote actors by ActivityPub id, as stored (federation).
    pub remote_actors: Cache<String, Arc<crate::federation::remote::Remote>>,
    /// Actors whose fetch failed lately, with the answer the inbox gave
    /// (status and sentence): their activities are refused at once instead
    /// of fetching again.
    pub failed_actors: Cache<String, (u16, String)>,
    /// Actor fetches the inbox made per remote host.
    pub actor_fetch_limiter: RateLimiter,
    /// Remote domains recently known not to be dead (see `App::instance_spoke`).
    pub live_instances: Cache<String, ()>,
}

impl App {
    /// The store is put on `clock` too, so services and storage share one time.
    pub fn new(config: Config, store: Store, mailer: Mailer, clock: Clock) -> App {
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
            federation: std::sync::OnceLock::new(),
            sender: std::sync::OnceLock::new(),
            remote_actors: Cache::builder().max_capacity(10_000).time_to_live(Duration::from_secs(600)).build(),
            failed_actors: Cache::builder().max_capacity(10_000).time_to_live(Duration::from_secs(5 * 60)).build(),
            actor_fetch_limiter: RateLimiter::new(config.federation_actor_fetches_per_minute, Duration::from_secs(60)),
            live_instances: Cache::builder().max_capacity(10_000).time_to_live(Duration::from_secs(60)).build(),
            config,
            store: store.with_clock(clock.clone()),
            clock,
            mailer,
            login_limiter: RateLimiter::new(10, Duration::from_secs(15 * 60)),
            client_limiter: RateLimiter::new(50, Duration::from_secs(15 * 60)),
            action_limiter: RateLimiter::new(20, Duration::from_secs(60 * 60)),
            categories: Cache::builder().max_capacity(1).time_to_live(Duration::from_secs(60)).build(),
            directory_cache: Cache::builder()
                .max_capacity(256)
                .time_to_live(Duration::from_secs(DIRECTORY_CACHE_SECS))
                .build(),
        }))
    }
}

impl App {
    pub(crate) fn downgrade(&self) -> std::sync::Weak<AppInner> {
        Arc::downgrade(&self.0)
    }

    pub(crate) fn upgrade(weak: &std::sync::Weak<AppInner>) -> Option<App> {
        weak.upgrade().map(App)
    }
}

impl Deref for App {
    type Target = AppInner;

    fn deref(&self) -> &AppInner {
        &self.0
    }
}
