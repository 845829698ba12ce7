//! The activity feed, mail preferences, reminders and the durable mail
//! outbox (N1), and turning booking events into their effects exactly once.

use std::marker::PhantomData;

use sqlx::{Any, Transaction};

use super::queue::Queue;
use super::{Result, Store};
use crate::domain::booking::EventKind;
use crate::domain::karma::KarmaKind;
use crate::domain::notification::Kind;

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Notification {
    pub id: i64,
    pub user_id: i64,
    #[sqlx(try_from = "String")]
    pub kind: Kind,
    pub actor_id: Option<i64>,
    pub request_id: Option<i64>,
    pub conversation_id: Option<i64>,
    pub body: String,
    pub created_at: i64,
    pub read_at: Option<i64>,
}

/// A notification to write (and maybe a mail to send with it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewNotification {
    pub user_id: i64,
    pub kind: Kind,
    pub actor_id: Option<i64>,
    pub request_id: Option<i64>,
    pub conversation_id: Option<i64>,
    pub body: String,
}

/// A mail to queue: recipient address, subject, plain-text body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutgoingMail {
    pub recipient: String,
    pub subject: String,
    pub body: String,
}

/// A karma change to record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewKarma {
    pub user_id: i64,
    pub kind: KarmaKind,
    pub points: i64,
    pub request_id: Option<i64>,
    pub actor_id: Option<i64>,
    pub note: String,
}

/// Everything one event causes, written in one transaction.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Effects {
    pub notifications: Vec<NewNotification>,
    pub mails: Vec<OutgoingMail>,
    pub karma: Vec<NewKarma>,
    /// Activities for remote people (direct messages, `Accept`, `Reject`,
    /// `Join`), queued like mail.
    pub deliveries: Vec<super::NewDelivery>,
}

/// A booking event not yet turned into notifications, mail and karma.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct PendingEvent {
    pub id: i64,
    pub request_id: Option<i64>,
    pub actor_id: Option<i64>,
    pub subject_id: Option<i64>,
    #[sqlx(try_from = "String")]
    pub kind: EventKind,
    pub note: String,
    pub created_at: i64,
}

/// A mail the outbox worker has claimed.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct QueuedMail {
    pub id: i64,
    pub recipient: String,
    pub subject: String,
    pub body: String,
    pub attempts: i64,
}

/// The mail outbox (`mail_outbox`) as a durable queue: every mail goes
/// through it (`insert_mail`), sent by `App::send_queued_mail`.
pub const MAIL_OUTBOX: Queue<QueuedMail> = Queue {
    table: "mail_outbox",
    done_column: "sent_at",
    returning: "id, recipient, subject, body, attempts",
    hold_back: "",
    row: PhantomData,
};

/// An approved session starting soon, with one of its two people.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct DueReminder {
    pub request_id: i64,
    pub user_id: i64,
    pub starts_at: i64,
    pub reminder_minutes: Option<i64>,
}

const PENDING_SELECT: &str = "SELECT id, request_id, actor_id, subject_id, kind, note, created_at FROM booking_events \
     WHERE processed_at IS NULL";

const NOTIFICATION_COLUMNS: &str =
    "id, user_id, kind, actor_id, request_id, conversation_id, body, created_at, read_at";

/// A notification with the username of the person it is from (for links
/// to a conversation), read in one query.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct FeedRow {
    #[sqlx(flatten)]
    pub notification: Notification,
    pub actor_username: Option<String>,
    /// The request it is about, if any: its note, state, advisor and times
    /// (so the feed can show the note and offer the decision).
    pub request_note: Option<String>,
    #[sqlx(try_from = "super::db_word::DbOptWord")]
    pub request_status: Option<crate::domain::booking::RequestStatus>,
    pub request_advisor_id: Option<i64>,
    pub request_starts_at: Option<i64>,
    pub request_ends_at: Option<i64>,
}

impl Store {
    /// A person's newest notifications with their senders' usernames (at
    /// most `limit`, before `before`).
    pub async fn notification_feed(&self, user_id: i64, before: Option<i64>, limit: i64) -> Result<Vec<FeedRow>> {
        Ok(sqlx::query_as(
            "SELECT n.id, n.user_id, n.kind, n.actor_id, n.request_id, n.conversation_id, n.body, n.created_at, \
             n.read_at, u.username AS actor_username, r.note AS request_note, r.status AS request_status, \
             r.advisor_id AS request_advisor_id, s.starts_at AS request_starts_at, s.ends_at AS request_ends_at \
             FROM notifications n LEFT JOIN users u ON u.id = n.actor_id \
             LEFT JOIN requests r ON r.id = n.request_id LEFT JOIN slots s ON s.id = r.slot_id \
             WHERE n.user_id = $1 AND n.id < $2 ORDER BY n.id DESC LIMIT $3",
        )
        .bind(user_id)
        .bind(before.unwrap_or(i64::MAX))
        .bind(limit)
        .fetch_all(self.pool())
        .await?)
    }

