//! Independent ActivityPub implementations run as peers: a script
//! (`federation-tests/peers/<name>_peer.py`, run with Python, or
//! `<name>_peer.mjs`, run with Node.js) serving one actor on its own
//! loopback address and host name `<name>.test`, driven through its control
//! API. See `peers/bovine_peer.py` and `peers/fedify_peer.mjs` for the API
//! (the same control routes in both).

use std::collections::BTreeMap;
use std::fs::OpenOptions;
use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tempfile::TempDir;

use crate::instance::{build_client, install_crypto};
use crate::{Error, Result};

/// The Python interpreter: `FEDERATION_PYTHON`, or `python3`.
pub fn python() -> String {
    std::env::var("FEDERATION_PYTHON").ok().filter(|p| !p.is_empty()).unwrap_or_else(|| "python3".to_string())
}

/// Whether `python3 -c 'import <module>'` works; `Err` says why not.
pub fn python_module_available(module: &str) -> Result<(), String> {
    let output = Command::new(python())
        .args(["-c", &format!("import {module}")])
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run {}: {e}", python()))?;
    if output.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&output.stderr).trim().lines().last().unwrap_or_default().to_string())
    }
}

/// For tests that need a Python package (e.g. `bovine`): `false` when it
/// imports; otherwise `true` after printing why the test is skipped — or a
/// panic when `CI` is set, so CI cannot silently skip them.
pub fn skip_without_python_module(module: &str) -> bool {
    /// Each module's import result, checked once per test binary.
    type Imports = BTreeMap<String, Result<(), String>>;
    static CHECKED: Mutex<Imports> = Mutex::new(BTreeMap::new());
    let result = {
        let mut checked = CHECKED.lock().unwrap_or_else(|e| e.into_inner());
        checked.entry(module.to_string()).or_insert_with(|| python_module_available(module)).clone()
    };
    let Err(why) = result else { return false };
    if std::env::var_os("CI").is_some_and(|v| !v.is_empty()) {
        panic!("the Python package `{module}` is required on CI (pip install {module}): {why}");
    }
    eprintln!("skipping: the Python package `{module}` is not installed ({why}); pip install {module}");
    true
}

/// The Node.js binary: `FEDERATION_NODE`, or `node`.
pub fn node() -> String {
    std::env::var("FEDERATION_NODE").ok().filter(|p| !p.is_empty()).unwrap_or_else(|| "node".to_string())
}

/// The folder of the peers' scripts (and of their npm `package.json`).
pub fn peers_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("peers")
}

/// Whether Node.js can import the npm package `package` from the peers'
/// folder (installed there by `npm ci`); `Err` says why not.
pub fn node_package_available(package: &str) -> Result<(), String> {
    let output = Command::new(node())
        .current_dir(peers_dir())
        .args(["--input-type=module", "-e", &format!("await import({package:?});")])
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run {}: {e}", node()))?;
    if output.status.success() {
        Ok(())
    } else {
        let stderr = String::from_utf8_lossy(&output.stderr);
        Err(stderr.lines().find(|l| l.contains("Error")).unwrap_or(stderr.trim()).to_string())
    }
}

/// For tests that need an npm package (e.g. `@fedify/fedify`) in the
/// peers' folder: `false` when Node.js imports it; otherwise `true` after
/// printing why the test is skipped — or a panic when `CI` is set, so CI
/// cannot silently skip them.
pub fn skip_without_node_package(package: &str) -> bool {
    type Imports = BTreeMap<String, Result<(), String>>;
    static CHECKED: Mutex<Imports> = Mutex::new(BTreeMap::new());
    let result = {
        let mut checked = CHECKED.lock().unwrap_or_else(|e| e.into_inner());
        checked.entry(package.to_string()).or_insert_with(|| node_package_available(package)).clone()
    };
    let Err(why) = result else { return false };
    let dir = peers_dir();
    if std::env::var_os("CI").is_some_and(|v| !v.is_empty()) {
        panic!("the npm package `{package}` is required on CI (npm ci in {}): {why}", dir.display());
    }
    eprintln!("skipping: the npm package `{package}` is not installed ({why}); run npm ci in {}", dir.display());
    true
}

