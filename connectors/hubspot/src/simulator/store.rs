//! The simulator's records, kept compact because benchmarks seed a million
//! contacts: property values are packed into one byte buffer per record, the
//! records sit in a `BTreeMap` by id, emails are indexed by a 64-bit hash
//! (not a second copy of the string), and live records are indexed by
//! `(last modified, id)` so a search sorted on the modified date reads only
//! the part of the index it needs.

use std::collections::hash_map::DefaultHasher;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::hash::{Hash, Hasher};
use std::sync::Mutex;

use serde_json::{Map, Value};

use super::schema::{Computed, Kind, ObjectType};
use crate::time::{iso_ms, parse_ms};

/// One record. Its stored properties are `[index u8][len u16 LE][utf-8]…`,
/// sorted by index; computed properties (id, dates) are not stored.
#[derive(Debug, Clone)]
pub(crate) struct Rec {
    pub created: i64,
    pub modified: i64,
    /// When the latest change reaches the search index.
    pub visible: i64,
    pub archived_at: Option<i64>,
    props: Box<[u8]>,
}

impl Rec {
    fn new(now: i64, visible: i64) -> Self {
        Self {
            created: now,
            modified: now,
            visible,
            archived_at: None,
            props: Box::new([]),
        }
    }

    /// Stored `(index, value)` pairs, in index order.
    pub fn iter(&self) -> impl Iterator<Item = (usize, &str)> {
        let mut at = 0;
        let bytes = &self.props;
        std::iter::from_fn(move || {
            if at + 3 > bytes.len() {
                return None;
            }
            let idx = bytes[at] as usize;
            let len = u16::from_le_bytes([bytes[at + 1], bytes[at + 2]]) as usize;
            let start = at + 3;
            at = start + len;
            let value = std::str::from_utf8(bytes.get(start..at)?).unwrap_or_default();
            Some((idx, value))
        })
    }

    /// A stored value.
    pub fn get(&self, idx: usize) -> Option<&str> {
        self.iter().find(|(i, _)| *i == idx).map(|(_, v)| v)
    }

    /// Sets values (an empty value clears the property).
    fn set(&mut self, changes: &[(usize, String)]) {
        let mut all: BTreeMap<usize, String> =
            self.iter().map(|(i, v)| (i, v.to_owned())).collect();
        for (idx, value) in changes {
            if value.is_empty() {
                all.remove(idx);
            } else {
                all.insert(*idx, value.clone());
            }
        }
        let mut buf = Vec::with_capacity(all.values().map(|v| v.len() + 3).sum());
        for (idx, value) in all {
            // Values longer than 64 KiB are cut at a char boundary: HubSpot caps text at 65,536 chars.
            let mut end = value.len().min(u16::MAX as usize);
            while !value.is_char_boundary(end) {
                end -= 1;
            }
            buf.push(idx as u8);
            buf.extend_from_slice(&(end as u16).to_le_bytes());
            buf.extend_from_slice(&value.as_bytes()[..end]);
        }
        self.props = buf.into_boxed_slice();
    }
}

/// The value of property `idx` of record `id`, computed or stored, as HubSpot
/// returns it (datetimes as ISO text).
pub(crate) fn value_of(kind: ObjectType, id: u64, rec: &Rec, idx: usize) -> Option<String> {
    let def = &kind.props()[idx];
    match def.computed {
        Some(Computed::Id) => Some(id.to_string()),
        Some(Computed::Created) => Some(iso_ms(rec.created)),
        Some(Computed::Modified) => Some(iso_ms(rec.modified)),
        None => rec.get(idx).map(str::to_owned),
    }
}

fn email_hash(email: &str) -> u64 {
    let mut h = DefaultHasher::new();
    email.trim().to_lowercase().hash(&mut h);
    h.finish()
}

