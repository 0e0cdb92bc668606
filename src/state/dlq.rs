//! The dead letter queue: records that could not be applied, with why.
//!
//! A record the other side rejects (or a rule cannot evaluate) must not stop
//! the rest, and must not be lost either: it is parked here, and the cursor
//! moves past it. Ops list, retry and drop entries with `leadbridge dlq`.

use jiff::Timestamp;
use leadbridge_core::Fields;
use serde::{Deserialize, Serialize};

use crate::side::Side;

/// A record to park, as the engine reports it in a commit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeadLetter {
    /// The side the record was read from (the write that failed, if any,
    /// went to the other side).
    pub side: Side,
    /// The object it was read from.
    pub object: String,
    /// Its id on that side.
    pub record_id: String,
    /// The record's fields as read, so `dlq show` and `dlq retry` need no
    /// extra read.
    pub fields: Fields,
    /// Why it failed: the vendor's message or the rule's error, verbatim.
    pub reason: String,
    /// The vendor's error code, when it sent one.
    pub code: Option<String>,
    /// When it failed.
    pub at: Timestamp,
}

/// A parked record as stored: the last failure, and how often it failed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DlqEntry {
    /// The pipeline.
    pub pipeline: String,
    /// The side the record was read from.
    pub side: Side,
    /// The object it was read from.
    pub object: String,
    /// Its id on that side.
    pub record_id: String,
    /// The record's fields at the last failure.
    pub fields: Fields,
    /// The last failure's reason.
    pub reason: String,
    /// The last failure's vendor code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// How many times it failed (re-adding the same record counts up).
    pub attempts: u32,
    /// The first failure.
    pub first_seen: Timestamp,
    /// The last failure.
    pub last_seen: Timestamp,
}

impl DlqEntry {
    /// The entry after one more failure: first seen and attempts carried
    /// over from `previous` (the same record's existing entry, if any).
    pub(crate) fn after(pipeline: &str, letter: &DeadLetter, previous: Option<&DlqEntry>) -> Self {
        Self {
            pipeline: pipeline.to_owned(),
            side: letter.side,
            object: letter.object.clone(),
            record_id: letter.record_id.clone(),
            fields: letter.fields.clone(),
            reason: letter.reason.clone(),
            code: letter.code.clone(),
            attempts: previous.map_or(1, |p| p.attempts.saturating_add(1)),
            first_seen: previous.map_or(letter.at, |p| p.first_seen.min(letter.at)),
            last_seen: previous.map_or(letter.at, |p| p.last_seen.max(letter.at)),
        }
    }
}
