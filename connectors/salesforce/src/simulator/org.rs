//! The Salesforce-only part of the control surface: what an admin or a
//! sales rep does in the org that the REST API cannot do (or that the
//! simulator must be told), in process as [`Org`] and over HTTP under
//! `/__sim/salesforce/`:
//!
//! | HTTP | in process | what |
//! |---|---|---|
//! | `POST /__sim/salesforce/convert-lead` [`LeadConvert`] → [`Converted`] | [`Org::convert_lead`] | Lead Convert (R2.1) |
//! | `POST /__sim/salesforce/merge` `{object, master_id, merge_ids, fields?}` → [`Merged`] | [`Org::merge`] | merge (R2.3) |
//! | `POST /__sim/salesforce/undelete` `{object, id}` | [`Org::undelete`] | restore from the recycle bin |
//! | `PUT /__sim/salesforce/duplicate-rules` `[Rule]` | [`Org::set_duplicate_rules`] | duplicate rules (R2.2) |
//! | `POST /__sim/salesforce/users/{id}/view-and-edit-converted-leads` `{enabled}` | [`Org::set_view_and_edit_converted_leads`] | the permission (R2.1) |
//! | `POST /__sim/salesforce/record-faults` [`RecordFaultSpec`]; `DELETE` | [`Org::add_record_fault`] | per-record failures (R2.3) |
//! | `POST /__sim/salesforce/fields/{object}` [`CustomField`] | [`Org::add_custom_field`] | a custom field, as in Setup |
//!
//! Errors answer 400 `{"error": "CODE: message"}`.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use super::record_faults::RecordFaultSpec;
use super::schema::{FieldDef, Kind};
use super::store::duplicates::Rule;
use super::store::lifecycle::{Converted, LeadConvert, Merged};
use super::store::RecordError;
use super::Sim;

/// A custom field to add (the Setup wizard's choices).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CustomField {
    /// The API name, ending in `__c`.
    pub name: String,
    /// The label; the name without `__c` when absent.
    #[serde(default)]
    pub label: Option<String>,
    /// The describe type (`string`, `double`, `picklist`, `email`…).
    #[serde(rename = "type")]
    pub kind: String,
    /// Characters of a text field (255 when absent).
    #[serde(default)]
    pub length: Option<u32>,
    /// An External ID (upsert key); implies unique.
    #[serde(default)]
    pub external_id: bool,
    /// Unique across records.
    #[serde(default)]
    pub unique: bool,
    /// Picklist values (restricted to them).
    #[serde(default)]
    pub picklist_values: Vec<String>,
    /// Required on every save.
    #[serde(default)]
    pub required: bool,
}

/// A merge request.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MergeRequest {
    /// `Lead`, `Contact` or `Account`.
    pub object: String,
    /// The winner.
    pub master_id: String,
    /// One or two losers.
    pub merge_ids: Vec<String>,
    /// Values the winner takes from the losers.
    #[serde(default)]
    pub fields: Map<String, Value>,
}

/// The org's Salesforce-only controls, in process (see the module docs).
#[derive(Clone)]
pub struct Org {
    sim: Arc<Sim>,
}

fn text(e: RecordError) -> String {
    format!("{}: {}", e.code, e.message)
}

impl Org {
    pub(crate) fn new(sim: Arc<Sim>) -> Self {
        Self { sim }
    }

    /// The user every API session runs as.
    pub fn api_user(&self) -> String {
        self.sim.read().default_user.to_string()
    }

    /// Converts a lead as sales would (Lead Convert), now.
    pub fn convert_lead(&self, request: &LeadConvert) -> Result<Converted, String> {
        let save = self.sim.system_save();
        self.sim.write().convert_lead(request, &save).map_err(text)
    }

    /// Merges `merge_ids` into `master_id`, now.
    pub fn merge(&self, request: &MergeRequest) -> Result<Merged, String> {
        let save = self.sim.system_save();
        self.sim
            .write()
            .merge(
                &request.object,
                &request.master_id,
                &request.merge_ids,
                &request.fields,
                &save,
            )
            .map_err(text)
    }

    /// Restores a record from the recycle bin, now.
    pub fn undelete(&self, object: &str, id: &str) -> Result<(), String> {
        let save = self.sim.system_save();
        self.sim.write().undelete(object, id, &save).map_err(text)
    }

