//! Following people on other servers (federation).

use activitypub_federation::config::Data;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::federation::context::FedData;
use crate::service::App;

use super::ApiError;
use super::auth::ApiUser;
use super::error::ErrorBody;
use super::json::ApiJson;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FollowRequest {
    /// `name@domain` of someone on another server.
    pub handle: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct FollowJson {
    /// The followed actor's ActivityPub id.
    pub actor: String,
    /// `pending` until their server accepts, then `accepted`.
    pub state: String,
    pub since: String,
}

impl From<crate::storage::Follow> for FollowJson {
    fn from(f: crate::storage::Follow) -> Self {
        FollowJson {
            state: f.state().to_text(),
            actor: f.actor_id,
            since: jiff::Timestamp::from_millisecond(f.created_at).map(|t| t.to_string()).unwrap_or_default(),
        }
    }
}

/// Follow someone on another server (their server must accept).
#[utoipa::path(post, path = "/api/v1/follows", tag = "federation", security(("token" = [])), request_body = FollowRequest,
    responses((status = 202, body = FollowJson), (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody, description = "invalid_handle"), (status = 502, body = ErrorBody)))]
pub async fn follow(
    data: Data<FedData>,
    ApiUser(user): ApiUser,
    ApiJson(req): ApiJson<FollowRequest>,
) -> Result<(StatusCode, Json<FollowJson>), ApiError> {
    let (_, follow) = crate::federation::follows::follow(&data, &user, &req.handle).await?;
    Ok((StatusCode::ACCEPTED, Json(follow.into())))
}

/// Stop following someone on another server (an `Undo` goes to their server).
#[utoipa::path(delete, path = "/api/v1/follows/{handle}", tag = "federation", security(("token" = [])),
    params(("handle" = String, Path, description = "name@domain")),
    responses((status = 204), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn unfollow(
    data: Data<FedData>,
    ApiUser(user): ApiUser,
    axum::extract::Path(handle): axum::extract::Path<String>,
) -> Result<StatusCode, ApiError> {
    crate::federation::follows::unfollow(&data, &user, &handle).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Whom you follow on other servers.
#[utoipa::path(get, path = "/api/v1/me/follows", tag = "federation", security(("token" = [])),
    responses((status = 200, body = [FollowJson]), (status = 401, body = ErrorBody)))]
pub async fn my_follows(State(app): State<App>, ApiUser(user): ApiUser) -> Result<Json<Vec<FollowJson>>, ApiError> {
    Ok(Json(app.follows(&user).await?.into_iter().map(FollowJson::from).collect()))
}
