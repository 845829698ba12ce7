//! An advisor's booking rules, private booking link and the page behind it.

use std::collections::BTreeMap;

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use crate::domain::questions::{Kind, QUESTIONS_MAX, Question, QuestionInput};
use crate::domain::time_zone;
use crate::service::App;
use crate::service::AppError;
use crate::service::agenda::Picker;
use crate::service::booking::BookingSettings;
use crate::storage::AdvisorPolicy;
use crate::web::render::{Page, WebError, redirect_with_flash};
use crate::web::session::{SignedIn, Visitor};

#[derive(Template)]
#[template(path = "booking_settings.html")]
struct SettingsPage {
    v: Visitor,
    policy: AdvisorPolicy,
    /// The rules as shown: saved, or as typed when the form came back.
    rules: RulesView,
    error: Option<String>,
    /// The field the error is about, to mark it.
    error_field: Option<&'static str>,
    new_link: Option<String>,
    /// When the calendar was last read, in the advisor's zone.
    checked_at: Option<String>,
    /// The saved questions, then blank ones up to five (the page shows one
    /// at a time).
    questions: Vec<QuestionRow>,
    saved_questions: usize,
}

/// The numbers and switches of the rules form, as text.
pub struct RulesView {
    pub buffer_minutes: String,
    pub min_notice_minutes: String,
    pub horizon_days: String,
    pub max_per_learner_week: String,
    pub approval_required: bool,
    pub unlisted: bool,
    pub note_optional: bool,
}

impl RulesView {
    fn of(policy: &AdvisorPolicy) -> RulesView {
        RulesView {
            buffer_minutes: policy.buffer_minutes.to_string(),
            min_notice_minutes: policy.min_notice_minutes.to_string(),
            horizon_days: policy.horizon_days.to_string(),
            max_per_learner_week: policy.max_per_learner_week.to_string(),
            approval_required: policy.approval_required,
            unlisted: policy.unlisted,
            note_optional: policy.note_optional,
        }
    }
}

/// One row of the questions form.
pub struct QuestionRow {
    pub label: String,
    pub choice: bool,
    pub choices: String,
    pub required: bool,
    /// A blank row after the first one, shown only when asked for.
    pub later: bool,
}

fn row_of(q: &Question) -> QuestionRow {
    QuestionRow {
        label: q.label.clone(),
        choice: matches!(q.kind, Kind::Choice(_)),
        choices: match &q.kind {
            Kind::Choice(c) => c.join("\n"),
            Kind::Text => String::new(),
        },
        required: q.required,
        later: false,
    }
}

fn blank_row() -> QuestionRow {
    QuestionRow { label: String::new(), choice: false, choices: String::new(), required: false, later: false }
}

/// The rows of a block's questions form: the saved ones, then blank ones up to five.
pub(crate) fn question_rows(saved: &[Question]) -> Vec<QuestionRow> {
    let mut rows: Vec<QuestionRow> = saved.iter().map(row_of).collect();
    while rows.len() < QUESTIONS_MAX {
        rows.push(blank_row());
    }
    rows
}

/// What came back with a refused form, to show again as typed.
struct Typed {
    rules: RulesView,
    questions: Vec<QuestionRow>,
}

async fn settings_page(
    app: &App,
    v: Visitor,
    error: Option<(Option<&'static str>, String)>,
    new_link: Option<String>,
    typed: Option<Typed>,
) -> Result<SettingsPage, WebError> {
    let user = v.user.clone().ok_or(AppError::Unauthenticated)?;
    let policy = app.booking_settings(&user).await?;
    let (rules, mut questions) = match typed {
        Some(typed) => (typed.rules, typed.questions),
        None => (RulesView::of(&policy), app.booking_questions(user.id, None).await?.iter().map(row_of).collect()),
    };
    let saved_questions = questions.iter().filter(|q| !q.label.trim().is_empty()).count();
    questions.retain(|q| !q.label.trim().is_empty());
    while questions.len() < QUESTIONS_MAX {
        let later = questions.len() > saved_questions;
        questions.push(QuestionRow { later, ..blank_row() });
    }
    let checked_at = policy.busy_checked_at.map(|at| time_zone::format_instant(at, &user.timezone));
    let (error_field, error) = match error {
        Some((field, message)) => (field, Some(message)),
        None => (None, None),
    };
    Ok(SettingsPage { v, policy, rules, error, error_field, new_link, checked_at, questions, saved_questions })
}

pub async fn page(State(app): State<App>, v: Visitor, SignedIn(user): SignedIn) -> Result<Response, WebError> {
    let _ = user;
    Ok(Page(settings_page(&app, v, None, None, None).await?).into_response())
}

/// The booking rules form: the numbers, the switches and (when the page
/// showed them, `questions_shown`) the questions as `q<n>_label`,
/// `q<n>_kind`, `q<n>_choices`, `q<n>_required`.
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
    #[serde(default)]
    approval_required: String,
    #[serde(default)]
    unlisted: String,
    #[serde(default)]
    note_optional: String,
    #[serde(default)]
    questions_shown: String,
    #[serde(flatten)]
    rest: BTreeMap<String, String>,
}

