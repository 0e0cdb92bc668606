//! A faithful, in-memory Pipedrive for tests, the demo and benchmarks,
//! served by axum on loopback.
//!
//! What it reproduces (SEMANTICS.md §3 unless said otherwise):
//! - API v2 persons: list (`updated_since` inclusive, `updated_until`,
//!   `sort_by`/`sort_direction`, `ids`, `owner_id`, `custom_fields`, `limit`
//!   up to 500, opaque base64url `cursor` and `additional_data.next_cursor`),
//!   get, create (200), update (PATCH), delete (kept with `is_deleted`, no
//!   longer listed), exact and partial search (`/persons/search`, `term`,
//!   `fields`, `exact_match`, case-insensitive); `emails[]`/`phones[]` as
//!   `{value, primary, label}`, custom fields under `custom_fields`, RFC 3339
//!   whole-second stamps;
//! - API v1: `/v1/leads` (UUID ids, list with `updated_since`, `sort`,
//!   `start`/`limit`, filters; create 201 needing a title and a person;
//!   update; delete), `/v1/recents?items=person` (live and deleted persons
//!   in change order, v1 shape: custom fields at the root, `active_flag`,
//!   `YYYY-MM-DD HH:MM:SS`), `PUT /v1/persons/{id}/merge` (the person `id`
//!   is merged into `merge_with_id` and deleted; the answer names it as
//!   `merge_what_id`; polling shows only the deletion), `/v1/notes`,
//!   `/v1/personFields`, `/v1/dealFields`, `/v1/users`;
//! - API v2 deals (list with `status`, deleted deals with `status=deleted`
//!   for 30 days; changelog "permanent deletion logic") and activities
//!   (tasks with due date, owner, `done`, participants);
//! - the envelope `{success, data, additional_data}` and errors
//!   `{success:false, error, error_info, data:null, additional_data:null, code?}`;
//!   401 `unauthorized access` for a missing, unknown or expired token;
//! - token-based rate limits ([`limits`]): costs, daily budget, 2-second
//!   bursts per token (search apart), `x-ratelimit-*` headers, 429;
//! - OAuth2 at `/oauth/token` (HTTP Basic client credentials only, as
//!   `pipedrive/client-nodejs` `src/ApiClient.js` sends them; refresh with
//!   rotation, authorization code with PKCE) and `/oauth/authorize`;
//! - the kit's control surface under `/__sim` ([`SimControl`]).
//!
//! Index lag: a change written while a lag is set becomes visible to change
//! lists (those filtering on `updated_since` or sorted by `update_time`,
//! and recents) at its write time plus the lag; search and reads by id are
//! never delayed.

mod api;
pub mod catalog;
pub mod entities;
pub mod limits;
mod oauth;
pub mod store;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::{from_fn_with_state, Next};
use axum::response::Response;
use axum::Router;
use leadbridge_core::sim::{
    control_router, fault_layer, seed, Faults, RequestCounter, RunningSimulator, SeedSpec,
    SimClock, SimControl, SimServer, SimulatorOptions, TokenCheck, TokenIssuer, VendorErrors,
    CONTROL_PREFIX,
};
use leadbridge_core::{Fields, Record};
use serde_json::{json, Map, Value};

use self::entities::Refusal;
use self::store::{Row, SortId, Table};
use crate::fields::{self as f, Shape};

/// The simulator's tables.
#[derive(Default)]
pub(crate) struct Db {
    pub persons: Table,
    pub leads: Table,
    pub deals: Table,
    pub notes: Table,
    pub activities: Table,
}

impl Db {
    pub fn table(&self, object: &str) -> Option<&Table> {
        Some(match object {
            "persons" => &self.persons,
            "leads" => &self.leads,
            "deals" => &self.deals,
            "notes" => &self.notes,
            "activities" => &self.activities,
            _ => return None,
        })
    }

    pub fn table_mut(&mut self, object: &str) -> Option<&mut Table> {
        Some(match object {
            "persons" => &mut self.persons,
            "leads" => &mut self.leads,
            "deals" => &mut self.deals,
            "notes" => &mut self.notes,
            "activities" => &mut self.activities,
            _ => return None,
        })
    }
}

/// The simulator's state, shared by every handler.
pub(crate) struct Sim {
    pub clock: SimClock,
    pub faults: Faults,
    pub tokens: TokenIssuer,
    pub counter: RequestCounter,
    pub limits: limits::Limits,
    base_url: RwLock<String>,
    db: RwLock<Db>,
    index_lag_ms: AtomicU64,
}

