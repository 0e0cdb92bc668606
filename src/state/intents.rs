//! The outbox: what the engine is about to write, recorded before it writes.
//!
//! A write to a vendor and the state update that follows it cannot be one
//! transaction. So the engine records an [`Intent`] (durably) before the
//! remote write, and resolves it in the same commit that stores the write's
//! effect (link, hashes, cursor). A SIGKILL in between leaves the intent
//! pending; on start the engine replays pending intents, and because writes
//! are idempotent upserts by key, a replay of a write that did happen
//! creates nothing new.

use std::fmt;

use jiff::Timestamp;
use leadbridge_core::{Activity, WriteRecord};
use serde::{Deserialize, Serialize};

use crate::side::Side;

/// A stable id for an intent, unique across pipelines and restarts.
///
/// Besides naming the intent, it can serve as the idempotency key of a
/// look-up-then-write, since a replay carries the same id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct IntentId(pub u64);

impl fmt::Display for IntentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// The remote operation an intent stands for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum IntentAction {
    /// A create-or-update of one record (one entry of a batch write).
    Write {
        /// The unique field records without an id are matched on, as in
        /// `WriteBatch::key_field`, so the replay upserts the same record.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        key_field: Option<String>,
        /// The record as it was to be written.
        record: WriteRecord,
    },
    /// A note or task to create.
    Activity {
        /// The activity as it was to be created.
        activity: Activity,
    },
}

/// One remote write the engine has decided on and may not have done yet.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Intent {
    /// Its id, from [`StateStore::new_intent_id`](super::StateStore::new_intent_id).
    pub id: IntentId,
    /// The pipeline that decided it; pending intents are listed per pipeline.
    pub pipeline: String,
    /// The side written to.
    pub side: Side,
    /// The object written to (`Lead`, `contacts`…).
    pub object: String,
    /// The marketing record it concerns (the source of a handoff, or the
    /// target of feedback), so a replay finds the link to update.
    pub marketing_id: String,
    /// What to do.
    pub action: IntentAction,
    /// The hash of the canonical values the write carries, so a replay can
    /// record it as last written (echo suppression) without re-mapping.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub canonical_hash: Option<u64>,
    /// When it was recorded; an intent pending for long is worth a look.
    pub recorded_at: Timestamp,
}
