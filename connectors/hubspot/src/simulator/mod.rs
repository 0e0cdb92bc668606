//! A faithful in-memory simulator of HubSpot's CRM v3 API, served by axum on
//! loopback: the real paths, bodies, paging, search limits (200 a page,
//! 10,000 results, 5 groups / 10 filters per group / 25 filters, index lag),
//! batch limits and 207 multi-status, error bodies, rate limits with their
//! headers and 429s, bearer auth and the OAuth2 token endpoint, plus the
//! shared control surface under `/__sim`.
//!
//! Start it with [`start`]; drive it in process through
//! [`RunningSimulator::control`](leadbridge_core::sim::RunningSimulator) or
//! over HTTP ([`leadbridge_core::sim::control_router`]).
//!
//! What it serves:
//!
//! - `POST /oauth/v1/token` and `/oauth/v3/token` (form: `refresh_token`,
//!   `client_credentials`, `authorization_code` with PKCE) and
//!   `GET /oauth/authorize`; `GET /account-info/v3/details`;
//!   `GET /crm/v3/owners`;
//! - `POST /crm/v3/objects/{contacts|companies}/merge`,
//!   `POST /crm/v3/objects/contacts/gdpr-delete`;
//! - `GET /crm/v3/properties/{object}` and `…/{object}/{name}`;
//! - `GET|POST /crm/v3/objects/{object}`, `GET|PATCH|DELETE …/{id}`
//!   (`idProperty` accepted), `POST …/search`,
//!   `POST …/batch/{read|create|update|upsert|archive}`;
//! - `GET /crm/v4/objects/{object}/{id}/associations/{to}` and the `PUT`s that
//!   create associations;
//!
//! for `contacts`, `companies`, `deals`, `notes` and `tasks` (or their
//! `0-1`-style type ids). Every API path needs a bearer token: a static one
//! from [`SimulatorOptions::tokens`] or one issued by the token endpoint.
//!
//! # Round-2 facts (SEMANTICS.md R2.5–R2.8) and where they are reproduced
//!
//! | fact | reproduced in | proven by (`r2_tests`) |
//! |---|---|---|
//! | R2.5 list endpoint: at most 100 a page, `after` opaque | `api::list` | `tests::…` (existing list cases) |
//! | R2.5 search is its own bucket, 5 per rolling second, no burst-limit use | `guard` (`SECONDLY` window apart from `BURST`) | `a_bucket_paced_sixth_search_breaks_the_rolling_second` |
//! | R2.5 burst 100 per rolling 10 s; 429 bodies by `policyName` | `guard`, `errors::rate_limited` | `tests::auth_oauth_and_rate_limits_answer_like_hubspot` |
//! | §1 daily limit resets at midnight in the account's zone | `guard` (day in `account_zone`), `account::details` | `the_daily_limit_resets_at_the_accounts_midnight` |
//! | R2.5 exports, imports | not reproduced (leadbridge does not use them) | — |
//! | R2.6 refusal bodies (RFC fields + status/message, legacy, `invalid_request`, `BAD_HUB`, `BAD_CLIENT_*`) | `api::refusal_shape`, selected by `/__sim/tokens/refuse` | `every_refusal_shape_is_selectable` |
//! | R2.6 `/oauth/v3/token`, every parameter in the body; v1 kept | `api::token_v3`, `api::token_v1` | `v3_token_endpoint_takes_every_parameter_in_the_body` |
//! | R2.6 introspect / revoke, date-versioned endpoint | not reproduced | — |
//! | R2.7 merge: new record, new id, primary wins, `hs_merged_object_ids` | `merge::merge` | `merges_make_a_new_record_and_gdpr_deletes_for_good` |
//! | R2.7 GET / single PATCH of an old id answer with the new record; batch read under the new id; batch update refuses | `api::resolve_following`, `batch::read`, `batch::write` | same |
//! | R2.7 414 past 250 identities; secondary email kept as additional | not reproduced | — |
//! | R2.7 DELETE archives; `?archived=true` lists only archived, with `archivedAt`; search never shows them | `api::archive_one`, `api::list`, `search` | `tests::…`, connector `archived_records_are_listed_…` |
//! | R2.7 restore within 90 days | not reproduced (archived records stay in the bin) | — |
//! | R2.7 GDPR delete: 204, permanent, email blocklisted | `merge::gdpr_delete`, `batch::email_conflict` | `merges_make_a_new_record_and_gdpr_deletes_for_good` |
//! | R2.8 207 only for creates (and updates) with a unique trace id on every input | `batch::traced`, `batch::write` | `traced_create_batches_answer_per_record` |
//! | R2.8 without trace ids one bad input fails the batch (409 first conflict / two inputs one email; 400 `VALIDATION_ERROR`), nothing written | `batch::write`, `batch::whole_refusal` | `untraced_create_batches_fail_whole` |
//! | R2.8 duplicate ids → 400 "Duplicate IDs found in batch input" | `batch::duplicate_ids` | `duplicate_ids_and_update_keys_are_refused_whole` |
//! | R2.8 upsert by email never partial; batch update takes ids only | `batch::write`, `batch::non_unique` | same |
//! | R2.8 423 Locked, 477 | not reproduced (the fault layer injects 429/5xx only) | — |

