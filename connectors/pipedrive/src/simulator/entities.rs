//! The rules an entity's fields must follow, and how each API version
//! renders it. Validation refuses what Pipedrive refuses (400 with its
//! envelope), so the simulator is never more lenient than the vendor.

use serde_json::{json, Map, Value};

use super::catalog::{self, custom_keys};
use super::store::Row;
use crate::time;

/// A refusal: status, message, optional machine code.
#[derive(Debug, Clone, PartialEq)]
pub struct Refusal {
    /// HTTP status.
    pub status: u16,
    /// The `error` text.
    pub error: String,
    /// The `code`, when Pipedrive sends one.
    pub code: Option<&'static str>,
}

impl Refusal {
    /// A 400 schema-validation refusal (v2 answers `ERR_SCHEMA_VALIDATION_FAILED`
    /// style codes; the wording here is ours, unverified).
    pub fn invalid(error: impl Into<String>) -> Self {
        Self {
            status: 400,
            error: error.into(),
            code: Some("ERR_SCHEMA_VALIDATION_FAILED"),
        }
    }

    /// A 404 "… not found".
    pub fn not_found(what: &str) -> Self {
        Self {
            status: 404,
            error: format!("{what} not found"),
            code: None,
        }
    }
}

/// An integer, accepting Pipedrive's numeric strings too.
fn int(v: &Value) -> Option<i64> {
    v.as_i64()
        .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
}

/// Checks a custom field value against its type (v1 and v2 take the same values).
fn check_custom(object: &str, key: &str, value: &Value) -> Result<(), Refusal> {
    let keys = custom_keys(object);
    let Some((_, kind)) = keys.iter().find(|(k, _)| k == key) else {
        return Err(Refusal::invalid(format!("Unknown custom field: {key}")));
    };
    let ok = match (kind.as_str(), value) {
        (_, Value::Null) => true,
        ("double", v) => v.is_number() || v.as_str().is_some_and(|s| s.parse::<f64>().is_ok()),
        ("enum", v) => {
            int(v).is_some_and(|id| catalog::SOURCE_OPTIONS.iter().any(|(o, _)| *o == id))
        }
        (_, Value::String(_)) => true,
        _ => false,
    };
    if ok {
        Ok(())
    } else {
        Err(Refusal::invalid(format!(
            "Invalid value for custom field {key} ({kind})"
        )))
    }
}

fn check_list(key: &str, v: &Value) -> Result<Value, Refusal> {
    let Some(items) = v.as_array() else {
        return Err(Refusal::invalid(format!("{key} must be an array")));
    };
    let mut out = Vec::new();
    let mut primary_seen = false;
    for item in items {
        let value = item
            .get("value")
            .and_then(Value::as_str)
            .ok_or_else(|| Refusal::invalid(format!("{key}[].value must be a string")))?;
        let primary = item
            .get("primary")
            .and_then(Value::as_bool)
            .unwrap_or(false)
            && !primary_seen;
        primary_seen |= primary;
        out.push(json!({
            "value": value,
            "primary": primary,
            "label": item.get("label").and_then(Value::as_str).unwrap_or("work"),
        }));
    }
    if !primary_seen {
        if let Some(first) = out.first_mut() {
            first["primary"] = json!(true);
        }
    }
    Ok(Value::Array(out))
}

fn check_owner(v: &Value) -> Result<Value, Refusal> {
    match int(v) {
        Some(id) if catalog::is_user(id) => Ok(json!(id)),
        _ => Err(Refusal::invalid(format!("User {v} not found"))),
    }
}

