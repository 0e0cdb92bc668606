//! A faithful in-memory simulator of Marketo's REST API (Lead Database
//! and identity), served by axum on loopback, plus the shared control
//! surface under `/__sim`.
//!
//! Start it with [`start`]; drive it in process through
//! [`RunningSimulator::control`](leadbridge_core::sim::RunningSimulator) or
//! over HTTP ([`leadbridge_core::sim::control_router`]).
//!
//! What it serves (paths and bodies from the official Swagger,
//! `swagger-mapi.json` / `swagger-identity.json`, behaviour from the
//! Marketo developer docs named on each handler):
//!
//! - `GET|POST /identity/oauth/token` (client credentials in the query or
//!   a form body; the same token while it is valid);
//! - `GET /rest/v1/leads.json` (Get Leads by Filter Type), `POST` (Sync
//!   Leads), `GET /rest/v1/lead/{id}.json`, `POST
//!   /rest/v1/leads/{id}/merge.json`, `GET /rest/v1/leads/describe.json`
//!   and `describe2.json`;
//! - `GET /rest/v1/activities/pagingtoken.json`, `activities.json`,
//!   `activities/leadchanges.json`, `activities/deletedleads.json`,
//!   `activities/types.json`, `activities/external/types.json`, `POST
//!   /rest/v1/activities/external.json`.
//!
//! How it behaves like Marketo:
//!
//! - **errors in a 200**: response-level failures are HTTP 200 with
//!   `success: false` and a quoted code; per-record failures are
//!   `skipped` with `reasons`; the only HTTP errors are 414 for a URI over
//!   8 KB and 413 for a body over 1 MB (error-codes page);
//! - **auth**: a bearer token (header, or the `access_token` query
//!   parameter Marketo still accepts until its announced removal), 601 for
//!   an unknown one, 602 for an expired one (Authentication page);
//! - **limits** (Integration Best Practices page, error codes 606/607/615):
//!   100 calls per rolling 20 s (606), ten calls in flight (615), a daily
//!   quota counted in Marketo's day, which turns at midnight UTC−6 ("resets
//!   daily at 12:00AM CST"; 607). Calls answered with an error do not
//!   count ("not counted against your daily quota, or your rate limit");
//!   identity calls neither (swagger-identity.json);
//! - `POST … ?_method=GET` with the query in a form body is served as the
//!   GET (the documented way round 414);
//! - **the activity log**: every change is logged (`store.rs`) and the
//!   feeds page through it with date-based tokens (`feed.rs`);
//! - **clock and lag**: dates come from the [`SimClock`]; activities reach
//!   the feeds after the control surface's index lag; the `Date` header is
//!   the simulated now.
//!
//! Faults injected by the kit answer as Marketo would: a 606 in a 200 (no
//! `Retry-After`), a 602 in a 200, or the status asked for. On `/rest`
//! paths they act after the concurrency count and before the token check,
//! so an injected slow answer holds one of the ten places.
//!
//! **Unverified choices** (the docs do not say; each is the simulator's
//! reading, stricter where it had to choose): a call without any token
//! answers 601; an unparseable `nextPageToken`, more than 300
//! `filterValues`, inputs or `batchSize`, more than ten `activityTypeIds`
//! or 30 `leadIds` answer 1003; an unknown name in `fields` answers 1006 at
//! response level; a Merge Leads naming an unknown lead answers 1004; a
//! write to a system field (`createdAt`…) is skipped with 1003; string
//! lengths are not enforced (whether Marketo truncates or refuses is not
//! documented); a merge logs only its Merge Leads activity (no Delete Lead
//! for the losers, no data value changes for the values the winner takes
//! over); a cleared value shows as `newValue: ""`; the feeds examine at
//! most 3,000 log entries a call (`feed.rs`).
//!
//! One custom activity type is provisioned, as if an admin had created and
//! approved it, so notes can be written: [`NOTE_ACTIVITY_TYPE_ID`] with the
//! body in [`NOTE_BODY_ATTRIBUTE`] (see [`note_activity`]).

