//! What to do with each changed record: pure decisions, no I/O, so every
//! rule of the sync (ownership, echo, conflicts, handoff) is tested without
//! a network and the cycle only executes what was decided here.

use std::collections::HashMap;

use jiff::Timestamp;
use leadbridge_core::Record;
use serde_json::Value;
use tracing::debug;

use super::conflict::{winner, Version};
use super::fields::{Canonical, FieldMap, FieldMapping, FieldOwner, Side};
use super::fingerprint::{FieldTags, Fingerprints};
use std::sync::Arc;

use crate::rules::Rule;
use crate::state::Link;

/// A change sales made in the CRM that marketing has not seen yet.
#[derive(Debug, Clone, PartialEq)]
pub struct CrmChange {
    /// The linked pair.
    pub link: Link,
    /// The changed values of fields that flow from the CRM (blank as Null).
    pub values: Canonical,
    /// When the CRM record was modified (for the `newest` policy).
    pub modified_at: Timestamp,
}

/// Something one record cannot go through, for the dead letter queue.
#[derive(Debug, Clone, PartialEq)]
pub struct Rejection {
    /// The side the record was read from.
    pub side: Side,
    /// Its id there.
    pub record_id: String,
    /// Why, in words an ops person can act on.
    pub reason: String,
}

/// An update of an existing linked pair.
#[derive(Debug, Clone, PartialEq)]
pub struct PairUpdate {
    /// The pair.
    pub link: Link,
    /// Canonical values to write to the CRM record (blank as Null). When
    /// the CRM wins a conflict, its value reaches marketing through the
    /// pending [`CrmChange`] instead.
    pub to_crm: Canonical,
}

/// What to do with one changed marketing record.
#[derive(Debug, Clone, PartialEq)]
pub enum MarketingDecision {
    /// Nothing changed that flows (an echo, an overlap re-read, a field sales owns).
    Unchanged,
    /// A linked pair to update (boxed: a link is the largest variant).
    Update(Box<PairUpdate>),
    /// A new qualified lead to hand to sales (match by key, else create).
    Handoff {
        /// The marketing record's id.
        marketing_id: String,
        /// Its canonical key (folded, see `engine::key`).
        key: String,
        /// All its canonical values.
        values: Canonical,
    },
    /// Not handed off; the reason says which condition held it back.
    NotQualified(NotQualified),
    /// Cannot be processed: to the dead letter queue.
    Rejected(Rejection),
}

/// Why a marketing record was not handed off. Most records of a pass end
/// here (nine in ten in the benchmark), so the reason is a plain value,
/// put into words only when a debug log line asks for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotQualified {
    /// The pipeline has no `[handoff]`.
    Disabled,
    /// The record has no value for the key field (named).
    NoKey(String),
    /// Fields `handoff.require` names are blank (named).
    MissingRequired(Vec<String>),
    /// The `handoff.when` rule evaluated to false.
    RuleFalse,
}

impl std::fmt::Display for NotQualified {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Disabled => f.write_str("this pipeline hands nothing off"),
            Self::NoKey(key) => write!(f, "no {key}"),
            Self::MissingRequired(fields) => write!(f, "missing required {}", fields.join(", ")),
            Self::RuleFalse => f.write_str("the handoff rule is false"),
        }
    }
}

/// The handoff half of the SLA: which leads marketing hands over.
#[derive(Debug, Clone)]
pub struct HandoffRule {
    /// False when the pipeline has no `[handoff]`: it then only keeps
    /// already-linked pairs in sync.
    pub enabled: bool,
    /// The CEL condition; `None` hands over every lead with the required fields.
    pub when: Option<Arc<Rule>>,
    /// Canonical fields that must be present.
    pub require: Vec<String>,
}

/// Makes the decisions of one pipeline.
#[derive(Debug, Clone)]
pub struct Planner {
    /// The pipeline's fields.
    pub fields: FieldMap,
    /// Its handoff rule.
    pub handoff: HandoffRule,
    /// The fingerprint tag of each field (loaded by the cycle).
    pub tags: FieldTags,
}