mod account;
mod api;
mod batch;
mod errors;
mod merge;
mod owners;
mod schema;
mod search;
mod store;

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, RwLock};
use std::time::{Duration, Instant};

use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::Response;
use jiff::civil::Date;
use jiff::tz::TimeZone;
use leadbridge_core::sim::{
    control_router, fault_layer, seed, Faults, RequestCounter, RunningSimulator, SeedSpec,
    SimClock, SimControl, SimServer, SimulatorOptions, TokenCheck, TokenIssuer, VendorErrors,
    CONTROL_PREFIX,
};
use leadbridge_core::{Fields, Record};
use serde_json::{Map, Value};

use self::schema::{ObjectType, EMPLOYEE_RANGES};
use self::store::{value_of, Db, WriteError};
use crate::time::from_ms;

/// The fault layer's state (the core kit does not re-export its alias).
type FaultState = (Faults, Arc<dyn VendorErrors>);

/// The simulated account's portal (hub) id.
pub(crate) const PORTAL_ID: u64 = 62515;

/// The burst limit: 100 calls per rolling 10 seconds.
const BURST: (usize, Duration) = (100, Duration::from_secs(10));
/// The search limit: 5 calls per second.
const SECONDLY: (usize, Duration) = (5, Duration::from_secs(1));

struct RateState {
    burst: VecDeque<Instant>,
    search: VecDeque<Instant>,
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
    base_url: OnceLock<String>,
    /// The account's time zone (IANA name as HubSpot spells it, and the
    /// zone): its midnight resets the daily limit.
    time_zone: Mutex<(String, TimeZone)>,
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

    /// When a change made now becomes visible to search.
    fn visible_ms(&self, now: i64) -> i64 {
        now.saturating_add(self.index_lag_ms.load(Ordering::Relaxed))
    }

    pub(crate) fn account_zone(&self) -> TimeZone {
        self.time_zone
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .1
            .clone()
    }

    pub(crate) fn base_url(&self) -> String {
        self.base_url.get().cloned().unwrap_or_default()
    }
}

/// The in-process control surface of a running HubSpot simulator.
#[derive(Clone)]
pub struct HubSpotSim {
    shared: Arc<Shared>,
}

/// Starts a HubSpot simulator on `options.listen` and seeds
/// `options.seed_records` contacts. Serves until the returned
/// [`RunningSimulator`] is dropped or stopped.
pub async fn start(options: SimulatorOptions) -> std::io::Result<RunningSimulator> {
    let clock = SimClock::default();
    let shared = Arc::new(Shared {
        tokens: TokenIssuer::new(options.tokens.clone(), clock.clone()),
        clock,
        faults: Faults::default(),
        requests: RequestCounter::default(),
        db: RwLock::new(Db::new()),
        index_lag_ms: AtomicI64::new(0),
        rate_limits: AtomicBool::new(options.rate_limits),
        daily_limit: Mutex::new(None),
        rates: Mutex::new(RateState {
            burst: VecDeque::new(),
            search: VecDeque::new(),
            day: None,
            used_today: 0,
        }),
        base_url: OnceLock::new(),
        time_zone: Mutex::new(account::zone(account::DEFAULT_TIME_ZONE)),
    });
    let sim = HubSpotSim {
        shared: shared.clone(),
    };
    if options.seed_records > 0 {
        sim.seed(&SeedSpec {
            object: "contacts".into(),
            count: options.seed_records,
            seed: options.seed,
            first_index: 0,
        })
        .map_err(std::io::Error::other)?;
    }
    let control: Arc<dyn SimControl> = Arc::new(sim);
    let fault_state: FaultState = (shared.faults.clone(), Arc::new(errors::HubSpotErrors));
    let router = api::router(shared.clone())
        .layer(middleware::from_fn_with_state(shared.clone(), guard))
        .merge(account::control_router(shared.clone()))
        .merge(control_router(control.clone()))
        .layer(middleware::from_fn_with_state(fault_state, fault_layer))
        .layer(middleware::from_fn_with_state(shared.clone(), count));
    let server = SimServer::start(router, options.listen).await?;
    let _ = shared.base_url.set(server.url());
    Ok(RunningSimulator { server, control })
}

