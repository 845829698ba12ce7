//! The API's wire types, apart from the handlers that produce them.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::config::Config;
use crate::service::booking::BLOCK_SLOTS_PAGE;
use crate::storage::{AdvisorProfile, Block, Category, Request, SessionEntry, Slot, User};

/// The answer to a sign-up: the same whether the address was new (the
/// account is made) or already had an account (its owner was told).
#[derive(Debug, Serialize, ToSchema)]
pub struct SignUpAccepted {
    /// The address the mail went to, normalised.
    pub email: String,
    pub message: String,
}

/// Your own account, as `GET /api/v1/me` shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct Account {
    pub username: String,
    pub email: String,
    pub email_verified: bool,
    pub display_name: String,
    pub bio: String,
    /// IANA time zone, e.g. `Europe/Berlin`.
    pub timezone: String,
    pub is_advisor: bool,
    pub is_pro: bool,
    pub is_admin: bool,
    /// RFC 3339, UTC.
    pub created_at: String,
}

impl From<&User> for Account {
    fn from(u: &User) -> Self {
        Account {
            username: u.username.clone(),
            email: u.email.clone(),
            email_verified: u.email_verified,
            display_name: u.display_name.clone(),
            bio: u.bio.clone(),
            timezone: u.timezone.clone(),
            is_advisor: u.is_advisor,
            is_pro: u.is_pro,
            is_admin: u.is_admin,
            created_at: rfc3339(u.created_at),
        }
    }
}

/// An advisor's public profile.
#[derive(Debug, Serialize, ToSchema)]
pub struct Advisor {
    pub username: String,
    /// `@username@domain`, the fediverse handle.
    pub handle: String,
    pub display_name: String,
    pub headline: String,
    pub bio: String,
    pub topics: Vec<String>,
    pub categories: Vec<Category>,
    pub links: Vec<String>,
    pub is_advisor: bool,
    /// The HTML profile page.
    pub url: String,
    /// On another server (looked up by handle); its ActivityPub id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remote_id: Option<String>,
}

impl Advisor {
    pub fn new(p: &AdvisorProfile, config: &Config) -> Self {
        Advisor {
            username: p.user.username.clone(),
            handle: format!("@{}@{}", p.user.username, config.domain),
            display_name: p.user.name().to_string(),
            headline: p.user.headline.clone(),
            bio: p.user.bio.clone(),
            topics: p.topics.clone(),
            categories: p.categories.clone(),
            links: p.links.clone(),
            is_advisor: p.user.is_advisor,
            url: config.link(&format!("/users/{}", p.user.username)),
            remote_id: None,
        }
    }

