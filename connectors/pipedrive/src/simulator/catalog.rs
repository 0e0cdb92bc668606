//! The simulated company's users and field metadata, in the shape of
//! `/v1/users`, `/v1/personFields` and `/v1/dealFields`.

use std::sync::OnceLock;

use serde_json::{json, Value};

/// Custom person field "Lead score" (`double`).
pub const SCORE_FIELD: &str = "9f2d4c1a7b3e8d6f0a5c2b9e4d7f1a3c6b8e0d2f";
/// Custom person field "Campaign" (`varchar`).
pub const CAMPAIGN_FIELD: &str = "1a7c3e9b5d2f8a4c6e0b3d7f9a1c5e8b2d4f6a0c";
/// Custom person field "Source" (`enum`; values are option ids).
pub const SOURCE_FIELD: &str = "c4e8a2f6b0d3e7a1c5f9b2d6e0a4c8f3b7d1e5a9";
/// Custom deal (and lead) field "Marketing campaign" (`varchar`).
pub const DEAL_CAMPAIGN_FIELD: &str = "e2b6d0f4a8c1e5b9d3f7a0c4e8b2d6f1a5c9e3b7";

/// The "Source" options, by id.
pub const SOURCE_OPTIONS: &[(i64, &str)] = &[
    (11, "ORGANIC_SEARCH"),
    (12, "PAID_SEARCH"),
    (13, "SOCIAL_MEDIA"),
    (14, "EMAIL_MARKETING"),
    (15, "REFERRALS"),
    (16, "DIRECT_TRAFFIC"),
];

/// The simulated users: `(id, name, email, active)`. The last one is
/// deactivated, as real companies have.
pub const USERS: &[(i64, &str, &str, bool)] = &[
    (
        1001,
        "Mika Tanaka",
        "mika.tanaka@pipedrive-sim.example",
        true,
    ),
    (
        1002,
        "Jonas Weber",
        "jonas.weber@pipedrive-sim.example",
        true,
    ),
    (1003, "Lena Novak", "lena.novak@pipedrive-sim.example", true),
    (
        1004,
        "Former Rep",
        "former.rep@pipedrive-sim.example",
        false,
    ),
];

/// The active users' ids, for owner assignment in seeds.
pub fn active_users() -> Vec<i64> {
    USERS.iter().filter(|u| u.3).map(|u| u.0).collect()
}

/// Whether `id` is a user of the company (active or not).
pub fn is_user(id: i64) -> bool {
    USERS.iter().any(|u| u.0 == id)
}

/// `/v1/users` data.
pub fn users() -> Value {
    Value::Array(
        USERS
            .iter()
            .map(|(id, name, email, active)| {
                json!({"id": id, "name": name, "email": email, "active_flag": active,
                       "is_admin": if *id == 1001 { 1 } else { 0 }, "timezone_name": "Europe/Berlin",
                       "created": "2024-01-02 09:00:00", "modified": "2026-01-02 09:00:00"})
            })
            .collect(),
    )
}

/// A v1 field: system fields are settable when they show in the add
/// dialog or allow bulk edits; custom fields carry `edit_flag: true`.
fn field(id: i64, key: &str, name: &str, kind: &str, mandatory: bool, writable: bool) -> Value {
    json!({
        "id": id, "key": key, "name": name, "field_type": kind,
        "mandatory_flag": mandatory, "edit_flag": false,
        "add_visible_flag": writable, "bulk_edit_allowed": writable,
        "active_flag": true, "options": null,
    })
}

fn custom(id: i64, key: &str, name: &str, kind: &str, options: Option<&[(i64, &str)]>) -> Value {
    let mut f = field(id, key, name, kind, false, true);
    f["edit_flag"] = json!(true);
    if let Some(options) = options {
        f["options"] = Value::Array(
            options
                .iter()
                .map(|(id, label)| json!({"id": id, "label": label}))
                .collect(),
        );
    }
    f
}

/// `/v1/personFields` data.
pub fn person_fields() -> Vec<Value> {
    vec![
        field(1, "id", "ID", "int", false, false),
        field(2, "name", "Name", "varchar", true, true),
        field(3, "first_name", "First name", "varchar", false, true),
        field(4, "last_name", "Last name", "varchar", false, true),
        field(5, "email", "Email", "varchar", false, true),
        field(6, "phone", "Phone", "phone", false, true),
        field(7, "org_id", "Organization", "org", false, true),
        field(8, "owner_id", "Owner", "user", false, true),
        field(9, "label_ids", "Labels", "set", false, true),
        field(10, "visible_to", "Visible to", "visible_to", false, true),
        field(11, "add_time", "Person created", "date", false, false),
        field(12, "update_time", "Update time", "date", false, false),
        field(13, "open_deals_count", "Open deals", "int", false, false),
        custom(9001, SCORE_FIELD, "Lead score", "double", None),
        custom(9002, CAMPAIGN_FIELD, "Campaign", "varchar", None),
        custom(9003, SOURCE_FIELD, "Source", "enum", Some(SOURCE_OPTIONS)),
    ]
}

/// `/v1/dealFields` data (leads use its custom fields).
pub fn deal_fields() -> Vec<Value> {
    let mut status = field(23, "status", "Status", "status", false, true);
    status["options"] = json!([{"id": "open", "label": "Open"}, {"id": "won", "label": "Won"},
                               {"id": "lost", "label": "Lost"}, {"id": "deleted", "label": "Deleted"}]);
    vec![
        field(20, "id", "ID", "int", false, false),
        field(21, "title", "Title", "varchar", true, true),
        field(22, "value", "Value", "monetary", false, true),
        status,
        field(24, "stage_id", "Stage", "stage", false, true),
        field(25, "pipeline_id", "Pipeline", "double", false, true),
        field(26, "person_id", "Contact person", "people", false, true),
        field(27, "org_id", "Organization", "org", false, true),
        field(28, "owner_id", "Owner", "user", false, true),
        field(29, "won_time", "Won time", "date", false, false),
        field(30, "lost_time", "Lost time", "date", false, false),
        field(31, "lost_reason", "Lost reason", "varchar", false, true),
        field(
            32,
            "expected_close_date",
            "Expected close date",
            "date",
            false,
            true,
        ),
        field(33, "add_time", "Deal created", "date", false, false),
        field(34, "update_time", "Update time", "date", false, false),
        custom(
            9101,
            DEAL_CAMPAIGN_FIELD,
            "Marketing campaign",
            "varchar",
            None,
        ),
    ]
}

/// The custom field keys of persons and of deals (and leads), with their
/// types; built once.
pub fn custom_keys(object: &str) -> &'static [(String, String)] {
    static PERSONS: OnceLock<Vec<(String, String)>> = OnceLock::new();
    static DEALS: OnceLock<Vec<(String, String)>> = OnceLock::new();
    let build = |fields: Vec<Value>| {
        fields
            .iter()
            .filter(|f| f["edit_flag"] == json!(true))
            .map(|f| {
                (
                    f["key"].as_str().unwrap_or_default().to_owned(),
                    f["field_type"].as_str().unwrap_or_default().to_owned(),
                )
            })
            .collect()
    };
    if object == "persons" {
        PERSONS.get_or_init(|| build(person_fields()))
    } else {
        DEALS.get_or_init(|| build(deal_fields()))
    }
}

/// The stages of the one pipeline: `(id, name)`.
pub const STAGES: &[(i64, &str)] = &[
    (1, "Qualified"),
    (2, "Contact made"),
    (3, "Proposal made"),
    (4, "Negotiations started"),
];
