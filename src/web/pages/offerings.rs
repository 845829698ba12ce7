//! Settings → Offerings (issue 17, item 13): an advisor's named offerings,
//! one form to add one and one to change or remove each.

use std::collections::BTreeMap;

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use crate::domain::FieldErrors;
use crate::domain::offering::{DESCRIPTION_MAX, TITLE_MAX};
use crate::domain::questions::{QUESTIONS_MAX, QuestionInput};
use crate::service::offerings::{OfferingInput, OfferingRules};
use crate::service::{App, AppError};
use crate::storage::{Offering, User};
use crate::web::pages::booking_settings::{QuestionRow, number, question_rows, questions_of_form};
use crate::web::render::{Page, WebError, redirect_with_flash};
use crate::web::session::{SignedIn, Visitor};

#[derive(Template)]
#[template(path = "offerings.html")]
struct OfferingsPage {
    v: Visitor,
    items: Vec<Item>,
    /// The form: a new offering, or the one being changed.
    form: FormView,
    errors: FieldErrors,
    lengths: Vec<i64>,
    new_link: Option<String>,
    title_max: usize,
    description_max: usize,
}

/// One offering in the list.
struct Item {
    id: i64,
    title: String,
    description: String,
    minutes: i64,
    is_default: bool,
    unlisted: Option<bool>,
    has_link: bool,
}

/// The offering form, as saved or as typed.
struct FormView {
    /// `None`: adding a new one.
    id: Option<i64>,
    is_default: bool,
    title: String,
    description: String,
    session_minutes: String,
    buffer_minutes: String,
    min_notice_minutes: String,
    horizon_days: String,
    max_per_learner_week: String,
    /// "", "yes" or "no" (empty: as in the booking rules).
    approval: String,
    /// "", "listed" or "unlisted".
    visibility: String,
    /// "", "required" or "optional".
    note: String,
    questions: Vec<QuestionRow>,
}

impl FormView {
    fn blank(app: &App) -> FormView {
        FormView {
            id: None,
            is_default: false,
            title: String::new(),
            description: String::new(),
            session_minutes: app.config.session_minutes.to_string(),
            buffer_minutes: String::new(),
            min_notice_minutes: String::new(),
            horizon_days: String::new(),
            max_per_learner_week: String::new(),
            approval: String::new(),
            visibility: String::new(),
            note: String::new(),
            questions: rows(Vec::new()),
        }
    }
}

fn opt(n: Option<i64>) -> String {
    n.map(|n| n.to_string()).unwrap_or_default()
}

fn word(value: Option<bool>, yes: &str, no: &str) -> String {
    match value {
        Some(true) => yes.into(),
        Some(false) => no.into(),
        None => String::new(),
    }
}

/// The saved questions, then blank ones (the first blank shown, the rest
/// revealed one at a time).
fn rows(mut saved: Vec<QuestionRow>) -> Vec<QuestionRow> {
    saved.retain(|q| !q.label.trim().is_empty());
    let kept = saved.len();
    let mut all = question_rows(&[]);
    all.truncate(QUESTIONS_MAX - kept.min(QUESTIONS_MAX));
    for (i, row) in all.iter_mut().enumerate() {
        row.later = i > 0;
    }
    saved.extend(all);
    saved
}

async fn page(
    app: &App,
    v: Visitor,
    user: &User,
    form: Option<FormView>,
    errors: FieldErrors,
    new_link: Option<String>,
) -> Result<OfferingsPage, WebError> {
    let offerings = app.offerings(user).await?;
    let items = offerings
        .iter()
        .map(|o| Item {
            id: o.id,
            title: o.title.clone(),
            description: o.description.clone(),
            minutes: app.offering_minutes(o),
            is_default: o.is_default,
            unlisted: o.unlisted,
            has_link: o.private_link_hash.is_some(),
        })
        .collect();
    Ok(OfferingsPage {
        v,
        items,
        form: form.unwrap_or_else(|| FormView::blank(app)),
        errors,
        lengths: app.config.session_lengths.clone(),
        new_link,
        title_max: TITLE_MAX,
        description_max: DESCRIPTION_MAX,
    })
}