/// Applies a v2 person body to `current` (empty for a create).
pub fn apply_person(
    current: &Map<String, Value>,
    body: &Value,
    create: bool,
) -> Result<Map<String, Value>, Refusal> {
    let Some(body) = body.as_object() else {
        return Err(Refusal::invalid("Request body must be an object"));
    };
    let mut out = current.clone();
    for (k, v) in body {
        match k.as_str() {
            "name" | "first_name" | "last_name" => {
                if !(v.is_string() || (v.is_null() && k != "name")) {
                    return Err(Refusal::invalid(format!("{k} must be a string")));
                }
                out.insert(k.clone(), v.clone());
            }
            "emails" | "phones" => {
                out.insert(k.clone(), check_list(k, v)?);
            }
            "owner_id" => {
                out.insert(k.clone(), check_owner(v)?);
            }
            "org_id" => {
                if !v.is_null() {
                    return Err(Refusal::not_found("Organization"));
                }
                out.insert(k.clone(), Value::Null);
            }
            "visible_to" => match int(v) {
                Some(n @ (1 | 3 | 5 | 7)) => {
                    out.insert(k.clone(), json!(n));
                }
                _ => return Err(Refusal::invalid("visible_to must be one of 1, 3, 5, 7")),
            },
            "label_ids" => {
                if !v.as_array().is_some_and(|a| a.iter().all(|i| i.is_i64())) {
                    return Err(Refusal::invalid("label_ids must be an array of integers"));
                }
                out.insert(k.clone(), v.clone());
            }
            "marketing_status" => {
                if !matches!(
                    v.as_str(),
                    Some("no_consent" | "unsubscribed" | "subscribed" | "archived")
                ) {
                    return Err(Refusal::invalid("Invalid marketing_status"));
                }
                out.insert(k.clone(), v.clone());
            }
            "custom_fields" => {
                let Some(fields) = v.as_object() else {
                    return Err(Refusal::invalid("custom_fields must be an object"));
                };
                let mut custom = out
                    .get("custom_fields")
                    .and_then(Value::as_object)
                    .cloned()
                    .unwrap_or_default();
                for (ck, cv) in fields {
                    check_custom("persons", ck, cv)?;
                    custom.insert(ck.clone(), cv.clone());
                }
                out.insert("custom_fields".into(), Value::Object(custom));
            }
            // Contact-sync fields: refused without contact sync (v2 spec: 403).
            "im" | "postal_address" | "notes" | "birthday" | "job_title" => {
                return Err(Refusal {
                    status: 403,
                    error: format!(
                        "Contact sync is not enabled for the company: {k} cannot be set"
                    ),
                    code: None,
                })
            }
            other => return Err(Refusal::invalid(format!("Unknown field: {other}"))),
        }
    }
    let name_ok = out
        .get("name")
        .and_then(Value::as_str)
        .is_some_and(|n| !n.trim().is_empty());
    if !name_ok && (create || body.contains_key("name")) {
        return Err(Refusal::invalid("Validation failed: name: Required"));
    }
    if let Some(name) = out.get("name").and_then(Value::as_str).map(str::to_owned) {
        if !body.contains_key("first_name")
            && !body.contains_key("last_name")
            && body.contains_key("name")
        {
            let mut parts = name.splitn(2, ' ');
            out.insert("first_name".into(), json!(parts.next().unwrap_or_default()));
            out.insert("last_name".into(), json!(parts.next().unwrap_or_default()));
        }
    }
    for list in ["emails", "phones"] {
        out.entry(list).or_insert_with(|| json!([]));
    }
    out.entry("owner_id").or_insert(json!(catalog::USERS[0].0));
    out.entry("org_id").or_insert(Value::Null);
    out.entry("visible_to").or_insert(json!(3));
    out.entry("label_ids").or_insert(json!([]));
    out.entry("custom_fields").or_insert(json!({}));
    Ok(out)
}

/// Applies a v1 lead body. `person_live` says whether a person id exists.
pub fn apply_lead(
    current: &Map<String, Value>,
    body: &Value,
    create: bool,
    person_live: &dyn Fn(i64) -> bool,
) -> Result<Map<String, Value>, Refusal> {
    let Some(body) = body.as_object() else {
        return Err(Refusal::invalid("Request body must be an object"));
    };
    let mut out = current.clone();
    for (k, v) in body {
        match k.as_str() {
            "title" => {
                if v.as_str().is_none_or(|t| t.trim().is_empty()) {
                    return Err(Refusal::invalid("Lead title must be a non-empty string"));
                }
                out.insert(k.clone(), v.clone());
            }
            "person_id" => {
                if !v.is_null() {
                    match int(v) {
                        Some(id) if person_live(id) => {}
                        _ => return Err(Refusal::not_found("Person")),
                    }
                }
                out.insert(
                    k.clone(),
                    v.as_i64().map(Value::from).unwrap_or(Value::Null),
                );
            }
            "organization_id" => {
                if !v.is_null() {
                    return Err(Refusal::not_found("Organization"));
                }
                out.insert(k.clone(), Value::Null);
            }
            "owner_id" => {
                out.insert(k.clone(), check_owner(v)?);
            }
            "value" => {
                let ok = v.is_null()
                    || (v.get("amount").is_some_and(Value::is_number)
                        && v.get("currency").is_some_and(Value::is_string));
                if !ok {
                    return Err(Refusal::invalid(
                        "value must be an object with amount and currency",
                    ));
                }
                out.insert(k.clone(), v.clone());
            }
            "expected_close_date" => {
                if !(v.is_null()
                    || v.as_str()
                        .is_some_and(|d| d.parse::<jiff::civil::Date>().is_ok()))
                {
                    return Err(Refusal::invalid("expected_close_date must be YYYY-MM-DD"));
                }
                out.insert(k.clone(), v.clone());
            }
            "label_ids" => {
                if !v.as_array().is_some_and(|a| a.iter().all(Value::is_string)) {
                    return Err(Refusal::invalid("label_ids must be an array of UUIDs"));
                }
                out.insert(k.clone(), v.clone());
            }
            "was_seen" => {
                if !v.is_boolean() {
                    return Err(Refusal::invalid("was_seen must be a boolean"));
                }
                out.insert(k.clone(), v.clone());
            }
            "visible_to" | "origin_id" | "channel" | "channel_id" => {
                out.insert(k.clone(), v.clone());
            }
            key if crate::fields::is_custom_key(key) => {
                check_custom("deals", key, v)?;
                out.insert(k.clone(), v.clone());
            }
            other => return Err(Refusal::invalid(format!("Unknown field: {other}"))),
        }
    }
    if create {
        if out
            .get("title")
            .and_then(Value::as_str)
            .is_none_or(|t| t.is_empty())
        {
            return Err(Refusal::invalid("Lead title must be given"));
        }
        if out.get("person_id").is_none_or(Value::is_null) {
            return Err(Refusal::invalid(
                "A lead must be linked to a person or an organization",
            ));
        }
    }
    out.entry("owner_id").or_insert(json!(catalog::USERS[0].0));
    out.entry("value").or_insert(Value::Null);
    out.entry("label_ids").or_insert(json!([]));
    out.entry("organization_id").or_insert(Value::Null);
    out.entry("was_seen").or_insert(json!(false));
    Ok(out)
}

