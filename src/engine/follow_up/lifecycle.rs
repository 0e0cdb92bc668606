//! The SLA's two hooks into the sync cycle: a handoff starts a lead's SLA
//! (in the same commit as its link), and a CRM record read in the CRM pass
//! may be its first touch (which stops the timer, in the same commit as
//! that page's checkpoint).

use std::collections::HashMap;

use jiff::Timestamp;
use leadbridge_core::Record;
use serde_json::Value;
use tracing::debug;

use crate::engine::fields::Canonical;
use crate::engine::pipeline::Pipeline;
use crate::sla::schedule::Timeline;
use crate::state::{
    Commit, Event, EventKind, Link, Side, SlaLead, SlaStep, StateError, StateStore,
};

/// Starts the SLA of a lead just handed off: its first step (the context
/// note and follow-up task) is due at once, so the sweep of this very cycle
/// creates them, and a stop before that creates them at the next start.
/// No-op when the pipeline has no SLA.
pub fn start(
    pipeline: &Pipeline,
    commit: &mut Commit,
    marketing_id: &str,
    crm_id: &str,
    owner: Option<&str>,
    values: &Canonical,
    now: Timestamp,
) {
    if pipeline.sla.is_none() {
        return;
    }
    let text = |k: &str| values.get(k).and_then(Value::as_str).map(str::to_owned);
    commit.set_sla_lead(SlaLead {
        marketing_id: marketing_id.to_owned(),
        crm_id: crm_id.to_owned(),
        owner: owner.map(str::to_owned),
        handed_off_at: now,
        next: Some(SlaStep::Setup),
        due: Some(now),
        breached: false,
        accepted_at: None,
        recycled: false,
        tasks: Vec::new(),
        context: values
            .iter()
            .filter(|(_, v)| !v.is_null())
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
        source: text("source"),
        campaign: text("campaign"),
    });
}

/// Looks at one page of CRM records for first touches: a linked lead with
/// an open SLA whose canonical CRM-side values satisfy `touched_when` is
/// accepted. Records the `Accepted` event (with time to first touch, in
/// wall-clock and business seconds, and whether it was within the SLA) and
/// stops the timer. Returns how many leads were accepted.
pub async fn detect_touches(
    pipeline: &Pipeline,
    store: &dyn StateStore,
    records: &[Record],
    links: &HashMap<String, Link>,
    commit: &mut Commit,
    now: Timestamp,
) -> Result<u64, StateError> {
    let Some(sla) = pipeline.sla.as_deref() else {
        return Ok(0);
    };
    let fields = &pipeline.planner.fields;
    let mut accepted = 0;
    for record in records {
        let Some(link) = links.get(&record.id) else {
            continue;
        };
        let Some(mut lead) = store.sla_lead(&pipeline.name, &link.marketing_id).await? else {
            continue;
        };
        if !lead.is_open() || record.archived {
            continue;
        }
        let Ok(values) = fields.to_canonical(Side::Crm, &record.fields) else {
            continue;
        };
        match sla.touched_when.evaluate(&fields.complete(&values)) {
            Ok(true) => {}
            Ok(false) => continue,
            Err(e) => {
                debug!(lead = %lead.marketing_id, error = %e, "touched_when could not be evaluated");
                continue;
            }
        }
        // The CRM's own modification time is when the rep acted; kept
        // between the handoff and now whatever the two clocks say.
        let touched_at = record
            .modified_at
            .clamp(lead.handed_off_at, now.max(lead.handed_off_at));
        accept(pipeline, sla, &mut lead, touched_at, None, commit);
        commit.set_sla_lead(lead);
        accepted += 1;
    }
    Ok(accepted)
}

/// Records the first touch of `lead` at `touched_at`: the `Accepted` event
/// (time to first touch, within the SLA or not; `how` says what counted as
/// the touch when it was not `touched_when`) and its timers stopped.
fn accept(
    pipeline: &Pipeline,
    sla: &crate::config::SlaConfig,
    lead: &mut crate::state::SlaLead,
    touched_at: Timestamp,
    how: Option<&str>,
    commit: &mut Commit,
) {
    let deadline = Timeline::new(sla, lead.handed_off_at)
        .map(|t| t.deadline)
        .unwrap_or(Timestamp::MAX);
    let within = touched_at <= deadline;
    let wall = touched_at.duration_since(lead.handed_off_at);
    let business = sla
        .calendar
        .business_time_between(lead.handed_off_at, touched_at);
    lead.accepted_at = Some(touched_at);
    if lead.next != Some(SlaStep::Setup) {
        // Setup still creates the note and task; everything else stops.
        lead.next = None;
        lead.due = None;
    }
    let mut e = Event::new(touched_at, EventKind::Accepted, lead.marketing_id.clone());
    e.crm_id = Some(lead.crm_id.clone());
    e.owner = lead.owner.clone();
    e.source = lead.source.clone();
    e.campaign = lead.campaign.clone();
    e.detail.insert("within_sla".into(), Value::Bool(within));
    e.detail
        .insert("time_to_first_touch_s".into(), Value::from(wall.as_secs()));
    e.detail.insert(
        "business_time_to_first_touch_s".into(),
        Value::from(business.as_secs()),
    );
    if let Some(how) = how {
        e.detail
            .insert("touched_by".into(), Value::String(how.into()));
    }
    commit.event(e);
    crate::metrics::LeadAccepted {
        pipeline: &pipeline.name,
        marketing_id: &lead.marketing_id,
        time_to_first_touch: std::time::Duration::from_secs(business.as_secs().max(0) as u64),
        within_sla: within,
    }
    .emit();
}

/// Sales converted the lead: conversion is a first touch (the timers stop,
/// the lead counts as accepted at `at`), and the SLA follows the record
/// sales now works on (`successor_id`), so a task made later goes there.
pub async fn converted(
    pipeline: &Pipeline,
    store: &dyn StateStore,
    marketing_id: &str,
    successor_id: &str,
    at: Timestamp,
    commit: &mut Commit,
) -> Result<(), StateError> {
    let Some(sla) = pipeline.sla.as_deref() else {
        return Ok(());
    };
    let Some(mut lead) = store.sla_lead(&pipeline.name, marketing_id).await? else {
        return Ok(());
    };
    if lead.is_open() && lead.accepted_at.is_none() {
        let at = at.max(lead.handed_off_at);
        accept(pipeline, sla, &mut lead, at, Some("conversion"), commit);
    }
    lead.crm_id = successor_id.to_owned();
    commit.set_sla_lead(lead);
    Ok(())
}

/// The pair ended (its CRM record was deleted): nothing is left to follow
/// up, so the lead's timers stop without a touch.
pub async fn ended(
    pipeline: &Pipeline,
    store: &dyn StateStore,
    marketing_id: &str,
    commit: &mut Commit,
) -> Result<(), StateError> {
    if pipeline.sla.is_none() {
        return Ok(());
    }
    if let Some(mut lead) = store.sla_lead(&pipeline.name, marketing_id).await? {
        if lead.due.is_some() || lead.next.is_some() {
            lead.next = None;
            lead.due = None;
            commit.set_sla_lead(lead);
        }
    }
    Ok(())
}