/// All records of one object type.
#[derive(Debug)]
pub(crate) struct ObjectStore {
    pub kind: ObjectType,
    pub recs: BTreeMap<u64, Rec>,
    /// Live records by `(modified, id)`.
    pub by_modified: BTreeSet<(i64, u64)>,
    /// Archived record ids.
    pub archived: BTreeSet<u64>,
    /// Live contacts by email hash (collisions are checked on read).
    emails: HashMap<u64, u64>,
    email_idx: Option<usize>,
    /// The latest `visible` time of any record: when it is in the past,
    /// searches skip the per-record visibility check.
    pub max_visible: i64,
    /// Bumped by every write, so a cached count is known to be current.
    generation: u64,
    /// The last range count, to count the next page's range from it.
    counted: Mutex<Option<RangeCount>>,
}

/// The number of `by_modified` keys in `lo..=hi` at a store generation.
#[derive(Debug, Clone, Copy)]
struct RangeCount {
    generation: u64,
    lo: (i64, u64),
    hi: (i64, u64),
    descending: bool,
    count: usize,
}

/// A property that failed validation.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct PropError {
    pub name: String,
    pub code: &'static str,
    pub message: String,
}

/// Why a write failed.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum WriteError {
    Invalid(Vec<PropError>),
    /// Another live record has this email: its id.
    Conflict(u64),
    NotFound,
}

fn valid_email(v: &str) -> bool {
    let Some((local, domain)) = v.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains('@')
        && !v.chars().any(char::is_whitespace)
}

impl ObjectStore {
    pub fn new(kind: ObjectType) -> Self {
        Self {
            kind,
            recs: BTreeMap::new(),
            by_modified: BTreeSet::new(),
            archived: BTreeSet::new(),
            emails: HashMap::new(),
            email_idx: if kind == ObjectType::Contacts {
                kind.prop("email")
            } else {
                None
            },
            max_visible: i64::MIN,
            generation: 0,
            counted: Mutex::new(None),
        }
    }

    /// How many live records have `(modified, id)` in `lo..=hi`. Seek
    /// paging asks this once a page with a range that shrinks from one end
    /// (ascending: `lo` moves up; descending: `hi` moves down), so the
    /// count is carried over from the previous call, less the keys between
    /// the two ranges, while no write came in between.
    pub fn count_range(&self, lo: (i64, u64), hi: (i64, u64), descending: bool) -> usize {
        let mut cached = self.counted.lock().unwrap_or_else(|e| e.into_inner());
        let count = match *cached {
            Some(c)
                if c.generation == self.generation
                    && c.descending == descending
                    && !descending
                    && c.hi == hi
                    && c.lo <= lo =>
            {
                c.count - self.by_modified.range(c.lo..lo).count()
            }
            Some(c)
                if c.generation == self.generation
                    && c.descending == descending
                    && descending
                    && c.lo == lo
                    && hi <= c.hi =>
            {
                let dropped = if hi < c.hi {
                    self.by_modified
                        .range((
                            std::ops::Bound::Excluded(hi),
                            std::ops::Bound::Included(c.hi),
                        ))
                        .count()
                } else {
                    0
                };
                c.count - dropped
            }
            _ => self.by_modified.range(lo..=hi).count(),
        };
        *cached = Some(RangeCount {
            generation: self.generation,
            lo,
            hi,
            descending,
            count,
        });
        count
    }

    /// Live records.
    pub fn live_count(&self) -> usize {
        self.by_modified.len()
    }

    /// A live record by id.
    pub fn live(&self, id: u64) -> Option<&Rec> {
        self.recs.get(&id).filter(|r| r.archived_at.is_none())
    }

    /// The live contact with this email, case-insensitively.
    pub fn by_email(&self, email: &str) -> Option<u64> {
        let idx = self.email_idx?;
        let want = email.trim();
        if let Some(id) = self.emails.get(&email_hash(want)) {
            if self
                .live(*id)
                .and_then(|r| r.get(idx))
                .is_some_and(|e| e.eq_ignore_ascii_case(want))
            {
                return Some(*id);
            }
        }
        None
    }

    /// The live record whose unique property `prop` equals `value`.
    pub fn by_unique(&self, prop: &str, value: &str) -> Option<u64> {
        match prop {
            "hs_object_id" | "id" => value
                .trim()
                .parse()
                .ok()
                .filter(|id| self.live(*id).is_some()),
            "email" if self.email_idx.is_some() => self.by_email(value),
            _ => {
                let idx = self.kind.prop(prop)?;
                self.recs
                    .iter()
                    .find(|(_, r)| r.archived_at.is_none() && r.get(idx) == Some(value))
                    .map(|(id, _)| *id)
            }
        }
    }