/// A person as API v2 shows it.
pub fn person_v2(row: &Row, only_custom: Option<&[String]>) -> Value {
    let mut v = Map::new();
    v.insert(
        "id".into(),
        json!(row.id.text().parse::<u64>().unwrap_or(0)),
    );
    for (k, val) in &row.data {
        if k == "custom_fields" {
            let custom: Map<String, Value> = val
                .as_object()
                .map(|c| {
                    c.iter()
                        .filter(|(ck, _)| only_custom.is_none_or(|o| o.iter().any(|x| x == *ck)))
                        .map(|(a, b)| (a.clone(), b.clone()))
                        .collect()
                })
                .unwrap_or_default();
            v.insert(k.clone(), Value::Object(custom));
        } else {
            v.insert(k.clone(), val.clone());
        }
    }
    v.insert("add_time".into(), json!(time::rfc3339(ts(row.add))));
    v.insert("update_time".into(), json!(time::rfc3339(ts(row.update))));
    v.insert("is_deleted".into(), json!(row.deleted));
    v.insert("picture_id".into(), Value::Null);
    Value::Object(v)
}

fn ts(s: i64) -> jiff::Timestamp {
    jiff::Timestamp::from_second(s).unwrap_or(jiff::Timestamp::UNIX_EPOCH)
}

/// A v1 user reference object.
fn user_ref(id: &Value) -> Value {
    let Some(id) = id.as_i64() else {
        return Value::Null;
    };
    match catalog::USERS.iter().find(|u| u.0 == id) {
        Some((id, name, email, active)) => json!({"id": id, "name": name, "email": email,
            "has_pic": 0, "pic_hash": null, "active_flag": active, "value": id}),
        None => Value::Null,
    }
}

/// A person as API v1 shows it (`/v1/recents`, merge): custom fields at the
/// root, `email[]`/`phone[]` (one empty primary entry when none),
/// references as objects, `active_flag`, `YYYY-MM-DD HH:MM:SS` stamps.
pub fn person_v1(row: &Row) -> Value {
    let d = &row.data;
    let list = |k: &str| {
        let items = d
            .get(k)
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        if items.is_empty() {
            json!([{"value": "", "primary": true}])
        } else {
            Value::Array(items)
        }
    };
    let mut v = json!({
        "id": row.id.text().parse::<u64>().unwrap_or(0),
        "company_id": 1,
        "owner_id": user_ref(d.get("owner_id").unwrap_or(&Value::Null)),
        "org_id": null,
        "name": d.get("name").cloned().unwrap_or(Value::Null),
        "first_name": d.get("first_name").cloned().unwrap_or(Value::Null),
        "last_name": d.get("last_name").cloned().unwrap_or(Value::Null),
        "email": list("emails"),
        "phone": list("phones"),
        "primary_email": crate::fields::primary(d.get("emails").unwrap_or(&Value::Null)),
        "label_ids": d.get("label_ids").cloned().unwrap_or(json!([])),
        "visible_to": d.get("visible_to").map(|v| v.to_string()).unwrap_or_else(|| "3".into()),
        "active_flag": !row.deleted,
        "add_time": time::v1(ts(row.add)),
        "update_time": time::v1(ts(row.update)),
    });
    for (key, _) in custom_keys("persons") {
        let value = d
            .get("custom_fields")
            .and_then(|c| c.get(key))
            .cloned()
            .unwrap_or(Value::Null);
        v[key.as_str()] = value;
    }
    v
}

