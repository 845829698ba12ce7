//! One `officehours serve` process with its own data dir, database and log.

use std::fs::OpenOptions;
use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use tempfile::TempDir;

use crate::postgres::PgDatabase;
use crate::{Error, Result};

/// Where an instance keeps its data.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Backend {
    /// `officehours.db` in the instance's temp data dir.
    #[default]
    Sqlite,
    /// A fresh database on the harness's PostgreSQL server, dropped afterwards.
    Postgres,
}

/// What to start: a name (or one picked from alpha, beta, … by position), a
/// backend, and extra flags and environment for `officehours serve`.
#[derive(Debug, Clone, Default)]
pub struct InstanceSpec {
    pub(crate) name: Option<String>,
    pub(crate) backend: Backend,
    pub(crate) database_url: Option<String>,
    pub(crate) args: Vec<String>,
    pub(crate) env: Vec<(String, String)>,
}

impl InstanceSpec {
    /// An instance called `name`, reachable as `<name>.test`.
    pub fn new(name: impl Into<String>) -> Self {
        InstanceSpec { name: Some(name.into()), ..Default::default() }
    }

    /// An instance named after its position: alpha, beta, gamma, …
    pub fn unnamed() -> Self {
        InstanceSpec::default()
    }

    pub fn backend(mut self, backend: Backend) -> Self {
        self.backend = backend;
        self
    }

    /// Shorthand for `.backend(Backend::Postgres)`.
    pub fn postgres(self) -> Self {
        self.backend(Backend::Postgres)
    }

    /// Shorthand for `.arg("--demo")`: sample advisors and learners.
    pub fn demo(self) -> Self {
        self.arg("--demo")
    }

    /// Use this database URL as is instead of making one (the backend is ignored).
    pub fn database_url(mut self, url: impl Into<String>) -> Self {
        self.database_url = Some(url.into());
        self
    }

    /// An extra flag for `officehours serve`.
    pub fn arg(mut self, arg: impl Into<String>) -> Self {
        self.args.push(arg.into());
        self
    }

    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    /// Runs the server on a manual clock (`OFFICEHOURS_TEST_CLOCK=manual`):
    /// time stands still from the start until [`Instance::advance_clock`]
    /// moves it. Each (re)start begins again at the real time.
    pub fn manual_clock(self) -> Self {
        self.env("OFFICEHOURS_TEST_CLOCK", "manual")
    }

    /// An environment variable for the server (and for [`Instance::cli`]).
    pub fn env(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.env.push((key.into(), value.into()));
        self
    }
}

/// A running (or killed) `officehours serve` process. Dropping it kills the
/// process, removes its data dir and drops its PostgreSQL database.
pub struct Instance {
    name: String,
    /// `<name>.test`, without the port.
    host: String,
    addr: SocketAddr,
    backend: Backend,
    database_url: String,
    args: Vec<String>,
    env: Vec<(String, String)>,
    bin: PathBuf,
    log_path: PathBuf,
    ready_timeout: Duration,
    hosts: Vec<(String, SocketAddr)>,
    client: reqwest::Client,
    child: Option<Child>,
    starts: u32,
    // Fields drop in order, after `Drop::drop` has killed the process.
    _database: Option<PgDatabase>,
    data_dir: TempDir,
}

