//! `Authorization: Bearer <token>` for the API.

use axum::extract::{FromRequestParts, OptionalFromRequestParts};
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;

use crate::service::App;
use crate::service::AppError;
use crate::storage::User;

use super::ApiError;

/// The person a valid personal API token belongs to.
pub struct ApiUser(pub User);

impl FromRequestParts<App> for ApiUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &App) -> Result<Self, Self::Rejection> {
        let token = parts
            .headers
            .get(AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or(AppError::Unauthenticated)?;
        match app.api_token_user(token).await? {
            Some(user) => Ok(ApiUser(user)),
            None => Err(AppError::Unauthenticated.into()),
        }
    }
}

/// Anonymous callers are welcome (`None`); a token, if sent, must be valid.
impl OptionalFromRequestParts<App> for ApiUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &App) -> Result<Option<Self>, Self::Rejection> {
        if parts.headers.get(AUTHORIZATION).is_none() {
            return Ok(None);
        }
        <ApiUser as FromRequestParts<App>>::from_request_parts(parts, app).await.map(Some)
    }
}