    /// Replaces the org's active duplicate rules.
    pub fn set_duplicate_rules(&self, rules: Vec<Rule>) {
        self.sim.write().duplicate_rules = rules;
    }

    /// Grants or revokes "View and Edit Converted Leads" for a user.
    pub fn set_view_and_edit_converted_leads(&self, user_id: &str, enabled: bool) {
        let mut db = self.sim.write();
        if enabled {
            db.converted_lead_editors.insert(user_id.into());
        } else {
            db.converted_lead_editors.remove(user_id);
        }
    }

    /// Adds a per-record fault rule.
    pub fn add_record_fault(&self, spec: RecordFaultSpec) {
        self.sim.record_faults.add(spec);
    }

    /// Removes every per-record fault rule.
    pub fn clear_record_faults(&self) {
        self.sim.record_faults.clear();
    }

    /// Adds a custom field to an object.
    pub fn add_custom_field(&self, object: &str, field: &CustomField) -> Result<(), String> {
        let kind = Kind::from_api_name(&field.kind)
            .ok_or_else(|| format!("INVALID_TYPE: unknown field type {}", field.kind))?;
        let label = field
            .label
            .clone()
            .unwrap_or_else(|| field.name.trim_end_matches("__c").replace('_', " "));
        let def = FieldDef::custom(
            &field.name,
            &label,
            kind,
            field.length,
            field.external_id,
            field.unique,
            &field.picklist_values,
            field.required,
        )
        .map_err(|e| format!("INVALID_FIELD: {e}"))?;
        self.sim.write().add_custom_field(object, def)
    }
}

fn answer<T: Serialize>(result: Result<T, String>) -> Response {
    match result {
        Ok(v) => Json(v).into_response(),
        Err(e) => (StatusCode::BAD_REQUEST, Json(json!({ "error": e }))).into_response(),
    }
}

#[derive(Deserialize)]
struct RecordRef {
    object: String,
    id: String,
}

#[derive(Deserialize)]
struct Enabled {
    enabled: bool,
}

/// The HTTP routes (see the module docs).
pub(crate) fn router() -> Router<Arc<Sim>> {
    Router::new()
        .route(
            "/__sim/salesforce/convert-lead",
            post(
                |State(sim): State<Arc<Sim>>, Json(r): Json<LeadConvert>| async move {
                    answer(Org::new(sim).convert_lead(&r))
                },
            ),
        )
        .route(
            "/__sim/salesforce/merge",
            post(
                |State(sim): State<Arc<Sim>>, Json(r): Json<MergeRequest>| async move {
                    answer(Org::new(sim).merge(&r))
                },
            ),
        )
        .route(
            "/__sim/salesforce/undelete",
            post(
                |State(sim): State<Arc<Sim>>, Json(r): Json<RecordRef>| async move {
                    answer(Org::new(sim).undelete(&r.object, &r.id).map(|()| json!({})))
                },
            ),
        )
        .route(
            "/__sim/salesforce/duplicate-rules",
            axum::routing::put(
                |State(sim): State<Arc<Sim>>, Json(rules): Json<Vec<Rule>>| async move {
                    Org::new(sim).set_duplicate_rules(rules);
                    StatusCode::NO_CONTENT
                },
            ),
        )
        .route(
            "/__sim/salesforce/users/{id}/view-and-edit-converted-leads",
            post(
                |State(sim): State<Arc<Sim>>,
                 Path(id): Path<String>,
                 Json(b): Json<Enabled>| async move {
                    Org::new(sim).set_view_and_edit_converted_leads(&id, b.enabled);
                    StatusCode::NO_CONTENT
                },
            ),
        )
        .route(
            "/__sim/salesforce/record-faults",
            post(
                |State(sim): State<Arc<Sim>>, Json(spec): Json<RecordFaultSpec>| async move {
                    Org::new(sim).add_record_fault(spec);
                    StatusCode::NO_CONTENT
                },
            )
            .delete(|State(sim): State<Arc<Sim>>| async move {
                Org::new(sim).clear_record_faults();
                StatusCode::NO_CONTENT
            }),
        )
        .route(
            "/__sim/salesforce/fields/{object}",
            post(
                |State(sim): State<Arc<Sim>>,
                 Path(object): Path<String>,
                 Json(field): Json<CustomField>| async move {
                    answer(
                        Org::new(sim)
                            .add_custom_field(&object, &field)
                            .map(|()| json!({})),
                    )
                },
            ),
        )
}
