//! Instance administration: the category list.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use crate::app::App;
use crate::service::AppError;
use crate::service::advisors::require_admin;
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
