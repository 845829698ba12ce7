//! Several instances started together, and their logs kept when a test fails.

use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::ops::{Index, IndexMut};
use std::path::PathBuf;
use std::time::Duration;

use crate::instance::{Instance, InstanceSpec, build_client};
use crate::paths::{log_folder_name, logs_root, officehours_bin};
use crate::peer::PythonPeer;
use crate::{Error, Result};

/// Names given to instances by position when their spec has none.
const NAMES: &[&str] =
    &["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta", "iota", "kappa", "lambda", "mu"];

/// How many lines of each log the drop of a failed test prints.
const TAIL_LINES: usize = 60;

/// Tries to start an instance this many times when its port was taken meanwhile.
const PORT_ATTEMPTS: u32 = 3;

/// Options for [`Cluster`]; see [`Cluster::builder`].
#[derive(Debug, Clone)]
pub struct ClusterBuilder {
    specs: Vec<InstanceSpec>,
    peers: Vec<String>,
    ready_timeout: Duration,
    label: Option<String>,
}

impl Default for ClusterBuilder {
    fn default() -> Self {
        ClusterBuilder { specs: Vec::new(), peers: Vec::new(), ready_timeout: Duration::from_secs(30), label: None }
    }
}

impl ClusterBuilder {
    /// Adds one instance.
    pub fn instance(mut self, spec: InstanceSpec) -> Self {
        self.specs.push(spec);
        self
    }

    /// Adds `n` unnamed SQLite instances (named by position: alpha, beta, …).
    pub fn instances(mut self, n: usize) -> Self {
        self.specs.extend(std::iter::repeat_with(InstanceSpec::unnamed).take(n));
        self
    }

    /// Adds an independent ActivityPub implementation as a peer: the script
    /// `federation-tests/peers/<name>_peer.py`, run with `python3` (or
    /// `FEDERATION_PYTHON`) on the next loopback address after the instances,
    /// as `<name>.test:<port>`. Every instance resolves `<name>.test` to it
    /// from the start. Reach it with [`Cluster::peer`]; check first with
    /// [`crate::skip_without_python_module`] that its package is installed.
    pub fn python_peer(mut self, name: impl Into<String>) -> Self {
        self.peers.push(name.into());
        self
    }

    /// Adds an independent ActivityPub implementation that runs on Node.js
    /// as a peer: the script `federation-tests/peers/<name>_peer.mjs`, run
    /// with `node` (or `FEDERATION_NODE`), otherwise as
    /// [`ClusterBuilder::python_peer`]. Check first with
    /// [`crate::skip_without_node_package`] that its npm package is
    /// installed (`npm ci` in `federation-tests/peers/`).
    pub fn node_peer(mut self, name: impl Into<String>) -> Self {
        self.peers.push(name.into());
        self
    }

    /// How long each instance may take to answer `/readyz` (default 30 s).
    pub fn ready_timeout(mut self, timeout: Duration) -> Self {
        self.ready_timeout = timeout;
        self
    }

    /// The folder name under `federation-logs/` for kept logs (default: the
    /// test's name).
    pub fn label(mut self, label: impl Into<String>) -> Self {
        self.label = Some(label.into());
        self
    }

