//! The API routes: v2 persons, deals and activities; v1 leads, recents,
//! merge, notes, fields and users.

// Early returns carry finished axum responses; boxing them would only add
// an allocation per refusal.
#![allow(clippy::result_large_err)]

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::Router;
use base64::Engine;
use serde_json::{json, Value};

use super::entities::{self, Refusal};
use super::store::{Row, SortId, Table};
use super::{catalog, Sim};
use crate::time;

type Q = Query<Vec<(String, String)>>;

/// The routes.
pub(crate) fn router() -> Router<Arc<Sim>> {
    Router::new()
        .route("/api/v2/persons", get(list_persons).post(create_person))
        .route("/api/v2/persons/search", get(search_persons))
        .route(
            "/api/v2/persons/{id}",
            get(get_person).patch(update_person).delete(delete_person),
        )
        .route("/v1/persons/{id}/merge", put(merge_persons))
        .route("/v1/recents", get(recents))
        .route("/api/v2/deals", get(list_deals))
        .route("/api/v2/deals/{id}", get(get_deal))
        .route("/v1/leads", get(list_leads).post(create_lead))
        .route(
            "/v1/leads/{id}",
            get(get_lead).patch(update_lead).delete(delete_lead),
        )
        .route("/v1/notes", post(create_note))
        .route("/api/v2/activities", post(create_activity))
        .route("/api/v2/activities/{id}", get(get_activity))
        .route("/v1/personFields", get(person_fields))
        .route("/v1/dealFields", get(deal_fields))
        .route("/v1/users", get(users))
}

/// A JSON response.
fn json_response(status: StatusCode, body: &Value) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

/// Pipedrive's error envelope.
pub(crate) fn error_response(status: StatusCode, error: &str, code: Option<&str>) -> Response {
    let mut body = json!({
        "success": false,
        "error": error,
        "error_info": "Please check developers.pipedrive.com for more information about Pipedrive API.",
        "data": null,
        "additional_data": null,
    });
    if let Some(code) = code {
        body["code"] = json!(code);
    }
    json_response(status, &body)
}

/// The 401 for a missing, unknown or expired token.
pub(crate) fn unauthorized() -> Response {
    json_response(
        StatusCode::UNAUTHORIZED,
        &json!({
            "success": false,
            "error": "unauthorized access",
            "errorCode": 401,
            "error_info": "Please check developers.pipedrive.com for more information about Pipedrive API.",
        }),
    )
}

fn refusal(r: Refusal) -> Response {
    error_response(
        StatusCode::from_u16(r.status).unwrap_or(StatusCode::BAD_REQUEST),
        &r.error,
        r.code,
    )
}

fn bad(message: &str) -> Response {
    refusal(Refusal::invalid(message))
}

fn ok(status: StatusCode, data: Value, additional: Value) -> Response {
    json_response(
        status,
        &json!({"success": true, "data": data, "additional_data": additional}),
    )
}

/// The counting label of a request: ids (numbers, UUIDs) become `{id}`.
pub(crate) fn endpoint_label(method: &str, path: &str) -> String {
    let parts: Vec<&str> = path
        .split('/')
        .map(|s| {
            if (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())) || s.len() == 36 {
                "{id}"
            } else {
                s
            }
        })
        .collect();
    format!("{method} {}", parts.join("/"))
}

fn param<'a>(q: &'a [(String, String)], name: &str) -> Option<&'a str> {
    q.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

fn parse_body(body: &Bytes) -> Result<Value, Response> {
    serde_json::from_slice(body).map_err(|_| bad("Request body is not valid JSON"))
}

/// `limit`: default 100, at most 500.
fn limit(q: &[(String, String)]) -> Result<usize, Response> {
    match param(q, "limit") {
        None => Ok(100),
        Some(l) => match l.parse::<usize>() {
            Ok(n) if (1..=500).contains(&n) => Ok(n),
            _ => Err(bad("limit must be an integer between 1 and 500")),
        },
    }
}

/// A v2 cursor: base64url JSON `{field, fieldValue, sortDirection, id}`
/// (the spec's example cursor decodes to this shape).
fn encode_cursor(field: &str, value: i64, direction: &str, id: &SortId) -> String {
    let raw =
        json!({"field": field, "fieldValue": value, "sortDirection": direction, "id": id.text()});
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw.to_string())
}