    /// Checks and normalises property values for a write. `permissive` (the
    /// control surface) may set read-only stored properties.
    pub fn validate(
        &self,
        properties: &Map<String, Value>,
        permissive: bool,
    ) -> Result<Vec<(usize, String)>, Vec<PropError>> {
        let mut out = Vec::new();
        let mut errors = Vec::new();
        for (name, raw) in properties {
            let value = match raw {
                Value::Null => String::new(),
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            let Some(idx) = self.kind.prop(name) else {
                errors.push(PropError {
                    name: name.clone(),
                    code: "PROPERTY_DOESNT_EXIST",
                    message: format!("Property \"{name}\" does not exist"),
                });
                continue;
            };
            let def = &self.kind.props()[idx];
            if def.computed.is_some() || (def.read_only && !permissive) {
                errors.push(PropError {
                    name: name.clone(),
                    code: "READ_ONLY_VALUE",
                    message: format!("{name} is a read only property; its value cannot be set."),
                });
                continue;
            }
            if value.is_empty() {
                out.push((idx, value));
                continue;
            }
            let bad = |code: &'static str, message: String| PropError {
                name: name.clone(),
                code,
                message,
            };
            let normalised = match def.kind {
                Kind::String if name == "email" => {
                    if valid_email(&value) {
                        Ok(value.trim().to_owned())
                    } else {
                        Err(bad(
                            "INVALID_EMAIL",
                            format!("Email address {value} is invalid"),
                        ))
                    }
                }
                Kind::String => Ok(value),
                Kind::Number => match value.trim().parse::<f64>() {
                    Ok(n) if n.is_finite() => Ok(value.trim().to_owned()),
                    _ => Err(bad(
                        "INVALID_INTEGER",
                        format!("{value} is not a valid number for {name}"),
                    )),
                },
                Kind::DateTime => match parse_ms(&value) {
                    Some(ms) => Ok(iso_ms(ms)),
                    None => Err(bad(
                        "INVALID_DATE",
                        format!("{value} is not a valid datetime for {name}"),
                    )),
                },
                Kind::Date => match parse_ms(&value) {
                    Some(ms) if ms.rem_euclid(86_400_000) == 0 => Ok(ms.to_string()),
                    _ => Err(bad(
                        "INVALID_DATE",
                        format!("{value} is not midnight UTC in epoch milliseconds for {name}"),
                    )),
                },
                Kind::Bool => match value.as_str() {
                    "true" | "false" => Ok(value),
                    _ => Err(bad(
                        "INVALID_BOOLEAN",
                        format!("{value} is not a valid boolean for {name}"),
                    )),
                },
                Kind::Enumeration => {
                    if def.external_options || value.split(';').all(|v| def.options.contains(&v)) {
                        Ok(value)
                    } else {
                        Err(bad(
                            "INVALID_OPTION",
                            format!(
                                "{value} was not one of the allowed options: [{}]",
                                def.options.join(", ")
                            ),
                        ))
                    }
                }
            };
            match normalised {
                Ok(v) => out.push((idx, v)),
                Err(e) => errors.push(e),
            }
        }
        if errors.is_empty() {
            Ok(out)
        } else {
            Err(errors)
        }
    }

    fn email_of(&self, changes: &[(usize, String)]) -> Option<String> {
        let idx = self.email_idx?;
        changes
            .iter()
            .find(|(i, _)| *i == idx)
            .map(|(_, v)| v.clone())
            .filter(|v| !v.is_empty())
    }

    /// Creates a record with validated values.
    pub fn create(
        &mut self,
        id: u64,
        changes: &[(usize, String)],
        now: i64,
        visible: i64,
    ) -> Result<(), WriteError> {
        let email = self.email_of(changes);
        if let Some(email) = &email {
            if let Some(existing) = self.by_email(email) {
                return Err(WriteError::Conflict(existing));
            }
        }
        self.generation += 1;
        let mut rec = Rec::new(now, visible);
        rec.set(changes);
        self.recs.insert(id, rec);
        self.by_modified.insert((now, id));
        if let Some(email) = email {
            self.emails.insert(email_hash(&email), id);
        }
        self.max_visible = self.max_visible.max(visible);
        Ok(())
    }

