//! What a connector says about itself, so the engine can check a mapping
//! before any write and size its batches without naming a vendor.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// The fields one object has on the vendor's side.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ObjectSchema {
    /// The object's name.
    pub object: String,
    /// Every field the vendor reports for it.
    pub fields: Vec<FieldSchema>,
}

impl ObjectSchema {
    /// The field of that name, if the object has one.
    pub fn field(&self, name: &str) -> Option<&FieldSchema> {
        self.fields.iter().find(|f| f.name == name)
    }
}

/// One field of an object.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FieldSchema {
    /// The vendor's field (property) name.
    pub name: String,
    /// The vendor's type name (`string`, `number`, `picklist`…), for messages.
    pub kind: String,
    /// A create without it is rejected by the vendor.
    pub required: bool,
    /// It can be set on create.
    pub createable: bool,
    /// It can be changed on update.
    pub updateable: bool,
    /// Values a picklist/enumeration accepts; empty when free-form.
    pub options: Vec<String>,
    /// It is unique and can key an upsert or a look-up.
    pub unique: bool,
    /// What values it holds, in terms the engine can check a mapping
    /// against without knowing the vendor's type names.
    #[serde(default)]
    pub value_type: ValueType,
    /// The most characters a text field holds, when the vendor says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub length: Option<u32>,
    /// It is an external id the vendor can upsert by (Salesforce External
    /// ID, HubSpot unique-value property).
    #[serde(default)]
    pub external_id: bool,
}

/// The kind of value a field holds, normalised across vendors.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ValueType {
    /// Free text (string, textarea, email, phone, url).
    #[default]
    Text,
    /// A number (integer, double, currency, percent).
    Number,
    /// True or false (checkbox, booleancheckbox).
    Bool,
    /// A calendar date without a time.
    Date,
    /// An instant.
    DateTime,
    /// One of a fixed list of options (picklist, enumeration, select);
    /// [`FieldSchema::options`] lists them.
    Enumeration,
    /// Several options at once (multi-select picklist, checkboxes).
    MultiEnumeration,
    /// The id of another record (reference, lookup, owner).
    Reference,
    /// Anything else the vendor has (address, location, binary).
    Other,
}

/// A user of a tool, as owner assignment and the live check see it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ToolUser {
    /// The id records' owner fields hold.
    pub id: String,
    /// The display name, for messages.
    pub name: String,
    /// The e-mail address, when the tool says.
    pub email: Option<String>,
    /// Whether the user can own records now (deactivated users cannot).
    pub active: bool,
}

/// The vendor limits that shape how the engine pages, batches and paces.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Limits {
    /// The most records one change page returns.
    pub page_size: usize,
    /// The most records one batch write call takes.
    pub batch_size: usize,
    /// The most key values one look-up call takes.
    pub lookup_batch_size: usize,
    /// The client-side request rate (requests per second) the connector keeps to.
    pub requests_per_second: f64,
    /// The daily API call cap configured for this connector, if any.
    pub daily_cap: Option<u64>,
    /// How far a change pass re-reads before its cursor by default.
    pub default_overlap: Duration,
}
