//! A faithful, in-memory Salesforce REST API for tests, the demo and
//! benchmarks, served by axum on loopback.
//!
//! What it reproduces (see `SEMANTICS.md` §2):
//! - `/services/data/` (versions) and, under any `/services/data/vNN.N/`:
//!   the resource list, `/limits`, `/query` and `/queryAll` with a SOQL
//!   subset ([`query`]), batches of 2000 (or `Sforce-Query-Options:
//!   batchSize=N`) and `nextRecordsUrl` continuations
//!   (`/services/data/vNN.N/query/<cursorId>-<offset>`) over a snapshot of
//!   the result; sObject CRUD, upsert by External ID (201/200/300),
//!   describe, describe global, `updated` and `deleted`; sObject
//!   Collections create/update/upsert/retrieve/delete (200 records at most,
//!   HTTP 200 with per-record errors, `allOrNone`); Composite (`POST
//!   /composite`: up to 25 subrequests, at most 5 of them collections or
//!   queries, run by the same handlers, `@{ref}` references, `allOrNone`;
//!   one API call);
//! - errors as `[{message, errorCode, fields}]`; 401 `INVALID_SESSION_ID`;
//!   the daily API limit (`Sforce-Limit-Info` on every data response, 403
//!   `REQUEST_LIMIT_EXCEEDED` past it);
//! - OAuth2: `POST /services/oauth2/token` (refresh token with rotation,
//!   authorization code with PKCE, client credentials) answering without
//!   `expires_in`, `GET /services/oauth2/authorize`, `POST /services/oauth2/revoke`,
//!   and the identity URL;
//! - the kit's control surface under `/__sim` ([`SimControl`]), and the
//!   Salesforce-only one under `/__sim/salesforce/` ([`org`]: Lead Convert,
//!   merge, undelete, duplicate rules, the "View and Edit Converted Leads"
//!   permission, per-record faults, custom fields);
//! - the standard fields of Lead, Contact, Account, Opportunity, Task and
//!   User as a real org describes them ([`schema`]), and record stamps in
//!   whole seconds (`CreatedDate`, `LastModifiedDate`, `SystemModstamp`).
//!
//! Where each round-2 fact of `SEMANTICS.md` is reproduced (tests in
//! `tests/org_simulator.rs`):
//!
//! | fact | reproduced in |
//! |---|---|
//! | R2.1 `IsConverted`, `ConvertedDate` (date), `Converted*Id` are read-only; writing them is `INVALID_FIELD_FOR_INSERT_UPDATE` | [`schema`] (Lead), `store::Db::apply` |
//! | R2.1 updating a converted lead: 400 `CANNOT_UPDATE_CONVERTED_LEAD`, `statusCode` form in collections (upserts included) | `store::Db::plan_update`, `api::record_error`, `api::finish_collection` |
//! | R2.1 "View and Edit Converted Leads" lets updates through, per user | `store::Db::converted_lead_editors`, [`org::Org::set_view_and_edit_converted_leads`] |
//! | R2.1 a Task (any record) pointing at a converted lead is refused the same way | `store::Db::convert` (references) |
//! | R2.1 conversion: account, contact, opportunity; converted `Status`; tasks move with stamps bumped; the lead's `SystemModstamp` moves, not its `LastModifiedDate` | [`store::lifecycle`] `convert_lead`, [`org::Org::convert_lead`] |
//! | R2.1 SOQL still returns converted leads | [`query`] (no hidden filter) |
//! | R2.1 convertLead is SOAP-only | control surface only; no REST resource |
//! | R2.1 CampaignMember rows of converted leads | not reproduced (no CampaignMember) |
//! | R2.2 `Sforce-Duplicate-Rule-Header` from API 52.0, fields default false, also in a subrequest's `httpHeaders` | `api::Ctx::duplicate_header`, `store::duplicates::Header` |
//! | R2.2 Block refuses always; Allow + Alert refuses unless `allowSave`; Report-only saves silently; on create, update and upsert | `store::duplicates` (`Db::check_duplicates`) |
//! | R2.2 single saves: 400 with `duplicateResut` (sic), `matchResults[].matchRecords[].record.Id`, `includeRecordDetails` adds fields | `store::duplicates::Hit::result_json`, `api::record_error` |
//! | R2.2 collections: `DUPLICATES_DETECTED` without match ids; `allOrNone` rolls back with `ALL_OR_NONE_OPERATION_ROLLED_BACK`; composite `PROCESSING_HALTED` | `api::finish_collection`, `api::composite` |
//! | R2.2 `runAsCurrentUser` | read; no effect (no sharing model) |
//! | R2.2 standard rules active in a fresh org (unverified) | not reproduced: a fresh simulated org has no active rule; set them with [`org::Org::set_duplicate_rules`] |
//! | R2.2 `DUPLICATE_VALUE` (unique field) differs from `DUPLICATES_DETECTED` | `store::Db::check_unique` vs `check_duplicates` |
//! | R2.3 `UNABLE_TO_LOCK_ROW`; `CANNOT_INSERT_UPDATE_ACTIVATE_ENTITY` wrapping the CPU limit (whole saves over a size) or a lock; `CANNOT_EXECUTE_FLOW_TRIGGER` wrapping a lock; a permanent trigger error | [`record_faults`], `api::inject_faults` |
//! | R2.3 503 `SERVER_UNAVAILABLE`, 500 `UNKNOWN_EXCEPTION`, 403 `REQUEST_LIMIT_EXCEEDED` | the kit's fault layer with `SalesforceErrors`; the daily limit and concurrency middleware |
//! | R2.3 `QUERY_TIMEOUT`, `REQUEST_RUNNING_TOO_LONG` | not reproduced |
//! | R2.3 `DELETE` to the recycle bin; a second `DELETE` or a `PATCH` answers 404 `ENTITY_IS_DELETED` | `api::delete_one`, `api::update_one`, `store::Db::delete` |
//! | R2.3 GET of a deleted id (reports conflict) | 404 `NOT_FOUND`, as after a purge |
//! | R2.3 `queryAll` returns deleted and merged rows, `query` never | [`query::Run::all`] |
//! | R2.3 getDeleted: start more than a minute before end, 15 days back, 600,000 ids, `earliestDateAvailable`, `latestDateCovered` | `api::updated_or_deleted` |
//! | R2.3 merge of up to 3 Lead/Contact/Account records: losers deleted with `MasterRecordId`, children re-parented, the winner's stamp moves, losers in getDeleted | [`store::lifecycle`] `merge`, [`org::Org::merge`] |
//! | R2.3 undelete | [`store::lifecycle`] `undelete`, [`org::Org::undelete`] |
//!
//! Index lag: Salesforce has no search index between a write and SOQL,
//! but the conformance suite's "late visible" case needs a way to make a
//! committed change show up late (as a long transaction does with its
//! early `SystemModstamp`). A change written while a lag is set becomes
//! visible to change queries (those filtering or sorting on
//! `SystemModstamp` or `LastModifiedDate`) at its write time plus the lag;
//! look-ups by id or key are never delayed.

