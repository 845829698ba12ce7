//! The advisor directory, advisor profiles and categories.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;

use crate::domain::person_ref::PersonRef;
use crate::service::App;
use crate::service::advisors::{AdvisorForm, DIRECTORY_PAGE_SIZE};
use crate::storage::Category;

use super::ApiError;
use super::auth::ApiUser;
use super::error::ErrorBody;
use super::json::{ApiJson, ApiQuery};
use super::types::{Advisor, AdvisorRequest, CategoryRequest, Directory, DirectoryParams};

/// Search advisors by words and category.
#[utoipa::path(get, path = "/api/v1/advisors", tag = "directory", params(DirectoryParams),
    responses((status = 200, body = Directory), (status = 422, body = ErrorBody, description = "unknown_category, invalid_page")))]
pub async fn directory(
    State(app): State<App>,
    ApiQuery(params): ApiQuery<DirectoryParams>,
) -> Result<Json<Directory>, ApiError> {
    let page = params.page.unwrap_or(1);
    if !(1..=10_000).contains(&page) {
        let message = "`page` counts from 1 and goes up to 10000.";
        return Err(crate::service::AppError::invalid("page", "invalid_page", message).into());
    }
    let found = app.directory(&params.q, params.category.as_deref(), page).await?;
    Ok(Json(Directory {
        advisors: found.advisors.iter().map(|p| Advisor::new(p, &app.config)).collect(),
        total: found.total,
        page,
        per_page: DIRECTORY_PAGE_SIZE,
    }))
}

/// One profile: a local username, or a fediverse handle (`name@example.org`),
/// which is looked up through WebFinger and kept.
#[utoipa::path(get, path = "/api/v1/advisors/{username}", tag = "directory",
    params(("username" = String, Path, description = "Local username, or a handle name@domain of another server")),
    responses((status = 200, body = Advisor), (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody, description = "invalid_handle"),
        (status = 502, body = ErrorBody, description = "remote_unavailable")))]
pub async fn advisor(
    State(app): State<App>,
    data: activitypub_federation::config::Data<crate::federation::context::FedData>,
    Path(username): Path<String>,
) -> Result<Json<Advisor>, ApiError> {
    let username = match PersonRef::as_written(&username) {
        PersonRef::Local(name) => name,
        PersonRef::Remote(handle) => {
            let remote = crate::federation::remote::resolve_handle(&data, &handle.to_string()).await?;
            return Ok(Json(Advisor::remote(&remote)));
        }
    };
    let profile = app.advisor(&username).await?;
    Ok(Json(Advisor::new(&profile, &app.config)))
}

/// Replace your advisor profile; `enabled` lists you in the directory.
#[utoipa::path(put, path = "/api/v1/me/advisor", tag = "directory", security(("token" = [])), request_body = AdvisorRequest,
    responses((status = 200, body = Advisor), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody, description = "email_unverified"), (status = 422, body = ErrorBody)))]
pub async fn save_advisor(
    State(app): State<App>,
    ApiUser(user): ApiUser,
    ApiJson(req): ApiJson<AdvisorRequest>,
) -> Result<Json<Advisor>, ApiError> {
    let form = AdvisorForm {
        enabled: req.enabled,
        headline: req.headline,
        bio: req.bio,
        topics: req.topics,
        categories: req.categories,
        links: req.links,
    };
    let profile = app.save_advisor_profile(&user, &form).await?;
    Ok(Json(Advisor::new(&profile, &app.config)))
}

/// The categories advisors can choose from.
#[utoipa::path(get, path = "/api/v1/categories", tag = "directory", responses((status = 200, body = [Category])))]
pub async fn categories(State(app): State<App>) -> Result<Json<Vec<Category>>, ApiError> {
    Ok(Json(app.categories().await?.as_ref().clone()))
}

/// Add a category (admins).
#[utoipa::path(post, path = "/api/v1/categories", tag = "admin", security(("token" = [])), request_body = CategoryRequest,
    responses((status = 201, body = Category), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody, description = "category_taken")))]
pub async fn add_category(
    State(app): State<App>,
    ApiUser(user): ApiUser,
    ApiJson(req): ApiJson<CategoryRequest>,
) -> Result<(StatusCode, Json<Category>), ApiError> {
    Ok((StatusCode::CREATED, Json(app.add_category(&user, &req.name).await?)))
}

/// Delete a category (admins).
#[utoipa::path(delete, path = "/api/v1/categories/{slug}", tag = "admin", security(("token" = [])),
    params(("slug" = String, Path)), responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn delete_category(
    State(app): State<App>,
    ApiUser(user): ApiUser,
    Path(slug): Path<String>,
) -> Result<StatusCode, ApiError> {
    app.delete_category(&user, &slug).await?;
    Ok(StatusCode::NO_CONTENT)
}