    /// A person's newest notifications (at most `limit`, before `before`).
    pub async fn notifications(&self, user_id: i64, before: Option<i64>, limit: i64) -> Result<Vec<Notification>> {
        let sql = format!(
            "SELECT {NOTIFICATION_COLUMNS} FROM notifications WHERE user_id = $1 AND id < $2 ORDER BY id DESC LIMIT $3"
        );
        Ok(sqlx::query_as(&sql)
            .bind(user_id)
            .bind(before.unwrap_or(i64::MAX))
            .bind(limit)
            .fetch_all(self.pool())
            .await?)
    }

    pub async fn unread_notifications(&self, user_id: i64) -> Result<i64> {
        Ok(sqlx::query_scalar("SELECT COUNT(*) FROM notifications WHERE user_id = $1 AND read_at IS NULL")
            .bind(user_id)
            .fetch_one(self.pool())
            .await?)
    }

    /// Marks every notification up to `through` as read.
    pub async fn mark_notifications_read(&self, user_id: i64, through: i64, now: i64) -> Result<u64> {
        let done =
            sqlx::query("UPDATE notifications SET read_at = $3 WHERE user_id = $1 AND id <= $2 AND read_at IS NULL")
                .bind(user_id)
                .bind(through)
                .bind(now)
                .execute(self.writer())
                .await?;
        Ok(done.rows_affected())
    }

    /// Marks a person's notifications about one request as read (they
    /// opened its page).
    pub async fn mark_request_notifications_read(&self, user_id: i64, request_id: i64, now: i64) -> Result<()> {
        sqlx::query("UPDATE notifications SET read_at = $3 WHERE user_id = $1 AND request_id = $2 AND read_at IS NULL")
            .bind(user_id)
            .bind(request_id)
            .bind(now)
            .execute(self.writer())
            .await?;
        Ok(())
    }

    /// The kinds a person switched off for e-mail.
    pub async fn mail_off(&self, user_id: i64) -> Result<Vec<Kind>> {
        let kinds: Vec<String> =
            sqlx::query_scalar("SELECT kind FROM notification_mail_off WHERE user_id = $1 ORDER BY kind")
                .bind(user_id)
                .fetch_all(self.pool())
                .await?;
        kinds.into_iter().map(super::db_word::word).collect()
    }