/// The label a request is counted under: method and path, with record ids
/// (numbers, or unique values in an `idProperty` path) as `{id}`.
pub(crate) fn endpoint_label(method: &str, path: &str) -> String {
    let mut segments: Vec<&str> = path.split('/').collect();
    if segments.len() == 6 && segments[1..4] == ["crm", "v3", "objects"] {
        if !matches!(segments[5], "search" | "batch" | "") {
            segments[5] = "{id}";
        }
    } else if segments.len() >= 6 && segments[1..4] == ["crm", "v4", "objects"] {
        for s in segments.iter_mut().skip(5) {
            if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
                *s = "{id}";
            }
        }
    }
    format!("{method} {}", segments.join("/"))
}

/// Counts the request, and dates the answer by the simulated clock (the
/// `Date` header), as HubSpot's servers date theirs by their own.
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
    add_header(&mut response, "date", date);
    response
}

/// Bearer auth, the daily limit and the rate limits of every `/crm` path,
/// and HubSpot's rate-limit headers on the answer.
async fn guard(State(shared): State<Arc<Shared>>, request: Request, next: Next) -> Response {
    let path = request.uri().path().to_owned();
    if !path.starts_with("/crm/") && !path.starts_with("/account-info/") {
        return next.run(request).await;
    }
    let token = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim)
        .unwrap_or_default()
        .to_owned();
    match (token.is_empty(), shared.tokens.check(&token)) {
        (false, TokenCheck::Valid) => {}
        (false, TokenCheck::Expired) => return errors::expired_token(),
        (true, _) => {
            return errors::error(
                StatusCode::UNAUTHORIZED,
                "INVALID_AUTHENTICATION",
                "Authentication credentials not found. This API supports OAuth 2.0 authentication and you can find more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview",
            )
        }
        (false, TokenCheck::Unknown) => {
            return errors::error(
                StatusCode::UNAUTHORIZED,
                "INVALID_AUTHENTICATION",
                "The access token provided is not valid or has been revoked.",
            )
        }
    }
    let is_search = path.ends_with("/search");
    let limited = shared.rate_limits.load(Ordering::Relaxed);
    let daily = *shared.daily_limit.lock().unwrap_or_else(|e| e.into_inner());
    let mut headers: Vec<(&'static str, String)> = Vec::new();
    {
        let mut rates = shared.rates.lock().unwrap_or_else(|e| e.into_inner());
        // R2.5/§1: "Daily limits reset at midnight in the account's time zone."
        let tz = shared.account_zone();
        let today = shared.clock.now().to_zoned(tz).date();
        if rates.day != Some(today) {
            rates.day = Some(today);
            rates.used_today = 0;
        }
        if let Some(max) = daily {
            if rates.used_today >= max {
                shared
                    .requests
                    .rate_limited(&endpoint_label(request.method().as_str(), &path));
                let mut r = errors::rate_limited(
                    "DAILY",
                    "You have reached your daily limit.",
                    Duration::from_secs(3600),
                );
                add_header(&mut r, "x-hubspot-ratelimit-daily", max.to_string());
                add_header(&mut r, "x-hubspot-ratelimit-daily-remaining", "0".into());
                return r;
            }
        }
        if limited {
            let now = Instant::now();
            let (window, (max, span)) = if is_search {
                (&mut rates.search, SECONDLY)
            } else {
                (&mut rates.burst, BURST)
            };
            while window
                .front()
                .is_some_and(|t| now.duration_since(*t) >= span)
            {
                window.pop_front();
            }
            if window.len() >= max {
                let wait = window
                    .front()
                    .map(|t| span.saturating_sub(now.duration_since(*t)))
                    .unwrap_or(span);
                shared
                    .requests
                    .rate_limited(&endpoint_label(request.method().as_str(), &path));
                return if is_search {
                    errors::rate_limited("SECONDLY", "You have reached your secondly limit.", wait)
                } else {
                    errors::burst_limited(wait)
                };
            }
            window.push_back(now);
            let remaining = max - window.len();
            if is_search {
                headers.push(("x-hubspot-ratelimit-secondly", max.to_string()));
                headers.push((
                    "x-hubspot-ratelimit-secondly-remaining",
                    remaining.to_string(),
                ));
            } else {
                headers.push(("x-hubspot-ratelimit-interval-milliseconds", "10000".into()));
                headers.push(("x-hubspot-ratelimit-max", max.to_string()));
                headers.push(("x-hubspot-ratelimit-remaining", remaining.to_string()));
            }
        }
        rates.used_today += 1;
        if let Some(max) = daily {
            headers.push(("x-hubspot-ratelimit-daily", max.to_string()));
            headers.push((
                "x-hubspot-ratelimit-daily-remaining",
                max.saturating_sub(rates.used_today).to_string(),
            ));
        }
    }
    let mut response = next.run(request).await;
    for (name, value) in headers {
        add_header(&mut response, name, value);
    }
    response
}