mod api;
mod oauth;
pub mod org;
pub mod query;
pub mod record_faults;
pub mod schema;
pub mod store;

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::{from_fn_with_state, Next};
use axum::response::Response;
use axum::Router;
use jiff::Timestamp;
use leadbridge_core::sim::{
    control_router, fault_layer, seed, Faults, RequestCounter, RunningSimulator, SeedSpec,
    SimClock, SimControl, SimServer, SimulatorOptions, TokenIssuer, VendorErrors, CONTROL_PREFIX,
};
use leadbridge_core::{Fields, Record};
use serde_json::{json, Map, Value};

use self::store::{Db, Rec};

/// The daily API request allocation a fresh simulated org has
/// (Enterprise Edition's base allocation).
pub const DEFAULT_DAILY_LIMIT: u64 = 100_000;
/// Query cursors kept at once; older ones expire (Salesforce keeps them
/// two days, which a simulator holding snapshots cannot afford).
const MAX_CURSORS: usize = 64;
/// Concurrent requests that trip the `ConcurrentPerOrgLongTxn` limit when
/// rate limits are on.
const MAX_CONCURRENT: usize = 25;
/// The simulated org's id.
pub const ORG_ID: &str = "00DDn00000000001AAA";

/// A query's snapshot, for `nextRecordsUrl`.
pub(crate) struct QueryCursor {
    object: &'static schema::ObjectDef,
    columns: Vec<usize>,
    records: Vec<Arc<Rec>>,
    batch: usize,
}

