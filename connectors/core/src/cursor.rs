//! Where a change pass starts and how far it may be committed.
//!
//! A cursor is `(modified_at, id)`, never a bare timestamp: many records can
//! share one modified timestamp (bulk imports, workflows), and a bare
//! timestamp either skips the rest of a tie or re-reads all of it forever.

use std::cmp::Ordering;
use std::time::Duration;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

/// A position in a tool's change order: every record at or before it (in
/// `(modified_at, id)` order) has been delivered to the engine.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Cursor {
    /// The modified timestamp of the last delivered record.
    pub modified_at: Timestamp,
    /// The id of the last delivered record among those sharing `modified_at`.
    pub id: String,
}

impl Cursor {
    /// A cursor at a record's position.
    pub fn new(modified_at: Timestamp, id: impl Into<String>) -> Self {
        Self {
            modified_at,
            id: id.into(),
        }
    }

    /// The cursor before every record changed at `modified_at` (an empty id
    /// sorts before any id).
    pub fn before(modified_at: Timestamp) -> Self {
        Self::new(modified_at, "")
    }
}

/// Compares ids the way the vendors order them: numerically when both are
/// decimal numbers (HubSpot ids), else as text (Salesforce ids), so `"9" < "10"`.
pub fn compare_ids(a: &str, b: &str) -> Ordering {
    let numeric = |s: &str| !s.is_empty() && s.bytes().all(|c| c.is_ascii_digit());
    if numeric(a) && numeric(b) {
        let (a, b) = (a.trim_start_matches('0'), b.trim_start_matches('0'));
        a.len().cmp(&b.len()).then_with(|| a.cmp(b))
    } else {
        a.cmp(b)
    }
}

impl Ord for Cursor {
    fn cmp(&self, other: &Self) -> Ordering {
        self.modified_at
            .cmp(&other.modified_at)
            .then_with(|| compare_ids(&self.id, &other.id))
    }
}

impl PartialOrd for Cursor {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// What a change pass should read.
#[derive(Debug, Clone)]
pub struct ChangesRequest {
    /// The tool's object name (`contacts`, `Lead`…).
    pub object: String,
    /// Where the last committed pass stopped; `None` reads from the beginning.
    pub since: Option<Cursor>,
    /// How far before `since` to re-read, so a record that became visible
    /// late (search-index lag, clock skew) is still seen: records modified
    /// in `[since.modified_at - overlap, since.modified_at)` are returned
    /// again (the engine drops what it already applied), while at
    /// `since.modified_at` itself the compound rule still holds (only ids
    /// after `since.id`), so a quiet pass returns nothing.
    pub overlap: Duration,
    /// The vendor fields to return on each record; only these are requested.
    pub fields: Vec<String>,
    /// Also return deleted (archived) records, flagged `archived = true`.
    pub include_archived: bool,
}

/// Opaque state a connector needs to fetch the next page of the same pass
/// (HubSpot's `after` and window anchor, Salesforce's `nextRecordsUrl`).
/// Only the connector that made it can read it; it is never persisted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PageToken(pub String);

/// One page of a change pass.
#[derive(Debug, Clone, Default)]
pub struct ChangePage {
    /// Changed records; each appears once per pass.
    pub records: Vec<crate::Record>,
    /// The furthest cursor that is safe to commit once this page (and every
    /// earlier page of the pass) has been applied: every record at or before
    /// it has been delivered. `None` when nothing new can be committed yet.
    pub checkpoint: Option<Cursor>,
    /// Where the pass continues; `None` on the last page.
    pub next: Option<PageToken>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn numeric_ids_order_by_value_and_text_ids_by_text() {
        assert_eq!(compare_ids("9", "10"), Ordering::Less);
        assert_eq!(compare_ids("010", "10"), Ordering::Equal);
        assert_eq!(compare_ids("00Q1", "00Q2"), Ordering::Less);
        assert_eq!(compare_ids("", "1"), Ordering::Less);
    }

    #[test]
    fn cursors_order_by_time_then_id() {
        let t1 = ts("2026-01-01T00:00:00Z");
        let t2 = ts("2026-01-01T00:00:01Z");
        assert!(Cursor::new(t1, "999") < Cursor::new(t2, "1"));
        assert!(Cursor::before(t2) < Cursor::new(t2, "1"));
        assert!(Cursor::new(t2, "2") < Cursor::new(t2, "10"));
    }
}
