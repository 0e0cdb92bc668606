//! Two marketing records, one person: only one of them has the pair.
//!
//! One CRM record has one pair (the state refuses a second link to it, and
//! a refused commit would stall the page and everything behind it). So
//! when marketing records meet on one CRM record, one is the survivor and
//! the others are remembered as its duplicates (`state::Duplicate`, an
//! event, a count on the status page):
//!
//! - **Same key in one batch** (Marketo allows two leads with one e-mail;
//!   key folding joins forms HubSpot keeps apart): the record with the
//!   lowest id is handed off (the tools number records as they create
//!   them, so that is the one created first); the others become its
//!   duplicates once its write lands, or wait in the dead letter queue
//!   beside it if it is refused.
//! - **A key whose CRM record is already paired** (a later page, a later
//!   cycle): the pair there stays, the newcomer is its duplicate. Moving a
//!   pair would change which marketing record sales' feedback goes to.
//! - **Sales merged two paired leads**: the survivor lead's pair stays and
//!   the absorbed lead's marketing record becomes its duplicate, so the
//!   person is not handed off again as a new lead.
//!
//! A duplicate is never handed off on its own while its survivor is
//! paired; when the survivor's pair ends, the entry is dropped the next
//! time the duplicate is read and it is decided like any other record.
//! Sales' feedback goes to duplicates too when the pipeline says so
//! (`feedback_to_duplicates`).

use std::collections::{HashMap, HashSet};

use leadbridge_core::{Record, WriteRecord};
use serde_json::Value;
use tracing::info;

use super::{Cycle, CycleError, Write};
use crate::engine::fields::Canonical;
use crate::state::{Commit, DeadLetter, Duplicate, Event, EventKind, Link, Side};

/// A duplicate whose survivor's handoff is in the same batch: it is marked
/// once the survivor's write lands.
#[derive(Debug, Clone)]
pub(super) struct Awaiting {
    /// The duplicate.
    pub record: Record,
    /// The key both share.
    pub key: String,
    /// The record handed off for both.
    pub survivor: String,
}

/// Orders ids as the tools hand them out: numerically when both are
/// numbers, else as text.
fn created_before(a: &str, b: &str) -> bool {
    match (a.parse::<u128>(), b.parse::<u128>()) {
        (Ok(x), Ok(y)) => x < y,
        _ => a < b,
    }
}

