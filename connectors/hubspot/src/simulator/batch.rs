//! `POST /crm/v3/objects/{object}/batch/{read|create|update|upsert|archive}`,
//! refusing as HubSpot refuses (SEMANTICS.md R2.8):
//!
//! - a batch names one record twice (same `id`, or same `idProperty` value)
//!   → 400 "Duplicate IDs found in batch input: [...]. IDs must be unique",
//!   with or without trace ids, nothing written;
//! - a write batch answers per record (207 with `errors[]` carrying
//!   `context.objectWriteTraceId`) only when every input carries a unique
//!   `objectWriteTraceId`, and an upsert by `email` never does ("Partial
//!   upserts are not supported with idProperty=email"); otherwise the first
//!   bad input fails the whole request and nothing is written: 409 CONFLICT
//!   "Contact already exists. Existing ID: <id>" naming only the first
//!   conflict (two inputs with one email conflict too), 400 VALIDATION_ERROR
//!   with `errors[].code` (`PROPERTY_DOESNT_EXIST`, `INVALID_OPTION`…);
//! - batch update takes record ids only: any `idProperty` is refused with
//!   HubSpot's "Unable to perform update/upsert by non-unique … property"
//!   (a 400 seen in public traces), and a merged-away id is not found there
//!   (unlike a single PATCH, R2.7).
//!
//! Every write input is planned (validated, resolved, checked for
//! conflicts against the account and the batch's earlier inputs) before
//! anything is applied, so a refused batch leaves the account untouched.

// Helpers answer `Err(Response)` so a handler can return the error as is.
#![allow(clippy::result_large_err)]

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{json, Map, Value};

use super::api::{
    bad_request, batch_error, batch_response, check_associations, check_unique_prop, parse_body,
    render, resolve, single_error, unknown_object, write_error_entry, Links, WriteFailure,
};
use super::errors::{error, error_with};
use super::schema::ObjectType;
use super::store::{Db, PropError};
use super::{Shared, PORTAL_ID};
use crate::time::iso_ms;

/// The most inputs one batch takes.
const BATCH_MAX: usize = 100;

