use askama::Template;
use axum::extract::State;
use axum::response::{IntoResponse, Response};

use crate::service::App;
use crate::service::AppError;
use crate::storage::{AdvisorProfile, Category};
use crate::web::render::{Page, WebError};
use crate::web::session::Visitor;

#[derive(Template)]
#[template(path = "home.html")]
struct HomePage {
    v: Visitor,
    advisors: Vec<AdvisorProfile>,
    categories: std::sync::Arc<Vec<Category>>,
    /// Each card's next free time in the reader's zone, by advisor id.
    next_free: std::collections::HashMap<i64, (String, String)>,
}

pub async fn home(State(app): State<App>, v: Visitor) -> Result<Response, WebError> {
    let advisors = app.newest_advisors(6).await?;
    let categories = app.categories().await?;
    let users: Vec<&crate::storage::User> = advisors.iter().map(|a| &a.user).collect();
    let next_free = super::directory::next_free_labels(&app, &users, &v.zone()).await?;
    Ok(Page(HomePage { v, advisors, categories, next_free }).into_response())
}

pub async fn not_found() -> WebError {
    WebError(AppError::NotFound("page"))
}