impl Cycle<'_> {
    /// The records of a page remembered as duplicates of a pair that still
    /// stands: they are not decided on their own. Entries whose survivor's
    /// pair ended, or whose record is paired itself now, are dropped in
    /// `commit`.
    pub(super) async fn known_duplicates(
        &mut self,
        records: &[Record],
        links: &HashMap<String, Link>,
        commit: &mut Commit,
    ) -> Result<HashSet<String>, CycleError> {
        let p = self.pipeline.name.clone();
        let ids: Vec<String> = records.iter().map(|r| r.id.clone()).collect();
        let known = self.store.duplicates(&p, &ids).await?;
        let mut skip = HashSet::new();
        for (id, duplicate) in known {
            if commit.pending_duplicate(&id) == Some(None) {
                continue;
            }
            if links.contains_key(&id) {
                commit.clear_duplicate(id);
                continue;
            }
            let survivor_paired = commit.pending_link(&duplicate.survivor).is_some()
                || self
                    .store
                    .link(&p, Side::Marketing, &duplicate.survivor)
                    .await?
                    .is_some();
            if survivor_paired {
                skip.insert(id);
            } else {
                commit.clear_duplicate(id);
            }
        }
        Ok(skip)
    }

    /// Keeps one handoff per key: the lowest id goes on, the others wait
    /// for its write (see [`Cycle::settle_duplicates`]).
    pub(super) fn one_per_key(
        &mut self,
        handoffs: Vec<(Record, String, Canonical)>,
    ) -> Vec<(Record, String, Canonical)> {
        let mut survivor_of: HashMap<String, String> = HashMap::new();
        for (record, key, _) in &handoffs {
            let first = survivor_of.entry(key.clone()).or_insert(record.id.clone());
            if created_before(&record.id, first) {
                *first = record.id.clone();
            }
        }
        let mut kept = Vec::with_capacity(survivor_of.len());
        for (record, key, values) in handoffs {
            let survivor = &survivor_of[&key];
            if *survivor == record.id {
                kept.push((record, key, values));
            } else {
                let survivor = survivor.clone();
                self.awaiting.push(Awaiting {
                    record,
                    key,
                    survivor,
                });
            }
        }
        kept
    }

    /// After a batch's CRM writes: each record waiting on a survivor of
    /// the same key becomes its duplicate when the survivor's pair was made
    /// (in `commit`), or is dead-lettered beside it when it was not.
    pub(super) fn settle_duplicates(&mut self, commit: &mut Commit) {
        let awaiting = std::mem::take(&mut self.awaiting);
        for Awaiting {
            record,
            key,
            survivor,
        } in awaiting
        {
            let survivor = &survivor;
            match commit.pending_link(survivor) {
                Some(state) => {
                    let reason = format!("shares the key {key} with {survivor}");
                    self.mark_duplicate(&record.id, survivor, &state.crm_id, &reason, commit);
                }
                None => {
                    let now = self.clock.now();
                    self.report.counts.dead_lettered += 1;
                    commit.dead_letter(DeadLetter {
                        side: Side::Marketing,
                        object: self.pipeline.marketing.object.clone(),
                        record_id: record.id.clone(),
                        fields: record.fields.clone(),
                        reason: format!(
                            "shares the key {key} with marketing record {survivor}, which was not handed off (see its dead letter)"
                        ),
                        code: None,
                        at: now,
                    });
                }
            }
        }
    }

    /// Remembers `marketing_id` as a duplicate of `survivor`'s pair.
    pub(super) fn mark_duplicate(
        &mut self,
        marketing_id: &str,
        survivor: &str,
        crm_id: &str,
        reason: &str,
        commit: &mut Commit,
    ) {
        let now = self.clock.now();
        commit.mark_duplicate(Duplicate {
            marketing_id: marketing_id.to_owned(),
            survivor: survivor.to_owned(),
            crm_id: crm_id.to_owned(),
            at: now,
            reason: reason.to_owned(),
        });
        if self.dlq_active {
            commit.remove_dead_letter(Side::Marketing, marketing_id.to_owned());
        }
        let mut event = Event::new(now, EventKind::Duplicate, marketing_id.to_owned());
        event.crm_id = Some(crm_id.to_owned());
        event
            .detail
            .insert("survivor".into(), Value::from(survivor.to_owned()));
        event
            .detail
            .insert("reason".into(), Value::from(reason.to_owned()));
        commit.event(event);
        self.report.counts.duplicates += 1;
        info!(
            pipeline = %self.pipeline.name,
            marketing_id,
            survivor,
            crm_id,
            reason,
            "a marketing duplicate: the pair stays with the survivor"
        );
    }

    /// Sales' feedback for the duplicates of the pairs in `writes`, when
    /// the pipeline carries it to them: the same fields, to each
    /// duplicate's own record, with no pair of their own to update.
    pub(super) async fn feedback_to_duplicates(
        &self,
        writes: &[Write],
    ) -> Result<Vec<Write>, CycleError> {
        if !self.pipeline.feedback_to_duplicates {
            return Ok(Vec::new());
        }
        let mut out = Vec::new();
        for w in writes {
            for duplicate in self
                .store
                .duplicates_of(&self.pipeline.name, &w.marketing_id)
                .await?
            {
                out.push(Write {
                    marketing_id: duplicate.marketing_id.clone(),
                    record: WriteRecord {
                        id: Some(duplicate.marketing_id),
                        key: None,
                        fields: w.record.fields.clone(),
                    },
                    link: None,
                    intent: None,
                    ..w.clone()
                });
            }
        }
        Ok(out)
    }
}