/// Open query cursors by id, and their ids oldest first (for eviction).
type Cursors = (HashMap<String, Arc<QueryCursor>>, VecDeque<String>);

/// The simulator's state, shared by every handler.
pub(crate) struct Sim {
    clock: SimClock,
    faults: Faults,
    tokens: TokenIssuer,
    counter: RequestCounter,
    base_url: RwLock<String>,
    db: RwLock<Db>,
    cursors: Mutex<Cursors>,
    next_cursor: AtomicU64,
    usage: Mutex<(i64, u64)>,
    daily_limit: Mutex<Option<u64>>,
    rate_limits: AtomicBool,
    in_flight: AtomicUsize,
    index_lag_ms: AtomicU64,
    record_faults: record_faults::RecordFaults,
}

impl Sim {
    /// The simulated now as an HTTP `Date` header value, so clients that
    /// reason about server time see the simulator's clock.
    pub(crate) fn http_date(&self) -> String {
        self.clock
            .now()
            .strftime("%a, %d %b %Y %H:%M:%S GMT")
            .to_string()
    }

    fn now_ms(&self) -> i64 {
        self.clock.now().as_millisecond()
    }

    /// The stamp a record written now gets: whole seconds, as a real org
    /// stamps `SystemModstamp`, `LastModifiedDate` and `CreatedDate`
    /// (`2013-05-20T20:49:32.000+0000`), so many records share one.
    fn stamp_ms(&self) -> i64 {
        let ms = self.now_ms();
        ms - ms.rem_euclid(1000)
    }

    /// A save through the API now, with the request's duplicate header.
    pub(crate) fn api_save(&self, duplicates: store::duplicates::Header) -> store::Save {
        let mut save = store::Save::api(self.stamp_ms(), self.visible_at(self.now_ms()));
        save.duplicates = duplicates;
        save
    }

    /// A save by the org itself now (control surface, Lead Convert, merge).
    pub(crate) fn system_save(&self) -> store::Save {
        store::Save::system(self.stamp_ms(), self.visible_at(self.now_ms()))
    }