mod api;
mod errors;
mod feed;
mod schema;
mod store;

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock, RwLock};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::Response;
use jiff::civil::Date;
use leadbridge_core::sim::{
    control_router, fault_layer, seed, FaultState, Faults, RequestCounter, RunningSimulator,
    SeedSpec, SimClock, SimControl, SimServer, SimulatorOptions, TokenCheck, TokenIssuer,
    CONTROL_PREFIX,
};
use leadbridge_core::{Fields, Record};
use serde_json::Value;

use self::errors::{http_error, NotCounted};
use self::store::{validate, CustomType, Db, Lead};
use crate::time::{from_ms, iso_seconds, quota_zone};
use crate::NoteActivity;

/// The rate limit: 100 calls per rolling 20 seconds.
const RATE: (usize, Duration) = (100, Duration::from_secs(20));
/// The concurrency limit: ten calls at once.
const CONCURRENT: usize = 10;
/// The longest request URI Marketo serves (8 KB).
const MAX_URI: usize = 8 * 1024;
/// The largest request body Marketo takes (1 MB).
const MAX_BODY: usize = 1024 * 1024;

/// The id of the provisioned custom activity type for notes.
pub const NOTE_ACTIVITY_TYPE_ID: i64 = 100_001;
/// Its API name.
pub const NOTE_ACTIVITY_API_NAME: &str = "leadbridgeNote";
/// The API name of its body attribute (the subject is the primary one).
pub const NOTE_BODY_ATTRIBUTE: &str = "noteBody";

/// The [`NoteActivity`] a connector needs to write notes to this simulator.
pub fn note_activity() -> NoteActivity {
    NoteActivity {
        activity_type_id: NOTE_ACTIVITY_TYPE_ID,
        body_attribute: NOTE_BODY_ATTRIBUTE.to_owned(),
    }
}

struct RateState {
    window: VecDeque<Instant>,
    day: Option<Date>,
    used_today: u64,
}

/// Everything the handlers and the control surface share.
pub(crate) struct Shared {
    clock: SimClock,
    faults: Faults,
    tokens: TokenIssuer,
    requests: RequestCounter,
    db: RwLock<Db>,
    index_lag_ms: AtomicI64,
    rate_limits: AtomicBool,
    daily_limit: Mutex<Option<u64>>,
    rates: Mutex<RateState>,
    in_flight: AtomicUsize,
    current_token: Mutex<Option<(String, i64)>>,
    base_url: OnceLock<String>,
}

impl Shared {
    fn read(&self) -> std::sync::RwLockReadGuard<'_, Db> {
        self.db.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Db> {
        self.db.write().unwrap_or_else(|e| e.into_inner())
    }

    fn now_ms(&self) -> i64 {
        self.clock.now().as_millisecond()
    }

    fn lag_ms(&self) -> i64 {
        self.index_lag_ms.load(Ordering::Relaxed)
    }

    /// The identity answer for these credentials: the current token while
    /// it is valid (with what is left of its life), else a new one.
    fn issue_token(&self, client_id: &str, client_secret: &str) -> Option<(String, u64)> {
        let settings = self.tokens.settings();
        if client_id != settings.client_id || client_secret != settings.client_secret {
            return None;
        }
        let now = self.now_ms();
        let mut current = self.current_token.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((token, expires)) = current.as_ref() {
            if self.tokens.check(token) == TokenCheck::Valid {
                let left = u64::try_from((expires - now) / 1000).unwrap_or(0);
                return Some((token.clone(), left));
            }
        }
        let issued = self
            .tokens
            .client_credentials(client_id, client_secret)
            .ok()?;
        let life = i64::try_from(issued.expires_in.as_millis()).unwrap_or(i64::MAX);
        *current = Some((issued.access_token.clone(), now.saturating_add(life)));
        Some((issued.access_token, issued.expires_in.as_secs()))
    }
}

/// The in-process control surface of a running Marketo simulator.
#[derive(Clone)]
pub struct MarketoSim {
    shared: Arc<Shared>,
}

