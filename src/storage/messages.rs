//! Conversations between two people and their messages (N2).
//!
//! A participant is a local user (`user_id`) or a remote actor
//! (`remote_actor`, its ActivityPub id); a conversation is found by its
//! sorted pair of participants (`pair_key`), so two people share one thread.

use super::{Effects, Result, Store};

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow, serde::Serialize)]
pub struct Message {
    pub id: i64,
    pub conversation_id: i64,
    pub sender_id: Option<i64>,
    pub sender_actor: Option<String>,
    /// The sender's username (local senders).
    pub sender_username: Option<String>,
    pub body: String,
    pub created_at: i64,
}

/// One conversation in a person's list.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ConversationSummary {
    pub id: i64,
    pub last_message_at: i64,
    pub other_username: Option<String>,
    pub other_name: Option<String>,
    pub other_actor: Option<String>,
    pub last_body: Option<String>,
    pub unread: i64,
}

const MESSAGE_SELECT: &str = "SELECT m.id, m.conversation_id, m.sender_id, m.sender_actor, \
     u.username AS sender_username, m.body, m.created_at FROM messages m LEFT JOIN users u ON u.id = m.sender_id";

/// The key of a conversation between two local users.
pub fn local_pair_key(a: i64, b: i64) -> String {
    let (low, high) = if a <= b { (a, b) } else { (b, a) };
    format!("u:{low}|u:{high}")
}

impl Store {
    pub async fn conversation_id(&self, pair_key: &str) -> Result<Option<i64>> {
        Ok(sqlx::query_scalar("SELECT id FROM conversations WHERE pair_key = $1")
            .bind(pair_key)
            .fetch_optional(self.pool())
            .await?)
    }

    /// Sends a message from one person to another (either may be a remote
    /// person's shadow account; `received_as` is the id of a received direct
    /// message, recorded once), creating their conversation on the first
    /// message; the recipient's notification (and
    /// mail) are written in the same transaction.
    pub async fn send_local_message(
        &self,
        sender_id: i64,
        recipient_id: i64,
        body: &str,
        mut effects: Effects,
        received_as: Option<&str>,
        now: i64,
    ) -> Result<Message> {
        let mut tx = self.begin_write().await?;
        if let Some(ap_id) = received_as
            && !super::follows::first_sight(&mut tx, ap_id, now).await?
        {
            return Err(super::StorageError::Duplicate(super::Constraint::Activity));
        }
        let conversation_id: i64 = sqlx::query_scalar(
            "INSERT INTO conversations (pair_key, created_at, last_message_at) VALUES ($1, $2, $2) \
             ON CONFLICT (pair_key) DO UPDATE SET last_message_at = excluded.last_message_at RETURNING id",
        )
        .bind(local_pair_key(sender_id, recipient_id))
        .bind(now)
        .fetch_one(&mut *tx)
        .await?;
        for user in [sender_id, recipient_id] {
            sqlx::query(
                "INSERT INTO conversation_participants (conversation_id, user_id, last_read_at) VALUES ($1, $2, 0) \
                 ON CONFLICT DO NOTHING",
            )
            .bind(conversation_id)
            .bind(user)
            .execute(&mut *tx)
            .await?;
        }
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO messages (conversation_id, sender_id, body, created_at, ap_id) VALUES ($1, $2, $3, $4, $5) \
             RETURNING id",
        )
        .bind(conversation_id)
        .bind(sender_id)
        .bind(body)
        .bind(now)
        .bind(received_as)
        .fetch_one(&mut *tx)
        .await?;
        sqlx::query(
            "UPDATE conversation_participants SET last_read_at = $3 WHERE conversation_id = $1 AND user_id = $2",
        )
        .bind(conversation_id)
        .bind(sender_id)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        for n in &mut effects.notifications {
            n.conversation_id = Some(conversation_id);
        }
        super::notifications::write_effects(&mut tx, &effects, now).await?;
        tx.commit().await?;
        let sql = format!("{MESSAGE_SELECT} WHERE m.id = $1");
        Ok(sqlx::query_as(&sql).bind(id).fetch_one(self.pool()).await?)
    }

    /// A person's conversations, most recent first, with the other side,
    /// the last message and how many are unread.
    pub async fn conversations_of(&self, user_id: i64) -> Result<Vec<ConversationSummary>> {
        Ok(sqlx::query_as(
            "SELECT c.id, c.last_message_at, u.username AS other_username, u.display_name AS other_name, \
             o.remote_actor AS other_actor, \
             (SELECT m.body FROM messages m WHERE m.conversation_id = c.id ORDER BY m.id DESC LIMIT 1) AS last_body, \
             (SELECT COUNT(*) FROM messages m WHERE m.conversation_id = c.id AND m.created_at > p.last_read_at \
               AND (m.sender_id IS NULL OR m.sender_id <> $1)) AS unread \
             FROM conversation_participants p JOIN conversations c ON c.id = p.conversation_id \
             JOIN conversation_participants o ON o.conversation_id = c.id AND (o.user_id IS NULL OR o.user_id <> $1) \
             LEFT JOIN users u ON u.id = o.user_id \
             WHERE p.user_id = $1 ORDER BY c.last_message_at DESC, c.id DESC",
        )
        .bind(user_id)
        .fetch_all(self.pool())
        .await?)
    }

    /// How many messages from others a person has not read yet, over all
    /// their conversations (the count beside Messages in the navigation).
    pub async fn unread_messages(&self, user_id: i64) -> Result<i64> {
        Ok(sqlx::query_scalar(
            "SELECT COUNT(*) FROM messages m JOIN conversation_participants p \
             ON p.conversation_id = m.conversation_id AND p.user_id = $1 \
             WHERE m.created_at > p.last_read_at AND (m.sender_id IS NULL OR m.sender_id <> $1)",
        )
        .bind(user_id)
        .fetch_one(self.pool())
        .await?)
    }

    /// The newest `limit` messages of a conversation, oldest first.
    pub async fn messages_in(&self, conversation_id: i64, limit: i64) -> Result<Vec<Message>> {
        let sql = format!("{MESSAGE_SELECT} WHERE m.conversation_id = $1 ORDER BY m.id DESC LIMIT $2");
        let mut messages: Vec<Message> =
            sqlx::query_as(&sql).bind(conversation_id).bind(limit).fetch_all(self.pool()).await?;
        messages.reverse();
        Ok(messages)
    }

    pub async fn mark_conversation_read(&self, conversation_id: i64, user_id: i64, now: i64) -> Result<()> {
        sqlx::query(
            "UPDATE conversation_participants SET last_read_at = $3 WHERE conversation_id = $1 AND user_id = $2",
        )
        .bind(conversation_id)
        .bind(user_id)
        .bind(now)
        .execute(self.writer())
        .await?;
        // Reading the thread also reads its notifications.
        sqlx::query(
            "UPDATE notifications SET read_at = $3 WHERE conversation_id = $1 AND user_id = $2 AND read_at IS NULL",
        )
        .bind(conversation_id)
        .bind(user_id)
        .bind(now)
        .execute(self.writer())
        .await?;
        Ok(())
    }
}