impl Instance {
    /// Makes the data dir and database; does not start the process yet.
    pub(crate) fn prepare(
        name: &str,
        spec: &InstanceSpec,
        addr: SocketAddr,
        bin: &Path,
        ready_timeout: Duration,
    ) -> Result<Instance> {
        let data_dir = tempfile::Builder::new()
            .prefix(&format!("oh-fed-{name}-"))
            .tempdir()
            .map_err(|e| Error::new(format!("cannot make a data dir for `{name}`: {e}")))?;
        let (database_url, database) = match (&spec.database_url, spec.backend) {
            (Some(url), _) => (url.clone(), None),
            (None, Backend::Sqlite) => {
                (format!("sqlite://{}?mode=rwc", data_dir.path().join("officehours.db").display()), None)
            }
            (None, Backend::Postgres) => {
                let db = PgDatabase::create()?;
                (db.url().to_string(), Some(db))
            }
        };
        let host = format!("{name}.test");
        let hosts = vec![(host.clone(), addr)];
        Ok(Instance {
            name: name.to_string(),
            client: build_client(&hosts, false),
            hosts,
            host,
            addr,
            backend: spec.backend,
            database_url,
            args: spec.args.clone(),
            env: spec.env.clone(),
            bin: bin.to_path_buf(),
            log_path: data_dir.path().join("officehours.log"),
            ready_timeout,
            child: None,
            starts: 0,
            _database: database,
            data_dir,
        })
    }

    /// Moves a not-yet-running instance to another address (its port was taken).
    pub(crate) fn readdress(&mut self, addr: SocketAddr) {
        self.addr = addr;
        self.hosts = vec![(self.host.clone(), addr)];
    }

    /// Lets the instance's clients reach every instance of the cluster by name.
    pub(crate) fn join(&mut self, hosts: &[(String, SocketAddr)], client: &reqwest::Client) {
        self.hosts = hosts.to_vec();
        self.client = client.clone();
    }

    /// A command running the `officehours` binary with the instance's
    /// environment: inherited `OFFICEHOURS_*` variables removed, `NO_COLOR`
    /// set, then the spec's variables.
    fn command(&self) -> Command {
        let mut command = Command::new(&self.bin);
        for (key, _) in std::env::vars_os() {
            if key.to_string_lossy().starts_with("OFFICEHOURS_") {
                command.env_remove(key);
            }
        }
        // Plain text in the log files (the spec's env may say otherwise).
        command.env("NO_COLOR", "1");
        // Each instance's media on a loopback port of its own.
        command.env("OFFICEHOURS_VOICE_UDP_BIND", "127.0.0.1").env("OFFICEHOURS_VOICE_UDP_PORT", "0");
        command.envs(self.env.iter().map(|(k, v)| (k, v)));
        command
    }

