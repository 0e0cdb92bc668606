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
