//! The outcomes pass: sales outcomes carried back to marketing.
//!
//! 1. **Conversions.** The CRM pass notes linked leads whose `converted_to`
//!    field became set and whose outcome record has no [`OutcomeLink`] yet
//!    ([`Cycle::note_conversions`]), and holds the CRM checkpoint back for
//!    them as it does for feedback. Here each outcome record is read by id
//!    (it may have changed before the lead was converted, so the outcome
//!    object's own change pass would not show it), the `on_converted`
//!    values and the outcome fields are written to marketing, and one commit
//!    stores the `OutcomeLink`, the `Converted` event (and `Won`/`Lost` if it
//!    was already closed), the link's fingerprints and the held CRM
//!    checkpoint. A stop before that commit re-reads the lead next cycle and
//!    does it again: the write is an update by id, the event is recorded once.
//! 2. **Changes.** The outcome object's changes since its own cursor, page by
//!    page, with the same cursor, overlap and checkpoint rules as the other
//!    passes: records with an `OutcomeLink` are mapped, changed outcome
//!    fields are written to marketing (intents first, through
//!    [`Cycle::execute`]), and the page's checkpoint is committed with their
//!    fingerprints and the first close's `Won`/`Lost` event, which carries
//!    every outcome value (amount, stage) and the lead's source and campaign
//!    when the SLA knew them.
//!
//! A marketing write the tool refuses goes to the dead letter queue as the
//! outcome record (side CRM, the outcome object); the conversion or close
//! is still recorded, so the funnel counts it.

use std::collections::{BTreeMap, HashMap};

use leadbridge_core::{ChangesRequest, Cursor, Fields, Record, WriteRecord};
use tracing::info;

use super::{connector_err, Cycle, CycleError, Write};
use crate::engine::fields::Canonical;
use crate::engine::outcomes::{OutcomeDecision, Outcomes};
use crate::state::{Commit, Event, EventKind, Link, OutcomeLink, Side};

/// A linked lead the CRM pass saw converted, by its outcome record's id.
#[derive(Debug, Clone)]
pub(super) struct Conversion {
    /// The lead, by marketing id (its link is read again before use: the
    /// marketing pass may have moved its fingerprints since).
    marketing_id: String,
    /// The CRM lead.
    lead_id: String,
}

/// Conversions noted in this cycle, by outcome id (sorted: reproducible writes).
pub(super) type Conversions = BTreeMap<String, Conversion>;

/// One outcome to write to marketing and record.
struct Pending {
    outcome: OutcomeLink,
    link: Link,
    decision: OutcomeDecision,
    converted: bool,
    /// The outcome record's fields, for the dead letter queue.
    fields: Fields,
}