fn decode_cursor(text: &str) -> Option<(i64, SortId)> {
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(text)
        .ok()?;
    let v: Value = serde_json::from_slice(&raw).ok()?;
    let id = v.get("id")?.as_str()?;
    let id = id
        .parse::<u64>()
        .map(SortId::Num)
        .unwrap_or_else(|_| SortId::Text(id.to_owned()));
    Some((v.get("fieldValue")?.as_i64()?, id))
}

fn rfc(q: &[(String, String)], name: &str) -> Result<Option<i64>, Response> {
    match param(q, name) {
        None => Ok(None),
        Some(s) => s
            .parse::<jiff::Timestamp>()
            .map(|t| Some(t.as_second()))
            .map_err(|_| bad(&format!("{name} must be an RFC 3339 date-time"))),
    }
}

/// A v2 list over `table`: filters, order, cursor paging.
fn v2_list(
    sim: &Sim,
    table: &Table,
    q: &[(String, String)],
    keep: &dyn Fn(&Row) -> bool,
    render: &dyn Fn(&Row) -> Value,
) -> Response {
    let limit = match limit(q) {
        Ok(l) => l,
        Err(r) => return r,
    };
    let (since, until) = match (rfc(q, "updated_since"), rfc(q, "updated_until")) {
        (Ok(a), Ok(b)) => (a, b),
        (Err(r), _) | (_, Err(r)) => return r,
    };
    let sort_by = param(q, "sort_by").unwrap_or("id");
    let direction = param(q, "sort_direction").unwrap_or("asc");
    if !matches!(sort_by, "id" | "update_time" | "add_time") {
        return bad("sort_by must be one of id, update_time, add_time");
    }
    if !matches!(direction, "asc" | "desc") {
        return bad("sort_direction must be asc or desc");
    }
    let after = match param(q, "cursor") {
        None => None,
        Some(c) => match decode_cursor(c) {
            Some(c) => Some(c),
            None => return bad("Invalid cursor"),
        },
    };
    let ids: Option<Vec<String>> =
        param(q, "ids").map(|s| s.split(',').map(str::to_owned).collect());
    if ids.as_ref().is_some_and(|i| i.len() > 100) {
        return bad("ids must hold at most 100 ids");
    }
    let now_ms = sim.now_ms();
    let change_query = since.is_some() || until.is_some() || sort_by == "update_time";
    let filter = |r: &&Row| {
        keep(r)
            && (!change_query || r.visible_ms <= now_ms)
            && since.is_none_or(|s| r.update >= s)
            && until.is_none_or(|u| r.update < u)
            && ids.as_ref().is_none_or(|i| i.contains(&r.id.text()))
    };
    let key = |r: &Row| -> (i64, SortId) {
        match sort_by {
            "update_time" => (r.update, r.id.clone()),
            "add_time" => (r.add, r.id.clone()),
            _ => (0, r.id.clone()),
        }
    };
    let mut page: Vec<&Row> = if sort_by == "update_time" && direction == "asc" {
        // The hot path of every change pass: a range read of the index.
        table
            .in_change_order(since, after.clone())
            .filter(filter)
            .take(limit + 1)
            .collect()
    } else {
        let mut all: Vec<&Row> = table.rows().into_iter().filter(filter).collect();
        all.sort_by_key(|r| key(r));
        if direction == "desc" {
            all.reverse();
        }
        all.into_iter()
            .filter(|r| match &after {
                None => true,
                Some(a) if direction == "asc" => key(r) > *a,
                Some(a) => key(r) < *a,
            })
            .take(limit + 1)
            .collect()
    };
    let more = page.len() > limit;
    page.truncate(limit);
    let next_cursor = if more {
        page.last().map(|r| {
            let (v, id) = key(r);
            encode_cursor(sort_by, v, direction, &id)
        })
    } else {
        None
    };
    let data: Vec<Value> = page.iter().map(|r| render(r)).collect();
    ok(
        StatusCode::OK,
        Value::Array(data),
        json!({"next_cursor": next_cursor}),
    )
}

fn custom_filter(q: &[(String, String)]) -> Result<Option<Vec<String>>, Response> {
    match param(q, "custom_fields") {
        None => Ok(None),
        Some(s) => {
            let keys: Vec<String> = s.split(',').map(str::to_owned).collect();
            if keys.len() > 15 {
                return Err(bad("custom_fields takes at most 15 keys"));
            }
            Ok(Some(keys))
        }
    }
}

