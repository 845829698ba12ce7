//! The activity feed and the notification settings (N1).

use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum_extra::extract::Form as MultiForm;
use serde::Deserialize;

use crate::domain::notification::Kind;
use crate::domain::time_zone;
use crate::service::App;
use crate::service::AppError;
use crate::service::notifications::FeedItem;
use crate::web::render::{Page, WebError, redirect_with_flash};
use crate::web::session::{SignedIn, Visitor};

#[derive(Template)]
#[template(path = "notifications.html")]
struct FeedPage {
    v: Visitor,
    /// (item, when in the reader's zone)
    items: Vec<(FeedItem, String)>,
    older: Option<i64>,
}

#[derive(Deserialize)]
pub struct FeedQuery {
    before: Option<i64>,
}

pub async fn feed(
    State(app): State<App>,
    v: Visitor,
    SignedIn(user): SignedIn,
    Query(query): Query<FeedQuery>,
) -> Result<Response, WebError> {
    let list = app.notification_feed(&user, query.before).await?;
    let older = (list.len() as i64 == crate::service::notifications::FEED_PAGE)
        .then(|| list.last().map(|item| item.notification.id))
        .flatten();
    let items = list
        .into_iter()
        .map(|item| {
            let when = time_zone::format_instant(item.notification.created_at, &user.timezone);
            (item, when)
        })
        .collect();
    Ok(Page(FeedPage { v, items, older }).into_response())
}

#[derive(Deserialize)]
pub struct ReadForm {
    through: Option<i64>,
}

pub async fn mark_read(
    State(app): State<App>,
    SignedIn(user): SignedIn,
    axum::Form(form): axum::Form<ReadForm>,
) -> Result<Response, WebError> {
    app.mark_read(&user, form.through).await?;
    Ok(redirect_with_flash(&app, "/notifications", "All caught up."))
}

#[derive(Template)]
#[template(path = "notification_settings.html")]
struct SettingsPage {
    v: Visitor,
    /// (type name, label, mailed?)
    kinds: Vec<(&'static str, &'static str, bool)>,
    reminder_minutes: String,
    default_minutes: i64,
    error: Option<String>,
}

pub async fn settings_page(State(app): State<App>, v: Visitor, SignedIn(user): SignedIn) -> Result<Response, WebError> {
    let settings = app.notification_settings(&user).await?;
    let kinds = Kind::ALL.into_iter().map(|k| (k.as_str(), k.label(), settings.mail.contains(&k))).collect();
    let reminder_minutes =
        if settings.reminder_is_default { String::new() } else { settings.reminder_minutes.to_string() };
    Ok(Page(SettingsPage { v, kinds, reminder_minutes, default_minutes: app.config.reminder_minutes, error: None })
        .into_response())
}

#[derive(Deserialize)]
pub struct SettingsForm {
    #[serde(default)]
    mail: Vec<String>,
    #[serde(default)]
    reminder_minutes: String,
}

pub async fn save_settings(
    State(app): State<App>,
    v: Visitor,
    SignedIn(user): SignedIn,
    MultiForm(form): MultiForm<SettingsForm>,
) -> Result<Response, WebError> {
    let text = form.reminder_minutes.trim();
    let minutes = if text.is_empty() {
        Ok(None)
    } else {
        text.parse::<i64>().map(Some).map_err(|_| {
            AppError::invalid(
                "reminder_minutes",
                "not_a_number",
                "Give the reminder time as a whole number of minutes.",
            )
        })
    };
    let outcome = match minutes {
        Ok(minutes) => app.save_notification_settings(&user, &form.mail, minutes).await,
        Err(err) => Err(err),
    };
    match outcome {
        Ok(_) => Ok(redirect_with_flash(&app, "/settings/notifications", "Notification settings saved.")),
        Err(err @ AppError::Invalid(_)) => {
            let kinds = Kind::ALL
                .into_iter()
                .map(|k| (k.as_str(), k.label(), form.mail.iter().any(|m| m == k.as_str())))
                .collect();
            let page = SettingsPage {
                v,
                kinds,
                reminder_minutes: form.reminder_minutes.clone(),
                default_minutes: app.config.reminder_minutes,
                error: Some(err.message()),
            };
            Ok(Page(page).with_status(StatusCode::UNPROCESSABLE_ENTITY))
        }
        Err(other) => Err(other.into()),
    }
}
