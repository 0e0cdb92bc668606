//! Field metadata: `/v1/personFields` and `/v1/dealFields` into
//! [`ObjectSchema`]s.
//!
//! A v1 field is `{key, name, field_type, options[{id, label}],
//! mandatory_flag, edit_flag, bulk_edit_allowed, add_visible_flag…}`.
//! Custom fields are keyed by their 40-character hash. Pipedrive marks no
//! field "read-only" as such: a field that can be set neither in the add
//! dialog nor by a bulk edit, and is not an editable custom field (`id`,
//! `add_time`, `update_time`, counters), is taken as read-only.

use leadbridge_core::{FieldSchema, ObjectSchema, ValueType};
use serde_json::Value;

use crate::fields::{is_custom_key, Object};

/// The normalised value type of a Pipedrive `field_type`.
pub fn value_type(field_type: &str) -> ValueType {
    match field_type {
        "varchar" | "varchar_auto" | "varchar_options" | "text" | "phone" => ValueType::Text,
        "double" | "int" | "monetary" => ValueType::Number,
        "boolean" => ValueType::Bool,
        "date" => ValueType::Date,
        "enum" | "status" | "visible_to" => ValueType::Enumeration,
        "set" => ValueType::MultiEnumeration,
        "user" | "org" | "people" | "deal" | "lead" | "stage" | "activity" | "project" => {
            ValueType::Reference
        }
        _ => ValueType::Other,
    }
}

fn flag(field: &Value, name: &str) -> bool {
    match field.get(name) {
        Some(Value::Bool(b)) => *b,
        Some(Value::Number(n)) => n.as_i64().unwrap_or(0) != 0,
        // `mandatory_flag` is an object on some fields (conditions): present means required.
        Some(Value::Object(_)) => true,
        _ => false,
    }
}

/// One v1 field as a [`FieldSchema`].
pub fn field_schema(field: &Value) -> Option<FieldSchema> {
    let key = field.get("key")?.as_str()?.to_owned();
    let kind = field
        .get("field_type")
        .and_then(Value::as_str)
        .unwrap_or("varchar")
        .to_owned();
    let writable = flag(field, "bulk_edit_allowed")
        || flag(field, "add_visible_flag")
        || (is_custom_key(&key) && flag(field, "edit_flag"));
    let options = field
        .get("options")
        .and_then(Value::as_array)
        .map(|o| {
            o.iter()
                .filter_map(|o| o.get("label").and_then(Value::as_str).map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    Some(FieldSchema {
        name: key,
        value_type: value_type(&kind),
        required: flag(field, "mandatory_flag"),
        createable: writable,
        updateable: writable,
        options,
        unique: false,
        length: matches!(kind.as_str(), "varchar" | "varchar_auto" | "phone").then_some(255),
        external_id: false,
        kind,
    })
}

/// The system fields of a lead (the addLead request and lead response,
/// `/v1/leads`): leads have no field metadata endpoint of their own.
const LEAD_FIELDS: &[(&str, &str, bool, bool)] = &[
    // (key, field_type, required, writable)
    ("id", "varchar", false, false),
    ("title", "varchar", true, true),
    ("owner_id", "user", false, true),
    ("person_id", "people", false, true),
    ("organization_id", "org", false, true),
    ("value", "monetary", false, true),
    ("expected_close_date", "date", false, true),
    ("label_ids", "set", false, true),
    ("visible_to", "visible_to", false, true),
    ("was_seen", "boolean", false, true),
    ("origin_id", "varchar", false, true),
    ("channel", "enum", false, true),
    ("channel_id", "varchar", false, true),
    ("is_archived", "boolean", false, false),
    ("source_name", "varchar", false, false),
    ("creator_id", "user", false, false),
    ("add_time", "date", false, false),
    ("update_time", "date", false, false),
];

/// The schema of `object` from its fields endpoint's `data` (deal fields
/// for leads, whose custom fields are the deals').
pub fn object_schema(object: Object, fields: &[Value]) -> ObjectSchema {
    let mut out = Vec::new();
    if object == Object::Leads {
        for (key, kind, required, writable) in LEAD_FIELDS {
            out.push(FieldSchema {
                name: (*key).to_owned(),
                kind: (*kind).to_owned(),
                value_type: if *key == "add_time" || *key == "update_time" {
                    ValueType::DateTime
                } else {
                    value_type(kind)
                },
                required: *required,
                createable: *writable,
                updateable: *writable,
                ..FieldSchema::default()
            });
        }
        out.extend(
            fields
                .iter()
                .filter(|f| {
                    f.get("key")
                        .and_then(Value::as_str)
                        .is_some_and(is_custom_key)
                })
                .filter_map(field_schema),
        );
    } else {
        out.extend(fields.iter().filter_map(field_schema));
    }
    ObjectSchema {
        object: object.name().to_owned(),
        fields: out,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn flags_decide_required_and_writable() {
        let name = json!({"key": "name", "field_type": "varchar", "mandatory_flag": true, "bulk_edit_allowed": true});
        let id = json!({"key": "id", "field_type": "int", "mandatory_flag": false, "bulk_edit_allowed": false, "add_visible_flag": false});
        let score = json!({"key": "0123456789abcdef0123456789abcdef01234567", "field_type": "enum",
            "edit_flag": true, "options": [{"id": 1, "label": "Hot"}, {"id": 2, "label": "Cold"}]});
        let name = field_schema(&name).unwrap();
        assert!(name.required && name.updateable);
        let id = field_schema(&id).unwrap();
        assert!(!id.updateable && id.value_type == ValueType::Number);
        let score = field_schema(&score).unwrap();
        assert_eq!(score.value_type, ValueType::Enumeration);
        assert_eq!(score.options, vec!["Hot", "Cold"]);
        assert!(score.createable);
    }

    #[test]
    fn leads_take_only_the_deal_custom_fields() {
        let deal_fields = vec![
            json!({"key": "stage_id", "field_type": "stage", "bulk_edit_allowed": true}),
            json!({"key": "0123456789abcdef0123456789abcdef01234567", "field_type": "double", "edit_flag": true}),
        ];
        let s = object_schema(Object::Leads, &deal_fields);
        assert!(s.field("stage_id").is_none());
        assert!(s
            .field("0123456789abcdef0123456789abcdef01234567")
            .is_some());
        assert!(s.field("title").unwrap().required);
    }
}