    /// Starts every instance (in parallel) and waits until all are ready.
    pub async fn start(self) -> Result<Cluster> {
        let bin = officehours_bin()?;
        let names = names(&self.specs, &self.peers)?;
        let mut instances = Vec::with_capacity(self.specs.len());
        for (index, (spec, name)) in self.specs.iter().zip(&names).enumerate() {
            instances.push(Instance::prepare(name, spec, free_addr(index)?, &bin, self.ready_timeout)?);
        }
        let mut peers = Vec::with_capacity(self.peers.len());
        for (index, name) in self.peers.iter().enumerate() {
            peers.push(PythonPeer::prepare(name, free_addr(instances.len() + index)?, self.ready_timeout)?);
        }
        // Every server (and peer) resolves every `<name>.test` to its
        // loopback address (the ports are in the domains and URLs).
        let map: Vec<String> = instances
            .iter()
            .map(|i| format!("{}={}", i.host(), i.addr().ip()))
            .chain(peers.iter().map(|p| format!("{}={}", p.host(), p.addr().ip())))
            .collect();
        for instance in &mut instances {
            instance.add_env("OFFICEHOURS_FEDERATION_TEST_HOSTS", map.join(","));
            // Background jobs every second, delivery retries after 1, 2, 4 … s.
            instance.add_env_default("OFFICEHOURS_JOB_INTERVAL_SECS", "1");
            instance.add_env_default("OFFICEHOURS_FEDERATION_RETRY_BASE_SECS", "1");
            instance.spawn()?;
        }
        for peer in &mut peers {
            peer.set_resolve(map.join(","));
            peer.spawn()?;
        }
        for index in 0..instances.len() {
            let mut attempt = 1;
            loop {
                let instance = &mut instances[index];
                let Err(reason) = instance.wait_ready().await else {
                    break;
                };
                let port_taken = instance.log_text().contains("cannot listen on");
                if port_taken && attempt < PORT_ATTEMPTS {
                    attempt += 1;
                    instance.readdress(free_addr(index)?);
                    instance.spawn()?;
                    continue;
                }
                let dir = fresh_log_dir(self.label.as_deref());
                let mut kept = None;
                for (i, other) in instances.iter_mut().enumerate() {
                    other.shutdown("another instance failed to start: killed with SIGKILL");
                    let path = other.keep_log(&dir).ok();
                    if i == index {
                        kept = path;
                    }
                }
                keep_peer_logs(&mut peers, &dir, "an instance failed to start: killed with SIGKILL");
                return Err(instances[index].start_error(&reason, kept));
            }
        }
        for index in 0..peers.len() {
            let mut attempt = 1;
            loop {
                let peer = &mut peers[index];
                let Err(reason) = peer.wait_ready().await else {
                    break;
                };
                let port_taken = peer.log_text().contains("cannot listen on");
                if port_taken && attempt < PORT_ATTEMPTS {
                    attempt += 1;
                    // The same loopback address (the instances know it), another port.
                    peer.readdress(free_addr(instances.len() + index)?);
                    peer.spawn()?;
                    continue;
                }
                let dir = fresh_log_dir(self.label.as_deref());
                for instance in &mut instances {
                    instance.shutdown("a peer failed to start: killed with SIGKILL");
                    let _ = instance.keep_log(&dir);
                }
                keep_peer_logs(&mut peers, &dir, "a peer failed to start: killed with SIGKILL");
                let kept = peers[index].keep_log(&dir).ok();
                return Err(peers[index].start_error(&reason, kept));
            }
        }
        let hosts: Vec<(String, SocketAddr)> = instances
            .iter()
            .map(|i| (i.host().to_string(), i.addr()))
            .chain(peers.iter().map(|p| (p.host().to_string(), p.addr())))
            .collect();
        let client = build_client(&hosts, false);
        for instance in &mut instances {
            instance.join(&hosts, &client);
        }
        for peer in &mut peers {
            peer.join(&client);
        }
        Ok(Cluster { instances, peers, hosts, client, label: self.label, keep_logs: false })
    }
}

/// Running instances. Dropping the cluster kills them; if the test is failing
/// (or `FEDERATION_KEEP_LOGS=1`) their logs are kept first, see the crate docs.
pub struct Cluster {
    instances: Vec<Instance>,
    peers: Vec<PythonPeer>,
    hosts: Vec<(String, SocketAddr)>,
    client: reqwest::Client,
    label: Option<String>,
    keep_logs: bool,
}

impl Cluster {
    pub fn builder() -> ClusterBuilder {
        ClusterBuilder::default()
    }

    /// Starts one instance per spec with the default options.
    pub async fn start(specs: impl IntoIterator<Item = InstanceSpec>) -> Result<Cluster> {
        specs.into_iter().fold(Cluster::builder(), ClusterBuilder::instance).start().await
    }

