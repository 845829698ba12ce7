//! Mail through a real SMTP server (Python's aiosmtpd, started by the test).

mod support;

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use reqwest::StatusCode;
use support::server::PASSWORD;
use support::{TestDatabase, TestServer};

struct SmtpServer {
    child: Child,
    port: u16,
    maildir: tempfile::TempDir,
}

impl SmtpServer {
    fn start() -> Option<SmtpServer> {
        let available =
            Command::new("python3").args(["-c", "import aiosmtpd"]).output().is_ok_and(|o| o.status.success());
        if !support::require("Python's aiosmtpd (pip install aiosmtpd)", available) {
            return None;
        }
        let port = support::free_port();
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
        support::wait_for_port(port, "aiosmtpd");
        Some(server)
    }

    fn messages(&self) -> Vec<String> {
        let new = self.maildir.path().join("mail").join("new");
        let Ok(entries) = std::fs::read_dir(new) else {
            return Vec::new();
        };
        entries
            .filter_map(|e| e.ok())
            .filter_map(|e| std::fs::read_to_string(e.path()).ok())
            .map(|m| support::decode_quoted_printable(&m))
            .collect()
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test]
async fn confirmation_mail_arrives_at_a_real_smtp_server() {
    let Some(smtp) = SmtpServer::start() else {
        return;
    };
    let db = TestDatabase::sqlite().await;
    let port = smtp.port;
    let server = TestServer::start_with(&db, |c| {
        c.smtp_url = Some(format!("smtp://127.0.0.1:{port}"));
        c.mail_from = "Hours <hours@example.org>".into();
    })
    .await;
    let mut browser = server.browser();
    assert_eq!(browser.sign_up("shannon", "shannon@example.org", PASSWORD).await.status, StatusCode::SEE_OTHER);

    let mut mail = None;
    for _ in 0..100 {
        mail = smtp.messages().into_iter().find(|m| m.contains("shannon@example.org"));
        if mail.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mail = mail.expect("the confirmation mail reached the SMTP server");
    assert!(mail.contains("From: Hours <hours@example.org>"), "{mail}");
    assert!(mail.contains("Subject: Confirm your e-mail address for Officehours"));
    assert!(server.mails().is_empty(), "nothing goes to the outbox folder when SMTP is configured");
    let start = mail.find(&server.base).expect("a link to this instance");
    let link: String = mail[start..].chars().take_while(|c| !c.is_whitespace()).collect();
    assert_eq!(browser.get(&link).await.status, StatusCode::SEE_OTHER);
    assert!(server.app.store.user_by_username("shannon").await.unwrap().email_verified);
}
