//! The vendor paths: objects, search, batch, properties, associations, OAuth.

// Helpers answer `Err(Response)` so a handler can return the error as is;
// boxing the response would only add an allocation on the error path.
#![allow(clippy::result_large_err)]

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use base64_free::decode_basic;
use serde::de::DeserializeOwned;
use serde_json::{json, Map, Value};

use super::errors::{error, validation, validation_body};
use super::schema::{default_association, reverse_association, ObjectType};
use super::search::{Query, SearchBody};
use super::store::{value_of, Db, PropError, Rec, WriteError};
use super::Shared;
use crate::time::iso_ms;

type St = State<Arc<Shared>>;

pub(crate) fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/oauth/v1/token", post(token_v1))
        .route("/oauth/v3/token", post(token_v3))
        .route("/oauth/authorize", get(authorize))
        .route("/account-info/v3/details", get(super::account::details))
        .route("/crm/v3/owners", get(super::owners::list))
        .route("/crm/v3/properties/{object}", get(properties))
        .route("/crm/v3/properties/{object}/{name}", get(property))
        .route("/crm/v3/objects/{object}", get(list).post(create_one))
        .route("/crm/v3/objects/{object}/search", post(search))
        .route("/crm/v3/objects/{object}/merge", post(super::merge::merge))
        .route(
            "/crm/v3/objects/contacts/gdpr-delete",
            post(super::merge::gdpr_delete),
        )
        .route(
            "/crm/v3/objects/{object}/batch/{op}",
            post(super::batch::batch),
        )
        .route(
            "/crm/v3/objects/{object}/{id}",
            get(get_one).patch(update_one).delete(archive_one),
        )
        .route(
            "/crm/v4/objects/{object}/{id}/associations/{to}",
            get(list_associations),
        )
        .route(
            "/crm/v4/objects/{object}/{id}/associations/default/{to}/{to_id}",
            put(associate_default),
        )
        .route(
            "/crm/v4/objects/{object}/{id}/associations/{to}/{to_id}",
            put(associate_labelled),
        )
        .with_state(shared)
}

/// HTTP Basic credentials, without pulling in a base64 crate for one header.
mod base64_free {
    pub(crate) fn decode_basic(value: &str) -> Option<(String, String)> {
        let encoded = value.strip_prefix("Basic ")?.trim();
        let mut bits: u32 = 0;
        let mut n = 0;
        let mut out = Vec::new();
        for c in encoded.bytes() {
            let v = match c {
                b'A'..=b'Z' => c - b'A',
                b'a'..=b'z' => c - b'a' + 26,
                b'0'..=b'9' => c - b'0' + 52,
                b'+' | b'-' => 62,
                b'/' | b'_' => 63,
                b'=' => break,
                _ => return None,
            };
            bits = (bits << 6) | v as u32;
            n += 6;
            if n >= 8 {
                n -= 8;
                out.push((bits >> n) as u8);
                bits &= (1 << n) - 1;
            }
        }
        let text = String::from_utf8(out).ok()?;
        let (user, pass) = text.split_once(':')?;
        Some((user.to_owned(), pass.to_owned()))
    }
}

pub(super) fn unknown_object(object: &str) -> Response {
    error(
        StatusCode::BAD_REQUEST,
        "VALIDATION_ERROR",
        format!("Unable to infer object type from: {object}"),
    )
}

pub(super) fn not_found(kind: ObjectType) -> Response {
    error(
        StatusCode::NOT_FOUND,
        "OBJECT_NOT_FOUND",
        format!("resource not found: the {} does not exist", kind.name()),
    )
}

pub(super) fn bad_request(message: impl Into<String>) -> Response {
    error(StatusCode::BAD_REQUEST, "VALIDATION_ERROR", message)
}

pub(super) fn parse_body<T: DeserializeOwned>(body: &Bytes) -> Result<T, Response> {
    let slice: &[u8] = if body.iter().all(u8::is_ascii_whitespace) {
        b"{}"
    } else {
        body
    };
    serde_json::from_slice(slice).map_err(|e| {
        bad_request(format!(
            "Invalid input JSON on line {}, column {}: {e}",
            e.line(),
            e.column()
        ))
    })
}

