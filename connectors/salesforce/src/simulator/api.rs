//! The data API under `/services/data/vNN.N/`, dispatched by hand so any
//! version, trailing slashes and percent-encoded segments (external ids
//! such as emails) work as they do on Salesforce.

// Helpers answer `Err(Response)` with the finished HTTP error: the error
// path is cold and the response is returned as is, so boxing buys nothing.
#![allow(clippy::result_large_err)]

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use axum::Router;
use leadbridge_core::sim::TokenCheck;
use serde_json::{json, Map, Value};

use super::query::{self, Run};
use super::schema::ObjectDef;
use super::store::{self, Db, Plan, Rec, RecordError};
use super::{QueryCursor, Sim, ORG_ID};

mod composite;

/// The largest query batch, and the default.
const QUERY_BATCH: usize = 2000;
/// The smallest batch `Sforce-Query-Options: batchSize` may ask for.
const QUERY_BATCH_MIN: usize = 200;
/// The most records of one sObject Collections call.
const COLLECTION_MAX: usize = 200;

/// A JSON response as Salesforce sends it.
pub(crate) fn json_response(status: StatusCode, body: &Value) -> Response {
    let mut r = (status, body.to_string()).into_response();
    r.headers_mut().insert(
        axum::http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json;charset=UTF-8"),
    );
    r
}

/// Salesforce's error body: `[{message, errorCode, fields}]`.
pub(crate) fn error(status: StatusCode, code: &str, message: &str) -> Response {
    json_response(
        status,
        &json!([{ "message": message, "errorCode": code, "fields": [] }]),
    )
}

/// A refused single save: `[{message, errorCode, fields}]`, or for a
/// duplicate rule `[{errorCode, message, duplicateResut}]` (the key's
/// spelling is Salesforce's, R2.2).
fn record_error(status: StatusCode, e: &RecordError, version: &str) -> Response {
    let body = match &e.duplicate {
        Some(hit) => json!([{
            "errorCode": e.code,
            "message": e.message,
            "duplicateResut": hit.result_json(version),
        }]),
        None => json!([{ "message": e.message, "errorCode": e.code, "fields": e.fields }]),
    };
    json_response(status, &body)
}

/// 401 for a missing, unknown or expired session.
pub(crate) fn session_invalid() -> Response {
    let mut r = error(
        StatusCode::UNAUTHORIZED,
        "INVALID_SESSION_ID",
        "Session expired or invalid",
    );
    r.headers_mut()
        .insert("www-authenticate", HeaderValue::from_static("Token"));
    r
}

fn not_found() -> Response {
    error(
        StatusCode::NOT_FOUND,
        "NOT_FOUND",
        "The requested resource does not exist",
    )
}

fn bad_json(e: impl std::fmt::Display) -> Response {
    error(
        StatusCode::BAD_REQUEST,
        "JSON_PARSER_ERROR",
        &format!("Unexpected character in the request body: {e}"),
    )
}

fn method_not_allowed(method: &Method, allowed: &str) -> Response {
    error(
        StatusCode::METHOD_NOT_ALLOWED,
        "METHOD_NOT_ALLOWED",
        &format!("HTTP Method '{method}' not allowed. Allowed are {allowed}"),
    )
}

/// The label a request is counted under: method and path with ids and
/// cursors replaced by placeholders.
pub(crate) fn endpoint_label(method: &Method, path: &str) -> String {
    let trimmed = path.trim_end_matches('/');
    let Some(rest) = trimmed.strip_prefix("/services/data/v") else {
        return format!("{method} {trimmed}");
    };
    let segs: Vec<&str> = rest.split('/').skip(1).collect();
    let shape = match segs.as_slice() {
        [] => String::new(),
        [q @ ("query" | "queryAll"), _] => format!("/{q}/{{locator}}"),
        ["sobjects", t, s @ ("describe" | "updated" | "deleted")] => format!("/sobjects/{t}/{s}"),
        ["sobjects", t, _] => format!("/sobjects/{t}/{{id}}"),
        ["sobjects", t, f, _] => format!("/sobjects/{t}/{f}/{{value}}"),
        other => format!("/{}", other.join("/")),
    };
    format!("{method} {shape}")
}

/// The routes of the data API and the identity URL.
pub(crate) fn router() -> Router<Arc<Sim>> {
    Router::new()
        .route("/services/data", get(versions))
        .route("/services/data/", get(versions))
        .route("/services/data/{*rest}", any(dispatch))
        .route("/id/{org}/{user}", get(identity))
}

/// `GET /services/data/`: the versions this org serves (no session needed).
async fn versions() -> Response {
    let list: Vec<Value> = [
        ("Summer '23", "58.0"),
        ("Winter '24", "59.0"),
        ("Spring '24", "60.0"),
        ("Summer '24", "61.0"),
        ("Winter '25", "62.0"),
    ]
    .iter()
    .map(
        |(label, v)| json!({ "label": label, "url": format!("/services/data/v{v}"), "version": v }),
    )
    .collect();
    json_response(StatusCode::OK, &Value::Array(list))
}

fn bearer(headers: &HeaderMap) -> Option<String> {
    let value = headers.get("authorization")?.to_str().ok()?.trim();
    let (scheme, token) = value.split_once(' ')?;
    (scheme.eq_ignore_ascii_case("bearer") || scheme.eq_ignore_ascii_case("oauth"))
        .then(|| token.trim().to_owned())
}