async fn list_persons(State(sim): State<Arc<Sim>>, Query(q): Q) -> Response {
    let only = match custom_filter(&q) {
        Ok(o) => o,
        Err(r) => return r,
    };
    let owner = param(&q, "owner_id").map(str::to_owned);
    let db = sim.read();
    v2_list(
        &sim,
        &db.persons,
        &q,
        &|r| {
            !r.deleted
                && owner.as_deref().is_none_or(|o| {
                    r.data.get("owner_id").map(|v| v.to_string()).as_deref() == Some(o)
                })
        },
        &|r| entities::person_v2(r, only.as_deref()),
    )
}

async fn create_person(State(sim): State<Arc<Sim>>, body: Bytes) -> Response {
    let body = match parse_body(&body) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let mut db = sim.write();
    match sim.create_person(&mut db, &body) {
        // v2 answers a create with 200 (spec: addPerson responses).
        Ok(row) => ok(StatusCode::OK, entities::person_v2(&row, None), Value::Null),
        Err(r) => refusal(r),
    }
}

async fn get_person(State(sim): State<Arc<Sim>>, Path(id): Path<String>) -> Response {
    let db = sim.read();
    match db.persons.live(&id) {
        Some(row) => ok(StatusCode::OK, entities::person_v2(row, None), Value::Null),
        None => refusal(Refusal::not_found("Person")),
    }
}

async fn update_person(
    State(sim): State<Arc<Sim>>,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let body = match parse_body(&body) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let mut db = sim.write();
    match sim.update_person(&mut db, &id, &body) {
        Ok(row) => ok(StatusCode::OK, entities::person_v2(&row, None), Value::Null),
        Err(r) => refusal(r),
    }
}

async fn delete_person(State(sim): State<Arc<Sim>>, Path(id): Path<String>) -> Response {
    let mut db = sim.write();
    let Some(row) = db.persons.live(&id).cloned() else {
        return refusal(Refusal::not_found("Person"));
    };
    let row = sim.touch(Row {
        deleted: true,
        ..row
    });
    let id = row.id.text().parse::<u64>().unwrap_or(0);
    db.persons.put(row);
    ok(StatusCode::OK, json!({"id": id}), Value::Null)
}

/// `GET /api/v2/persons/search`: `term` (2 characters at least, 1 with
/// `exact_match`), `fields` (`custom_fields,email,notes,phone,name`),
/// `exact_match` (not case sensitive), `limit`; live persons only.
async fn search_persons(State(sim): State<Arc<Sim>>, Query(q): Q) -> Response {
    let Some(term) = param(&q, "term") else {
        return bad("term is required");
    };
    let exact = param(&q, "exact_match") == Some("true");
    if term.chars().count() < if exact { 1 } else { 2 } {
        return bad("term must be at least 2 characters long (1 with exact_match)");
    }
    let fields: Vec<&str> = param(&q, "fields")
        .map(|f| f.split(',').collect())
        .unwrap_or_else(|| vec!["custom_fields", "email", "notes", "phone", "name"]);
    if fields
        .iter()
        .any(|f| !matches!(*f, "custom_fields" | "email" | "notes" | "phone" | "name"))
    {
        return bad("fields must be among custom_fields, email, notes, phone, name");
    }
    let limit = match limit(&q) {
        Ok(l) => l,
        Err(r) => return r,
    };
    let needle = term.to_lowercase();
    let matches = |text: &str| {
        let text = text.to_lowercase();
        if exact {
            text == needle
        } else {
            text.contains(&needle)
        }
    };
    let list_values = |row: &Row, key: &str| -> Vec<String> {
        row.data
            .get(key)
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|i| i.get("value").and_then(Value::as_str).map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    };
    let db = sim.read();
    let mut items = Vec::new();
    for row in db.persons.rows() {
        if row.deleted {
            continue;
        }
        let hit = fields.iter().any(|f| match *f {
            "email" => list_values(row, "emails").iter().any(|v| matches(v)),
            "phone" => list_values(row, "phones").iter().any(|v| matches(v)),
            "name" => row
                .data
                .get("name")
                .and_then(Value::as_str)
                .is_some_and(matches),
            "custom_fields" => row
                .data
                .get("custom_fields")
                .and_then(Value::as_object)
                .is_some_and(|c| {
                    c.values().any(|v| match v {
                        Value::String(s) => matches(s),
                        Value::Number(n) => matches(&n.to_string()),
                        _ => false,
                    })
                }),
            _ => false,
        });
        if hit {
            items.push(json!({
                "result_score": if exact { 1.0 } else { 0.5 },
                "item": {
                    "id": row.id.text().parse::<u64>().unwrap_or(0),
                    "type": "person",
                    "name": row.data.get("name").cloned().unwrap_or(Value::Null),
                    "phones": list_values(row, "phones"),
                    "emails": list_values(row, "emails"),
                    "visible_to": row.data.get("visible_to").cloned().unwrap_or(json!(3)),
                    "owner": {"id": row.data.get("owner_id").cloned().unwrap_or(Value::Null)},
                    "organization": null,
                    "custom_fields": [],
                    "notes": [],
                    "update_time": time::rfc3339(jiff::Timestamp::from_second(row.update).unwrap_or(jiff::Timestamp::UNIX_EPOCH)),
                }
            }));
            if items.len() >= limit {
                break;
            }
        }
    }
    ok(
        StatusCode::OK,
        json!({"items": items}),
        json!({"next_cursor": null}),
    )
}