/// Query parameters, with repeated and comma-separated lists both accepted
/// (`properties=a,b` or `properties=a&properties=b`).
pub(super) struct Params(Vec<(String, String)>);

impl Params {
    pub(super) fn new(raw: Option<String>) -> Self {
        Self(
            url::form_urlencoded::parse(raw.unwrap_or_default().as_bytes())
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        )
    }

    pub(super) fn one(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    pub(super) fn list(&self, name: &str) -> Option<Vec<String>> {
        let values: Vec<String> = self
            .0
            .iter()
            .filter(|(k, _)| k == name)
            .flat_map(|(_, v)| v.split(','))
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
            .collect();
        (!values.is_empty()).then_some(values)
    }

    pub(super) fn flag(&self, name: &str) -> bool {
        self.one(name)
            .is_some_and(|v| v.eq_ignore_ascii_case("true"))
    }
}

/// An object as HubSpot returns it. `properties` selects the properties
/// (unknown names ignored; `None` for the default set); the id and date
/// properties always come back.
pub(crate) fn render(kind: ObjectType, id: u64, rec: &Rec, properties: Option<&[String]>) -> Value {
    let mut props = Map::new();
    let mut put = |name: &str, with_null: bool| {
        if props.contains_key(name) {
            return;
        }
        if let Some(idx) = kind.prop(name) {
            match value_of(kind, id, rec, idx) {
                Some(v) => {
                    props.insert(name.to_owned(), Value::String(v));
                }
                None if with_null => {
                    props.insert(name.to_owned(), Value::Null);
                }
                None => {}
            }
        }
    };
    match properties {
        Some(list) => {
            for name in list {
                put(name, true);
            }
        }
        None => {
            for name in kind.default_properties() {
                put(name, true);
            }
        }
    }
    for (i, def) in kind.props().iter().enumerate() {
        if def.computed.is_some() {
            let _ = i;
            put(def.name, false);
        }
    }
    let mut out = json!({
        "id": id.to_string(),
        "properties": props,
        "createdAt": iso_ms(rec.created),
        "updatedAt": iso_ms(rec.modified),
        "archived": rec.archived_at.is_some(),
    });
    if let (Some(at), Some(o)) = (rec.archived_at, out.as_object_mut()) {
        o.insert("archivedAt".into(), Value::String(iso_ms(at)));
    }
    out
}

pub(super) fn batch_response(
    status: StatusCode,
    results: Vec<Value>,
    errors: Vec<Value>,
    started: &str,
) -> Response {
    let status = if errors.is_empty() {
        status
    } else {
        StatusCode::MULTI_STATUS
    };
    let now = iso_ms(jiff::Timestamp::now().as_millisecond());
    let mut body = json!({
        "status": "COMPLETE",
        "results": results,
        "startedAt": started,
        "completedAt": now,
    });
    if !errors.is_empty() {
        body["numErrors"] = json!(errors.len());
        body["errors"] = Value::Array(errors);
    }
    (status, Json(body)).into_response()
}

/// One entry of a batch's `errors`.
pub(super) fn batch_error(
    category: &str,
    message: String,
    context: Map<String, Value>,
    errors: Value,
) -> Value {
    json!({
        "status": "error",
        "category": category,
        "message": message,
        "context": context,
        "errors": errors,
        "links": {},
    })
}

pub(super) fn trace_context(trace: Option<&str>) -> Map<String, Value> {
    let mut c = Map::new();
    if let Some(t) = trace {
        c.insert("objectWriteTraceId".into(), json!([t]));
    }
    c
}

pub(super) fn write_error_entry(
    kind: ObjectType,
    err: &WriteFailure,
    trace: Option<&str>,
    id: Option<&str>,
) -> Value {
    let mut context = trace_context(trace);
    match err {
        WriteFailure::Invalid(errors) => {
            let (message, details) = validation_body(errors);
            batch_error("VALIDATION_ERROR", message, context, details)
        }
        WriteFailure::Conflict(existing) => {
            context.insert("existingId".into(), json!([existing.to_string()]));
            batch_error(
                "CONFLICT",
                format!("{} already exists. Existing ID: {existing}", title(kind)),
                context,
                json!([]),
            )
        }
        WriteFailure::NotFound => {
            if let Some(id) = id {
                context.insert("ids".into(), json!([id]));
            }
            batch_error(
                "OBJECT_NOT_FOUND",
                format!(
                    "Could not get some {} objects, they may be deleted or not exist. Check that ids are valid.",
                    kind.singular_upper()
                ),
                context,
                json!([]),
            )
        }
        WriteFailure::Association(message) => {
            batch_error("VALIDATION_ERROR", message.clone(), context, json!([]))
        }
    }
}

pub(super) fn title(kind: ObjectType) -> &'static str {
    match kind {
        ObjectType::Contacts => "Contact",
        ObjectType::Companies => "Company",
        ObjectType::Deals => "Deal",
        ObjectType::Notes => "Note",
        ObjectType::Tasks => "Task",
    }
}