    /// Starts `n` SQLite instances named alpha, beta, …
    pub async fn start_n(n: usize) -> Result<Cluster> {
        Cluster::builder().instances(n).start().await
    }

    /// The instance called `name`, if any.
    pub fn get(&self, name: &str) -> Option<&Instance> {
        self.instances.iter().find(|i| i.name() == name)
    }

    /// The instance called `name`; panics if there is none.
    pub fn instance(&self, name: &str) -> &Instance {
        let index = self.position(name);
        &self.instances[index]
    }

    /// The instance called `name`, for [`Instance::kill`] and
    /// [`Instance::restart`]; panics if there is none.
    pub fn instance_mut(&mut self, name: &str) -> &mut Instance {
        let index = self.position(name);
        &mut self.instances[index]
    }

    fn position(&self, name: &str) -> usize {
        match self.instances.iter().position(|i| i.name() == name) {
            Some(index) => index,
            None => {
                let known: Vec<&str> = self.instances.iter().map(Instance::name).collect();
                panic!("no instance named `{name}` in this cluster (there are {known:?})")
            }
        }
    }

    /// The peer called `name` (see [`ClusterBuilder::python_peer`]); panics
    /// if there is none.
    pub fn peer(&self, name: &str) -> &PythonPeer {
        match self.peers.iter().find(|p| p.name() == name) {
            Some(peer) => peer,
            None => {
                let known: Vec<&str> = self.peers.iter().map(PythonPeer::name).collect();
                panic!("no peer named `{name}` in this cluster (there are {known:?})")
            }
        }
    }

    /// The peer called `name`, for [`PythonPeer::is_running`].
    pub fn peer_mut(&mut self, name: &str) -> &mut PythonPeer {
        match self.peers.iter_mut().find(|p| p.name() == name) {
            Some(peer) => peer,
            None => panic!("no peer named `{name}` in this cluster"),
        }
    }

    /// All peers, in the order they were added.
    pub fn peers(&self) -> &[PythonPeer] {
        &self.peers
    }

    /// All instances, in the order they were given.
    pub fn instances(&self) -> &[Instance] {
        &self.instances
    }

    pub fn instances_mut(&mut self) -> &mut [Instance] {
        &mut self.instances
    }

    pub fn len(&self) -> usize {
        self.instances.len()
    }

    pub fn is_empty(&self) -> bool {
        self.instances.is_empty()
    }

    /// Each instance's (then each peer's) host name and address, as the
    /// clients resolve them.
    pub fn hosts(&self) -> &[(String, SocketAddr)] {
        &self.hosts
    }

    /// The shared HTTP client (no cookies), resolving every `<name>.test`.
    pub fn client(&self) -> &reqwest::Client {
        &self.client
    }

    /// A fresh client with its own cookie jar, resolving every `<name>.test`.
    pub fn new_client(&self) -> reqwest::Client {
        build_client(&self.hosts, true)
    }

    /// Keep the logs on drop even if the test passes.
    pub fn keep_logs(&mut self) {
        self.keep_logs = true;
    }

