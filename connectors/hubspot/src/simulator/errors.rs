//! HubSpot's error bodies, as the simulator sends them.

use std::time::Duration;

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use leadbridge_core::sim::VendorErrors;
use rand::Rng;
use serde_json::{json, Value};

use super::store::PropError;

/// A fresh correlation id in UUID v4 form.
pub(crate) fn correlation_id() -> String {
    let mut rng = rand::rng();
    let b: [u8; 16] = rng.random();
    format!(
        "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
        u32::from_be_bytes([b[0], b[1], b[2], b[3]]),
        u16::from_be_bytes([b[4], b[5]]),
        u16::from_be_bytes([b[6], b[7]]) & 0x0fff,
        (u16::from_be_bytes([b[8], b[9]]) & 0x3fff) | 0x8000,
        u64::from_be_bytes([0, 0, b[10], b[11], b[12], b[13], b[14], b[15]])
    )
}

/// `{"status":"error","message","correlationId","category", …extra}` with `status`.
pub(crate) fn error(status: StatusCode, category: &str, message: impl Into<String>) -> Response {
    error_with(status, category, message, Value::Null)
}

/// [`error`] with extra top-level fields (`context`, `errors`, `policyName`…).
pub(crate) fn error_with(
    status: StatusCode,
    category: &str,
    message: impl Into<String>,
    extra: Value,
) -> Response {
    let mut body = json!({
        "status": "error",
        "message": message.into(),
        "correlationId": correlation_id(),
        "category": category,
    });
    if let (Some(body), Value::Object(extra)) = (body.as_object_mut(), extra) {
        body.extend(extra);
    }
    (status, Json(body)).into_response()
}

/// HubSpot's wording of invalid property values: the summary message embeds
/// a JSON list of the failures, and `errors[]` repeats them one by one.
pub(crate) fn validation_body(errors: &[PropError]) -> (String, Value) {
    let list: Vec<Value> = errors
        .iter()
        .map(|e| {
            json!({
                "isValid": false,
                "message": e.message,
                "error": e.code,
                "name": e.name,
                "localizedErrorMessage": e.message,
            })
        })
        .collect();
    let message = format!(
        "Property values were not valid: {}",
        serde_json::to_string(&list).unwrap_or_default()
    );
    let details: Vec<Value> = errors
        .iter()
        .map(|e| {
            json!({
                "message": e.message,
                "code": e.code,
                "context": {"propertyName": [e.name]},
            })
        })
        .collect();
    (message, Value::Array(details))
}

/// A 400 for invalid property values.
pub(crate) fn validation(errors: &[PropError]) -> Response {
    let (message, details) = validation_body(errors);
    error_with(
        StatusCode::BAD_REQUEST,
        "VALIDATION_ERROR",
        message,
        json!({ "errors": details }),
    )
}

/// A 429 with HubSpot's body for `policy` and a `Retry-After`.
pub(crate) fn rate_limited(policy: &str, message: &str, retry_after: Duration) -> Response {
    let mut response = (
        StatusCode::TOO_MANY_REQUESTS,
        Json(json!({
            "status": "error",
            "message": message,
            "errorType": "RATE_LIMIT",
            "correlationId": correlation_id(),
            "policyName": policy,
            "groupName": "leadbridge-simulator",
        })),
    )
        .into_response();
    let secs = retry_after.as_secs_f64().ceil().max(1.0) as u64;
    if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
        response.headers_mut().insert(header::RETRY_AFTER, v);
    }
    response
}

/// The burst-limit answer.
pub(crate) fn burst_limited(retry_after: Duration) -> Response {
    rate_limited(
        "TEN_SECONDLY_ROLLING",
        "You have reached your ten_secondly_rolling limit.",
        retry_after,
    )
}

/// The 401 for an expired access token.
pub(crate) fn expired_token() -> Response {
    error(
        StatusCode::UNAUTHORIZED,
        "EXPIRED_AUTHENTICATION",
        "The OAuth token used to make this call expired. Refresh it and try again.",
    )
}

/// How HubSpot words the failures the fault layer injects.
pub(crate) struct HubSpotErrors;

impl VendorErrors for HubSpotErrors {
    fn rate_limited(&self, retry_after: Duration) -> Response {
        burst_limited(retry_after)
    }

    fn server_error(&self, status: StatusCode) -> Response {
        error(
            status,
            "INTERNAL_ERROR",
            "An internal error occurred. Please try again.",
        )
    }

    fn token_expired(&self) -> Response {
        expired_token()
    }
}