fn authorized(sim: &Sim, token: Option<String>) -> bool {
    token.is_some_and(|t| sim.tokens.check(&t) == TokenCheck::Valid)
}

/// The identity URL of the simulated API user.
async fn identity(
    State(sim): State<Arc<Sim>>,
    Path((org, user)): Path<(String, String)>,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let token = bearer(&headers).or_else(|| {
        url::form_urlencoded::parse(uri.query().unwrap_or("").as_bytes())
            .find(|(k, _)| k == "oauth_token")
            .map(|(_, v)| v.into_owned())
    });
    if !authorized(&sim, token) {
        return error(StatusCode::FORBIDDEN, "Bad_OAuth_Token", "Bad_OAuth_Token");
    }
    let base = sim.base_url();
    json_response(
        StatusCode::OK,
        &json!({
            "id": format!("{base}/id/{org}/{user}"),
            "asserted_user": true,
            "user_id": user,
            "organization_id": org,
            "username": "ada.admin@leadbridge-sim.example",
            "nick_name": "ada.admin",
            "display_name": "Ada Admin",
            "email": "ada.admin@leadbridge-sim.example",
            "email_verified": true,
            "active": true,
            "user_type": "STANDARD",
            "language": "en_US",
            "locale": "en_US",
            "utcOffset": 0,
            "urls": {
                "rest": format!("{base}/services/data/v{{version}}/"),
                "sobjects": format!("{base}/services/data/v{{version}}/sobjects/"),
                "query": format!("{base}/services/data/v{{version}}/query/"),
                "limits": format!("{base}/services/data/v{{version}}/limits/"),
            },
        }),
    )
}

/// The identity URL of the API user, for token responses.
pub(crate) fn identity_url(sim: &Sim) -> String {
    let user = sim.read().default_user.clone();
    format!("{}/id/{ORG_ID}/{user}", sim.base_url())
}

