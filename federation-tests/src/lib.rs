//! # Federation test harness
//!
//! Starts several real `officehours serve` processes side by side, each with
//! its own host name, loopback address, data directory and database, so that
//! tests can make instances talk to each other the way they would in the wild.
//!
//! ```no_run
//! use federation_tests::{Cluster, InstanceSpec};
//!
//! // tests/my_feature.rs; mark it #[tokio::test]
//! async fn alpha_sees_beta() {
//!     // Skip (or fail on CI) when a PostgreSQL instance is wanted but absent.
//!     if federation_tests::skip_without_postgres() {
//!         return;
//!     }
//!     let mut cluster = Cluster::start([
//!         InstanceSpec::new("alpha").demo(),            // SQLite
//!         InstanceSpec::new("beta").postgres().demo(),  // fresh PostgreSQL database
//!     ])
//!     .await
//!     .unwrap();
//!
//!     let alpha = &cluster["alpha"];
//!     // Real host names work: the client maps every `<name>.test` to its address.
//!     let page = alpha.get_json("/api/v1/advisors").await;
//!     assert_eq!(alpha.base_url(), format!("http://alpha.test:{}", alpha.addr().port()));
//!
//!     // Run a CLI subcommand against beta's database.
//!     cluster["beta"]
//!         .cli(&["user", "create", "--username", "zoe", "--email", "zoe@example.org"], Some("a long password"))
//!         .unwrap();
//!
//!     // Crash and bring back an instance (same database and data dir).
//!     cluster["alpha"].kill();
//!     cluster["alpha"].restart().await.unwrap();
//! }
//! # fn main() {}
//! ```
//!
//! * [`Cluster::start`] (or [`Cluster::builder`]) starts every instance and
//!   waits until each answers `GET /readyz` with 200. Instances are named
//!   `alpha`, `beta`, `gamma`, … unless named explicitly, get the domain
//!   `<name>.test:<port>` (with the port, so handles like `ada@alpha.test:41373`
//!   and WebFinger reach the right server), the public URL
//!   `http://<name>.test:<port>/`, and listen on 127.0.0.2, 127.0.0.3, … (one
//!   loopback address each). They run with `--federation-test-mode` and
//!   `OFFICEHOURS_FEDERATION_TEST_HOSTS=alpha.test=127.0.0.2,…`, so each
//!   server resolves every other `<name>.test` to its address. Background
//!   jobs run every second and failed deliveries are retried after 1, 2, 4 …
//!   seconds (`OFFICEHOURS_JOB_INTERVAL_SECS`,
//!   `OFFICEHOURS_FEDERATION_RETRY_BASE_SECS`; a spec's `env` wins).
//! * [`InstanceSpec::manual_clock`] runs an instance on a manual clock
//!   (`OFFICEHOURS_TEST_CLOCK=manual`): its time stands still until
//!   [`Instance::advance_clock`] moves it, which also runs one pass of the
//!   instance's background jobs before it returns. Tests let retry delays,
//!   leases and "dead after" periods pass this way instead of sleeping, and
//!   use the returned pass as a marker when checking that something did
//!   *not* happen.
//! * [`Backend::Sqlite`] (default) puts the database in the instance's temp
//!   data dir; [`Backend::Postgres`] creates `oh_fed_<random>` on
//!   `postgres://postgres@127.0.0.1:5432` (override the server with
//!   `FEDERATION_POSTGRES_URL`, without a database name) with `psql`, and drops
//!   it when the instance goes away.
//! * Each process writes stdout and stderr to `officehours.log` in its data
//!   dir ([`Instance::log_text`]). When a test panics, or when
//!   `FEDERATION_KEEP_LOGS=1`, dropping the [`Cluster`] copies every log to
//!   `<target dir>/federation-logs/<test name>/<instance>.log` and prints the
//!   path and the last lines of each log to stderr.
//! * If an instance cannot start, [`Cluster::start`] fails with an [`Error`]
//!   that contains the instance's log (also kept on disk, see [`Error::log_path`]).
//! * The binary is `<target dir>/debug/officehours`, found next to the test
//!   executable, or `OFFICEHOURS_BIN`. `cargo test --workspace` builds it;
//!   with `cargo test -p federation-tests` run `cargo build --bin officehours`
//!   first. Inherited `OFFICEHOURS_*` variables are not passed on; `RUST_LOG` is.
//!
//! ## Independent peers
//!
//! [`ClusterBuilder::python_peer`] adds another ActivityPub implementation,
//! installed from a package registry, as a peer: `python_peer("bovine")`
//! runs `federation-tests/peers/bovine_peer.py` (built on the PyPI package
//! `bovine`) on the next loopback address after the instances, as
//! `http://bovine.test:<port>/actor`, and every instance resolves
//! `bovine.test` to it from its first start. The peer signs what it sends and
//! verifies what it receives with bovine's own code.
//!
//! ```no_run
//! use std::time::Duration;
//! use federation_tests::{Cluster, InstanceSpec};
//!
//! async fn bovine_follows_ada() {
//!     // Skip when `bovine` is not installed (a panic on CI).
//!     if federation_tests::skip_without_python_module("bovine") {
//!         return;
//!     }
//!     let cluster = Cluster::builder()
//!         .instance(InstanceSpec::new("alpha"))
//!         .python_peer("bovine")
//!         .start()
//!         .await
//!         .unwrap();
//!     let (alpha, peer) = (&cluster["alpha"], cluster.peer("bovine"));
//!     let ada = alpha.url("/users/ada");
//!     let follow = peer.follow(&ada).await; // {"id", "status", "body", "activity", …}
//!     assert_eq!(follow["status"], 202);
//!     let accept = peer.wait_for_activity("Accept").await; // {"activity", "verified", …}
//!     assert_eq!(accept["verified"], true);
//!     // A reply (Create(Note) with inReplyTo and a Mention of each recipient):
//!     let reply = peer.reply(&alpha.url("/events/1"), &[&ada], "<p>May I join?</p>").await;
//!     assert_eq!(reply["status"], 202);
//!     let dm = peer
//!         .wait_for("a DM", Duration::from_secs(30), |e| e["activity"]["type"] == "Create")
//!         .await;
//!     assert_eq!(dm["verified"], true);
//! }
//! # fn main() {}
//! ```
//!
//! [`ClusterBuilder::node_peer`] does the same for a Node.js script:
//! `node_peer("fedify")` runs `federation-tests/peers/fedify_peer.mjs`
//! (built on the npm package `@fedify/fedify`, installed by `npm ci` in
//! `federation-tests/peers/`) as `http://fedify.test:<port>/users/fedify`,
//! with the same control API; check first with
//! [`skip_without_node_package`]`("@fedify/fedify")`.
//!
//! The peer's log (every request, signature check and delivery) is kept
//! next to the instances' logs when a test fails.
//!
//! ## What an instance stored
//!
//! [`Instance::query`] runs a `SELECT` on an instance's own database (with
//! `psql`, or Python's `sqlite3` module for SQLite) and returns its rows as
//! tab-separated text, for checks that an API could hide (say, that every
//! event a sender published is stored once by the receiver).