/// `PUT /v1/persons/{id}/merge` `{merge_with_id}`: `id` is merged into
/// `merge_with_id`, whose values win; `id` is deleted.
async fn merge_persons(
    State(sim): State<Arc<Sim>>,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let body = match parse_body(&body) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let Some(survivor_id) = body
        .get("merge_with_id")
        .and_then(|v| v.as_i64().or_else(|| v.as_str()?.parse().ok()))
    else {
        return bad("merge_with_id is required");
    };
    if survivor_id.to_string() == id {
        return bad("A person cannot be merged with itself");
    }
    let mut db = sim.write();
    let (Some(loser), Some(survivor)) = (
        db.persons.live(&id).cloned(),
        db.persons.live(&survivor_id.to_string()).cloned(),
    ) else {
        return refusal(Refusal::not_found("Person"));
    };
    let mut data = survivor.data.clone();
    for list in ["emails", "phones"] {
        let mut merged = data
            .get(list)
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        for item in loser
            .data
            .get(list)
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default()
        {
            if !merged.iter().any(|m| m.get("value") == item.get("value")) {
                let mut item = item;
                item["primary"] = json!(false);
                merged.push(item);
            }
        }
        data.insert(list.into(), Value::Array(merged));
    }
    let survivor = sim.touch(Row { data, ..survivor });
    let loser = sim.touch(Row {
        deleted: true,
        ..loser
    });
    db.persons.put(loser);
    db.persons.put(survivor.clone());
    let mut out = entities::person_v1(&survivor);
    out["merge_what_id"] = json!(id.parse::<u64>().unwrap_or(0));
    ok(StatusCode::OK, out, Value::Null)
}

/// An offset page over rows in change order from `since` (inclusive).
fn offset_page<'a>(
    sim: &Sim,
    table: &'a Table,
    since: Option<i64>,
    keep: &dyn Fn(&Row) -> bool,
    start: usize,
    limit: usize,
) -> (Vec<&'a Row>, bool) {
    let now_ms = sim.now_ms();
    let mut rows: Vec<&Row> = table
        .in_change_order(since, None)
        .filter(|r| keep(r) && r.visible_ms <= now_ms)
        .skip(start)
        .take(limit + 1)
        .collect();
    let more = rows.len() > limit;
    rows.truncate(limit);
    (rows, more)
}

fn start_param(q: &[(String, String)]) -> Result<usize, Response> {
    match param(q, "start") {
        None => Ok(0),
        Some(s) => s
            .parse()
            .map_err(|_| bad("start must be a non-negative integer")),
    }
}

