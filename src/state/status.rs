//! What `leadbridge status` and the status page show per pipeline.

use jiff::Timestamp;
use leadbridge_core::Cursor;
use serde::{Deserialize, Serialize};

use crate::side::Side;

/// Counts of what a cycle (or all cycles) moved.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CycleCounts {
    /// Records read from the marketing tool.
    pub read_marketing: u64,
    /// Records read from the CRM.
    pub read_crm: u64,
    /// Records written to the CRM (handoffs and updates).
    pub written_crm: u64,
    /// Records written to the marketing tool (feedback).
    pub written_marketing: u64,
    /// Changes dropped as echoes of our own writes.
    pub echoes: u64,
    /// Records sent to the dead letter queue.
    pub dead_lettered: u64,
    /// Marketing records found to be duplicates of a pair's.
    #[serde(default)]
    pub duplicates: u64,
}

impl CycleCounts {
    /// Adds another count, saturating (totals must never wrap).
    pub fn add(&mut self, other: &Self) {
        self.read_marketing = self.read_marketing.saturating_add(other.read_marketing);
        self.read_crm = self.read_crm.saturating_add(other.read_crm);
        self.written_crm = self.written_crm.saturating_add(other.written_crm);
        self.written_marketing = self
            .written_marketing
            .saturating_add(other.written_marketing);
        self.echoes = self.echoes.saturating_add(other.echoes);
        self.dead_lettered = self.dead_lettered.saturating_add(other.dead_lettered);
        self.duplicates = self.duplicates.saturating_add(other.duplicates);
    }
}

/// A pipeline's health as of its last cycle; written by the engine in a commit.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PipelineStatus {
    /// When the last cycle started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_cycle_started: Option<Timestamp>,
    /// When the last cycle finished (`None` while one runs for the first time).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_cycle_finished: Option<Timestamp>,
    /// What the last finished cycle moved.
    #[serde(default)]
    pub last_cycle: CycleCounts,
    /// What all cycles moved since the state was created.
    #[serde(default)]
    pub totals: CycleCounts,
    /// The last error that failed a cycle, already free of secrets.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    /// When that error happened.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error_at: Option<Timestamp>,
}

/// One stored cursor, as listed for status and dumps.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CursorEntry {
    /// The side it reads.
    pub side: Side,
    /// The object it reads.
    pub object: String,
    /// Where the next change pass starts.
    pub cursor: Cursor,
}

/// Sizes of a pipeline's state, cheap to read (kept as counters, not counted
/// by scanning), for `status`, `/status` and the DLQ-size metric.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PipelineCounts {
    /// Linked pairs.
    pub links: u64,
    /// Entries in the dead letter queue.
    pub dead_letters: u64,
    /// Intents recorded and not yet resolved.
    pub pending_intents: u64,
    /// Marketing duplicates remembered (see [`super::Duplicate`]).
    #[serde(default)]
    pub duplicates: u64,
}
