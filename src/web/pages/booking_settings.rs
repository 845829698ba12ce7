//! An advisor's booking rules, private booking link and the page behind it.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use crate::app::App;
use crate::domain::time_zone;
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
}

fn settings_page(v: Visitor, policy: AdvisorPolicy, error: Option<String>, new_link: Option<String>) -> SettingsPage {
    let zone = v.user.as_ref().map(|u| u.timezone.clone()).unwrap_or_else(|| "UTC".into());
    let checked_at = policy.busy_checked_at.map(|at| time_zone::format_instant(at, &zone));
    SettingsPage { v, policy, error, new_link, checked_at }
}

pub async fn page(State(app): State<App>, v: Visitor, SignedIn(user): SignedIn) -> Result<Response, WebError> {
    let policy = app.booking_settings(&user).await?;
    Ok(Page(settings_page(v, policy, None, None)).into_response())
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

fn number(field: &'static str, text: &str) -> Result<i64, AppError> {
    text.trim()
        .parse()
        .map_err(|_| AppError::invalid(field, "not_a_number", format!("`{text}` is not a whole number.")))
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
        Err(err @ AppError::Invalid(_)) => {
            let policy = app.booking_settings(&user).await?;
            let mut response = Page(settings_page(v, policy, Some(err.message()), None)).into_response();
            *response.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
            Ok(response)
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
    let key = format!("busy:{}", user.id);
    app.action_limiter.check(&key)?;
    app.action_limiter.record_failure(&key);
    let url = form.url.trim();
    match app.set_busy_calendar(&user, Some(url).filter(|u| !u.is_empty())).await {
        Ok(_) if url.is_empty() => Ok(redirect_with_flash(&app, "/settings/booking", "Calendar disconnected.")),
        Ok(_) => Ok(redirect_with_flash(
            &app,
            "/settings/booking",
            "Calendar connected: its busy times now hide your overlapping slots.",
        )),
        Err(err @ (AppError::Invalid(_) | AppError::Forbidden(..))) => {
            let policy = app.booking_settings(&user).await?;
            let status = StatusCode::from_u16(err.status()).unwrap_or(StatusCode::UNPROCESSABLE_ENTITY);
            let mut response = Page(settings_page(v, policy, Some(err.message()), None)).into_response();
            *response.status_mut() = status;
            Ok(response)
        }
        Err(other) => Err(other.into()),
    }
}

pub async fn new_link(State(app): State<App>, v: Visitor, SignedIn(user): SignedIn) -> Result<Response, WebError> {
    let link = app.new_private_link(&user).await?;
    let policy = app.booking_settings(&user).await?;
    Ok(Page(settings_page(v, policy, None, Some(link))).into_response())
}

#[derive(Template)]
#[template(path = "private_booking.html")]
struct PrivatePage {
    v: Visitor,
    advisor: String,
    advisor_username: String,
    zone: String,
    slots: Vec<(i64, String)>,
}

/// The page behind a private booking link: the advisor's slots, listed or not.
pub async fn private_page(
    State(app): State<App>,
    v: Visitor,
    Path(secret): Path<String>,
) -> Result<Response, WebError> {
    let (advisor, slots) = app.private_link_slots(&secret).await?;
    let zone = v.user.as_ref().map(|u| u.timezone.clone()).unwrap_or_else(|| "UTC".into());
    let slots =
        slots.iter().take(100).map(|s| (s.id, time_zone::format_range(s.starts_at, s.ends_at, &zone))).collect();
    Ok(Page(PrivatePage {
        v,
        advisor: advisor.name().to_string(),
        advisor_username: advisor.username.clone(),
        zone,
        slots,
    })
    .into_response())
}
