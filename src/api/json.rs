//! JSON bodies and query strings of the API, with refusals in the API's
//! error shape: `415` unless the body is JSON by its `Content-Type`, `400`
//! for a body that does not parse or does not fit the operation's schema.
//! Numbers with a zero fraction (`5.0`) count as the integers they are, as
//! JSON Schema (and so the OpenAPI document) says.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use axum::http::header::CONTENT_TYPE;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::ApiError;

/// A JSON body the operation needs.
pub struct ApiJson<T>(pub T);

/// A JSON body that may also be left out entirely (then `T::default()`).
pub struct OptionalJson<T>(pub T);

/// Query strings, refused in the API's error shape.
#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(ApiError))]
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match read_body(req, state).await? {
            Some(value) => parse(value).map(ApiJson),
            None => Err(ApiError::new(StatusCode::BAD_REQUEST, "invalid_json", "This operation needs a JSON body.")),
        }
    }
}

impl<T: DeserializeOwned + Default, S: Send + Sync> FromRequest<S> for OptionalJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match read_body(req, state).await? {
            Some(value) => parse(value).map(OptionalJson),
            None => Ok(OptionalJson(T::default())),
        }
    }
}

/// The body as JSON, `None` when it is empty (or only whitespace).
async fn read_body<S: Send + Sync>(req: Request, state: &S) -> Result<Option<Value>, ApiError> {
    let is_json = req
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase())
        .is_some_and(|v| v == "application/json" || (v.starts_with("application/") && v.ends_with("+json")));
    let bytes = Bytes::from_request(req, state)
        .await
        .map_err(|_| ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "too_large", "The body is larger than 1 MiB."))?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    if !is_json {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "Send the body as JSON with `Content-Type: application/json`.",
        ));
    }
    let mut value: Value = serde_json::from_slice(&bytes)
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "invalid_json", format!("The body is not JSON: {e}")))?;
    integral_floats_as_integers(&mut value);
    Ok(Some(value))
}

fn parse<T: DeserializeOwned>(value: Value) -> Result<T, ApiError> {
    serde_json::from_value(value).map_err(|e| {
        ApiError::new(StatusCode::BAD_REQUEST, "invalid_json", format!("The body does not fit this operation: {e}"))
    })
}

/// `5.0` → `5`, everywhere in the document (integers beyond ±2^53 are
/// not exact as floats, so they are left alone and refused as floats).
fn integral_floats_as_integers(value: &mut Value) {
    match value {
        Value::Number(n) if n.is_f64() => {
            let f = n.as_f64().unwrap_or(f64::NAN);
            if f.fract() == 0.0 && f.abs() <= 9_007_199_254_740_992.0 {
                *value = Value::from(f as i64);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(integral_floats_as_integers),
        Value::Object(fields) => fields.values_mut().for_each(integral_floats_as_integers),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    #[test]
    fn integral_floats_become_integers_and_others_stay() {
        let mut value = json!({"a": 5.0, "b": [1.0, 2.5, -3.0], "c": {"d": 1e300}, "e": "5.0"});
        super::integral_floats_as_integers(&mut value);
        assert_eq!(value, json!({"a": 5, "b": [1, 2.5, -3], "c": {"d": 1e300}, "e": "5.0"}));
        assert!(value["a"].is_i64());
    }
}
