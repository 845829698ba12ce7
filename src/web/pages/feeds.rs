//! Calendar subscriptions: the settings page with the feed URL, the feed
//! itself (no cookies, no session: calendar apps fetch it), one session's
//! `.ics` download and the help page on subscribing.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::header::{CACHE_CONTROL, CONTENT_DISPOSITION, CONTENT_TYPE};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use crate::service::App;
use crate::service::AppError;
use crate::service::feeds::FeedState;
use crate::web::render::{Page, WebError, redirect_with_flash};
use crate::web::session::{ClientIp, SignedIn, Visitor};

#[derive(Template)]
#[template(path = "calendar_settings.html")]
struct SettingsPage {
    v: Visitor,
    feed: Option<FeedState>,
    /// The same URL with `webcal://`, which Apple Calendar opens directly.
    webcal: String,
    is_advisor: bool,
}

pub async fn settings_page(State(app): State<App>, v: Visitor, SignedIn(user): SignedIn) -> Result<Response, WebError> {
    let feed = app.calendar_feed_state(&user).await?;
    let webcal = feed.as_ref().map(|f| webcal(&f.url)).unwrap_or_default();
    Ok(Page(SettingsPage { v, feed, webcal, is_advisor: user.is_advisor }).into_response())
}

fn webcal(url: &str) -> String {
    url.split_once("://").map(|(_, rest)| format!("webcal://{rest}")).unwrap_or_default()
}

#[derive(Deserialize)]
pub struct FeedForm {
    action: String,
    #[serde(default)]
    include_blocks: Option<String>,
}

pub async fn save(
    State(app): State<App>,
    SignedIn(user): SignedIn,
    axum::Form(form): axum::Form<FeedForm>,
) -> Result<Response, WebError> {
    let message = match form.action.as_str() {
        "create" => {
            app.calendar_feed_url(&user).await?;
            "Your calendar link is ready. Add it to your calendar app."
        }
        "rotate" => {
            app.rotate_calendar_feed(&user).await?;
            "New link made. The old one stopped working: update your calendar app."
        }
        "revoke" => {
            app.revoke_calendar_feed(&user).await?;
            "Calendar link switched off. Calendar apps that used it get nothing any more."
        }
        "blocks" => {
            app.set_feed_blocks(&user, form.include_blocks.is_some()).await?;
            "Saved."
        }
        _ => return Err(AppError::invalid("action", "unknown_action", "Unknown action.").into()),
    };
    Ok(redirect_with_flash(&app, "/settings/calendar", message))
}

/// `GET /feeds/{token}.ics`: the subscription itself.
pub async fn feed(State(app): State<App>, ClientIp(ip): ClientIp, Path(token): Path<String>) -> Response {
    let key = format!("feed:{}", ip.map(|ip| ip.to_string()).unwrap_or_default());
    if let Err(err) = app.count_feed_fetch(&key) {
        return plain(StatusCode::TOO_MANY_REQUESTS, &err.message());
    }
    match app.calendar_feed(&token).await {
        Ok(text) => calendar_response(text, None),
        Err(AppError::NotFound(_)) => plain(StatusCode::NOT_FOUND, "Not found."),
        Err(err) => {
            tracing::error!(error = %err, "building a calendar feed failed");
            plain(StatusCode::INTERNAL_SERVER_ERROR, "Something went wrong; try again later.")
        }
    }
}

/// `GET /requests/{id}/event.ics`: one session, for either of its people.
pub async fn session_download(
    State(app): State<App>,
    SignedIn(user): SignedIn,
    Path(id): Path<i64>,
) -> Result<Response, WebError> {
    let text = app.session_ics(&user, id).await?;
    Ok(calendar_response(text, Some(&format!("session-{id}.ics"))))
}

fn calendar_response(text: String, download: Option<&str>) -> Response {
    let mut response = text.into_response();
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("text/calendar; charset=utf-8"));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("private, max-age=300"));
    if let Some(name) = download
        && let Ok(value) = HeaderValue::from_str(&format!("attachment; filename=\"{name}\""))
    {
        headers.insert(CONTENT_DISPOSITION, value);
    }
    response
}

fn plain(status: StatusCode, message: &str) -> Response {
    (status, [(CONTENT_TYPE, "text/plain; charset=utf-8")], message.to_string()).into_response()
}

#[derive(Template)]
#[template(path = "calendar_help.html")]
struct HelpPage {
    v: Visitor,
}

pub async fn help(v: Visitor) -> Response {
    Page(HelpPage { v }).into_response()
}