impl Sim {
    pub fn now_s(&self) -> i64 {
        self.clock.now().as_second()
    }

    pub fn now_ms(&self) -> i64 {
        self.clock.now().as_millisecond()
    }

    fn visible_ms(&self) -> i64 {
        self.now_ms()
            .saturating_add(self.index_lag_ms.load(Ordering::Relaxed) as i64)
    }

    pub fn read(&self) -> std::sync::RwLockReadGuard<'_, Db> {
        self.db.read().unwrap_or_else(|e| e.into_inner())
    }

    pub fn write(&self) -> std::sync::RwLockWriteGuard<'_, Db> {
        self.db.write().unwrap_or_else(|e| e.into_inner())
    }

    pub fn base_url(&self) -> String {
        self.base_url
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// A new row stamped now.
    pub fn row(&self, id: SortId, data: Map<String, Value>) -> Row {
        let now = self.now_s();
        Row {
            id,
            add: now,
            update: now,
            visible_ms: self.visible_ms(),
            deleted: false,
            data,
        }
    }

    /// `row` changed now: a new `update_time` and visibility.
    pub fn touch(&self, mut row: Row) -> Row {
        row.update = self.now_s();
        row.visible_ms = self.visible_ms();
        row
    }

    /// Creates a person from a v2 body.
    pub fn create_person(&self, db: &mut Db, body: &Value) -> Result<Row, Refusal> {
        let data = entities::apply_person(&Map::new(), body, true)?;
        let id = db.persons.next_num();
        let row = self.row(id, data);
        db.persons.put(row.clone());
        Ok(row)
    }

    /// Updates a live person from a v2 body.
    pub fn update_person(&self, db: &mut Db, id: &str, body: &Value) -> Result<Row, Refusal> {
        let row = db
            .persons
            .live(id)
            .cloned()
            .ok_or_else(|| Refusal::not_found("Person"))?;
        let data = entities::apply_person(&row.data, body, false)?;
        let row = self.touch(Row { data, ..row });
        db.persons.put(row.clone());
        Ok(row)
    }

    /// Creates a lead from a v1 body.
    pub fn create_lead(&self, db: &mut Db, body: &Value) -> Result<Row, Refusal> {
        let persons = &db.persons;
        let live = |id: i64| persons.live(&id.to_string()).is_some();
        let data = entities::apply_lead(&Map::new(), body, true, &live)?;
        let id = db.leads.next_uuid();
        let row = self.row(id, data);
        db.leads.put(row.clone());
        Ok(row)
    }

    /// Updates a live (not archived) lead from a v1 body.
    pub fn update_lead(&self, db: &mut Db, id: &str, body: &Value) -> Result<Row, Refusal> {
        let row = db
            .leads
            .live(id)
            .cloned()
            .ok_or_else(|| Refusal::not_found("Lead"))?;
        let persons = &db.persons;
        let live = |id: i64| persons.live(&id.to_string()).is_some();
        let data = entities::apply_lead(&row.data, body, false, &live)?;
        let row = self.touch(Row { data, ..row });
        db.leads.put(row.clone());
        Ok(row)
    }

    /// Creates or changes a deal as a user would in the app (deals are
    /// read-only for the connector, so only the control surface writes them).
    fn put_deal(&self, db: &mut Db, id: Option<&str>, fields: &Fields) -> Result<Row, String> {
        let mut row = match id {
            Some(id) => db.deals.live(id).cloned().ok_or("no such deal")?,
            None => {
                let id = db.deals.next_num();
                let mut data = Map::new();
                data.insert("status".into(), json!("open"));
                data.insert("pipeline_id".into(), json!(1));
                data.insert("stage_id".into(), json!(catalog::STAGES[0].0));
                data.insert("currency".into(), json!("EUR"));
                data.insert("value".into(), json!(0));
                data.insert("owner_id".into(), json!(catalog::USERS[0].0));
                self.row(id, data)
            }
        };
        let now = self.now_s();
        for (k, v) in fields {
            if k == "status" {
                let stamp = json!(crate::time::rfc3339(
                    jiff::Timestamp::from_second(now).unwrap_or(jiff::Timestamp::UNIX_EPOCH)
                ));
                match v.as_str() {
                    Some("won") => {
                        row.data.insert("won_time".into(), stamp.clone());
                        row.data.insert("close_time".into(), stamp);
                    }
                    Some("lost") => {
                        row.data.insert("lost_time".into(), stamp.clone());
                        row.data.insert("close_time".into(), stamp);
                    }
                    Some("open") => {}
                    _ => return Err(format!("invalid deal status {v}")),
                }
            }
            row.data.insert(k.clone(), v.clone());
        }
        if !row.data.get("title").is_some_and(Value::is_string) {
            return Err("a deal needs a title".into());
        }
        let row = self.touch(row);
        db.deals.put(row.clone());
        Ok(row)
    }

    /// A row as the control surface shows it: flattened like the connector's records.
    fn to_record(object: &str, row: &Row) -> Option<Record> {
        let (shape, entity) = match object {
            "persons" => (Shape::V2, entities::person_v2(row, None)),
            "leads" => (Shape::Lead, entities::lead_v1(row)),
            "deals" => (Shape::V2, entities::deal_v2(row)),
            _ => {
                let mut e = Value::Object(row.data.clone());
                e["id"] = json!(row.id.text());
                e["update_time"] = json!(crate::time::rfc3339(
                    jiff::Timestamp::from_second(row.update).unwrap_or(jiff::Timestamp::UNIX_EPOCH)
                ));
                (Shape::Lead, e)
            }
        };
        let mut keys: Vec<String> = entity
            .as_object()?
            .keys()
            .filter(|k| !matches!(k.as_str(), "custom_fields" | "emails" | "phones"))
            .cloned()
            .collect();
        if object == "persons" || object == "deals" {
            if let Some(custom) = entity.get("custom_fields").and_then(Value::as_object) {
                keys.extend(custom.keys().cloned());
            }
        }
        if object == "persons" {
            keys.extend([
                "email".to_owned(),
                "phone".to_owned(),
                "emails".to_owned(),
                "phones".to_owned(),
            ]);
        }
        let mut record = f::record(shape, &entity, &keys)?;
        record.archived = row.deleted;
        Some(record)
    }

    /// The fields of seeded person number `index`, flattened.
    fn person_fields(seed_no: u64, index: u64) -> Fields {
        let p = seed::person(seed_no, index);
        let users = catalog::active_users();
        let source = catalog::SOURCE_OPTIONS
            .iter()
            .find(|(_, label)| *label == p.source)
            .map(|(id, _)| *id)
            .unwrap_or(catalog::SOURCE_OPTIONS[0].0);
        let mut m = Fields::new();
        m.insert(
            "name".into(),
            json!(format!("{} {}", p.first_name, p.last_name)),
        );
        m.insert("first_name".into(), json!(p.first_name));
        m.insert("last_name".into(), json!(p.last_name));
        m.insert("email".into(), json!(p.email));
        m.insert("phone".into(), json!(p.phone));
        m.insert(
            "owner_id".into(),
            json!(users[(index % users.len() as u64) as usize]),
        );
        m.insert(catalog::SCORE_FIELD.into(), json!(p.score));
        m.insert(catalog::CAMPAIGN_FIELD.into(), json!(p.campaign));
        m.insert(catalog::SOURCE_FIELD.into(), json!(source));
        m
    }

    /// Inserts one flattened record into an object.
    fn insert_one(&self, db: &mut Db, object: &str, fields: &Fields) -> Result<String, String> {
        let refused = |r: Refusal| format!("{}: {}", r.status, r.error);
        Ok(match object {
            "persons" => self
                .create_person(db, &f::person_body(fields))
                .map_err(refused)?
                .id
                .text(),
            "leads" => self
                .create_lead(db, &f::lead_body(fields))
                .map_err(refused)?
                .id
                .text(),
            "deals" => self.put_deal(db, None, fields)?.id.text(),
            "notes" | "activities" => {
                let table = db.table_mut(object).ok_or("unknown object")?;
                let id = table.next_num();
                let row = self.row(id, fields.clone());
                table.put(row.clone());
                row.id.text()
            }
            other => return Err(format!("unknown object {other}")),
        })
    }
}