/// Why one write failed.
#[derive(Debug)]
pub(super) enum WriteFailure {
    Invalid(Vec<PropError>),
    Conflict(u64),
    NotFound,
    Association(String),
}

impl From<WriteError> for WriteFailure {
    fn from(e: WriteError) -> Self {
        match e {
            WriteError::Invalid(v) => Self::Invalid(v),
            WriteError::Conflict(id) => Self::Conflict(id),
            WriteError::NotFound => Self::NotFound,
        }
    }
}

pub(super) fn single_error(kind: ObjectType, err: WriteFailure) -> Response {
    match err {
        WriteFailure::Invalid(errors) => validation(&errors),
        WriteFailure::Conflict(existing) => error(
            StatusCode::CONFLICT,
            "CONFLICT",
            format!("{} already exists. Existing ID: {existing}", title(kind)),
        ),
        WriteFailure::NotFound => not_found(kind),
        WriteFailure::Association(message) => bad_request(message),
    }
}

/// Validated inline associations: `(to object, to id, type id, reverse type id)`.
pub(super) type Links = Vec<(ObjectType, u64, u16, u16)>;

pub(super) fn check_associations(
    db: &Db,
    kind: ObjectType,
    associations: Option<&Value>,
) -> Result<Links, WriteFailure> {
    let mut out = Vec::new();
    let Some(list) = associations.and_then(Value::as_array) else {
        return Ok(out);
    };
    for a in list {
        let to_id = a
            .pointer("/to/id")
            .map(|v| match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            })
            .unwrap_or_default();
        let Ok(to_id) = to_id.parse::<u64>() else {
            return Err(WriteFailure::Association(format!(
                "Invalid association target id {to_id:?}"
            )));
        };
        let types = a
            .get("types")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        if types.is_empty() {
            return Err(WriteFailure::Association(
                "An association needs at least one type".into(),
            ));
        }
        for t in types {
            let type_id = t
                .get("associationTypeId")
                .and_then(Value::as_u64)
                .unwrap_or(0) as u16;
            let found = ObjectType::ALL
                .iter()
                .find_map(|to| reverse_association(kind, *to, type_id).map(|rev| (*to, rev)));
            let Some((to_kind, rev)) = found else {
                return Err(WriteFailure::Association(format!(
                    "{type_id} is not a valid association type id for {}",
                    kind.name()
                )));
            };
            if db.store(to_kind).live(to_id).is_none() {
                return Err(WriteFailure::Association(format!(
                    "One or more associations are invalid: {} {to_id} does not exist",
                    to_kind.singular_upper()
                )));
            }
            out.push((to_kind, to_id, type_id, rev));
        }
    }
    Ok(out)
}

/// Creates a record (properties, inline associations); the caller holds the write lock.
pub(super) fn create_in(
    shared: &Shared,
    db: &mut Db,
    kind: ObjectType,
    properties: &Map<String, Value>,
    associations: Option<&Value>,
) -> Result<u64, WriteFailure> {
    let plan = super::batch::plan_create(
        db,
        kind,
        properties,
        associations,
        &mut Default::default(),
        db.next_id,
    )?;
    super::batch::apply(shared, db, kind, plan).map(|(id, _)| id)
}

