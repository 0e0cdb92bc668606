//! `[pipelines.outcomes]`, validated: the sales outcomes the engine follows
//! back to marketing.
//!
//! ```toml
//! [pipelines.outcomes]
//! object = "Opportunity"                    # the CRM object carrying outcomes
//! converted_to = "ConvertedOpportunityId"   # on the CRM lead, once converted
//! id_field = "Id"                           # the outcome object's id field
//! won_when = "closed_won"                   # CEL over the outcome fields
//! lost_when = "closed && !closed_won"
//! on_converted = { lifecycle = "opportunity" }   # canonical pipeline fields
//! on_won = { lifecycle = "customer" }
//!
//! [pipelines.outcomes.fields]
//! opportunity_stage = { crm = "StageName", marketing = "opportunity_stage" }
//! closed_won = { crm = "IsWon", marketing = "closed_won", type = "bool" }
//! closed = { crm = "IsClosed", type = "bool" }
//! amount = { crm = "Amount", marketing = "opportunity_amount", type = "number" }
//! ```
//!
//! Outcome fields are mapped like `[pipelines.fields]` but always flow from
//! the CRM (sales owns its opportunities), so `owner` may only say `crm`,
//! and `key`/`conflict` do not apply. A field without `marketing` is read
//! for the rules only. Their names are their own namespace next to the
//! pipeline's canonical fields, and may not repeat one: the echo
//! fingerprints of both are keyed by name.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::fields::{FieldMapping, FieldOwner, FieldType, Side, ValueMap};
use super::raw::{RawField, Text};
use super::raw_outcomes::{RawOutcomes, RawSet};
use super::rule_check::RuleChecks;
use crate::rules::Rule;
use leadbridge_core::config::Checker;

/// `[pipelines.outcomes]`, validated.
#[derive(Debug, Clone)]
pub struct OutcomesConfig {
    /// The CRM object carrying outcomes (`Opportunity`).
    pub object: String,
    /// The CRM lead's field naming its outcome record once converted; a
    /// lead counts as converted when it is not blank.
    pub converted_to: String,
    /// The outcome object's id field, to read a fresh conversion's outcome
    /// record at once (it may have changed before the lead was converted,
    /// so the outcome object's change pass would never show it).
    pub id_field: String,
    /// The outcome fields, in file order; each flows from the CRM.
    pub fields: Vec<FieldMapping>,
    /// The outcome is won (evaluated over the outcome fields).
    pub won_when: Arc<Rule>,
    /// The outcome is lost.
    pub lost_when: Arc<Rule>,
    /// Canonical pipeline fields written to marketing on conversion.
    pub on_converted: BTreeMap<String, String>,
    /// … when the outcome is won.
    pub on_won: BTreeMap<String, String>,
    /// … when the outcome is lost.
    pub on_lost: BTreeMap<String, String>,
}

impl OutcomesConfig {
    /// The vendor fields to read from the outcome object.
    pub fn crm_fields(&self) -> Vec<String> {
        let mut out: Vec<String> = self.fields.iter().filter_map(|f| f.crm.clone()).collect();
        out.sort();
        out.dedup();
        out
    }
}

const TYPES: &[&str] = &["string", "number", "bool", "datetime"];

pub(crate) fn validate(
    raw: &RawOutcomes,
    pipeline_fields: &[FieldMapping],
    pipeline_names: &[String],
    c: &Checker<'_, '_>,
) -> Option<OutcomesConfig> {
    let object = raw.object.as_ref().and_then(|t| c.non_empty("object", t));
    let converted_to = raw
        .converted_to
        .as_ref()
        .and_then(|t| c.non_empty("converted_to", t));
    let id_field = raw
        .id_field
        .as_ref()
        .and_then(|t| c.non_empty("id_field", t));
    let mut entries: Vec<(&Text, &RawField)> = raw.fields.iter().flatten().collect();
    entries.sort_by_key(|(name, _)| name.span().start);
    let names: Vec<String> = entries.iter().map(|(n, _)| n.get_ref().clone()).collect();
    let mut fields = Vec::new();
    let mut ok = true;
    for (name, f) in &entries {
        match field(name, f, pipeline_names, c) {
            Some(m) => fields.push(m),
            None => ok = false,
        }
    }
    if raw.fields.as_ref().is_some_and(BTreeMap::is_empty) {
        c.error(
            raw.span.clone(),
            "[pipelines.outcomes.fields] is empty",
            Some("outcome fields such as opportunity_stage = { crm = \"StageName\", marketing = \"opportunity_stage\" }".to_string()),
        );
        ok = false;
    }
    let won_when = raw
        .won_when
        .as_ref()
        .and_then(|w| c.rule("won_when", w, &names));
    let lost_when = raw
        .lost_when
        .as_ref()
        .and_then(|w| c.rule("lost_when", w, &names));
    let on_converted = marketing_values(
        "on_converted",
        raw.on_converted.as_ref(),
        pipeline_fields,
        pipeline_names,
        c,
    );
    let on_won = marketing_values(
        "on_won",
        raw.on_won.as_ref(),
        pipeline_fields,
        pipeline_names,
        c,
    );
    let on_lost = marketing_values(
        "on_lost",
        raw.on_lost.as_ref(),
        pipeline_fields,
        pipeline_names,
        c,
    );
    if !ok || raw.fields.is_none() {
        return None;
    }
    Some(OutcomesConfig {
        object: object?,
        converted_to: converted_to?,
        id_field: id_field?,
        fields,
        won_when: won_when?,
        lost_when: lost_when?,
        on_converted: on_converted?,
        on_won: on_won?,
        on_lost: on_lost?,
    })
}

