//! "My calendar": a week of the visitor's slots (as advisor) and requests (as
//! learner) in their own time zone, the form to add availability, and
//! removing an occurrence or a whole series.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum_extra::extract::Form as MultiForm;
use jiff::ToSpan;
use jiff::civil::Date;
use serde::Deserialize;

use crate::domain::{FieldErrors, time_zone};
use crate::service::App;
use crate::service::AppError;
use crate::service::booking::BlockInput;
use crate::service::calendar_view::{Day, WeekView};
use crate::storage::{Block, BlockOverrides, User};
use crate::web::render::{Page, WebError, redirect_with_flash};
use crate::web::session::{SignedIn, Visitor};

#[derive(Template)]
#[template(path = "calendar.html")]
struct CalendarPage {
    v: Visitor,
    zone: String,
    week_label: String,
    prev_week: String,
    next_week: String,
    days: Vec<Day>,
    is_advisor: bool,
    form: BlockFormInput,
    errors: FieldErrors,
    zones: &'static [String],
    weekday_names: [(&'static str, &'static str); 7],
    empty: bool,
    /// Opened on an empty week, the calendar moved on to the first week
    /// with something in it: the empty week's Monday, "7 December".
    jumped: Option<String>,
    /// Asked for an empty week with something later: (date, "Tuesday 15 December").
    later: Option<(String, String)>,
    /// Today's date, for "back to this week".
    today: String,
    /// The advisor's offerings for the add form: (id, "Title — 10 min").
    offerings: Vec<(i64, String)>,
    /// "10 minutes", the length of the only offering.
    session_label: String,
}

const WEEKDAYS: [(&str, &str); 7] =
    [("mon", "Mon"), ("tue", "Tue"), ("wed", "Wed"), ("thu", "Thu"), ("fri", "Fri"), ("sat", "Sat"), ("sun", "Sun")];

#[derive(Deserialize)]
pub struct WeekQuery {
    week: Option<String>,
}

#[derive(Deserialize, Default, Clone)]
pub struct BlockFormInput {
    #[serde(default)]
    pub date: String,
    #[serde(default)]
    pub start: String,
    #[serde(default)]
    pub end: String,
    #[serde(default)]
    pub timezone: String,
    #[serde(default)]
    pub until: String,
    #[serde(default)]
    pub weekdays: Vec<String>,
    pub auto_approve: Option<String>,
    pub unlisted: Option<String>,
    /// The offering's id (empty: the default one).
    #[serde(default)]
    pub offering: String,
}

pub async fn calendar(
    State(app): State<App>,
    v: Visitor,
    SignedIn(user): SignedIn,
    Query(q): Query<WeekQuery>,
) -> Result<Response, WebError> {
    let mut form = BlockFormInput { timezone: user.timezone.clone(), ..Default::default() };
    if user.is_advisor {
        // The default offering is preselected.
        form.offering = app.offerings(&user).await?.first().map(|o| o.id.to_string()).unwrap_or_default();
    }
    render(&app, v, &user, q.week.as_deref(), form, FieldErrors::new(), StatusCode::OK).await
}

async fn render(
    app: &App,
    v: Visitor,
    user: &User,
    week: Option<&str>,
    form: BlockFormInput,
    errors: FieldErrors,
    status: StatusCode,
) -> Result<Response, WebError> {
    let mut view = app.week_view(user, week).await?;
    // An empty week: the first day with something on it, later on. Opened
    // without a week, the calendar goes there at once; otherwise it links.
    let mut jumped = None;
    let mut later = None;
    if view.empty {
        let sunday = view.monday.checked_add(6.days()).unwrap_or(view.monday);
        if let Some(first) = app.first_busy_day(user).await?.filter(|d| *d > sunday) {
            if week.is_none() {
                jumped = Some(view.monday.strftime("%-d %B").to_string());
                view = app.week_view(user, Some(&first.to_string())).await?;
            } else {
                later = Some((first.to_string(), first.strftime("%A %-d %B").to_string()));
            }
        }
    }
    let WeekView { zone, monday, days, empty } = view;
    let mut offerings = Vec::new();
    let mut session_label = format!("{} minutes", app.config.session_minutes);
    if user.is_advisor {
        for o in app.offerings(user).await? {
            let minutes = app.offering_minutes(&o);
            session_label = format!("{minutes} minutes");
            offerings.push((o.id, format!("{} — {minutes} min", o.title)));
        }
    }
    let last = monday.checked_add(6.days()).unwrap_or(monday);
    let page = CalendarPage {
        v,
        week_label: format!("{} – {}", monday.strftime("%-d %b"), last.strftime("%-d %b %Y")),
        prev_week: monday.checked_sub(7.days()).unwrap_or(monday).to_string(),
        next_week: monday.checked_add(7.days()).unwrap_or(monday).to_string(),
        zone,
        days,
        is_advisor: user.is_advisor,
        form,
        errors,
        zones: time_zone::all(),
        weekday_names: WEEKDAYS,
        empty,
        jumped,
        later,
        today: time_zone::local_date(app.clock.now_ms(), &user.timezone).map(|d| d.to_string()).unwrap_or_default(),
        offerings,
        session_label,
    };
    Ok(Page(page).with_status(status))
}