/// Starts a Marketo simulator on `options.listen` and seeds
/// `options.seed_records` leads. Serves until the returned
/// [`RunningSimulator`] is dropped or stopped.
pub async fn start(options: SimulatorOptions) -> std::io::Result<RunningSimulator> {
    let clock = SimClock::default();
    let mut db = Db::new();
    db.custom_types.push(CustomType {
        id: NOTE_ACTIVITY_TYPE_ID,
        api_name: NOTE_ACTIVITY_API_NAME.to_owned(),
        name: "leadbridge Note".to_owned(),
        primary: ("subject".to_owned(), "Subject".to_owned()),
        attributes: vec![(
            NOTE_BODY_ATTRIBUTE.to_owned(),
            "Body".to_owned(),
            "text".to_owned(),
        )],
    });
    let shared = Arc::new(Shared {
        tokens: TokenIssuer::new(options.tokens.clone(), clock.clone()),
        clock,
        faults: Faults::default(),
        requests: RequestCounter::default(),
        db: RwLock::new(db),
        index_lag_ms: AtomicI64::new(0),
        rate_limits: AtomicBool::new(options.rate_limits),
        daily_limit: Mutex::new(None),
        rates: Mutex::new(RateState {
            window: VecDeque::new(),
            day: None,
            used_today: 0,
        }),
        in_flight: AtomicUsize::new(0),
        current_token: Mutex::new(None),
        base_url: OnceLock::new(),
    });
    let sim = MarketoSim {
        shared: shared.clone(),
    };
    if options.seed_records > 0 {
        sim.seed(&SeedSpec {
            object: crate::OBJECT.into(),
            count: options.seed_records,
            seed: options.seed,
            first_index: 0,
        })
        .map_err(std::io::Error::other)?;
    }
    let control: Arc<dyn SimControl> = Arc::new(sim);
    let fault_state: FaultState = (shared.faults.clone(), Arc::new(errors::MarketoErrors));
    // Injected faults sit between the concurrency count and the rest of
    // the guard: a slow answer holds one of the ten places, as a slow
    // Marketo call does, and an injected 602 comes before the token check.
    let rest = api::router(shared.clone())
        .layer(middleware::from_fn_with_state(shared.clone(), guard))
        .layer(middleware::from_fn_with_state(
            fault_state.clone(),
            fault_layer,
        ))
        .layer(middleware::from_fn_with_state(shared.clone(), slots));
    // Size limits and `_method=GET` act before routing, so the rewritten
    // request reaches the GET route.
    let rest = axum::Router::new()
        .fallback_service(rest)
        .layer(middleware::from_fn(before_routing));
    let router = api::identity_router(shared.clone())
        .layer(middleware::from_fn_with_state(fault_state, fault_layer))
        .merge(control_router(control.clone()))
        .fallback_service(rest)
        .layer(middleware::from_fn_with_state(shared.clone(), count));
    let server = SimServer::start(router, options.listen).await?;
    let _ = shared.base_url.set(server.url());
    Ok(RunningSimulator { server, control })
}

/// The label a request is counted under: method and path, with lead ids
/// as `{id}`.
pub(crate) fn endpoint_label(method: &str, path: &str) -> String {
    let segments: Vec<String> = path
        .split('/')
        .map(|s| {
            let stem = s.strip_suffix(".json").unwrap_or(s);
            if !stem.is_empty() && stem.bytes().all(|b| b.is_ascii_digit()) {
                if s.ends_with(".json") {
                    "{id}.json".to_owned()
                } else {
                    "{id}".to_owned()
                }
            } else {
                s.to_owned()
            }
        })
        .collect();
    format!("{method} {}", segments.join("/"))
}

/// Counts the request and dates the answer by the simulated clock (the
/// `Date` header), as Marketo's servers date theirs by their own.
async fn count(State(shared): State<Arc<Shared>>, request: Request, next: Next) -> Response {
    let path = request.uri().path();
    if !path.starts_with(CONTROL_PREFIX) {
        shared
            .requests
            .hit(&endpoint_label(request.method().as_str(), path));
    }
    let mut response = next.run(request).await;
    let date = shared
        .clock
        .now()
        .strftime("%a, %d %b %Y %H:%M:%S GMT")
        .to_string();
    if let Ok(v) = HeaderValue::from_str(&date) {
        response.headers_mut().insert(header::DATE, v);
    }
    response
}

