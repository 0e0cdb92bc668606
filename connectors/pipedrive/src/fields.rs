//! Pipedrive entities ↔ [`Record`] fields.
//!
//! Records carry Pipedrive's own field keys (those `/v1/personFields`
//! lists): `name`, `owner_id`, `org_id`…, custom fields by their 40-character
//! hash at the root (as v1 has them; v2 nests them under `custom_fields`),
//! and `email` / `phone` as the *primary* value of the person's
//! `emails[]` / `phones[]` (`{value, primary, label}`, SEMANTICS.md §3
//! Entity shape), the one address the engine keys and maps on.

use leadbridge_core::{Fields, Record};
use serde_json::{json, Map, Value};

use crate::time;

/// The objects this connector reads and writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Object {
    /// Persons (API v2), the contact a lead belongs to.
    Persons,
    /// Leads (API v1: v2 has only lead search), the Leads Inbox.
    Leads,
    /// Deals (API v2), read for outcomes (stage, won, lost).
    Deals,
}

impl Object {
    /// The object for a configured name (`persons`, `leads`, `deals`, or the singular).
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "persons" | "person" => Some(Self::Persons),
            "leads" | "lead" => Some(Self::Leads),
            "deals" | "deal" => Some(Self::Deals),
            _ => None,
        }
    }

    /// The plural name, as used in paths and labels.
    pub fn name(self) -> &'static str {
        match self {
            Self::Persons => "persons",
            Self::Leads => "leads",
            Self::Deals => "deals",
        }
    }
}

/// A custom field key: 40 lowercase hex characters (spec: "randomly
/// generated 40-character hashes"; `client-nodejs` `replaceCamelCaseObj`
/// tests `/^[a-f0-9]{40}$/i`).
pub fn is_custom_key(key: &str) -> bool {
    key.len() == 40 && key.bytes().all(|b| b.is_ascii_hexdigit())
}

/// An entity id as text (persons and deals have numbers, leads UUIDs).
pub fn id_text(v: &Value) -> Option<String> {
    match v {
        Value::Number(n) => Some(n.to_string()),
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        _ => None,
    }
}

/// The primary value of a `[{value, primary, label}]` list (the first one
/// when none is marked), or of a v2 search hit's plain string list.
pub fn primary(list: &Value) -> Value {
    let Some(items) = list.as_array() else {
        return Value::Null;
    };
    let pick = items
        .iter()
        .find(|i| i.get("primary").and_then(Value::as_bool) == Some(true))
        .or_else(|| items.first());
    match pick {
        Some(Value::String(s)) => json!(s),
        Some(item) => item
            .get("value")
            .cloned()
            .filter(|v| v.as_str().is_some_and(|s| !s.is_empty()))
            .unwrap_or(Value::Null),
        None => Value::Null,
    }
}

/// A v1 reference (`owner_id: {id, name, value…}`) or a plain id, as a number or text.
fn reference(v: &Value) -> Value {
    match v {
        Value::Object(o) => o
            .get("value")
            .or_else(|| o.get("id"))
            .cloned()
            .unwrap_or(Value::Null),
        other => other.clone(),
    }
}

/// Which shape an entity came in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// API v2: custom fields under `custom_fields`, `emails[]`/`phones[]`, `is_deleted`.
    V2,
    /// API v1 persons (`/v1/recents`): custom fields at the root,
    /// `email[]`/`phone[]`, references as objects, `active_flag`.
    V1Person,
    /// `/v1/leads`: custom fields at the root, no deletion flag.
    Lead,
}

/// The record for one entity with the requested `fields` (absent ones as
/// null); `None` when it has no id or no readable `update_time`.
pub fn record(shape: Shape, entity: &Value, fields: &[String]) -> Option<Record> {
    let id = id_text(entity.get("id")?)?;
    let stamp = entity
        .get("update_time")
        .and_then(Value::as_str)
        .and_then(time::parse)
        .or_else(|| {
            entity
                .get("add_time")
                .and_then(Value::as_str)
                .and_then(time::parse)
        })?;
    let mut record = Record::new(id, stamp);
    record.archived = match shape {
        Shape::V2 => entity.get("is_deleted").and_then(Value::as_bool) == Some(true),
        Shape::V1Person => entity.get("active_flag").and_then(Value::as_bool) == Some(false),
        Shape::Lead => entity.get("is_archived").and_then(Value::as_bool) == Some(true),
    };
    for field in fields {
        record
            .fields
            .insert(field.clone(), value(shape, entity, field));
    }
    Some(record)
}

