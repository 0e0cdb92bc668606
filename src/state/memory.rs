//! [`MemoryStore`]: the whole [`StateStore`] contract in memory.
//!
//! For unit tests of the engine's decisions (the cycle, the planner, the
//! SLA sweep) without a database on disk, and as the proof that the
//! contract is backend-neutral: it runs the same conformance suite as
//! [`SledStore`](super::SledStore) ([`super::conformance`]). It is never
//! the daemon's store: nothing in it survives the process.
//!
//! A commit is applied to a copy of the state and swapped in only when
//! every change of it applied, so a refused commit (a link conflict)
//! changes nothing, as the contract says.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Mutex;

use async_trait::async_trait;
use jiff::Timestamp;
use leadbridge_core::Cursor;

use super::dlq::DlqEntry;
use super::duplicates::{Duplicate, DuplicateChange};
use super::error::{StateError, StateResult};
use super::events::Event;
use super::intents::{Intent, IntentId};
use super::keys::check_pipeline;
use super::links::{Link, LinkChange, LinkState};
use super::outcomes::OutcomeLink;
use super::sla::SlaLead;
use super::status::{CursorEntry, PipelineCounts, PipelineStatus};
use super::store::{Commit, StateStore};
use crate::side::Side;

/// Everything one store holds, by pipeline where the contract scopes it.
#[derive(Debug, Clone, Default)]
struct Data {
    pipelines: BTreeSet<String>,
    /// (pipeline, marketing id) → link.
    links: BTreeMap<(String, String), LinkState>,
    /// (pipeline, CRM id) → marketing id.
    reverse: BTreeMap<(String, String), String>,
    /// (pipeline, side tag, object) → cursor.
    cursors: BTreeMap<(String, u8, String), Cursor>,
    /// (pipeline, id) → intent.
    intents: BTreeMap<(String, u64), Intent>,
    next_intent: u64,
    /// (pipeline, side tag, record id) → entry; the tag orders sides as
    /// the sled store's keys do.
    dlq: BTreeMap<(String, u8, String), DlqEntry>,
    rr: BTreeMap<(String, String), u64>,
    status: BTreeMap<String, PipelineStatus>,
    /// (pipeline, at, sequence) → event: time order, then commit order.
    events: BTreeMap<(String, Timestamp, u64), Event>,
    next_event: u64,
    sla: BTreeMap<(String, String), SlaLead>,
    /// (pipeline, due, marketing id): the live timers.
    timers: BTreeSet<(String, Timestamp, String)>,
    outcomes: BTreeMap<(String, String), OutcomeLink>,
    duplicates: BTreeMap<(String, String), Duplicate>,
    field_tags: BTreeMap<String, BTreeMap<String, u16>>,
}