impl SettingsForm {
    fn questions(&self) -> Vec<QuestionInput> {
        questions_of_form(&self.rest)
    }

    fn typed(&self) -> Typed {
        Typed {
            rules: RulesView {
                buffer_minutes: self.buffer_minutes.clone(),
                min_notice_minutes: self.min_notice_minutes.clone(),
                horizon_days: self.horizon_days.clone(),
                max_per_learner_week: self.max_per_learner_week.clone(),
                approval_required: !self.approval_required.is_empty(),
                unlisted: !self.unlisted.is_empty(),
                note_optional: !self.note_optional.is_empty(),
            },
            questions: self
                .questions()
                .into_iter()
                .map(|q| QuestionRow {
                    choice: q.kind == "choice",
                    label: q.label,
                    choices: q.choices,
                    required: q.required,
                    later: false,
                })
                .collect(),
        }
    }
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
            approval_required: !form.approval_required.is_empty(),
            unlisted: !form.unlisted.is_empty(),
            note_optional: !form.note_optional.is_empty(),
        })
    })();
    let outcome = match parsed {
        // The page's one form: rules and questions saved together, or neither.
        Ok(settings) if !form.questions_shown.is_empty() => {
            app.save_booking_rules(&user, &settings, &form.questions()).await
        }
        Ok(settings) => app.save_booking_settings(&user, &settings).await.map(drop),
        Err(err) => Err(err),
    };
    match outcome {
        Ok(()) => Ok(redirect_with_flash(&app, "/settings/booking", "Booking rules saved.")),
        Err(AppError::Invalid(errors)) => {
            let first = errors.first().map(|e| (Some(e.field), e.message.clone()));
            let page = settings_page(&app, v, first, None, Some(form.typed())).await?;
            Ok(Page(page).with_status(StatusCode::UNPROCESSABLE_ENTITY))
        }
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
            Ok(Page(settings_page(&app, v, Some((None, err.message())), None, None).await?).with_status(status))
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
        Err(err @ AppError::Invalid(_)) => {
            Ok(Page(settings_page(&app, v, Some((Some("questions"), err.message())), None, None).await?)
                .with_status(StatusCode::UNPROCESSABLE_ENTITY))
        }
        Err(other) => Err(other.into()),
    }
}

pub async fn new_link(State(app): State<App>, v: Visitor, SignedIn(user): SignedIn) -> Result<Response, WebError> {
    let link = app.new_private_link(&user).await?;
    Ok(Page(settings_page(&app, v, None, Some(link), None).await?).into_response())
}

#[derive(Template)]
#[template(path = "private_booking.html")]
struct PrivatePage {
    v: Visitor,
    advisor: String,
    advisor_username: String,
    picker: Picker,
    session_label: String,
    /// The offering whose own link this is.
    offering: Option<crate::service::offerings::OfferingLabel>,
}

/// The page behind a private booking link: the advisor's free times,
/// listed or not, in the time picker.
pub async fn private_page(
    State(app): State<App>,
    v: Visitor,
    Path(secret): Path<String>,
) -> Result<Response, WebError> {
    let (advisor, slots, offering) = app.private_link_slots(&secret).await?;
    let offering = offering.map(|o| app.offering_label(&o));
    let minutes = offering.as_ref().map(|o| o.minutes).unwrap_or(app.config.session_minutes);
    let zone = v.zone();
    let picker = app.picker(&advisor, &slots, v.user.as_ref(), &zone, Some(&secret)).await?;
    Ok(Page(PrivatePage {
        advisor: advisor.name().to_string(),
        advisor_username: advisor.username.clone(),
        picker,
        session_label: format!("{minutes}-minute session"),
        offering,
        v,
    })
    .into_response())
}

/// The questions a form sends as `q{i}_label`, `q{i}_kind`, `q{i}_choices`
/// and `q{i}_required` (the booking rules page and an offering's page).
pub(crate) fn questions_of_form(fields: &BTreeMap<String, String>) -> Vec<QuestionInput> {
    let field = |i: usize, name: &str| fields.get(&format!("q{i}_{name}")).cloned().unwrap_or_default();
    (0..QUESTIONS_MAX)
        .filter(|i| fields.contains_key(&format!("q{i}_label")))
        .map(|i| QuestionInput {
            label: field(i, "label"),
            kind: field(i, "kind"),
            // A short-text question has no choices, whatever was typed before switching.
            choices: if field(i, "kind") == "choice" { field(i, "choices") } else { String::new() },
            required: field(i, "required") == "yes",
        })
        .collect()
}
