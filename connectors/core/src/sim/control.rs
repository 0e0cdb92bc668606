//! The control surface every simulator offers: in process as the
//! [`SimControl`] trait (the conformance suite and end-to-end tests), and over
//! HTTP under [`CONTROL_PREFIX`] (people, the demo, benchmarks, other
//! languages' clients).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{FaultKind, Faults, RequestCounter, SimClock, TokenIssuer};
use crate::record::{Fields, Record};

/// The reserved path prefix of the control surface; no vendor path starts with it.
pub const CONTROL_PREFIX: &str = "/__sim";

/// What to seed.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SeedSpec {
    /// The vendor object (`contacts`, `Lead`…).
    pub object: String,
    /// How many records.
    pub count: u64,
    /// The population seed ([`super::seed::person`]).
    #[serde(default)]
    pub seed: u64,
    /// The index of the first person, so several seedings do not collide.
    #[serde(default)]
    pub first_index: u64,
}

/// A fault rule, as the HTTP control surface takes it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FaultSpec {
    /// The failure.
    #[serde(flatten)]
    pub fault: FaultKind,
    /// Fail this many matching requests, then stop; all when absent.
    pub count: Option<u64>,
    /// Fail each matching request with this probability; always when absent.
    pub rate: Option<f64>,
    /// Only requests whose path contains this.
    pub path_contains: Option<String>,
}

/// What a simulator lets tests do to it. Records go in and out in the
/// vendor's own field names; timestamps come from the simulator's clock.
pub trait SimControl: Send + Sync {
    /// Where it serves, e.g. `http://127.0.0.1:41234`.
    fn base_url(&self) -> String;
    /// Its clock.
    fn clock(&self) -> &SimClock;
    /// Its fault rules.
    fn faults(&self) -> &Faults;
    /// Its OAuth2 authority.
    fn tokens(&self) -> &TokenIssuer;
    /// Its request counts.
    fn requests(&self) -> &RequestCounter;
    /// Seeds synthetic people into an object; returns their ids in order.
    fn seed(&self, spec: &SeedSpec) -> Result<Vec<String>, String>;
    /// Inserts records with these fields, as if a user created them now.
    fn insert(&self, object: &str, records: Vec<Fields>) -> Result<Vec<String>, String>;
    /// Changes fields of a record, as if a user edited it now.
    fn update(&self, object: &str, id: &str, fields: Fields) -> Result<(), String>;
    /// Deletes (archives) a record, as if a user deleted it now.
    fn delete(&self, object: &str, id: &str) -> Result<(), String>;
    /// A record, live or archived, with every field it has.
    fn get(&self, object: &str, id: &str) -> Option<Record>;
    /// Live records of an object whose `field` equals `value` (as text).
    fn find(&self, object: &str, field: &str, value: &str) -> Vec<Record>;
    /// How many live records an object has.
    fn count(&self, object: &str) -> usize;
    /// How long a change takes to become visible to change queries (search,
    /// SOQL): a record written while `lag` is set becomes visible at its
    /// write time plus `lag`; records written earlier keep the visibility
    /// they had. Look-ups by id or key are never delayed.
    fn set_index_lag(&self, lag: Duration);
    /// The vendor's daily API limit; `None` for unlimited.
    fn set_daily_limit(&self, max: Option<u64>);
    /// Switches the vendor's rate limits on or off (off for benchmarks).
    fn set_rate_limits(&self, enabled: bool);
}

type Ctl = Arc<dyn SimControl>;

#[derive(Deserialize)]
struct ClockBody {
    freeze_at: Option<Timestamp>,
    advance_ms: Option<u64>,
    resume: Option<bool>,
}

#[derive(Deserialize)]
struct MsBody {
    ms: u64,
}

#[derive(Deserialize)]
struct LimitBody {
    max: Option<u64>,
}

#[derive(Deserialize)]
struct EnabledBody {
    enabled: bool,
}

#[derive(Deserialize)]
struct InsertBody {
    records: Vec<Fields>,
}

#[derive(Deserialize)]
struct FindQuery {
    field: String,
    value: String,
}

fn bad(msg: String) -> Response {
    (StatusCode::BAD_REQUEST, Json(json!({ "error": msg }))).into_response()
}

