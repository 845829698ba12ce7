//! A PostgreSQL cluster of the test's own (Debian's `initdb` and `pg_ctl`
//! under `/usr/lib/postgresql/<version>/bin`), in a temporary folder on a
//! free port, so that a test can stop and start *its* database without
//! touching the machine's shared server that other tests use. As root (CI),
//! the cluster runs as the `postgres` user (PostgreSQL refuses root).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub struct PrivatePostgres {
    bin: PathBuf,
    dir: tempfile::TempDir,
    /// `(uid, gid)` to run as, when the tests run as root.
    run_as: Option<(u32, u32)>,
    pub port: u16,
    /// `postgres://postgres@127.0.0.1:<port>/postgres`.
    pub url: String,
}

/// The newest installed version's `bin` folder holding `initdb` and `pg_ctl`.
fn find_bin() -> Option<PathBuf> {
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|entry| entry.ok())
        .filter_map(|entry| {
            let version = entry.file_name().to_str()?.parse::<u32>().ok()?;
            let bin = entry.path().join("bin");
            (bin.join("initdb").is_file() && bin.join("pg_ctl").is_file()).then_some((version, bin))
        })
        .collect();
    versions.sort();
    versions.pop().map(|(_, bin)| bin)
}

/// The `postgres` account's uid and gid.
fn postgres_account() -> Option<(u32, u32)> {
    let id = |flag: &str| -> Option<u32> {
        let out = Command::new("id").args([flag, "postgres"]).output().ok()?;
        String::from_utf8_lossy(&out.stdout).trim().parse().ok()
    };
    Some((id("-u")?, id("-g")?))
}

impl PrivatePostgres {
    /// Makes and starts the cluster; `None` (with a printed reason, or a
    /// panic in CI) when PostgreSQL's server binaries are not installed.
    pub fn start() -> Option<PrivatePostgres> {
        let bin = find_bin();
        if !super::require(
            "PostgreSQL's server binaries (initdb, pg_ctl under /usr/lib/postgresql/*/bin)",
            bin.is_some(),
        ) {
            return None;
        }
        let dir = tempfile::tempdir().expect("a folder for the cluster");
        // SAFETY: geteuid has no preconditions.
        let root = unsafe { libc::geteuid() } == 0;
        let run_as = if root {
            let account = postgres_account();
            if !super::require("the `postgres` account (PostgreSQL does not run as root)", account.is_some()) {
                return None;
            }
            let (uid, gid) = account.unwrap();
            std::os::unix::fs::chown(dir.path(), Some(uid), Some(gid)).expect("hand the folder to postgres");
            Some((uid, gid))
        } else {
            None
        };
        let port = super::free_port();
        let cluster = PrivatePostgres {
            bin: bin.unwrap(),
            url: format!("postgres://postgres@127.0.0.1:{port}/postgres"),
            dir,
            run_as,
            port,
        };
        let data = cluster.data();
        cluster.run(
            "initdb",
            &["-D", &data, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-sync", "--no-instructions"],
        );
        cluster.start_again();
        Some(cluster)
    }

    fn data(&self) -> String {
        self.dir.path().join("data").display().to_string()
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn run(&self, tool: &str, args: &[&str]) -> Output {
        let program = self.bin.join(tool);
        let mut command = Command::new(&program);
        command.args(args).current_dir(self.path()).env_remove("PGDATA");
        if let Some((uid, gid)) = self.run_as {
            use std::os::unix::process::CommandExt;
            command.uid(uid).gid(gid).env("HOME", self.path());
        }
        let out = command.output().unwrap_or_else(|e| panic!("cannot run {}: {e}", program.display()));
        assert!(
            out.status.success(),
            "{tool} {args:?} failed ({}):\n{}{}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
            std::fs::read_to_string(self.path().join("postgres.log")).unwrap_or_default()
        );
        out
    }

    /// Starts the server (again) and waits until it takes connections.
    pub fn start_again(&self) {
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c shared_buffers=16MB -c max_connections=40",
            self.port,
            self.path().display()
        );
        let log = self.path().join("postgres.log").display().to_string();
        self.run("pg_ctl", &["-D", &self.data(), "-l", &log, "-o", &options, "-w", "-t", "30", "start"]);
    }

    /// Stops the server at once, as a crash would (`pg_ctl stop -m
    /// immediate`: no checkpoint; the next start recovers from the WAL).
    pub fn stop_immediately(&self) {
        self.run("pg_ctl", &["-D", &self.data(), "-m", "immediate", "-w", "stop"]);
    }
}

impl Drop for PrivatePostgres {
    fn drop(&mut self) {
        let program = self.bin.join("pg_ctl");
        let mut command = Command::new(program);
        command.args(["-D", &self.data(), "-m", "immediate", "-w", "stop"]).current_dir(self.path());
        if let Some((uid, gid)) = self.run_as {
            use std::os::unix::process::CommandExt;
            command.uid(uid).gid(gid);
        }
        let _ = command.output();
    }
}