/// One outcome field: like a pipeline field, owned by the CRM.
fn field(
    name: &Text,
    raw: &RawField,
    pipeline_names: &[String],
    c: &Checker<'_, '_>,
) -> Option<FieldMapping> {
    let n = name.get_ref();
    let mut ok = true;
    if !n
        .chars()
        .next()
        .is_some_and(|ch| ch.is_ascii_alphabetic() || ch == '_')
        || !n.chars().all(|ch| ch.is_ascii_alphanumeric() || ch == '_')
    {
        c.error(
            name.span(),
            format!("outcome field name `{n}` cannot be used in rules"),
            Some("letters, digits and `_`, starting with a letter".to_string()),
        );
        ok = false;
    }
    if pipeline_names.contains(n) {
        c.error(
            name.span(),
            format!("outcome field `{n}` is also a canonical field of [pipelines.fields]"),
            Some(
                "another name: outcome fields and pipeline fields share one namespace".to_string(),
            ),
        );
        ok = false;
    }
    let crm = match &raw.crm {
        Some(t) => c.non_empty("crm", t),
        None => {
            c.error(
                raw.span.clone(),
                format!("outcome field `{n}` has no `crm` field"),
                Some("crm = \"…\": the outcome object's field it is read from".to_string()),
            );
            None
        }
    };
    let marketing = match &raw.marketing {
        Some(t) => Some(c.non_empty("marketing", t)?),
        None => None,
    };
    let not_here = |key: &str, span: std::ops::Range<usize>| {
        c.error(
            span,
            format!("`{key}` does not apply to outcome field `{n}`"),
            Some(
                "outcome fields always flow from the CRM: crm, marketing, type, values, trim"
                    .to_string(),
            ),
        );
    };
    if let Some(k) = &raw.key {
        not_here("key", k.span());
        ok = false;
    }
    if let Some(k) = &raw.conflict {
        not_here("conflict", k.span());
        ok = false;
    }
    if let Some(o) = raw.owner.as_ref().filter(|o| o.get_ref() != "crm") {
        c.error(
            o.span(),
            format!("outcome field `{n}` is owned by `{}`", o.get_ref()),
            Some("owner = \"crm\" (or no owner): sales owns its outcomes".to_string()),
        );
        ok = false;
    }
    let value_type = match &raw.kind {
        Some(t) => match c.choice("field type", t, TYPES, FieldType::parse) {
            Some(ty) => ty,
            None => {
                ok = false;
                FieldType::String
            }
        },
        None => FieldType::String,
    };
    let values = match &raw.values {
        Some(map) => {
            let mut entries: Vec<(&Text, &Text)> = map.get_ref().iter().collect();
            entries.sort_by_key(|(k, _)| k.span().start);
            ValueMap::new(
                entries
                    .iter()
                    .map(|(k, v)| (k.get_ref().clone(), v.get_ref().clone())),
            )
        }
        None => ValueMap::default(),
    };
    if !ok {
        return None;
    }
    Some(FieldMapping {
        name: n.clone(),
        marketing,
        crm: Some(crm?),
        key: false,
        owner: FieldOwner::Crm,
        values,
        trim: raw.trim.as_ref().is_none_or(|t| *t.get_ref()),
        value_type,
    })
}

/// Canonical values to write to marketing (`on_converted`/`on_won`/
/// `on_lost`, the SLA's `recycle.set`): each name must be a pipeline field
/// that lives on the marketing side; every mistake is reported, located.
pub(super) fn marketing_values(
    key: &str,
    raw: Option<&RawSet>,
    fields: &[FieldMapping],
    names: &[String],
    c: &Checker<'_, '_>,
) -> Option<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    let mut ok = true;
    for (name, value) in raw.iter().flat_map(|s| s.get_ref()) {
        match fields.iter().find(|f| &f.name == name.get_ref()) {
            Some(f) if f.vendor_field(Side::Marketing).is_some() => {
                out.insert(name.get_ref().clone(), value.get_ref().clone());
            }
            Some(_) => {
                c.error(
                    name.span(),
                    format!(
                        "`{key}` sets `{}`, which does not live on the marketing side",
                        name.get_ref()
                    ),
                    Some("a canonical field with a `marketing` mapping".to_string()),
                );
                ok = false;
            }
            None => {
                let hint = match leadbridge_core::config::suggest(
                    name.get_ref(),
                    names.iter().map(String::as_str),
                ) {
                    Some(s) => format!(
                        "`{s}`; a canonical field of this pipeline: {}",
                        names.join(", ")
                    ),
                    None => format!("a canonical field of this pipeline: {}", names.join(", ")),
                };
                c.error(
                    name.span(),
                    format!(
                        "`{key}` sets `{}`, which is not a canonical field of [pipelines.fields]",
                        name.get_ref()
                    ),
                    Some(hint),
                );
                ok = false;
            }
        }
    }
    ok.then_some(out)
}