/// Decodes `%XX` escapes of one path segment.
fn pct_decode(s: &str) -> String {
    fn hex(b: u8) -> Option<u8> {
        (b as char).to_digit(16).map(|d| d as u8)
    }
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            if let (Some(h), Some(l)) = (
                bytes.get(i + 1).copied().and_then(hex),
                bytes.get(i + 2).copied().and_then(hex),
            ) {
                out.push(h * 16 + l);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// One request, decoded.
struct Ctx {
    version: String,
    method: Method,
    params: Vec<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
}

impl Ctx {
    fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    fn json_body(&self) -> Result<Value, Response> {
        serde_json::from_slice(&self.body).map_err(bad_json)
    }

    fn batch_size(&self) -> Option<usize> {
        let value = self.headers.get("sforce-query-options")?.to_str().ok()?;
        value.split(',').find_map(|part| {
            let n: usize = part
                .trim()
                .strip_prefix("batchSize=")?
                .trim()
                .parse()
                .ok()?;
            Some(n.clamp(QUERY_BATCH_MIN, QUERY_BATCH))
        })
    }

    /// `Sforce-Duplicate-Rule-Header` (R2.2): read from API 52.0 on, when
    /// the header came into being; earlier versions ignore it.
    fn duplicate_header(&self) -> store::duplicates::Header {
        match self.headers.get("sforce-duplicate-rule-header") {
            Some(v) if self.major_version() >= 52 => {
                store::duplicates::Header::parse(v.to_str().unwrap_or(""))
            }
            _ => store::duplicates::Header::default(),
        }
    }

    /// How a save of this request runs.
    fn save(&self, sim: &Sim) -> store::Save {
        sim.api_save(self.duplicate_header())
    }

    fn major_version(&self) -> u32 {
        self.version
            .split('.')
            .next()
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    }
}

/// Everything under `/services/data/vNN.N/`.
async fn dispatch(
    State(sim): State<Arc<Sim>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path().trim_end_matches('/');
    let Some(rest) = path.strip_prefix("/services/data/v") else {
        return not_found();
    };
    let (version, tail) = rest.split_once('/').unwrap_or((rest, ""));
    if !valid_version(version) {
        return not_found();
    }
    if !authorized(&sim, bearer(&headers)) {
        return session_invalid();
    }
    let usage = match sim.take_api_call() {
        Ok(u) => u,
        Err((used, max)) => {
            let mut r = error(
                StatusCode::FORBIDDEN,
                "REQUEST_LIMIT_EXCEEDED",
                "TotalRequests Limit exceeded.",
            );
            add_limit_header(&mut r, used, max);
            return r;
        }
    };
    let segs: Vec<String> = if tail.is_empty() {
        Vec::new()
    } else {
        tail.split('/').map(pct_decode).collect()
    };
    let ctx = Ctx {
        version: version.to_owned(),
        method,
        params: url::form_urlencoded::parse(uri.query().unwrap_or("").as_bytes())
            .into_owned()
            .collect(),
        headers,
        body,
    };
    let segs: Vec<&str> = segs.iter().map(String::as_str).collect();
    // Composite reads its subrequests' answers back, so it runs async; its
    // subrequests go through `route` like direct calls.
    let mut response = if segs == ["composite"] && ctx.method == Method::POST {
        composite::run(&sim, &ctx).await
    } else {
        route(&sim, &ctx, &segs)
    };
    add_limit_header(&mut response, usage.0, usage.1);
    if let Ok(v) = HeaderValue::from_str(&sim.http_date()) {
        response.headers_mut().insert("date", v);
    }
    response
}

/// A version path segment without its `v`: `62.0`.
fn valid_version(version: &str) -> bool {
    version.split_once('.').is_some_and(|(a, b)| {
        !a.is_empty()
            && !b.is_empty()
            && a.bytes().all(|c| c.is_ascii_digit())
            && b.bytes().all(|c| c.is_ascii_digit())
    })
}

fn add_limit_header(r: &mut Response, used: u64, max: u64) {
    if let Ok(v) = HeaderValue::from_str(&format!("api-usage={used}/{max}")) {
        r.headers_mut().insert("sforce-limit-info", v);
    }
}

fn route(sim: &Sim, ctx: &Ctx, segs: &[&str]) -> Response {
    let m = &ctx.method;
    match segs {
        [] if m == Method::GET => resources(sim, ctx),
        ["limits"] if m == Method::GET => limits(sim),
        [q @ ("query" | "queryAll")] if m == Method::GET => run_query(sim, ctx, *q == "queryAll"),
        ["query" | "queryAll", locator] if m == Method::GET => query_more(sim, ctx, locator),
        ["sobjects"] if m == Method::GET => describe_global(sim, ctx),
        ["sobjects", t] => with_object(sim, t, |def| match *m {
            Method::GET => json_response(
                StatusCode::OK,
                &json!({ "objectDescribe": def.summary(&ctx.version), "recentItems": [] }),
            ),
            Method::POST => create_one(sim, ctx, def),
            _ => method_not_allowed(m, "GET,HEAD,POST"),
        }),
        ["sobjects", t, "describe"] if m == Method::GET => with_object(sim, t, |def| {
            json_response(StatusCode::OK, &def.describe(&ctx.version))
        }),
        ["sobjects", t, which @ ("updated" | "deleted")] if m == Method::GET => {
            with_object(sim, t, |def| {
                updated_or_deleted(sim, ctx, def, *which == "deleted")
            })
        }
        ["sobjects", t, id] => with_object(sim, t, |def| match *m {
            Method::GET => get_one(sim, ctx, def, id),
            Method::PATCH => update_one(sim, ctx, def, id),
            Method::DELETE => delete_one(sim, ctx, def, id),
            _ => method_not_allowed(m, "GET,HEAD,PATCH,DELETE"),
        }),
        ["sobjects", t, field, value] => {
            with_object(sim, t, |def| by_external_id(sim, ctx, def, field, value))
        }
        ["composite"] if m == Method::GET => composite_resources(ctx),
        // POST is served by `composite::run` (see `dispatch`).
        ["composite"] => method_not_allowed(m, "GET,POST"),
        ["composite", "sobjects"] => match *m {
            Method::POST => collection_create(sim, ctx),
            Method::PATCH => collection_update(sim, ctx),
            Method::DELETE => collection_delete(sim, ctx),
            _ => method_not_allowed(m, "POST,PATCH,DELETE"),
        },
        ["composite", "sobjects", t] => with_object(sim, t, |def| match *m {
            Method::GET | Method::POST => collection_retrieve(sim, ctx, def),
            _ => method_not_allowed(m, "GET,POST"),
        }),
        ["composite", "sobjects", t, field] if m == Method::PATCH => {
            with_object(sim, t, |def| collection_upsert(sim, ctx, def, field))
        }
        _ => not_found(),
    }
}

fn with_object(sim: &Sim, name: &str, f: impl FnOnce(&'static ObjectDef) -> Response) -> Response {
    let def = sim.read().def(name);
    match def {
        Some(def) => f(def),
        None => not_found(),
    }
}

fn resources(sim: &Sim, ctx: &Ctx) -> Response {
    let v = &ctx.version;
    let base = format!("/services/data/v{v}");
    json_response(
        StatusCode::OK,
        &json!({
            "sobjects": format!("{base}/sobjects"),
            "query": format!("{base}/query"),
            "queryAll": format!("{base}/queryAll"),
            "limits": format!("{base}/limits"),
            "composite": format!("{base}/composite"),
            "search": format!("{base}/search"),
            "recent": format!("{base}/recent"),
            "identity": identity_url(sim),
        }),
    )
}

/// `GET /composite`: the composite resources this simulator serves (the
/// composite call itself and sObject Collections; Salesforce also lists
/// `tree`, `batch` and `graph`, which are not simulated).
fn composite_resources(ctx: &Ctx) -> Response {
    json_response(
        StatusCode::OK,
        &json!({ "sobjects": format!("/services/data/v{}/composite/sobjects", ctx.version) }),
    )
}

fn limits(sim: &Sim) -> Response {
    let (used, max) = sim.api_usage();
    json_response(
        StatusCode::OK,
        &json!({
            "DailyApiRequests": { "Max": max, "Remaining": max.saturating_sub(used) },
            "DailyBulkApiBatches": { "Max": 15000, "Remaining": 15000 },
            "DataStorageMB": { "Max": 1024, "Remaining": 1024 },
            "ConcurrentAsyncGetReportInstances": { "Max": 200, "Remaining": 200 },
        }),
    )
}

fn describe_global(sim: &Sim, ctx: &Ctx) -> Response {
    let objects: Vec<Value> = sim
        .read()
        .defs()
        .iter()
        .map(|o| o.summary(&ctx.version))
        .collect();
    json_response(
        StatusCode::OK,
        &json!({ "encoding": "UTF-8", "maxBatchSize": 200, "sobjects": objects }),
    )
}

/// One page of a query result, and where the next starts.
fn page(ctx: &Ctx, cursor_id: Option<&str>, cursor: &QueryCursor, offset: usize) -> Response {
    let batch = ctx.batch_size().unwrap_or(cursor.batch);
    let end = (offset + batch).min(cursor.records.len());
    let records: Vec<Value> = cursor.records[offset.min(end)..end]
        .iter()
        .map(|r| r.to_json(cursor.object, &cursor.columns, &ctx.version))
        .collect();
    let done = end >= cursor.records.len();
    let mut body = json!({
        "totalSize": cursor.records.len(),
        "done": done,
        "records": records,
    });
    if let (false, Some(id), Some(map)) = (done, cursor_id, body.as_object_mut()) {
        map.insert(
            "nextRecordsUrl".into(),
            json!(format!("/services/data/v{}/query/{id}-{end}", ctx.version)),
        );
    }
    json_response(StatusCode::OK, &body)
}

fn run_query(sim: &Sim, ctx: &Ctx, all: bool) -> Response {
    let Some(soql) = ctx.param("q") else {
        return error(
            StatusCode::BAD_REQUEST,
            "MALFORMED_QUERY",
            "A query string has to be specified",
        );
    };
    let parsed = match query::parse(soql, &|name: &str| sim.read().def(name)) {
        Ok(q) => q,
        Err(e) => return error(StatusCode::BAD_REQUEST, e.code(), &e.to_string()),
    };
    let run = Run {
        all,
        now: sim.now_ms(),
    };
    let records = {
        let db = sim.read();
        match db.table(parsed.object.name) {
            Some(table) => parsed.run(table, &run),
            None => return not_found(),
        }
    };
    if parsed.count {
        return json_response(
            StatusCode::OK,
            &json!({ "totalSize": records.len(), "done": true, "records": [] }),
        );
    }
    let cursor = QueryCursor {
        object: parsed.object,
        columns: parsed.columns,
        records,
        batch: ctx.batch_size().unwrap_or(QUERY_BATCH),
    };
    if cursor.records.len() <= ctx.batch_size().unwrap_or(cursor.batch) {
        return page(ctx, None, &cursor, 0);
    }
    let cursor = Arc::new(cursor);
    let id = sim.store_cursor_arc(cursor.clone());
    page(ctx, Some(&id), &cursor, 0)
}

fn query_more(sim: &Sim, ctx: &Ctx, locator: &str) -> Response {
    let invalid = || {
        error(
            StatusCode::BAD_REQUEST,
            "INVALID_QUERY_LOCATOR",
            "invalid query locator",
        )
    };
    let Some((id, offset)) = locator.rsplit_once('-') else {
        return invalid();
    };
    let Ok(offset) = offset.parse::<usize>() else {
        return invalid();
    };
    match sim.cursor(id) {
        Some(cursor) if offset <= cursor.records.len() => page(ctx, Some(id), &cursor, offset),
        _ => invalid(),
    }
}

/// The most ids getDeleted answers before `EXCEEDED_ID_LIMIT` (R2.3).
const DELETED_ID_LIMIT: usize = 600_000;
/// How far back getDeleted reaches: "no more than 15 days previous to the
/// day the call is executed" (R2.3).
const DELETED_WINDOW_DAYS: i64 = 15;

/// `GET /sobjects/{type}/updated/` and `/deleted/` (`?start=&end=`,
/// ISO-8601). For both, `start` must precede `end` by more than one minute
/// (`INVALID_REPLICATION_DATE` otherwise, as the SOAP rules say). getDeleted
/// (R2.3) lists `{id, deletedDate}` of records in the recycle bin, merged
/// losers included, deleted in the window; it reaches back 15 days from the
/// start of the current UTC day (`earliestDateAvailable`; an older `start`
/// is `INVALID_REPLICATION_DATE`), and more than 600,000 ids is
/// `EXCEEDED_ID_LIMIT`. `latestDateCovered` is `end` (or now, when `end`
/// is later) cut to the minute.
fn updated_or_deleted(sim: &Sim, ctx: &Ctx, def: &ObjectDef, deleted: bool) -> Response {
    let parse = |name: &str| ctx.param(name).and_then(crate::soql::parse_timestamp);
    let (Some(start), Some(end)) = (parse("start"), parse("end")) else {
        return error(
            StatusCode::BAD_REQUEST,
            "MISSING_ARGUMENT",
            "start and end are required, as dateTime values",
        );
    };
    let (s, e) = (start.as_millisecond(), end.as_millisecond());
    if e - s <= 60_000 {
        return error(
            StatusCode::BAD_REQUEST,
            "INVALID_REPLICATION_DATE",
            "startDate must chronologically precede endDate by more than one minute",
        );
    }
    let now = sim.now_ms();
    let today = now - now.rem_euclid(86_400_000);
    let earliest = today - DELETED_WINDOW_DAYS * 86_400_000;
    if deleted && s < earliest {
        return error(
            StatusCode::BAD_REQUEST,
            "INVALID_REPLICATION_DATE",
            &format!(
                "startDate cannot be before {}: deleted records are kept for 15 days",
                store::ts_text(earliest)
            ),
        );
    }
    let db = sim.read();
    let Some(table) = db.table(def.name) else {
        return not_found();
    };
    let in_window = table
        .order
        .range((s, Box::<str>::from(""))..)
        .take_while(|(stamp, _)| *stamp <= e)
        .filter_map(|(_, id)| table.rows.get(id));
    let covered = e.min(now);
    let latest = store::ts_text(covered - covered.rem_euclid(60_000));
    if deleted {
        let records: Vec<Value> = in_window
            .filter(|r| r.deleted)
            .take(DELETED_ID_LIMIT + 1)
            .map(|r| json!({ "id": r.id.as_ref(), "deletedDate": store::ts_text(r.stamp) }))
            .collect();
        if records.len() > DELETED_ID_LIMIT {
            return error(
                StatusCode::BAD_REQUEST,
                "EXCEEDED_ID_LIMIT",
                "The number of deleted records exceeds 600,000; choose start and end dates closer together",
            );
        }
        json_response(
            StatusCode::OK,
            &json!({
                "deletedRecords": records,
                "earliestDateAvailable": store::ts_text(earliest),
                "latestDateCovered": latest,
            }),
        )
    } else {
        let ids: Vec<&str> = in_window
            .filter(|r| !r.deleted)
            .map(|r| r.id.as_ref())
            .collect();
        json_response(
            StatusCode::OK,
            &json!({ "ids": ids, "latestDateCovered": latest }),
        )
    }
}

/// All fields of a record, or the ones named in `fields=`.
fn full_record(
    def: &ObjectDef,
    rec: &Rec,
    fields: Option<&str>,
    version: &str,
) -> Result<Value, Response> {
    let columns: Vec<usize> = match fields {
        Some(list) => {
            let mut cols = Vec::new();
            for name in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
                match def.field(name) {
                    Some(i) => cols.push(i),
                    None => {
                        return Err(error(
                            StatusCode::BAD_REQUEST,
                            "INVALID_FIELD",
                            &format!("No such column '{name}' on sobject of type {}", def.name),
                        ))
                    }
                }
            }
            cols
        }
        None => (0..def.fields.len()).collect(),
    };
    Ok(rec.to_json(def, &columns, version))
}

fn get_one(sim: &Sim, ctx: &Ctx, def: &ObjectDef, id: &str) -> Response {
    let db = sim.read();
    match db.table(def.name).and_then(|t| t.find_id(id)) {
        Some(r) if !r.deleted => match full_record(def, r, ctx.param("fields"), &ctx.version) {
            Ok(v) => json_response(StatusCode::OK, &v),
            Err(e) => e,
        },
        _ => not_found(),
    }
}

fn object_body(ctx: &Ctx) -> Result<Map<String, Value>, Response> {
    match ctx.json_body()? {
        Value::Object(m) => Ok(m),
        _ => Err(bad_json("expected a JSON object")),
    }
}

/// Turns planned saves an injected per-record fault hits
/// ([`super::record_faults`]) into that fault's error; faults pick by
/// object, a save of several objects being one transaction per object.
fn inject_faults(sim: &Sim, db: &Db, results: &mut [Result<Plan, RecordError>]) {
    let mut by_object: HashMap<&'static str, Vec<usize>> = HashMap::new();
    for (i, r) in results.iter().enumerate() {
        if let Ok(plan) = r {
            if let Some(def) = db.def_of_id(&plan.rec.id) {
                by_object.entry(def.name).or_default().push(i);
            }
        }
    }
    for (object, indices) in by_object {
        let faults = sim.record_faults.pick(object, indices.len());
        for (i, fault) in indices.into_iter().zip(faults) {
            if let (Some(fault), Ok(plan)) = (fault, &results[i]) {
                let id = (!plan.created).then(|| plan.rec.id.to_string());
                results[i] = Err(fault.error(object, id.as_deref()));
            }
        }
    }
}

/// Plans one single-record save and runs the injected faults on it.
fn single(sim: &Sim, db: &Db, result: Result<Plan, RecordError>) -> Result<Plan, RecordError> {
    let mut results = [result];
    inject_faults(sim, db, &mut results);
    let [result] = results;
    result
}

fn create_one(sim: &Sim, ctx: &Ctx, def: &ObjectDef) -> Response {
    let body = match object_body(ctx) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let save = ctx.save(sim);
    let mut db = sim.write();
    let planned = db.plan_create(def.name, &body, &save, &mut HashMap::new());
    match single(sim, &db, planned) {
        Ok(plan) => {
            let id = plan.rec.id.to_string();
            db.commit(vec![plan]);
            json_response(
                StatusCode::CREATED,
                &json!({ "id": id, "success": true, "errors": [] }),
            )
        }
        Err(e) => record_error(StatusCode::BAD_REQUEST, &e, &ctx.version),
    }
}

fn update_one(sim: &Sim, ctx: &Ctx, def: &ObjectDef, id: &str) -> Response {
    let body = match object_body(ctx) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let save = ctx.save(sim);
    let mut db = sim.write();
    if db.table(def.name).and_then(|t| t.find_id(id)).is_none() {
        return not_found();
    }
    let planned = db.plan_update(def.name, id, &body, &save, &mut HashMap::new());
    match single(sim, &db, planned) {
        Ok(plan) => {
            db.commit(vec![plan]);
            StatusCode::NO_CONTENT.into_response()
        }
        // R2.3: client fixtures pair ENTITY_IS_DELETED with 404.
        Err(e) if e.code == "ENTITY_IS_DELETED" => {
            record_error(StatusCode::NOT_FOUND, &e, &ctx.version)
        }
        Err(e) => record_error(StatusCode::BAD_REQUEST, &e, &ctx.version),
    }
}

/// `DELETE /sobjects/{type}/{id}`: to the recycle bin, 204; a second
/// DELETE answers 404 `ENTITY_IS_DELETED` (R2.3).
fn delete_one(sim: &Sim, ctx: &Ctx, def: &ObjectDef, id: &str) -> Response {
    let save = ctx.save(sim);
    let mut db = sim.write();
    let full = match db.table(def.name).and_then(|t| t.find_id(id)) {
        Some(r) => r.id.clone(),
        None => return not_found(),
    };
    match db.delete(def.name, &full, &save) {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => record_error(StatusCode::NOT_FOUND, &e, &ctx.version),
    }
}

/// `/sobjects/{type}/{field}/{value}`: retrieve, upsert or delete by External ID.
fn by_external_id(
    sim: &Sim,
    ctx: &Ctx,
    def: &'static ObjectDef,
    field: &str,
    value: &str,
) -> Response {
    let Some(idx) = def
        .field(field)
        .filter(|i| def.fields[*i].external_id || def.fields[*i].name == "Id")
    else {
        return error(
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
            &format!("Provided external ID field does not exist or is not accessible: {field}"),
        );
    };
    let field_name = def.fields[idx].name;
    let save = ctx.save(sim);
    let mut db = sim.write();
    let matches: Vec<Arc<Rec>> = db
        .table(def.name)
        .map(|t| t.find_by(idx, value))
        .unwrap_or_default();
    if matches.len() > 1 {
        let urls: Vec<String> = matches
            .iter()
            .map(|r| {
                format!(
                    "/services/data/v{}/sobjects/{}/{}",
                    ctx.version, def.name, r.id
                )
            })
            .collect();
        return json_response(StatusCode::MULTIPLE_CHOICES, &json!(urls));
    }
    match ctx.method {
        Method::GET => match matches.first() {
            Some(r) => match full_record(def, r, ctx.param("fields"), &ctx.version) {
                Ok(v) => json_response(StatusCode::OK, &v),
                Err(e) => e,
            },
            None => not_found(),
        },
        Method::DELETE => match matches.first() {
            Some(r) => {
                let id = r.id.clone();
                match db.delete(def.name, &id, &save) {
                    Ok(()) => StatusCode::NO_CONTENT.into_response(),
                    Err(e) => record_error(StatusCode::NOT_FOUND, &e, &ctx.version),
                }
            }
            None => not_found(),
        },
        Method::PATCH | Method::POST => {
            let mut body = match object_body(ctx) {
                Ok(b) => b,
                Err(r) => return r,
            };
            if body.keys().any(|k| k.eq_ignore_ascii_case("Id")) {
                return error(
                    StatusCode::BAD_REQUEST,
                    "INVALID_FIELD",
                    "Unable to create/update fields: Id. Please check the security settings of this field and verify that it is read/write for your profile or permission set.",
                );
            }
            body.retain(|k, _| !k.eq_ignore_ascii_case(field_name));
            let result = match matches.first() {
                Some(r) => db.plan_update(def.name, &r.id, &body, &save, &mut HashMap::new()),
                None if ctx.param("updateOnly") == Some("true") => return not_found(),
                None => {
                    body.insert(field_name.into(), json!(value));
                    db.plan_create(def.name, &body, &save, &mut HashMap::new())
                }
            };
            match single(sim, &db, result) {
                Ok(plan) => {
                    let id = plan.rec.id.to_string();
                    let created = plan.created;
                    db.commit(vec![plan]);
                    if created {
                        json_response(
                            StatusCode::CREATED,
                            &json!({ "id": id, "success": true, "errors": [], "created": true }),
                        )
                    } else if ctx.major_version() >= 46 {
                        json_response(
                            StatusCode::OK,
                            &json!({ "id": id, "success": true, "errors": [], "created": false }),
                        )
                    } else {
                        StatusCode::NO_CONTENT.into_response()
                    }
                }
                Err(e) => record_error(StatusCode::BAD_REQUEST, &e, &ctx.version),
            }
        }
        _ => method_not_allowed(&ctx.method, "GET,HEAD,PATCH,DELETE"),
    }
}

/// The `{allOrNone, records}` body of a collection write.
fn collection_body(ctx: &Ctx) -> Result<(bool, Vec<Value>), Response> {
    let body = ctx.json_body()?;
    let all_or_none = body
        .get("allOrNone")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let Some(records) = body.get("records").and_then(Value::as_array) else {
        return Err(error(
            StatusCode::BAD_REQUEST,
            "JSON_PARSER_ERROR",
            "The request body must have a records array",
        ));
    };
    if records.len() > COLLECTION_MAX {
        return Err(error(
            StatusCode::BAD_REQUEST,
            "EXCEEDED_ID_LIMIT",
            "record limit reached. cannot submit more than 200 records into this call",
        ));
    }
    Ok((all_or_none, records.clone()))
}

/// Finishes a collection write: commits the plans (all, or none when
/// `allOrNone` and something failed) and answers one result per record.
fn finish_collection(
    sim: &Sim,
    db: &mut Db,
    all_or_none: bool,
    mut results: Vec<Result<Plan, RecordError>>,
    upsert: bool,
) -> Response {
    inject_faults(sim, db, &mut results);
    let failed = results.iter().any(Result::is_err);
    let rollback = all_or_none && failed;
    let mut out = Vec::with_capacity(results.len());
    let mut plans = Vec::new();
    for r in results {
        match r {
            Ok(plan) if rollback => {
                let _ = plan;
                out.push(json!({
                    "success": false,
                    "errors": [{
                        "statusCode": "ALL_OR_NONE_OPERATION_ROLLED_BACK",
                        "message": "Record rolled back because not all records were valid and the request was using AllOrNone header",
                        "fields": [],
                    }],
                }));
            }
            Ok(plan) => {
                let mut v = json!({ "id": plan.rec.id.as_ref(), "success": true, "errors": [] });
                if upsert {
                    if let Some(m) = v.as_object_mut() {
                        m.insert("created".into(), json!(plan.created));
                    }
                }
                out.push(v);
                plans.push(plan);
            }
            Err(e) => out.push(json!({ "success": false, "errors": [e.collection_json()] })),
        }
    }
    if !rollback {
        db.commit(plans);
    }
    json_response(StatusCode::OK, &Value::Array(out))
}

fn record_type(record: &Map<String, Value>) -> Option<&str> {
    record
        .get("attributes")
        .and_then(|a| a.get("type"))
        .and_then(Value::as_str)
}

fn collection_create(sim: &Sim, ctx: &Ctx) -> Response {
    let (all_or_none, records) = match collection_body(ctx) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let save = ctx.save(sim);
    let mut db = sim.write();
    let mut pending = HashMap::new();
    let results = records
        .iter()
        .map(|r| {
            let Some(m) = r.as_object() else {
                return Err(RecordError::new(
                    "JSON_PARSER_ERROR",
                    "records must be objects",
                    vec![],
                ));
            };
            let Some(def) = record_type(m).and_then(|t| db.def(t)) else {
                return Err(RecordError::new(
                    "INVALID_TYPE",
                    "Must send a concrete entity type.",
                    vec![],
                ));
            };
            if m.keys().any(|k| k.eq_ignore_ascii_case("id")) {
                return Err(RecordError::new(
                    "INVALID_FIELD",
                    "cannot specify Id in an insert call",
                    vec!["Id".into()],
                ));
            }
            db.plan_create(def.name, m, &save, &mut pending)
        })
        .collect();
    finish_collection(sim, &mut db, all_or_none, results, false)
}

fn collection_update(sim: &Sim, ctx: &Ctx) -> Response {
    let (all_or_none, records) = match collection_body(ctx) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let save = ctx.save(sim);
    let mut db = sim.write();
    let mut pending = HashMap::new();
    let results = records
        .iter()
        .map(|r| {
            let Some(m) = r.as_object() else {
                return Err(RecordError::new(
                    "JSON_PARSER_ERROR",
                    "records must be objects",
                    vec![],
                ));
            };
            let Some(id) = m
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case("id"))
                .and_then(|(_, v)| v.as_str())
            else {
                return Err(RecordError::new(
                    "MISSING_ARGUMENT",
                    "Id not specified in an update call",
                    vec![],
                ));
            };
            let def = record_type(m)
                .and_then(|t| db.def(t))
                .or_else(|| db.def_of_id(id));
            let Some(def) = def else {
                return Err(RecordError::new(
                    "INVALID_TYPE",
                    "Must send a concrete entity type.",
                    vec![],
                ));
            };
            db.plan_update(def.name, id, m, &save, &mut pending)
        })
        .collect();
    finish_collection(sim, &mut db, all_or_none, results, false)
}

fn collection_upsert(sim: &Sim, ctx: &Ctx, def: &'static ObjectDef, field: &str) -> Response {
    let Some(idx) = def.field(field).filter(|i| def.fields[*i].external_id) else {
        return error(
            StatusCode::BAD_REQUEST,
            "INVALID_FIELD",
            &format!(
                "Field name provided, {field} is not an External ID or indexed field for {}",
                def.name
            ),
        );
    };
    let field_name = def.fields[idx].name;
    let (all_or_none, records) = match collection_body(ctx) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let save = ctx.save(sim);
    let mut db = sim.write();
    let mut pending = HashMap::new();
    let mut seen: HashMap<String, ()> = HashMap::new();
    let results = records
        .iter()
        .map(|r| {
            let Some(m) = r.as_object() else {
                return Err(RecordError::new(
                    "JSON_PARSER_ERROR",
                    "records must be objects",
                    vec![],
                ));
            };
            if record_type(m).is_some_and(|t| !t.eq_ignore_ascii_case(def.name)) {
                return Err(RecordError::new(
                    "INVALID_TYPE",
                    format!(
                        "Upsert only supports records of the type in the URL: {}",
                        def.name
                    ),
                    vec![],
                ));
            }
            let value = m
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(field_name))
                .and_then(|(_, v)| match v {
                    Value::String(s) if !s.is_empty() => Some(s.clone()),
                    Value::Number(n) => Some(n.to_string()),
                    _ => None,
                });
            let Some(value) = value else {
                return Err(RecordError::new(
                    "MISSING_ARGUMENT",
                    format!("{field_name} not specified"),
                    vec![field_name.into()],
                ));
            };
            if seen.insert(value.to_lowercase(), ()).is_some() {
                return Err(RecordError::new(
                    "DUPLICATE_EXTERNAL_ID",
                    format!("Duplicate external id specified: {value}"),
                    vec![field_name.into()],
                ));
            }
            let matches = db
                .table(def.name)
                .map(|t| t.find_by(idx, &value))
                .unwrap_or_default();
            match matches.as_slice() {
                [] => db.plan_create(def.name, m, &save, &mut pending),
                [one] => {
                    let id = one.id.clone();
                    db.plan_update(def.name, &id, m, &save, &mut pending)
                }
                _ => Err(RecordError::new(
                    "DUPLICATE_EXTERNAL_ID",
                    format!(
                        "{field_name}: more than one record found for external id field: {value}"
                    ),
                    vec![field_name.into()],
                )),
            }
        })
        .collect();
    finish_collection(sim, &mut db, all_or_none, results, true)
}

