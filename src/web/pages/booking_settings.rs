//! An advisor's booking rules, private booking link and the page behind it.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use crate::domain::questions::{Kind, QUESTIONS_MAX, Question, QuestionInput};
use crate::domain::time_zone;
use crate::service::App;
use crate::service::AppError;
use crate::service::booking::BookingSettings;
use crate::storage::AdvisorPolicy;
use crate::web::render::{Page, WebError, redirect_with_flash};
use crate::web::session::{SignedIn, Visitor};

#[derive(Template)]
#[template(path = "booking_settings.html")]
struct SettingsPage {
    v: Visitor,
    policy: AdvisorPolicy,
    error: Option<String>,
    new_link: Option<String>,
    /// When the calendar was last read, in the advisor's zone.
    checked_at: Option<String>,
    /// Question rows for the form: the saved ones, then blank ones up to five.
    questions: Vec<QuestionRow>,
}

/// One row of the questions form.
pub struct QuestionRow {
    pub label: String,
    pub choice: bool,
    pub choices: String,
    pub required: bool,
}

pub(crate) fn question_rows(saved: &[Question]) -> Vec<QuestionRow> {
    let mut rows: Vec<QuestionRow> = saved
        .iter()
        .map(|q| QuestionRow {
            label: q.label.clone(),
            choice: matches!(q.kind, Kind::Choice(_)),
            choices: match &q.kind {
                Kind::Choice(c) => c.join("\n"),
                Kind::Text => String::new(),
            },
            required: q.required,
        })
        .collect();
    while rows.len() < QUESTIONS_MAX {
        rows.push(QuestionRow { label: String::new(), choice: false, choices: String::new(), required: false });
    }
    rows
}

async fn settings_page(
    app: &App,
    v: Visitor,
    error: Option<String>,
    new_link: Option<String>,
) -> Result<SettingsPage, WebError> {
    let user = v.user.clone().ok_or(AppError::Unauthenticated)?;
    let policy = app.booking_settings(&user).await?;
    let questions = question_rows(&app.booking_questions(user.id, None).await?);
    let checked_at = policy.busy_checked_at.map(|at| time_zone::format_instant(at, &user.timezone));
    Ok(SettingsPage { v, policy, error, new_link, checked_at, questions })
}

pub async fn page(State(app): State<App>, v: Visitor, SignedIn(user): SignedIn) -> Result<Response, WebError> {
    let _ = user;
    Ok(Page(settings_page(&app, v, None, None).await?).into_response())
}

#[derive(Deserialize)]
pub struct SettingsForm {
    #[serde(default)]
    buffer_minutes: String,
    #[serde(default)]
    min_notice_minutes: String,
    #[serde(default)]
    horizon_days: String,
    #[serde(default)]
    max_per_learner_week: String,
    approval_required: Option<String>,
    unlisted: Option<String>,
}

pub(crate) fn number(field: &'static str, text: &str) -> Result<i64, AppError> {
    let text = text.trim();
    if text.is_empty() {
        return Err(AppError::invalid(field, "required", "Give a number here."));
    }
    text.parse().map_err(|_| AppError::invalid(field, "not_a_number", format!("“{text}” is not a whole number.")))
}

pub async fn save(
    State(app): State<App>,
    v: Visitor,
    SignedIn(user): SignedIn,
    axum::Form(form): axum::Form<SettingsForm>,
) -> Result<Response, WebError> {
    let parsed = (|| {
        Ok::<_, AppError>(BookingSettings {
            buffer_minutes: number("buffer_minutes", &form.buffer_minutes)?,
            min_notice_minutes: number("min_notice_minutes", &form.min_notice_minutes)?,
            horizon_days: number("horizon_days", &form.horizon_days)?,
            max_per_learner_week: number("max_per_learner_week", &form.max_per_learner_week)?,
            approval_required: form.approval_required.is_some(),
            unlisted: form.unlisted.is_some(),
        })
    })();
    let outcome = match parsed {
        Ok(settings) => app.save_booking_settings(&user, &settings).await,
        Err(err) => Err(err),
    };
    match outcome {
        Ok(_) => Ok(redirect_with_flash(&app, "/settings/booking", "Booking rules saved.")),
        Err(err @ AppError::Invalid(_)) => Ok(Page(settings_page(&app, v, Some(err.message()), None).await?)
            .with_status(StatusCode::UNPROCESSABLE_ENTITY)),
        Err(other) => Err(other.into()),
    }
}

