//! Requests for slots, the decisions on them, and the booking event log.
//!
//! Every change runs in one write transaction: the slot (or request) row is
//! locked, the caller's pure rule check runs against what the transaction
//! sees, then the change and its event are written. The partial unique
//! index `requests_one_approved_per_slot` is the last word on double
//! booking, whatever the application code does.

use serde::Serialize;
use sqlx::{Any, Transaction};

use super::{Constraint, Result, StorageError, Store};
use crate::domain::booking::{Channel, EventKind, RequestStatus, SlotState};

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow, Serialize)]
pub struct Request {
    pub id: i64,
    pub slot_id: i64,
    pub advisor_id: i64,
    pub learner_id: i64,
    #[sqlx(try_from = "String")]
    pub status: RequestStatus,
    pub note: String,
    pub answers: String,
    pub decision_note: String,
    pub created_at: i64,
    pub updated_at: i64,
    /// The activity the request came in by (a remote learner's `Join` or
    /// Mastodon note) or went out as (our `Join` for a remote slot).
    pub ap_id: Option<String>,
    /// How it travels between servers (`None`: a local request).
    #[sqlx(try_from = "super::DbOptWord")]
    pub ap_kind: Option<Channel>,
}

/// How a request arrived over federation: the activity's id and kind
/// (a `Join`, a note). Recorded with the request, and as seen, in one
/// transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Origin<'a> {
    pub ap_id: &'a str,
    pub kind: Channel,
    /// Whether `ap_id` is a received activity (deduplicated) rather than one
    /// we send.
    pub received: bool,
}

/// What a new request says: the learner's note, their answers (JSON), and
/// how it arrived over federation, if it did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RequestText<'a> {
    pub note: &'a str,
    pub answers: &'a str,
    pub origin: Option<Origin<'a>>,
}

pub(super) const REQUEST_COLUMNS: &str =
    "id, slot_id, advisor_id, learner_id, status, note, answers, decision_note, created_at, updated_at, ap_id, ap_kind";

/// A request with its slot and both people, for "my sessions" lists.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow, Serialize)]
pub struct SessionEntry {
    pub request_id: i64,
    pub slot_id: i64,
    #[sqlx(try_from = "String")]
    pub status: RequestStatus,
    pub note: String,
    pub decision_note: String,
    pub starts_at: i64,
    pub ends_at: i64,
    pub advisor_username: String,
    pub advisor_name: String,
    pub advisor_timezone: String,
    pub learner_username: String,
    pub learner_name: String,
    /// The title and description of the slot's offering (`None`: a block
    /// without one, e.g. a remote advisor's).
    pub offering_title: Option<String>,
    pub offering_description: Option<String>,
}

impl SessionEntry {
    /// The title and description of its offering, when its advisor named it.
    pub fn named_offering(&self) -> Option<(&str, &str)> {
        let title = self.offering_title.as_deref()?;
        let about = self.offering_description.as_deref().unwrap_or_default();
        crate::domain::offering::is_named(title, about).then_some((title, about))
    }
}

const SESSION_SELECT: &str = "SELECT r.id AS request_id, r.slot_id, r.status, r.note, r.decision_note, \
     s.starts_at, s.ends_at, a.username AS advisor_username, a.display_name AS advisor_name, \
     a.timezone AS advisor_timezone, l.username AS learner_username, l.display_name AS learner_name, \
     (SELECT o.title FROM blocks b JOIN offerings o ON o.id = b.offering_id WHERE b.id = s.block_id) AS offering_title, \
     (SELECT o.description FROM blocks b JOIN offerings o ON o.id = b.offering_id WHERE b.id = s.block_id) \
     AS offering_description \
     FROM requests r JOIN slots s ON s.id = r.slot_id \
     JOIN users a ON a.id = r.advisor_id JOIN users l ON l.id = r.learner_id";

/// What a new request's rule check sees, read inside the transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestContext {
    pub slot_start: i64,
    pub slot_cancelled: bool,
    pub slot_booked: bool,
    pub slot_busy: bool,
    pub advisor_id: i64,
    pub already_requested: bool,
    /// Live requests of this learner with this advisor starting in `week`.
    pub live_requests_in_week: i64,
}

