//! Where each setting a later check may complain about was written.
//!
//! The live check (`leadbridge check --online`, and the same check at every
//! start) reads the tools' metadata after the file was read; its findings
//! must still say file:line:col. One walk over the raw config records the
//! places by path, so the validators need not carry spans around:
//!
//! | path | the setting |
//! |---|---|
//! | `connectors.<name>` | the section |
//! | `pipelines.<p>.marketing` / `.crm` | a side |
//! | `pipelines.<p>.crm.upsert_key` / `.crm.owner_field` | those keys |
//! | `pipelines.<p>.fields` | the table of fields |
//! | `pipelines.<p>.fields.<f>` / `.marketing` / `.crm` / `.type` | a mapping and its keys |
//! | `pipelines.<p>.fields.<f>.values.<crm value>` | one value-map entry |
//! | `pipelines.<p>.handoff.when` | the handoff rule |
//! | `pipelines.<p>.handoff.assign.owners.<i>` / `.default_owner` / `.rules.<i>.owner` / `.fallback` | an owner id |
//! | `pipelines.<p>.sla.manager` / `.sla.owners.<i>` | SLA user ids |
//! | `pipelines.<p>.sla.first_touch` | the `touched_when` rule |
//! | `pipelines.<p>.sla.tasks` / `.object` / `.subject` / `.parent` / `.owner` | the task fields |

use std::ops::Range;

use leadbridge_core::config::{Diagnostics, Text};

use super::raw::{RawAssign, RawConfig, RawFallback};

/// Records the places of `raw`'s settings in `diag`.
pub(crate) fn record(raw: &RawConfig, diag: &Diagnostics<'_>) {
    let at = |path: String, span: Range<usize>| diag.remember(path, span);
    let text = |path: String, t: &Option<Text>| {
        if let Some(t) = t {
            diag.remember(path, t.span());
        }
    };
    for (name, section) in raw.connectors.iter().flatten() {
        at(
            format!("connectors.{}", name.get_ref()),
            section.common.span.clone(),
        );
    }
    for p in raw.pipelines.iter().flatten() {
        let Some(name) = &p.name else { continue };
        let base = format!("pipelines.{}", name.get_ref());
        if let Some(m) = &p.marketing {
            at(format!("{base}.marketing"), m.span.clone());
        }
        if let Some(crm) = &p.crm {
            at(format!("{base}.crm"), crm.span.clone());
            text(format!("{base}.crm.upsert_key"), &crm.upsert_key);
            text(format!("{base}.crm.owner_field"), &crm.owner_field);
        }
        at(format!("{base}.fields"), p.fields_span.clone());
        for (field, raw) in p.fields.iter().flatten() {
            let path = format!("{base}.fields.{}", field.get_ref());
            at(path.clone(), raw.span.clone());
            text(format!("{path}.marketing"), &raw.marketing);
            text(format!("{path}.crm"), &raw.crm);
            text(format!("{path}.type"), &raw.kind);
            for (crm_value, _) in raw.values.iter().flat_map(|v| v.get_ref()) {
                at(
                    format!("{path}.values.{}", crm_value.get_ref()),
                    crm_value.span(),
                );
            }
        }
        if let Some(h) = &p.handoff {
            text(format!("{base}.handoff.when"), &h.when);
            if let Some(a) = &h.assign {
                assign(diag, &format!("{base}.handoff.assign"), a);
            }
        }
        if let Some(sla) = &p.sla {
            text(format!("{base}.sla.manager"), &sla.manager);
            if let Some(first) = &sla.first_touch {
                text(format!("{base}.sla.first_touch"), &first.touched_when);
            }
            for (i, o) in sla.owners.iter().flat_map(|o| o.get_ref()).enumerate() {
                at(format!("{base}.sla.owners.{i}"), o.span());
            }
            if let Some(t) = &sla.tasks {
                at(format!("{base}.sla.tasks"), t.span.clone());
                text(format!("{base}.sla.tasks.object"), &t.object);
                text(format!("{base}.sla.tasks.subject"), &t.subject);
                text(format!("{base}.sla.tasks.parent"), &t.parent);
                text(format!("{base}.sla.tasks.owner"), &t.owner);
            }
        }
    }
}

fn assign(diag: &Diagnostics<'_>, path: &str, a: &RawAssign) {
    for (i, o) in a.owners.iter().flat_map(|o| o.get_ref()).enumerate() {
        diag.remember(format!("{path}.owners.{i}"), o.span());
    }
    for (i, r) in a.rules.iter().flatten().enumerate() {
        if let Some(o) = &r.owner {
            diag.remember(format!("{path}.rules.{i}.owner"), o.span());
        }
    }
    if let Some(o) = &a.default_owner {
        diag.remember(format!("{path}.default_owner"), o.span());
    }
    match &a.fallback {
        Some(RawFallback::Owner(o)) => diag.remember(format!("{path}.fallback"), o.span()),
        Some(RawFallback::Assign(inner)) => assign(diag, &format!("{path}.fallback"), inner),
        None => {}
    }
}