/// How a peer's script runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Runtime {
    Python,
    Node,
}

/// The script of the peer called `name`: `federation-tests/peers/<name>_peer.py`,
/// or else `<name>_peer.mjs`.
pub fn peer_script(name: &str) -> PathBuf {
    let python = peers_dir().join(format!("{name}_peer.py"));
    if python.is_file() { python } else { peers_dir().join(format!("{name}_peer.mjs")) }
}

/// A running peer process, started by [`crate::ClusterBuilder::python_peer`]
/// and owned by the [`crate::Cluster`] (which kills it and keeps its log
/// like the instances' logs). Reach it with [`crate::Cluster::peer`].
pub struct PythonPeer {
    name: String,
    host: String,
    addr: SocketAddr,
    script: PathBuf,
    runtime: Runtime,
    resolve: String,
    log_path: PathBuf,
    ready_timeout: Duration,
    client: reqwest::Client,
    child: Option<Child>,
    starts: u32,
    _dir: TempDir,
}

impl PythonPeer {
    /// Makes the peer's temp dir; does not start the process yet.
    pub(crate) fn prepare(name: &str, addr: SocketAddr, ready_timeout: Duration) -> Result<PythonPeer> {
        let script = peer_script(name);
        if !script.is_file() {
            return Err(Error::new(format!("no peer called `{name}`: {} is missing", script.display())));
        }
        let dir = tempfile::Builder::new()
            .prefix(&format!("oh-fed-peer-{name}-"))
            .tempdir()
            .map_err(|e| Error::new(format!("cannot make a temp dir for the peer `{name}`: {e}")))?;
        let host = format!("{name}.test");
        let runtime = if script.extension().is_some_and(|e| e == "mjs") { Runtime::Node } else { Runtime::Python };
        Ok(PythonPeer {
            name: name.to_string(),
            client: build_client(&[(host.clone(), addr)], false),
            host,
            addr,
            script,
            runtime,
            resolve: String::new(),
            log_path: dir.path().join("peer.log"),
            ready_timeout,
            child: None,
            starts: 0,
            _dir: dir,
        })
    }

    /// The `--resolve name=ip,…` map for its outgoing requests.
    pub(crate) fn set_resolve(&mut self, map: String) {
        self.resolve = map;
    }

    pub(crate) fn readdress(&mut self, addr: SocketAddr) {
        self.addr = addr;
    }

    /// Lets the peer's client reach every host of the cluster by name.
    pub(crate) fn join(&mut self, client: &reqwest::Client) {
        self.client = client.clone();
    }

