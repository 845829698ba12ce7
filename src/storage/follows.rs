//! Follows in both directions, activities already received (for
//! deduplication), and the durable delivery queue of outgoing activities.
//!
//! Every inbound effect is written in one transaction together with the
//! activity's id in `inbox_seen`, so a replayed activity changes nothing;
//! every outgoing activity is stored in `deliveries` in the transaction that
//! causes it, so a crash loses nothing.

use std::marker::PhantomData;

use sqlx::{Any, Transaction};

use super::queue::Queue;
use super::{Result, Store};
use crate::domain::federation::{FollowState, SignatureStyle};

/// An activity to deliver to one inbox, signed by `sender_id` (a local user).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewDelivery {
    pub activity_id: String,
    pub sender_id: i64,
    pub inbox: String,
    pub body: String,
}

/// One activity to deliver to many inboxes (a fan-out to followers): the
/// body is held once, and stored with one multi-row `INSERT` per
/// [`FANOUT_ROWS_PER_INSERT`] inboxes that binds it once.
#[derive(Debug, Clone, Copy)]
pub struct Fanout<'a> {
    pub activity_id: &'a str,
    pub sender_id: i64,
    pub body: &'a str,
    pub inboxes: &'a [String],
}

/// Inboxes per `INSERT` of a fan-out (two parameters each, plus four: far
/// below SQLite's 32,766 and PostgreSQL's 65,535).
const FANOUT_ROWS_PER_INSERT: usize = 1000;

/// A delivery that went through: its row, its instance, and how the
/// instance took our signature when that was just learned (else `None`:
/// nothing new to write).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sent {
    pub id: i64,
    pub domain: String,
    pub learned: Option<SignatureStyle>,
}

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Delivery {
    pub id: i64,
    pub activity_id: String,
    pub sender_id: i64,
    pub inbox: String,
    pub body: String,
    pub attempts: i64,
    /// The inbox's host (and port), for instance health.
    pub domain: String,
}

/// Outgoing activities (`deliveries`) as a durable queue, sent by
/// `federation::delivery::deliver_due`. A claim skips instances marked dead
/// until their next probe (`storage::instances`).
pub const DELIVERIES: Queue<Delivery> = Queue {
    table: "deliveries",
    done_column: "delivered_at",
    returning: "id, activity_id, sender_id, inbox, body, attempts, domain",
    hold_back: "AND NOT EXISTS (SELECT 1 FROM instances i WHERE i.domain = q.domain \
                AND i.dead_since IS NOT NULL AND i.next_probe_at > $1)",
    row: PhantomData,
};

/// Someone a local person follows (or asked to).
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Follow {
    pub actor_id: String,
    pub follow_id: String,
    pub accepted_at: Option<i64>,
    pub created_at: i64,
}

impl Follow {
    /// Asked, or confirmed by the actor's server.
    pub fn state(&self) -> FollowState {
        FollowState::of(self.accepted_at)
    }
}