/// `GET /v1/recents?since_timestamp=…&items=person`: live and deleted
/// persons changed at or after the timestamp, in change order.
async fn recents(State(sim): State<Arc<Sim>>, Query(q): Q) -> Response {
    let Some(since) = param(&q, "since_timestamp") else {
        return bad("since_timestamp is required");
    };
    let Some(since_t) = time::parse(since).filter(|_| !since.contains('T')) else {
        return bad("since_timestamp must be YYYY-MM-DD HH:MM:SS");
    };
    let (start, limit) = match (start_param(&q), limit(&q)) {
        (Ok(s), Ok(l)) => (s, l),
        (Err(r), _) | (_, Err(r)) => return r,
    };
    let persons = param(&q, "items").is_none_or(|i| i.split(',').any(|x| x == "person"));
    let db = sim.read();
    let (rows, more) = if persons {
        offset_page(
            &sim,
            &db.persons,
            Some(since_t.as_second()),
            &|_| true,
            start,
            limit,
        )
    } else {
        (Vec::new(), false)
    };
    let last = rows.last().map(|r| {
        time::v1(jiff::Timestamp::from_second(r.update).unwrap_or(jiff::Timestamp::UNIX_EPOCH))
    });
    let data: Vec<Value> = rows
        .iter()
        .map(|r| json!({"item": "person", "id": r.id.text().parse::<u64>().unwrap_or(0), "data": entities::person_v1(r)}))
        .collect();
    ok(
        StatusCode::OK,
        Value::Array(data),
        json!({
            "since_timestamp": since,
            "last_timestamp_on_page": last,
            "pagination": {"start": start, "limit": limit, "more_items_in_collection": more,
                           "next_start": more.then_some(start + limit)},
        }),
    )
}

async fn list_deals(State(sim): State<Arc<Sim>>, Query(q): Q) -> Response {
    let statuses: Vec<String> = match param(&q, "status") {
        None => vec!["open".into(), "won".into(), "lost".into()],
        Some(s) => s.split(',').map(str::to_owned).collect(),
    };
    if statuses
        .iter()
        .any(|s| !matches!(s.as_str(), "open" | "won" | "lost" | "deleted"))
    {
        return bad("status must be among open, won, lost, deleted");
    }
    let person = param(&q, "person_id").map(str::to_owned);
    let db = sim.read();
    let deleted_ok = statuses.iter().any(|s| s == "deleted");
    let deadline = sim.now_s() - 30 * 86_400;
    v2_list(
        &sim,
        &db.deals,
        &q,
        &|r| {
            let status_ok = if r.deleted {
                deleted_ok && r.update >= deadline
            } else {
                let s = r
                    .data
                    .get("status")
                    .and_then(Value::as_str)
                    .unwrap_or("open");
                statuses.iter().any(|x| x == s)
            };
            status_ok
                && person.as_deref().is_none_or(|p| {
                    r.data.get("person_id").map(|v| v.to_string()).as_deref() == Some(p)
                })
        },
        &entities::deal_v2,
    )
}

async fn get_deal(State(sim): State<Arc<Sim>>, Path(id): Path<String>) -> Response {
    match sim.read().deals.live(&id) {
        Some(row) => ok(StatusCode::OK, entities::deal_v2(row), Value::Null),
        None => refusal(Refusal::not_found("Deal")),
    }
}

/// `GET /v1/leads`: not archived leads; `updated_since`, `sort`
/// (`update_time ASC,id ASC` read from the index), `start`/`limit`,
/// `person_id`, `organization_id`, `owner_id`.
async fn list_leads(State(sim): State<Arc<Sim>>, Query(q): Q) -> Response {
    let (start, limit) = match (start_param(&q), limit(&q)) {
        (Ok(s), Ok(l)) => (s, l),
        (Err(r), _) | (_, Err(r)) => return r,
    };
    let since = match rfc(&q, "updated_since") {
        Ok(s) => s,
        Err(r) => return r,
    };
    let sort = param(&q, "sort").unwrap_or("add_time ASC");
    let by_update = sort.replace(' ', "").to_lowercase();
    let filters: Vec<(&str, String)> = ["person_id", "organization_id", "owner_id"]
        .iter()
        .filter_map(|k| param(&q, k).map(|v| (*k, v.to_owned())))
        .collect();
    let keep = |r: &Row| {
        !r.deleted
            && filters
                .iter()
                .all(|(k, v)| r.data.get(*k).map(|x| x.to_string()).as_deref() == Some(v.as_str()))
    };
    let db = sim.read();
    let (rows, more) = if by_update == "update_timeasc,idasc" || by_update == "update_timeasc" {
        offset_page(&sim, &db.leads, since, &keep, start, limit)
    } else if by_update == "add_timeasc" || by_update == "idasc" {
        let mut all: Vec<&Row> = db
            .leads
            .rows()
            .into_iter()
            .filter(|r| keep(r) && since.is_none_or(|s| r.update >= s))
            .collect();
        all.sort_by_key(|r| (r.add, r.id.clone()));
        let more = all.len() > start + limit;
        (all.into_iter().skip(start).take(limit).collect(), more)
    } else {
        return bad("Unsupported sort");
    };
    let data: Vec<Value> = rows.iter().map(|r| entities::lead_v1(r)).collect();
    ok(
        StatusCode::OK,
        Value::Array(data),
        json!({"start": start, "limit": limit, "more_items_in_collection": more}),
    )
}