    /// Updates a live record with validated values.
    pub fn update(
        &mut self,
        id: u64,
        changes: &[(usize, String)],
        now: i64,
        visible: i64,
    ) -> Result<(), WriteError> {
        let new_email = self.email_of(changes);
        if let Some(email) = &new_email {
            if let Some(other) = self.by_email(email) {
                if other != id {
                    return Err(WriteError::Conflict(other));
                }
            }
        }
        let old_email = self
            .email_idx
            .and_then(|idx| self.live(id).and_then(|r| r.get(idx)).map(str::to_owned));
        let rec = self
            .recs
            .get_mut(&id)
            .filter(|r| r.archived_at.is_none())
            .ok_or(WriteError::NotFound)?;
        self.generation += 1;
        self.by_modified.remove(&(rec.modified, id));
        rec.set(changes);
        // Modified times never go backwards, even when the clock was set back.
        rec.modified = now.max(rec.modified);
        rec.visible = visible.max(rec.modified);
        self.by_modified.insert((rec.modified, id));
        self.max_visible = self.max_visible.max(rec.visible);
        if let Some(idx) = self.email_idx {
            let current = rec.get(idx).map(str::to_owned);
            if current != old_email {
                if let Some(old) = old_email {
                    self.emails.remove(&email_hash(&old));
                }
                if let Some(new) = current {
                    self.emails.insert(email_hash(&new), id);
                }
            }
        }
        Ok(())
    }

    /// Removes a record for good (a GDPR delete, or the losers of a merge).
    pub fn remove(&mut self, id: u64) -> Option<Rec> {
        let email = self.email_idx.and_then(|idx| {
            self.recs
                .get(&id)
                .and_then(|r| r.get(idx))
                .map(str::to_owned)
        });
        let rec = self.recs.remove(&id)?;
        self.generation += 1;
        self.by_modified.remove(&(rec.modified, id));
        self.archived.remove(&id);
        if let Some(email) = email {
            if self.emails.get(&email_hash(&email)) == Some(&id) {
                self.emails.remove(&email_hash(&email));
            }
        }
        Some(rec)
    }

    /// Moves a live record to the recycle bin.
    pub fn archive(&mut self, id: u64, now: i64) -> Result<(), WriteError> {
        let email = self
            .email_idx
            .and_then(|idx| self.live(id).and_then(|r| r.get(idx)).map(str::to_owned));
        let rec = self
            .recs
            .get_mut(&id)
            .filter(|r| r.archived_at.is_none())
            .ok_or(WriteError::NotFound)?;
        self.generation += 1;
        self.by_modified.remove(&(rec.modified, id));
        rec.archived_at = Some(now);
        self.archived.insert(id);
        if let Some(email) = email {
            if self.emails.get(&email_hash(&email)) == Some(&id) {
                self.emails.remove(&email_hash(&email));
            }
        }
        Ok(())
    }
}

/// Associations from `(object, id)` to `(object, id, type id)`.
pub(crate) type Associations = HashMap<(ObjectType, u64), Vec<(ObjectType, u64, u16)>>;

/// The whole simulated account.
#[derive(Debug)]
pub(crate) struct Db {
    pub objects: Vec<ObjectStore>,
    pub next_id: u64,
    /// Associations from `(object, id)` to `(object, id, type id)`.
    pub associations: Associations,
    /// Merged-away ids and the record that now stands for them (R2.7).
    pub merged: HashMap<(ObjectType, u64), u64>,
    /// Emails a GDPR delete blocklisted (lower case).
    pub blocklist: std::collections::HashSet<String>,
}

impl Db {
    /// The live record `id` stands for: itself, or the record it was merged into.
    pub fn follow(&self, kind: ObjectType, id: u64) -> Option<u64> {
        let id = self.merged.get(&(kind, id)).copied().unwrap_or(id);
        self.store(kind).live(id).map(|_| id)
    }