/// The page with one saved offering open in the form.
async fn saved_page(
    app: &App,
    v: Visitor,
    user: &User,
    offering: &Offering,
    errors: FieldErrors,
    new_link: Option<String>,
) -> Result<OfferingsPage, WebError> {
    let form = saved_form(app, offering).await?;
    page(app, v, user, Some(form), errors, new_link).await
}

async fn saved_form(app: &App, o: &Offering) -> Result<FormView, WebError> {
    let questions = if o.is_default {
        Vec::new()
    } else {
        crate::web::pages::booking_settings::question_rows(&app.offering_questions(o).await?)
    };
    Ok(FormView {
        id: Some(o.id),
        is_default: o.is_default,
        title: o.title.clone(),
        description: o.description.clone(),
        session_minutes: app.offering_minutes(o).to_string(),
        buffer_minutes: opt(o.buffer_minutes),
        min_notice_minutes: opt(o.min_notice_minutes),
        horizon_days: opt(o.horizon_days),
        max_per_learner_week: opt(o.max_per_learner_week),
        approval: word(o.approval_required, "yes", "no"),
        visibility: word(o.unlisted, "unlisted", "listed"),
        note: word(o.note_optional, "optional", "required"),
        questions: rows(questions),
    })
}

/// The list and the form to add one.
pub async fn list(State(app): State<App>, v: Visitor, SignedIn(user): SignedIn) -> Result<Response, WebError> {
    Ok(Page(page(&app, v, &user, None, FieldErrors::new(), None).await?).into_response())
}

/// One offering's form.
pub async fn edit_page(
    State(app): State<App>,
    v: Visitor,
    SignedIn(user): SignedIn,
    Path(id): Path<i64>,
) -> Result<Response, WebError> {
    let offering = app.offering_of(&user, id).await?;
    Ok(Page(saved_page(&app, v, &user, &offering, FieldErrors::new(), None).await?).into_response())
}

/// The offering form as sent: text fields, and the questions as
/// `q<n>_label`, `q<n>_kind`, `q<n>_choices`, `q<n>_required`.
#[derive(Deserialize)]
pub struct OfferingForm {
    #[serde(default)]
    title: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    session_minutes: String,
    #[serde(default)]
    buffer_minutes: String,
    #[serde(default)]
    min_notice_minutes: String,
    #[serde(default)]
    horizon_days: String,
    #[serde(default)]
    max_per_learner_week: String,
    #[serde(default)]
    approval: String,
    #[serde(default)]
    visibility: String,
    #[serde(default)]
    note: String,
    #[serde(flatten)]
    rest: BTreeMap<String, String>,
}

impl OfferingForm {
    fn questions(&self) -> Vec<QuestionInput> {
        questions_of_form(&self.rest)
    }

    /// The form's input for the service; numbers left empty keep the
    /// booking rules, anything else must be a whole number.
    fn input(&self) -> Result<OfferingInput, FieldErrors> {
        let mut errors = FieldErrors::new();
        let mut num = |field: &'static str, text: &str| {
            if text.trim().is_empty() {
                return None;
            }
            match number(field, text) {
                Ok(n) => Some(n),
                Err(AppError::Invalid(found)) => {
                    errors.0.extend(found.0);
                    None
                }
                Err(_) => None,
            }
        };
        let rules = OfferingRules {
            buffer_minutes: num("buffer_minutes", &self.buffer_minutes),
            min_notice_minutes: num("min_notice_minutes", &self.min_notice_minutes),
            horizon_days: num("horizon_days", &self.horizon_days),
            max_per_learner_week: num("max_per_learner_week", &self.max_per_learner_week),
            approval_required: choice(&mut errors, "approval", &self.approval, "yes", "no"),
            unlisted: choice(&mut errors, "visibility", &self.visibility, "unlisted", "listed"),
            note_optional: choice(&mut errors, "note", &self.note, "optional", "required"),
        };
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(OfferingInput {
            title: self.title.clone(),
            description: self.description.clone(),
            session_minutes: self.session_minutes.clone(),
            rules,
            questions: self.questions(),
        })
    }

    fn typed(&self, id: Option<i64>, is_default: bool) -> FormView {
        FormView {
            id,
            is_default,
            title: self.title.clone(),
            description: self.description.clone(),
            session_minutes: self.session_minutes.clone(),
            buffer_minutes: self.buffer_minutes.clone(),
            min_notice_minutes: self.min_notice_minutes.clone(),
            horizon_days: self.horizon_days.clone(),
            max_per_learner_week: self.max_per_learner_week.clone(),
            approval: self.approval.clone(),
            visibility: self.visibility.clone(),
            note: self.note.clone(),
            questions: rows(
                self.questions()
                    .into_iter()
                    .map(|q| QuestionRow {
                        choice: q.kind == "choice",
                        label: q.label,
                        choices: q.choices,
                        required: q.required,
                        later: false,
                    })
                    .collect(),
            ),
        }
    }
}

