//! Reading an instance's own database, to check what it stored (not only
//! what its API shows): `psql` for PostgreSQL, Python's `sqlite3` module
//! for SQLite (no extra tool to install).

use std::process::{Command, Stdio};

use crate::instance::{Backend, Instance};
use crate::{Error, Result};

impl Instance {
    /// Runs one read-only `SELECT` on the instance's database and returns
    /// its rows, each as its columns' text joined by tabs (NULL as empty).
    pub fn query(&self, sql: &str) -> Result<Vec<String>> {
        let output = match self.backend() {
            Backend::Postgres => Command::new("psql")
                .arg(self.database_url())
                .args(["-X", "-q", "-At", "-F", "\t", "-v", "ON_ERROR_STOP=1", "-c", sql])
                .env("PGCONNECT_TIMEOUT", "5")
                .stdin(Stdio::null())
                .output(),
            Backend::Sqlite => {
                let path = self
                    .database_url()
                    .strip_prefix("sqlite://")
                    .map(|rest| rest.split('?').next().unwrap_or(rest))
                    .ok_or_else(|| Error::new(format!("not a SQLite URL: {}", self.database_url())))?;
                let script = "import sqlite3, sys\n\
                     db = sqlite3.connect('file:' + sys.argv[1] + '?mode=ro', uri=True, timeout=10)\n\
                     for row in db.execute(sys.argv[2]):\n    \
                         print('\\t'.join('' if v is None else str(v) for v in row))\n";
                Command::new(crate::python()).args(["-c", script, path, sql]).stdin(Stdio::null()).output()
            }
        }
        .map_err(|e| Error::new(format!("cannot query the database of `{}`: {e}", self.name())))?;
        if !output.status.success() {
            return Err(Error::new(format!(
                "`{sql}` on the database of `{}` failed ({}): {}",
                self.name(),
                output.status,
                String::from_utf8_lossy(&output.stderr).trim()
            )));
        }
        Ok(String::from_utf8_lossy(&output.stdout).lines().map(str::to_string).collect())
    }
}
