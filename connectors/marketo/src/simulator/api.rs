//! The vendor paths: identity, leads, describe, activities, custom
//! activities. Each handler names the doc or Swagger operation it follows.

// Helpers answer `Err(Response)` so a handler can return the error as is;
// boxing the response would only add an allocation on the error path.
#![allow(clippy::result_large_err)]

use std::collections::BTreeSet;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde_json::{json, Map, Value};

use super::errors::{fail, ok, ok_bare};
use super::feed::{scan, shown, Position, DELETION_RETENTION_MS};
use super::schema::{as_text, field, DEFAULT_FIELDS, FIELDS, SEARCHABLE};
use super::store::{validate, Db, Entry, Payload, Refusal};
use super::Shared;
use crate::time::{from_ms, iso_seconds};

type St = State<Arc<Shared>>;

/// The most records or values one Lead Database call takes.
const BATCH: usize = 300;

pub(crate) fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/rest/v1/leads.json", get(get_leads).post(sync_leads))
        .route("/rest/v1/lead/{id}", get(get_lead))
        .route("/rest/v1/leads/describe.json", get(describe))
        .route("/rest/v1/leads/describe2.json", get(describe2))
        .route("/rest/v1/leads/{id}/merge.json", post(merge))
        .route("/rest/v1/activities/pagingtoken.json", get(paging_token))
        .route("/rest/v1/activities.json", get(activities))
        .route("/rest/v1/activities/leadchanges.json", get(lead_changes))
        .route("/rest/v1/activities/deletedleads.json", get(deleted_leads))
        .route("/rest/v1/activities/types.json", get(activity_types))
        .route("/rest/v1/activities/external/types.json", get(custom_types))
        .route("/rest/v1/activities/external.json", post(add_custom))
        .fallback(unknown_resource)
        .method_not_allowed_fallback(wrong_method)
        .with_state(shared)
}

/// 610: "The URI in the call did not match a REST API resource type".
async fn unknown_resource() -> Response {
    fail("610", "Requested resource not found")
}

/// 605: "HTTP Method not supported" (e.g. GET on a POST-only resource).
async fn wrong_method() -> Response {
    fail("605", "HTTP Method not supported")
}

/// The identity route (outside the REST guard: "Calls to this endpoint are
/// not counted towards API call limit", swagger-identity.json).
pub(crate) fn identity_router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/identity/oauth/token", get(identity).post(identity))
        .with_state(shared)
}

/// Query pairs, decoded.
pub(crate) fn pairs(query: Option<&str>) -> Vec<(String, String)> {
    url::form_urlencoded::parse(query.unwrap_or_default().as_bytes())
        .into_owned()
        .collect()
}

fn one<'a>(q: &'a [(String, String)], name: &str) -> Option<&'a str> {
    q.iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
        .filter(|v| !v.is_empty())
}

/// An array parameter: repeated (`collectionFormat: multi`, the Swagger)
/// or comma-separated (the docs' examples); both are accepted.
fn many(q: &[(String, String)], name: &str) -> Vec<String> {
    q.iter()
        .filter(|(k, _)| k == name)
        .flat_map(|(_, v)| v.split(','))
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .collect()
}

fn blank(name: &str) -> Response {
    fail("701", format!("{name} cannot be blank"))
}

/// `batchSize`: "Maximum and default is 300".
fn batch_size(q: &[(String, String)]) -> Result<usize, Response> {
    match one(q, "batchSize") {
        None => Ok(BATCH),
        Some(v) => match v.parse::<usize>() {
            Ok(n) if (1..=BATCH).contains(&n) => Ok(n),
            _ => Err(fail(
                "1003",
                format!("Invalid batchSize '{v}', maximum is {BATCH}"),
            )),
        },
    }
}

fn oauth_error(status: StatusCode, code: &str, description: &str) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json;charset=UTF-8")],
        json!({"error": code, "error_description": description}).to_string(),
    )
        .into_response()
}

