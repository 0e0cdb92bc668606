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
    /// The pipeline's fingerprint tags (outcome fields as `outcome:<name>`).
    pub tags: super::fingerprint::FieldTags,
}

/// The tag-table name of outcome field `name`: its own namespace, so an
/// outcome field and a pipeline field of one name never share a tag.
pub fn outcome_tag_name(name: &str) -> String {
    format!("outcome:{name}")
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
            if m.marketing.is_some()
                && outcome.agreed.changed(
                    self.tags.of(&outcome_tag_name(&m.name)),
                    values.get(&m.name),
                )
            {
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
            if self.config.fields.iter().any(|m| &m.name == name) {
                agreed.agree(
                    self.tags.of(&outcome_tag_name(name)),
                    (!value.is_null()).then_some(value),
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{FieldMapping, FieldOwner, FieldType, ValueMap};
    use crate::rules::Rule;
    use serde_json::json;

    fn mapping(name: &str, crm: &str, marketing: Option<&str>, ty: FieldType) -> FieldMapping {
        FieldMapping {
            name: name.into(),
            marketing: marketing.map(Into::into),
            crm: Some(crm.into()),
            key: false,
            owner: FieldOwner::Crm,
            values: ValueMap::default(),
            trim: true,
            value_type: ty,
        }
    }

    fn outcomes() -> Outcomes {
        let names = ["stage", "won", "closed", "amount"];
        let rule = |s: &str| Arc::new(Rule::check(s, &names).unwrap());
        Outcomes {
            tags: Default::default(),
            config: Arc::new(OutcomesConfig {
                object: "Opportunity".into(),
                converted_to: "ConvertedOpportunityId".into(),
                id_field: "Id".into(),
                fields: vec![
                    mapping(
                        "stage",
                        "StageName",
                        Some("opportunity_stage"),
                        FieldType::String,
                    ),
                    mapping("won", "IsWon", Some("closed_won"), FieldType::Bool),
                    mapping("closed", "IsClosed", None, FieldType::Bool),
                    mapping(
                        "amount",
                        "Amount",
                        Some("opportunity_amount"),
                        FieldType::Number,
                    ),
                ],
                won_when: rule("won"),
                lost_when: rule("closed && !won"),
                on_converted: [("lifecycle".into(), "opportunity".into())].into(),
                on_won: [("lifecycle".into(), "customer".into())].into(),
                on_lost: Default::default(),
            }),
        }
    }

    fn opportunity(stage: &str, won: bool, closed: bool, amount: f64) -> Record {
        let mut r = Record::new("006A", Timestamp::UNIX_EPOCH);
        r.fields.insert("StageName".into(), json!(stage));
        r.fields.insert("IsWon".into(), json!(won));
        r.fields.insert("IsClosed".into(), json!(closed));
        r.fields.insert("Amount".into(), json!(amount));
        r
    }

    use jiff::Timestamp;

    fn link() -> OutcomeLink {
        OutcomeLink {
            outcome_id: "006A".into(),
            marketing_id: "1001".into(),
            lead_id: "00QA".into(),
            converted_at: Timestamp::UNIX_EPOCH,
            agreed: Fingerprints::default(),
            closed: None,
            owner: None,
            source: None,
            campaign: None,
        }
    }

    #[test]
    fn a_conversion_writes_its_values_and_the_outcome_fields_marketing_has() {
        let o = outcomes();
        let d = o
            .decide(
                &opportunity("Prospecting", false, false, 5e4),
                &link(),
                true,
            )
            .unwrap();
        assert_eq!(
            d.set_values,
            [("lifecycle".into(), json!("opportunity"))].into()
        );
        assert_eq!(
            d.outcome_values,
            [
                ("amount".into(), json!(50000)),
                ("stage".into(), json!("Prospecting")),
                ("won".into(), json!(false)),
            ]
            .into(),
            "`closed` has no marketing field: read for the rules only"
        );
        assert_eq!(d.closed, None);
        assert_eq!(
            o.to_marketing(&d.outcome_values).get("opportunity_amount"),
            Some(&json!(50000))
        );
    }

    #[test]
    fn what_marketing_was_told_is_no_change_and_a_close_is_recorded_once() {
        let o = outcomes();
        let mut state = link();
        let open = opportunity("Prospecting", false, false, 5e4);
        let d = o.decide(&open, &state, false).unwrap();
        o.agree(&mut state.agreed, &d.outcome_values);
        assert!(o.decide(&open, &state, false).unwrap().is_empty());

        let won = opportunity("Closed Won", true, true, 7.2e4);
        let d = o.decide(&won, &state, false).unwrap();
        assert_eq!(d.closed, Some(EventKind::Won));
        assert_eq!(d.set_values["lifecycle"], json!("customer"));
        assert_eq!(d.detail["amount"], json!(72000));
        assert_eq!(d.detail["outcome_id"], json!("006A"));
        o.agree(&mut state.agreed, &d.outcome_values);
        state.closed = d.closed;
        assert!(o.decide(&won, &state, false).unwrap().is_empty());
    }

    #[test]
    fn a_lost_outcome_is_lost_and_a_lead_is_converted_once_its_pointer_is_set() {
        let o = outcomes();
        let lost = opportunity("Closed Lost", false, true, 0.0);
        assert_eq!(
            o.decide(&lost, &link(), false).unwrap().closed,
            Some(EventKind::Lost)
        );
        let mut lead = Record::new("00QA", Timestamp::UNIX_EPOCH);
        assert_eq!(o.converted_to(&lead), None);
        lead.fields
            .insert("ConvertedOpportunityId".into(), json!(" "));
        assert_eq!(o.converted_to(&lead), None);
        lead.fields
            .insert("ConvertedOpportunityId".into(), json!("006A"));
        assert_eq!(o.converted_to(&lead).as_deref(), Some("006A"));
    }
}