/// Updates live record `id`; the caller holds the write lock.
pub(super) fn update_in(
    shared: &Shared,
    db: &mut Db,
    kind: ObjectType,
    id: u64,
    properties: &Map<String, Value>,
) -> Result<(), WriteFailure> {
    let plan = super::batch::plan_update(db, kind, id, properties, &mut Default::default())?;
    super::batch::apply(shared, db, kind, plan).map(|_| ())
}

/// [`resolve`], following merges: single GET and PATCH, and batch read,
/// answer a merged-away id with the record it was merged into (R2.7).
pub(super) fn resolve_following(
    db: &Db,
    kind: ObjectType,
    id: &str,
    id_property: Option<&str>,
) -> Option<u64> {
    match id_property {
        None | Some("hs_object_id") => id.parse().ok().and_then(|i| db.follow(kind, i)),
        Some(_) => resolve(db, kind, id, id_property),
    }
}

pub(super) fn resolve(
    db: &Db,
    kind: ObjectType,
    id: &str,
    id_property: Option<&str>,
) -> Option<u64> {
    match id_property {
        None | Some("hs_object_id") => id
            .parse()
            .ok()
            .filter(|i| db.store(kind).live(*i).is_some()),
        Some(prop) => db.store(kind).by_unique(prop, id),
    }
}

pub(super) fn check_unique_prop(kind: ObjectType, prop: &str) -> Result<(), Response> {
    let ok = match kind.prop(prop) {
        Some(idx) => kind.props()[idx].unique || (kind == ObjectType::Contacts && prop == "email"),
        None => false,
    };
    if ok {
        Ok(())
    } else {
        Err(bad_request(format!(
            "{prop} is not a unique property of {}: use hs_object_id, or a property with unique values",
            kind.name()
        )))
    }
}

async fn list(State(shared): St, Path(object): Path<String>, RawQuery(q): RawQuery) -> Response {
    let Some(kind) = ObjectType::parse(&object) else {
        return unknown_object(&object);
    };
    let params = Params::new(q);
    let limit = match params.one("limit").map(str::parse::<usize>) {
        None => 10,
        Some(Ok(n)) => n.clamp(1, 100),
        Some(Err(_)) => return bad_request("limit must be a number"),
    };
    let after: u64 = match params
        .one("after")
        .filter(|a| !a.is_empty())
        .map(str::parse)
    {
        None => 0,
        Some(Ok(a)) => a,
        Some(Err(_)) => return bad_request("Invalid after token"),
    };
    let archived = params.flag("archived");
    let properties = params.list("properties");
    let db = shared.read();
    let store = db.store(kind);
    let mut results = Vec::with_capacity(limit);
    let mut next = None;
    let ids: Box<dyn Iterator<Item = u64>> = if archived {
        Box::new(store.archived.range(after..).copied())
    } else {
        Box::new(
            store
                .recs
                .range(after..)
                .filter(|(_, r)| r.archived_at.is_none())
                .map(|(id, _)| *id),
        )
    };
    for id in ids {
        if results.len() == limit {
            next = Some(id);
            break;
        }
        if let Some(rec) = store.recs.get(&id) {
            results.push(render(kind, id, rec, properties.as_deref()));
        }
    }
    let mut body = json!({ "results": results });
    if let Some(next) = next {
        body["paging"] =
            json!({"next": {"after": next.to_string(), "link": format!("?after={next}")}});
    }
    Json(body).into_response()
}

async fn create_one(State(shared): St, Path(object): Path<String>, body: Bytes) -> Response {
    let Some(kind) = ObjectType::parse(&object) else {
        return unknown_object(&object);
    };
    let input: Value = match parse_body(&body) {
        Ok(v) => v,
        Err(r) => return r,
    };
    let properties = super::as_map(input.get("properties"));
    let mut db = shared.write();
    match create_in(
        &shared,
        &mut db,
        kind,
        &properties,
        input.get("associations"),
    ) {
        Ok(id) => {
            let rec = db.store(kind).recs.get(&id).cloned();
            match rec {
                Some(rec) => {
                    (StatusCode::CREATED, Json(render(kind, id, &rec, None))).into_response()
                }
                None => not_found(kind),
            }
        }
        Err(e) => single_error(kind, e),
    }
}

