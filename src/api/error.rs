//! API errors: `{"error": "machine_code", "message": "…", "fields": {…}}`.

use std::collections::BTreeMap;

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::http::header::WWW_AUTHENTICATE;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::service::AppError;

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// Stable machine-readable code, e.g. `email_taken`, `unauthenticated`.
    pub error: String,
    /// A sentence for people.
    pub message: String,
    /// Per-field messages for invalid input.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub fields: BTreeMap<String, String>,
}

pub struct ApiError {
    status: StatusCode,
    body: ErrorBody,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            body: ErrorBody { error: code.to_string(), message: message.into(), fields: BTreeMap::new() },
        }
    }
}

impl From<AppError> for ApiError {
    fn from(err: AppError) -> Self {
        if let AppError::Internal(cause) = &err {
            tracing::error!(error = ?cause, "API request failed");
        }
        let status = StatusCode::from_u16(err.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut api = ApiError::new(status, err.code(), err.message());
        if let AppError::Invalid(errors) = &err {
            for e in &errors.0 {
                api.body.fields.entry(e.field.to_string()).or_insert_with(|| e.message.clone());
            }
        }
        api
    }
}

impl From<crate::federation::FederationError> for ApiError {
    fn from(err: crate::federation::FederationError) -> Self {
        use crate::federation::FederationError;
        match err {
            FederationError::App(inner) => inner.into(),
            other => {
                if let FederationError::Remote(cause) = &other {
                    tracing::warn!(error = %cause, "a remote server failed us");
                }
                ApiError::new(other.status(), other.code(), other.message())
            }
        }
    }
}

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        let status = match rejection {
            JsonRejection::MissingJsonContentType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            JsonRejection::BytesRejection(_) => StatusCode::PAYLOAD_TOO_LARGE,
            _ => StatusCode::BAD_REQUEST,
        };
        ApiError::new(status, "invalid_json", rejection.body_text())
    }
}

impl From<QueryRejection> for ApiError {
    fn from(rejection: QueryRejection) -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, "invalid_query", rejection.body_text())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (self.status, axum::Json(self.body)).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

pub async fn unknown_endpoint() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "not_found", "There is no such API endpoint; see /api/v1/openapi.json.")
}