    /// When a change written now becomes visible to change queries.
    fn visible_at(&self, now: i64) -> i64 {
        now.saturating_add(self.index_lag_ms.load(Ordering::Relaxed) as i64)
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Db> {
        self.db.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Db> {
        self.db.write().unwrap_or_else(|e| e.into_inner())
    }

    fn base_url(&self) -> String {
        self.base_url
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Counts one API call against the daily limit: `Err` with the usage
    /// when the limit is spent, else the usage after this call.
    fn take_api_call(&self) -> Result<(u64, u64), (u64, u64)> {
        let day = self.now_ms().div_euclid(86_400_000);
        let limit = *self.daily_limit.lock().unwrap_or_else(|e| e.into_inner());
        let mut usage = self.usage.lock().unwrap_or_else(|e| e.into_inner());
        if usage.0 != day {
            *usage = (day, 0);
        }
        let max = limit.unwrap_or(u64::from(u32::MAX));
        if usage.1 >= max {
            return Err((usage.1, max));
        }
        usage.1 += 1;
        Ok((usage.1, max))
    }

    /// Usage now, for `/limits`.
    fn api_usage(&self) -> (u64, u64) {
        let limit = *self.daily_limit.lock().unwrap_or_else(|e| e.into_inner());
        let usage = self.usage.lock().unwrap_or_else(|e| e.into_inner());
        (usage.1, limit.unwrap_or(u64::from(u32::MAX)))
    }

    fn store_cursor_arc(&self, cursor: Arc<QueryCursor>) -> String {
        let n = self.next_cursor.fetch_add(1, Ordering::Relaxed);
        let id = store::make_id("01g", n).to_string();
        let mut guard = self.cursors.lock().unwrap_or_else(|e| e.into_inner());
        let (map, order) = &mut *guard;
        map.insert(id.clone(), cursor);
        order.push_back(id.clone());
        while order.len() > MAX_CURSORS {
            if let Some(old) = order.pop_front() {
                map.remove(&old);
            }
        }
        id
    }

    fn cursor(&self, id: &str) -> Option<Arc<QueryCursor>> {
        self.cursors
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .0
            .get(id)
            .cloned()
    }

    /// A record as the control surface shows it: every non-null field.
    fn to_record(def: &schema::ObjectDef, rec: &Rec) -> Record {
        let modified_at = Timestamp::from_millisecond(rec.stamp).unwrap_or(Timestamp::UNIX_EPOCH);
        let mut record = Record::new(rec.id.to_string(), modified_at);
        record.archived = rec.deleted;
        for (i, f) in def.fields.iter().enumerate() {
            let v = rec.get(def, i);
            if v != store::V::Null {
                record.fields.insert(f.name.into(), v.to_json(f.kind));
            }
        }
        record
    }

    fn object(&self, name: &str) -> Result<&'static schema::ObjectDef, String> {
        self.read()
            .def(name)
            .ok_or_else(|| format!("unknown sObject type {name}"))
    }

    /// The fields of seeded person number `index` for an object.
    fn person_fields(
        &self,
        object: &str,
        seed_no: u64,
        index: u64,
        users: &[Box<str>],
    ) -> Map<String, Value> {
        let p = seed::person(seed_no, index);
        let mut m = Map::new();
        match object {
            "Account" => {
                m.insert("Name".into(), json!(p.company));
                m.insert("Website".into(), json!(format!("https://{}", p.domain)));
                m.insert("NumberOfEmployees".into(), json!(p.employees));
                m.insert("Phone".into(), json!(p.phone));
            }
            _ => {
                m.insert("FirstName".into(), json!(p.first_name));
                m.insert("LastName".into(), json!(p.last_name));
                m.insert("Email".into(), json!(p.email));
                m.insert("Phone".into(), json!(p.phone));
                m.insert("Title".into(), json!(p.job_title));
                let source = match p.source.as_str() {
                    "ORGANIC_SEARCH" | "PAID_SEARCH" | "SOCIAL_MEDIA" | "DIRECT_TRAFFIC" => "Web",
                    "REFERRALS" => "Partner Referral",
                    "EMAIL_MARKETING" => "Other",
                    _ => "Other",
                };
                m.insert("LeadSource".into(), json!(source));
            }
        }
        if object == "Lead" {
            m.insert("Company".into(), json!(p.company));
            m.insert("Country".into(), json!(p.country));
            m.insert("NumberOfEmployees".into(), json!(p.employees));
            m.insert("Lead_Score__c".into(), json!(p.score));
            let rating = match p.score {
                70.. => "Hot",
                40..=69 => "Warm",
                _ => "Cold",
            };
            m.insert("Rating".into(), json!(rating));
            let status = match p.lifecycle_stage.as_str() {
                "salesqualifiedlead" | "opportunity" | "customer" => "Working - Contacted",
                _ => "Open - Not Contacted",
            };
            m.insert("Status".into(), json!(status));
        }
        if !users.is_empty() {
            let owner = &users[(index % users.len() as u64) as usize];
            m.insert("OwnerId".into(), json!(owner.as_ref()));
        }
        m
    }
}

impl SimControl for Sim {
    fn base_url(&self) -> String {
        Sim::base_url(self)
    }

    fn clock(&self) -> &SimClock {
        &self.clock
    }

    fn faults(&self) -> &Faults {
        &self.faults
    }

    fn tokens(&self) -> &TokenIssuer {
        &self.tokens
    }

    fn requests(&self) -> &RequestCounter {
        &self.counter
    }

    fn seed(&self, spec: &SeedSpec) -> Result<Vec<String>, String> {
        let def = self.object(&spec.object)?;
        if !matches!(def.name, "Lead" | "Contact" | "Account") {
            return Err(format!(
                "seeding {} is not supported (Lead, Contact, Account)",
                def.name
            ));
        }
        let save = self.system_save();
        let mut db = self.write();
        let users = db.users();
        let mut ids = Vec::with_capacity(spec.count as usize);
        let mut plans = Vec::with_capacity(spec.count as usize);
        let mut pending = HashMap::new();
        for i in 0..spec.count {
            let fields = self.person_fields(def.name, spec.seed, spec.first_index + i, &users);
            let plan = db
                .plan_create(def.name, &fields, &save, &mut pending)
                .map_err(|e| e.message)?;
            ids.push(plan.rec.id.to_string());
            plans.push(plan);
            // Commit in slices so the batch-duplicate map stays small.
            if plans.len() >= 10_000 {
                db.commit(std::mem::take(&mut plans));
                pending.clear();
            }
        }
        db.commit(plans);
        Ok(ids)
    }

    fn insert(&self, object: &str, records: Vec<Fields>) -> Result<Vec<String>, String> {
        let def = self.object(object)?;
        // As the org itself: read-only fields may be set, no duplicate rule runs.
        let save = self.system_save();
        let mut db = self.write();
        let mut pending = HashMap::new();
        let mut plans = Vec::new();
        for fields in &records {
            plans.push(
                db.plan_create(def.name, fields, &save, &mut pending)
                    .map_err(|e| format!("{}: {}", e.code, e.message))?,
            );
        }
        let ids = plans.iter().map(|p| p.rec.id.to_string()).collect();
        db.commit(plans);
        Ok(ids)
    }

    fn update(&self, object: &str, id: &str, fields: Fields) -> Result<(), String> {
        let def = self.object(object)?;
        let save = self.system_save();
        let mut db = self.write();
        // As the org itself: read-only fields (IsConverted…) may be set too.
        let plan = db
            .plan_update(def.name, id, &fields, &save, &mut HashMap::new())
            .map_err(|e| format!("{}: {}", e.code, e.message))?;
        db.commit(vec![plan]);
        Ok(())
    }

    fn delete(&self, object: &str, id: &str) -> Result<(), String> {
        let def = self.object(object)?;
        let save = self.system_save();
        self.write()
            .delete(def.name, id, &save)
            .map_err(|e| format!("{}: {}", e.code, e.message))
    }

    fn get(&self, object: &str, id: &str) -> Option<Record> {
        let db = self.read();
        let def = db.def(object)?;
        let rec = db.table(def.name)?.find_id(id)?;
        Some(Self::to_record(def, rec))
    }

    fn find(&self, object: &str, field: &str, value: &str) -> Vec<Record> {
        let db = self.read();
        let Some(def) = db.def(object) else {
            return Vec::new();
        };
        let Some(idx) = def.field(field) else {
            return Vec::new();
        };
        db.table(def.name)
            .map(|t| {
                t.find_by(idx, value)
                    .iter()
                    .map(|r| Self::to_record(def, r))
                    .collect()
            })
            .unwrap_or_default()
    }

    fn count(&self, object: &str) -> usize {
        let db = self.read();
        db.def(object)
            .and_then(|def| db.table(def.name).map(|t| t.live))
            .unwrap_or(0)
    }

    fn set_index_lag(&self, lag: Duration) {
        self.index_lag_ms
            .store(lag.as_millis() as u64, Ordering::Relaxed);
    }

    fn set_daily_limit(&self, max: Option<u64>) {
        *self.daily_limit.lock().unwrap_or_else(|e| e.into_inner()) = max;
    }

    fn set_rate_limits(&self, enabled: bool) {
        self.rate_limits.store(enabled, Ordering::Relaxed);
    }
}

/// Salesforce's wording of injected failures.
struct SalesforceErrors;

impl VendorErrors for SalesforceErrors {
    /// Salesforce sends no 429 from the REST API; its "too much at once"
    /// answer is the concurrent-request limit: 403 `REQUEST_LIMIT_EXCEEDED`
    /// naming `ConcurrentPerOrgLongTxn`, here with `Retry-After`.
    fn rate_limited(&self, retry_after: Duration) -> Response {
        let mut r = api::error(
            StatusCode::FORBIDDEN,
            "REQUEST_LIMIT_EXCEEDED",
            "ConcurrentPerOrgLongTxn Limit exceeded.",
        );
        if let Ok(v) = axum::http::HeaderValue::from_str(&retry_after.as_secs().to_string()) {
            r.headers_mut().insert("retry-after", v);
        }
        r
    }

    fn server_error(&self, status: StatusCode) -> Response {
        let (code, message) = if status == StatusCode::SERVICE_UNAVAILABLE {
            ("SERVER_UNAVAILABLE", "Server temporarily unavailable")
        } else {
            (
                "UNKNOWN_EXCEPTION",
                "An unexpected error occurred. Please include this ErrorId if you contact support: 1234567-89 (-1234567890)",
            )
        };
        api::error(status, code, message)
    }

    fn token_expired(&self) -> Response {
        api::session_invalid()
    }
}

/// Counts every request (outside the control surface) by endpoint label.
async fn count_requests(State(sim): State<Arc<Sim>>, request: Request, next: Next) -> Response {
    let path = request.uri().path();
    if !path.starts_with(CONTROL_PREFIX) {
        sim.counter
            .hit(&api::endpoint_label(request.method(), path));
    }
    next.run(request).await
}

/// Enforces the concurrent-request limit when rate limits are on.
async fn concurrency(State(sim): State<Arc<Sim>>, request: Request, next: Next) -> Response {
    if request.uri().path().starts_with(CONTROL_PREFIX) || !sim.rate_limits.load(Ordering::Relaxed)
    {
        return next.run(request).await;
    }
    let now = sim.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
    let response = if now > MAX_CONCURRENT {
        api::error(
            StatusCode::FORBIDDEN,
            "REQUEST_LIMIT_EXCEEDED",
            "ConcurrentPerOrgLongTxn Limit exceeded.",
        )
    } else {
        next.run(request).await
    };
    sim.in_flight.fetch_sub(1, Ordering::SeqCst);
    response
}

/// Starts a simulator on `options.listen` with `options.seed_records`
/// Leads seeded from population `options.seed`. The HTTP control surface
/// lives under [`CONTROL_PREFIX`]; `RunningSimulator::control` is the same
/// surface in process.
pub async fn start(options: SimulatorOptions) -> std::io::Result<RunningSimulator> {
    Ok(start_with_org(options).await?.0)
}

/// [`start`], with the Salesforce-only controls ([`org::Org`]: Lead
/// Convert, merge, duplicate rules, per-record faults, custom fields…).
pub async fn start_with_org(
    options: SimulatorOptions,
) -> std::io::Result<(RunningSimulator, org::Org)> {
    let clock = SimClock::default();
    let now = clock.now().as_millisecond();
    let sim = Arc::new(Sim {
        tokens: TokenIssuer::new(options.tokens.clone(), clock.clone()),
        clock,
        faults: Faults::default(),
        counter: RequestCounter::default(),
        base_url: RwLock::new(String::new()),
        db: RwLock::new(Db::new(now)),
        cursors: Mutex::new((HashMap::new(), VecDeque::new())),
        next_cursor: AtomicU64::new(1),
        usage: Mutex::new((0, 0)),
        daily_limit: Mutex::new(Some(DEFAULT_DAILY_LIMIT)),
        rate_limits: AtomicBool::new(options.rate_limits),
        in_flight: AtomicUsize::new(0),
        index_lag_ms: AtomicU64::new(0),
        record_faults: record_faults::RecordFaults::default(),
    });
    if options.seed_records > 0 {
        sim.seed(&SeedSpec {
            object: "Lead".into(),
            count: options.seed_records,
            seed: options.seed,
            first_index: 0,
        })
        .map_err(std::io::Error::other)?;
    }
    let control: Arc<dyn SimControl> = sim.clone();
    let errors: Arc<dyn VendorErrors> = Arc::new(SalesforceErrors);
    let router = Router::new()
        .merge(oauth::router())
        .merge(api::router())
        .merge(org::router())
        .with_state(sim.clone())
        .merge(control_router(control.clone()))
        .layer(from_fn_with_state(sim.clone(), concurrency))
        .layer(from_fn_with_state(
            (sim.faults.clone(), errors),
            fault_layer,
        ))
        .layer(from_fn_with_state(sim.clone(), count_requests));
    let server = SimServer::start(router, options.listen).await?;
    *sim.base_url.write().unwrap_or_else(|e| e.into_inner()) = server.url();
    Ok((RunningSimulator { server, control }, org::Org::new(sim)))
}