/// `GET|POST /identity/oauth/token` (swagger-identity.json): `client_id`,
/// `client_secret`, `grant_type=client_credentials` in the query — or, on
/// a POST, in an `application/x-www-form-urlencoded` body, as production
/// clients send them (segmentio/action-destinations,
/// `destinations/marketo-static-lists/functions.ts`, `getAccessToken`).
/// While the current token is valid the same token comes back with its
/// remaining lifetime ("If you call the Identity endpoint before your
/// token has expired, the same token and the remaining lifespan will be
/// returned", Authentication page). Bad credentials: HTTP 401 ("typically
/// due to an invalid Client Id or invalid Client Secret", error-codes
/// page) with an OAuth2 error body.
async fn identity(
    State(shared): St,
    method: Method,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut params = pairs(query.as_deref());
    let form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if method == Method::POST && form {
        params.extend(
            url::form_urlencoded::parse(&body)
                .into_owned()
                .collect::<Vec<_>>(),
        );
    }
    match one(&params, "grant_type") {
        None => {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "Missing grant type",
            )
        }
        Some("client_credentials") => {}
        Some(other) => {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                &format!("Unsupported grant type: {other}"),
            )
        }
    }
    let id = one(&params, "client_id").unwrap_or_default();
    let secret = one(&params, "client_secret").unwrap_or_default();
    match shared.issue_token(id, secret) {
        Some((token, expires_in)) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "application/json;charset=UTF-8")],
            json!({
                "access_token": token,
                "token_type": "bearer",
                "expires_in": expires_in,
                "scope": "leadbridge-api@marketo-sim.example",
            })
            .to_string(),
        )
            .into_response(),
        None => oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "Bad client credentials",
        ),
    }
}

/// The requested fields, or Marketo's defaults; an unknown name is 1006.
fn wanted_fields(q: &[(String, String)]) -> Result<Vec<&'static str>, Response> {
    let names = many(q, "fields");
    if names.is_empty() {
        return Ok(DEFAULT_FIELDS.to_vec());
    }
    names
        .iter()
        .map(|n| {
            field(n)
                .map(|d| d.name)
                .ok_or_else(|| fail("1006", format!("Field '{n}' not found")))
        })
        .collect()
}

/// A lead as the Lead Database returns it: `id`, then the requested fields
/// that have a value ("if a particular field is requested, but not
/// returned, the value is implied to be null", Leads page).
fn lead_json(db: &Db, id: u64, fields: &[&str]) -> Option<Value> {
    let lead = db.leads.get(&id)?;
    let mut out = Map::new();
    out.insert("id".into(), json!(id));
    for f in fields {
        let v = match *f {
            "id" => continue,
            "createdAt" => Some(json!(iso_seconds(from_ms(lead.created_ms)))),
            "updatedAt" => Some(json!(iso_seconds(from_ms(lead.updated_ms)))),
            other => lead.values.get(other).cloned(),
        };
        if let Some(v) = v {
            out.insert((*f).to_owned(), v);
        }
    }
    Some(Value::Object(out))
}

/// `GET /rest/v1/leads.json` (Get Leads by Filter Type): `filterType` a
/// searchable field (1011 for others, 1006 for unknown names),
/// `filterValues` up to 300, pages of `batchSize` with a position token;
/// "If the number of leads matching the lead filter is greater than 1,000
/// an error is returned: 1003, Too many results match the filter" (Leads
/// page).
async fn get_leads(State(shared): St, RawQuery(query): RawQuery) -> Response {
    let q = pairs(query.as_deref());
    let Some(filter_type) = one(&q, "filterType") else {
        return blank("filterType");
    };
    if field(filter_type).is_none() {
        return fail("1006", format!("Field '{filter_type}' not found"));
    }
    if !SEARCHABLE.contains(&filter_type) {
        return fail("1011", format!("Field '{filter_type}' not supported"));
    }
    let values = many(&q, "filterValues");
    if values.is_empty() {
        return blank("filterValues");
    }
    if values.len() > BATCH {
        return fail("1003", format!("Too many filterValues, maximum is {BATCH}"));
    }
    let fields = match wanted_fields(&q) {
        Ok(f) => f,
        Err(r) => return r,
    };
    let size = match batch_size(&q) {
        Ok(n) => n,
        Err(r) => return r,
    };
    let offset = match one(&q, "nextPageToken") {
        None => 0,
        Some(t) => match super::feed::unbase32(t)
            .and_then(|b| String::from_utf8(b).ok())
            .and_then(|s| {
                s.strip_prefix("offset:")
                    .and_then(|n| n.parse::<usize>().ok())
            }) {
            Some(n) => n,
            None => return fail("1003", "Invalid nextPageToken"),
        },
    };
    let db = shared.read();
    let ids = db.find(filter_type, &values);
    if ids.len() > 1000 {
        return fail("1003", "Too many results match the filter");
    }
    let page: Vec<Value> = ids
        .iter()
        .skip(offset)
        .take(size)
        .filter_map(|id| lead_json(&db, *id, &fields))
        .collect();
    let mut extra = Map::new();
    if offset + size < ids.len() {
        let token = super::feed::base32(format!("offset:{}", offset + size).as_bytes());
        extra.insert("nextPageToken".into(), json!(token));
        extra.insert("moreResult".into(), json!(true));
    }
    ok(page, extra)
}

