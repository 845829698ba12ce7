//! `officehours serve` as a process of its own (the binary Cargo built for
//! these tests), for the faults a server inside the test process cannot
//! take: SIGKILL, its database stopped under it, its disk full.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_officehours");

/// A running (or killed) server. Dropping it kills the process.
pub struct ServeProcess {
    child: Option<Child>,
    pub port: u16,
    /// `http://127.0.0.1:<port>`.
    pub base: String,
    database_url: String,
    data_dir: PathBuf,
    env: Vec<(String, String)>,
    log: PathBuf,
    _log_dir: tempfile::TempDir,
    /// No proxy, no cookies, and a 60 s ceiling (the tests bound what they
    /// wait for themselves).
    pub http: reqwest::Client,
}

impl ServeProcess {
    /// Starts `officehours serve` on a free loopback port with this database
    /// and data folder (the log goes elsewhere: the data disk may be full)
    /// and waits until `/readyz` answers 200. `env` adds `OFFICEHOURS_*`
    /// settings; inherited ones are dropped.
    pub async fn start(database_url: &str, data_dir: &Path, env: &[(&str, &str)]) -> ServeProcess {
        officehours::install_crypto();
        let log_dir = tempfile::tempdir().expect("a folder for the log");
        let port = super::free_port();
        let mut server = ServeProcess {
            child: None,
            port,
            base: format!("http://127.0.0.1:{port}"),
            database_url: database_url.to_string(),
            data_dir: data_dir.to_path_buf(),
            env: env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            log: log_dir.path().join("officehours.log"),
            _log_dir: log_dir,
            http: reqwest::Client::builder()
                .no_proxy()
                .timeout(Duration::from_secs(60))
                .build()
                .expect("an HTTP client"),
        };
        server.spawn();
        server.wait_ready().await;
        server
    }

    fn spawn(&mut self) {
        let log = File::options().create(true).append(true).open(&self.log).expect("the log file");
        let mut command = Command::new(BIN);
        command
            .args(["serve", "--bind", &format!("127.0.0.1:{}", self.port)])
            .args(["--database-url", &self.database_url])
            .arg("--data-dir")
            .arg(&self.data_dir);
        for (key, _) in std::env::vars() {
            if key.starts_with("OFFICEHOURS_") {
                command.env_remove(key);
            }
        }
        command.env("OFFICEHOURS_VOICE_UDP_BIND", "127.0.0.1").env("OFFICEHOURS_VOICE_UDP_PORT", "0");
        if std::env::var_os("RUST_LOG").is_none() {
            command.env("RUST_LOG", "warn");
        }
        command.envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        let stderr = log.try_clone().expect("the log file, twice");
        command.stdin(Stdio::null()).stdout(log).stderr(stderr);
        self.child = Some(command.spawn().expect("start officehours serve"));
    }

    /// Polls `/readyz` until 200 (at most 30 s); panics with the log if the
    /// process exits or the time passes.
    pub async fn wait_ready(&mut self) {
        let started = Instant::now();
        let url = format!("{}/readyz", self.base);
        loop {
            if let Some(status) = self.child.as_mut().and_then(|c| c.try_wait().unwrap()) {
                panic!("officehours serve exited ({status}) before it was ready:\n{}", self.log_tail());
            }
            let probe = self.http.get(&url).timeout(Duration::from_secs(2)).send().await;
            if probe.is_ok_and(|r| r.status() == 200) {
                return;
            }
            assert!(started.elapsed() < Duration::from_secs(30), "not ready within 30 s:\n{}", self.log_tail());
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// SIGKILL (a crash: no shutdown of any kind), and waits for it to be gone.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts again on the same port, database and data folder (killing
    /// the process first if it runs) and waits until it is ready.
    pub async fn restart(&mut self) {
        self.kill();
        self.spawn();
        self.wait_ready().await;
    }

    /// Whether the process still runs (a panic or an exit would end it).
    pub fn is_running(&mut self) -> bool {
        self.child.as_mut().is_some_and(|c| c.try_wait().ok().flatten().is_none())
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Everything the process logged, restarts included.
    pub fn log_text(&self) -> String {
        std::fs::read(&self.log).map(|b| String::from_utf8_lossy(&b).into_owned()).unwrap_or_default()
    }

    /// The last lines of the log, for a failure's message.
    pub fn log_tail(&self) -> String {
        let text = self.log_text();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(60)..].join("\n")
    }

    /// `GET /readyz`: its status and text.
    pub async fn readyz(&self) -> (u16, String) {
        match self.http.get(self.url("/readyz")).timeout(Duration::from_secs(15)).send().await {
            Ok(response) => (response.status().as_u16(), response.text().await.unwrap_or_default()),
            Err(err) => panic!("/readyz did not answer: {err}\n{}", self.log_tail()),
        }
    }
}

impl Drop for ServeProcess {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("----- log of officehours serve on port {} -----\n{}", self.port, self.log_tail());
        }
        self.kill();
    }
}
