//! `GET /account-info/v3/details`: the account's settings, above all its
//! time zone, whose midnight resets the daily API limit (SEMANTICS.md §1
//! "Daily limits reset at midnight in the account's time zone"). The body
//! is HubSpot's `PortalInformationResponse` (spec
//! `Account/Account Info/Rollouts/144923/v3/accountInfo.json`): `portalId`,
//! `accountType`, `timeZone`, `companyCurrency`, `additionalCurrencies`,
//! `utcOffset`, `utcOffsetMilliseconds`, `uiDomain`, `dataHostingLocation`.
//!
//! The zone can be changed over the control surface:
//! `POST /__sim/hubspot/time-zone {"timeZone": "Europe/Berlin"}`.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use jiff::tz::TimeZone;
use serde::Deserialize;
use serde_json::json;

use super::{Shared, PORTAL_ID};

/// The zone a new simulated account has: the spec example's, which is not
/// UTC, so a client that assumes UTC is caught.
pub(crate) const DEFAULT_TIME_ZONE: &str = "US/Eastern";

/// The name and the zone; an unknown name falls back to UTC.
pub(crate) fn zone(name: &str) -> (String, TimeZone) {
    (
        name.to_owned(),
        TimeZone::get(name).unwrap_or(TimeZone::UTC),
    )
}

/// `GET /account-info/v3/details`.
pub(crate) async fn details(State(shared): State<Arc<Shared>>) -> Response {
    let (name, tz) = shared
        .time_zone
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    let offset = tz.to_offset(shared.clock.now());
    let seconds = offset.seconds();
    let sign = if seconds < 0 { '-' } else { '+' };
    let abs = seconds.unsigned_abs();
    Json(json!({
        "portalId": PORTAL_ID,
        "accountType": "STANDARD",
        "timeZone": name,
        "companyCurrency": "USD",
        "additionalCurrencies": [],
        "utcOffset": format!("{sign}{:02}:{:02}", abs / 3600, abs % 3600 / 60),
        "utcOffsetMilliseconds": i64::from(seconds) * 1000,
        "uiDomain": "app.hubspot.com",
        "dataHostingLocation": "na1",
    }))
    .into_response()
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ZoneBody {
    time_zone: String,
}

async fn set_zone(State(shared): State<Arc<Shared>>, Json(body): Json<ZoneBody>) -> Response {
    if TimeZone::get(&body.time_zone).is_err() {
        return (StatusCode::BAD_REQUEST, "unknown time zone").into_response();
    }
    *shared.time_zone.lock().unwrap_or_else(|e| e.into_inner()) = zone(&body.time_zone);
    StatusCode::NO_CONTENT.into_response()
}

/// The HubSpot-only control routes.
pub(crate) fn control_router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/__sim/hubspot/time-zone", post(set_zone))
        .with_state(shared)
}