/// `GET /rest/v1/lead/{id}.json` (Get Lead by Id).
async fn get_lead(
    State(shared): St,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> Response {
    let q = pairs(query.as_deref());
    let Some(id) = id.strip_suffix(".json").and_then(|i| i.parse::<u64>().ok()) else {
        return fail("610", "Requested resource not found");
    };
    let fields = match wanted_fields(&q) {
        Ok(f) => f,
        Err(r) => return r,
    };
    let db = shared.read();
    ok(
        lead_json(&db, id, &fields).into_iter().collect(),
        Map::new(),
    )
}

/// Sync Leads' `action`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    CreateOnly,
    UpdateOnly,
    CreateOrUpdate,
    CreateDuplicate,
}

fn skipped(r: Refusal) -> Value {
    json!({"status": "skipped", "reasons": [{"code": r.code, "message": r.message}]})
}

/// `POST /rest/v1/leads.json` (Sync Leads): JSON only (612 otherwise,
/// 609 for a body that is not JSON), up to 300 inputs; per record
/// `created`/`updated`, or `skipped` with `reasons` — 1005 "Lead already
/// exists" (createOnly), 1004 "Lead not found" (updateOnly), 1007
/// "Multiple leads match the lookup criteria" (the key matches several
/// leads: updates need a single match), 1003 for `id` with an action other
/// than updateOnly, 1001/1006 for values and names (error-codes page;
/// Leads page: "The id field can only be included as a parameter when
/// using the updateOnly action"). Records are processed in input order and
/// results answer in that order.
async fn sync_leads(State(shared): St, headers: HeaderMap, body: Bytes) -> Response {
    let json_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !json_type {
        return fail("612", "Invalid Content Type");
    }
    let Ok(request) = serde_json::from_slice::<Value>(&body) else {
        return fail("609", "Invalid JSON");
    };
    let Some(input) = request
        .get("input")
        .and_then(Value::as_array)
        .filter(|i| !i.is_empty())
    else {
        return blank("input");
    };
    if input.len() > BATCH {
        return fail("1003", format!("Batch size exceeds the maximum of {BATCH}"));
    }
    let action = match request.get("action").and_then(Value::as_str) {
        None | Some("createOrUpdate") => Action::CreateOrUpdate,
        Some("createOnly") => Action::CreateOnly,
        Some("updateOnly") => Action::UpdateOnly,
        Some("createDuplicate") => Action::CreateDuplicate,
        Some(other) => return fail("1003", format!("Invalid action '{other}'")),
    };
    let lookup = request
        .get("lookupField")
        .and_then(Value::as_str)
        .unwrap_or("email");
    if field(lookup).is_none() {
        return fail("1006", format!("Field '{lookup}' not found"));
    }
    if !SEARCHABLE.contains(&lookup) {
        return fail("1011", format!("Field '{lookup}' not supported"));
    }
    let now = shared.now_ms();
    let lag = shared.lag_ms();
    let mut db = shared.write();
    let results: Vec<Value> = input
        .iter()
        .map(
            |item| match sync_one(&mut db, action, lookup, item, now, lag) {
                Ok((id, status)) => json!({"id": id, "status": status}),
                Err(r) => skipped(r),
            },
        )
        .collect();
    ok(results, Map::new())
}

