//! Requesting a slot, and a request's own page with the decisions on it.

use std::collections::BTreeMap;

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use crate::domain::booking::{Action, RequestStatus};
use crate::domain::questions::{Kind, Question};
use crate::domain::time_zone;
use crate::service::App;
use crate::service::AppError;
use crate::service::agenda::{Requester, Standing};
use crate::service::booking::NOTE_MAX;
use crate::storage::{Request, SessionEntry};
use crate::web::render::{Page, WebError, redirect_with_flash};
use crate::web::session::{SignedIn, Visitor};

#[derive(Template)]
#[template(path = "request_new.html")]
struct RequestPage {
    v: Visitor,
    slot_id: i64,
    advisor: String,
    advisor_username: String,
    when_viewer: String,
    when_advisor: String,
    note: String,
    error: Option<String>,
    /// An error about the note, shown beside it.
    note_error: Option<String>,
    note_optional: bool,
    note_max: usize,
    /// The reader's own live request for this time.
    existing: Option<i64>,
    /// The weekly limit told before the form, and whether it is reached.
    limit: Option<String>,
    limit_reached: bool,
    /// The advisor's questions with what was typed: (question, answer, its choices).
    questions: Vec<(Question, String, Vec<String>)>,
    /// The private booking link's secret an unlisted slot was opened with.
    link: String,
    /// The slot's offering, when its advisor named it.
    offering: Option<crate::service::offerings::OfferingLabel>,
}

struct Typed<'a> {
    note: String,
    answers: &'a BTreeMap<String, String>,
    link: String,
}

/// The sentence about the weekly limit: how many requests are left.
fn limit_sentence(advisor: &str, standing: &Standing) -> Option<String> {
    let left = standing.left?;
    let limit = standing.weekly_limit;
    let sessions = if limit == 1 { "session" } else { "sessions" };
    Some(match left {
        0 => format!(
            "{advisor} takes at most {limit} {sessions} a week with each person, and you already have {limit} in \
             the week of {}: pick a time in another week.",
            standing.week_label
        ),
        n => format!(
            "{advisor} takes at most {limit} {sessions} a week with each person: you can ask for {n} more in the \
             week of {}.",
            standing.week_label
        ),
    })
}

async fn request_page(
    app: &App,
    v: Visitor,
    slot_id: i64,
    typed: Typed<'_>,
    error: Option<AppError>,
) -> Result<RequestPage, WebError> {
    let viewer_zone = v.zone();
    let Typed { note, answers, link } = typed;
    let (slot, advisor) = app.requestable_slot(slot_id, Some(link.as_str()).filter(|l| !l.is_empty())).await?;
    let questions = app
        .questions_for_slot(&slot)
        .await?
        .into_iter()
        .map(|q| {
            let answer = answers.get(&q.id.to_string()).cloned().unwrap_or_default();
            let choices = match &q.kind {
                Kind::Choice(c) => c.clone(),
                Kind::Text => Vec::new(),
            };
            (q, answer, choices)
        })
        .collect();
    let offering = app.named_offering_of_slot(&slot).await?;
    let standing = match &v.user {
        Some(user) => Some(app.standing(user, &slot).await?),
        None => None,
    };
    let name = advisor.name().to_string();
    let limit = standing.as_ref().and_then(|s| limit_sentence(&name, s));
    let limit_reached = standing.as_ref().is_some_and(|s| s.left == Some(0));
    let existing = standing.as_ref().and_then(|s| s.existing);
    // A note error shows beside the note; the existing request is linked
    // instead of "already asked".
    let (note_error, error) = match error {
        Some(AppError::Invalid(errors)) if errors.first().is_some_and(|e| e.field == "note") => {
            (errors.first().map(|e| e.message.clone()), None)
        }
        Some(AppError::Conflict("already_requested", _)) if existing.is_some() => (None, None),
        Some(other) => (None, Some(other.message())),
        None => (None, None),
    };
    Ok(RequestPage {
        questions,
        slot_id,
        advisor: name,
        advisor_username: advisor.username.clone(),
        when_viewer: time_zone::format_range(slot.starts_at, slot.ends_at, &viewer_zone),
        when_advisor: format!(
            "{} in {}",
            time_zone::format_range(slot.starts_at, slot.ends_at, &advisor.timezone),
            advisor.timezone
        ),
        note,
        error,
        note_error,
        note_optional: standing.as_ref().is_some_and(|s| s.note_optional),
        note_max: NOTE_MAX,
        existing,
        limit,
        limit_reached,
        link,
        offering,
        v,
    })
}