fn collection_retrieve(sim: &Sim, ctx: &Ctx, def: &ObjectDef) -> Response {
    let (ids, fields): (Vec<String>, Vec<String>) = if ctx.method == Method::POST {
        let body = match ctx.json_body() {
            Ok(b) => b,
            Err(r) => return r,
        };
        let list = |k: &str| -> Vec<String> {
            body.get(k)
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(|v| v.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default()
        };
        (list("ids"), list("fields"))
    } else {
        let list = |k: &str| -> Vec<String> {
            ctx.param(k)
                .map(|s| {
                    s.split(',')
                        .map(|x| x.trim().to_owned())
                        .filter(|x| !x.is_empty())
                        .collect()
                })
                .unwrap_or_default()
        };
        (list("ids"), list("fields"))
    };
    if fields.is_empty() {
        return error(
            StatusCode::BAD_REQUEST,
            "MISSING_ARGUMENT",
            "fields parameter is required",
        );
    }
    if ids.len() > 2000 {
        return error(
            StatusCode::BAD_REQUEST,
            "EXCEEDED_ID_LIMIT",
            "too many ids: at most 2000",
        );
    }
    let list = fields.join(",");
    let db = sim.read();
    let Some(table) = db.table(def.name) else {
        return not_found();
    };
    let mut out = Vec::with_capacity(ids.len());
    for id in &ids {
        match table.find_id(id).filter(|r| !r.deleted) {
            Some(r) => match full_record(def, r, Some(&list), &ctx.version) {
                Ok(v) => out.push(v),
                Err(e) => return e,
            },
            None => out.push(Value::Null),
        }
    }
    json_response(StatusCode::OK, &Value::Array(out))
}

fn collection_delete(sim: &Sim, ctx: &Ctx) -> Response {
    let ids: Vec<String> = ctx
        .param("ids")
        .map(|s| {
            s.split(',')
                .map(|x| x.trim().to_owned())
                .filter(|x| !x.is_empty())
                .collect()
        })
        .unwrap_or_default();
    if ids.len() > COLLECTION_MAX {
        return error(
            StatusCode::BAD_REQUEST,
            "EXCEEDED_ID_LIMIT",
            "record limit reached. cannot submit more than 200 records into this call",
        );
    }
    let all_or_none = ctx.param("allOrNone") == Some("true");
    let save = ctx.save(sim);
    let mut db = sim.write();
    let check = |db: &Db, id: &str| -> Result<(&'static str, Box<str>), RecordError> {
        let def = db.def_of_id(id).ok_or_else(|| {
            RecordError::new("MALFORMED_ID", format!("malformed id {id}"), vec![])
        })?;
        match db.table(def.name).and_then(|t| t.find_id(id)) {
            Some(r) if r.deleted => Err(RecordError::new(
                "ENTITY_IS_DELETED",
                "entity is deleted",
                vec![],
            )),
            Some(r) => Ok((def.name, r.id.clone())),
            None => Err(RecordError::new(
                "INVALID_CROSS_REFERENCE_KEY",
                "invalid cross reference id",
                vec![],
            )),
        }
    };
    let checked: Vec<_> = ids.iter().map(|id| check(&db, id)).collect();
    let rollback = all_or_none && checked.iter().any(Result::is_err);
    let mut out = Vec::new();
    for (id, c) in ids.iter().zip(checked) {
        match c {
            Ok(_) if rollback => out.push(json!({
                "id": id, "success": false,
                "errors": [{ "statusCode": "ALL_OR_NONE_OPERATION_ROLLED_BACK", "message": "Record rolled back because not all records were valid and the request was using AllOrNone header", "fields": [] }],
            })),
            Ok((object, full)) => {
                let r = db.delete(object, &full, &save);
                out.push(match r {
                    Ok(()) => json!({ "id": full.as_ref(), "success": true, "errors": [] }),
                    Err(e) => json!({ "id": id, "success": false, "errors": [e.collection_json()] }),
                });
            }
            Err(e) => out.push(json!({ "id": id, "success": false, "errors": [e.collection_json()] })),
        }
    }
    json_response(StatusCode::OK, &Value::Array(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_hide_ids_and_cursors() {
        assert_eq!(
            endpoint_label(&Method::GET, "/services/data/v62.0/query/01gDn-2000"),
            "GET /query/{locator}"
        );
        assert_eq!(
            endpoint_label(
                &Method::PATCH,
                "/services/data/v62.0/sobjects/Lead/00QDn000000000001AAA"
            ),
            "PATCH /sobjects/Lead/{id}"
        );
        assert_eq!(
            endpoint_label(&Method::POST, "/services/oauth2/token"),
            "POST /services/oauth2/token"
        );
        assert_eq!(pct_decode("a%40b.com"), "a@b.com");
        assert_eq!(pct_decode("100%"), "100%");
    }
}