async fn get_one(
    State(shared): St,
    Path((object, id)): Path<(String, String)>,
    RawQuery(q): RawQuery,
) -> Response {
    let Some(kind) = ObjectType::parse(&object) else {
        return unknown_object(&object);
    };
    let params = Params::new(q);
    let properties = params.list("properties");
    let db = shared.read();
    let store = db.store(kind);
    let found = if params.flag("archived") {
        id.parse::<u64>()
            .ok()
            .filter(|i| store.recs.get(i).is_some_and(|r| r.archived_at.is_some()))
    } else {
        if let Some(prop) = params.one("idProperty") {
            if let Err(r) = check_unique_prop(kind, prop) {
                return r;
            }
        }
        resolve_following(&db, kind, &id, params.one("idProperty"))
    };
    match found.and_then(|i| store.recs.get(&i).map(|r| (i, r))) {
        Some((i, rec)) => Json(render(kind, i, rec, properties.as_deref())).into_response(),
        None => not_found(kind),
    }
}

async fn update_one(
    State(shared): St,
    Path((object, id)): Path<(String, String)>,
    RawQuery(q): RawQuery,
    body: Bytes,
) -> Response {
    let Some(kind) = ObjectType::parse(&object) else {
        return unknown_object(&object);
    };
    let params = Params::new(q);
    let input: Value = match parse_body(&body) {
        Ok(v) => v,
        Err(r) => return r,
    };
    let properties = super::as_map(input.get("properties"));
    let mut db = shared.write();
    let Some(found) = resolve_following(&db, kind, &id, params.one("idProperty")) else {
        return not_found(kind);
    };
    match update_in(&shared, &mut db, kind, found, &properties) {
        Ok(()) => match db.store(kind).recs.get(&found) {
            Some(rec) => Json(render(kind, found, rec, None)).into_response(),
            None => not_found(kind),
        },
        Err(e) => single_error(kind, e),
    }
}

async fn archive_one(State(shared): St, Path((object, id)): Path<(String, String)>) -> Response {
    let Some(kind) = ObjectType::parse(&object) else {
        return unknown_object(&object);
    };
    let now = shared.now_ms();
    let mut db = shared.write();
    if let Ok(id) = id.parse::<u64>() {
        // Archiving what is already archived or absent is a no-op, as HubSpot does.
        let _ = db.store_mut(kind).archive(id, now);
    }
    StatusCode::NO_CONTENT.into_response()
}

async fn search(State(shared): St, Path(object): Path<String>, body: Bytes) -> Response {
    let Some(kind) = ObjectType::parse(&object) else {
        return unknown_object(&object);
    };
    let body: SearchBody = match parse_body(&body) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let query = match Query::parse(kind, body) {
        Ok(q) => q,
        Err(message) => return bad_request(message),
    };
    let now = shared.now_ms();
    let db = shared.read();
    let store = db.store(kind);
    let page = query.run(store, now);
    let results: Vec<Value> = page
        .ids
        .iter()
        .filter_map(|id| {
            store
                .recs
                .get(id)
                .map(|r| render(kind, *id, r, query.properties.as_deref()))
        })
        .collect();
    let mut out = json!({ "total": page.total, "results": results });
    if let Some(after) = page.next_after {
        out["paging"] = json!({"next": {"after": after, "link": format!("?after={after}")}});
    }
    Json(out).into_response()
}