const OBJECTS: &str = "persons, leads, deals, notes, activities";

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
        let mut db = self.write();
        let mut ids = Vec::with_capacity(spec.count as usize);
        for i in 0..spec.count {
            let index = spec.first_index + i;
            let person = Self::person_fields(spec.seed, index);
            let pid = self.insert_one(&mut db, "persons", &person)?;
            let p = seed::person(spec.seed, index);
            let id = match spec.object.as_str() {
                "persons" => pid,
                "leads" => {
                    let mut lead = Fields::new();
                    lead.insert("title".into(), json!(format!("{} lead", p.company)));
                    lead.insert("person_id".into(), json!(pid.parse::<i64>().unwrap_or(0)));
                    lead.insert("owner_id".into(), person["owner_id"].clone());
                    lead.insert(catalog::DEAL_CAMPAIGN_FIELD.into(), json!(p.campaign));
                    self.insert_one(&mut db, "leads", &lead)?
                }
                "deals" => {
                    let mut deal = Fields::new();
                    deal.insert("title".into(), json!(format!("{} deal", p.company)));
                    deal.insert("person_id".into(), json!(pid.parse::<i64>().unwrap_or(0)));
                    deal.insert("value".into(), json!(u64::from(p.employees) * 100));
                    self.insert_one(&mut db, "deals", &deal)?
                }
                other => {
                    return Err(format!(
                        "seeding {other} is not supported (persons, leads, deals)"
                    ))
                }
            };
            ids.push(id);
        }
        Ok(ids)
    }

    fn insert(&self, object: &str, records: Vec<Fields>) -> Result<Vec<String>, String> {
        let mut db = self.write();
        records
            .iter()
            .map(|fields| self.insert_one(&mut db, object, fields))
            .collect()
    }

    fn update(&self, object: &str, id: &str, fields: Fields) -> Result<(), String> {
        let mut db = self.write();
        let refused = |r: Refusal| format!("{}: {}", r.status, r.error);
        match object {
            "persons" => self
                .update_person(&mut db, id, &f::person_body(&fields))
                .map(drop)
                .map_err(refused),
            "leads" => self
                .update_lead(&mut db, id, &f::lead_body(&fields))
                .map(drop)
                .map_err(refused),
            "deals" => self.put_deal(&mut db, Some(id), &fields).map(drop),
            other => Err(format!("updating {other} is not supported ({OBJECTS})")),
        }
    }

    fn delete(&self, object: &str, id: &str) -> Result<(), String> {
        let mut db = self.write();
        let table = db
            .table_mut(object)
            .ok_or_else(|| format!("unknown object {object}"))?;
        let row = table.live(id).cloned().ok_or("no such live record")?;
        let row = self.touch(Row {
            deleted: true,
            ..row
        });
        table.put(row);
        Ok(())
    }

    fn get(&self, object: &str, id: &str) -> Option<Record> {
        let db = self.read();
        Self::to_record(object, db.table(object)?.get(id)?)
    }

    fn find(&self, object: &str, field: &str, value: &str) -> Vec<Record> {
        let db = self.read();
        let Some(table) = db.table(object) else {
            return Vec::new();
        };
        table
            .rows()
            .into_iter()
            .filter(|r| !r.deleted)
            .filter_map(|r| Self::to_record(object, r))
            .filter(|r| r.text(field).is_some_and(|v| v.eq_ignore_ascii_case(value)))
            .collect()
    }

    fn count(&self, object: &str) -> usize {
        self.read()
            .table(object)
            .map(Table::live_count)
            .unwrap_or(0)
    }

    fn set_index_lag(&self, lag: Duration) {
        self.index_lag_ms
            .store(lag.as_millis() as u64, Ordering::Relaxed);
    }

    fn set_daily_limit(&self, max: Option<u64>) {
        self.limits.set_budget(max);
    }

    fn set_rate_limits(&self, enabled: bool) {
        self.limits.set_enabled(enabled);
    }
}

