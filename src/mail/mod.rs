//! Outgoing e-mail. With `smtp_url` configured, mail goes through SMTP
//! (lettre); without it, every mail is written as an `.eml` file to the
//! outbox folder under the data dir, so a fresh instance works with no mail
//! server and an admin can still read what would have been sent.

pub mod messages;

use std::path::PathBuf;

use lettre::message::{Mailbox, header::ContentType};
use lettre::transport::smtp::AsyncSmtpTransport;
use lettre::{AsyncFileTransport, AsyncTransport, Message, Tokio1Executor};

#[derive(Clone)]
pub enum Mailer {
    Smtp { transport: AsyncSmtpTransport<Tokio1Executor>, from: Mailbox },
    Outbox { transport: AsyncFileTransport<Tokio1Executor>, dir: PathBuf, from: Mailbox },
}

/// A mail ready to go: recipient, subject and a plain-text body.
#[derive(Debug, Clone)]
pub struct Mail {
    pub to: String,
    pub subject: String,
    pub body: String,
}

impl Mailer {
    pub fn new(smtp_url: Option<&str>, from: &str, outbox: PathBuf) -> anyhow::Result<Mailer> {
        let from: Mailbox = from.parse().map_err(|e| anyhow::anyhow!("invalid mail_from address `{from}`: {e}"))?;
        match smtp_url {
            Some(url) => {
                let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
                    .map_err(|e| anyhow::anyhow!("invalid smtp_url: {e}"))?
                    .build();
                Ok(Mailer::Smtp { transport, from })
            }
            None => {
                std::fs::create_dir_all(&outbox)
                    .map_err(|e| anyhow::anyhow!("cannot create mail outbox {}: {e}", outbox.display()))?;
                Ok(Mailer::Outbox { transport: AsyncFileTransport::new(&outbox), dir: outbox, from })
            }
        }
    }

    /// A human description for the start-up log.
    pub fn describe(&self) -> String {
        match self {
            Mailer::Smtp { .. } => "mail is sent through the configured SMTP server".into(),
            Mailer::Outbox { dir, .. } => format!(
                "no SMTP server configured: mails are written to {} (set OFFICEHOURS_SMTP_URL to send them)",
                dir.display()
            ),
        }
    }

    pub async fn send(&self, mail: &Mail) -> anyhow::Result<()> {
        let from = match self {
            Mailer::Smtp { from, .. } | Mailer::Outbox { from, .. } => from.clone(),
        };
        let to: Mailbox = mail.to.parse().map_err(|e| anyhow::anyhow!("invalid recipient: {e}"))?;
        let message = Message::builder()
            .from(from)
            .to(to)
            .subject(&mail.subject)
            .header(ContentType::TEXT_PLAIN)
            .body(mail.body.clone())?;
        match self {
            Mailer::Smtp { transport, .. } => {
                transport.send(message).await?;
            }
            Mailer::Outbox { transport, .. } => {
                transport.send(message).await?;
            }
        }
        Ok(())
    }

    /// Sends in the background so a slow mail server never slows a page;
    /// failures are logged with the recipient's subject line.
    pub fn send_later(&self, mail: Mail) {
        let mailer = self.clone();
        tokio::spawn(async move {
            if let Err(err) = mailer.send(&mail).await {
                tracing::error!(subject = %mail.subject, error = %err, "sending mail failed");
            }
        });
    }
}