fn property_json(kind: ObjectType, idx: usize) -> Value {
    let def = &kind.props()[idx];
    let options: Vec<Value> = def
        .options
        .iter()
        .enumerate()
        .map(|(i, o)| json!({"label": o, "value": o, "displayOrder": i, "hidden": false}))
        .collect();
    json!({
        "name": def.name,
        "label": def.label,
        "type": def.kind.type_name(),
        "fieldType": def.kind.field_type(),
        "description": "",
        "groupName": format!("{}information", kind.singular_upper().to_lowercase()),
        "options": options,
        "displayOrder": idx,
        "calculated": def.calculated,
        "externalOptions": def.external_options,
        "hasUniqueValue": def.unique,
        "hidden": false,
        "hubspotDefined": !def.custom,
        "modificationMetadata": {
            "archivable": def.custom,
            "readOnlyDefinition": !def.custom,
            "readOnlyValue": def.read_only,
        },
        "formField": !def.read_only,
        "createdAt": "2019-10-30T03:30:17.883Z",
        "updatedAt": "2019-12-07T16:50:06.678Z",
        "archived": false,
    })
}

async fn properties(Path(object): Path<String>) -> Response {
    let Some(kind) = ObjectType::parse(&object) else {
        return unknown_object(&object);
    };
    let results: Vec<Value> = (0..kind.props().len())
        .map(|i| property_json(kind, i))
        .collect();
    Json(json!({ "results": results })).into_response()
}

async fn property(Path((object, name)): Path<(String, String)>) -> Response {
    let Some(kind) = ObjectType::parse(&object) else {
        return unknown_object(&object);
    };
    match kind.prop(&name) {
        Some(i) => Json(property_json(kind, i)).into_response(),
        None => error(
            StatusCode::NOT_FOUND,
            "OBJECT_NOT_FOUND",
            format!("Property {name} does not exist"),
        ),
    }
}

async fn list_associations(
    State(shared): St,
    Path((object, id, to)): Path<(String, String, String)>,
    RawQuery(q): RawQuery,
) -> Response {
    let (Some(kind), Some(to_kind)) = (ObjectType::parse(&object), ObjectType::parse(&to)) else {
        return unknown_object(&format!("{object}/{to}"));
    };
    let params = Params::new(q);
    let limit = params
        .one("limit")
        .and_then(|l| l.parse::<usize>().ok())
        .unwrap_or(500)
        .clamp(1, 500);
    let after = params
        .one("after")
        .and_then(|a| a.parse::<u64>().ok())
        .unwrap_or(0);
    let Ok(id) = id.parse::<u64>() else {
        return not_found(kind);
    };
    let db = shared.read();
    if db.store(kind).live(id).is_none() {
        return not_found(kind);
    }
    let mut grouped: std::collections::BTreeMap<u64, Vec<u16>> = Default::default();
    for (k, to_id, type_id) in db.associations.get(&(kind, id)).into_iter().flatten() {
        if *k == to_kind && *to_id >= after && db.store(to_kind).live(*to_id).is_some() {
            grouped.entry(*to_id).or_default().push(*type_id);
        }
    }
    let mut results = Vec::new();
    let mut next = None;
    for (to_id, types) in grouped {
        if results.len() == limit {
            next = Some(to_id);
            break;
        }
        let types: Vec<Value> = types
            .iter()
            .map(|t| json!({"category": "HUBSPOT_DEFINED", "typeId": t, "label": Value::Null}))
            .collect();
        results.push(json!({"toObjectId": to_id, "associationTypes": types}));
    }
    let mut body = json!({ "results": results });
    if let Some(next) = next {
        body["paging"] =
            json!({"next": {"after": next.to_string(), "link": format!("?after={next}")}});
    }
    Json(body).into_response()
}

fn associate(
    shared: &Shared,
    object: &str,
    id: &str,
    to: &str,
    to_id: &str,
    type_id: Option<u16>,
) -> Response {
    let (Some(kind), Some(to_kind)) = (ObjectType::parse(object), ObjectType::parse(to)) else {
        return unknown_object(&format!("{object}/{to}"));
    };
    let (Ok(id), Ok(to_id)) = (id.parse::<u64>(), to_id.parse::<u64>()) else {
        return bad_request("ids must be numeric");
    };
    let Some(fwd) = type_id.or_else(|| default_association(kind, to_kind)) else {
        return bad_request(format!(
            "{} cannot be associated with {}",
            kind.name(),
            to_kind.name()
        ));
    };
    let Some(rev) = reverse_association(kind, to_kind, fwd) else {
        return bad_request(format!("{fwd} is not a valid association type id"));
    };
    let mut db = shared.write();
    if db.store(kind).live(id).is_none() || db.store(to_kind).live(to_id).is_none() {
        return not_found(kind);
    }
    db.associate((kind, id), (to_kind, to_id), fwd, rev);
    Json(json!({
        "fromObjectTypeId": object,
        "fromObjectId": id,
        "toObjectTypeId": to,
        "toObjectId": to_id,
        "labels": [],
    }))
    .into_response()
}

