//! Karma (K1): a person's own score and history, the admin's rules, and
//! suspending accounts.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use crate::domain::karma::{Rules, SETTINGS};
use crate::domain::time_zone;
use crate::service::App;
use crate::service::AppError;
use crate::service::advisors::require_admin;
use crate::service::karma::KarmaReport;
use crate::web::render::{Page, WebError, redirect_with_flash};
use crate::web::session::{SignedIn, Visitor};

#[derive(Template)]
#[template(path = "karma.html")]
struct KarmaPage {
    v: Visitor,
    report: KarmaReport,
    /// (when, what, points, link)
    history: Vec<(String, String, i64, Option<String>)>,
}

pub async fn own(State(app): State<App>, v: Visitor, SignedIn(user): SignedIn) -> Result<Response, WebError> {
    let report = app.karma_report(&user).await?;
    let history = report
        .history
        .iter()
        .map(|e| {
            (
                time_zone::format_instant(e.created_at, &user.timezone),
                if e.note.is_empty() { e.kind.as_str().replace('_', " ") } else { e.note.clone() },
                e.points,
                e.request_id.map(|id| format!("/requests/{id}")),
            )
        })
        .collect();
    Ok(Page(KarmaPage { v, report, history }).into_response())
}

#[derive(Template)]
#[template(path = "admin_karma.html")]
struct RulesPage {
    v: Visitor,
    /// (name, label, min, max, value)
    rules: Vec<(&'static str, &'static str, i64, i64, String)>,
    error: Option<String>,
}

fn rules_page(v: Visitor, rules: &Rules, typed: Option<&[(String, String)]>, error: Option<String>) -> RulesPage {
    let rules = SETTINGS
        .iter()
        .map(|(name, label, min, max)| {
            let value = typed
                .and_then(|t| t.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone()))
                .unwrap_or_else(|| rules.get(name).unwrap_or_default().to_string());
            (*name, *label, *min, *max, value)
        })
        .collect();
    RulesPage { v, rules, error }
}

pub async fn rules(State(app): State<App>, v: Visitor, SignedIn(user): SignedIn) -> Result<Response, WebError> {
    require_admin(&user)?;
    Ok(Page(rules_page(v, &app.karma_rules().await?, None, None)).into_response())
}

pub async fn save_rules(
    State(app): State<App>,
    v: Visitor,
    SignedIn(user): SignedIn,
    axum::Form(form): axum::Form<Vec<(String, String)>>,
) -> Result<Response, WebError> {
    require_admin(&user)?;
    let changes: Vec<(String, String)> = form.into_iter().filter(|(name, _)| name != "csrf").collect();
    match app.save_karma_rules(&user, &changes).await {
        Ok(_) => Ok(redirect_with_flash(&app, "/admin/karma", "Karma rules saved.")),
        Err(err @ AppError::Invalid(_)) => {
            let current = app.karma_rules().await?;
            Ok(Page(rules_page(v, &current, Some(&changes), Some(err.message())))
                .with_status(StatusCode::UNPROCESSABLE_ENTITY))
        }
        Err(other) => Err(other.into()),
    }
}

#[derive(Deserialize)]
pub struct SuspendForm {
    suspend: String,
    /// Where to go afterwards (the admins' list); their profile if absent.
    back: Option<String>,
}

pub async fn suspend(
    State(app): State<App>,
    SignedIn(admin): SignedIn,
    Path(username): Path<String>,
    axum::Form(form): axum::Form<SuspendForm>,
) -> Result<Response, WebError> {
    let suspend = form.suspend == "yes";
    let user = app.set_suspended(&admin, &username, suspend).await?;
    let message = if suspend {
        format!("@{} is suspended.", user.username)
    } else {
        format!("@{} can use the instance again.", user.username)
    };
    let back = match form.back.as_deref() {
        Some(back) => crate::web::render::safe_next(Some(back)),
        None => format!("/users/{}", user.username),
    };
    Ok(redirect_with_flash(&app, &back, &message))
}