async fn create_lead(State(sim): State<Arc<Sim>>, body: Bytes) -> Response {
    let body = match parse_body(&body) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let mut db = sim.write();
    match sim.create_lead(&mut db, &body) {
        Ok(row) => ok(StatusCode::CREATED, entities::lead_v1(&row), Value::Null),
        Err(r) => refusal(r),
    }
}

async fn get_lead(State(sim): State<Arc<Sim>>, Path(id): Path<String>) -> Response {
    match sim.read().leads.get(&id) {
        Some(row) => ok(StatusCode::OK, entities::lead_v1(row), Value::Null),
        None => refusal(Refusal::not_found("Lead")),
    }
}

async fn update_lead(State(sim): State<Arc<Sim>>, Path(id): Path<String>, body: Bytes) -> Response {
    let body = match parse_body(&body) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let mut db = sim.write();
    if db.leads.get(&id).is_some_and(|r| r.deleted) {
        // Archived leads are not editable (changelog, July 2025).
        return bad("Archived leads cannot be edited");
    }
    match sim.update_lead(&mut db, &id, &body) {
        Ok(row) => ok(StatusCode::OK, entities::lead_v1(&row), Value::Null),
        Err(r) => refusal(r),
    }
}

async fn delete_lead(State(sim): State<Arc<Sim>>, Path(id): Path<String>) -> Response {
    let mut db = sim.write();
    let key = match db.leads.get(&id) {
        Some(r) => r.id.clone(),
        None => return refusal(Refusal::not_found("Lead")),
    };
    db.leads.purge(&key);
    ok(StatusCode::OK, json!({"id": id}), Value::Null)
}

/// `POST /v1/notes`: `content` and one live parent (lead, deal or person).
async fn create_note(State(sim): State<Arc<Sim>>, body: Bytes) -> Response {
    let body = match parse_body(&body) {
        Ok(b) => b,
        Err(r) => return r,
    };
    if body
        .get("content")
        .and_then(Value::as_str)
        .is_none_or(|c| c.trim().is_empty())
    {
        return bad("Note content must be given");
    }
    let mut db = sim.write();
    let parents = [
        ("person_id", "persons", "Person"),
        ("deal_id", "deals", "Deal"),
        ("lead_id", "leads", "Lead"),
    ];
    let mut linked = false;
    for (key, table, what) in parents {
        if let Some(v) = body.get(key).filter(|v| !v.is_null()) {
            let id = v
                .as_str()
                .map(str::to_owned)
                .unwrap_or_else(|| v.to_string());
            if db.table(table).and_then(|t| t.live(&id)).is_none() {
                return refusal(Refusal::not_found(what));
            }
            linked = true;
        }
    }
    if !linked {
        return bad("Lead, deal, person, organization or project ID must be given");
    }
    let mut data = body.as_object().cloned().unwrap_or_default();
    data.insert("user_id".into(), json!(catalog::USERS[0].0));
    data.insert("active_flag".into(), json!(true));
    let id = db.notes.next_num();
    let row = sim.row(id, data);
    db.notes.put(row.clone());
    let stamp =
        time::v1(jiff::Timestamp::from_second(row.update).unwrap_or(jiff::Timestamp::UNIX_EPOCH));
    let mut out = Value::Object(row.data.clone());
    out["id"] = json!(row.id.text().parse::<u64>().unwrap_or(0));
    out["add_time"] = json!(stamp);
    out["update_time"] = json!(stamp);
    ok(StatusCode::OK, out, Value::Null)
}

const ACTIVITY_TYPES: &[&str] = &["call", "meeting", "task", "deadline", "email", "lunch"];