async fn associate_default(
    State(shared): St,
    Path((object, id, to, to_id)): Path<(String, String, String, String)>,
) -> Response {
    associate(&shared, &object, &id, &to, &to_id, None)
}

async fn associate_labelled(
    State(shared): St,
    Path((object, id, to, to_id)): Path<(String, String, String, String)>,
    body: Bytes,
) -> Response {
    let specs: Vec<Value> = match parse_body::<Value>(&body) {
        Ok(Value::Array(a)) => a,
        Ok(_) => return bad_request("body must be a list of association types"),
        Err(r) => return r,
    };
    let type_id = specs
        .first()
        .and_then(|s| s.get("associationTypeId"))
        .and_then(Value::as_u64)
        .map(|t| t as u16);
    associate(&shared, &object, &id, &to, &to_id, type_id)
}

/// HubSpot's token-endpoint refusal: HTTP 400 with RFC 6749's `error` /
/// `error_description` beside HubSpot's legacy `status` / `message` (the
/// shape since Jan 2026, SEMANTICS.md R2.6).
fn oauth_error(status: &str, error_code: &str, message: &str) -> Response {
    (
        StatusCode::BAD_REQUEST,
        Json(json!({
            "error": error_code,
            "error_description": message,
            "status": status,
            "message": message,
        })),
    )
        .into_response()
}

/// The refusal bodies HubSpot has sent for a refresh, selected through the
/// control surface (`POST /__sim/tokens/refuse {"shape": …}`), each as
/// SEMANTICS.md R2.6 records it:
///
/// - `invalid_grant`: the current body (RFC fields beside legacy ones);
/// - `legacy`: only `status: BAD_REFRESH_TOKEN` and `message`, as before
///   Jan 2026 (also a `correlationId`, as some traces show);
/// - `invalid_request`: `error: invalid_request` beside `BAD_REFRESH_TOKEN`
///   (a live capture, unverified);
/// - `bad_hub`: the portal was deleted or disconnected;
/// - `bad_client_id` / `bad_client_secret`: the app is misconfigured.
fn refusal_shape(shape: &str) -> Response {
    let body = match shape {
        "legacy" => json!({
            "status": "BAD_REFRESH_TOKEN",
            "message": "missing or invalid refresh token",
            "correlationId": super::errors::correlation_id(),
        }),
        "invalid_request" => json!({
            "error": "invalid_request",
            "status": "BAD_REFRESH_TOKEN",
            "message": "missing or unknown refresh token",
        }),
        "bad_hub" => json!({
            "status": "BAD_HUB",
            "message": "missing or unknown hub id",
            "error": "access_denied",
        }),
        "bad_client_id" => json!({
            "error": "invalid_client",
            "error_description": "missing or unknown client id",
            "status": "BAD_CLIENT_ID",
            "message": "missing or unknown client id",
        }),
        "bad_client_secret" => json!({
            "error": "invalid_client",
            "error_description": "missing or invalid client secret",
            "status": "BAD_CLIENT_SECRET",
            "message": "missing or invalid client secret",
        }),
        _ => {
            return oauth_error(
                "BAD_REFRESH_TOKEN",
                "invalid_grant",
                "refresh token is invalid, expired or revoked",
            )
        }
    };
    (StatusCode::BAD_REQUEST, Json(body)).into_response()
}