    /// Where the logs go when they are kept.
    pub fn log_dir(&self) -> PathBuf {
        logs_root().join(log_folder_name(self.label.as_deref()))
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for instance in &mut self.instances {
            instance.shutdown("cluster dropped: killed with SIGKILL");
        }
        for peer in &mut self.peers {
            peer.shutdown("cluster dropped: killed with SIGKILL");
        }
        let failed = std::thread::panicking();
        if !(failed || self.keep_logs || keep_logs_from_env()) {
            return;
        }
        let dir = fresh_log_dir(self.label.as_deref());
        let why = if failed { "the test failed" } else { "keeping logs" };
        eprintln!("federation-tests: {why}; instance logs are in {}", dir.display());
        for instance in &self.instances {
            match instance.keep_log(&dir) {
                Ok(path) => {
                    let log = instance.log_text();
                    eprintln!(
                        "----- last {TAIL_LINES} lines of `{}` ({}) -----\n{}\n----- end of `{}` -----",
                        instance.name(),
                        path.display(),
                        crate::tail(&log, TAIL_LINES).trim_end(),
                        instance.name()
                    );
                }
                Err(err) => eprintln!("federation-tests: cannot keep the log of `{}`: {err}", instance.name()),
            }
        }
        for peer in &self.peers {
            match peer.keep_log(&dir) {
                Ok(path) => {
                    let log = peer.log_text();
                    eprintln!(
                        "----- last {TAIL_LINES} lines of the peer `{}` ({}) -----\n{}\n----- end of `{}` -----",
                        peer.name(),
                        path.display(),
                        crate::tail(&log, TAIL_LINES).trim_end(),
                        peer.name()
                    );
                }
                Err(err) => eprintln!("federation-tests: cannot keep the log of the peer `{}`: {err}", peer.name()),
            }
        }
    }
}

/// Kills every peer and copies its log to `dir`.
fn keep_peer_logs(peers: &mut [PythonPeer], dir: &std::path::Path, why: &str) {
    for peer in peers {
        peer.shutdown(why);
        let _ = peer.keep_log(dir);
    }
}

impl Index<&str> for Cluster {
    type Output = Instance;

    fn index(&self, name: &str) -> &Instance {
        self.instance(name)
    }
}

impl IndexMut<&str> for Cluster {
    fn index_mut(&mut self, name: &str) -> &mut Instance {
        self.instance_mut(name)
    }
}

impl Index<usize> for Cluster {
    type Output = Instance;

    fn index(&self, index: usize) -> &Instance {
        &self.instances[index]
    }
}

impl IndexMut<usize> for Cluster {
    fn index_mut(&mut self, index: usize) -> &mut Instance {
        &mut self.instances[index]
    }
}

fn keep_logs_from_env() -> bool {
    std::env::var("FEDERATION_KEEP_LOGS").is_ok_and(|v| !v.is_empty() && v != "0")
}

/// The kept-logs folder for this test, emptied of an earlier run's files.
fn fresh_log_dir(label: Option<&str>) -> PathBuf {
    let dir = logs_root().join(log_folder_name(label));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// Each spec's name, or one picked by position; names (the peers' too) must
/// be unique host labels. Returns the instances' names.
fn names(specs: &[InstanceSpec], peers: &[String]) -> Result<Vec<String>> {
    let mut names: Vec<String> = Vec::with_capacity(specs.len() + peers.len());
    let picked = specs.iter().enumerate().map(|(index, spec)| match &spec.name {
        Some(name) => name.clone(),
        None => NAMES.get(index).map_or_else(|| format!("node{index}"), |n| n.to_string()),
    });
    for name in picked.chain(peers.iter().cloned()) {
        let valid = !name.is_empty()
            && !name.starts_with('-')
            && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
        if !valid {
            return Err(Error::new(format!(
                "instance or peer name `{name}` must be a host label: lowercase letters, digits and '-'"
            )));
        }
        if names.contains(&name) {
            return Err(Error::new(format!("two instances or peers are named `{name}`")));
        }
        names.push(name);
    }
    names.truncate(specs.len());
    Ok(names)
}

/// A free port on the instance's own loopback address (127.0.0.2, .3, …),
/// or on 127.0.0.1 where only that one exists.
fn free_addr(index: usize) -> Result<SocketAddr> {
    let own = u8::try_from(index + 2).ok().filter(|&last| last < 255).map(|last| Ipv4Addr::new(127, 0, 0, last));
    let listener = own
        .and_then(|ip| TcpListener::bind((ip, 0)).ok())
        .map_or_else(|| TcpListener::bind((Ipv4Addr::LOCALHOST, 0)), Ok)
        .map_err(|e| Error::new(format!("cannot find a free port on the loopback interface: {e}")))?;
    listener.local_addr().map_err(|e| Error::new(format!("cannot read the free port: {e}")))
}