fn sync_one(
    db: &mut Db,
    action: Action,
    lookup: &str,
    item: &Value,
    now: i64,
    lag: i64,
) -> Result<(u64, &'static str), Refusal> {
    let Some(fields) = item.as_object() else {
        return Err(Refusal::new("1003", "Invalid data"));
    };
    if fields.contains_key("id") && action != Action::UpdateOnly {
        return Err(Refusal::new("1003", "Invalid data"));
    }
    let key = fields.get(lookup).filter(|v| !v.is_null());
    let changes = validate(fields, if lookup == "id" { &["id"] } else { &[] })?;
    let matches: Vec<u64> = match key {
        None => Vec::new(),
        Some(v) => {
            let text = as_text(v).unwrap_or_default();
            db.find(lookup, &[text])
        }
    };
    let needs_key = matches!(action, Action::UpdateOnly | Action::CreateOrUpdate);
    if needs_key && key.is_none() {
        return Err(Refusal::new(
            "1002",
            format!("Missing value for the required parameter '{lookup}'"),
        ));
    }
    let source = "Web service API";
    match (action, matches.as_slice()) {
        (Action::CreateDuplicate, _) | (Action::CreateOnly | Action::CreateOrUpdate, []) => {
            Ok((db.create(&changes, now, lag, source), "created"))
        }
        (Action::CreateOnly, _) => Err(Refusal::new("1005", "Lead already exists")),
        (Action::UpdateOnly, []) => Err(Refusal::new("1004", "Lead not found")),
        (Action::UpdateOnly | Action::CreateOrUpdate, [one]) => {
            db.update(*one, &changes, now, lag, "Web service API");
            Ok((*one, "updated"))
        }
        (Action::UpdateOnly | Action::CreateOrUpdate, _) => Err(Refusal::new(
            "1007",
            "Multiple leads match the lookup criteria",
        )),
    }
}

/// `GET /rest/v1/leads/describe.json` (Describe Lead): `id`,
/// `displayName`, `dataType`, `length`, and `rest`/`soap` with `readOnly`.
async fn describe() -> Response {
    let result = FIELDS
        .iter()
        .map(|d| {
            let mut f = json!({
                "id": d.id,
                "displayName": d.display,
                "dataType": d.data_type,
                "rest": {"name": d.name, "readOnly": !d.updateable},
            });
            if let Some(l) = d.length {
                f["length"] = json!(l);
            }
            f
        })
        .collect();
    ok(result, Map::new())
}

/// `GET /rest/v1/leads/describe2.json` (Describe Lead2): one "API Lead"
/// entry with `searchableFields` and `fields` (`name`, `displayName`,
/// `dataType`, `length`, `updateable`, `crmManaged`), the Swagger's
/// `LeadAttribute2`.
async fn describe2() -> Response {
    let fields: Vec<Value> = FIELDS
        .iter()
        .map(|d| {
            let mut f = json!({
                "name": d.name,
                "displayName": d.display,
                "dataType": d.data_type,
                "updateable": d.updateable,
                "crmManaged": false,
            });
            if let Some(l) = d.length {
                f["length"] = json!(l);
            }
            f
        })
        .collect();
    let searchable: Vec<Value> = SEARCHABLE.iter().map(|s| json!([s])).collect();
    ok(
        vec![json!({"name": "API Lead", "searchableFields": searchable, "fields": fields})],
        Map::new(),
    )
}

/// `POST /rest/v1/leads/{id}/merge.json?leadId=…|leadIds=…` (Merge Leads):
/// the path names the winner, `leadId` or `leadIds` the losers.
async fn merge(State(shared): St, Path(id): Path<String>, RawQuery(query): RawQuery) -> Response {
    let q = pairs(query.as_deref());
    let Ok(winner) = id.parse::<u64>() else {
        return fail("610", "Requested resource not found");
    };
    let mut losers: Vec<u64> = Vec::new();
    for v in many(&q, "leadId").into_iter().chain(many(&q, "leadIds")) {
        match v.parse() {
            Ok(n) => losers.push(n),
            Err(_) => {
                return fail(
                    "1001",
                    format!("Invalid value '{v}'. Required of type 'integer'"),
                )
            }
        }
    }
    if losers.is_empty() {
        return blank("leadId");
    }
    let now = shared.now_ms();
    let lag = shared.lag_ms();
    match shared.write().merge(winner, &losers, now, lag) {
        Ok(()) => ok_bare(Map::new()),
        Err(_) => fail("1004", "Lead not found"),
    }
}