/// `POST /oauth/v1/token` (deprecated, removed 2027-02-16): form-encoded,
/// parameters in the query accepted too as the v1 spec lists them, client
/// credentials in the body or as HTTP Basic.
async fn token_v1(
    State(shared): St,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut form: HashMap<String, String> = Params::new(q).0.into_iter().collect();
    form.extend(url::form_urlencoded::parse(&body).map(|(k, v)| (k.into_owned(), v.into_owned())));
    if let Some((id, secret)) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(decode_basic)
    {
        form.entry("client_id".into()).or_insert(id);
        form.entry("client_secret".into()).or_insert(secret);
    }
    token(&shared, form)
}

/// `POST /oauth/v3/token`: every parameter in the form body and nowhere
/// else (no query parameters, no HTTP Basic): SEMANTICS.md R2.6.
async fn token_v3(State(shared): St, body: Bytes) -> Response {
    let form: HashMap<String, String> = url::form_urlencoded::parse(&body)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    token(&shared, form)
}

/// The grants both token endpoints share. Refusals carry both HubSpot's
/// `status` and RFC 6749's `error`.
fn token(shared: &Shared, form: HashMap<String, String>) -> Response {
    let field = |k: &str| form.get(k).map(String::as_str).unwrap_or_default();
    let (client_id, client_secret) = (field("client_id"), field("client_secret"));
    let grant = field("grant_type");
    if grant == "refresh_token" {
        if let Some(shape) = shared.tokens.refusal() {
            return refusal_shape(&shape);
        }
    }
    let result = match grant {
        "refresh_token" => shared
            .tokens
            .refresh(client_id, client_secret, field("refresh_token"))
            .map(|i| (i, "access_token")),
        "client_credentials" => shared
            .tokens
            .client_credentials(client_id, client_secret)
            .map(|i| (i, "client_credentials")),
        "authorization_code" => {
            let verifier = form.get("code_verifier").map(String::as_str);
            shared
                .tokens
                .exchange_code(
                    client_id,
                    client_secret,
                    field("code"),
                    field("redirect_uri"),
                    verifier,
                )
                .map(|i| (i, "access_token"))
        }
        _ => {
            return oauth_error(
                "BAD_GRANT_TYPE",
                "unsupported_grant_type",
                "grant_type must be authorization_code, refresh_token or client_credentials",
            )
        }
    };
    match result {
        Ok((issued, token_use)) => {
            let mut body = json!({
                "token_type": "bearer",
                "access_token": issued.access_token,
                "expires_in": issued.expires_in.as_secs(),
                "token_use": token_use,
                "hub_id": super::PORTAL_ID,
                "user_id": 123456,
                "scopes": ["oauth", "crm.objects.contacts.read", "crm.objects.contacts.write"],
            });
            if let Some(refresh) = issued.refresh_token {
                body["refresh_token"] = Value::String(refresh);
            }
            Json(body).into_response()
        }
        Err(e) => match (e.code(), grant) {
            ("invalid_client", _) => refusal_shape("bad_client_id"),
            (_, "refresh_token") => refusal_shape("invalid_grant"),
            (code, "authorization_code") => {
                oauth_error("BAD_AUTH_CODE", code, "missing or unknown auth code")
            }
            (code, _) => oauth_error("BAD_GRANT", code, "the grant was refused"),
        },
    }
}

/// `GET /oauth/authorize`: the simulated user consents at once; redirects to
/// `redirect_uri` with `code` and `state`.
async fn authorize(State(shared): St, RawQuery(q): RawQuery) -> Response {
    let params = Params::new(q);
    let redirect = params.one("redirect_uri").unwrap_or_default().to_owned();
    let Ok(mut target) = url::Url::parse(&redirect) else {
        return bad_request("redirect_uri must be an absolute URL");
    };
    let challenge = params.one("code_challenge");
    match shared.tokens.authorize(
        params.one("client_id").unwrap_or_default(),
        &redirect,
        challenge,
    ) {
        Ok(code) => {
            {
                let mut pairs = target.query_pairs_mut();
                pairs.append_pair("code", &code);
                if let Some(state) = params.one("state") {
                    pairs.append_pair("state", state);
                }
            }
            (StatusCode::FOUND, [(header::LOCATION, target.to_string())]).into_response()
        }
        Err(_) => bad_request("unknown client_id"),
    }
}