fn add_header(response: &mut Response, name: &'static str, value: String) {
    if let Ok(v) = HeaderValue::from_str(&value) {
        response.headers_mut().insert(name, v);
    }
}

fn object_type(object: &str) -> Result<ObjectType, String> {
    ObjectType::parse(object).ok_or_else(|| format!("unknown object type {object:?}"))
}

fn parse_id(id: &str) -> Result<u64, String> {
    id.parse().map_err(|_| format!("invalid id {id:?}"))
}

fn describe(err: WriteError) -> String {
    match err {
        WriteError::Invalid(errors) => errors
            .iter()
            .map(|e| format!("{}: {}", e.name, e.message))
            .collect::<Vec<_>>()
            .join("; "),
        WriteError::Conflict(id) => format!("a record with that email exists: {id}"),
        WriteError::NotFound => "no such live record".into(),
    }
}

impl HubSpotSim {
    fn record(&self, kind: ObjectType, id: u64) -> Option<Record> {
        let db = self.shared.read();
        let rec = db.store(kind).recs.get(&id)?;
        let mut record = Record::new(
            id.to_string(),
            from_ms(rec.archived_at.unwrap_or(rec.modified)),
        );
        record.archived = rec.archived_at.is_some();
        for (idx, def) in kind.props().iter().enumerate() {
            if let Some(v) = value_of(kind, id, rec, idx) {
                record.fields.insert(def.name.to_owned(), Value::String(v));
            }
        }
        Some(record)
    }
}

