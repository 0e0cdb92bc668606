//! Deciding a field both sides changed since the last sync: the policy in
//! config decides, never the order in which the engine happened to read.

use jiff::Timestamp;
use serde_json::Value;

use super::fields::{ConflictPolicy, Side};

/// One side's version of a contested value.
#[derive(Debug, Clone, PartialEq)]
pub struct Version<'a> {
    /// The value; `None` when blank.
    pub value: Option<&'a Value>,
    /// When that side's record was last modified.
    pub modified_at: Timestamp,
}

/// Which side's value wins under `policy`.
pub fn winner(policy: ConflictPolicy, marketing: &Version<'_>, crm: &Version<'_>) -> Side {
    match policy {
        ConflictPolicy::PreferMarketing => Side::Marketing,
        ConflictPolicy::PreferCrm => Side::Crm,
        ConflictPolicy::PreferMarketingUnlessBlank => {
            if marketing.value.is_some() {
                Side::Marketing
            } else {
                Side::Crm
            }
        }
        ConflictPolicy::PreferCrmUnlessBlank => {
            if crm.value.is_some() {
                Side::Crm
            } else {
                Side::Marketing
            }
        }
        // A tie goes to the CRM: a rep's edit is a person's decision.
        ConflictPolicy::Newest => {
            if marketing.modified_at > crm.modified_at {
                Side::Marketing
            } else {
                Side::Crm
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn v<'a>(value: Option<&'a Value>, at: &str) -> Version<'a> {
        Version {
            value,
            modified_at: at.parse().unwrap(),
        }
    }

    #[test]
    fn each_policy_decides_deterministically() {
        let a = json!("Acme");
        let b = json!("Acme Inc");
        let m = v(Some(&a), "2026-01-01T10:00:00Z");
        let c = v(Some(&b), "2026-01-01T09:00:00Z");
        assert_eq!(winner(ConflictPolicy::Newest, &m, &c), Side::Marketing);
        assert_eq!(winner(ConflictPolicy::Newest, &c, &m), Side::Crm);
        assert_eq!(
            winner(ConflictPolicy::Newest, &m, &m),
            Side::Crm,
            "ties go to the CRM"
        );
        assert_eq!(winner(ConflictPolicy::PreferCrm, &m, &c), Side::Crm);
        assert_eq!(
            winner(ConflictPolicy::PreferMarketing, &c, &m),
            Side::Marketing
        );
        let blank = v(None, "2026-01-01T11:00:00Z");
        assert_eq!(
            winner(ConflictPolicy::PreferCrmUnlessBlank, &m, &blank),
            Side::Marketing
        );
        assert_eq!(
            winner(ConflictPolicy::PreferCrmUnlessBlank, &m, &c),
            Side::Crm
        );
        assert_eq!(
            winner(ConflictPolicy::PreferMarketingUnlessBlank, &blank, &c),
            Side::Crm
        );
    }
}
