//! Messages between two people (N2). Local for now; the conversation model
//! already takes remote participants, which the federation layer delivers as
//! direct messages.

use crate::domain::notification::Kind;
use crate::domain::person_ref::PersonRef;
use crate::service::App;
use crate::storage::{Constraint, ConversationSummary, Effects, Message, StorageError, User};

use super::AppError;
use super::notifications::Notice;

pub const MESSAGE_MAX: usize = 5000;
/// Messages shown in a thread.
const THREAD_LENGTH: i64 = 200;

/// A conversation with one person, as its page shows it.
#[derive(Debug, Clone)]
pub struct Thread {
    pub other: User,
    pub conversation_id: Option<i64>,
    pub messages: Vec<Message>,
}

impl App {
    pub async fn conversations(&self, user: &User) -> Result<Vec<ConversationSummary>, AppError> {
        Ok(self.store.conversations_of(user.id).await?)
    }

    /// The thread with `username` (empty before the first message); reading
    /// it marks it read.
    pub async fn thread(&self, user: &User, username: &str) -> Result<Thread, AppError> {
        let other = self.recipient(user, username).await?;
        let key = crate::storage::local_pair_key(user.id, other.id);
        let Some(id) = self.store.conversation_id(&key).await? else {
            return Ok(Thread { other, conversation_id: None, messages: Vec::new() });
        };
        let messages = self.store.messages_in(id, THREAD_LENGTH).await?;
        self.store.mark_conversation_read(id, user.id, self.clock.now_ms()).await?;
        Ok(Thread { other, conversation_id: Some(id), messages })
    }

    /// Sends a message; the recipient is notified (and mailed, if they want).
    pub async fn send_message(&self, sender: &User, username: &str, body: &str) -> Result<Message, AppError> {
        let body = crate::domain::validation_text("body", "A message", body, MESSAGE_MAX)?;
        if body.is_empty() {
            return Err(AppError::invalid("body", "required", "Write a message first."));
        }
        let recipient = self.recipient(sender, username).await?;
        if recipient.suspended_at.is_some() {
            return Err(AppError::Conflict(
                "recipient_suspended",
                format!("@{} is suspended on this instance and cannot receive messages.", recipient.username),
            ));
        }
        let key = format!("user:{}", sender.id);
        self.message_limiter.check(&key)?;
        self.message_limiter.record_failure(&key);
        let notice = self.message_notice(sender, &body);
        let mut effects = Effects::default();
        self.notify(&mut effects, &recipient, Kind::Message, notice).await?;
        let message =
            self.store.send_local_message(sender.id, recipient.id, &body, effects, None, self.clock.now_ms()).await?;
        self.jobs.notify_one();
        Ok(message)
    }

    /// A direct message from a remote person (`sender`, their shadow
    /// account) to a local one: into their thread, once per `ap_id`, with the
    /// recipient's notification and mail.
    pub async fn receive_remote_message(
        &self,
        sender: &User,
        recipient: &User,
        body: &str,
        ap_id: &str,
    ) -> Result<Option<Message>, AppError> {
        let body: String = body.trim().chars().take(MESSAGE_MAX).collect();
        if body.is_empty() || recipient.suspended_at.is_some() {
            return Ok(None);
        }
        let notice = self.message_notice(sender, &body);
        let mut effects = Effects::default();
        self.notify(&mut effects, recipient, Kind::Message, notice).await?;
        match self
            .store
            .send_local_message(sender.id, recipient.id, &body, effects, Some(ap_id), self.clock.now_ms())
            .await
        {
            Ok(message) => {
                self.jobs.notify_one();
                Ok(Some(message))
            }
            Err(StorageError::Duplicate(Constraint::Activity)) => Ok(None),
            Err(err) => Err(err.into()),
        }
    }

    /// The recipient's notice of a message: a feed line and mail for local
    /// people, the message itself as a direct message for remote ones.
    fn message_notice(&self, sender: &User, body: &str) -> Notice {
        let preview: String = body.chars().take(140).collect();
        let link = self.config.link(&format!("/messages/{}", sender.username));
        Notice {
            subject: format!("New message from {} (@{})", sender.name(), sender.username),
            line: format!("{} (@{}) wrote: {preview}", sender.name(), sender.username),
            details: format!("{} (@{}) wrote:\n\n{body}\n\nReply: {link}", sender.name(), sender.username),
            actor_id: Some(sender.id),
            request_id: None,
            from_id: Some(sender.id),
            dm: Some(body.to_string()),
        }
    }

    /// The other person of a conversation: must exist, and not be the sender.
    async fn recipient(&self, user: &User, username: &str) -> Result<User, AppError> {
        let found = match PersonRef::parse(username, &self.config.domain) {
            // Someone elsewhere who has written or booked here before.
            PersonRef::Remote(handle) => self.store.shadow_by_username(&handle.to_string().to_lowercase()).await,
            PersonRef::Local(name) => self.store.user_by_username(&name).await,
        };
        let other = match found {
            Ok(other) => other,
            Err(StorageError::NotFound) => return Err(AppError::NotFound("person")),
            Err(err) => return Err(err.into()),
        };
        if other.id == user.id {
            return Err(AppError::invalid("to", "cannot_message_self", "You cannot send a message to yourself."));
        }
        Ok(other)
    }
}