pub async fn add_block(
    State(app): State<App>,
    v: Visitor,
    SignedIn(user): SignedIn,
    MultiForm(form): MultiForm<BlockFormInput>,
) -> Result<Response, WebError> {
    let missing = missing_block_fields(&form);
    if !missing.is_empty() {
        let week = form.date.clone();
        return render(&app, v, &user, Some(&week), form, missing, StatusCode::UNPROCESSABLE_ENTITY).await;
    }
    let offering = match form.offering.trim() {
        "" => None,
        id => match id.parse::<i64>() {
            Ok(id) => Some(id),
            Err(_) => {
                let errors = FieldErrors::single("offering", "unknown_offering", "Choose one of your offerings.");
                let week = form.date.clone();
                return render(&app, v, &user, Some(&week), form, errors, StatusCode::UNPROCESSABLE_ENTITY).await;
            }
        },
    };
    let repeat = !form.until.trim().is_empty();
    let input = BlockInput {
        offering,
        start: format!("{}T{}", form.date.trim(), form.start.trim()),
        end: format!("{}T{}", form.date.trim(), form.end.trim()),
        timezone: form.timezone.clone(),
        repeat_weekly_until: repeat.then(|| form.until.clone()),
        weekdays: if repeat { form.weekdays.clone() } else { Vec::new() },
        overrides: BlockOverrides {
            approval_required: form.auto_approve.as_ref().map(|_| false),
            unlisted: form.unlisted.as_ref().map(|_| true),
            ..Default::default()
        },
    };
    match app.create_block(&user, &input).await {
        Ok((block, slots)) => Ok(redirect_with_flash(
            &app,
            &format!("/calendar?week={}", block.start_date),
            &format!("Added {}.", crate::domain::plural::count(slots.len() as i64, "session")),
        )),
        Err(AppError::Invalid(errors)) => {
            let week = form.date.clone();
            render(&app, v, &user, Some(&week), form, errors, StatusCode::UNPROCESSABLE_ENTITY).await
        }
        Err(err @ (AppError::Conflict(..) | AppError::Forbidden(..))) => {
            let status = StatusCode::from_u16(err.status()).unwrap_or(StatusCode::CONFLICT);
            let errors = FieldErrors::single("start", err.code(), err.message());
            let week = form.date.clone();
            render(&app, v, &user, Some(&week), form, errors, status).await
        }
        Err(other) => Err(other.into()),
    }
}

/// The day and the times as the form's own fields say them, checked
/// before they are joined into the one local-time form the service reads.
fn missing_block_fields(form: &BlockFormInput) -> FieldErrors {
    let mut errors = FieldErrors::new();
    let date = form.date.trim();
    if date.is_empty() {
        errors.add("date", "required", "Choose the day.");
    } else if date.parse::<Date>().is_err() {
        errors.add("date", "invalid_date", format!("“{date}” is not a date; pick one like 2027-01-06."));
    }
    for (field, text, empty) in
        [("start", form.start.trim(), "Give the time it starts."), ("end", form.end.trim(), "Give the time it ends.")]
    {
        if text.is_empty() {
            errors.add(field, "required", empty);
        } else if text.len() != 5 || text.parse::<jiff::civil::Time>().is_err() {
            errors.add(field, "invalid_time", format!("“{text}” is not a time like 14:30."));
        }
    }
    errors
}

#[derive(Template)]
#[template(path = "block_remove.html")]
struct RemovePage {
    v: Visitor,
    block: Block,
    date: String,
    day_label: String,
}

#[derive(Deserialize)]
pub struct DateQuery {
    #[serde(default)]
    date: String,
}

pub async fn remove_page(
    State(app): State<App>,
    v: Visitor,
    SignedIn(user): SignedIn,
    Path(id): Path<i64>,
    Query(q): Query<DateQuery>,
) -> Result<Response, WebError> {
    let block = app.block_of(&user, id).await?;
    let day_label = q.date.parse::<Date>().map(|d| d.strftime("%A %-d %B %Y").to_string()).unwrap_or_default();
    Ok(Page(RemovePage { v, block, date: q.date, day_label }).into_response())
}

#[derive(Deserialize)]
pub struct RemoveForm {
    #[serde(default)]
    scope: String,
    #[serde(default)]
    date: String,
    #[serde(default)]
    note: String,
}

