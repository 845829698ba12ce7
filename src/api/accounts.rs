//! Sign-up, tokens and your own account.

use axum::extract::State;
use axum::http::StatusCode;

use crate::app::App;
use crate::service::accounts::{Roles, SignUp};
use crate::web::session::ClientIp;

use super::ApiError;
use super::auth::{ApiJson, ApiUser};
use super::types::{Account, ProfilePatch, SignUpRequest, TokenRequest, TokenResponse};
use axum::Json;

/// Create an account. A confirmation mail goes to the address.
#[utoipa::path(post, path = "/api/v1/accounts", tag = "accounts", request_body = SignUpRequest,
    responses((status = 201, body = Account), (status = 409, body = super::error::ErrorBody, description = "username_taken or email_taken"),
        (status = 422, body = super::error::ErrorBody, description = "invalid input, e.g. password_too_common"),
        (status = 429, body = super::error::ErrorBody)))]
pub async fn sign_up(
    State(app): State<App>,
    ClientIp(ip): ClientIp,
    ApiJson(req): ApiJson<SignUpRequest>,
) -> Result<(StatusCode, Json<Account>), ApiError> {
    let key = ip.map(|ip| format!("signup:{ip}"));
    if let Some(key) = &key {
        app.action_limiter.check(key)?;
    }
    let input = SignUp {
        username: req.username,
        email: req.email,
        password: req.password,
        display_name: req.display_name,
        timezone: req.timezone,
    };
    let user = app.sign_up(&input, Roles::default()).await?;
    if let Some(key) = &key {
        app.action_limiter.record_failure(key);
    }
    Ok((StatusCode::CREATED, Json(Account::from(&user))))
}

/// Exchange a username (or e-mail) and password for a personal API token.
#[utoipa::path(post, path = "/api/v1/tokens", tag = "accounts", request_body = TokenRequest,
    responses((status = 201, body = TokenResponse), (status = 401, body = super::error::ErrorBody, description = "wrong_credentials"),
        (status = 429, body = super::error::ErrorBody, description = "rate_limited")))]
pub async fn create_token(
    State(app): State<App>,
    ClientIp(ip): ClientIp,
    ApiJson(req): ApiJson<TokenRequest>,
) -> Result<(StatusCode, Json<TokenResponse>), ApiError> {
    let logged_in = app.log_in(&req.login, &req.password, ip).await?;
    // The API has no use for the browser session the log-in opened.
    app.log_out(&logged_in.session_secret).await?;
    let label = if req.label.is_empty() { "API" } else { &req.label };
    let token = app.create_api_token(&logged_in.user, label).await?;
    Ok((StatusCode::CREATED, Json(TokenResponse { token })))
}

/// Your account.
#[utoipa::path(get, path = "/api/v1/me", tag = "accounts", security(("token" = [])),
    responses((status = 200, body = Account), (status = 401, body = super::error::ErrorBody)))]
pub async fn me(ApiUser(user): ApiUser) -> Json<Account> {
    Json(Account::from(&user))
}

/// Change your display name, bio or time zone.
#[utoipa::path(patch, path = "/api/v1/me", tag = "accounts", security(("token" = [])), request_body = ProfilePatch,
    responses((status = 200, body = Account), (status = 401, body = super::error::ErrorBody), (status = 422, body = super::error::ErrorBody)))]
pub async fn update_me(
    State(app): State<App>,
    ApiUser(user): ApiUser,
    ApiJson(patch): ApiJson<ProfilePatch>,
) -> Result<Json<Account>, ApiError> {
    let display_name = patch.display_name.unwrap_or_else(|| user.display_name.clone());
    let bio = patch.bio.unwrap_or_else(|| user.bio.clone());
    let timezone = patch.timezone.unwrap_or_else(|| user.timezone.clone());
    let updated = app.update_profile(&user, &display_name, &bio, &timezone).await?;
    Ok(Json(Account::from(&updated)))
}