pub(super) fn text_of(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

pub(super) fn with_trace(mut object: Value, trace: Option<&str>) -> Value {
    if let (Some(t), Some(o)) = (trace, object.as_object_mut()) {
        o.insert("objectWriteTraceId".into(), Value::String(t.to_owned()));
    }
    object
}

fn inputs(body: &Value) -> Result<Vec<Value>, Response> {
    let inputs = body
        .get("inputs")
        .and_then(Value::as_array)
        .cloned()
        .ok_or_else(|| bad_request("inputs is required"))?;
    if inputs.len() > BATCH_MAX {
        return Err(bad_request(format!(
            "Batch input size of {} exceeds the maximum of {BATCH_MAX}",
            inputs.len()
        )));
    }
    Ok(inputs)
}

/// R2.8: "Duplicate IDs found in batch input: [12877907025]. IDs must be
/// unique", `context.ids`, 400 VALIDATION_ERROR, whatever else the batch
/// carries. Email values compare without case, as HubSpot matches them.
fn duplicate_ids(inputs: &[Value]) -> Result<(), Response> {
    let mut seen = HashSet::new();
    let mut duplicates: Vec<String> = Vec::new();
    for input in inputs {
        let Some(id) = text_of(input.get("id")) else {
            continue;
        };
        if !seen.insert(id.trim().to_lowercase()) && !duplicates.contains(&id) {
            duplicates.push(id);
        }
    }
    if duplicates.is_empty() {
        return Ok(());
    }
    Err(error_with(
        StatusCode::BAD_REQUEST,
        "VALIDATION_ERROR",
        format!(
            "Duplicate IDs found in batch input: [{}]. IDs must be unique",
            duplicates.join(", ")
        ),
        json!({ "context": { "ids": duplicates } }),
    ))
}

/// Every input carries an `objectWriteTraceId`, each a different one: the
/// condition for a per-record (207) answer.
fn traced(inputs: &[Value]) -> bool {
    let mut seen = HashSet::new();
    !inputs.is_empty()
        && inputs
            .iter()
            .all(|i| text_of(i.get("objectWriteTraceId")).is_some_and(|t| seen.insert(t)))
}

/// HubSpot's refusal of an `idProperty` that cannot key an update.
fn non_unique(kind: ObjectType, prop: &str) -> Response {
    bad_request(format!(
        "Unable to perform update/upsert by non-unique {} property {prop} in portal ID {PORTAL_ID}",
        kind.type_id()
    ))
}

/// A write checked against the account and the batch's earlier inputs.
pub(super) enum Plan {
    Create {
        changes: Vec<(usize, String)>,
        links: Links,
    },
    Update {
        id: u64,
        changes: Vec<(usize, String)>,
    },
}

/// Emails the batch's earlier inputs create or set, with the id the
/// record holding them has (or would get).
pub(super) type Claimed = HashMap<String, u64>;

fn email_conflict(
    db: &Db,
    kind: ObjectType,
    changes: &[(usize, String)],
    own: Option<u64>,
    claimed: &Claimed,
) -> Result<Option<String>, WriteFailure> {
    let Some(idx) = kind.prop("email").filter(|_| kind == ObjectType::Contacts) else {
        return Ok(None);
    };
    let Some((_, email)) = changes.iter().find(|(i, v)| *i == idx && !v.is_empty()) else {
        return Ok(None);
    };
    if db.blocklist.contains(&email.trim().to_lowercase()) {
        return Err(WriteFailure::Invalid(vec![PropError {
            name: "email".into(),
            code: "GDPR_BLACKLISTED_EMAIL",
            message: format!("{email} was permanently deleted under GDPR and cannot be used again"),
        }]));
    }
    if let Some(existing) = db.store(kind).by_email(email).filter(|e| Some(*e) != own) {
        return Err(WriteFailure::Conflict(existing));
    }
    let key = email.trim().to_lowercase();
    if let Some(earlier) = claimed.get(&key).filter(|e| Some(**e) != own) {
        return Err(WriteFailure::Conflict(*earlier));
    }
    Ok(Some(key))
}

/// Plans a create: valid values, required properties, live association
/// targets, no email that a live contact or an earlier input holds.
pub(super) fn plan_create(
    db: &Db,
    kind: ObjectType,
    properties: &Map<String, Value>,
    associations: Option<&Value>,
    claimed: &mut Claimed,
    future_id: u64,
) -> Result<Plan, WriteFailure> {
    let mut changes = db
        .store(kind)
        .validate(properties, false)
        .map_err(WriteFailure::Invalid)?;
    let missing: Vec<PropError> = kind
        .required_on_create()
        .iter()
        .filter(|name| {
            let idx = kind.prop(name);
            !changes
                .iter()
                .any(|(i, v)| Some(*i) == idx && !v.is_empty())
        })
        .map(|name| PropError {
            name: (*name).to_owned(),
            code: "REQUIRED_FIELD",
            message: format!("{name} is required"),
        })
        .collect();
    if !missing.is_empty() {
        return Err(WriteFailure::Invalid(missing));
    }
    changes.retain(|(_, v)| !v.is_empty());
    let links = check_associations(db, kind, associations)?;
    if let Some(email) = email_conflict(db, kind, &changes, None, claimed)? {
        claimed.insert(email, future_id);
    }
    Ok(Plan::Create { changes, links })
}

/// Plans an update of live record `id`.
pub(super) fn plan_update(
    db: &Db,
    kind: ObjectType,
    id: u64,
    properties: &Map<String, Value>,
    claimed: &mut Claimed,
) -> Result<Plan, WriteFailure> {
    if db.store(kind).live(id).is_none() {
        return Err(WriteFailure::NotFound);
    }
    let changes = db
        .store(kind)
        .validate(properties, false)
        .map_err(WriteFailure::Invalid)?;
    if let Some(email) = email_conflict(db, kind, &changes, Some(id), claimed)? {
        claimed.insert(email, id);
    }
    Ok(Plan::Update { id, changes })
}

/// Applies a plan; returns the record's id and whether it is new.
pub(super) fn apply(
    shared: &Shared,
    db: &mut Db,
    kind: ObjectType,
    plan: Plan,
) -> Result<(u64, bool), WriteFailure> {
    let now = shared.now_ms();
    let visible = shared.visible_ms(now);
    match plan {
        Plan::Create { changes, links } => {
            let id = db.allocate_id();
            db.store_mut(kind).create(id, &changes, now, visible)?;
            for (to_kind, to_id, fwd, rev) in links {
                db.associate((kind, id), (to_kind, to_id), fwd, rev);
            }
            Ok((id, true))
        }
        Plan::Update { id, changes } => {
            db.store_mut(kind).update(id, &changes, now, visible)?;
            Ok((id, false))
        }
    }
}

/// The route: checks the body, then runs the operation.
pub(super) async fn batch(
    State(shared): State<Arc<Shared>>,
    Path((object, op)): Path<(String, String)>,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> Response {
    let archived = super::api::Params::new(query).flag("archived");
    let Some(kind) = ObjectType::parse(&object) else {
        return unknown_object(&object);
    };
    let body: Value = match parse_body(&body) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let inputs = match inputs(&body) {
        Ok(i) => i,
        Err(r) => return r,
    };
    if op != "create" {
        if let Err(r) = duplicate_ids(&inputs) {
            return r;
        }
    }
    let started = iso_ms(jiff::Timestamp::now().as_millisecond());
    match op.as_str() {
        "read" => read(&shared, kind, &body, inputs, &started, archived),
        "create" | "update" | "upsert" => write(&shared, kind, &op, inputs, &started),
        "archive" => {
            let now = shared.now_ms();
            let mut db = shared.write();
            for input in inputs {
                if let Some(id) = text_of(input.get("id")).and_then(|s| s.parse::<u64>().ok()) {
                    let _ = db.store_mut(kind).archive(id, now);
                }
            }
            StatusCode::NO_CONTENT.into_response()
        }
        other => error(
            StatusCode::NOT_FOUND,
            "OBJECT_NOT_FOUND",
            format!("No batch operation {other:?}"),
        ),
    }
}

/// The whole-request answer to a refused batch: the first failure's own
/// status and body.
fn whole_refusal(kind: ObjectType, failure: WriteFailure, key: Option<String>) -> Response {
    match failure {
        WriteFailure::NotFound => error_with(
            StatusCode::NOT_FOUND,
            "OBJECT_NOT_FOUND",
            format!(
                "Could not get some {} objects, they may be deleted or not exist. Check that ids are valid.",
                kind.singular_upper()
            ),
            json!({ "context": { "ids": key.into_iter().collect::<Vec<_>>() } }),
        ),
        other => single_error(kind, other),
    }
}

fn write(
    shared: &Shared,
    kind: ObjectType,
    op: &str,
    inputs: Vec<Value>,
    started: &str,
) -> Response {
    let by_email = op == "upsert"
        && inputs
            .iter()
            .any(|i| i.get("idProperty").and_then(Value::as_str) == Some("email"));
    let partial = traced(&inputs) && !by_email;
    let mut db = shared.write();
    let mut claimed = Claimed::new();
    let mut planned = Vec::with_capacity(inputs.len());
    let mut creates = 0;
    for input in &inputs {
        let key = text_of(input.get("id"));
        let id_property = input.get("idProperty").and_then(Value::as_str);
        let mut properties = super::as_map(input.get("properties"));
        let plan = match (op, id_property) {
            ("update", Some(prop)) => return non_unique(kind, prop),
            ("upsert", Some(prop))
                if check_unique_prop(kind, prop).is_err() || prop == "hs_object_id" =>
            {
                return non_unique(kind, prop)
            }
            ("create", _) => plan_create(
                &db,
                kind,
                &properties,
                input.get("associations"),
                &mut claimed,
                db.next_id + creates,
            ),
            (_, prop) => {
                let key_text = key.clone().unwrap_or_default();
                match (resolve(&db, kind, &key_text, prop), op, prop) {
                    (Some(id), _, _) => plan_update(&db, kind, id, &properties, &mut claimed),
                    (None, "upsert", Some(prop)) => {
                        properties.insert(prop.to_owned(), Value::String(key_text));
                        plan_create(
                            &db,
                            kind,
                            &properties,
                            None,
                            &mut claimed,
                            db.next_id + creates,
                        )
                    }
                    _ => Err(WriteFailure::NotFound),
                }
            }
        };
        if matches!(plan, Ok(Plan::Create { .. })) {
            creates += 1;
        }
        if let (Err(_), false) = (&plan, partial) {
            let failure = plan.err().unwrap_or(WriteFailure::NotFound);
            return whole_refusal(kind, failure, key);
        }
        planned.push((plan, properties));
    }
    let mut results = Vec::new();
    let mut errors = Vec::new();
    for ((plan, properties), input) in planned.into_iter().zip(&inputs) {
        let trace = text_of(input.get("objectWriteTraceId"));
        let key = text_of(input.get("id"));
        match plan.and_then(|p| apply(shared, &mut db, kind, p)) {
            Ok((id, new)) => {
                if let Some(rec) = db.store(kind).recs.get(&id) {
                    let props: Vec<String> = properties.keys().cloned().collect();
                    let mut object =
                        with_trace(render(kind, id, rec, Some(&props)), trace.as_deref());
                    if op == "upsert" {
                        object["new"] = Value::Bool(new);
                    }
                    results.push(object);
                }
            }
            Err(e) => errors.push(write_error_entry(
                kind,
                &e,
                trace.as_deref(),
                key.as_deref().filter(|_| op != "create"),
            )),
        }
    }
    let status = if op == "create" {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    batch_response(status, results, errors, started)
}

/// Batch read: results for the ids found, one OBJECT_NOT_FOUND error naming
/// the rest (`context.ids`).
fn read(
    shared: &Shared,
    kind: ObjectType,
    body: &Value,
    inputs: Vec<Value>,
    started: &str,
    archived: bool,
) -> Response {
    let with_history = body
        .get("propertiesWithHistory")
        .and_then(Value::as_array)
        .is_some_and(|h| !h.is_empty());
    if with_history && inputs.len() > 50 {
        return bad_request("The maximum number of inputs supported in a batch request for property histories is 50");
    }
    let id_property = body.get("idProperty").and_then(Value::as_str);
    if let Some(prop) = id_property {
        if let Err(r) = check_unique_prop(kind, prop) {
            return r;
        }
    }
    let properties: Option<Vec<String>> =
        body.get("properties").and_then(Value::as_array).map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        });
    let properties = properties.filter(|p| !p.is_empty());
    let db = shared.read();
    let store = db.store(kind);
    let mut results = Vec::new();
    let mut missing = Vec::new();
    let mut seen = HashSet::new();
    for input in inputs {
        let Some(key) = text_of(input.get("id")) else {
            continue;
        };
        // `?archived=true` reads only records in the recycle bin.
        let found = if archived {
            key.parse::<u64>()
                .ok()
                .filter(|i| store.recs.get(i).is_some_and(|r| r.archived_at.is_some()))
        } else {
            super::api::resolve_following(&db, kind, &key, id_property)
        };
        match found {
            Some(id) => {
                if seen.insert(id) {
                    if let Some(rec) = store.recs.get(&id) {
                        results.push(render(kind, id, rec, properties.as_deref()));
                    }
                }
            }
            None => missing.push(key),
        }
    }
    let errors = if missing.is_empty() {
        Vec::new()
    } else {
        let mut context = Map::new();
        context.insert("ids".into(), json!(missing));
        vec![batch_error(
            "OBJECT_NOT_FOUND",
            format!(
                "Could not get some {} objects, they may be deleted or not exist. Check that ids are valid.",
                kind.singular_upper()
            ),
            context,
            json!([]),
        )]
    };
    batch_response(StatusCode::OK, results, errors, started)
}
