//! The one shape every tool's objects are translated into.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::cursor::Cursor;

/// Field values of a record, by the vendor's field name.
///
/// Values keep the JSON type the connector decoded them to (HubSpot sends
/// every property as a string; Salesforce sends typed JSON); the engine's
/// mapping layer normalises them, connectors do not guess.
pub type Fields = serde_json::Map<String, serde_json::Value>;

/// One object of one tool (a HubSpot contact, a Salesforce Lead…) as the
/// engine sees it: enough to order it, link it and map its fields.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    /// The vendor's id of the record, stable for its lifetime.
    pub id: String,
    /// When the vendor last changed it; with `id` it forms the record's [`Cursor`].
    pub modified_at: Timestamp,
    /// True when the record was deleted (archived, in the recycle bin): the
    /// engine must stop syncing into it, not treat it as new.
    pub archived: bool,
    /// The requested fields, by vendor field name.
    pub fields: Fields,
    /// The record that now stands for this one, when the vendor replaced it
    /// (a converted lead's contact, a merged-away record's survivor): the
    /// engine moves its link there instead of writing into a dead record.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub successor: Option<Successor>,
    /// Ids of records the vendor merged into this one (the winner of a
    /// merge lists the losers), so links to those ids follow it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub merged_from: Vec<String>,
}

/// Where a replaced record's life goes on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Successor {
    /// The successor's object (`Contact` for a converted Salesforce lead;
    /// the record's own object for a merge).
    pub object: String,
    /// The successor's vendor id.
    pub id: String,
    /// Why the record was replaced.
    pub reason: SuccessorReason,
}

/// Why a record was replaced by another.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SuccessorReason {
    /// Sales converted the lead; the successor is the record sales now work on.
    Converted,
    /// The record was merged into the successor.
    Merged,
}

impl Record {
    /// A live record with no fields yet; connectors fill `fields` as they decode.
    pub fn new(id: impl Into<String>, modified_at: Timestamp) -> Self {
        Self {
            id: id.into(),
            modified_at,
            archived: false,
            fields: Fields::new(),
            successor: None,
            merged_from: Vec::new(),
        }
    }

    /// The position of this record in change order.
    pub fn cursor(&self) -> Cursor {
        Cursor::new(self.modified_at, self.id.clone())
    }

    /// A field as text, whatever JSON scalar the vendor sent it as; `None`
    /// when absent or null, so callers do not repeat the same match.
    pub fn text(&self, field: &str) -> Option<String> {
        match self.fields.get(field)? {
            serde_json::Value::Null => None,
            serde_json::Value::String(s) => Some(s.clone()),
            other => Some(other.to_string()),
        }
    }
}
