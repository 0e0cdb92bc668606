//! The read-only endpoints: liveness, readiness, metrics, the status page
//! and its JSON.

use axum::extract::{Query, State};
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::Json;
use serde_json::json;

use super::snapshot::{self, readiness};
use super::state::AdminState;

/// `GET /healthz`: the process answers. Says nothing about the tools, so a
/// vendor outage never gets the daemon restarted.
pub(crate) async fn healthz() -> &'static str {
    "ok\n"
}

/// `GET /readyz`: 200 when the state store answers, every connector a
/// pipeline uses is proven authenticated and no pipeline is halted; 503
/// with the reasons otherwise.
pub(crate) async fn readyz(State(state): State<AdminState>) -> Response {
    let problems = readiness(&state).await;
    if problems.is_empty() {
        (StatusCode::OK, "ready\n").into_response()
    } else {
        let mut body = String::from("not ready\n");
        for p in problems {
            body.push_str("- ");
            body.push_str(&p);
            body.push('\n');
        }
        (StatusCode::SERVICE_UNAVAILABLE, body).into_response()
    }
}

/// `GET /metrics`: Prometheus text. Sampled values (DLQ size, API calls,
/// pipeline states) are refreshed first, so a scrape is current.
pub(crate) async fn metrics(State(state): State<AdminState>) -> Response {
    let handle = match crate::metrics::prometheus() {
        Ok(h) => h,
        Err(e) => return (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    };
    // The snapshot records the sampled gauges as a side effect.
    if let Err(e) = snapshot::take(&state).await {
        tracing::warn!(error = %e, "metrics: could not read the state store");
    }
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        handle.render(),
    )
        .into_response()
}

/// The funnel's window and grouping, from `?days=7|30|90&by=…`.
#[derive(Debug, Default, serde::Deserialize)]
pub(crate) struct FunnelParams {
    days: Option<String>,
    by: Option<String>,
}

impl FunnelParams {
    fn query(&self) -> Result<snapshot::FunnelQuery, Box<Response>> {
        snapshot::FunnelQuery::parse(self.days.as_deref(), self.by.as_deref())
            .map_err(|e| Box::new((StatusCode::BAD_REQUEST, format!("{e}\n")).into_response()))
    }
}

/// `GET /api/status[?days=7|30|90&by=source|campaign|owner]`: the status as JSON.
pub(crate) async fn api_status(
    State(state): State<AdminState>,
    Query(params): Query<FunnelParams>,
) -> Response {
    let query = match params.query() {
        Ok(q) => q,
        Err(r) => return *r,
    };
    match snapshot::take_with(&state, query).await {
        Ok(s) => Json(s).into_response(),
        Err(e) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"error": format!("state store: {e}")})),
        )
            .into_response(),
    }
}

/// `GET /status[?days=7|30|90&by=source|campaign|owner]`: the status page.
pub(crate) async fn status_page(
    State(state): State<AdminState>,
    Query(params): Query<FunnelParams>,
) -> Response {
    let query = match params.query() {
        Ok(q) => q,
        Err(r) => return *r,
    };
    match snapshot::take_with(&state, query).await {
        Ok(s) => Html(super::page::render(&s)).into_response(),
        Err(e) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Html(format!(
                "<!doctype html><title>leadbridge</title><p>The state store does not answer: {}</p>",
                super::html::esc(&e.to_string())
            )),
        )
            .into_response(),
    }
}
