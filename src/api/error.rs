//! API errors: `{"error": "machine_code", "message": "…", "fields": {…}}`.

use std::collections::BTreeMap;

use axum::extract::rejection::QueryRejection;
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
        err.log_cause("API request");
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

/// Every refusal under `/api` in the API's error shape, also those made
/// before a handler runs (a path segment that does not parse, a method the
/// path does not take): their plain-text answers are wrapped, keeping
/// their status and headers (`Allow`, `Retry-After`).
pub async fn json_errors(request: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let response = next.run(request).await;
    let status = response.status();
    let is_json = response
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let text = axum::body::to_bytes(body, 4096).await.map(|b| String::from_utf8_lossy(&b).trim().to_string());
    let code = match status {
        StatusCode::BAD_REQUEST => "invalid_path",
        StatusCode::NOT_FOUND => "not_found",
        StatusCode::METHOD_NOT_ALLOWED => "method_not_allowed",
        StatusCode::REQUEST_TIMEOUT => "timeout",
        StatusCode::PAYLOAD_TOO_LARGE => "too_large",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
        StatusCode::TOO_MANY_REQUESTS => "rate_limited",
        s if s.is_server_error() => "internal",
        _ => "refused",
    };
    let message = match text {
        Ok(text) if !text.is_empty() => text,
        _ => status.canonical_reason().unwrap_or("Refused.").to_string(),
    };
    let wrapped = ApiError::new(status, code, message).into_response();
    parts.headers.remove(axum::http::header::CONTENT_LENGTH);
    parts.headers.extend(wrapped.headers().clone());
    Response::from_parts(parts, wrapped.into_body())
}