/// `POST …?_method=GET` with a form body, served as the GET it stands for.
async fn as_get(request: Request) -> Result<Request, Response> {
    if request.method() != Method::POST {
        return Ok(request);
    }
    let query = api::pairs(request.uri().query());
    if !query
        .iter()
        .any(|(k, v)| k == "_method" && v.eq_ignore_ascii_case("GET"))
    {
        return Ok(request);
    }
    let (mut parts, body) = request.into_parts();
    let bytes = axum::body::to_bytes(body, MAX_BODY)
        .await
        .map_err(|_| http_error(StatusCode::PAYLOAD_TOO_LARGE, "Request Entity Too Large"))?;
    let mut all: Vec<(String, String)> =
        query.into_iter().filter(|(k, _)| k != "_method").collect();
    all.extend(url::form_urlencoded::parse(&bytes).into_owned());
    let query = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(&all)
        .finish();
    parts.uri = format!("{}?{query}", parts.uri.path())
        .parse()
        .map_err(|_| errors::fail("610", "Requested resource not found"))?;
    parts.method = Method::GET;
    parts.headers.remove(header::CONTENT_TYPE);
    parts.headers.remove(header::CONTENT_LENGTH);
    Ok(Request::from_parts(parts, Body::empty()))
}

/// Decrements the in-flight count when a call ends, however it ends.
struct InFlight<'a>(&'a AtomicUsize);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// The URI and body limits (414 past 8 KB, 413 past 1 MB), then
/// `_method=GET`; before routing.
async fn before_routing(request: Request, next: Next) -> Response {
    let uri_len = request
        .uri()
        .path_and_query()
        .map(|p| p.as_str().len())
        .unwrap_or(0);
    if uri_len > MAX_URI {
        return http_error(StatusCode::URI_TOO_LONG, "Request-URI Too Long");
    }
    let body_len = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(0);
    if body_len > MAX_BODY {
        return http_error(StatusCode::PAYLOAD_TOO_LARGE, "Request Entity Too Large");
    }
    match as_get(request).await {
        Ok(r) => next.run(r).await,
        Err(r) => r,
    }
}

/// The concurrency limit of every `/rest` path: 615 for an eleventh call
/// in flight.
async fn slots(State(shared): State<Arc<Shared>>, request: Request, next: Next) -> Response {
    let before = shared.in_flight.fetch_add(1, Ordering::SeqCst);
    let _slot = InFlight(&shared.in_flight);
    if shared.rate_limits.load(Ordering::Relaxed) && before >= CONCURRENT {
        return errors::fail("615", "Concurrent access limit reached");
    }
    next.run(request).await
}

/// Bearer auth, and the rate and daily limits of every `/rest` path.
async fn guard(State(shared): State<Arc<Shared>>, request: Request, next: Next) -> Response {
    let token = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(|v| v.trim().to_owned())
        .or_else(|| {
            api::pairs(request.uri().query())
                .into_iter()
                .find(|(k, _)| k == "access_token")
                .map(|(_, v)| v)
        })
        .unwrap_or_default();
    match shared.tokens.check(&token) {
        TokenCheck::Valid if !token.is_empty() => {}
        TokenCheck::Expired => return errors::expired_token(),
        _ => return errors::invalid_token(),
    }
    let limited = shared.rate_limits.load(Ordering::Relaxed);
    let now = Instant::now();
    {
        let daily = *shared.daily_limit.lock().unwrap_or_else(|e| e.into_inner());
        let mut rates = shared.rates.lock().unwrap_or_else(|e| e.into_inner());
        let today = shared.clock.now().to_zoned(quota_zone()).date();
        if rates.day != Some(today) {
            rates.day = Some(today);
            rates.used_today = 0;
        }
        if daily.is_some_and(|max| rates.used_today >= max) {
            return errors::fail("607", "Daily quota reached");
        }
        if limited {
            while rates
                .window
                .front()
                .is_some_and(|t| now.duration_since(*t) >= RATE.1)
            {
                rates.window.pop_front();
            }
            if rates.window.len() >= RATE.0 {
                return errors::rate_limited();
            }
            rates.window.push_back(now);
        }
        rates.used_today += 1;
    }
    let response = next.run(request).await;
    if response.extensions().get::<NotCounted>().is_some() {
        // Failed calls count against neither limit: give the places back.
        let mut rates = shared.rates.lock().unwrap_or_else(|e| e.into_inner());
        rates.used_today = rates.used_today.saturating_sub(1);
        if limited {
            if let Some(pos) = rates.window.iter().rposition(|t| *t == now) {
                rates.window.remove(pos);
            }
        }
    }
    response
}