/// Pipedrive's wording of injected failures.
struct PipedriveErrors;

impl VendorErrors for PipedriveErrors {
    fn rate_limited(&self, retry_after: Duration) -> Response {
        let mut r = api::error_response(StatusCode::TOO_MANY_REQUESTS, "Rate limit exceeded", None);
        let secs = retry_after.as_secs().to_string();
        for (name, value) in [
            ("retry-after", secs.as_str()),
            ("x-ratelimit-limit", "20"),
            ("x-ratelimit-remaining", "0"),
            ("x-ratelimit-reset", secs.as_str()),
        ] {
            if let Ok(v) = HeaderValue::from_str(value) {
                r.headers_mut().insert(name, v);
            }
        }
        r
    }

    fn server_error(&self, status: StatusCode) -> Response {
        let message = if status == StatusCode::SERVICE_UNAVAILABLE {
            "Service Unavailable"
        } else {
            "Internal server error"
        };
        api::error_response(status, message, None)
    }

    fn token_expired(&self) -> Response {
        api::unauthorized()
    }
}

/// Counts every request (outside the control surface) by endpoint label.
async fn count_requests(State(sim): State<Arc<Sim>>, request: Request, next: Next) -> Response {
    let path = request.uri().path();
    if !path.starts_with(CONTROL_PREFIX) {
        sim.counter
            .hit(&api::endpoint_label(request.method().as_str(), path));
    }
    next.run(request).await
}