    /// Someone on another server, as last fetched.
    pub fn remote(remote: &crate::federation::remote::Remote) -> Self {
        let row = &remote.row;
        Advisor {
            username: row.username.clone(),
            handle: format!("@{}", remote.handle()),
            display_name: if row.name.is_empty() { row.username.clone() } else { row.name.clone() },
            headline: String::new(),
            bio: crate::federation::remote::html_to_text(&row.summary),
            topics: Vec::new(),
            categories: Vec::new(),
            links: Vec::new(),
            is_advisor: false,
            url: row.url.clone().unwrap_or_else(|| row.ap_id.clone()),
            remote_id: Some(row.ap_id.clone()),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Directory {
    pub advisors: Vec<Advisor>,
    pub total: i64,
    pub page: u32,
    pub per_page: u32,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignUpRequest {
    pub username: String,
    pub email: String,
    pub password: String,
    #[serde(default)]
    pub display_name: String,
    /// IANA zone; UTC when left out.
    #[serde(default)]
    pub timezone: String,
}

/// Fields to change; those left out keep their value.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProfilePatch {
    pub display_name: Option<String>,
    pub bio: Option<String>,
    pub timezone: Option<String>,
}

/// The whole advisor profile; fields left out are emptied.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AdvisorRequest {
    /// Listed in the directory while true (needs a confirmed e-mail).
    pub enabled: bool,
    #[serde(default)]
    pub headline: String,
    #[serde(default)]
    pub bio: String,
    #[serde(default)]
    pub topics: Vec<String>,
    /// Category slugs, see `GET /api/v1/categories`.
    #[serde(default)]
    pub categories: Vec<String>,
    #[serde(default)]
    pub links: Vec<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CategoryRequest {
    pub name: String,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DirectoryParams {
    /// Words to find in names, headlines, bios and topics.
    #[serde(default)]
    pub q: String,
    /// A category slug.
    pub category: Option<String>,
    /// 1-based page number (20 per page); past the last page the list is empty.
    #[param(minimum = 1, maximum = 10000)]
    pub page: Option<u32>,
}

pub fn rfc3339(ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms).map(|t| t.to_string()).unwrap_or_default()
}

/// A new block: local start and end (same day) in `timezone`. Times are
/// `YYYY-MM-DDTHH:MM`, to the minute, without an offset or `Z`; the block
/// starts between today and the booking horizon plus 30 days.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BlockRequest {
    /// Local date and time to the minute, e.g. `2026-12-01T14:00` (seconds:
    /// `invalid_time`; an offset or `Z`: `time_has_offset`).
    pub start: String,
    /// Local date and time on the same day, e.g. `2026-12-01T15:00`.
    pub end: String,
    /// IANA zone name (`Area/Location`, `UTC` or `Etc/…`); your own zone when left out.
    pub timezone: Option<String>,
    /// Repeat weekly up to and including this date, e.g. `2027-01-31`.
    pub repeat_weekly_until: Option<String>,
    /// Weekdays of a series (`mon` … `sun`); the start's weekday when left out.
    #[serde(default)]
    pub weekdays: Vec<String>,
    pub buffer_minutes: Option<i64>,
    pub min_notice_minutes: Option<i64>,
    pub horizon_days: Option<i64>,
    pub max_per_learner_week: Option<i64>,
    pub approval_required: Option<bool>,
    /// Reachable only through your private booking link (S4).
    pub unlisted: Option<bool>,
    /// One of your offerings (see Settings → Offerings); its session length
    /// shapes the slots. Your default offering when left out.
    pub offering_id: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SlotJson {
    pub id: i64,
    /// RFC 3339, UTC.
    pub start: String,
    pub end: String,
    /// `open`, `requested`, `booked` or `cancelled`.
    pub status: String,
}

impl From<&Slot> for SlotJson {
    fn from(s: &Slot) -> Self {
        SlotJson { id: s.id, start: rfc3339(s.starts_at), end: rfc3339(s.ends_at), status: s.status.to_text() }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BlockCreated {
    pub id: i64,
    pub timezone: String,
    pub start_date: String,
    pub start_time: String,
    pub end_time: String,
    pub repeat_weekly_until: Option<String>,
    /// The first page of the block's slots (at most 100), in time order.
    pub slots: Vec<SlotJson>,
    /// How many slots the block has.
    pub slot_count: i64,
    /// The next page of slots (`/api/v1/blocks/{id}/slots?page=2`), when there is one.
    pub next: Option<String>,
}

impl BlockCreated {
    pub fn new(block: &Block, slots: &[Slot]) -> Self {
        let page = BlockSlots::page(block.id, 1, slots.iter().take(BLOCK_SLOTS_PAGE as usize), slots.len() as i64);
        BlockCreated {
            id: block.id,
            timezone: block.timezone.clone(),
            start_date: block.start_date.clone(),
            start_time: block.start_time.clone(),
            end_time: block.end_time.clone(),
            repeat_weekly_until: block.until_date.clone(),
            slots: page.slots,
            slot_count: page.slot_count,
            next: page.next,
        }
    }
}

/// One page of a block's slots.
#[derive(Debug, Serialize, ToSchema)]
pub struct BlockSlots {
    /// At most 100 slots, in time order.
    pub slots: Vec<SlotJson>,
    /// 1-based.
    pub page: u32,
    /// How many slots the block has.
    pub slot_count: i64,
    /// The next page, when there is one.
    pub next: Option<String>,
}

impl BlockSlots {
    pub fn page<'a>(block_id: i64, page: u32, slots: impl Iterator<Item = &'a Slot>, slot_count: i64) -> Self {
        let page = page.max(1);
        let more = i64::from(page) * BLOCK_SLOTS_PAGE < slot_count;
        BlockSlots {
            slots: slots.map(SlotJson::from).collect(),
            page,
            slot_count,
            next: more.then(|| format!("/api/v1/blocks/{block_id}/slots?page={}", page + 1)),
        }
    }
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageParams {
    /// 1-based page number (100 slots per page).
    #[param(minimum = 1)]
    pub page: Option<u32>,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SlotsParams {
    /// RFC 3339 instant; now when left out.
    pub from: Option<String>,
    /// RFC 3339 instant; the advisor's booking horizon when left out.
    pub to: Option<String>,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RequestSlot {
    /// What you want to discuss.
    #[serde(default)]
    pub note: String,
    /// Answers to the advisor's booking questions, by question id.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub answers: serde_json::Value,
    /// The secret of the advisor's private booking link (the last part of
    /// `/book/{secret}`): needed for a slot of an unlisted offering.
    #[serde(default)]
    pub link: Option<String>,
}

/// `?link=`: the secret of an advisor's private booking link.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LinkQuery {
    /// Needed for a slot of an unlisted offering.
    pub link: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RequestCreated {
    pub id: i64,
    /// `requested`, or `approved` when the advisor approves automatically.
    pub status: String,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NoteRequest {
    #[serde(default)]
    pub note: String,
}

/// Removing availability: one day of a block, or the whole series.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RemoveBlockRequest {
    /// `2026-12-01`: only that occurrence; absent: the whole series.
    #[serde(default)]
    pub date: Option<String>,
    /// Sent to everyone whose request or booking this cancels.
    #[serde(default)]
    pub note: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BlockRemoved {
    /// Requests and bookings cancelled by the removal.
    pub cancelled: usize,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RequestJson {
    pub id: i64,
    pub slot_id: i64,
    /// `requested`, `approved`, `declined` or `cancelled`.
    pub status: String,
    pub note: String,
    pub decision_note: String,
    #[schema(value_type = Object)]
    pub answers: serde_json::Value,
    pub created_at: String,
    pub updated_at: String,
}

impl From<&Request> for RequestJson {
    fn from(r: &Request) -> Self {
        RequestJson {
            id: r.id,
            slot_id: r.slot_id,
            status: r.status.to_text(),
            note: r.note.clone(),
            decision_note: r.decision_note.clone(),
            answers: serde_json::from_str(&r.answers).unwrap_or(serde_json::Value::Null),
            created_at: rfc3339(r.created_at),
            updated_at: rfc3339(r.updated_at),
        }
    }
}

/// One of your requests or bookings.
#[derive(Debug, Serialize, ToSchema)]
pub struct SessionJson {
    pub request_id: i64,
    pub slot_id: i64,
    /// `learner` or `advisor`: your side of it.
    pub role: String,
    pub status: String,
    pub start: String,
    pub end: String,
    pub advisor: String,
    pub learner: String,
    pub note: String,
    pub decision_note: String,
}

impl SessionJson {
    pub fn new(s: &SessionEntry, me: &str) -> Self {
        SessionJson {
            request_id: s.request_id,
            slot_id: s.slot_id,
            role: if s.advisor_username == me { "advisor" } else { "learner" }.into(),
            status: s.status.to_text(),
            start: rfc3339(s.starts_at),
            end: rfc3339(s.ends_at),
            advisor: s.advisor_username.clone(),
            learner: s.learner_username.clone(),
            note: s.note.clone(),
            decision_note: s.decision_note.clone(),
        }
    }
}

/// Parses an RFC 3339 instant from a query parameter.
pub fn parse_instant(field: &'static str, text: &str) -> Result<jiff::Timestamp, crate::service::AppError> {
    text.parse().map_err(|_| {
        crate::service::AppError::invalid(
            field,
            "invalid_instant",
            format!("`{text}` is not an instant like 2026-12-01T13:00:00Z."),
        )
    })
}

/// One of your named offerings (Settings → Offerings); a block's
/// `offering_id` names one.
#[derive(Debug, Serialize, ToSchema)]
pub struct OfferingJson {
    pub id: i64,
    pub title: String,
    pub description: String,
    /// The length of its sessions.
    pub session_minutes: i64,
    /// The default offering reads your booking rules, questions and private link.
    pub is_default: bool,
    /// Its own visibility rule; `null` follows your booking rules.
    pub unlisted: Option<bool>,
}

/// A booking question.
#[derive(Debug, Serialize, ToSchema)]
pub struct QuestionJson {
    /// The key of its answer in `answers`.
    pub id: i64,
    pub label: String,
    /// `text` or `choice`.
    pub kind: String,
    pub choices: Vec<String>,
    pub required: bool,
}

impl From<&crate::domain::questions::Question> for QuestionJson {
    fn from(q: &crate::domain::questions::Question) -> Self {
        use crate::domain::questions::Kind;
        let (kind, choices) = match &q.kind {
            Kind::Text => ("text", Vec::new()),
            Kind::Choice(c) => ("choice", c.clone()),
        };
        QuestionJson { id: q.id, label: q.label.clone(), kind: kind.into(), choices, required: q.required }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct QuestionRequest {
    pub label: String,
    /// `text` (default) or `choice`.
    #[serde(default)]
    pub kind: String,
    #[serde(default)]
    pub choices: Vec<String>,
    #[serde(default)]
    pub required: bool,
}