fn check_object(object: &str) -> Result<(), String> {
    if object.eq_ignore_ascii_case("leads") || object.eq_ignore_ascii_case("lead") {
        Ok(())
    } else {
        Err(format!(
            "the Marketo simulator has leads only, not {object:?}"
        ))
    }
}

fn parse_id(id: &str) -> Result<u64, String> {
    id.parse().map_err(|_| format!("invalid lead id {id:?}"))
}

fn record_of(id: u64, lead: &Lead, modified_ms: i64, archived: bool) -> Record {
    let mut record = Record::new(id.to_string(), from_ms(modified_ms));
    record.archived = archived;
    record.fields.insert("id".into(), Value::from(id));
    for (k, v) in &lead.values {
        record.fields.insert((*k).to_owned(), v.clone());
    }
    record.fields.insert(
        "createdAt".into(),
        Value::String(iso_seconds(from_ms(lead.created_ms))),
    );
    record.fields.insert(
        "updatedAt".into(),
        Value::String(iso_seconds(from_ms(lead.updated_ms))),
    );
    record
}

/// A seeded person's lead status, from their funnel stage.
fn lead_status(stage: &str) -> &'static str {
    match stage {
        "subscriber" | "lead" => "New",
        "marketingqualifiedlead" => "Marketing Qualified",
        "salesqualifiedlead" => "Sales Qualified",
        "opportunity" => "Opportunity",
        _ => "Customer",
    }
}

/// A seeded person's lead source, in Marketo's usual wording.
fn lead_source(source: &str) -> &'static str {
    match source {
        "ORGANIC_SEARCH" => "Organic Search",
        "PAID_SEARCH" => "Paid Search",
        "SOCIAL_MEDIA" => "Social Media",
        "EMAIL_MARKETING" => "Email",
        "REFERRALS" => "Referral",
        _ => "Website",
    }
}

impl SimControl for MarketoSim {
    fn base_url(&self) -> String {
        self.shared.base_url.get().cloned().unwrap_or_default()
    }

    fn clock(&self) -> &SimClock {
        &self.shared.clock
    }

    fn faults(&self) -> &Faults {
        &self.shared.faults
    }

    fn tokens(&self) -> &TokenIssuer {
        &self.shared.tokens
    }

    fn requests(&self) -> &RequestCounter {
        &self.shared.requests
    }

    fn seed(&self, spec: &SeedSpec) -> Result<Vec<String>, String> {
        check_object(&spec.object)?;
        let now = self.shared.now_ms();
        let lag = self.shared.lag_ms();
        let mut db = self.shared.write();
        let mut ids = Vec::with_capacity(spec.count as usize);
        for i in 0..spec.count {
            let p = seed::person(spec.seed, spec.first_index + i);
            let fields = serde_json::json!({
                "email": p.email,
                "firstName": p.first_name,
                "lastName": p.last_name,
                "company": p.company,
                "title": p.job_title,
                "phone": p.phone,
                "website": format!("https://{}", p.domain),
                "country": p.country,
                "numberOfEmployees": p.employees,
                "leadScore": p.score,
                "leadStatus": lead_status(&p.lifecycle_stage),
                "leadSource": lead_source(&p.source),
            });
            let changes = validate(fields.as_object().unwrap_or(&Fields::new()), &[])
                .map_err(|r| r.message)?;
            ids.push(db.create(&changes, now, lag, "List import").to_string());
        }
        Ok(ids)
    }