/// Stamps every answer's `Date` header with the simulated clock, so clients
/// that reason about server time (the connector's settled checkpoint) see it.
async fn date_header(State(sim): State<Arc<Sim>>, request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let date = sim
        .clock
        .now()
        .strftime("%a, %d %b %Y %H:%M:%S GMT")
        .to_string();
    if let Ok(v) = HeaderValue::from_str(&date) {
        response.headers_mut().insert("date", v);
    }
    response
}

/// Authenticates API requests and applies the token-based limits.
async fn gate(State(sim): State<Arc<Sim>>, request: Request, next: Next) -> Response {
    let path = request.uri().path().to_owned();
    if path.starts_with(CONTROL_PREFIX) || path.starts_with("/oauth/") {
        return next.run(request).await;
    }
    let headers = request.headers();
    let api_token = headers
        .get("x-api-token")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .or_else(|| {
            url::form_urlencoded::parse(request.uri().query().unwrap_or_default().as_bytes())
                .find(|(k, _)| k == "api_token")
                .map(|(_, v)| v.into_owned())
        });
    let bearer = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::to_owned);
    let (token, burst) = match (api_token, bearer) {
        (Some(t), _) => (t, limits::API_TOKEN_BURST),
        (None, Some(t)) => (t, limits::OAUTH_BURST),
        (None, None) => return api::unauthorized(),
    };
    if sim.tokens.check(&token) != TokenCheck::Valid {
        return api::unauthorized();
    }
    let cost = limits::cost(request.method().as_str(), &path);
    let decision = sim
        .limits
        .take(&token, burst, path.ends_with("/search"), cost, sim.now_s());
    let (limit, remaining, reset, refused) = match decision {
        limits::Decision::Allowed {
            limit,
            remaining,
            reset,
        } => (limit, remaining, reset, false),
        limits::Decision::Burst { limit, reset } => (limit, 0, reset, true),
        limits::Decision::Daily { reset } => (burst, 0, reset, true),
    };
    let mut response = if refused {
        api::error_response(StatusCode::TOO_MANY_REQUESTS, "Rate limit exceeded", None)
    } else {
        next.run(request).await
    };
    for (name, value) in [
        ("x-ratelimit-limit", limit.to_string()),
        ("x-ratelimit-remaining", remaining.to_string()),
        ("x-ratelimit-reset", reset.to_string()),
    ] {
        if let Ok(v) = HeaderValue::from_str(&value) {
            response.headers_mut().insert(name, v);
        }
    }
    response
}

/// Starts a simulator on `options.listen` with `options.seed_records`
/// persons seeded from population `options.seed`. The HTTP control surface
/// lives under [`CONTROL_PREFIX`]; `RunningSimulator::control` is the same
/// surface in process.
pub async fn start(options: SimulatorOptions) -> std::io::Result<RunningSimulator> {
    let clock = SimClock::default();
    let sim = Arc::new(Sim {
        tokens: TokenIssuer::new(options.tokens.clone(), clock.clone()),
        clock,
        faults: Faults::default(),
        counter: RequestCounter::default(),
        limits: limits::Limits::new(options.rate_limits),
        base_url: RwLock::new(String::new()),
        db: RwLock::new(Db::default()),
        index_lag_ms: AtomicU64::new(0),
    });
    if options.seed_records > 0 {
        sim.seed(&SeedSpec {
            object: "persons".into(),
            count: options.seed_records,
            seed: options.seed,
            first_index: 0,
        })
        .map_err(std::io::Error::other)?;
    }
    let control: Arc<dyn SimControl> = sim.clone();
    let errors: Arc<dyn VendorErrors> = Arc::new(PipedriveErrors);
    let router = Router::new()
        .merge(oauth::router())
        .merge(api::router())
        .with_state(sim.clone())
        .layer(from_fn_with_state(sim.clone(), gate))
        .merge(control_router(control.clone()))
        .layer(from_fn_with_state(
            (sim.faults.clone(), errors),
            fault_layer,
        ))
        .layer(from_fn_with_state(sim.clone(), date_header))
        .layer(from_fn_with_state(sim.clone(), count_requests));
    let server = SimServer::start(router, options.listen).await?;
    *sim.base_url.write().unwrap_or_else(|e| e.into_inner()) = server.url();
    Ok(RunningSimulator { server, control })
}
