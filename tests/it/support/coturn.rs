//! A real TURN server for the relay test: Debian's coturn (`turnserver`) on
//! loopback with the shared-secret (REST) credentials Officehours hands out,
//! killed when the guard goes.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use rand::Rng;

pub const TURNSERVER: &str = "turnserver";

pub struct Coturn {
    child: Child,
    /// The TURN port (UDP and TCP) on 127.0.0.1.
    pub port: u16,
    /// `--static-auth-secret`, to give the Officehours server as `turn_secret`.
    pub secret: String,
    dir: tempfile::TempDir,
}

/// `name` on the PATH, if it is there.
fn on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|dir| dir.join(name)).find(|file| file.is_file())
}

impl Coturn {
    /// Starts coturn on a free loopback port, relaying from 127.0.0.1 and
    /// allowing loopback peers (the Officehours media port is on loopback).
    /// Skips on a machine without coturn; fails in CI.
    pub fn start() -> Option<Coturn> {
        let binary = on_path(TURNSERVER);
        if !super::require("coturn's turnserver (apt-get install coturn)", binary.is_some()) {
            return None;
        }
        let port = super::free_port();
        let secret: String = rand::rng().sample_iter(rand::distr::Alphanumeric).take(32).map(char::from).collect();
        let dir = tempfile::tempdir().unwrap();
        let file = |name: &str| dir.path().join(name).display().to_string();
        let child = Command::new(binary.unwrap())
            .args([
                "-n",
                "--no-cli",
                "--no-tls",
                "--no-dtls",
                "--fingerprint",
                "--simple-log",
                "--no-stdout-log",
                "--verbose",
            ])
            .args(["--listening-ip=127.0.0.1", "--relay-ip=127.0.0.1", "--allow-loopback-peers"])
            .arg(format!("--listening-port={port}"))
            .args(["--use-auth-secret".to_string(), format!("--static-auth-secret={secret}")])
            .arg("--realm=officehours.test")
            .arg(format!("--log-file={}", file("turn.log")))
            .arg(format!("--pidfile={}", file("turnserver.pid")))
            .arg(format!("--userdb={}", file("turndb")))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start turnserver");
        // Owned at once, so that a failed start still kills the process.
        let turn = Coturn { child, port, secret, dir };
        super::wait_for_port(port, "turnserver");
        Some(turn)
    }

    /// The TURN URL for `turn_urls` (UDP).
    pub fn url(&self) -> String {
        format!("turn:127.0.0.1:{}?transport=udp", self.port)
    }

    /// What coturn logged so far (shown when a relay check fails).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("turn.log")).unwrap_or_default()
    }
}

impl Drop for Coturn {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
