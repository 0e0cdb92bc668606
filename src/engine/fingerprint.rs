//! Per-field fingerprints of the values both sides were last brought to
//! agree on. They tell a real change from the echo of the engine's own
//! write, and a re-read from the overlap window from news, while storing a
//! few bytes per field instead of the values themselves.

use serde_json::Value;

use super::fields::{tag, Canonical, FieldMapping};
pub use crate::state::Fingerprints;

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
    /// True when `values[mapping]` differs from what both sides last agreed
    /// on. A field never synced counts as agreed-blank.
    pub fn changed(&self, mapping: &FieldMapping, values: &Canonical) -> bool {
        let now = of_value(values.get(&mapping.name));
        self.0.get(&tag(mapping)).copied().unwrap_or(0) != now
    }

    /// Records that both sides now hold `value` for `mapping`.
    pub fn agree(&mut self, mapping: &FieldMapping, value: Option<&Value>) {
        let fp = of_value(value);
        if fp == 0 {
            self.0.remove(&tag(mapping));
        } else {
            self.0.insert(tag(mapping), fp);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{FieldOwner, FieldType, ValueMap};
    use serde_json::json;

    fn mapping() -> FieldMapping {
        FieldMapping {
            name: "company".into(),
            marketing: Some("company".into()),
            crm: Some("Company".into()),
            key: false,
            owner: FieldOwner::Marketing,
            values: ValueMap::default(),
            trim: true,
            value_type: FieldType::String,
        }
    }

    #[test]
    fn fnv_is_the_published_function() {
        assert_eq!(fnv1a(b""), 0xcbf29ce484222325);
        assert_eq!(fnv1a(b"a"), 0xaf63dc4c8601ec8c);
    }

    #[test]
    fn an_agreed_value_is_no_change_until_it_changes() {
        let m = mapping();
        let mut fp = Fingerprints::default();
        let v: Canonical = [("company".to_owned(), json!("Acme"))].into();
        assert!(fp.changed(&m, &v));
        fp.agree(&m, v.get("company"));
        assert!(!fp.changed(&m, &v));
        let w: Canonical = [("company".to_owned(), json!("Acme Ltd"))].into();
        assert!(fp.changed(&m, &w));
    }

    #[test]
    fn blank_and_null_are_the_same_and_never_synced_is_blank() {
        let m = mapping();
        let fp = Fingerprints::default();
        assert!(!fp.changed(&m, &Canonical::new()));
        assert!(!fp.changed(&m, &[("company".to_owned(), Value::Null)].into()));
    }
}