    /// Starts the process, its output appended to the log.
    pub(crate) fn spawn(&mut self) -> Result<()> {
        self.starts += 1;
        let mut log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log_path)
            .map_err(|e| Error::new(format!("cannot open {}: {e}", self.log_path.display())))?;
        let mut command = self.command();
        command
            .arg("serve")
            .arg("--bind")
            .arg(self.addr.to_string())
            .arg("--domain")
            .arg(self.domain())
            .arg("--federation-test-mode")
            .arg("--public-url")
            .arg(self.public_url())
            .arg("--database-url")
            .arg(&self.database_url)
            .arg("--data-dir")
            .arg(self.data_dir.path())
            .args(&self.args);
        let _ = writeln!(log, "===== federation-tests: start #{} of `{}`: {:?} =====", self.starts, self.name, command);
        let stderr = log.try_clone().map_err(|e| Error::new(format!("cannot share the log file: {e}")))?;
        command.stdin(Stdio::null()).stdout(log).stderr(stderr);
        let child = command
            .spawn()
            .map_err(|e| Error::new(format!("cannot start {} for `{}`: {e}", self.bin.display(), self.name)))?;
        self.child = Some(child);
        Ok(())
    }

    /// Polls `/readyz` until it answers 200; on failure says why (the process
    /// exited, or the timeout passed, in which case it is killed).
    pub(crate) async fn wait_ready(&mut self) -> Result<(), String> {
        install_crypto();
        let probe = reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(2))
            .build()
            .map_err(|e| format!("cannot build an HTTP client: {e}"))?;
        let url = format!("http://{}/readyz", self.addr);
        let deadline = Instant::now() + self.ready_timeout;
        loop {
            match self.child.as_mut().map(Child::try_wait) {
                None => return Err("is not running".into()),
                Some(Ok(Some(status))) => {
                    self.child = None;
                    return Err(format!("exited ({status}) before /readyz answered"));
                }
                Some(Ok(None)) => {}
                Some(Err(e)) => return Err(format!("cannot check the process: {e}")),
            }
            let last = match probe.get(&url).send().await {
                Ok(response) if response.status() == reqwest::StatusCode::OK => return Ok(()),
                Ok(response) => format!("status {}", response.status()),
                Err(err) => err.to_string(),
            };
            if Instant::now() >= deadline {
                self.shutdown("not ready in time: killed with SIGKILL");
                return Err(format!(
                    "did not answer 200 on {url} within {:?} (last: {last}); killed",
                    self.ready_timeout
                ));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// A start failure with the log in the message.
    pub(crate) fn start_error(&self, reason: &str, kept: Option<PathBuf>) -> Error {
        let mut message = format!(
            "federation-tests: instance `{}` ({} on {}, database {}) {reason}\n",
            self.name, self.host, self.addr, self.database_url
        );
        if let Some(path) = &kept {
            message.push_str(&format!("log kept at {}\n", path.display()));
        }
        let log = self.log_text();
        message.push_str(&format!(
            "----- last 200 lines of the log of `{}` -----\n{}\n----- end of the log of `{}` -----",
            self.name,
            crate::tail(&log, 200).trim_end(),
            self.name
        ));
        Error::new(message).with_log_path(kept)
    }

    /// Appends a harness note to the log, between the server's lines.
    fn note(&self, what: &str) {
        if let Ok(mut log) = OpenOptions::new().append(true).open(&self.log_path) {
            let _ = writeln!(log, "===== federation-tests: {what} =====");
        }
    }

    /// Kills the process if it runs, and waits for it.
    pub(crate) fn shutdown(&mut self, why: &str) -> Option<ExitStatus> {
        let mut child = self.child.take()?;
        let _ = child.kill();
        let status = child.wait().ok();
        self.note(why);
        status
    }

    /// Copies the log to `<dir>/<name>.log`.
    pub(crate) fn keep_log(&self, dir: &Path) -> std::io::Result<PathBuf> {
        std::fs::create_dir_all(dir)?;
        let path = dir.join(format!("{}.log", self.name));
        if self.log_path.exists() {
            std::fs::copy(&self.log_path, &path)?;
        } else {
            std::fs::write(&path, "(no log: the process never started)\n")?;
        }
        Ok(path)
    }

    /// `alpha`, `beta`, …
    pub fn name(&self) -> &str {
        &self.name
    }

    /// `<name>.test:<port>`, the instance's `--domain`: with the port, so
    /// that handles (`ada@alpha.test:41373`) and WebFinger reach the right
    /// server (as in Lemmy's federation tests).
    pub fn domain(&self) -> String {
        format!("{}:{}", self.host, self.addr.port())
    }

    /// `<name>.test`, the host name without the port.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// Sets an environment variable unless the spec set it.
    pub(crate) fn add_env_default(&mut self, key: &str, value: &str) {
        if !self.env.iter().any(|(k, _)| k == key) {
            self.env.push((key.to_string(), value.to_string()));
        }
    }

    /// Adds an environment variable for the server's next start.
    pub(crate) fn add_env(&mut self, key: &str, value: String) {
        self.env.retain(|(k, _)| k != key);
        self.env.push((key.to_string(), value));
    }

    /// The loopback address and port the server listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// `http://<name>.test:<port>`, without a trailing slash.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.domain())
    }

    /// `http://<name>.test:<port>/`, the instance's `--public-url`.
    pub fn public_url(&self) -> String {
        format!("{}/", self.base_url())
    }

    /// The base URL followed by `path` (which starts with `/`).
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url())
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The `--database-url` the server runs with.
    pub fn database_url(&self) -> &str {
        &self.database_url
    }

    /// The instance's own temporary data dir (`--data-dir`).
    pub fn data_dir(&self) -> &Path {
        self.data_dir.path()
    }

    /// Where the process's stdout and stderr go.
    pub fn log_path(&self) -> &Path {
        &self.log_path
    }

    /// Everything the instance logged so far, restarts included.
    pub fn log_text(&self) -> String {
        std::fs::read(&self.log_path).map(|bytes| String::from_utf8_lossy(&bytes).into_owned()).unwrap_or_default()
    }

    /// The server's process id while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Whether the process is still alive.
    pub fn is_running(&mut self) -> bool {
        match self.child.as_mut().map(Child::try_wait) {
            Some(Ok(None)) => true,
            Some(_) => {
                self.child = None;
                false
            }
            None => false,
        }
    }

    /// Crashes the server: SIGKILL, then waits for it to be gone.
    pub fn kill(&mut self) -> Option<ExitStatus> {
        self.shutdown("killed with SIGKILL by the test")
    }

    /// Stops the server gracefully (SIGTERM), or kills it after `grace`.
    pub fn stop(&mut self, grace: Duration) -> Option<ExitStatus> {
        let child = self.child.as_mut()?;
        let _ = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
        let deadline = Instant::now() + grace;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = child.try_wait() {
                self.child = None;
                self.note(&format!("stopped with SIGTERM ({status})"));
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        self.shutdown("did not stop within the grace period: killed with SIGKILL")
    }

    /// Starts the server again (killing it first if it runs) on the same
    /// address, database and data dir, and waits until it is ready.
    pub async fn restart(&mut self) -> Result<()> {
        self.shutdown("killed with SIGKILL for a restart");
        self.spawn()?;
        match self.wait_ready().await {
            Ok(()) => Ok(()),
            Err(reason) => Err(self.start_error(&format!("did not come back: {reason}"), None)),
        }
    }

    /// The cluster's shared HTTP client: no cookies, no proxy, and every
    /// instance's host name resolves to its address.
    pub fn client(&self) -> &reqwest::Client {
        &self.client
    }

    /// A fresh client with its own cookie jar (for logging in), resolving the
    /// cluster's host names like [`Instance::client`].
    pub fn new_client(&self) -> reqwest::Client {
        build_client(&self.hosts, true)
    }

    /// Moves the manual clock of an instance started with
    /// [`InstanceSpec::manual_clock`] by `by` (`POST /_test/clock`). The
    /// server runs one pass of its background jobs before answering, so once
    /// this returns everything due by the new time has been tried once.
    /// Returns the server's new time (`{"now_ms", "now"}`).
    pub async fn advance_clock(&self, by: Duration) -> serde_json::Value {
        let url = self.url("/_test/clock");
        let body = serde_json::json!({"advance_ms": u64::try_from(by.as_millis()).unwrap_or(u64::MAX)});
        let response = match self.client.post(&url).json(&body).send().await {
            Ok(response) => response,
            Err(err) => panic!("POST {url} on `{}` failed: {err}", self.name),
        };
        let status = response.status();
        let text = response.text().await.unwrap_or_default();
        assert!(
            status.is_success(),
            "POST {url} on `{}` answered {status} (is it on a manual clock?): {text}",
            self.name
        );
        serde_json::from_str(&text).unwrap_or_default()
    }

    /// `GET <base url><path>` with the shared client.
    pub fn get(&self, path: &str) -> reqwest::RequestBuilder {
        self.client.get(self.url(path))
    }

    /// `POST <base url><path>` with the shared client.
    pub fn post(&self, path: &str) -> reqwest::RequestBuilder {
        self.client.post(self.url(path))
    }

    /// `GET <path>` and parse the JSON answer; panics (naming the instance)
    /// unless it is a 2xx with a JSON body.
    pub async fn get_json(&self, path: &str) -> serde_json::Value {
        let url = self.url(path);
        let response = match self.client.get(&url).send().await {
            Ok(response) => response,
            Err(err) => panic!("GET {url} on `{}` failed: {err}", self.name),
        };
        let status = response.status();
        let body = response.text().await.unwrap_or_default();
        assert!(status.is_success(), "GET {url} on `{}` answered {status}: {body}", self.name);
        match serde_json::from_str(&body) {
            Ok(value) => value,
            Err(err) => panic!("GET {url} on `{}` did not answer JSON ({err}): {body}", self.name),
        }
    }

    /// Creates the advisor `username` (e-mail `username@example.org`,
    /// password [`crate::TEST_PASSWORD`]) with the CLI; panics if it fails.
    pub fn create_advisor(&self, username: &str) {
        let email = format!("{username}@example.org");
        let args = ["user", "create", "--username", username, "--email", &email, "--advisor"];
        self.cli(&args, Some(&format!("{}\n", crate::TEST_PASSWORD))).expect("user create");
    }

    /// Creates an admin of the instance with the CLI; panics if it fails.
    pub fn create_admin(&self, username: &str) {
        let email = format!("{username}@example.org");
        let args = ["user", "create", "--username", username, "--email", &email, "--admin"];
        self.cli(&args, Some(&format!("{}\n", crate::TEST_PASSWORD))).expect("user create --admin");
    }

    /// A new API token for `username`, made with the CLI; panics if it fails.
    pub fn api_token(&self, username: &str) -> String {
        let out = self.cli(&["token", "create", "--username", username], None).expect("token create");
        out.split_whitespace().find(|w| w.starts_with("oh_")).expect("a token in the CLI's output").to_string()
    }

    /// Runs an `officehours` subcommand (e.g. `["user", "create", …]`) against
    /// this instance's database and data dir, with `stdin` piped in if given.
    /// Returns its stdout, or an error with its exit status and output.
    pub fn cli(&self, args: &[&str], stdin: Option<&str>) -> Result<String> {
        let mut command = self.command();
        command
            .arg("--database-url")
            .arg(&self.database_url)
            .arg("--data-dir")
            .arg(self.data_dir.path())
            .args(args)
            // The manual clock is for `serve` in test mode only (the server refuses it elsewhere).
            .env_remove("OFFICEHOURS_TEST_CLOCK")
            .stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if std::env::var_os("RUST_LOG").is_none() && !self.env.iter().any(|(k, _)| k == "RUST_LOG") {
            command.env("RUST_LOG", "warn");
        }
        let shown = format!("officehours {}", args.join(" "));
        let mut child = command.spawn().map_err(|e| Error::new(format!("cannot run `{shown}`: {e}")))?;
        if let (Some(text), Some(mut pipe)) = (stdin, child.stdin.take()) {
            pipe.write_all(text.as_bytes())
                .map_err(|e| Error::new(format!("cannot write to the stdin of `{shown}`: {e}")))?;
        }
        let output = child.wait_with_output().map_err(|e| Error::new(format!("`{shown}` failed: {e}")))?;
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        if output.status.success() {
            Ok(stdout)
        } else {
            Err(Error::new(format!(
                "`{shown}` on `{}` failed ({}):\n{}{stdout}",
                self.name,
                output.status,
                String::from_utf8_lossy(&output.stderr)
            )))
        }
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        self.shutdown("instance dropped: killed with SIGKILL");
    }
}

/// reqwest is built with rustls but no crypto provider (the workspace shares
/// the server's features): install *ring* once per process.
pub(crate) fn install_crypto() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// An HTTP client that resolves the given host names to their addresses and
/// never uses a proxy.
pub(crate) fn build_client(hosts: &[(String, SocketAddr)], cookies: bool) -> reqwest::Client {
    install_crypto();
    let mut builder = reqwest::Client::builder().no_proxy().timeout(Duration::from_secs(30)).cookie_store(cookies);
    for (domain, addr) in hosts {
        builder = builder.resolve(domain, *addr);
    }
    builder.build().expect("an HTTP client without TLS always builds")
}
