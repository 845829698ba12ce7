//! A real SMTP server for mail tests: Python's aiosmtpd, writing a maildir.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

pub struct SmtpServer {
    child: Child,
    pub port: u16,
    maildir: tempfile::TempDir,
}

impl SmtpServer {
    pub fn start() -> Option<SmtpServer> {
        Self::start_on(super::free_port())
    }

    /// On a given port (e.g. one a server was told about while nothing listened).
    pub fn start_on(port: u16) -> Option<SmtpServer> {
        let available =
            Command::new("python3").args(["-c", "import aiosmtpd"]).output().is_ok_and(|o| o.status.success());
        if !super::require("Python's aiosmtpd (pip install aiosmtpd)", available) {
            return None;
        }
        let maildir = tempfile::tempdir().unwrap();
        let child = Command::new("python3")
            .args(["-m", "aiosmtpd", "-n", "-l", &format!("127.0.0.1:{port}"), "-c", "aiosmtpd.handlers.Mailbox"])
            .arg(maildir.path().join("mail"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start aiosmtpd");
        // Owned at once, so that a failed start still kills the process.
        let server = SmtpServer { child, port, maildir };
        super::wait_for_port(port, "aiosmtpd");
        Some(server)
    }

    pub fn messages(&self) -> Vec<String> {
        let new = self.maildir.path().join("mail").join("new");
        let Ok(entries) = std::fs::read_dir(new) else {
            return Vec::new();
        };
        entries
            .filter_map(|e| e.ok())
            .filter_map(|e| std::fs::read_to_string(e.path()).ok())
            .map(|m| super::decode_quoted_printable(&m))
            .collect()
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl SmtpServer {
    /// Waits (up to 10 s) for a mail to `to` whose text contains `needle`.
    pub async fn wait_for(&self, to: &str, needle: &str) -> String {
        for _ in 0..200 {
            if let Some(mail) =
                self.messages().into_iter().find(|m| m.contains(&format!("To: {to}")) && m.contains(needle))
            {
                return mail;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("no mail to {to} containing {needle:?}; the server has: {:#?}", self.messages());
    }
}