impl SimControl for HubSpotSim {
    fn base_url(&self) -> String {
        self.shared.base_url()
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
        let kind = object_type(&spec.object)?;
        if !matches!(kind, ObjectType::Contacts | ObjectType::Companies) {
            return Err(format!(
                "cannot seed {}: only contacts and companies",
                kind.name()
            ));
        }
        let now = self.shared.now_ms();
        let visible = self.shared.visible_ms(now);
        let props = |name: &str| kind.prop(name);
        let mut db = self.shared.write();
        let mut ids = Vec::with_capacity(spec.count as usize);
        for i in 0..spec.count {
            let person = seed::person(spec.seed, spec.first_index + i);
            let values: Vec<(&str, String)> = match kind {
                ObjectType::Contacts => {
                    let lead_status = match person.lifecycle_stage.as_str() {
                        "subscriber" | "lead" => "NEW",
                        "marketingqualifiedlead" => "OPEN",
                        "salesqualifiedlead" => "IN_PROGRESS",
                        "opportunity" => "OPEN_DEAL",
                        _ => "CONNECTED",
                    };
                    let range = match person.employees {
                        0..=4 => 0,
                        5..=24 => 1,
                        25..=49 => 2,
                        50..=99 => 3,
                        100..=499 => 4,
                        500..=999 => 5,
                        _ => 6,
                    };
                    vec![
                        ("email", person.email),
                        ("firstname", person.first_name),
                        ("lastname", person.last_name),
                        ("company", person.company),
                        ("jobtitle", person.job_title),
                        ("phone", person.phone),
                        ("website", format!("https://{}", person.domain)),
                        ("country", person.country),
                        ("numemployees", EMPLOYEE_RANGES[range].to_owned()),
                        ("hubspotscore", person.score.to_string()),
                        ("lifecyclestage", person.lifecycle_stage),
                        ("hs_lead_status", lead_status.to_owned()),
                        ("hs_analytics_source", person.source),
                        ("campaign", person.campaign),
                    ]
                }
                _ => vec![
                    ("name", person.company),
                    ("domain", person.domain),
                    ("numberofemployees", person.employees.to_string()),
                    ("country", person.country),
                ],
            };
            let changes: Vec<(usize, String)> = values
                .into_iter()
                .filter_map(|(name, v)| props(name).map(|i| (i, v)))
                .collect();
            let id = db.allocate_id();
            db.store_mut(kind)
                .create(id, &changes, now, visible)
                .map_err(describe)?;
            ids.push(id.to_string());
        }
        Ok(ids)
    }

    fn insert(&self, object: &str, records: Vec<Fields>) -> Result<Vec<String>, String> {
        let kind = object_type(object)?;
        let now = self.shared.now_ms();
        let visible = self.shared.visible_ms(now);
        let mut db = self.shared.write();
        let mut ids = Vec::new();
        for fields in records {
            let changes = db
                .store(kind)
                .validate(&fields, true)
                .map_err(|e| describe(WriteError::Invalid(e)))?;
            let id = db.allocate_id();
            db.store_mut(kind)
                .create(id, &changes, now, visible)
                .map_err(describe)?;
            ids.push(id.to_string());
        }
        Ok(ids)
    }

    fn update(&self, object: &str, id: &str, fields: Fields) -> Result<(), String> {
        let kind = object_type(object)?;
        let id = parse_id(id)?;
        let now = self.shared.now_ms();
        let visible = self.shared.visible_ms(now);
        let mut db = self.shared.write();
        let changes = db
            .store(kind)
            .validate(&fields, true)
            .map_err(|e| describe(WriteError::Invalid(e)))?;
        db.store_mut(kind)
            .update(id, &changes, now, visible)
            .map_err(describe)
    }

    fn delete(&self, object: &str, id: &str) -> Result<(), String> {
        let kind = object_type(object)?;
        let id = parse_id(id)?;
        let now = self.shared.now_ms();
        self.shared
            .write()
            .store_mut(kind)
            .archive(id, now)
            .map_err(describe)
    }

    fn get(&self, object: &str, id: &str) -> Option<Record> {
        self.record(ObjectType::parse(object)?, id.parse().ok()?)
    }

    fn find(&self, object: &str, field: &str, value: &str) -> Vec<Record> {
        let Some(kind) = ObjectType::parse(object) else {
            return Vec::new();
        };
        let Some(idx) = kind.prop(field) else {
            return Vec::new();
        };
        let ids: Vec<u64> = {
            let db = self.shared.read();
            let store = db.store(kind);
            if field == "email" {
                store.by_email(value).into_iter().collect()
            } else {
                store
                    .recs
                    .iter()
                    .filter(|(id, r)| {
                        r.archived_at.is_none()
                            && value_of(kind, **id, r, idx)
                                .is_some_and(|v| v.eq_ignore_ascii_case(value))
                    })
                    .map(|(id, _)| *id)
                    .collect()
            }
        };
        ids.into_iter()
            .filter_map(|id| self.record(kind, id))
            .collect()
    }

    fn count(&self, object: &str) -> usize {
        ObjectType::parse(object)
            .map(|k| self.shared.read().store(k).live_count())
            .unwrap_or(0)
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

/// Fields to JSON properties, for the handlers.
pub(crate) fn as_map(value: Option<&Value>) -> Map<String, Value> {
    value
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default()
}

#[cfg(test)]
mod r2_tests;
#[cfg(test)]
mod tests;
