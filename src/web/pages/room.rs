//! The session room page (F4, V1): what a room link opens. A participant
//! sees the session — the time in their zone, the other person, and where
//! the room is in time: when it opens (counting down), open until the hard
//! stop, or over. Anyone else, and anyone for whom there is no session to
//! join (not confirmed, declined, cancelled), gets a page that says why and
//! what to do. A room link carries a token valid for one person and one
//! session, so remote learners need no account here; signed-in
//! participants can open it without one.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use crate::domain::account::shown_name;
use crate::domain::room::{Phase, Refusal, Role};
use crate::domain::time_zone;
use crate::service::App;
use crate::service::rooms::{RoomView, RoomVisitor};
use crate::web::render::{Page, WebError};
use crate::web::session::Visitor;

#[derive(Template)]
#[template(path = "room.html")]
struct RoomPage {
    v: Visitor,
    id: i64,
    /// Where the room is: `soon`, `open`, `over`, or a refusal code.
    state: &'static str,
    /// What the visitor is told about it.
    message: String,
    advisor: String,
    learner: String,
    advisor_username: String,
    /// The other participant, as the visitor sees them.
    other: String,
    /// Where to message the other person (local accounts only).
    message_link: Option<String>,
    /// Where to ask for another session (learners only).
    rebook_link: Option<String>,
    when_reader: String,
    when_advisor: String,
    zone: String,
    zone_from_browser: bool,
    opens_at_iso: String,
    starts_at_iso: String,
    ends_at_iso: String,
    decision_note: String,
}

#[derive(Template)]
#[template(path = "room_refused.html")]
struct RefusedPage {
    v: Visitor,
    message: &'static str,
    login_link: Option<String>,
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
) -> Result<Response, WebError> {
    let visitor = match (&v.user, query.token.is_empty()) {
        (_, false) => RoomVisitor::Link(&query.token),
        (Some(user), true) => RoomVisitor::Person(user),
        (None, true) => RoomVisitor::Nobody,
    };
    let view = app.room_view(id, visitor).await?;
    if view.me.is_none() {
        let login_link = v.user.is_none().then(|| format!("/login?next=/rooms/{id}"));
        let page = RefusedPage { message: Refusal::NotParticipant.message(), login_link, v };
        return Ok((StatusCode::FORBIDDEN, Page(page)).into_response());
    }
    Ok(Page(page(&app, v, id, view)).into_response())
}

fn page(app: &App, v: Visitor, id: i64, view: RoomView) -> RoomPage {
    let RoomView { entry, me, clock, admission, .. } = view;
    let zone = v.zone();
    let zone_from_browser = v.user.is_none() && v.browser_zone.is_some();
    let advisor = shown_name(&entry.advisor_name, &entry.advisor_username).to_string();
    let learner = shown_name(&entry.learner_name, &entry.learner_username).to_string();
    let role = me.as_ref().map(|(_, role)| *role);
    let (other, other_username) = match role {
        Some(Role::Learner) => (advisor.clone(), entry.advisor_username.clone()),
        _ => (learner.clone(), entry.learner_username.clone()),
    };
    let local_visitor = me.as_ref().is_some_and(|(user, _)| !user.is_remote());
    let message_link = local_visitor.then(|| format!("/messages/{other_username}"));
    let rebook_link = (role != Some(Role::Advisor)).then(|| format!("/users/{}", entry.advisor_username));
    let when_advisor = if entry.advisor_timezone == zone {
        String::new()
    } else {
        format!("{} for the advisor", time_zone::format_range(entry.starts_at, entry.ends_at, &entry.advisor_timezone))
    };
    let now = app.clock.now_ms();
    let opens_reader = format!("{} ({zone})", time_zone::format_instant(clock.opens_at(), &zone));
    let (state, message) = match admission {
        Ok(()) => match clock.phase(now) {
            Phase::Early => (
                "open",
                format!("The room is open. The session starts at {}.", time_zone::format_time(clock.starts_at, &zone)),
            ),
            _ => ("open", format!("The room is open until {}.", time_zone::format_time(clock.deadline, &zone))),
        },
        Err(Refusal::TooEarly { .. }) => {
            ("soon", format!("The room opens at {opens_reader}, 5 minutes before the start."))
        }
        Err(Refusal::Over) => ("over", Refusal::Over.message().to_string()),
        Err(other) => (other.code(), other.message().to_string()),
    };
    let iso = |ms: i64| jiff::Timestamp::from_millisecond(ms).map(|t| t.to_string()).unwrap_or_default();
    RoomPage {
        id,
        state,
        message,
        when_reader: time_zone::format_range(entry.starts_at, entry.ends_at, &zone),
        when_advisor,
        zone,
        zone_from_browser,
        opens_at_iso: iso(clock.opens_at()),
        starts_at_iso: iso(clock.starts_at),
        ends_at_iso: iso(clock.deadline),
        advisor,
        learner,
        advisor_username: entry.advisor_username.clone(),
        other,
        message_link,
        rebook_link,
        decision_note: entry.decision_note.clone(),
        v,
    }
}
