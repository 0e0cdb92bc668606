//! The simulator's tables: rows keyed by id, with an index in change order
//! (`update_time`, then id), so list pages are range reads.

use std::collections::{BTreeSet, HashMap};

use serde_json::{Map, Value};

/// An id in the order Pipedrive sorts it: numbers by value (persons, deals,
/// notes, activities), UUID text as text (leads).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SortId {
    /// A numeric id.
    Num(u64),
    /// A UUID.
    Text(String),
}

impl SortId {
    /// The id as text.
    pub fn text(&self) -> String {
        match self {
            Self::Num(n) => n.to_string(),
            Self::Text(s) => s.clone(),
        }
    }
}

/// One stored entity.
#[derive(Debug, Clone)]
pub struct Row {
    /// Its id.
    pub id: SortId,
    /// `add_time`, Unix seconds.
    pub add: i64,
    /// `update_time`, Unix seconds (Pipedrive keeps whole seconds).
    pub update: i64,
    /// When change lists may show this version (the index-lag knob), Unix ms.
    pub visible_ms: i64,
    /// Deleted (persons, deals: kept 30 days with `is_deleted`) or archived (leads).
    pub deleted: bool,
    /// The entity's fields in the simulator's canonical shape (v2 for
    /// persons and deals, v1 for leads, notes).
    pub data: Map<String, Value>,
}

/// One object's rows and its change-order index.
#[derive(Debug, Default)]
pub struct Table {
    rows: HashMap<SortId, Row>,
    index: BTreeSet<(i64, SortId)>,
    next: u64,
    live: usize,
}

impl Table {
    /// The next numeric id (1, 2, …).
    pub fn next_num(&mut self) -> SortId {
        self.next += 1;
        SortId::Num(self.next)
    }

    /// The next lead id: a UUID-shaped text that sorts by creation.
    pub fn next_uuid(&mut self) -> SortId {
        self.next += 1;
        let n = self.next;
        SortId::Text(format!(
            "{:08x}-{:04x}-4{:03x}-a{:03x}-{:012x}",
            n >> 16,
            n & 0xffff,
            (n >> 4) & 0xfff,
            n & 0xfff,
            n.wrapping_mul(0x9E37_79B9)
        ))
    }

    /// Inserts or replaces a row, keeping the index and the live count.
    pub fn put(&mut self, row: Row) {
        if let Some(old) = self.rows.get(&row.id) {
            self.index.remove(&(old.update, old.id.clone()));
            if !old.deleted {
                self.live -= 1;
            }
        }
        self.index.insert((row.update, row.id.clone()));
        if !row.deleted {
            self.live += 1;
        }
        self.rows.insert(row.id.clone(), row);
    }

    /// Removes a row for good (a deleted lead).
    pub fn purge(&mut self, id: &SortId) -> Option<Row> {
        let row = self.rows.remove(id)?;
        self.index.remove(&(row.update, row.id.clone()));
        if !row.deleted {
            self.live -= 1;
        }
        Some(row)
    }

    /// A row by its id text, live or deleted.
    pub fn get(&self, id: &str) -> Option<&Row> {
        let key = match id.parse::<u64>() {
            Ok(n) => SortId::Num(n),
            Err(_) => SortId::Text(id.to_owned()),
        };
        self.rows.get(&key)
    }

    /// A live row by its id text.
    pub fn live(&self, id: &str) -> Option<&Row> {
        self.get(id).filter(|r| !r.deleted)
    }

    /// Live rows.
    pub fn live_count(&self) -> usize {
        self.live
    }

    /// Every row, in id order.
    pub fn rows(&self) -> Vec<&Row> {
        let mut rows: Vec<&Row> = self.rows.values().collect();
        rows.sort_by(|a, b| a.id.cmp(&b.id));
        rows
    }

    /// Rows in change order from `(update, id)` exclusive (or from
    /// `updated_since` inclusive), live or deleted as `keep` says.
    pub fn in_change_order<'a>(
        &'a self,
        from_second: Option<i64>,
        after: Option<(i64, SortId)>,
    ) -> impl Iterator<Item = &'a Row> + 'a {
        use std::ops::Bound;
        let lower = match (after, from_second) {
            (Some(key), _) => Bound::Excluded(key),
            (None, Some(s)) => Bound::Included((s, SortId::Num(0))),
            (None, None) => Bound::Unbounded,
        };
        self.index
            .range((lower, Bound::Unbounded))
            .filter_map(|(_, id)| self.rows.get(id))
    }
}