/// Everything about an existing request a decision needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecisionContext {
    pub request: Request,
    pub slot_start: i64,
}

/// The outcome of a decision: the request after it, and the other pending
/// requests for the same slot that an approval declined.
#[derive(Debug, Clone)]
pub struct Decided {
    pub request: Request,
    pub also_declined: Vec<Request>,
}

impl Store {
    /// Creates a request if `check` allows it, in the status it returns
    /// (requested, or approved for advisors who approve automatically).
    /// `week` bounds the learner's weekly limit.
    pub async fn create_request<E>(
        &self,
        slot_id: i64,
        learner_id: i64,
        week: (i64, i64),
        check: impl FnOnce(&RequestContext) -> std::result::Result<RequestStatus, E>,
        text: RequestText<'_>,
        now: i64,
    ) -> Result<std::result::Result<Request, E>> {
        let RequestText { note, answers, origin } = text;
        let mut tx = self.begin_write().await?;
        if let Some(origin) = origin
            && origin.received
            && !super::follows::first_sight(&mut tx, origin.ap_id, now).await?
        {
            return Err(StorageError::Duplicate(Constraint::Activity));
        }
        if !self.lock_row(&mut tx, "slots", slot_id).await? {
            return Err(StorageError::NotFound);
        }
        let ctx = request_context(&mut tx, slot_id, learner_id, week).await?;
        let status = match check(&ctx) {
            Ok(status) => status,
            Err(refusal) => return Ok(Err(refusal)),
        };
        let sql = format!(
            "INSERT INTO requests (slot_id, advisor_id, learner_id, status, note, answers, created_at, updated_at, \
             ap_id, ap_kind) VALUES ($1, $2, $3, $4, $5, $6, $7, $7, $8, $9) RETURNING {REQUEST_COLUMNS}"
        );
        let request: Request = sqlx::query_as(&sql)
            .bind(slot_id)
            .bind(ctx.advisor_id)
            .bind(learner_id)
            .bind(status.as_str())
            .bind(note)
            .bind(answers)
            .bind(now)
            .bind(origin.map(|o| o.ap_id))
            .bind(origin.map(|o| o.kind.as_str()))
            .fetch_one(&mut *tx)
            .await?;
        log_event(&mut tx, request.id, slot_id, Some(learner_id), status.into(), note, now).await?;
        tx.commit().await?;
        Ok(Ok(request))
    }

    pub async fn request(&self, id: i64) -> Result<Request> {
        let sql = format!("SELECT {REQUEST_COLUMNS} FROM requests WHERE id = $1");
        Ok(sqlx::query_as(&sql).bind(id).fetch_one(self.pool()).await?)
    }