/// A select of three: empty (as in the booking rules), `yes` or `no`.
fn choice(errors: &mut FieldErrors, field: &'static str, text: &str, yes: &str, no: &str) -> Option<bool> {
    match text.trim() {
        "" => None,
        t if t == yes => Some(true),
        t if t == no => Some(false),
        other => {
            errors.add(field, "invalid_choice", format!("“{other}” is not one of the choices."));
            None
        }
    }
}

/// Adds an offering.
pub async fn create(
    State(app): State<App>,
    v: Visitor,
    SignedIn(user): SignedIn,
    axum::Form(form): axum::Form<OfferingForm>,
) -> Result<Response, WebError> {
    let outcome = match form.input() {
        Ok(input) => app.create_offering(&user, &input).await,
        Err(errors) => Err(AppError::Invalid(errors)),
    };
    match outcome {
        Ok(made) => Ok(redirect_with_flash(&app, "/settings/offerings", &format!("Added “{}”.", made.title))),
        Err(AppError::Invalid(errors)) => {
            let page = page(&app, v, &user, Some(form.typed(None, false)), errors, None).await?;
            Ok(Page(page).with_status(StatusCode::UNPROCESSABLE_ENTITY))
        }
        Err(other) => Err(other.into()),
    }
}

/// Saves an offering's changes.
pub async fn update(
    State(app): State<App>,
    v: Visitor,
    SignedIn(user): SignedIn,
    Path(id): Path<i64>,
    axum::Form(form): axum::Form<OfferingForm>,
) -> Result<Response, WebError> {
    let current = app.offering_of(&user, id).await?;
    let outcome = match form.input() {
        Ok(input) => app.update_offering(&user, id, &input).await,
        Err(errors) => Err(AppError::Invalid(errors)),
    };
    match outcome {
        Ok(saved) => Ok(redirect_with_flash(&app, "/settings/offerings", &format!("Saved “{}”.", saved.title))),
        Err(AppError::Invalid(errors)) => {
            let page = page(&app, v, &user, Some(form.typed(Some(id), current.is_default)), errors, None).await?;
            Ok(Page(page).with_status(StatusCode::UNPROCESSABLE_ENTITY))
        }
        Err(other) => Err(other.into()),
    }
}

/// Removes an offering (refused, with the reason, for the default one, the
/// last one, or one with sessions ahead booked or asked for).
pub async fn remove(
    State(app): State<App>,
    v: Visitor,
    SignedIn(user): SignedIn,
    Path(id): Path<i64>,
) -> Result<Response, WebError> {
    let offering = app.offering_of(&user, id).await?;
    match app.remove_offering(&user, id).await {
        Ok(()) => Ok(redirect_with_flash(&app, "/settings/offerings", &format!("Removed “{}”.", offering.title))),
        Err(err @ AppError::Conflict(..)) => {
            let errors = FieldErrors::single("remove", err.code(), err.message());
            let page = saved_page(&app, v, &user, &offering, errors, None).await?;
            Ok(Page(page).with_status(StatusCode::CONFLICT))
        }
        Err(other) => Err(other.into()),
    }
}

/// A new private link for one offering, shown once.
pub async fn new_link(
    State(app): State<App>,
    v: Visitor,
    SignedIn(user): SignedIn,
    Path(id): Path<i64>,
) -> Result<Response, WebError> {
    let link = app.new_offering_link(&user, id).await?;
    let offering = app.offering_of(&user, id).await?;
    Ok(Page(saved_page(&app, v, &user, &offering, FieldErrors::new(), Some(link)).await?).into_response())
}
