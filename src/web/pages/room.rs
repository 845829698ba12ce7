//! The session room page (F4): what a room link opens. Until the voice room
//! is built this is the session's own page — the time in the reader's zone,
//! the participants, the status and a countdown — at the address where the
//! room will live. A room link carries a token valid for one person and one
//! session, so remote learners need no account here; signed-in
//! participants can open it without one.

use askama::Template;
use axum::extract::{Path, Query, State};
use serde::Deserialize;

use crate::domain::booking::RequestStatus;
use crate::domain::time_zone;
use crate::service::App;
use crate::service::AppError;
use crate::storage::SessionEntry;
use crate::web::render::{Page, WebError};
use crate::web::session::Visitor;

#[derive(Template)]
#[template(path = "room.html")]
struct RoomPage {
    v: Visitor,
    entry: SessionEntry,
    advisor: String,
    learner: String,
    status_text: &'static str,
    when_reader: String,
    when_advisor: String,
    zone: String,
    zone_from_browser: bool,
    starts_at_iso: String,
    ends_at_iso: String,
    countdown: String,
}

#[derive(Debug, Deserialize)]
pub struct RoomQuery {
    #[serde(default)]
    token: String,
}

/// `GET /rooms/{id}?token=…`.
pub async fn room(
    State(app): State<App>,
    v: Visitor,
    Path(id): Path<i64>,
    Query(query): Query<RoomQuery>,
) -> Result<Page<impl Template>, WebError> {
    let entry = match (&v.user, query.token.is_empty()) {
        (Some(user), true) => app.request_for(user, id).await?.1,
        (_, false) => app.room_by_token(id, &query.token).await?.0,
        (None, true) => return Err(AppError::NotFound("session").into()),
    };
    let zone = v.zone();
    let zone_from_browser = v.user.is_none() && v.browser_zone.is_some();
    let when_reader = time_zone::format_range(entry.starts_at, entry.ends_at, &zone);
    let when_advisor = if entry.advisor_timezone == zone {
        String::new()
    } else {
        format!("{} for the advisor", time_zone::format_range(entry.starts_at, entry.ends_at, &entry.advisor_timezone))
    };
    let iso = |ms: i64| jiff::Timestamp::from_millisecond(ms).map(|t| t.to_string()).unwrap_or_default();
    let now = app.clock.now_ms();
    let countdown = if now >= entry.ends_at {
        "This session is over.".to_string()
    } else if now >= entry.starts_at {
        "Under way.".to_string()
    } else {
        let minutes = (entry.starts_at - now) / 60_000;
        format!("Starts in {} h {} min.", minutes / 60, minutes % 60)
    };
    let status_text = match entry.status {
        RequestStatus::Approved => "confirmed",
        RequestStatus::Requested => "waiting for the advisor",
        RequestStatus::Declined => "declined",
        RequestStatus::Cancelled => "cancelled",
    };
    Ok(Page(RoomPage {
        advisor: crate::domain::account::shown_name(&entry.advisor_name, &entry.advisor_username).to_string(),
        learner: crate::domain::account::shown_name(&entry.learner_name, &entry.learner_username).to_string(),
        status_text,
        when_reader,
        when_advisor,
        zone,
        zone_from_browser,
        starts_at_iso: iso(entry.starts_at),
        ends_at_iso: iso(entry.ends_at),
        countdown,
        entry,
        v,
    }))
}
