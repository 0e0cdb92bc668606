//! Sales outcomes, decided without I/O: when a linked CRM lead counts as
//! converted, and what a change of its outcome record (a Salesforce
//! Opportunity) means for marketing — which outcome fields changed since
//! marketing was last told, and whether the outcome just closed as won or
//! lost. The cycle's outcomes pass (`cycle/outcomes.rs`) executes it.
//!
//! Outcome fields always flow from the CRM. Their echo fingerprints live in
//! the [`OutcomeLink`], not in the lead's link: marketing's copy of an
//! opportunity's stage is not a field of the lead pair, and the marketing
//! pass never reads it back, so a write of ours can never come back as a
//! change. The pipeline fields an outcome sets (`on_won = { lifecycle =
//! "customer" }`) are agreed on the lead's link like any other write, so the
//! marketing pass sees no change either.

use std::sync::Arc;

use leadbridge_core::{Fields, Record};
use serde_json::Value;
use tracing::debug;

use super::fields::{normalise, Canonical, Side};
use super::plan::Rejection;
use crate::config::OutcomesConfig;
use crate::state::{EventKind, Fingerprints, OutcomeLink};

/// The outcomes a pipeline follows, as the engine runs them.
#[derive(Debug, Clone)]
pub struct Outcomes {
    /// `[pipelines.outcomes]`.
    pub config: Arc<OutcomesConfig>,
}

/// What one read of an outcome record means for marketing.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct OutcomeDecision {
    /// Outcome fields that changed since marketing was last told (blank as
    /// `null`); agreed in the [`OutcomeLink`] once written.
    pub outcome_values: Canonical,
    /// Pipeline fields the conversion or the close sets (`lifecycle`);
    /// agreed on the lead's link once written.
    pub set_values: Canonical,
    /// `Won` or `Lost` when the outcome closed and no close was recorded yet.
    pub closed: Option<EventKind>,
    /// Every outcome field's value (amount, stage…) and the outcome's id,
    /// for the funnel event's detail.
    pub detail: Fields,
}

impl OutcomeDecision {
    /// True when nothing is to be written or recorded.
    pub fn is_empty(&self) -> bool {
        self.outcome_values.is_empty() && self.set_values.is_empty() && self.closed.is_none()
    }
}

impl Outcomes {
    /// The outcome record a CRM lead was converted to, if it was: the
    /// `converted_to` field, when not blank.
    pub fn converted_to(&self, record: &Record) -> Option<String> {
        record
            .fields
            .get(&self.config.converted_to)
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    }

    /// The vendor fields to read from the outcome object.
    pub fn crm_fields(&self) -> Vec<String> {
        self.config.crm_fields()
    }

    /// An outcome record's canonical values (every outcome field, blanks as
    /// `null`).
    pub fn values(&self, record: &Record) -> Result<Canonical, Rejection> {
        let mut out = Canonical::new();
        for m in &self.config.fields {
            let raw = m
                .crm
                .as_ref()
                .and_then(|f| record.fields.get(f))
                .unwrap_or(&Value::Null);
            let value = m.to_canonical(Side::Crm, raw).map_err(|e| Rejection {
                side: Side::Crm,
                record_id: record.id.clone(),
                reason: e.to_string(),
            })?;
            out.insert(m.name.clone(), normalise(value));
        }
        Ok(out)
    }

    /// What a read of `record` (the outcome of `outcome`) means; `converting`
    /// when the conversion itself is being recorded now (its `on_converted`
    /// values are written with it).
    pub fn decide(
        &self,
        record: &Record,
        outcome: &OutcomeLink,
        converting: bool,
    ) -> Result<OutcomeDecision, Rejection> {
        let values = self.values(record)?;
        let mut decision = OutcomeDecision::default();
        for m in &self.config.fields {
            if m.marketing.is_some() && outcome.agreed.changed(m, &values) {
                decision.outcome_values.insert(
                    m.name.clone(),
                    values.get(&m.name).cloned().unwrap_or(Value::Null),
                );
            }
        }
        let set = |d: &mut OutcomeDecision, set: &std::collections::BTreeMap<String, String>| {
            for (k, v) in set {
                d.set_values.insert(k.clone(), Value::String(v.clone()));
            }
        };
        if converting {
            set(&mut decision, &self.config.on_converted);
        }
        if outcome.closed.is_none() {
            decision.closed = self.closed(record, &values);
            match decision.closed {
                Some(EventKind::Won) => set(&mut decision, &self.config.on_won),
                Some(EventKind::Lost) => set(&mut decision, &self.config.on_lost),
                _ => {}
            }
        }
        decision.detail = values.into_iter().filter(|(_, v)| !v.is_null()).collect();
        decision
            .detail
            .insert("outcome_id".into(), Value::String(record.id.clone()));
        Ok(decision)
    }

    /// Won, lost, or still open (a rule that cannot be evaluated on these
    /// values, say a blank amount in a comparison, counts as not holding).
    fn closed(&self, record: &Record, values: &Canonical) -> Option<EventKind> {
        let holds = |rule: &crate::rules::Rule| match rule.evaluate(values) {
            Ok(b) => b,
            Err(e) => {
                debug!(outcome = %record.id, rule = rule.source(), error = %e, "outcome rule not evaluated");
                false
            }
        };
        if holds(&self.config.won_when) {
            Some(EventKind::Won)
        } else if holds(&self.config.lost_when) {
            Some(EventKind::Lost)
        } else {
            None
        }
    }

    /// Vendor fields for marketing carrying these outcome values.
    pub fn to_marketing(&self, values: &Canonical) -> Fields {
        let mut out = Fields::new();
        for m in &self.config.fields {
            if let (Some(field), Some(v)) = (&m.marketing, values.get(&m.name)) {
                out.insert(field.clone(), m.from_canonical(Side::Marketing, v));
            }
        }
        out
    }

    /// Records that marketing now holds `written` outcome values.
    pub fn agree(&self, agreed: &mut Fingerprints, written: &Canonical) {
        for (name, value) in written {
            if let Some(m) = self.config.fields.iter().find(|m| &m.name == name) {
                agreed.agree(m, (!value.is_null()).then_some(value));
            }
        }
    }
}