    pub(crate) fn spawn(&mut self) -> Result<()> {
        self.starts += 1;
        let mut log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log_path)
            .map_err(|e| Error::new(format!("cannot open {}: {e}", self.log_path.display())))?;
        let mut command = match self.runtime {
            Runtime::Python => {
                let mut command = Command::new(python());
                command.arg("-u").env("PYTHONUNBUFFERED", "1").env("PYTHONDONTWRITEBYTECODE", "1");
                command
            }
            Runtime::Node => Command::new(node()),
        };
        command
            .arg(&self.script)
            .arg("--host")
            .arg(self.addr.ip().to_string())
            .arg("--port")
            .arg(self.addr.port().to_string())
            .arg("--domain")
            .arg(self.domain())
            .arg("--resolve")
            .arg(&self.resolve)
            .arg("--username")
            .arg(&self.name);
        let _ = writeln!(
            log,
            "===== federation-tests: start #{} of peer `{}`: {:?} =====",
            self.starts, self.name, command
        );
        let stderr = log.try_clone().map_err(|e| Error::new(format!("cannot share the log file: {e}")))?;
        command.stdin(Stdio::null()).stdout(log).stderr(stderr);
        let child = command.spawn().map_err(|e| {
            Error::new(format!("cannot start {:?} for the peer `{}`: {e}", command.get_program(), self.name))
        })?;
        self.child = Some(child);
        Ok(())
    }

    /// Polls `GET /control/received` until it answers 200.
    pub(crate) async fn wait_ready(&mut self) -> Result<(), String> {
        install_crypto();
        let probe = reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(2))
            .build()
            .map_err(|e| format!("cannot build an HTTP client: {e}"))?;
        let url = format!("http://{}/control/received", self.addr);
        let deadline = Instant::now() + self.ready_timeout;
        loop {
            match self.child.as_mut().map(Child::try_wait) {
                None => return Err("is not running".into()),
                Some(Ok(Some(status))) => {
                    self.child = None;
                    return Err(format!("exited ({status}) before {url} answered"));
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

    pub(crate) fn start_error(&self, reason: &str, kept: Option<PathBuf>) -> Error {
        let mut message = format!("federation-tests: peer `{}` ({} on {}) {reason}\n", self.name, self.host, self.addr);
        if let Some(path) = &kept {
            message.push_str(&format!("log kept at {}\n", path.display()));
        }
        message.push_str(&format!(
            "----- last 200 lines of the log of the peer `{}` -----\n{}\n----- end of the log of `{}` -----",
            self.name,
            crate::tail(&self.log_text(), 200).trim_end(),
            self.name
        ));
        Error::new(message).with_log_path(kept)
    }

    pub(crate) fn shutdown(&mut self, why: &str) {
        let Some(mut child) = self.child.take() else { return };
        let _ = child.kill();
        let _ = child.wait();
        if let Ok(mut log) = OpenOptions::new().append(true).open(&self.log_path) {
            let _ = writeln!(log, "===== federation-tests: {why} =====");
        }
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

    /// `bovine`, …
    pub fn name(&self) -> &str {
        &self.name
    }

    /// `<name>.test`, without the port.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The loopback address and port the peer listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `<name>.test:<port>`.
    pub fn domain(&self) -> String {
        format!("{}:{}", self.host, self.addr.port())
    }

    /// `http://<name>.test:<port>`, without a trailing slash.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.domain())
    }

    /// The base URL followed by `path` (which starts with `/`).
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url())
    }

    /// The peer's one actor: `http://<name>.test:<port>/actor` (Python
    /// peers), `…/users/<name>` (Node.js peers: Fedify's actor paths name
    /// the actor).
    pub fn actor_id(&self) -> String {
        match self.runtime {
            Runtime::Python => self.url("/actor"),
            Runtime::Node => self.url(&format!("/users/{}", self.name)),
        }
    }

    /// Its key, `<actor>#main-key`.
    pub fn key_id(&self) -> String {
        format!("{}#main-key", self.actor_id())
    }

    /// The actor's own inbox (`<actor>/inbox`; the shared one is `/inbox`).
    pub fn inbox(&self) -> String {
        format!("{}/inbox", self.actor_id())
    }

    /// `<name>@<name>.test:<port>` (the username is the peer's name).
    pub fn handle(&self) -> String {
        format!("{}@{}", self.name, self.domain())
    }

    /// Where the process's stdout and stderr go.
    pub fn log_path(&self) -> &Path {
        &self.log_path
    }

    /// Everything the peer logged so far: every request, signature check
    /// and delivery.
    pub fn log_text(&self) -> String {
        std::fs::read(&self.log_path).map(|bytes| String::from_utf8_lossy(&bytes).into_owned()).unwrap_or_default()
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

    /// The cluster's shared HTTP client (resolves every `<name>.test`).
    pub fn client(&self) -> &reqwest::Client {
        &self.client
    }

    /// Calls the control API (`POST` with `body`, or `GET` without) and
    /// returns its JSON answer; panics (naming the peer and pointing at its
    /// log) unless it is a 2xx with a JSON body.
    pub async fn control(&self, path: &str, body: Option<&Value>) -> Value {
        let url = self.url(path);
        let request = match body {
            Some(body) => self.client.post(&url).json(body),
            None => self.client.get(&url),
        };
        let response = match request.send().await {
            Ok(response) => response,
            Err(err) => panic!("{url} on the peer `{}` failed: {err}\n{}", self.name, self.log_hint()),
        };
        let status = response.status();
        let text = response.text().await.unwrap_or_default();
        assert!(
            status.is_success(),
            "{url} on the peer `{}` answered {status}: {text}\n{}",
            self.name,
            self.log_hint()
        );
        match serde_json::from_str(&text) {
            Ok(value) => value,
            Err(err) => panic!("{url} on the peer `{}` did not answer JSON ({err}): {text}", self.name),
        }
    }

    fn log_hint(&self) -> String {
        format!("----- last 40 lines of the peer's log -----\n{}\n-----", crate::tail(&self.log_text(), 40).trim_end())
    }

    /// Signs `activity` with the actor's key and POSTs it to `inbox`.
    /// Returns `{"status": <remote status>, "body": <remote body>}`.
    pub async fn send(&self, inbox: &str, activity: &Value) -> Value {
        self.control("/control/send", Some(&json!({"inbox": inbox, "activity": activity}))).await
    }

    /// Like [`PythonPeer::send`], but signed with another key under the
    /// actor's keyId: a forgery.
    pub async fn send_with_wrong_key(&self, inbox: &str, activity: &Value) -> Value {
        self.control("/control/send", Some(&json!({"inbox": inbox, "activity": activity, "wrong_key": true}))).await
    }

    /// Sends a `Follow` of `actor` to its inbox (found by fetching it).
    /// Returns `{"id", "inbox", "status", "body", "activity"}` (Fedify's
    /// peer adds `"attempts"`: each knock's `{"url", "spec", "status",
    /// "body"}`).
    pub async fn follow(&self, actor: &str) -> Value {
        self.control("/control/follow", Some(&json!({"object": actor}))).await
    }

    /// Sends `Create(Note)` with `inReplyTo` and a `Mention` of each of `to`
    /// (addressed to them) to the first one's inbox. Returns `{"id" (the
    /// Create), "object_id" (the Note), "inbox", "status", "body", "activity"}`.
    pub async fn reply(&self, in_reply_to: &str, to: &[&str], content: &str) -> Value {
        self.control("/control/reply", Some(&json!({"in_reply_to": in_reply_to, "to": to, "content": content}))).await
    }

    /// Every POST the peer's inboxes received, oldest first: `{"path",
    /// "method", "headers" (lowercase names), "body", "activity" (parsed, or
    /// null), "verified" (bovine checked digest and signature, and the
    /// signer is the activity's actor), "signer", "problems" (why not), "at"}`.
    pub async fn received(&self) -> Vec<Value> {
        match self.control("/control/received", None).await {
            Value::Array(entries) => entries,
            other => panic!("the peer `{}` listed no array: {other}", self.name),
        }
    }

    /// Everything the peer sent, oldest first: `{"inbox", "activity",
    /// "status", "body"}` (the remote's answer).
    pub async fn sent(&self) -> Vec<Value> {
        match self.control("/control/sent", None).await {
            Value::Array(entries) => entries,
            other => panic!("the peer `{}` listed no array: {other}", self.name),
        }
    }

    /// Every GET of the peer's actor and objects: `{"path", "headers", "at"}`.
    pub async fn fetches(&self) -> Vec<Value> {
        match self.control("/control/fetches", None).await {
            Value::Array(entries) => entries,
            other => panic!("the peer `{}` listed no array: {other}", self.name),
        }
    }

    /// Waits (up to `timeout`) until a received entry matches `matches`, and
    /// returns it; panics with everything received so far on timeout.
    pub async fn wait_for(&self, what: &str, timeout: Duration, matches: impl Fn(&Value) -> bool) -> Value {
        let started = Instant::now();
        loop {
            let received = self.received().await;
            if let Some(entry) = received.iter().find(|e| matches(e)) {
                return entry.clone();
            }
            if started.elapsed() > timeout {
                let shown = serde_json::to_string_pretty(&received).unwrap_or_default();
                panic!("the peer `{}` did not receive {what} within {timeout:?}; it received:\n{shown}", self.name);
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Waits (up to 30 s) for an activity of type `kind` (e.g. `"Accept"`).
    pub async fn wait_for_activity(&self, kind: &str) -> Value {
        self.wait_for(&format!("an activity of type {kind}"), Duration::from_secs(30), |e| {
            e["activity"]["type"] == kind
        })
        .await
    }
}

impl Drop for PythonPeer {
    fn drop(&mut self) {
        self.shutdown("peer dropped: killed with SIGKILL");
    }
}