impl Planner {
    /// A CRM record read in a change pass: the feedback to carry to
    /// marketing, if any. `pair` is `None` when the record is not linked
    /// (sales' own leads are not ours to sync back).
    pub fn crm_record(
        &self,
        record: &Record,
        link: Option<Link>,
    ) -> Result<Option<CrmChange>, Rejection> {
        let Some(link) = link else { return Ok(None) };
        if record.archived {
            return Ok(None);
        }
        let values = self
            .fields
            .to_canonical(Side::Crm, &record.fields)
            .map_err(|e| Rejection {
                side: Side::Crm,
                record_id: record.id.clone(),
                reason: e.to_string(),
            })?;
        let mut changed = Canonical::new();
        for spec in self
            .fields
            .mappings()
            .iter()
            .filter(|s| s.flows_from(Side::Crm))
        {
            if link
                .state
                .agreed
                .changed(self.tags.of(&spec.name), values.get(&spec.name))
            {
                changed.insert(
                    spec.name.clone(),
                    values.get(&spec.name).cloned().unwrap_or(Value::Null),
                );
            }
        }
        if changed.is_empty() {
            return Ok(None);
        }
        Ok(Some(CrmChange {
            link,
            values: changed,
            modified_at: record.modified_at,
        }))
    }

    /// A marketing record read in a change pass. `crm_changes` holds this
    /// cycle's pending feedback by marketing id; a conflict resolved in
    /// marketing's favour removes the field from it.
    pub fn marketing_record(
        &self,
        record: &Record,
        link: Option<Link>,
        crm_changes: &mut HashMap<String, CrmChange>,
    ) -> MarketingDecision {
        let reject = |reason: String| {
            MarketingDecision::Rejected(Rejection {
                side: Side::Marketing,
                record_id: record.id.clone(),
                reason,
            })
        };
        if record.archived {
            return MarketingDecision::Unchanged;
        }
        if link.is_none() {
            // Most unlinked records are held back by the handoff rule: it is
            // decided on the fields it reads (key, `require`, the rule's),
            // and only a record that qualifies is mapped in full.
            let decisive = self
                .fields
                .to_canonical_where(Side::Marketing, &record.fields, |m| self.decides(m));
            match decisive {
                Ok(values) => {
                    if let Some(held) = self.held_back(record, &values) {
                        return held;
                    }
                }
                Err(e) => return reject(e.to_string()),
            }
        }
        let values = match self.fields.to_canonical(Side::Marketing, &record.fields) {
            Ok(v) => v,
            Err(e) => return reject(e.to_string()),
        };
        match link {
            Some(link) => self.update_pair(record, link, values, crm_changes),
            None => self.hand_off(record, values),
        }
    }

    /// Whether a canonical field takes part in the handoff decision.
    fn decides(&self, mapping: &FieldMapping) -> bool {
        mapping.key
            || self.handoff.require.contains(&mapping.name)
            || self
                .handoff
                .when
                .as_ref()
                .is_some_and(|rule| rule.fields().contains(&mapping.name))
    }

    fn update_pair(
        &self,
        record: &Record,
        link: Link,
        values: Canonical,
        crm_changes: &mut HashMap<String, CrmChange>,
    ) -> MarketingDecision {
        let mut update = PairUpdate {
            link,
            to_crm: Canonical::new(),
        };
        let pending = crm_changes.get_mut(&record.id);
        let mut pending = pending;
        for spec in self
            .fields
            .mappings()
            .iter()
            .filter(|s| s.flows_from(Side::Marketing))
        {
            let tag = self.tags.of(&spec.name);
            if !update
                .link
                .state
                .agreed
                .changed(tag, values.get(&spec.name))
            {
                continue;
            }
            // Blank is `null` in canonical values; policies treat it as no value.
            let ours = values.get(&spec.name).filter(|v| !v.is_null());
            let theirs = pending.as_deref_mut().and_then(|c| {
                c.values
                    .get(&spec.name)
                    .cloned()
                    .map(|v| (v, c.modified_at))
            });
            match (spec.owner, theirs) {
                (FieldOwner::Both(policy), Some((crm_value, crm_modified))) => {
                    let crm_value = (!crm_value.is_null()).then_some(crm_value);
                    if crm_value.as_ref() == ours {
                        // Both sides changed it to the same value: nothing to carry.
                        if let Some(c) = pending.as_deref_mut() {
                            c.values.remove(&spec.name);
                        }
                        update.link.state.agreed.agree(tag, ours);
                        continue;
                    }
                    let side = winner(
                        policy,
                        &Version {
                            value: ours,
                            modified_at: record.modified_at,
                        },
                        &Version {
                            value: crm_value.as_ref(),
                            modified_at: crm_modified,
                        },
                    );
                    debug!(
                        field = %spec.name,
                        marketing = ?ours, marketing_modified = %record.modified_at,
                        crm = ?crm_value, crm_modified = %crm_modified,
                        ?policy, winner = %side,
                        "conflict decided"
                    );
                    if side == Side::Marketing {
                        if let Some(c) = pending.as_deref_mut() {
                            c.values.remove(&spec.name);
                        }
                        update
                            .to_crm
                            .insert(spec.name.clone(), ours.cloned().unwrap_or(Value::Null));
                    }
                    // When the CRM wins, its pending change carries the value to marketing.
                }
                _ => {
                    update
                        .to_crm
                        .insert(spec.name.clone(), ours.cloned().unwrap_or(Value::Null));
                }
            }
        }
        if pending.as_ref().is_some_and(|c| c.values.is_empty()) {
            crm_changes.remove(&record.id);
        }
        if update.to_crm.is_empty() {
            MarketingDecision::Unchanged
        } else {
            MarketingDecision::Update(Box::new(update))
        }
    }