fn value(shape: Shape, entity: &Value, field: &str) -> Value {
    let get = |k: &str| entity.get(k).cloned().unwrap_or(Value::Null);
    match (shape, field) {
        (Shape::V2, "email") => primary(&get("emails")),
        (Shape::V2, "phone") => primary(&get("phones")),
        (Shape::V1Person, "email" | "phone") => primary(&get(field)),
        (Shape::V1Person, "emails") => get("email"),
        (Shape::V1Person, "phones") => get("phone"),
        (Shape::V1Person, "owner_id" | "org_id") => reference(&get(field)),
        (Shape::V2, key) if is_custom_key(key) => entity
            .get("custom_fields")
            .and_then(|c| c.get(key))
            .cloned()
            .unwrap_or(Value::Null),
        (_, key) => get(key),
    }
}

/// A v2 person body from record fields: `email`/`phone` become the primary
/// entry of `emails[]`/`phones[]`, hashes go under `custom_fields`.
pub fn person_body(fields: &Fields) -> Value {
    let mut body = Map::new();
    let mut custom = Map::new();
    for (k, v) in fields {
        match k.as_str() {
            "email" | "phone" => {
                let list = match v {
                    Value::Null => json!([]),
                    Value::String(s) if s.is_empty() => json!([]),
                    other => json!([{
                        "value": other.as_str().map(str::to_owned).unwrap_or_else(|| other.to_string()),
                        "primary": true,
                        "label": "work",
                    }]),
                };
                body.insert(format!("{k}s"), list);
            }
            key if is_custom_key(key) => {
                custom.insert(key.to_owned(), v.clone());
            }
            key => {
                body.insert(key.to_owned(), v.clone());
            }
        }
    }
    if !custom.is_empty() {
        body.insert("custom_fields".into(), Value::Object(custom));
    }
    Value::Object(body)
}

/// A v1 lead body: every field at the root, custom hashes included (leads
/// share the deal fields' hashes).
pub fn lead_body(fields: &Fields) -> Value {
    Value::Object(fields.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    const HASH: &str = "0123456789abcdef0123456789abcdef01234567";

    #[test]
    fn v2_and_v1_persons_give_the_same_fields() {
        let fields: Vec<String> = ["name", "email", "phone", "owner_id", HASH]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let v2 = json!({"id": 7, "name": "Ana Costa", "owner_id": 3, "update_time": "2026-01-01T10:00:00Z",
            "emails": [{"value": "old@x.example", "primary": false, "label": "home"},
                       {"value": "ana@x.example", "primary": true, "label": "work"}],
            "phones": [], "is_deleted": false, "custom_fields": {HASH: 91}});
        let v1 = json!({"id": 7, "name": "Ana Costa", "owner_id": {"id": 3, "value": 3}, "update_time": "2026-01-01 10:00:00",
            "email": [{"value": "ana@x.example", "primary": true, "label": "work"}],
            "phone": [{"value": "", "primary": true}], "active_flag": false, HASH: 91});
        let a = record(Shape::V2, &v2, &fields).unwrap();
        let b = record(Shape::V1Person, &v1, &fields).unwrap();
        assert_eq!(a.fields, b.fields);
        assert_eq!(a.modified_at, b.modified_at);
        assert_eq!(a.text("email").as_deref(), Some("ana@x.example"));
        assert!(!a.archived && b.archived);
    }

    #[test]
    fn person_bodies_nest_emails_and_custom_fields() {
        let mut f = Fields::new();
        f.insert("name".into(), json!("Ana"));
        f.insert("email".into(), json!("ana@x.example"));
        f.insert(HASH.into(), json!(12));
        let body = person_body(&f);
        assert_eq!(body["emails"][0]["value"], "ana@x.example");
        assert_eq!(body["emails"][0]["primary"], true);
        assert_eq!(body["custom_fields"][HASH], 12);
        assert!(body.get(HASH).is_none());
        assert!(is_custom_key(HASH) && !is_custom_key("name"));
    }
}