/// `GET /rest/v1/activities/pagingtoken.json?sinceDatetime=…` (Get Paging
/// Token): an ISO 8601 datetime ("For best results, use a full datetime
/// that includes the time zone", Paging Tokens page); 704 for another.
async fn paging_token(RawQuery(query): RawQuery) -> Response {
    let q = pairs(query.as_deref());
    let Some(since) = one(&q, "sinceDatetime") else {
        return blank("sinceDatetime");
    };
    let Some(ts) = crate::time::parse(since).or_else(|| {
        since
            .parse::<jiff::civil::Date>()
            .ok()
            .and_then(|d| d.to_zoned(jiff::tz::TimeZone::UTC).ok())
            .map(|z| z.timestamp())
    }) else {
        return fail("704", "Invalid date format");
    };
    let token = Position {
        since_ms: ts.as_millisecond(),
        after_id: 0,
    }
    .token();
    let mut extra = Map::new();
    extra.insert("nextPageToken".into(), json!(token));
    ok_bare(extra)
}

fn position(q: &[(String, String)]) -> Result<Position, Response> {
    let Some(token) = one(q, "nextPageToken") else {
        return Err(blank("nextPageToken"));
    };
    Position::parse(token).ok_or_else(|| fail("1003", "Invalid nextPageToken"))
}

fn lead_ids(q: &[(String, String)]) -> Result<BTreeSet<u64>, Response> {
    let ids = many(q, "leadIds");
    if ids.len() > 30 {
        return Err(fail("1003", "Too many leadIds, maximum is 30"));
    }
    ids.iter()
        .map(|v| {
            v.parse::<u64>().map_err(|_| {
                fail(
                    "1001",
                    format!("Invalid value '{v}'. Required of type 'integer'"),
                )
            })
        })
        .collect()
}

fn base_activity(e: &Entry) -> Map<String, Value> {
    let mut a = Map::new();
    a.insert("id".into(), json!(e.id));
    a.insert("marketoGUID".into(), json!(e.id.to_string()));
    a.insert("leadId".into(), json!(e.lead));
    a.insert(
        "activityDate".into(),
        json!(iso_seconds(from_ms(e.date_ms))),
    );
    a.insert("activityTypeId".into(), json!(e.type_id));
    a
}

fn attr(name: &str, value: Value) -> Value {
    json!({"name": name, "value": value})
}

/// An activity as Get Lead Activities returns it: primary attribute and
/// secondary `attributes` per type (New Lead: "Source Type"; Change Data
/// Value: the field, "New Value", "Old Value", "Reason", "Source"; Merge
/// Leads: "Merge IDs" (a JSON list in text), "Merge Source", "Merged in
/// Sales", "Master Updated" — attribute names from Experience Platform's
/// Marketo activity mapping).
fn activity_json(db: &Db, e: &Entry) -> Value {
    let mut a = base_activity(e);
    let name = db.leads.get(&e.lead).map(|l| l.name()).unwrap_or_default();
    let attributes = match &e.payload {
        Payload::NewLead { source } => {
            a.insert("primaryAttributeValueId".into(), json!(e.lead));
            a.insert("primaryAttributeValue".into(), json!(name));
            vec![attr("Source Type", json!(source))]
        }
        Payload::Change {
            field,
            old,
            new,
            reason,
            source,
        } => {
            a.insert("primaryAttributeValueId".into(), json!(field.id));
            a.insert("primaryAttributeValue".into(), json!(field.display));
            vec![
                attr("New Value", json!(as_text(new).unwrap_or_default())),
                attr("Old Value", json!(as_text(old).unwrap_or_default())),
                attr("Reason", json!(reason)),
                attr("Source", json!(source)),
            ]
        }
        Payload::Merge { losers } => {
            a.insert("primaryAttributeValueId".into(), json!(e.lead));
            a.insert("primaryAttributeValue".into(), json!(name));
            let ids = serde_json::to_string(losers).unwrap_or_default();
            vec![
                attr("Merge IDs", json!(ids)),
                attr("Merge Source", json!("Web service API")),
                attr("Merged in Sales", json!(false)),
                attr("Master Updated", json!(true)),
            ]
        }
        Payload::Custom {
            primary,
            attributes,
        } => {
            a.insert("primaryAttributeValue".into(), json!(primary));
            let t = db.custom_types.iter().find(|t| t.id == e.type_id);
            attributes
                .iter()
                .map(|(api, v)| {
                    let name = t
                        .and_then(|t| t.attributes.iter().find(|(a, _, _)| a == api))
                        .map(|(_, n, _)| n.clone())
                        .unwrap_or_else(|| api.clone());
                    json!({"name": name, "apiName": api, "value": v})
                })
                .collect()
        }
    };
    a.insert("attributes".into(), Value::Array(attributes));
    Value::Object(a)
}

