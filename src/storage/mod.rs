//! Storage layer: one interface over SQLite and PostgreSQL.
//!
//! Every query is written once. Both backends accept `$1`-style placeholders,
//! instants are BIGINT milliseconds, booleans are BOOLEAN columns, and the
//! `sqlx::Any` driver hands rows back in one shape, so nothing above this
//! module knows which database runs. Backend differences (pragmas, migration
//! folders) live in this file only.
//!
//! Storage reads no clock: a method that stamps or compares the current time
//! takes it as its last argument, `now` (milliseconds since the epoch), which
//! the service computes once per use case from the app's clock.

mod accounts;
mod actor_keys;
mod advisors;
mod agenda;
mod api_tokens;
mod blocks;
mod busy;
mod categories;
mod db_bool;
mod db_word;
mod error;
mod feeds;
mod follows;
mod instances;
mod karma;
pub mod messages;
mod mirror;
mod notifications;
mod offerings;
mod presence;
mod published;
mod questions;
mod queue;
mod remote_actors;
mod requests;
mod sessions;
mod tokens;
mod write_lock;

pub use accounts::{NewUser, ProfileUpdate, User};
pub use advisors::{AdvisorProfile, AdvisorUpdate, DirectoryPage, DirectoryQuery};
pub use api_tokens::ApiToken;
pub use blocks::{AdvisorPolicy, Block, BlockOverrides, NewBlock, NewOccurrence, Slot};
pub use busy::BusyCalendar;
pub use categories::Category;
pub(crate) use db_bool::{DbBool, DbOptBool};
pub(crate) use db_word::DbOptWord;
pub use error::{Constraint, StorageError};
pub use feeds::{CalendarFeed, FeedOccurrence, FeedSession};
pub use follows::{DELIVERIES, Delivery, Fanout, Follow, NewDelivery, Sent, domain_of};
pub use instances::{InstanceHealth, InstanceOverview};
pub use karma::{KarmaEvent, RequestHistory, SettleCandidate};
pub use messages::{ConversationSummary, Message, local_pair_key};
pub use mirror::{Mirrored, MirroredEvent, MirroredSlot};
pub use notifications::{
    DueReminder, Effects, FeedRow, MAIL_OUTBOX, NewKarma, NewNotification, Notification, OutgoingMail, PendingEvent,
    QueuedMail,
};
pub use offerings::Offering;
pub use presence::{Presence, PresenceCheck};
pub use published::PublishedEvent;
pub use queue::Queue;
pub use remote_actors::{NewRemoteActor, RemoteActor};
pub use requests::{Decided, DecisionContext, Origin, Request, RequestContext, RequestText, SessionEntry};
pub use tokens::EmailTokenPurpose;
pub use write_lock::{WriteLockSnapshot, WriteLockStats};

use std::str::FromStr;
use std::sync::{Arc, Once};
use std::time::Duration;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyPool, ConnectOptions, Connection, Executor};

pub type Result<T, E = StorageError> = std::result::Result<T, E>;

/// Which database is behind the pool; only this module branches on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn from_url(url: &str) -> Result<Self> {
        if url.starts_with("sqlite:") {
            Ok(Backend::Sqlite)
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Ok(Backend::Postgres)
        } else {
            Err(StorageError::Config(format!(
                "unsupported database URL `{}`: use sqlite://… or postgres://…",
                redact_url(url)
            )))
        }
    }
}

/// The handle every layer above storage uses.
#[derive(Clone)]
pub struct Store {
    pool: AnyPool,
    /// Where write transactions run: on SQLite a pool of one connection of
    /// its own, so writers queue for it in the order they came (sqlx's
    /// pool is fair) instead of polling SQLite's lock in `busy_timeout`'s
    /// growing sleeps, and a queued writer holds none of the readers'
    /// connections; on PostgreSQL the same pool (row locks order writers).
    writer: AnyPool,
    backend: Backend,
    write_lock: Arc<WriteLockStats>,
}

static MIGRATOR_SQLITE: sqlx::migrate::Migrator = sqlx::migrate!("migrations/sqlite");
static MIGRATOR_POSTGRES: sqlx::migrate::Migrator = sqlx::migrate!("migrations/postgres");
static DRIVERS: Once = Once::new();

impl Store {
    /// Connects without migrating (see [`Store::migrate`]), waiting up to
    /// 10 s for a connection.
    pub async fn connect(url: &str, max_connections: u32) -> Result<Self> {
        Self::connect_waiting(url, max_connections, Duration::from_secs(10)).await
    }

    /// Connects without migrating; a statement waits up to `wait` for a
    /// connection (also while the database is down and the pool tries to
    /// reconnect), then fails with [`StorageError::Unavailable`]. The pool
    /// reconnects by itself when the database is back: a connection found
    /// broken is dropped when it is next taken (it is pinged first).
    pub async fn connect_waiting(url: &str, max_connections: u32, wait: Duration) -> Result<Self> {
        DRIVERS.call_once(sqlx::any::install_default_drivers);
        let backend = Backend::from_url(url)?;
        let options = AnyConnectOptions::from_str(url)
            .map_err(|e| StorageError::Config(format!("invalid database URL: {e}")))?
            .log_statements(tracing::log::LevelFilter::Trace)
            .log_slow_statements(tracing::log::LevelFilter::Warn, Duration::from_millis(500));
        let pool = pool_options(backend, max_connections, wait).connect_with(options.clone()).await?;
        let writer = match backend {
            Backend::Sqlite => pool_options(backend, 1, wait).connect_with(options).await?,
            Backend::Postgres => pool.clone(),
        };
        Ok(Store { pool, writer, backend, write_lock: Arc::default() })
    }