    /// Moves a request to a new status if `decide` allows it (once per
    /// `activity` when a remote activity causes it). When the new
    /// status is `approved`, the other pending requests for the slot are
    /// declined in the same transaction with `others_note`.
    #[allow(clippy::too_many_arguments)] // the decision, its notes, the activity and its time
    pub async fn decide_request<E>(
        &self,
        request_id: i64,
        actor_id: i64,
        decide: impl FnOnce(&DecisionContext) -> std::result::Result<RequestStatus, E>,
        note: &str,
        others_note: &str,
        activity: Option<&str>,
        now: i64,
    ) -> Result<std::result::Result<Decided, E>> {
        let mut tx = self.begin_write().await?;
        if let Some(activity) = activity
            && !super::follows::first_sight(&mut tx, activity, now).await?
        {
            return Err(StorageError::Duplicate(Constraint::Activity));
        }
        let slot_id: Option<i64> = sqlx::query_scalar("SELECT slot_id FROM requests WHERE id = $1")
            .bind(request_id)
            .fetch_optional(&mut *tx)
            .await?;
        let Some(slot_id) = slot_id else { return Err(StorageError::NotFound) };
        // Lock the slot, not just the request: approvals of rival requests
        // for one slot must queue behind each other.
        self.lock_row(&mut tx, "slots", slot_id).await?;
        let sql = format!("SELECT {REQUEST_COLUMNS} FROM requests WHERE id = $1");
        let request: Request = sqlx::query_as(&sql).bind(request_id).fetch_one(&mut *tx).await?;
        let slot_start: i64 =
            sqlx::query_scalar("SELECT starts_at FROM slots WHERE id = $1").bind(slot_id).fetch_one(&mut *tx).await?;
        let next = match decide(&DecisionContext { request: request.clone(), slot_start }) {
            Ok(next) => next,
            Err(refusal) => return Ok(Err(refusal)),
        };
        let sql = format!(
            "UPDATE requests SET status = $2, decision_note = $3, updated_at = $4 WHERE id = $1 RETURNING {REQUEST_COLUMNS}"
        );
        let updated: Request =
            sqlx::query_as(&sql).bind(request_id).bind(next.as_str()).bind(note).bind(now).fetch_one(&mut *tx).await?;
        log_event(&mut tx, request_id, slot_id, Some(actor_id), next.into(), note, now).await?;
        let mut also_declined: Vec<Request> = Vec::new();
        if next == RequestStatus::Approved {
            let sql = format!(
                "UPDATE requests SET status = 'declined', decision_note = $3, updated_at = $4 \
                 WHERE slot_id = $1 AND id <> $2 AND status = 'requested' RETURNING {REQUEST_COLUMNS}"
            );
            also_declined = sqlx::query_as(&sql)
                .bind(slot_id)
                .bind(request_id)
                .bind(others_note)
                .bind(now)
                .fetch_all(&mut *tx)
                .await?;
            for other in &also_declined {
                log_event(&mut tx, other.id, slot_id, Some(actor_id), EventKind::Declined, others_note, now).await?;
            }
        }
        tx.commit().await?;
        Ok(Ok(Decided { request: updated, also_declined }))
    }

    /// Every request a person made or received, with slot times and names.
    pub async fn sessions_of(&self, user_id: i64) -> Result<Vec<SessionEntry>> {
        self.sessions_between(user_id, i64::MIN, i64::MAX).await
    }

    /// A person's requests (either side) whose slot starts in `[from, to)`.
    pub async fn sessions_between(&self, user_id: i64, from: i64, to: i64) -> Result<Vec<SessionEntry>> {
        let sql = format!(
            "{SESSION_SELECT} WHERE (r.learner_id = $1 OR r.advisor_id = $1) AND s.starts_at >= $2 AND s.starts_at < $3 \
             ORDER BY s.starts_at, r.id"
        );
        Ok(sqlx::query_as(&sql).bind(user_id).bind(from).bind(to).fetch_all(self.pool()).await?)
    }

    /// One request with its slot times and both people.
    pub async fn session_entry(&self, request_id: i64) -> Result<SessionEntry> {
        let sql = format!("{SESSION_SELECT} WHERE r.id = $1");
        Ok(sqlx::query_as(&sql).bind(request_id).fetch_one(self.pool()).await?)
    }

    /// The event log of one request, oldest first: (kind, actor id, note, at).
    pub async fn request_events(&self, request_id: i64) -> Result<Vec<(EventKind, Option<i64>, String, i64)>> {
        let rows: Vec<(String, Option<i64>, String, i64)> = sqlx::query_as(
            "SELECT kind, actor_id, note, created_at FROM booking_events WHERE request_id = $1 ORDER BY id",
        )
        .bind(request_id)
        .fetch_all(self.pool())
        .await?;
        rows.into_iter().map(|(kind, actor, note, at)| Ok((super::db_word::word(kind)?, actor, note, at))).collect()
    }
}

