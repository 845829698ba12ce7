//! Sign-up and your own account (tokens: `tokens.rs`).

use axum::extract::State;
use axum::http::StatusCode;

use crate::service::App;
use crate::service::accounts::{SignUp, SignUpOutcome};
use crate::web::session::ClientIp;

use super::ApiError;
use super::auth::ApiUser;
use super::json::ApiJson;
use super::types::{Account, ProfilePatch, SignUpAccepted, SignUpRequest};
use axum::Json;

/// Create an account. A confirmation mail goes to the address.
///
/// The answer does not tell whether the address already has an account:
/// then no account is made, its owner gets a mail saying how to log in or
/// reset the password, and the answer is the same 202. Every attempt counts
/// against the client address (20 an hour).
#[utoipa::path(post, path = "/api/v1/accounts", tag = "accounts", request_body = SignUpRequest,
    responses((status = 202, body = SignUpAccepted, description = "the account is made and a confirmation mail is on its way — or the address has an account and its owner was told"),
        (status = 409, body = super::error::ErrorBody, description = "username_taken"),
        (status = 422, body = super::error::ErrorBody, description = "invalid input, e.g. password_too_common"),
        (status = 429, body = super::error::ErrorBody)))]
pub async fn sign_up(
    State(app): State<App>,
    ClientIp(ip): ClientIp,
    ApiJson(req): ApiJson<SignUpRequest>,
) -> Result<(StatusCode, Json<SignUpAccepted>), ApiError> {
    let input = SignUp {
        username: req.username,
        email: req.email,
        password: req.password,
        display_name: req.display_name,
        timezone: req.timezone,
    };
    let email = match app.sign_up_visitor(&input, ip, "").await? {
        SignUpOutcome::Created(user) => user.email,
        SignUpOutcome::AddressInUse { email } => email,
    };
    let message = format!("Check your inbox: the mail to {email} says how to go on.");
    Ok((StatusCode::ACCEPTED, Json(SignUpAccepted { email, message })))
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