    /// Replaces the switched-off kinds and the reminder time in one go.
    pub async fn save_notification_settings(
        &self,
        user_id: i64,
        mail_off: &[Kind],
        reminder_minutes: Option<i64>,
        now: i64,
    ) -> Result<()> {
        let mut tx = self.begin_write().await?;
        sqlx::query("DELETE FROM notification_mail_off WHERE user_id = $1").bind(user_id).execute(&mut *tx).await?;
        for kind in mail_off {
            sqlx::query("INSERT INTO notification_mail_off (user_id, kind) VALUES ($1, $2)")
                .bind(user_id)
                .bind(kind.as_str())
                .execute(&mut *tx)
                .await?;
        }
        sqlx::query("UPDATE users SET reminder_minutes = $2, updated_at = $3 WHERE id = $1")
            .bind(user_id)
            .bind(reminder_minutes)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Unprocessed booking events with ids above `after`, oldest first.
    pub async fn pending_events_after(&self, after: i64, limit: i64) -> Result<Vec<PendingEvent>> {
        let sql = format!("{PENDING_SELECT} AND id > $1 ORDER BY id LIMIT $2");
        Ok(sqlx::query_as(&sql).bind(after).bind(limit).fetch_all(self.pool()).await?)
    }

    /// The unprocessed events of some requests, oldest first.
    pub async fn pending_events(&self, requests: &[i64]) -> Result<Vec<PendingEvent>> {
        if requests.is_empty() {
            return Ok(Vec::new());
        }
        let list = super::placeholders(1, requests.len());
        let sql = format!("{PENDING_SELECT} AND request_id IN ({list}) ORDER BY id");
        let mut query = sqlx::query_as(&sql);
        for id in requests {
            query = query.bind(*id);
        }
        Ok(query.fetch_all(self.pool()).await?)
    }

    /// Writes an event's effects and marks it processed, in one transaction.
    /// Returns false (and writes nothing) when another worker got there first.
    pub async fn apply_event_effects(&self, event_id: i64, effects: &Effects, now: i64) -> Result<bool> {
        self.claim_with_effects(
            "UPDATE booking_events SET processed_at = $2 WHERE id = $1 AND processed_at IS NULL",
            &[event_id],
            effects,
            now,
        )
        .await
    }

    /// [`Store::apply_event_effects`] for several events in one transaction
    /// (a group commit): each event is claimed and, the first time only,
    /// its effects written. Returns how many were applied.
    pub async fn apply_effects_batch(&self, batch: &[(i64, Effects)], now: i64) -> Result<usize> {
        let mut tx = self.begin_write().await?;
        let mut applied = 0;
        for (event_id, effects) in batch {
            let claimed =
                sqlx::query("UPDATE booking_events SET processed_at = $2 WHERE id = $1 AND processed_at IS NULL")
                    .bind(event_id)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
            if claimed.rows_affected() == 1 {
                write_effects(&mut tx, effects, now).await?;
                applied += 1;
            }
        }
        tx.commit().await?;
        Ok(applied)
    }

    /// The one way "do this once, with its effects" is written: `claim_sql`
    /// (binding `keys`, then the current time last) must change exactly one
    /// row the first time and none after; only then are the effects written,
    /// in the same transaction. False when it was done before.
    pub(super) async fn claim_with_effects(
        &self,
        claim_sql: &str,
        keys: &[i64],
        effects: &Effects,
        now: i64,
    ) -> Result<bool> {
        let mut tx = self.begin_write().await?;
        let mut claim = sqlx::query(claim_sql);
        for key in keys {
            claim = claim.bind(*key);
        }
        if claim.bind(now).execute(&mut *tx).await?.rows_affected() != 1 {
            return Ok(false);
        }
        write_effects(&mut tx, effects, now).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Approved sessions starting in `[from, to)` whose people have not had
    /// their reminder yet (one row per person).
    pub async fn reminder_candidates(&self, from: i64, to: i64) -> Result<Vec<DueReminder>> {
        Ok(sqlx::query_as(
            "SELECT r.id AS request_id, u.id AS user_id, s.starts_at, u.reminder_minutes \
             FROM requests r JOIN slots s ON s.id = r.slot_id \
             JOIN users u ON u.id = r.learner_id OR u.id = r.advisor_id \
             WHERE r.status = 'approved' AND s.starts_at >= $1 AND s.starts_at < $2 \
             AND NOT EXISTS (SELECT 1 FROM reminders_sent x WHERE x.request_id = r.id AND x.user_id = u.id) \
             ORDER BY s.starts_at",
        )
        .bind(from)
        .bind(to)
        .fetch_all(self.pool())
        .await?)
    }

    /// Records a reminder as sent together with its notification and mail;
    /// false when it was sent already.
    pub async fn send_reminder(&self, request_id: i64, user_id: i64, effects: &Effects, now: i64) -> Result<bool> {
        self.claim_with_effects(
            "INSERT INTO reminders_sent (request_id, user_id, sent_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
            &[request_id, user_id],
            effects,
            now,
        )
        .await
    }

    /// Queues one mail on its own (account mails: confirmation, reset).
    pub async fn queue_mail(&self, mail: &OutgoingMail, now: i64) -> Result<()> {
        let mut tx = self.begin_write().await?;
        insert_mail(&mut tx, mail, now).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Mails not sent yet (for the admin and the tests).
    pub async fn unsent_mail(&self) -> Result<i64> {
        self.pending(&MAIL_OUTBOX).await
    }

    /// Removes sent mail older than `before` (the outbox is not an archive).
    pub async fn purge_sent_mail(&self, before: i64) -> Result<u64> {
        let done = sqlx::query(
            "DELETE FROM mail_outbox WHERE (sent_at IS NOT NULL OR failed_at IS NOT NULL) AND created_at < $1",
        )
        .bind(before)
        .execute(self.writer())
        .await?;
        Ok(done.rows_affected())
    }
}

pub(super) async fn write_effects(tx: &mut Transaction<'static, Any>, effects: &Effects, now: i64) -> Result<()> {
    for n in &effects.notifications {
        sqlx::query(
            "INSERT INTO notifications (user_id, kind, actor_id, request_id, conversation_id, body, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(n.user_id)
        .bind(n.kind.as_str())
        .bind(n.actor_id)
        .bind(n.request_id)
        .bind(n.conversation_id)
        .bind(&n.body)
        .bind(now)
        .execute(&mut **tx)
        .await?;
    }
    for mail in &effects.mails {
        insert_mail(tx, mail, now).await?;
    }
    for delivery in &effects.deliveries {
        super::follows::insert_delivery(tx, delivery, now).await?;
    }
    for k in &effects.karma {
        sqlx::query(
            "INSERT INTO karma_events (user_id, kind, points, request_id, actor_id, note, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING",
        )
        .bind(k.user_id)
        .bind(k.kind.as_str())
        .bind(k.points)
        .bind(k.request_id)
        .bind(k.actor_id)
        .bind(&k.note)
        .bind(now)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

async fn insert_mail(tx: &mut Transaction<'static, Any>, mail: &OutgoingMail, now: i64) -> Result<()> {
    sqlx::query(
        "INSERT INTO mail_outbox (recipient, subject, body, created_at, next_attempt_at) VALUES ($1, $2, $3, $4, $4)",
    )
    .bind(&mail.recipient)
    .bind(&mail.subject)
    .bind(&mail.body)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(())
}