/// A [`StateStore`] in memory (see the module docs).
#[derive(Debug, Default)]
pub struct MemoryStore {
    data: Mutex<Data>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn read<T>(&self, f: impl FnOnce(&Data) -> T) -> T {
        f(&self.data.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

fn tag(side: Side) -> u8 {
    match side {
        Side::Crm => b'c',
        Side::Marketing => b'm',
    }
}

impl Data {
    fn link_by_crm(&self, pipeline: &str, crm_id: &str) -> Option<&String> {
        self.reverse.get(&(pipeline.to_owned(), crm_id.to_owned()))
    }

    fn apply(&mut self, commit: &Commit) -> StateResult<()> {
        let p = commit.pipeline.clone();
        self.pipelines.insert(p.clone());
        for change in &commit.links {
            match change {
                LinkChange::Upsert {
                    marketing_id,
                    state,
                } => {
                    let key = (p.clone(), marketing_id.clone());
                    if let Some(old) = self.links.get(&key) {
                        if old.crm_id != state.crm_id
                            && self.link_by_crm(&p, &old.crm_id) == Some(marketing_id)
                        {
                            let old_crm = old.crm_id.clone();
                            self.reverse.remove(&(p.clone(), old_crm));
                        }
                    }
                    match self.link_by_crm(&p, &state.crm_id) {
                        Some(owner) if owner != marketing_id => {
                            return Err(StateError::LinkConflict {
                                pipeline: p.clone(),
                                crm_id: state.crm_id.clone(),
                                linked_to: owner.clone(),
                                marketing_id: marketing_id.clone(),
                            });
                        }
                        Some(_) => {}
                        None => {
                            self.reverse
                                .insert((p.clone(), state.crm_id.clone()), marketing_id.clone());
                        }
                    }
                    self.links.insert(key, state.clone());
                }
                LinkChange::Remove { marketing_id } => {
                    if let Some(old) = self.links.remove(&(p.clone(), marketing_id.clone())) {
                        if self.link_by_crm(&p, &old.crm_id) == Some(marketing_id) {
                            self.reverse.remove(&(p.clone(), old.crm_id));
                        }
                    }
                }
            }
        }
        for letter in &commit.dead_letters {
            let key = (p.clone(), tag(letter.side), letter.record_id.clone());
            let entry = DlqEntry::after(&p, letter, self.dlq.get(&key));
            self.dlq.insert(key, entry);
        }
        for (side, id) in &commit.dead_letters_removed {
            self.dlq.remove(&(p.clone(), tag(*side), id.clone()));
        }
        for id in &commit.intents_resolved {
            self.intents.remove(&(p.clone(), id.0));
        }
        for (side, object, cursor) in &commit.cursors {
            let key = (p.clone(), tag(*side), object.clone());
            match cursor {
                Some(c) => self.cursors.insert(key, c.clone()),
                None => self.cursors.remove(&key),
            };
        }
        let mut events: Vec<&Event> = commit.events.iter().collect();
        events.sort_by_key(|e| e.at);
        for event in events {
            self.next_event += 1;
            self.events
                .insert((p.clone(), event.at, self.next_event), event.clone());
        }
        for (group, position) in &commit.round_robin {
            self.rr.insert((p.clone(), group.clone()), *position);
        }
        if let Some(status) = &commit.status {
            self.status.insert(p.clone(), status.clone());
        }
        for lead in &commit.sla {
            let key = (p.clone(), lead.marketing_id.clone());
            if let Some(old) = self.sla.insert(key, lead.clone()) {
                if let Some(due) = old.due {
                    self.timers.remove(&(p.clone(), due, old.marketing_id));
                }
            }
            if let Some(due) = lead.due {
                self.timers
                    .insert((p.clone(), due, lead.marketing_id.clone()));
            }
        }
        self.field_tags
            .entry(p.clone())
            .or_default()
            .extend(commit.field_tags.iter().map(|(k, v)| (k.clone(), *v)));
        for outcome in &commit.outcomes {
            self.outcomes
                .insert((p.clone(), outcome.outcome_id.clone()), outcome.clone());
        }
        for change in &commit.duplicates {
            match change {
                DuplicateChange::Mark(d) => {
                    self.duplicates
                        .insert((p.clone(), d.marketing_id.clone()), d.clone());
                }
                DuplicateChange::Clear(id) => {
                    self.duplicates.remove(&(p.clone(), id.clone()));
                }
            }
        }
        Ok(())
    }
}

#[async_trait]
impl StateStore for MemoryStore {
    async fn link(&self, pipeline: &str, side: Side, id: &str) -> StateResult<Option<Link>> {
        check_pipeline(pipeline)?;
        Ok(self.read(|d| {
            let marketing_id = match side {
                Side::Marketing => id.to_owned(),
                Side::Crm => d.link_by_crm(pipeline, id)?.clone(),
            };
            let state = d
                .links
                .get(&(pipeline.to_owned(), marketing_id.clone()))?
                .clone();
            Some(Link {
                marketing_id,
                state,
            })
        }))
    }

    async fn scan_links(
        &self,
        pipeline: &str,
        after: Option<&str>,
        limit: usize,
    ) -> StateResult<Vec<Link>> {
        check_pipeline(pipeline)?;
        Ok(self.read(|d| {
            d.links
                .range((pipeline.to_owned(), after.unwrap_or_default().to_owned())..)
                .take_while(|((p, _), _)| p == pipeline)
                .filter(|((_, m), _)| after.is_none_or(|a| m.as_str() > a))
                .take(limit)
                .map(|((_, m), state)| Link {
                    marketing_id: m.clone(),
                    state: state.clone(),
                })
                .collect()
        }))
    }

    async fn cursor(
        &self,
        pipeline: &str,
        side: Side,
        object: &str,
    ) -> StateResult<Option<Cursor>> {
        check_pipeline(pipeline)?;
        Ok(self.read(|d| {
            d.cursors
                .get(&(pipeline.to_owned(), tag(side), object.to_owned()))
                .cloned()
        }))
    }

    async fn cursors(&self, pipeline: &str) -> StateResult<Vec<CursorEntry>> {
        check_pipeline(pipeline)?;
        Ok(self.read(|d| {
            d.cursors
                .iter()
                .filter(|((p, _, _), _)| p == pipeline)
                .map(|((_, t, object), cursor)| CursorEntry {
                    side: if *t == b'c' {
                        Side::Crm
                    } else {
                        Side::Marketing
                    },
                    object: object.clone(),
                    cursor: cursor.clone(),
                })
                .collect()
        }))
    }

    async fn new_intent_id(&self) -> StateResult<IntentId> {
        let mut d = self.data.lock().unwrap_or_else(|e| e.into_inner());
        d.next_intent += 1;
        Ok(IntentId(d.next_intent))
    }

    async fn record_intents(&self, intents: &[Intent]) -> StateResult<()> {
        for intent in intents {
            check_pipeline(&intent.pipeline)?;
        }
        let mut d = self.data.lock().unwrap_or_else(|e| e.into_inner());
        for intent in intents {
            d.pipelines.insert(intent.pipeline.clone());
            d.intents
                .insert((intent.pipeline.clone(), intent.id.0), intent.clone());
        }
        Ok(())
    }

    async fn pending_intents(&self, pipeline: &str) -> StateResult<Vec<Intent>> {
        check_pipeline(pipeline)?;
        Ok(self.read(|d| {
            d.intents
                .iter()
                .filter(|((p, _), _)| p == pipeline)
                .map(|(_, i)| i.clone())
                .collect()
        }))
    }

    async fn dead_letter(
        &self,
        pipeline: &str,
        side: Side,
        record_id: &str,
    ) -> StateResult<Option<DlqEntry>> {
        check_pipeline(pipeline)?;
        Ok(self.read(|d| {
            d.dlq
                .get(&(pipeline.to_owned(), tag(side), record_id.to_owned()))
                .cloned()
        }))
    }

    async fn dead_letters(&self, pipeline: &str) -> StateResult<Vec<DlqEntry>> {
        check_pipeline(pipeline)?;
        Ok(self.read(|d| {
            d.dlq
                .iter()
                .filter(|((p, _, _), _)| p == pipeline)
                .map(|(_, e)| e.clone())
                .collect()
        }))
    }

    async fn round_robin(&self, pipeline: &str, group: &str) -> StateResult<u64> {
        check_pipeline(pipeline)?;
        Ok(self.read(|d| {
            d.rr.get(&(pipeline.to_owned(), group.to_owned()))
                .copied()
                .unwrap_or(0)
        }))
    }

    async fn round_robins(&self, pipeline: &str) -> StateResult<BTreeMap<String, u64>> {
        check_pipeline(pipeline)?;
        Ok(self.read(|d| {
            d.rr.iter()
                .filter(|((p, _), _)| p == pipeline)
                .map(|((_, g), n)| (g.clone(), *n))
                .collect()
        }))
    }

    async fn status(&self, pipeline: &str) -> StateResult<Option<PipelineStatus>> {
        check_pipeline(pipeline)?;
        Ok(self.read(|d| d.status.get(pipeline).cloned()))
    }

    async fn counts(&self, pipeline: &str) -> StateResult<PipelineCounts> {
        check_pipeline(pipeline)?;
        Ok(self.read(|d| PipelineCounts {
            links: d.links.keys().filter(|(p, _)| p == pipeline).count() as u64,
            dead_letters: d.dlq.keys().filter(|(p, _, _)| p == pipeline).count() as u64,
            pending_intents: d.intents.keys().filter(|(p, _)| p == pipeline).count() as u64,
            duplicates: d.duplicates.keys().filter(|(p, _)| p == pipeline).count() as u64,
        }))
    }

    async fn duplicates(
        &self,
        pipeline: &str,
        ids: &[String],
    ) -> StateResult<HashMap<String, Duplicate>> {
        check_pipeline(pipeline)?;
        Ok(self.read(|d| {
            ids.iter()
                .filter_map(|id| {
                    d.duplicates
                        .get(&(pipeline.to_owned(), id.clone()))
                        .map(|dup| (id.clone(), dup.clone()))
                })
                .collect()
        }))
    }

    async fn duplicates_of(&self, pipeline: &str, survivor: &str) -> StateResult<Vec<Duplicate>> {
        check_pipeline(pipeline)?;
        Ok(self.read(|d| {
            d.duplicates
                .iter()
                .filter(|((p, _), dup)| p == pipeline && dup.survivor == survivor)
                .map(|(_, dup)| dup.clone())
                .collect()
        }))
    }

    async fn scan_duplicates(&self, pipeline: &str, limit: usize) -> StateResult<Vec<Duplicate>> {
        check_pipeline(pipeline)?;
        Ok(self.read(|d| {
            d.duplicates
                .iter()
                .filter(|((p, _), _)| p == pipeline)
                .take(limit)
                .map(|(_, dup)| dup.clone())
                .collect()
        }))
    }

    async fn events(
        &self,
        pipeline: &str,
        from: Timestamp,
        until: Timestamp,
    ) -> StateResult<Vec<Event>> {
        check_pipeline(pipeline)?;
        Ok(self.read(|d| {
            d.events
                .range((pipeline.to_owned(), from, 0)..(pipeline.to_owned(), until, 0))
                .map(|(_, e)| e.clone())
                .collect()
        }))
    }

    async fn pipelines(&self) -> StateResult<Vec<String>> {
        Ok(self.read(|d| d.pipelines.iter().cloned().collect()))
    }

    async fn sla_lead(&self, pipeline: &str, marketing_id: &str) -> StateResult<Option<SlaLead>> {
        check_pipeline(pipeline)?;
        Ok(self.read(|d| {
            d.sla
                .get(&(pipeline.to_owned(), marketing_id.to_owned()))
                .cloned()
        }))
    }

    async fn due_sla_leads(
        &self,
        pipeline: &str,
        until: Timestamp,
        limit: usize,
    ) -> StateResult<Vec<SlaLead>> {
        check_pipeline(pipeline)?;
        Ok(self.read(|d| {
            d.timers
                .range((pipeline.to_owned(), Timestamp::MIN, String::new())..)
                .take_while(|(p, due, _)| p == pipeline && *due <= until)
                .take(limit)
                .filter_map(|(p, _, m)| d.sla.get(&(p.clone(), m.clone())).cloned())
                .collect()
        }))
    }

    async fn open_sla_timers(&self, pipeline: &str) -> StateResult<u64> {
        check_pipeline(pipeline)?;
        Ok(self.read(|d| d.timers.iter().filter(|(p, _, _)| p == pipeline).count() as u64))
    }

    async fn outcome(&self, pipeline: &str, outcome_id: &str) -> StateResult<Option<OutcomeLink>> {
        check_pipeline(pipeline)?;
        Ok(self.read(|d| {
            d.outcomes
                .get(&(pipeline.to_owned(), outcome_id.to_owned()))
                .cloned()
        }))
    }

    async fn field_tags(&self, pipeline: &str) -> StateResult<BTreeMap<String, u16>> {
        check_pipeline(pipeline)?;
        Ok(self.read(|d| d.field_tags.get(pipeline).cloned().unwrap_or_default()))
    }

    async fn commit(&self, commit: &Commit) -> StateResult<()> {
        check_pipeline(&commit.pipeline)?;
        if commit.is_empty() {
            return Ok(());
        }
        let mut data = self.data.lock().unwrap_or_else(|e| e.into_inner());
        let mut next = data.clone();
        next.apply(commit)?;
        *data = next;
        Ok(())
    }
}