async fn request_context(
    tx: &mut Transaction<'static, Any>,
    slot_id: i64,
    learner_id: i64,
    week: (i64, i64),
) -> Result<RequestContext> {
    let sql = format!("{} WHERE s.id = $1", super::blocks::SLOT_SELECT);
    let slot: super::Slot = sqlx::query_as(&sql).bind(slot_id).fetch_one(&mut **tx).await?;
    let already: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM requests WHERE slot_id = $1 AND learner_id = $2 AND status IN ('requested', 'approved')",
    )
    .bind(slot_id)
    .bind(learner_id)
    .fetch_one(&mut **tx)
    .await?;
    let in_week: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM requests r JOIN slots s ON s.id = r.slot_id WHERE r.learner_id = $1 \
         AND r.advisor_id = $2 AND r.status IN ('requested', 'approved') AND s.starts_at >= $3 AND s.starts_at < $4",
    )
    .bind(learner_id)
    .bind(slot.advisor_id)
    .bind(week.0)
    .bind(week.1)
    .fetch_one(&mut **tx)
    .await?;
    Ok(RequestContext {
        slot_start: slot.starts_at,
        slot_cancelled: slot.status == SlotState::Cancelled,
        slot_booked: slot.status == SlotState::Booked,
        slot_busy: slot.busy,
        advisor_id: slot.advisor_id,
        already_requested: already > 0,
        live_requests_in_week: in_week,
    })
}

pub(super) async fn log_event(
    tx: &mut Transaction<'static, Any>,
    request_id: i64,
    slot_id: i64,
    actor_id: Option<i64>,
    kind: EventKind,
    note: &str,
    now: i64,
) -> Result<()> {
    log_event_about(tx, request_id, slot_id, actor_id, None, kind, note, now).await
}

/// Logs an event about someone other than the actor (`subject`, e.g. the
/// person recorded as absent).
#[allow(clippy::too_many_arguments)] // the event's columns and its time
pub(super) async fn log_event_about(
    tx: &mut Transaction<'static, Any>,
    request_id: i64,
    slot_id: i64,
    actor_id: Option<i64>,
    subject_id: Option<i64>,
    kind: EventKind,
    note: &str,
    now: i64,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO booking_events (request_id, slot_id, actor_id, subject_id, kind, note, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(request_id)
    .bind(slot_id)
    .bind(actor_id)
    .bind(subject_id)
    .bind(kind.as_str())
    .bind(note)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

impl Store {
    /// The learner edited the note that made a pending request (an
    /// `Update` of it, activity `activity_id`, applied once): the request
    /// takes the new text while it is still waiting for an answer. False
    /// when seen before or no longer pending.
    pub async fn edit_request_note(&self, activity_id: &str, request_id: i64, note: &str, now: i64) -> Result<bool> {
        let mut tx = self.begin_write().await?;
        if !super::follows::first_sight(&mut tx, activity_id, now).await? {
            return Ok(false);
        }
        let done = sqlx::query("UPDATE requests SET note = $2 WHERE id = $1 AND status = $3")
            .bind(request_id)
            .bind(note)
            .bind(RequestStatus::Requested.as_str())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(done.rows_affected() == 1)
    }

    /// The request a federated activity (a `Join` or note) made or sent.
    pub async fn request_by_ap_id(&self, ap_id: &str) -> Result<Option<Request>> {
        let sql = format!("SELECT {REQUEST_COLUMNS} FROM requests WHERE ap_id = $1");
        Ok(sqlx::query_as(&sql).bind(ap_id).fetch_optional(self.pool()).await?)
    }

    /// Whether `learner_id` has ever asked `advisor_id` for a session.
    pub async fn has_asked(&self, learner_id: i64, advisor_id: i64) -> Result<bool> {
        let found: Option<i64> =
            sqlx::query_scalar("SELECT id FROM requests WHERE learner_id = $1 AND advisor_id = $2 LIMIT 1")
                .bind(learner_id)
                .bind(advisor_id)
                .fetch_optional(self.pool())
                .await?;
        Ok(found.is_some())
    }

    /// A learner's live request on one of the given slots (a `Leave` names
    /// the event, not the request).
    pub async fn live_request_on_block(&self, learner_id: i64, block_id: i64, date: &str) -> Result<Option<Request>> {
        let sql = format!(
            "SELECT {REQUEST_COLUMNS} FROM requests WHERE learner_id = $1 AND status IN ('requested', 'approved') \
             AND slot_id IN (SELECT id FROM slots WHERE block_id = $2 AND occurrence_date = $3) ORDER BY id LIMIT 1"
        );
        Ok(sqlx::query_as(&sql).bind(learner_id).bind(block_id).bind(date).fetch_optional(self.pool()).await?)
    }
}