/// A lead as `/v1/leads` shows it (RFC 3339 stamps with `Z`, set custom fields only).
pub fn lead_v1(row: &Row) -> Value {
    let mut v = Map::new();
    v.insert("id".into(), json!(row.id.text()));
    v.insert("creator_id".into(), json!(catalog::USERS[0].0));
    v.insert("source_name".into(), json!("API"));
    v.insert("origin".into(), json!("API"));
    v.insert("origin_id".into(), Value::Null);
    v.insert("channel".into(), Value::Null);
    v.insert("channel_id".into(), Value::Null);
    v.insert("next_activity_id".into(), Value::Null);
    v.insert("expected_close_date".into(), Value::Null);
    v.insert("visible_to".into(), json!("3"));
    v.insert(
        "cc_email".into(),
        json!(format!("company+{}@pipedrivemail.com", row.id.text())),
    );
    for (k, val) in &row.data {
        if !(crate::fields::is_custom_key(k) && val.is_null()) {
            v.insert(k.clone(), val.clone());
        }
    }
    v.insert("is_archived".into(), json!(row.deleted));
    v.insert("add_time".into(), json!(time::rfc3339(ts(row.add))));
    v.insert("update_time".into(), json!(time::rfc3339(ts(row.update))));
    Value::Object(v)
}

/// A deal as API v2 shows it.
pub fn deal_v2(row: &Row) -> Value {
    let mut v = Map::new();
    v.insert(
        "id".into(),
        json!(row.id.text().parse::<u64>().unwrap_or(0)),
    );
    for key in [
        "title",
        "owner_id",
        "person_id",
        "org_id",
        "pipeline_id",
        "stage_id",
        "value",
        "currency",
        "status",
        "probability",
        "lost_reason",
        "won_time",
        "lost_time",
        "close_time",
        "expected_close_date",
        "label_ids",
        "visible_to",
    ] {
        v.insert(
            key.into(),
            row.data.get(key).cloned().unwrap_or(Value::Null),
        );
    }
    let custom: Map<String, Value> = row
        .data
        .iter()
        .filter(|(k, _)| crate::fields::is_custom_key(k))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    v.insert("custom_fields".into(), Value::Object(custom));
    v.insert("is_deleted".into(), json!(row.deleted));
    v.insert("add_time".into(), json!(time::rfc3339(ts(row.add))));
    v.insert("update_time".into(), json!(time::rfc3339(ts(row.update))));
    Value::Object(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_person_needs_a_name_and_known_custom_fields() {
        let empty = Map::new();
        assert_eq!(
            apply_person(&empty, &json!({"emails": [{"value": "a@x.example"}]}), true)
                .unwrap_err()
                .status,
            400
        );
        let ok = apply_person(
            &empty,
            &json!({"name": "Ana Costa",
            "custom_fields": {catalog::SCORE_FIELD: 42}}),
            true,
        )
        .unwrap();
        assert_eq!(ok["first_name"], "Ana");
        assert!(apply_person(
            &empty,
            &json!({"name": "A", "custom_fields": {"ffffffffffffffffffffffffffffffffffffffff": 1}}),
            true
        )
        .is_err());
        assert!(apply_person(
            &empty,
            &json!({"name": "A", "custom_fields": {catalog::SOURCE_FIELD: 99}}),
            true
        )
        .is_err());
        assert_eq!(
            apply_person(&empty, &json!({"name": "A", "job_title": "CTO"}), true)
                .unwrap_err()
                .status,
            403
        );
    }

    #[test]
    fn a_lead_needs_a_title_and_a_live_person() {
        let empty = Map::new();
        let live = |id: i64| id == 7;
        assert!(apply_lead(&empty, &json!({"title": "Deal?"}), true, &live).is_err());
        assert_eq!(
            apply_lead(
                &empty,
                &json!({"title": "Deal?", "person_id": 8}),
                true,
                &live
            )
            .unwrap_err()
            .status,
            404
        );
        assert!(apply_lead(
            &empty,
            &json!({"title": "Deal?", "person_id": 7}),
            true,
            &live
        )
        .is_ok());
        assert!(apply_lead(
            &empty,
            &json!({"title": "x", "person_id": 7, "value": 100}),
            true,
            &live
        )
        .is_err());
    }
}