/// A data value change or new lead as Get Lead Changes returns it: `fields`
/// with each change's field `id`, `name`, `newValue`, `oldValue` (strings;
/// a cleared value is `""`), and `attributes` "Reason" and "Source"
/// (activities page example).
fn change_json(e: &Entry) -> Value {
    let mut a = base_activity(e);
    match &e.payload {
        Payload::Change {
            field,
            old,
            new,
            reason,
            source,
        } => {
            let mut change = json!({
                "id": field.id,
                "name": field.name,
                "newValue": as_text(new).unwrap_or_default(),
            });
            if let Some(old) = as_text(old) {
                change["oldValue"] = json!(old);
            }
            a.insert("fields".into(), json!([change]));
            a.insert(
                "attributes".into(),
                json!([attr("Reason", json!(reason)), attr("Source", json!(source))]),
            );
        }
        Payload::NewLead { source } => {
            a.insert(
                "attributes".into(),
                json!([attr("Source Type", json!(source))]),
            );
        }
        _ => {
            a.insert("attributes".into(), json!([]));
        }
    }
    Value::Object(a)
}

fn feed_page(items: Vec<Value>, next: Position, more: bool) -> Response {
    let mut extra = Map::new();
    extra.insert("nextPageToken".into(), json!(next.token()));
    extra.insert("moreResult".into(), json!(more));
    ok(items, extra)
}

/// `GET /rest/v1/activities.json` (Get Lead Activities): `nextPageToken`
/// and up to ten `activityTypeIds` required, `leadIds` up to 30; "This
/// endpoint always returns the nextPageToken".
async fn activities(State(shared): St, RawQuery(query): RawQuery) -> Response {
    let q = pairs(query.as_deref());
    let at = match position(&q) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let mut types = BTreeSet::new();
    for t in many(&q, "activityTypeIds") {
        match t.parse::<i64>() {
            Ok(n) => {
                types.insert(n);
            }
            Err(_) => {
                return fail(
                    "1001",
                    format!("Invalid value '{t}'. Required of type 'integer'"),
                )
            }
        }
    }
    if types.is_empty() {
        return blank("activityTypeIds");
    }
    if types.len() > 10 {
        return fail("1003", "Too many activityTypeIds, maximum is 10");
    }
    let (leads, size) = match (lead_ids(&q), batch_size(&q)) {
        (Ok(l), Ok(s)) => (l, s),
        (Err(r), _) | (_, Err(r)) => return r,
    };
    let now = shared.now_ms();
    let db = shared.read();
    let page = scan(&db.log, at, size, |e| {
        shown(&db, e, at.since_ms, now)
            && types.contains(&e.type_id)
            && (leads.is_empty() || leads.contains(&e.lead))
    });
    let items = page.items.iter().map(|e| activity_json(&db, e)).collect();
    feed_page(items, page.next, page.more)
}

