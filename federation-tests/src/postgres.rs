//! Throw-away PostgreSQL databases, made and dropped with `psql`.

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::process::Command;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::SystemTime;

use crate::{Error, Result};

const DEFAULT_SERVER: &str = "postgres://postgres@127.0.0.1:5432";

/// The PostgreSQL server the harness uses, without a database name:
/// `FEDERATION_POSTGRES_URL`, or `postgres://postgres@127.0.0.1:5432` (trust auth).
pub fn postgres_server_url() -> String {
    std::env::var("FEDERATION_POSTGRES_URL")
        .ok()
        .filter(|url| !url.is_empty())
        .unwrap_or_else(|| DEFAULT_SERVER.to_string())
        .trim_end_matches('/')
        .to_string()
}

/// Runs one SQL statement on the server's `postgres` database.
fn psql(sql: &str) -> Result<()> {
    let output = Command::new("psql")
        .arg(format!("{}/postgres", postgres_server_url()))
        .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-c", sql])
        .env("PGCONNECT_TIMEOUT", "5")
        .output()
        .map_err(|e| Error::new(format!("cannot run psql (is the PostgreSQL client installed?): {e}")))?;
    if output.status.success() {
        Ok(())
    } else {
        Err(Error::new(format!(
            "psql failed ({}) on `{sql}`: {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        )))
    }
}

/// Whether the PostgreSQL server answers (checked once per test binary).
pub fn postgres_available() -> bool {
    static AVAILABLE: OnceLock<Result<(), String>> = OnceLock::new();
    AVAILABLE.get_or_init(|| psql("SELECT 1").map_err(|e| e.to_string())).is_ok()
}

/// For tests that need PostgreSQL: `false` when it answers; otherwise `true`
/// after printing why the test is skipped — or a panic when `CI` is set, so
/// CI cannot silently skip them.
pub fn skip_without_postgres() -> bool {
    if postgres_available() {
        return false;
    }
    let why = psql("SELECT 1").err().map(|e| e.to_string()).unwrap_or_default();
    if std::env::var_os("CI").is_some_and(|v| !v.is_empty()) {
        panic!("PostgreSQL at {} is required on CI: {why}", postgres_server_url());
    }
    eprintln!("skipping: PostgreSQL at {} is unreachable ({why})", postgres_server_url());
    true
}

/// A fresh database `oh_fed_<random>`, dropped (connections and all) on drop.
#[derive(Debug)]
pub struct PgDatabase {
    name: String,
    url: String,
}

impl PgDatabase {
    pub fn create() -> Result<Self> {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let random = RandomState::new().hash_one((
            std::process::id(),
            SystemTime::now(),
            COUNTER.fetch_add(1, Ordering::Relaxed),
        ));
        let name = format!("oh_fed_{random:016x}");
        psql(&format!("CREATE DATABASE \"{name}\""))?;
        let url = format!("{}/{name}", postgres_server_url());
        Ok(PgDatabase { name, url })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// `postgres://…/oh_fed_<random>`, for `--database-url`.
    pub fn url(&self) -> &str {
        &self.url
    }
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        if let Err(err) = psql(&format!("DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)", self.name)) {
            eprintln!("federation-tests: could not drop database {}: {err}", self.name);
        }
    }
}