/// `POST /api/v2/activities`: a known `type`, an existing owner, live
/// linked records, `due_date` as `YYYY-MM-DD` and `due_time` as `HH:MM`.
async fn create_activity(State(sim): State<Arc<Sim>>, body: Bytes) -> Response {
    let body = match parse_body(&body) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let Some(obj) = body.as_object() else {
        return bad("Request body must be an object");
    };
    let kind = obj.get("type").and_then(Value::as_str).unwrap_or("task");
    if !ACTIVITY_TYPES.contains(&kind) {
        return bad("Invalid activity type");
    }
    if let Some(owner) = obj.get("owner_id") {
        if !owner.as_i64().is_some_and(catalog::is_user) {
            return bad("Invalid owner_id: user not found");
        }
    }
    if let Some(d) = obj.get("due_date").filter(|v| !v.is_null()) {
        if d.as_str()
            .is_none_or(|d| d.parse::<jiff::civil::Date>().is_err())
        {
            return bad("due_date must be YYYY-MM-DD");
        }
    }
    if let Some(t) = obj.get("due_time").filter(|v| !v.is_null()) {
        if !t
            .as_str()
            .is_some_and(|t| t.len() == 5 && format!("{t}:00").parse::<jiff::civil::Time>().is_ok())
        {
            return bad("due_time must be HH:MM");
        }
    }
    let mut db = sim.write();
    let mut person_id = Value::Null;
    if let Some(parts) = obj.get("participants") {
        let Some(parts) = parts.as_array() else {
            return bad("participants must be an array");
        };
        for p in parts {
            let id = p
                .get("person_id")
                .map(|v| v.to_string())
                .unwrap_or_default();
            if db.persons.live(&id).is_none() {
                return refusal(Refusal::not_found("Person"));
            }
            if p.get("primary").and_then(Value::as_bool) == Some(true) || person_id.is_null() {
                person_id = p.get("person_id").cloned().unwrap_or(Value::Null);
            }
        }
    }
    if let Some(d) = obj.get("deal_id").filter(|v| !v.is_null()) {
        if db.deals.live(&d.to_string()).is_none() {
            return refusal(Refusal::not_found("Deal"));
        }
    }
    if let Some(l) = obj.get("lead_id").filter(|v| !v.is_null()) {
        if db.leads.live(l.as_str().unwrap_or_default()).is_none() {
            return refusal(Refusal::not_found("Lead"));
        }
    }
    let mut data = obj.clone();
    data.insert("type".into(), json!(kind));
    data.entry("subject").or_insert(json!(kind));
    data.entry("owner_id").or_insert(json!(catalog::USERS[0].0));
    data.entry("done").or_insert(json!(false));
    data.insert("person_id".into(), person_id);
    data.insert("creator_user_id".into(), json!(catalog::USERS[0].0));
    let id = db.activities.next_num();
    let row = sim.row(id, data);
    db.activities.put(row.clone());
    ok(StatusCode::OK, activity_v2(&row), Value::Null)
}

fn activity_v2(row: &Row) -> Value {
    let mut out = Value::Object(row.data.clone());
    out["id"] = json!(row.id.text().parse::<u64>().unwrap_or(0));
    out["is_deleted"] = json!(row.deleted);
    let stamp = time::rfc3339(
        jiff::Timestamp::from_second(row.update).unwrap_or(jiff::Timestamp::UNIX_EPOCH),
    );
    out["add_time"] = json!(stamp);
    out["update_time"] = json!(stamp);
    out
}

async fn get_activity(State(sim): State<Arc<Sim>>, Path(id): Path<String>) -> Response {
    match sim.read().activities.live(&id) {
        Some(row) => ok(StatusCode::OK, activity_v2(row), Value::Null),
        None => refusal(Refusal::not_found("Activity")),
    }
}

fn fields_response(fields: Vec<Value>) -> Response {
    let n = fields.len();
    ok(
        StatusCode::OK,
        Value::Array(fields),
        json!({"pagination": {"start": 0, "limit": n, "more_items_in_collection": false}}),
    )
}

async fn person_fields() -> Response {
    fields_response(catalog::person_fields())
}

async fn deal_fields() -> Response {
    fields_response(catalog::deal_fields())
}

async fn users() -> Response {
    ok(StatusCode::OK, catalog::users(), Value::Null)
}