/// `GET /rest/v1/activities/leadchanges.json` (Get Lead Changes): "Data
/// Value Change and New Lead activities" for the required `fields`.
async fn lead_changes(State(shared): St, RawQuery(query): RawQuery) -> Response {
    let q = pairs(query.as_deref());
    let at = match position(&q) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let names = many(&q, "fields");
    if names.is_empty() {
        return blank("fields");
    }
    let mut watched = BTreeSet::new();
    for n in &names {
        match field(n) {
            Some(d) => {
                watched.insert(d.name);
            }
            None => return fail("1006", format!("Field '{n}' not found")),
        }
    }
    let (leads, size) = match (lead_ids(&q), batch_size(&q)) {
        (Ok(l), Ok(s)) => (l, s),
        (Err(r), _) | (_, Err(r)) => return r,
    };
    let now = shared.now_ms();
    let db = shared.read();
    let page = scan(&db.log, at, size, |e| {
        let relevant = match &e.payload {
            Payload::NewLead { .. } => true,
            Payload::Change { field, .. } => watched.contains(field.name),
            _ => false,
        };
        relevant && shown(&db, e, at.since_ms, now) && (leads.is_empty() || leads.contains(&e.lead))
    });
    let items = page.items.iter().map(|e| change_json(e)).collect();
    feed_page(items, page.next, page.more)
}

/// `GET /rest/v1/activities/deletedleads.json` (Get Deleted Leads): Delete
/// Lead (37) activities, primary attribute the lead's name; "Deletions
/// greater than 14 days old may be pruned" (here: are).
async fn deleted_leads(State(shared): St, RawQuery(query): RawQuery) -> Response {
    let q = pairs(query.as_deref());
    let at = match position(&q) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let size = match batch_size(&q) {
        Ok(s) => s,
        Err(r) => return r,
    };
    let now = shared.now_ms();
    let db = shared.read();
    let page = scan(&db.deletions, at, size, |d| {
        d.visible_ms <= now
            && d.logged_ms >= crate::time::floor_second_ms(at.since_ms)
            && d.logged_ms >= now.saturating_sub(DELETION_RETENTION_MS)
    });
    let items = page
        .items
        .iter()
        .map(|d| {
            json!({
                "id": d.id,
                "marketoGUID": d.id.to_string(),
                "leadId": d.lead,
                "activityDate": iso_seconds(from_ms(d.logged_ms)),
                "activityTypeId": 37,
                "primaryAttributeValueId": d.lead,
                "primaryAttributeValue": d.name,
                "attributes": [],
            })
        })
        .collect();
    feed_page(items, page.next, page.more)
}

/// `GET /rest/v1/activities/types.json` (Get Activity Types): the standard
/// types the simulator logs, then the custom ones.
async fn activity_types(State(shared): St) -> Response {
    let standard = [
        (
            12,
            "New Lead",
            "New person/record is added to the lead database",
            "Lead ID",
            "integer",
        ),
        (
            13,
            "Change Data Value",
            "Changed attribute value for a person/record",
            "Attribute Name",
            "integer",
        ),
        (
            32,
            "Merge Leads",
            "Merge two or more person/records",
            "Lead ID",
            "integer",
        ),
        (
            37,
            "Delete Lead",
            "Delete person/record from the lead database",
            "Lead ID",
            "integer",
        ),
    ];
    let mut result: Vec<Value> = standard
        .iter()
        .map(|(id, name, description, primary, data_type)| {
            json!({
                "id": id,
                "name": name,
                "description": description,
                "primaryAttribute": {"name": primary, "dataType": data_type},
                "attributes": [],
            })
        })
        .collect();
    for t in &shared.read().custom_types {
        result.push(json!({
            "id": t.id,
            "apiName": t.api_name,
            "name": t.name,
            "primaryAttribute": {"apiName": t.primary.0, "name": t.primary.1, "dataType": "string"},
            "attributes": t.attributes.iter().map(|(a, n, d)| json!({"apiName": a, "name": n, "dataType": d})).collect::<Vec<_>>(),
        }));
    }
    ok(result, Map::new())
}