impl Store {
    /// Records a remote actor following a local person and queues the
    /// `Accept`, once per activity id; false when the activity was seen.
    pub async fn add_follower(
        &self,
        activity_id: &str,
        user_id: i64,
        actor_id: &str,
        inbox: &str,
        accept: &NewDelivery,
        now: i64,
    ) -> Result<bool> {
        let mut tx = self.begin_write().await?;
        if !first_sight(&mut tx, activity_id, now).await? {
            return Ok(false);
        }
        sqlx::query(
            "INSERT INTO followers (user_id, actor_id, inbox, follow_id, created_at) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (user_id, actor_id) DO UPDATE SET inbox = excluded.inbox, follow_id = excluded.follow_id",
        )
        .bind(user_id)
        .bind(actor_id)
        .bind(inbox)
        .bind(activity_id)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        insert_delivery(&mut tx, accept, now).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// A remote actor stops following a local person (`Undo(Follow)`).
    pub async fn remove_follower(&self, activity_id: &str, user_id: i64, actor_id: &str, now: i64) -> Result<bool> {
        let mut tx = self.begin_write().await?;
        if !first_sight(&mut tx, activity_id, now).await? {
            return Ok(false);
        }
        sqlx::query("DELETE FROM followers WHERE user_id = $1 AND actor_id = $2")
            .bind(user_id)
            .bind(actor_id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// A remote actor's account is gone (its `Delete` of itself, activity
    /// `activity_id`, applied once): it follows no one here, no one here
    /// follows it, and what still waits to go to its own `inbox` is given
    /// up with the reason. False when seen before.
    pub async fn actor_gone(&self, activity_id: &str, actor_id: &str, inbox: &str, now: i64) -> Result<bool> {
        let mut tx = self.begin_write().await?;
        if !first_sight(&mut tx, activity_id, now).await? {
            return Ok(false);
        }
        sqlx::query("DELETE FROM followers WHERE actor_id = $1").bind(actor_id).execute(&mut *tx).await?;
        sqlx::query("DELETE FROM follows WHERE actor_id = $1").bind(actor_id).execute(&mut *tx).await?;
        sqlx::query(
            "UPDATE deliveries SET failed_at = $2, last_error = $3 \
             WHERE inbox = $1 AND delivered_at IS NULL AND failed_at IS NULL",
        )
        .bind(inbox)
        .bind(now)
        .bind("The recipient's account was deleted.")
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// A remote actor accepted a local person's follow. Only the actor that
    /// was asked can accept it.
    pub async fn follow_accepted(&self, activity_id: &str, follow_id: &str, actor_id: &str, now: i64) -> Result<bool> {
        let mut tx = self.begin_write().await?;
        if !first_sight(&mut tx, activity_id, now).await? {
            return Ok(false);
        }
        let done = sqlx::query(
            "UPDATE follows SET accepted_at = $3 WHERE follow_id = $1 AND actor_id = $2 AND accepted_at IS NULL",
        )
        .bind(follow_id)
        .bind(actor_id)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(done.rows_affected() == 1)
    }

    /// Records an activity that has no effect of its own, so a replay is
    /// recognised; false when seen before.
    pub async fn mark_seen(&self, activity_id: &str, now: i64) -> Result<bool> {
        let mut tx = self.begin_write().await?;
        let first = first_sight(&mut tx, activity_id, now).await?;
        tx.commit().await?;
        Ok(first)
    }

    /// Records a received activity and queues our answer to it (a `Reject`,
    /// a direct message) in one transaction; false when seen before.
    pub async fn reply_once(&self, activity_id: &str, reply: &NewDelivery, now: i64) -> Result<bool> {
        let mut tx = self.begin_write().await?;
        if !first_sight(&mut tx, activity_id, now).await? {
            return Ok(false);
        }
        insert_delivery(&mut tx, reply, now).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Forgets received activity ids older than `before`.
    pub async fn purge_seen_activities(&self, before: i64) -> Result<u64> {
        let done =
            sqlx::query("DELETE FROM inbox_seen WHERE received_at < $1").bind(before).execute(self.writer()).await?;
        Ok(done.rows_affected())
    }

    /// Drops deliveries sent, or given up, before `before`.
    pub async fn purge_finished_deliveries(&self, before: i64) -> Result<u64> {
        let done = sqlx::query(
            "DELETE FROM deliveries WHERE (delivered_at IS NOT NULL AND delivered_at < $1) \
             OR (failed_at IS NOT NULL AND failed_at < $1)",
        )
        .bind(before)
        .execute(self.writer())
        .await?;
        Ok(done.rows_affected())
    }

    /// Whether anyone here follows (or asked to follow) a remote actor.
    pub async fn is_followed_here(&self, actor_id: &str) -> Result<bool> {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM follows WHERE actor_id = $1")
            .bind(actor_id)
            .fetch_one(self.pool())
            .await?;
        Ok(n > 0)
    }

    pub async fn follower_count(&self, user_id: i64) -> Result<i64> {
        Ok(sqlx::query_scalar("SELECT COUNT(*) FROM followers WHERE user_id = $1")
            .bind(user_id)
            .fetch_one(self.pool())
            .await?)
    }

    /// Starts following a remote actor and queues the `Follow`; returns the
    /// existing follow when there is one (nothing is queued then).
    pub async fn start_follow(&self, user_id: i64, actor_id: &str, follow: &NewDelivery, now: i64) -> Result<Follow> {
        let mut tx = self.begin_write().await?;
        let existing: Option<Follow> = sqlx::query_as(
            "SELECT actor_id, follow_id, accepted_at, created_at FROM follows WHERE user_id = $1 AND actor_id = $2",
        )
        .bind(user_id)
        .bind(actor_id)
        .fetch_optional(&mut *tx)
        .await?;
        if let Some(existing) = existing {
            return Ok(existing);
        }
        sqlx::query("INSERT INTO follows (user_id, actor_id, follow_id, created_at) VALUES ($1, $2, $3, $4)")
            .bind(user_id)
            .bind(actor_id)
            .bind(&follow.activity_id)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        insert_delivery(&mut tx, follow, now).await?;
        tx.commit().await?;
        Ok(Follow {
            actor_id: actor_id.to_string(),
            follow_id: follow.activity_id.clone(),
            accepted_at: None,
            created_at: now,
        })
    }

    /// Stops following: removes the follow and queues the `Undo` built from
    /// it (`undo` receives the follow's id); `None` when there was none.
    pub async fn stop_follow(
        &self,
        user_id: i64,
        actor_id: &str,
        undo: impl FnOnce(&Follow) -> NewDelivery,
        now: i64,
    ) -> Result<Option<Follow>> {
        let mut tx = self.begin_write().await?;
        let existing: Option<Follow> = sqlx::query_as(
            "DELETE FROM follows WHERE user_id = $1 AND actor_id = $2 \
             RETURNING actor_id, follow_id, accepted_at, created_at",
        )
        .bind(user_id)
        .bind(actor_id)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(existing) = existing else { return Ok(None) };
        insert_delivery(&mut tx, &undo(&existing), now).await?;
        tx.commit().await?;
        Ok(Some(existing))
    }

    /// Whom a local person follows, newest first.
    pub async fn follows_of(&self, user_id: i64) -> Result<Vec<Follow>> {
        Ok(sqlx::query_as(
            "SELECT actor_id, follow_id, accepted_at, created_at FROM follows WHERE user_id = $1 ORDER BY created_at DESC",
        )
        .bind(user_id)
        .fetch_all(self.pool())
        .await?)
    }

    /// Where a delivery stands: (attempts, next attempt, delivered at,
    /// given up at, last error) — for admins and tests.
    pub async fn delivery_state(
        &self,
        activity_id: &str,
    ) -> Result<Option<(i64, i64, Option<i64>, Option<i64>, Option<String>)>> {
        Ok(sqlx::query_as(
            "SELECT attempts, next_attempt_at, delivered_at, failed_at, last_error FROM deliveries \
             WHERE activity_id = $1 ORDER BY id DESC LIMIT 1",
        )
        .bind(activity_id)
        .fetch_optional(self.pool())
        .await?)
    }

    /// Queues a delivery on its own.
    pub async fn queue_delivery(&self, delivery: &NewDelivery, now: i64) -> Result<()> {
        let mut tx = self.begin_write().await?;
        insert_delivery(&mut tx, delivery, now).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Deliveries sent: marked delivered and their instances alive (with
    /// how they take our signatures, when just learned), in one transaction
    /// (one commit for a whole group of a fan-out instead of two per
    /// delivery).
    pub async fn deliveries_sent(&self, sent: &[Sent], now: i64) -> Result<()> {
        if sent.is_empty() {
            return Ok(());
        }
        let mut tx = self.begin_write().await?;
        for row in sent {
            super::queue::finished(&mut *tx, &DELIVERIES, row.id, now).await?;
        }
        let mut domains: Vec<(&str, Option<SignatureStyle>)> =
            sent.iter().filter(|s| !s.domain.is_empty()).map(|s| (s.domain.as_str(), s.learned)).collect();
        // Per domain, what was learned (if anything) comes first.
        domains.sort_unstable_by_key(|(domain, learned)| (*domain, learned.is_none()));
        domains.dedup_by_key(|(domain, _)| *domain);
        for (domain, learned) in domains {
            super::instances::mark_alive(&mut tx, domain, now, learned).await?;
        }
        tx.commit().await?;
        Ok(())
    }
}

/// Records an activity id; false when it was there already.
pub(super) async fn first_sight(tx: &mut Transaction<'static, Any>, activity_id: &str, now: i64) -> Result<bool> {
    let done = sqlx::query("INSERT INTO inbox_seen (activity_id, received_at) VALUES ($1, $2) ON CONFLICT DO NOTHING")
        .bind(activity_id)
        .bind(now)
        .execute(&mut **tx)
        .await?;
    Ok(done.rows_affected() == 1)
}

pub(super) async fn insert_delivery(
    tx: &mut Transaction<'static, Any>,
    delivery: &NewDelivery,
    now: i64,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO deliveries (activity_id, sender_id, inbox, body, created_at, next_attempt_at, domain) \
         VALUES ($1, $2, $3, $4, $5, $5, $6)",
    )
    .bind(&delivery.activity_id)
    .bind(delivery.sender_id)
    .bind(&delivery.inbox)
    .bind(&delivery.body)
    .bind(now)
    .bind(domain_of(&delivery.inbox))
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Queues `fanout`'s activity to each of its inboxes: one statement per
/// [`FANOUT_ROWS_PER_INSERT`] inboxes instead of one per inbox, the body
/// sent to the database once per statement.
pub(super) async fn insert_fanout(tx: &mut Transaction<'static, Any>, fanout: &Fanout<'_>, now: i64) -> Result<()> {
    for inboxes in fanout.inboxes.chunks(FANOUT_ROWS_PER_INSERT) {
        // $1 – $4 are shared; each inbox binds its address and domain.
        let rows: Vec<String> =
            (0..inboxes.len()).map(|n| format!("($1, $2, ${}, $3, $4, $4, ${})", 5 + 2 * n, 6 + 2 * n)).collect();
        let values = rows.join(", ");
        let sql = format!(
            "INSERT INTO deliveries (activity_id, sender_id, inbox, body, created_at, next_attempt_at, domain) \
             VALUES {values}"
        );
        let mut query = sqlx::query(&sql).bind(fanout.activity_id).bind(fanout.sender_id).bind(fanout.body).bind(now);
        for inbox in inboxes {
            query = query.bind(inbox.as_str()).bind(domain_of(inbox));
        }
        // Not kept prepared: the last statement's length differs each time.
        query.persistent(false).execute(&mut **tx).await?;
    }
    Ok(())
}

/// `host[:port]` of a URL, as instances are keyed.
pub fn domain_of(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(url) => match (url.host_str(), url.port()) {
            (Some(host), Some(port)) => format!("{host}:{port}"),
            (Some(host), None) => host.to_string(),
            _ => String::new(),
        },
        Err(_) => String::new(),
    }
}
