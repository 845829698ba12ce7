//! Personal API tokens: create one with your password, list and revoke
//! yours with a token.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::service::App;
use crate::service::AppError;
use crate::service::api_tokens::check_api_token;
use crate::storage::ApiToken;
use crate::web::session::ClientIp;

use super::ApiError;
use super::auth::ApiUser;
use super::error::ErrorBody;
use super::json::ApiJson;
use super::types::rfc3339;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenRequest {
    /// Username or e-mail address.
    pub login: String,
    pub password: String,
    /// What the token is for, 1 to 60 characters (`label` is accepted too).
    /// `API` when left out.
    #[serde(default, alias = "label")]
    pub name: Option<String>,
    /// Days until the token stops working, 1 to 365; it never expires when
    /// left out or null.
    #[serde(default)]
    pub expires_in_days: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TokenResponse {
    /// Send as `Authorization: Bearer <token>`. Shown once.
    pub token: String,
    pub id: i64,
    pub name: String,
    pub created_at: String,
    /// RFC 3339; null when it never expires.
    pub expires_at: Option<String>,
}

/// One of your tokens as listed: never its secret.
#[derive(Debug, Serialize, ToSchema)]
pub struct TokenJson {
    pub id: i64,
    pub name: String,
    pub created_at: String,
    /// RFC 3339; null when it was never used.
    pub last_used_at: Option<String>,
    /// RFC 3339; null when it never expires.
    pub expires_at: Option<String>,
    /// Expired tokens are refused, and listed for a month before they go.
    pub expired: bool,
}

impl TokenJson {
    fn new(token: &ApiToken, now: i64) -> Self {
        TokenJson {
            id: token.id,
            name: token.name.clone(),
            created_at: rfc3339(token.created_at),
            last_used_at: token.last_used_at.map(rfc3339),
            expires_at: token.expires_at.map(rfc3339),
            expired: token.is_expired(now),
        }
    }
}

/// Exchange a username (or e-mail) and password for a personal API token.
#[utoipa::path(post, path = "/api/v1/tokens", tag = "accounts", request_body = TokenRequest,
    responses((status = 201, body = TokenResponse, description = "the token, shown this once"),
        (status = 400, body = ErrorBody, description = "invalid_json"),
        (status = 401, body = ErrorBody, description = "wrong_credentials"),
        (status = 403, body = ErrorBody, description = "account_suspended"),
        (status = 415, body = ErrorBody, description = "invalid_json: not sent as application/json"),
        (status = 422, body = ErrorBody, description = "name_required, name_too_long, name_invalid_characters, expiry_out_of_range, invalid_text (a NUL character)"),
        (status = 429, body = ErrorBody, description = "rate_limited (failed log-ins)")))]
pub async fn create_token(
    State(app): State<App>,
    ClientIp(ip): ClientIp,
    ApiJson(req): ApiJson<TokenRequest>,
) -> Result<(StatusCode, Json<TokenResponse>), ApiError> {
    // Bad input is refused before the password is even checked.
    let name = req.name.unwrap_or_else(|| "API".into());
    check_api_token(&name, req.expires_in_days)?;
    let logged_in = app.log_in(&req.login, &req.password, ip).await?;
    // The API has no use for the browser session the log-in opened.
    app.log_out(&logged_in.session_secret).await?;
    let made = app.issue_api_token(&logged_in.user, &name, req.expires_in_days).await?;
    let token = made.token;
    Ok((
        StatusCode::CREATED,
        Json(TokenResponse {
            token: made.secret,
            id: token.id,
            name: token.name,
            created_at: rfc3339(token.created_at),
            expires_at: token.expires_at.map(rfc3339),
        }),
    ))
}

/// Your tokens, newest first, with when each was last used.
#[utoipa::path(get, path = "/api/v1/tokens", tag = "accounts", security(("token" = [])),
    responses((status = 200, body = [TokenJson]),
        (status = 401, body = ErrorBody, description = "unauthenticated: no token, or an unknown, revoked or expired one")))]
pub async fn list_tokens(State(app): State<App>, ApiUser(user): ApiUser) -> Result<Json<Vec<TokenJson>>, ApiError> {
    let now = app.clock.now_ms();
    Ok(Json(app.api_tokens(&user).await?.iter().map(|t| TokenJson::new(t, now)).collect()))
}

/// Revoke one of your tokens (the one you call with, too).
#[utoipa::path(delete, path = "/api/v1/tokens/{id}", tag = "accounts", security(("token" = [])),
    params(("id" = i64, Path, description = "the token's id, as listed")),
    responses((status = 204, description = "revoked"),
        (status = 422, body = ErrorBody, description = "invalid_text: a NUL character in the path"),
        (status = 401, body = ErrorBody, description = "unauthenticated: no token, or an unknown, revoked or expired one"),
        (status = 404, body = ErrorBody, description = "not_found: you have no token with that id")))]
pub async fn revoke_token(
    State(app): State<App>,
    ApiUser(user): ApiUser,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let id: i64 = id.parse().map_err(|_| AppError::NotFound("API token"))?;
    app.revoke_api_token(&user, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