    fn insert(&self, object: &str, records: Vec<Fields>) -> Result<Vec<String>, String> {
        check_object(object)?;
        let now = self.shared.now_ms();
        let lag = self.shared.lag_ms();
        let mut db = self.shared.write();
        records
            .iter()
            .map(|fields| {
                let changes = validate(fields, &[]).map_err(|r| r.message)?;
                Ok(db.create(&changes, now, lag, "New person").to_string())
            })
            .collect()
    }

    fn update(&self, object: &str, id: &str, fields: Fields) -> Result<(), String> {
        check_object(object)?;
        let id = parse_id(id)?;
        let changes = validate(&fields, &[]).map_err(|r| r.message)?;
        let now = self.shared.now_ms();
        let lag = self.shared.lag_ms();
        if self
            .shared
            .write()
            .update(id, &changes, now, lag, "Changed by user")
        {
            Ok(())
        } else {
            Err(format!("no live lead {id}"))
        }
    }

    fn delete(&self, object: &str, id: &str) -> Result<(), String> {
        check_object(object)?;
        let id = parse_id(id)?;
        let now = self.shared.now_ms();
        let lag = self.shared.lag_ms();
        if self.shared.write().delete(id, now, lag) {
            Ok(())
        } else {
            Err(format!("no live lead {id}"))
        }
    }

    fn get(&self, object: &str, id: &str) -> Option<Record> {
        check_object(object).ok()?;
        let id = id.parse().ok()?;
        let db = self.shared.read();
        if let Some(lead) = db.leads.get(&id) {
            return Some(record_of(id, lead, lead.updated_ms, false));
        }
        db.gone
            .get(&id)
            .map(|(lead, at)| record_of(id, lead, *at, true))
    }

    fn find(&self, object: &str, field: &str, value: &str) -> Vec<Record> {
        if check_object(object).is_err() {
            return Vec::new();
        }
        let db = self.shared.read();
        let ids: Vec<u64> = match field {
            "email" | "id" => db.find(field, &[value.to_owned()]),
            _ => db
                .leads
                .iter()
                .filter(|(_, l)| {
                    l.values.get(field).is_some_and(|v| match v {
                        Value::String(s) => s.eq_ignore_ascii_case(value),
                        Value::Number(n) => n.to_string() == value,
                        Value::Bool(b) => b.to_string() == value,
                        _ => false,
                    })
                })
                .map(|(id, _)| *id)
                .collect(),
        };
        ids.into_iter()
            .filter_map(|id| {
                db.leads
                    .get(&id)
                    .map(|l| record_of(id, l, l.updated_ms, false))
            })
            .collect()
    }

    fn count(&self, object: &str) -> usize {
        if check_object(object).is_err() {
            return 0;
        }
        self.shared.read().live_count()
    }

    fn set_index_lag(&self, lag: Duration) {
        self.shared.index_lag_ms.store(
            i64::try_from(lag.as_millis()).unwrap_or(i64::MAX),
            Ordering::Relaxed,
        );
    }

    fn set_daily_limit(&self, max: Option<u64>) {
        *self
            .shared
            .daily_limit
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = max;
    }

    fn set_rate_limits(&self, enabled: bool) {
        self.shared.rate_limits.store(enabled, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lead_ids_are_folded_in_endpoint_labels() {
        assert_eq!(
            endpoint_label("POST", "/rest/v1/leads/123/merge.json"),
            "POST /rest/v1/leads/{id}/merge.json"
        );
        assert_eq!(
            endpoint_label("GET", "/rest/v1/lead/77.json"),
            "GET /rest/v1/lead/{id}.json"
        );
        assert_eq!(
            endpoint_label("GET", "/rest/v1/leads.json"),
            "GET /rest/v1/leads.json"
        );
    }
}