/// The HTTP control surface over any [`SimControl`]; merge it into the
/// simulator's router. Routes (JSON bodies):
///
/// - `POST /__sim/seed` `{object, count, seed?, first_index?}` → `{ids}`
/// - `POST /__sim/records/{object}` `{records:[{field: value}]}` → `{ids}`
/// - `PATCH|DELETE|GET /__sim/records/{object}/{id}`; `GET /__sim/records/{object}?field=&value=`
/// - `POST /__sim/clock` `{freeze_at?, advance_ms?, resume?}` → `{now}`
/// - `POST /__sim/faults` [`FaultSpec`]; `DELETE /__sim/faults`
/// - `POST /__sim/index-lag` `{ms}`; `POST /__sim/daily-limit` `{max}`;
///   `POST /__sim/rate-limits` `{enabled}`; `POST /__sim/tokens/expire`
/// - `POST /__sim/tokens/refuse` `{shape}` (`null` clears): the token
///   endpoint refuses refreshes in that vendor body shape
/// - `GET /__sim/requests` → `{endpoint: count}`; `DELETE /__sim/requests`
pub fn control_router(ctl: Ctl) -> Router {
    Router::new()
        .route("/__sim/seed", post(seed))
        .route("/__sim/records/{object}", post(insert).get(find))
        .route(
            "/__sim/records/{object}/{id}",
            get(get_one).patch(update).delete(delete),
        )
        .route("/__sim/clock", post(clock).get(clock_now))
        .route("/__sim/faults", post(add_fault).delete(clear_faults))
        .route("/__sim/index-lag", post(index_lag))
        .route("/__sim/daily-limit", post(daily_limit))
        .route("/__sim/rate-limits", post(rate_limits))
        .route("/__sim/tokens/expire", post(expire_tokens))
        .route("/__sim/tokens/refuse", post(refuse_tokens))
        .route("/__sim/requests", get(requests).delete(reset_requests))
        .with_state(ctl)
}

async fn seed(State(ctl): State<Ctl>, Json(spec): Json<SeedSpec>) -> Response {
    match ctl.seed(&spec) {
        Ok(ids) => Json(json!({ "ids": ids })).into_response(),
        Err(e) => bad(e),
    }
}

async fn insert(
    State(ctl): State<Ctl>,
    Path(object): Path<String>,
    Json(body): Json<InsertBody>,
) -> Response {
    match ctl.insert(&object, body.records) {
        Ok(ids) => Json(json!({ "ids": ids })).into_response(),
        Err(e) => bad(e),
    }
}

async fn find(
    State(ctl): State<Ctl>,
    Path(object): Path<String>,
    Query(q): Query<FindQuery>,
) -> Response {
    Json(ctl.find(&object, &q.field, &q.value)).into_response()
}

async fn get_one(State(ctl): State<Ctl>, Path((object, id)): Path<(String, String)>) -> Response {
    match ctl.get(&object, &id) {
        Some(r) => Json(r).into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

async fn update(
    State(ctl): State<Ctl>,
    Path((object, id)): Path<(String, String)>,
    Json(fields): Json<Fields>,
) -> Response {
    match ctl.update(&object, &id, fields) {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => bad(e),
    }
}

async fn delete(State(ctl): State<Ctl>, Path((object, id)): Path<(String, String)>) -> Response {
    match ctl.delete(&object, &id) {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => bad(e),
    }
}

async fn clock(State(ctl): State<Ctl>, Json(body): Json<ClockBody>) -> Response {
    if let Some(at) = body.freeze_at {
        ctl.clock().freeze_at(at);
    }
    if let Some(ms) = body.advance_ms {
        ctl.clock().advance(Duration::from_millis(ms));
    }
    if body.resume == Some(true) {
        ctl.clock().resume();
    }
    clock_now(State(ctl)).await
}

async fn clock_now(State(ctl): State<Ctl>) -> Response {
    Json(json!({ "now": ctl.clock().now() })).into_response()
}

async fn add_fault(State(ctl): State<Ctl>, Json(spec): Json<FaultSpec>) -> Response {
    ctl.faults()
        .add(spec.fault, spec.count, spec.rate, spec.path_contains);
    StatusCode::NO_CONTENT.into_response()
}

async fn clear_faults(State(ctl): State<Ctl>) -> Response {
    ctl.faults().clear();
    StatusCode::NO_CONTENT.into_response()
}

async fn index_lag(State(ctl): State<Ctl>, Json(body): Json<MsBody>) -> Response {
    ctl.set_index_lag(Duration::from_millis(body.ms));
    StatusCode::NO_CONTENT.into_response()
}

async fn daily_limit(State(ctl): State<Ctl>, Json(body): Json<LimitBody>) -> Response {
    ctl.set_daily_limit(body.max);
    StatusCode::NO_CONTENT.into_response()
}

async fn rate_limits(State(ctl): State<Ctl>, Json(body): Json<EnabledBody>) -> Response {
    ctl.set_rate_limits(body.enabled);
    StatusCode::NO_CONTENT.into_response()
}

async fn expire_tokens(State(ctl): State<Ctl>) -> Response {
    ctl.tokens().expire_all();
    StatusCode::NO_CONTENT.into_response()
}

#[derive(Deserialize)]
struct RefuseBody {
    shape: Option<String>,
}

async fn refuse_tokens(State(ctl): State<Ctl>, Json(body): Json<RefuseBody>) -> Response {
    ctl.tokens().set_refusal(body.shape);
    StatusCode::NO_CONTENT.into_response()
}

async fn requests(State(ctl): State<Ctl>) -> Response {
    let counts: BTreeMap<String, u64> = ctl.requests().counts();
    Json(counts).into_response()
}

async fn reset_requests(State(ctl): State<Ctl>) -> Response {
    ctl.requests().reset();
    StatusCode::NO_CONTENT.into_response()
}
