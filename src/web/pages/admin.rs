//! Instance administration: the category list and the health of federation.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use crate::domain::federation::InstanceState;
use crate::domain::time_zone;
use crate::service::App;
use crate::service::AppError;
use crate::service::advisors::require_admin;
use crate::service::instances::instance_state;
use crate::storage::Category;
use crate::web::render::{Page, WebError, redirect_with_flash};
use crate::web::session::{SignedIn, Visitor};

#[derive(Template)]
#[template(path = "admin_categories.html")]
struct CategoriesPage {
    v: Visitor,
    categories: std::sync::Arc<Vec<Category>>,
    name: String,
    error: Option<String>,
}

pub async fn categories_page(
    State(app): State<App>,
    v: Visitor,
    SignedIn(user): SignedIn,
) -> Result<Response, WebError> {
    require_admin(&user)?;
    let categories = app.categories().await?;
    Ok(Page(CategoriesPage { v, categories, name: String::new(), error: None }).into_response())
}

#[derive(Deserialize)]
pub struct CategoryForm {
    #[serde(default)]
    name: String,
}

pub async fn add_category(
    State(app): State<App>,
    v: Visitor,
    SignedIn(user): SignedIn,
    axum::Form(form): axum::Form<CategoryForm>,
) -> Result<Response, WebError> {
    match app.add_category(&user, &form.name).await {
        Ok(category) => Ok(redirect_with_flash(&app, "/admin/categories", &format!("Added “{}”.", category.name))),
        Err(AppError::Invalid(errors)) => {
            let categories = app.categories().await?;
            let error = errors.first().map(|e| e.message.clone());
            Ok(Page(CategoriesPage { v, categories, name: form.name, error })
                .with_status(StatusCode::UNPROCESSABLE_ENTITY))
        }
        Err(other) => Err(other.into()),
    }
}

pub async fn delete_category(
    State(app): State<App>,
    SignedIn(user): SignedIn,
    Path(slug): Path<String>,
) -> Result<Response, WebError> {
    app.delete_category(&user, &slug).await?;
    Ok(redirect_with_flash(&app, "/admin/categories", "Category deleted."))
}

/// One remote instance as a row of the page, times in the admin's zone.
struct InstanceRow {
    domain: String,
    state: InstanceState,
    failures: i64,
    since: String,
    next_probe: String,
    last_success: String,
    pending: i64,
    delivered: i64,
    given_up: i64,
    last_error: String,
}

#[derive(Template)]
#[template(path = "admin_federation.html")]
struct FederationPage {
    v: Visitor,
    instances: Vec<InstanceRow>,
    dead: usize,
    failing: usize,
}

pub async fn federation_page(
    State(app): State<App>,
    v: Visitor,
    SignedIn(user): SignedIn,
) -> Result<Response, WebError> {
    let overview = app.federation_instances(&user).await?;
    let when = |ms: Option<i64>| ms.map(|ms| time_zone::format_instant(ms, &user.timezone)).unwrap_or_default();
    let instances: Vec<InstanceRow> = overview
        .into_iter()
        .map(|i| InstanceRow {
            state: instance_state(&i),
            failures: i.failures,
            since: when(i.dead_since.or(i.first_failure_at)),
            next_probe: if i.dead_since.is_some() { when(i.next_probe_at) } else { String::new() },
            last_success: when(i.last_success_at),
            pending: i.pending,
            delivered: i.delivered,
            given_up: i.given_up,
            last_error: i.last_error.unwrap_or_default().chars().take(200).collect(),
            domain: i.domain,
        })
        .collect();
    let dead = instances.iter().filter(|i| i.state == InstanceState::Dead).count();
    let failing = instances.iter().filter(|i| i.state == InstanceState::Failing).count();
    Ok(Page(FederationPage { v, instances, dead, failing }).into_response())
}
