//! Per-field fingerprints of the values both sides were last brought to
//! agree on. They tell a real change from the echo of the engine's own
//! write, and a re-read from the overlap window from news, while storing a
//! few bytes per field instead of the values themselves.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

use serde_json::Value;

pub use crate::state::Fingerprints;
use crate::state::{Commit, StateResult, StateStore};

/// 64-bit FNV-1a: tiny, and stable across Rust versions and platforms
/// (unlike `DefaultHasher`), which matters because fingerprints outlive the
/// process.
pub fn fnv1a(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        hash ^= u64::from(*b);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash
}

/// The fingerprint of one canonical value; blank (absent or `null`) is 0.
pub fn of_value(value: Option<&Value>) -> u32 {
    match value {
        None | Some(Value::Null) => 0,
        Some(v) => {
            let h = fnv1a(v.to_string().as_bytes());
            // Folded to 32 bits, never 0, which stands for blank.
            (((h >> 32) ^ h) as u32).max(1)
        }
    }
}

impl Fingerprints {
    /// True when `value` differs from what both sides last agreed on for
    /// the field tagged `tag`. A field never synced counts as agreed-blank.
    pub fn changed(&self, tag: u16, value: Option<&Value>) -> bool {
        self.0.get(&tag).copied().unwrap_or(0) != of_value(value)
    }

    /// Records that both sides now hold `value` for the field tagged `tag`.
    pub fn agree(&mut self, tag: u16, value: Option<&Value>) {
        let fp = of_value(value);
        if fp == 0 {
            self.0.remove(&tag);
        } else {
            self.0.insert(tag, fp);
        }
    }
}

/// The tag a field's fingerprint was stored under before tags were kept in
/// the state: 16 bits of its name's hash. It is where a field's first tag
/// is looked for, so state written then keeps its meaning; a second field
/// whose hash lands on a taken tag gets the next free one.
pub fn legacy_tag(name: &str) -> u16 {
    (fnv1a(name.as_bytes()) & 0xffff) as u16
}

/// The fingerprint tags of one pipeline's fields, by name (pipeline fields
/// by their canonical name, outcome fields as `outcome:<name>`), loaded
/// from the state store and completed there before a cycle reads or writes
/// any fingerprint: assigned once, never shared by two fields, kept across
/// restarts and reorderings of the config. Cheap to clone; clones share it.
#[derive(Debug, Clone, Default)]
pub struct FieldTags(Arc<RwLock<Option<BTreeMap<String, u16>>>>);

impl FieldTags {
    /// The tag of field `name`; before the table is loaded (only outside a
    /// cycle: `explain`, tests) its legacy tag.
    pub fn of(&self, name: &str) -> u16 {
        let table = self.0.read().unwrap_or_else(|e| e.into_inner());
        table
            .as_ref()
            .and_then(|t| t.get(name).copied())
            .unwrap_or_else(|| legacy_tag(name))
    }

    /// Loads pipeline `pipeline`'s table from `store` and gives every one of
    /// `names` without a tag a free one, committed before it is used.
    pub async fn ensure(
        &self,
        store: &dyn StateStore,
        pipeline: &str,
        names: &[String],
    ) -> StateResult<()> {
        let loaded = {
            let table = self.0.read().unwrap_or_else(|e| e.into_inner());
            table
                .as_ref()
                .is_some_and(|t| names.iter().all(|n| t.contains_key(n)))
        };
        if loaded {
            return Ok(());
        }
        let mut table = store.field_tags(pipeline).await?;
        let mut commit = Commit::new(pipeline.to_owned());
        let mut missing: Vec<&String> = names.iter().filter(|n| !table.contains_key(*n)).collect();
        missing.sort();
        for name in missing {
            let taken: std::collections::BTreeSet<u16> = table.values().copied().collect();
            let mut tag = legacy_tag(name);
            while taken.contains(&tag) {
                tag = tag.wrapping_add(1);
            }
            table.insert(name.clone(), tag);
            commit.set_field_tag(name.clone(), tag);
        }
        if !commit.is_empty() {
            store.commit(&commit).await?;
        }
        *self.0.write().unwrap_or_else(|e| e.into_inner()) = Some(table);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn fnv_is_the_published_function() {
        assert_eq!(fnv1a(b""), 0xcbf29ce484222325);
        assert_eq!(fnv1a(b"a"), 0xaf63dc4c8601ec8c);
    }

    #[test]
    fn an_agreed_value_is_no_change_until_it_changes() {
        let tag = legacy_tag("company");
        let mut fp = Fingerprints::default();
        assert!(fp.changed(tag, Some(&json!("Acme"))));
        fp.agree(tag, Some(&json!("Acme")));
        assert!(!fp.changed(tag, Some(&json!("Acme"))));
        assert!(fp.changed(tag, Some(&json!("Acme Ltd"))));
    }

    #[test]
    fn blank_and_null_are_the_same_and_never_synced_is_blank() {
        let fp = Fingerprints::default();
        assert!(!fp.changed(7, None));
        assert!(!fp.changed(7, Some(&Value::Null)));
    }

    #[test]
    fn the_legacy_tags_of_these_pairs_collide() {
        // Why tags are kept in the state: 16 bits of a hash are not enough.
        assert_eq!(legacy_tag("city"), legacy_tag("crm_language"));
        assert_eq!(legacy_tag("channel"), legacy_tag("prev_company"));
    }

    #[tokio::test]
    async fn colliding_names_get_distinct_tags_that_are_kept() {
        let store = crate::state::MemoryStore::new();
        let names: Vec<String> = ["crm_language", "city", "email"].map(String::from).to_vec();
        let tags = FieldTags::default();
        tags.ensure(&store, "p", &names).await.unwrap();
        let (city, lang) = (tags.of("city"), tags.of("crm_language"));
        assert_ne!(city, lang);
        // `city` sorts first and keeps the tag state written before had.
        assert_eq!(city, legacy_tag("city"));
        // Another process, the config reordered: the same tags.
        let again = FieldTags::default();
        let reordered: Vec<String> = names.iter().rev().cloned().collect();
        again.ensure(&store, "p", &reordered).await.unwrap();
        assert_eq!((again.of("city"), again.of("crm_language")), (city, lang));
        assert_eq!(store.field_tags("p").await.unwrap().len(), 3);
    }
}