#[derive(Deserialize)]
pub struct BusyForm {
    #[serde(default)]
    url: String,
}

/// Connects (or, with an empty address, disconnects) the advisor's own calendar.
pub async fn save_busy(
    State(app): State<App>,
    v: Visitor,
    SignedIn(user): SignedIn,
    axum::Form(form): axum::Form<BusyForm>,
) -> Result<Response, WebError> {
    app.count_action(&format!("busy:{}", user.id))?;
    let url = form.url.trim();
    match app.set_busy_calendar(&user, Some(url).filter(|u| !u.is_empty())).await {
        Ok(_) if url.is_empty() => Ok(redirect_with_flash(&app, "/settings/booking", "Calendar disconnected.")),
        Ok(_) => Ok(redirect_with_flash(
            &app,
            "/settings/booking",
            "Calendar connected: its busy times now hide your overlapping slots.",
        )),
        Err(err @ (AppError::Invalid(_) | AppError::Forbidden(..))) => {
            let status = StatusCode::from_u16(err.status()).unwrap_or(StatusCode::UNPROCESSABLE_ENTITY);
            Ok(Page(settings_page(&app, v, Some(err.message()), None).await?).with_status(status))
        }
        Err(other) => Err(other.into()),
    }
}

#[derive(Deserialize)]
pub struct QuestionsForm {
    #[serde(default)]
    label: Vec<String>,
    #[serde(default)]
    kind: Vec<String>,
    #[serde(default)]
    choices: Vec<String>,
    #[serde(default)]
    required: Vec<String>,
}

impl QuestionsForm {
    /// The rows of the form, aligned by position.
    pub(crate) fn inputs(&self) -> Vec<QuestionInput> {
        let form = self;
        (0..form.label.len())
            .map(|i| QuestionInput {
                label: form.label[i].clone(),
                kind: form.kind.get(i).cloned().unwrap_or_default(),
                choices: form.choices.get(i).cloned().unwrap_or_default(),
                required: form.required.get(i).is_some_and(|r| r == "yes"),
            })
            .collect()
    }
}

pub async fn save_questions(
    State(app): State<App>,
    v: Visitor,
    SignedIn(user): SignedIn,
    axum_extra::extract::Form(form): axum_extra::extract::Form<QuestionsForm>,
) -> Result<Response, WebError> {
    match app.save_booking_questions(&user, None, &form.inputs()).await {
        Ok(saved) => Ok(redirect_with_flash(
            &app,
            "/settings/booking",
            &format!("Saved {}.", crate::domain::plural::count(saved.len() as i64, "question")),
        )),
        Err(err @ AppError::Invalid(_)) => Ok(Page(settings_page(&app, v, Some(err.message()), None).await?)
            .with_status(StatusCode::UNPROCESSABLE_ENTITY)),
        Err(other) => Err(other.into()),
    }
}

pub async fn new_link(State(app): State<App>, v: Visitor, SignedIn(user): SignedIn) -> Result<Response, WebError> {
    let link = app.new_private_link(&user).await?;
    Ok(Page(settings_page(&app, v, None, Some(link)).await?).into_response())
}

#[derive(Template)]
#[template(path = "private_booking.html")]
struct PrivatePage {
    v: Visitor,
    advisor: String,
    advisor_username: String,
    zone: String,
    /// (slot id, "Tue 1 Dec, 14:00–14:10 CET", start and end for `<time>`)
    slots: Vec<(i64, String, String, String)>,
    /// The link's secret, passed on to the request form.
    secret: String,
}

/// The page behind a private booking link: the advisor's slots, listed or not.
pub async fn private_page(
    State(app): State<App>,
    v: Visitor,
    Path(secret): Path<String>,
) -> Result<Response, WebError> {
    let (advisor, slots) = app.private_link_slots(&secret).await?;
    let zone = v.zone();
    let slots = slots
        .iter()
        .take(100)
        .map(|s| {
            let text = time_zone::format_range(s.starts_at, s.ends_at, &zone);
            (s.id, text, time_zone::iso(s.starts_at), time_zone::iso(s.ends_at))
        })
        .collect();
    Ok(Page(PrivatePage {
        v,
        advisor: advisor.name().to_string(),
        advisor_username: advisor.username.clone(),
        zone,
        slots,
        secret,
    })
    .into_response())
}
