//! Marketo's response envelopes, as the simulator sends them.
//!
//! Success: `{"requestId", "result", "success": true, …}`; failure: HTTP
//! 200 with `{"requestId", "success": false, "errors": [{"code": "601",
//! "message"}]}` — codes are quoted integers
//! (experienceleague.adobe.com/en/docs/marketo-developer/marketo/rest/error-codes).
//! Like the docs' examples, successful answers carry no `errors` or
//! `warnings` and failed ones no `result` (the Swagger marks all three
//! required; see tests/swagger.rs for that quirk).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use leadbridge_core::sim::VendorErrors;
use serde_json::{json, Map, Value};

/// Marks a response Marketo does not count against the rate limit or the
/// daily quota ("An API call that returns this response code is not
/// counted against your daily quota, or your rate limit").
#[derive(Debug, Clone, Copy)]
pub(crate) struct NotCounted;

static REQUESTS: AtomicU64 = AtomicU64::new(0x1000);

/// A request id in Marketo's shape: `e42b#14272d07d78` (a counter and the
/// time in hex).
pub(crate) fn request_id() -> String {
    let n = REQUESTS.fetch_add(1, Ordering::Relaxed) & 0xffff;
    let ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0);
    format!("{n:x}#{ms:x}")
}

fn json_body(status: StatusCode, body: &Value) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json;charset=UTF-8")],
        body.to_string(),
    )
        .into_response()
}

/// A successful answer with `result` and any extra members (`nextPageToken`,
/// `moreResult`).
pub(crate) fn ok(result: Vec<Value>, extra: Map<String, Value>) -> Response {
    let mut body = Map::new();
    body.insert("requestId".into(), json!(request_id()));
    body.insert("result".into(), Value::Array(result));
    body.insert("success".into(), json!(true));
    body.extend(extra);
    json_body(StatusCode::OK, &Value::Object(body))
}

/// A successful answer without `result` (Merge Leads, Get Paging Token).
pub(crate) fn ok_bare(extra: Map<String, Value>) -> Response {
    let mut body = Map::new();
    body.insert("requestId".into(), json!(request_id()));
    body.insert("success".into(), json!(true));
    body.extend(extra);
    json_body(StatusCode::OK, &Value::Object(body))
}

/// A response-level failure: HTTP 200, `success: false`, one error.
pub(crate) fn fail(code: &str, message: impl Into<String>) -> Response {
    let body = json!({
        "requestId": request_id(),
        "success": false,
        "errors": [{"code": code, "message": message.into()}],
    });
    let mut r = json_body(StatusCode::OK, &body);
    r.extensions_mut().insert(NotCounted);
    r
}

/// 601: the token is not one Marketo issued (or none was sent).
pub(crate) fn invalid_token() -> Response {
    fail("601", "Access token invalid")
}

/// 602: the token has expired.
pub(crate) fn expired_token() -> Response {
    fail("602", "Access token expired")
}

/// 606: more than 100 calls in 20 seconds.
pub(crate) fn rate_limited() -> Response {
    fail("606", "Max rate limit '100' exceeded with in '20' secs")
}

/// An HTTP-level error (413, 414) with a plain body, as a web server sends it.
pub(crate) fn http_error(status: StatusCode, text: &str) -> Response {
    let mut r = (
        status,
        [(header::CONTENT_TYPE, "text/html")],
        format!(
            "<html><body><h1>{} {text}</h1></body></html>",
            status.as_u16()
        ),
    )
        .into_response();
    r.extensions_mut().insert(NotCounted);
    r
}

/// How Marketo words the failures the fault layer injects.
pub(crate) struct MarketoErrors;

impl VendorErrors for MarketoErrors {
    /// 606 in a 200: Marketo sends no `Retry-After`, so the hint is lost,
    /// as it would be.
    fn rate_limited(&self, _retry_after: Duration) -> Response {
        rate_limited()
    }

    /// The status with Marketo's envelope naming it (the error-codes page
    /// lists 500 and 502 among response codes: "the request should be
    /// retried with exponential backoff").
    fn server_error(&self, status: StatusCode) -> Response {
        let body = json!({
            "requestId": request_id(),
            "success": false,
            "errors": [{"code": status.as_u16().to_string(), "message": status.canonical_reason().unwrap_or("Server error")}],
        });
        let mut r = json_body(status, &body);
        r.extensions_mut().insert(NotCounted);
        r
    }

    fn token_expired(&self) -> Response {
        expired_token()
    }
}