impl Cycle<'_> {
    /// CRM pass: notes the linked leads of a page that became converted and
    /// whose conversion is not recorded yet.
    pub(super) async fn note_conversions(
        &mut self,
        records: &[Record],
        links: &HashMap<String, Link>,
    ) -> Result<(), CycleError> {
        let Some(outcomes) = &self.pipeline.outcomes else {
            return Ok(());
        };
        let found: Vec<(String, &Record, &Link)> = records
            .iter()
            .filter(|r| !r.archived)
            .filter_map(|r| Some((outcomes.converted_to(r)?, r, links.get(&r.id)?)))
            .collect();
        if found.is_empty() {
            return Ok(());
        }
        let ids: Vec<String> = found.iter().map(|(id, ..)| id.clone()).collect();
        let known = self.store.outcomes(&self.pipeline.name, &ids).await?;
        for (outcome_id, record, link) in found {
            if !known.contains_key(&outcome_id) {
                self.conversions.insert(
                    outcome_id,
                    Conversion {
                        marketing_id: link.marketing_id.clone(),
                        lead_id: record.id.clone(),
                    },
                );
            }
        }
        Ok(())
    }

    /// The outcomes pass: records the conversions noted (committing `held`,
    /// the CRM checkpoint kept back for them), then follows the outcome
    /// object's changes.
    pub(super) async fn follow_outcomes(&mut self, held: Option<Cursor>) -> Result<(), CycleError> {
        let Some(outcomes) = self.pipeline.outcomes.clone() else {
            return Ok(());
        };
        self.record_conversions(&outcomes, held).await?;
        self.outcome_changes(&outcomes).await
    }

    async fn record_conversions(
        &mut self,
        outcomes: &Outcomes,
        held: Option<Cursor>,
    ) -> Result<(), CycleError> {
        let p = self.pipeline.name.clone();
        let conversions = std::mem::take(&mut self.conversions);
        let mut commit = Commit::new(p.clone());
        if !conversions.is_empty() {
            let ids: Vec<String> = conversions.keys().cloned().collect();
            let records = self.lookup_outcomes(outcomes, &ids).await?;
            let now = self.clock.now();
            let mut items = Vec::new();
            for (outcome_id, conversion) in conversions {
                let Some(link) = self
                    .store
                    .link(&p, Side::Marketing, &conversion.marketing_id)
                    .await?
                else {
                    continue;
                };
                let sla = self.store.sla_lead(&p, &conversion.marketing_id).await?;
                let outcome = OutcomeLink {
                    outcome_id: outcome_id.clone(),
                    marketing_id: conversion.marketing_id.clone(),
                    lead_id: conversion.lead_id,
                    converted_at: now,
                    agreed: Default::default(),
                    closed: None,
                    owner: link.state.owner.clone(),
                    source: sla.as_ref().and_then(|s| s.source.clone()),
                    campaign: sla.and_then(|s| s.campaign),
                };
                let (decision, fields) = match records.get(&outcome_id) {
                    Some(record) => match outcomes.decide(record, &outcome, true) {
                        Ok(d) => (d, record.fields.clone()),
                        Err(rejection) => {
                            self.dead_letter(
                                &mut commit,
                                rejection,
                                &outcomes.config.object,
                                record.fields.clone(),
                            );
                            (converted_only(outcomes), record.fields.clone())
                        }
                    },
                    // Not readable (deleted, or not visible yet): the
                    // conversion still counts; its changes come later.
                    None => (converted_only(outcomes), Fields::new()),
                };
                items.push(Pending {
                    outcome,
                    link,
                    decision,
                    converted: true,
                    fields,
                });
            }
            self.apply_outcomes(outcomes, items, &mut commit).await?;
        }
        if let Some(cursor) = held {
            commit.set_cursor(Side::Crm, self.pipeline.crm.object.clone(), cursor);
        }
        self.commit(&commit).await
    }

    /// Outcome records by id, in as few calls as the CRM allows.
    async fn lookup_outcomes(
        &self,
        outcomes: &Outcomes,
        ids: &[String],
    ) -> Result<HashMap<String, Record>, CycleError> {
        let crm = &self.pipeline.crm;
        let fields = outcomes.crm_fields();
        let mut found = HashMap::new();
        let chunk = crm.connector.limits().lookup_batch_size.max(1);
        for ids in ids.chunks(chunk) {
            let records = crm
                .connector
                .lookup(
                    &outcomes.config.object,
                    &outcomes.config.id_field,
                    ids,
                    &fields,
                )
                .await
                .map_err(connector_err(Side::Crm, crm))?;
            for record in records {
                found.insert(record.id.clone(), record);
            }
        }
        Ok(found)
    }

    /// The outcome object's changes since its cursor, page by page.
    async fn outcome_changes(&mut self, outcomes: &Outcomes) -> Result<(), CycleError> {
        let p = self.pipeline.name.clone();
        let object = outcomes.config.object.clone();
        let since = self.store.cursor(&p, Side::Crm, &object).await?;
        let request = ChangesRequest {
            object: object.clone(),
            since,
            overlap: self.pipeline.crm.overlap,
            fields: outcomes.crm_fields(),
            include_archived: false,
        };
        let mut token = None;
        loop {
            let page = self.page(Side::Crm, &request, token.as_ref()).await?;
            self.report.counts.read_crm += page.records.len() as u64;
            let ids: Vec<String> = page.records.iter().map(|r| r.id.clone()).collect();
            let known = self.store.outcomes(&p, &ids).await?;
            let mut commit = Commit::new(p.clone());
            let mut items = Vec::new();
            for record in &page.records {
                let Some(outcome) = known.get(&record.id) else {
                    // Not the outcome of a lead we handed off.
                    continue;
                };
                match outcomes.decide(record, outcome, false) {
                    Ok(decision) if decision.is_empty() => self.report.counts.echoes += 1,
                    Ok(decision) => {
                        let Some(link) = self
                            .store
                            .link(&p, Side::Marketing, &outcome.marketing_id)
                            .await?
                        else {
                            continue;
                        };
                        items.push(Pending {
                            outcome: outcome.clone(),
                            link,
                            decision,
                            converted: false,
                            fields: record.fields.clone(),
                        });
                    }
                    Err(rejection) => {
                        self.dead_letter(&mut commit, rejection, &object, record.fields.clone())
                    }
                }
            }
            self.apply_outcomes(outcomes, items, &mut commit).await?;
            if let Some(checkpoint) = page.checkpoint {
                commit.set_cursor(Side::Crm, object.clone(), checkpoint);
            }
            self.commit(&commit).await?;
            match page.next {
                Some(next) => token = Some(next),
                None => return Ok(()),
            }
        }
    }

    /// Writes each outcome's values to marketing (in batches the marketing
    /// tool takes), then fills `commit` with the outcome records, their
    /// fingerprints and the funnel events.
    async fn apply_outcomes(
        &mut self,
        outcomes: &Outcomes,
        items: Vec<Pending>,
        commit: &mut Commit,
    ) -> Result<(), CycleError> {
        let object = &outcomes.config.object;
        let mut writes = Vec::new();
        for item in &items {
            let d = &item.decision;
            if d.outcome_values.is_empty() && d.set_values.is_empty() {
                continue;
            }
            let mut fields = self
                .pipeline
                .planner
                .fields
                .to_vendor(Side::Marketing, &d.set_values);
            fields.extend(outcomes.to_marketing(&d.outcome_values));
            let mut values: Canonical = d.set_values.clone();
            values.extend(d.outcome_values.clone());
            let marketing_id = item.outcome.marketing_id.clone();
            writes.push(Write {
                marketing_id: marketing_id.clone(),
                record: WriteRecord {
                    id: Some(marketing_id),
                    key: None,
                    fields,
                },
                values,
                link: Some(item.link.clone()),
                handoff_owner: None,
                context: Canonical::new(),
                source: (
                    Side::Crm,
                    object.clone(),
                    item.outcome.outcome_id.clone(),
                    item.fields.clone(),
                ),
                intent: None,
            });
        }
        let batch = self.pipeline.marketing.connector.limits().batch_size.max(1);
        while !writes.is_empty() {
            let rest = writes.split_off(batch.min(writes.len()));
            self.execute(Side::Marketing, writes, commit).await?;
            writes = rest;
        }
        let now = self.clock.now();
        for item in items {
            let mut outcome = item.outcome;
            let rejected = commit.dead_letters.iter().any(|d| {
                d.side == Side::Crm && &d.object == object && d.record_id == outcome.outcome_id
            });
            if !rejected {
                outcomes.agree(&mut outcome.agreed, &item.decision.outcome_values);
            }
            if item.converted {
                let mut detail = Fields::new();
                detail.insert(
                    "outcome_id".into(),
                    serde_json::Value::String(outcome.outcome_id.clone()),
                );
                commit.event(event(&outcome, EventKind::Converted, now, detail));
                info!(pipeline = %self.pipeline.name, lead = %outcome.marketing_id, outcome = %outcome.outcome_id, "lead converted");
            }
            if let Some(kind) = item.decision.closed {
                outcome.closed = Some(kind);
                commit.event(event(&outcome, kind, now, item.decision.detail.clone()));
                info!(pipeline = %self.pipeline.name, lead = %outcome.marketing_id, outcome = %outcome.outcome_id, ?kind, "outcome closed");
            }
            commit.set_outcome(outcome);
        }
        Ok(())
    }
}

/// What a conversion writes when its outcome record cannot be read.
fn converted_only(outcomes: &Outcomes) -> OutcomeDecision {
    OutcomeDecision {
        set_values: outcomes
            .config
            .on_converted
            .iter()
            .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
            .collect(),
        ..OutcomeDecision::default()
    }
}

/// A funnel event about a converted lead's outcome.
fn event(outcome: &OutcomeLink, kind: EventKind, at: jiff::Timestamp, detail: Fields) -> Event {
    let mut e = Event::new(at, kind, outcome.marketing_id.clone());
    e.crm_id = Some(outcome.lead_id.clone());
    e.owner = outcome.owner.clone();
    e.source = outcome.source.clone();
    e.campaign = outcome.campaign.clone();
    e.detail = detail;
    e
}