    pub async fn migrate(&self) -> Result<()> {
        let migrator = match self.backend {
            Backend::Sqlite => &MIGRATOR_SQLITE,
            Backend::Postgres => &MIGRATOR_POSTGRES,
        };
        migrator.run(&self.pool).await?;
        Ok(())
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// A cheap round trip, for `/readyz`.
    pub async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    /// Runs one statement that takes no parameters (tooling and tests, e.g.
    /// creating a database). Never pass user input.
    pub async fn execute_raw(&self, sql: &str) -> Result<()> {
        self.pool.execute(sql).await?;
        Ok(())
    }

    pub async fn close(&self) {
        self.pool.close().await;
        self.writer.close().await;
    }

    pub(crate) fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// The pool for writes outside [`Store::begin_write`] (one statement
    /// on its own, e.g. claiming queued work): on SQLite the one write
    /// connection, so it queues with the other writers.
    pub(crate) fn writer(&self) -> &AnyPool {
        &self.writer
    }

    /// How long writers have waited for the write lock since the start.
    pub fn write_lock_waits(&self) -> WriteLockSnapshot {
        self.write_lock.snapshot()
    }

    pub(crate) fn record_write_lock_wait(&self, waited: Duration) {
        self.write_lock.record(waited);
    }
}

/// The pool settings of both pools (see [`Store::connect_waiting`]).
fn pool_options(backend: Backend, max_connections: u32, wait: Duration) -> AnyPoolOptions {
    AnyPoolOptions::new()
        .max_connections(max_connections)
        .acquire_timeout(wait)
        // SQLite's connections are in this process: a ping before every
        // query was a round trip to the connection's thread, as costly as
        // the query (docs/benchmarks.md, "The advisor's profile page").
        // A PostgreSQL connection can die with the server, so it is checked.
        .test_before_acquire(backend == Backend::Postgres)
        // A connection still in a transaction after its release is not
        // reused: when a write fails with a full disk, SQLite rolls the
        // transaction back itself, sqlx's own ROLLBACK then fails, and
        // the connection would otherwise refuse every later BEGIN.
        .before_acquire(|conn, _meta| Box::pin(async move { Ok(!conn.is_in_transaction()) }))
        .after_connect(move |conn, _meta| {
            Box::pin(async move {
                if backend == Backend::Sqlite {
                    // WAL lets readers run beside the one writer; a busy
                    // writer is waited for rather than failing at once.
                    conn.execute("PRAGMA journal_mode = WAL").await?;
                    conn.execute("PRAGMA synchronous = NORMAL").await?;
                    conn.execute("PRAGMA busy_timeout = 10000").await?;
                    conn.execute("PRAGMA foreign_keys = ON").await?;
                }
                Ok(())
            })
        })
}

/// Hides the password of a database or SMTP URL for logs and errors.
pub fn redact_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("****"));
            parsed.to_string()
        }
        _ => url.to_string(),
    }
}

/// `$first, …` for `count` values: an `IN (…)` list.
fn placeholders(first: usize, count: usize) -> String {
    (first..first + count).map(|i| format!("${i}")).collect::<Vec<_>>().join(", ")
}

/// `($first, …), (…)`: `rows` rows of `width` values, a multi-row `VALUES`.
fn value_rows(first: usize, rows: usize, width: usize) -> String {
    (0..rows).map(|r| format!("({})", placeholders(first + r * width, width))).collect::<Vec<_>>().join(", ")
}

/// Escapes `%`, `_` and `\` for a `LIKE … ESCAPE '\'` pattern.
pub(crate) fn like_pattern(term: &str) -> String {
    let mut out = String::with_capacity(term.len() + 2);
    out.push('%');
    for c in term.to_lowercase().chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('%');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_pattern_escapes_wildcards() {
        assert_eq!(like_pattern("Rust"), "%rust%");
        assert_eq!(like_pattern("50%_off\\"), "%50\\%\\_off\\\\%");
    }

    #[test]
    fn placeholders_number_from_where_they_start() {
        assert_eq!(placeholders(1, 3), "$1, $2, $3");
        assert_eq!(placeholders(2, 1), "$2");
        assert_eq!(value_rows(1, 2, 3), "($1, $2, $3), ($4, $5, $6)");
        assert_eq!(value_rows(2, 1, 2), "($2, $3)");
    }

    #[test]
    fn backend_from_url() {
        assert_eq!(Backend::from_url("sqlite://x.db").unwrap(), Backend::Sqlite);
        assert_eq!(Backend::from_url("postgres://u@h/db").unwrap(), Backend::Postgres);
        assert!(Backend::from_url("mysql://u:secret@h/db").unwrap_err().to_string().contains("****"));
    }
}
