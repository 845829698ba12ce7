//! Mail through a real SMTP server (Python's aiosmtpd, started by the test).

use crate::support;

use std::time::Duration;

use reqwest::StatusCode;
use support::server::PASSWORD;
use support::smtp::SmtpServer;
use support::{TestDatabase, TestServer};

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
    assert!(server.store.user_by_username("shannon").await.unwrap().email_verified);
}