    /// Why an unlinked record with these canonical values is not handed
    /// off (not qualified, or the rule failed on it), or `None` when it is.
    fn held_back(&self, record: &Record, values: &Canonical) -> Option<MarketingDecision> {
        if !self.handoff.enabled {
            return Some(MarketingDecision::NotQualified(NotQualified::Disabled));
        }
        if values
            .get(&self.fields.key().name)
            .is_none_or(|v| !v.is_string())
        {
            return Some(MarketingDecision::NotQualified(NotQualified::NoKey(
                self.fields.key().name.clone(),
            )));
        }
        let blank = |f: &String| values.get(f).is_none_or(Value::is_null);
        if self.handoff.require.iter().any(blank) {
            let missing = self.handoff.require.iter().filter(|f| blank(f));
            return Some(MarketingDecision::NotQualified(
                NotQualified::MissingRequired(missing.cloned().collect()),
            ));
        }
        let rule = self.handoff.when.as_ref()?;
        // The rule reads only its own fields; a copy with every canonical
        // field is made only when one of them is absent here (a field
        // mapped on the CRM side only).
        let completed;
        let seen = if rule.fields().iter().all(|f| values.contains_key(f)) {
            values
        } else {
            completed = self.fields.complete(values);
            &completed
        };
        match rule.evaluate(seen) {
            Ok(true) => None,
            Ok(false) => Some(MarketingDecision::NotQualified(NotQualified::RuleFalse)),
            Err(e) => Some(MarketingDecision::Rejected(Rejection {
                side: Side::Marketing,
                record_id: record.id.clone(),
                reason: format!("handoff rule failed: {e}"),
            })),
        }
    }

    /// The handoff of a record [`Planner::held_back`] let through.
    fn hand_off(&self, record: &Record, values: Canonical) -> MarketingDecision {
        let Some(key) = self.fields.key_of(&values) else {
            return MarketingDecision::NotQualified(NotQualified::NoKey(
                self.fields.key().name.clone(),
            ));
        };
        MarketingDecision::Handoff {
            marketing_id: record.id.clone(),
            key,
            values,
        }
    }

    /// The canonical values a new CRM record is created with: every field
    /// that flows from marketing.
    pub fn handoff_values(&self, values: &Canonical) -> Canonical {
        self.fields
            .mappings()
            .iter()
            .filter(|s| s.key || s.flows_from(Side::Marketing))
            .filter_map(|s| {
                values
                    .get(&s.name)
                    .filter(|v| !v.is_null())
                    .map(|v| (s.name.clone(), v.clone()))
            })
            .collect()
    }

    /// Records that both sides now agree on `written` (after a successful write).
    pub fn agree_on(&self, agreed: &mut Fingerprints, written: &Canonical) {
        for (name, value) in written {
            if self.fields.get(name).is_some() {
                agreed.agree(self.tags.of(name), (!value.is_null()).then_some(value));
            }
        }
    }
}