/// The password of accounts made by [`Instance::create_advisor`].
pub const TEST_PASSWORD: &str = "correct horse battery staple";

pub mod api;
mod cluster;
mod instance;
mod paths;
mod peer;
mod postgres;
mod sql;
pub mod web;

use std::fmt;
use std::path::{Path, PathBuf};

pub use cluster::{Cluster, ClusterBuilder};
pub use instance::{Backend, Instance, InstanceSpec};
pub use paths::{logs_root, officehours_bin, target_dir};
pub use peer::{
    PythonPeer, node, node_package_available, peer_script, peers_dir, python, python_module_available,
    skip_without_node_package, skip_without_python_module,
};
pub use postgres::{PgDatabase, postgres_available, postgres_server_url, skip_without_postgres};

/// Why the harness could not do what was asked. `Debug` shows the same text
/// as `Display`, so `.unwrap()` prints instance logs readably.
pub struct Error {
    message: String,
    log_path: Option<PathBuf>,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub(crate) fn new(message: impl Into<String>) -> Self {
        Error { message: message.into(), log_path: None }
    }

    pub(crate) fn with_log_path(mut self, path: Option<PathBuf>) -> Self {
        self.log_path = path;
        self
    }

    /// Where the failing instance's log was kept, if one was.
    pub fn log_path(&self) -> Option<&Path> {
        self.log_path.as_deref()
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

/// The last `n` lines of `text`.
pub(crate) fn tail(text: &str, n: usize) -> &str {
    let trimmed = text.trim_end_matches('\n');
    match trimmed.rmatch_indices('\n').nth(n.saturating_sub(1)) {
        Some((i, _)) if n > 0 => &text[i + 1..],
        _ => text,
    }
}
