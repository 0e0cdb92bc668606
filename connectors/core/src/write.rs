//! Batch writes with one outcome per record.

use serde::{Deserialize, Serialize};

use crate::record::{Fields, Successor};

/// A batch of records to write to one object. Connectors split it to the
/// vendor's maximum batch size themselves; the engine never needs to know it.
#[derive(Debug, Clone, Default)]
pub struct WriteBatch {
    /// The tool's object name.
    pub object: String,
    /// The unique field records without an `id` are matched on (`email` on a
    /// HubSpot contact, an External ID field on Salesforce). Writing the same
    /// batch twice must create nothing the second time.
    pub key_field: Option<String>,
    /// The records, in the order their outcomes come back.
    pub records: Vec<WriteRecord>,
}

/// One record to create or update.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct WriteRecord {
    /// Update this record by its vendor id when known.
    pub id: Option<String>,
    /// Else match (or create) by the batch's `key_field` with this value.
    pub key: Option<String>,
    /// The fields to set, by vendor field name; fields not named are left alone.
    pub fields: Fields,
}

/// What happened to one record of a batch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum WriteOutcome {
    /// A new record was created with this id.
    Created {
        /// The vendor's id of the new record.
        id: String,
    },
    /// An existing record was updated.
    Updated {
        /// The vendor's id of the updated record.
        id: String,
    },
    /// The vendor refused this record; retrying it unchanged will fail again,
    /// so it belongs in the dead letter queue with this reason.
    Rejected {
        /// The vendor's message, verbatim.
        message: String,
        /// The vendor's error code (`REQUIRED_FIELD_MISSING`, `VALIDATION_ERROR`…).
        code: Option<String>,
        /// The vendor fields the error names, when it names any.
        fields: Vec<String>,
    },
    /// Nothing was written: the target record was replaced (a converted
    /// lead, a merged-away record). The engine moves the link to the
    /// successor and writes there instead; retrying the same id never works.
    Superseded {
        /// Where the record's life goes on.
        successor: Successor,
    },
    /// Nothing was written: the target record is deleted (in the recycle
    /// bin, or purged) and nothing replaced it. The engine closes the link.
    Deleted {
        /// The vendor's message, verbatim.
        message: String,
    },
}

impl WriteOutcome {
    /// The vendor id written to, unless the record was rejected.
    pub fn id(&self) -> Option<&str> {
        match self {
            Self::Created { id } | Self::Updated { id } => Some(id),
            Self::Rejected { .. } | Self::Superseded { .. } | Self::Deleted { .. } => None,
        }
    }
}