    pub fn new() -> Self {
        Self {
            objects: ObjectType::ALL
                .iter()
                .map(|k| ObjectStore::new(*k))
                .collect(),
            next_id: 1001,
            associations: HashMap::new(),
            merged: HashMap::new(),
            blocklist: Default::default(),
        }
    }

    pub fn store(&self, kind: ObjectType) -> &ObjectStore {
        &self.objects[kind.index()]
    }

    pub fn store_mut(&mut self, kind: ObjectType) -> &mut ObjectStore {
        &mut self.objects[kind.index()]
    }

    pub fn allocate_id(&mut self) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        id
    }

    /// Links two records both ways.
    pub fn associate(
        &mut self,
        from: (ObjectType, u64),
        to: (ObjectType, u64),
        fwd: u16,
        rev: u16,
    ) {
        let list = self.associations.entry(from).or_default();
        if !list.contains(&(to.0, to.1, fwd)) {
            list.push((to.0, to.1, fwd));
        }
        let list = self.associations.entry(to).or_default();
        if !list.contains(&(from.0, from.1, rev)) {
            list.push((from.0, from.1, rev));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn packed_properties_round_trip_and_clear() {
        let mut r = Rec::new(0, 0);
        r.set(&[(3, "b".into()), (1, "a".into())]);
        assert_eq!(r.get(1), Some("a"));
        assert_eq!(r.get(3), Some("b"));
        r.set(&[(1, String::new()), (2, "ünï".into())]);
        assert_eq!(r.iter().collect::<Vec<_>>(), vec![(2, "ünï"), (3, "b")]);
    }

    #[test]
    fn emails_are_unique_case_insensitively_and_freed_on_archive() {
        let mut s = ObjectStore::new(ObjectType::Contacts);
        let email = s.kind.prop("email").unwrap();
        s.create(1, &[(email, "A@x.example".into())], 10, 10)
            .unwrap();
        assert_eq!(
            s.create(2, &[(email, "a@X.example".into())], 11, 11),
            Err(WriteError::Conflict(1))
        );
        assert_eq!(s.by_email("a@x.example"), Some(1));
        s.archive(1, 12).unwrap();
        assert_eq!(s.by_email("a@x.example"), None);
        assert!(s
            .create(2, &[(email, "a@x.example".into())], 13, 13)
            .is_ok());
    }

    #[test]
    fn range_counts_carried_over_equal_full_counts_and_writes_reset_them() {
        let mut s = ObjectStore::new(ObjectType::Contacts);
        for id in 1..=1000 {
            s.create(id, &[], 5, 5).unwrap();
        }
        let full = |s: &ObjectStore, lo, hi| s.by_modified.range(lo..=hi).count();
        for lo in [1u64, 200, 400, 401, 999, 1000, 1001] {
            let (a, b) = ((5, lo), (5, u64::MAX));
            assert_eq!(s.count_range(a, b, false), full(&s, a, b));
        }
        for hi in [1000u64, 800, 2, 1] {
            let (a, b) = ((5, 0), (5, hi));
            assert_eq!(s.count_range(a, b, true), full(&s, a, b));
        }
        s.count_range((5, 500), (5, u64::MAX), false);
        s.update(700, &[], 6, 6).unwrap();
        let (a, b) = ((5, 600), (5, u64::MAX));
        assert_eq!(s.count_range(a, b, false), 400);
        assert_eq!(s.count_range(a, b, false), full(&s, a, b));
    }

    #[test]
    fn validation_names_each_bad_property() {
        let s = ObjectStore::new(ObjectType::Contacts);
        let props = json!({"email": "not-an-email", "lifecyclestage": "nope", "nosuch": "1", "hubspotscore": "5", "firstname": "Ok"});
        let errors = s.validate(props.as_object().unwrap(), false).unwrap_err();
        let codes: Vec<_> = errors.iter().map(|e| e.code).collect();
        assert_eq!(
            codes,
            vec![
                "INVALID_EMAIL",
                "INVALID_OPTION",
                "PROPERTY_DOESNT_EXIST",
                "READ_ONLY_VALUE"
            ]
        );
    }
}