pub async fn remove(
    State(app): State<App>,
    SignedIn(user): SignedIn,
    Path(id): Path<i64>,
    axum::Form(form): axum::Form<RemoveForm>,
) -> Result<Response, WebError> {
    let date = match form.scope.as_str() {
        "occurrence" => Some(form.date.as_str()),
        "series" => None,
        _ => {
            return Err(AppError::invalid("scope", "invalid_scope", "Choose this day only or the whole series.").into());
        }
    };
    let cancelled = app.remove_block(&user, id, date, &form.note).await?;
    let what = if date.is_some() { "That day's availability" } else { "The whole series" };
    let message = match cancelled.len() {
        0 => format!("{what} was removed."),
        1 => format!("{what} was removed; the request on it was cancelled."),
        n => format!("{what} was removed; the {n} requests on it were cancelled."),
    };
    Ok(redirect_with_flash(&app, &format!("/calendar?week={}", form.date), &message))
}

#[derive(Template)]
#[template(path = "block_edit.html")]
struct EditPage {
    v: Visitor,
    block: Block,
    date: String,
    error: Option<String>,
    questions: Vec<super::booking_settings::QuestionRow>,
    questions_action: String,
}

async fn edit_view(
    app: &App,
    v: Visitor,
    user: &User,
    id: i64,
    date: String,
    error: Option<String>,
) -> Result<EditPage, WebError> {
    let block = app.block_of(user, id).await?;
    let questions = super::booking_settings::question_rows(&app.booking_questions(user.id, Some(id)).await?);
    Ok(EditPage { v, questions_action: format!("/blocks/{id}/questions?date={date}"), block, date, error, questions })
}

pub async fn edit_page(
    State(app): State<App>,
    v: Visitor,
    SignedIn(user): SignedIn,
    Path(id): Path<i64>,
    Query(q): Query<DateQuery>,
) -> Result<Response, WebError> {
    Ok(Page(edit_view(&app, v, &user, id, q.date, None).await?).into_response())
}

#[derive(Deserialize)]
pub struct EditForm {
    #[serde(default)]
    approval: String,
    #[serde(default)]
    visibility: String,
    #[serde(default)]
    min_notice_minutes: String,
    #[serde(default)]
    horizon_days: String,
    #[serde(default)]
    max_per_learner_week: String,
    #[serde(default)]
    date: String,
}

/// `""` inherits; anything else must be a whole number.
fn optional_number(field: &'static str, text: &str) -> Result<Option<i64>, AppError> {
    if text.trim().is_empty() {
        return Ok(None);
    }
    super::booking_settings::number(field, text).map(Some)
}

pub async fn edit(
    State(app): State<App>,
    v: Visitor,
    SignedIn(user): SignedIn,
    Path(id): Path<i64>,
    axum::Form(form): axum::Form<EditForm>,
) -> Result<Response, WebError> {
    let choice = |text: &str, yes: &str, no: &str| match text {
        t if t == yes => Some(true),
        t if t == no => Some(false),
        _ => None,
    };
    let parsed = (|| {
        Ok::<_, AppError>(BlockOverrides {
            buffer_minutes: None,
            min_notice_minutes: optional_number("min_notice_minutes", &form.min_notice_minutes)?,
            horizon_days: optional_number("horizon_days", &form.horizon_days)?,
            max_per_learner_week: optional_number("max_per_learner_week", &form.max_per_learner_week)?,
            approval_required: choice(&form.approval, "required", "automatic"),
            unlisted: choice(&form.visibility, "unlisted", "listed"),
        })
    })();
    match parsed {
        Ok(overrides) => match app.update_block(&user, id, &overrides).await {
            Ok(_) => Ok(redirect_with_flash(&app, &format!("/calendar?week={}", form.date), "Block updated.")),
            Err(err @ AppError::Invalid(_)) => {
                let page = edit_view(&app, v, &user, id, form.date, Some(err.message())).await?;
                Ok(Page(page).with_status(StatusCode::UNPROCESSABLE_ENTITY))
            }
            Err(other) => Err(other.into()),
        },
        Err(err) => Ok(Page(edit_view(&app, v, &user, id, form.date, Some(err.message())).await?)
            .with_status(StatusCode::UNPROCESSABLE_ENTITY)),
    }
}

/// Sets the questions of one block (empty: ask the advisor's usual ones).
pub async fn save_block_questions(
    State(app): State<App>,
    v: Visitor,
    SignedIn(user): SignedIn,
    Path(id): Path<i64>,
    Query(q): Query<DateQuery>,
    MultiForm(form): MultiForm<super::booking_settings::QuestionsForm>,
) -> Result<Response, WebError> {
    match app.save_booking_questions(&user, Some(id), &form.inputs()).await {
        Ok(saved) => {
            let message = if saved.is_empty() {
                "This block asks your usual questions.".to_string()
            } else {
                format!("This block asks its own {}.", crate::domain::plural::count(saved.len() as i64, "question"))
            };
            Ok(redirect_with_flash(&app, &format!("/blocks/{id}/edit?date={}", q.date), &message))
        }
        Err(err @ AppError::Invalid(_)) => Ok(Page(edit_view(&app, v, &user, id, q.date, Some(err.message())).await?)
            .with_status(StatusCode::UNPROCESSABLE_ENTITY)),
        Err(other) => Err(other.into()),
    }
}