/// `?link=`: the private booking link's secret, for an unlisted slot.
#[derive(Deserialize)]
pub struct LinkQuery {
    #[serde(default)]
    link: String,
}

pub async fn new_request(
    State(app): State<App>,
    v: Visitor,
    SignedIn(user): SignedIn,
    Path(slot_id): Path<i64>,
    axum::extract::Query(query): axum::extract::Query<LinkQuery>,
) -> Result<Response, WebError> {
    // Say at once when karma stops this person from requesting, and how to recover.
    let blocked = app.check_karma_allows_requests(&user).await.err();
    let typed = Typed { note: String::new(), answers: &BTreeMap::new(), link: query.link };
    Ok(Page(request_page(&app, v, slot_id, typed, blocked).await?).into_response())
}

/// The request form: `note`, and `answer_<question id>` per question.
#[derive(Deserialize)]
pub struct RequestForm {
    #[serde(default)]
    note: String,
    #[serde(default)]
    link: String,
    #[serde(flatten)]
    rest: BTreeMap<String, String>,
}

pub async fn send_request(
    State(app): State<App>,
    v: Visitor,
    SignedIn(user): SignedIn,
    Path(slot_id): Path<i64>,
    axum::Form(form): axum::Form<RequestForm>,
) -> Result<Response, WebError> {
    let answers: BTreeMap<String, String> =
        form.rest.iter().filter_map(|(k, v)| k.strip_prefix("answer_").map(|id| (id.to_string(), v.clone()))).collect();
    let json = serde_json::to_value(&answers).unwrap_or_default();
    let link = Some(form.link.as_str()).filter(|l| !l.is_empty());
    match app.request_with_note(&user, slot_id, &form.note, &json, link).await {
        Ok(request) => {
            let message = if request.status == RequestStatus::Approved {
                "Booked! The advisor approves requests for this time automatically."
            } else {
                "Request sent. It shows in blue until the advisor approves it."
            };
            let week = app.slot_week(slot_id, &user.timezone).await.unwrap_or_default();
            Ok(redirect_with_flash(&app, &format!("/calendar?week={week}"), message))
        }
        Err(err @ (AppError::Conflict(..) | AppError::Invalid(_) | AppError::Forbidden("karma_too_low", _))) => {
            let status = StatusCode::from_u16(err.status()).unwrap_or(StatusCode::CONFLICT);
            let typed = Typed { note: form.note, answers: &answers, link: form.link };
            Ok(Page(request_page(&app, v, slot_id, typed, Some(err)).await?).with_status(status))
        }
        Err(other) => Err(other.into()),
    }
}

#[derive(Template)]
#[template(path = "request.html")]
struct RequestDetail {
    v: Visitor,
    request: Request,
    entry: SessionEntry,
    is_advisor: bool,
    when_viewer: String,
    when_other: String,
    events: Vec<(String, String, String)>,
    can_decide: bool,
    can_cancel: bool,
    error: Option<String>,
    /// (question, answer) pairs of the booking questions.
    answers: Vec<(String, String)>,
    /// "Add to calendar" links: Google, Outlook.
    google: String,
    outlook: String,
    /// The other person's username, for "Send a message".
    other_username: String,
    can_mark_no_show: bool,
    can_forgive: bool,
    /// A confirmed session ahead: whether its room is open now, and when
    /// it opens, in the reader's zone.
    room: Option<(bool, String)>,
    /// Who was in the room: "lea: in 09:58–10:08".
    presence: Vec<String>,
    /// Who is asking, for the advisor.
    requester: Option<Requester>,
}