/// `GET /rest/v1/activities/external/types.json` (Get Custom Activity
/// Types): the approved custom types.
async fn custom_types(State(shared): St) -> Response {
    let result = shared
        .read()
        .custom_types
        .iter()
        .map(|t| {
            json!({
                "id": t.id,
                "apiName": t.api_name,
                "name": t.name,
                "triggerName": format!("{} is added", t.name),
                "filterName": format!("Had {}", t.name),
                "status": "approved",
                "primaryAttribute": {"apiName": t.primary.0, "name": t.primary.1, "dataType": "string"},
                "attributes": t.attributes.iter().map(|(a, n, d)| json!({"apiName": a, "name": n, "dataType": d})).collect::<Vec<_>>(),
            })
        })
        .collect();
    ok(result, Map::new())
}

/// `POST /rest/v1/activities/external.json` (Add Custom Activities): up
/// to 300 inputs, each with `leadId`, `activityDate`, `activityTypeId`,
/// `primaryAttributeValue` and `attributes` (by `apiName` or `name`);
/// answers `{id, marketoGUID, status: "added"}` or `{status: "skipped",
/// errors}` per input (activities page): 1004 for an unknown lead, 1003
/// for a type that is not an approved custom type (unverified wording),
/// 1006 for an unknown attribute, 1049 when the attributes pass 65,536
/// bytes.
async fn add_custom(State(shared): St, headers: HeaderMap, body: Bytes) -> Response {
    let json_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !json_type {
        return fail("612", "Invalid Content Type");
    }
    let Ok(request) = serde_json::from_slice::<Value>(&body) else {
        return fail("609", "Invalid JSON");
    };
    let Some(input) = request
        .get("input")
        .and_then(Value::as_array)
        .filter(|i| !i.is_empty())
    else {
        return blank("input");
    };
    if input.len() > BATCH {
        return fail("1003", format!("Batch size exceeds the maximum of {BATCH}"));
    }
    let now = shared.now_ms();
    let lag = shared.lag_ms();
    let mut db = shared.write();
    let skipped = |code: &str, message: String| json!({"status": "skipped", "errors": [{"code": code, "message": message}]});
    let mut result = Vec::new();
    for item in input {
        let lead = item.get("leadId").and_then(Value::as_u64);
        let type_id = item.get("activityTypeId").and_then(Value::as_i64);
        let date = item
            .get("activityDate")
            .and_then(Value::as_str)
            .and_then(crate::time::parse);
        let primary = item.get("primaryAttributeValue").and_then(as_text);
        let (Some(lead), Some(type_id), Some(date), Some(primary)) = (lead, type_id, date, primary)
        else {
            result.push(skipped(
                "1002",
                "Missing value for the required parameter 'leadId, activityDate, activityTypeId or primaryAttributeValue'".into(),
            ));
            continue;
        };
        if !db.leads.contains_key(&lead) {
            result.push(skipped("1004", "Lead not found".into()));
            continue;
        }
        let Some(kind) = db.custom_types.iter().find(|t| t.id == type_id).cloned() else {
            result.push(skipped(
                "1003",
                format!("Invalid activity type id '{type_id}'"),
            ));
            continue;
        };
        let raw = item.get("attributes").cloned().unwrap_or(json!([]));
        if raw.to_string().len() > 65_536 {
            result.push(skipped(
                "1049",
                "Failed to Create Activity: Attributes array too long".into(),
            ));
            continue;
        }
        let mut attributes = Vec::new();
        let mut bad = None;
        for a in raw.as_array().into_iter().flatten() {
            let key = a
                .get("apiName")
                .or_else(|| a.get("name"))
                .and_then(Value::as_str)
                .unwrap_or_default();
            match kind
                .attributes
                .iter()
                .find(|(api, name, _)| api == key || name == key)
            {
                Some((api, _, _)) => {
                    attributes.push((api.clone(), a.get("value").cloned().unwrap_or(Value::Null)))
                }
                None => {
                    bad = Some(key.to_owned());
                    break;
                }
            }
        }
        if let Some(key) = bad {
            result.push(skipped("1006", format!("Field '{key}' not found")));
            continue;
        }
        let id = db.add_custom(
            lead,
            type_id,
            date.as_millisecond(),
            primary,
            attributes,
            (now, lag),
        );
        result.push(json!({"id": id, "marketoGUID": id.to_string(), "status": "added"}));
    }
    ok(result, Map::new())
}