async fn detail(
    app: &App,
    v: Visitor,
    user: &crate::storage::User,
    id: i64,
    error: Option<String>,
) -> Result<RequestDetail, WebError> {
    let (request, entry) = app.request_for(user, id).await?;
    let is_advisor = request.advisor_id == user.id;
    let event = app.session_event_of(user, &request).await?;
    let may = app.request_permissions(user, &request, &entry).await?;
    let other_zone = if is_advisor { user.timezone.clone() } else { entry.advisor_timezone.clone() };
    let events = app
        .request_history(&request, &entry)
        .await?
        .into_iter()
        .map(|(kind, who, note, at)| (time_zone::format_instant(at, &user.timezone), format!("{who} {kind}"), note))
        .collect();
    let given: BTreeMap<String, String> = serde_json::from_str(&request.answers).unwrap_or_default();
    let (slot, _) = app.slot_with_advisor(request.slot_id).await?;
    let labels = app.questions_for_slot(&slot).await?;
    let answers = given
        .into_iter()
        .map(|(id, answer)| {
            let label = labels.iter().find(|q| q.id.to_string() == id).map(|q| q.label.clone());
            (label.unwrap_or_else(|| format!("Question {id}")), answer)
        })
        .collect();
    let clock = crate::domain::room::RoomClock::new(entry.starts_at, entry.ends_at);
    let now = app.clock.now_ms();
    let room = (entry.status == crate::domain::booking::RequestStatus::Approved && now < clock.deadline).then(|| {
        let opens = format!("{} ({})", time_zone::format_instant(clock.opens_at(), &user.timezone), user.timezone);
        (clock.may_enter(now).is_ok(), opens)
    });
    let name_of = |user_id: i64| {
        if user_id == request.advisor_id { entry.advisor_username.clone() } else { entry.learner_username.clone() }
    };
    let presence = app
        .room_presence(id)
        .await?
        .into_iter()
        .map(|p| {
            let from = time_zone::format_time(p.first_joined_at, &user.timezone);
            match p.last_left_at {
                Some(left) => format!(
                    "@{}: in the room {from}–{}",
                    name_of(p.user_id),
                    time_zone::format_time(left, &user.timezone)
                ),
                None => format!("@{}: in the room since {from}", name_of(p.user_id)),
            }
        })
        .collect();
    let requester = if is_advisor { Some(app.requester(&request, &entry).await?) } else { None };
    Ok(RequestDetail {
        requester,
        presence,
        room,
        answers,
        when_viewer: time_zone::format_range(entry.starts_at, entry.ends_at, &user.timezone),
        // The other person's local time, when it differs from the reader's.
        when_other: if other_zone == user.timezone {
            String::new()
        } else {
            format!("{} in {}", time_zone::format_range(entry.starts_at, entry.ends_at, &other_zone), other_zone)
        },
        google: crate::calendar::feed::google_link(&event),
        outlook: crate::calendar::feed::outlook_link(&event),
        other_username: if is_advisor { entry.learner_username.clone() } else { entry.advisor_username.clone() },
        can_mark_no_show: may.mark_no_show,
        can_forgive: may.forgive,
        can_decide: may.decide,
        can_cancel: may.cancel,
        is_advisor,
        request,
        entry,
        events,
        error,
        v,
    })
}

pub async fn show(
    State(app): State<App>,
    v: Visitor,
    SignedIn(user): SignedIn,
    Path(id): Path<i64>,
) -> Result<Response, WebError> {
    Ok(Page(detail(&app, v, &user, id, None).await?).into_response())
}

#[derive(Deserialize)]
pub struct DecisionForm {
    #[serde(default)]
    note: String,
    /// Where the decision was taken from, to go back to: the agenda or the
    /// activity feed (anything else: the request's page).
    #[serde(default)]
    back: String,
}

pub async fn act(
    State(app): State<App>,
    v: Visitor,
    SignedIn(user): SignedIn,
    Path((id, action)): Path<(i64, String)>,
    axum::Form(form): axum::Form<DecisionForm>,
) -> Result<Response, WebError> {
    let (outcome, done) = match action.as_str() {
        "approve" => (
            app.decide(&user, id, Action::Approve, &form.note).await.map(drop),
            "Approved. The session shows in green in both calendars.",
        ),
        "decline" => (app.decide(&user, id, Action::Decline, &form.note).await.map(drop), "Declined."),
        "cancel" => (app.decide(&user, id, Action::Cancel, &form.note).await.map(drop), "Cancelled."),
        "no-show" => {
            (app.mark_no_show(&user, id, &form.note).await, "No-show recorded. You can forgive it within 7 days.")
        }
        "forgive" => (app.forgive_no_show(&user, id, &form.note).await, "Forgiven: the karma points are back."),
        _ => return Err(AppError::NotFound("page").into()),
    };
    match outcome {
        Ok(()) => {
            let back = match form.back.as_str() {
                "/upcoming" => "/upcoming".to_string(),
                "/notifications" => "/notifications".to_string(),
                _ => format!("/requests/{id}"),
            };
            Ok(redirect_with_flash(&app, &back, done))
        }
        Err(err @ (AppError::Conflict(..) | AppError::Invalid(_))) => {
            let status = StatusCode::from_u16(err.status()).unwrap_or(StatusCode::CONFLICT);
            Ok(Page(detail(&app, v, &user, id, Some(err.message())).await?).with_status(status))
        }
        Err(other) => Err(other.into()),
    }
}
