//! The state store contract, in the engine's terms.
//!
//! The trait speaks of links, cursors, intents and dead letters, never of
//! trees or tables, so that a second backend (PostgreSQL, with one lease per
//! pipeline so several daemons share the work) implements the same domain
//! operations. Every operation is scoped to one pipeline, which is what a
//! per-pipeline lease needs. All writes that belong together go through one
//! [`Commit`], applied atomically and durably.

use std::collections::{BTreeMap, HashMap};

use async_trait::async_trait;
use jiff::Timestamp;
use leadbridge_core::Cursor;
use serde::Serialize;

use super::dlq::{DeadLetter, DlqEntry};
use super::duplicates::{Duplicate, DuplicateChange};
use super::error::StateResult;
use super::events::Event;
use super::intents::{Intent, IntentId};
use super::links::{Link, LinkChange, LinkState};
use super::outcomes::OutcomeLink;
use super::sla::SlaLead;
use super::status::{CursorEntry, PipelineCounts, PipelineStatus};
use crate::side::Side;

/// Where leadbridge keeps what it must remember between cycles and across
/// crashes.
///
/// Object safe (`Arc<dyn StateStore>`), so the engine does not care which
/// backend it runs on. Reads see every commit that returned; a commit that
/// returned `Ok` is durable; a commit that returned `Err` changed nothing.
#[async_trait]
pub trait StateStore: Send + Sync {
    /// The link a record is part of, found by its id on `side`.
    async fn link(&self, pipeline: &str, side: Side, id: &str) -> StateResult<Option<Link>>;

    /// The links of many records of one side at once (one page), keyed by
    /// the given ids; ids without a link are absent.
    async fn links(
        &self,
        pipeline: &str,
        side: Side,
        ids: &[String],
    ) -> StateResult<HashMap<String, Link>> {
        let mut found = HashMap::with_capacity(ids.len());
        for id in ids {
            if let Some(link) = self.link(pipeline, side, id).await? {
                found.insert(id.clone(), link);
            }
        }
        Ok(found)
    }

    /// Up to `limit` links in marketing-id order, starting after `after`:
    /// pages through every link without holding them all (resync, SLA sweeps).
    async fn scan_links(
        &self,
        pipeline: &str,
        after: Option<&str>,
        limit: usize,
    ) -> StateResult<Vec<Link>>;

    /// Where the next change pass of `object` on `side` starts; `None`
    /// means from the beginning.
    async fn cursor(&self, pipeline: &str, side: Side, object: &str)
        -> StateResult<Option<Cursor>>;

    /// Every cursor of a pipeline.
    async fn cursors(&self, pipeline: &str) -> StateResult<Vec<CursorEntry>>;

    /// A fresh intent id, never handed out before (also not before a crash).
    async fn new_intent_id(&self) -> StateResult<IntentId>;

    /// Records intents durably; returns only once they would survive a
    /// SIGKILL, so the remote write may start. Recording an id again
    /// replaces it.
    async fn record_intents(&self, intents: &[Intent]) -> StateResult<()>;

    /// The intents of a pipeline not yet resolved by a commit, oldest first:
    /// what to replay on start.
    async fn pending_intents(&self, pipeline: &str) -> StateResult<Vec<Intent>>;

    /// One dead letter, by the side and id of the record.
    async fn dead_letter(
        &self,
        pipeline: &str,
        side: Side,
        record_id: &str,
    ) -> StateResult<Option<DlqEntry>>;

    /// Every dead letter of a pipeline, by side then record id.
    async fn dead_letters(&self, pipeline: &str) -> StateResult<Vec<DlqEntry>>;

    /// The round-robin position of an assignment group (`""` for the
    /// handoff's own list); 0 when never set.
    async fn round_robin(&self, pipeline: &str, group: &str) -> StateResult<u64>;

    /// Every stored round-robin position of a pipeline, by group.
    async fn round_robins(&self, pipeline: &str) -> StateResult<BTreeMap<String, u64>>;

    /// The pipeline's last stored status.
    async fn status(&self, pipeline: &str) -> StateResult<Option<PipelineStatus>>;

    /// Sizes of the pipeline's state, without scanning it.
    async fn counts(&self, pipeline: &str) -> StateResult<PipelineCounts>;

    /// Funnel events with `from <= at < until`, in time order.
    async fn events(
        &self,
        pipeline: &str,
        from: Timestamp,
        until: Timestamp,
    ) -> StateResult<Vec<Event>>;

    /// The marketing duplicates among `ids`, by marketing id.
    async fn duplicates(
        &self,
        pipeline: &str,
        ids: &[String],
    ) -> StateResult<HashMap<String, Duplicate>>;

    /// The duplicates whose survivor is `survivor`, by marketing id.
    async fn duplicates_of(&self, pipeline: &str, survivor: &str) -> StateResult<Vec<Duplicate>>;

    /// Up to `limit` duplicates, by marketing id (status page, dump).
    async fn scan_duplicates(&self, pipeline: &str, limit: usize) -> StateResult<Vec<Duplicate>>;

    /// Every pipeline that has any state, sorted.
    async fn pipelines(&self) -> StateResult<Vec<String>>;

    /// The follow-up SLA state of one lead, by marketing id.
    async fn sla_lead(&self, pipeline: &str, marketing_id: &str) -> StateResult<Option<SlaLead>>;

    /// Up to `limit` leads whose SLA timer is due at or before `until`,
    /// earliest first: what the sweep fires.
    async fn due_sla_leads(
        &self,
        pipeline: &str,
        until: Timestamp,
        limit: usize,
    ) -> StateResult<Vec<SlaLead>>;

    /// How many SLA timers are live (leads still waiting for a first touch
    /// or a step), for the open-timers gauge.
    async fn open_sla_timers(&self, pipeline: &str) -> StateResult<u64>;

    /// A converted lead's outcome record, by the outcome's CRM id.
    async fn outcome(&self, pipeline: &str, outcome_id: &str) -> StateResult<Option<OutcomeLink>>;

    /// The outcome records of many ids at once (one page), keyed by the
    /// given ids; ids that are no converted lead's outcome are absent.
    async fn outcomes(
        &self,
        pipeline: &str,
        ids: &[String],
    ) -> StateResult<HashMap<String, OutcomeLink>> {
        let mut found = HashMap::with_capacity(ids.len());
        for id in ids {
            if let Some(outcome) = self.outcome(pipeline, id).await? {
                found.insert(id.clone(), outcome);
            }
        }
        Ok(found)
    }

    /// The fingerprint tag of each canonical field of a pipeline, by field
    /// name: assigned once, the first time a field is synced, and kept
    /// across restarts and reorderings of the config, so two fields never
    /// share one (a shared tag would make each overwrite the other's agreed
    /// value).
    async fn field_tags(&self, pipeline: &str) -> StateResult<BTreeMap<String, u16>>;

    /// Applies everything in `commit` atomically, then makes it durable:
    /// when this returns `Ok` the step counts as committed; on `Err`
    /// nothing of it was applied.
    async fn commit(&self, commit: &Commit) -> StateResult<()>;

    /// Everything stored, for `leadbridge state dump`. Holds no secrets:
    /// tokens live in the [`TokenVault`](super::TokenVault), not here.
    async fn dump(&self, options: &DumpOptions) -> StateResult<StateDump> {
        let names = match &options.pipeline {
            Some(p) => vec![p.clone()],
            None => self.pipelines().await?,
        };
        let mut pipelines = BTreeMap::new();
        for name in names {
            let links = self.scan_links(&name, None, options.max_links).await?;
            let dump = PipelineDump {
                status: self.status(&name).await?,
                counts: self.counts(&name).await?,
                cursors: self.cursors(&name).await?,
                round_robin: self.round_robins(&name).await?,
                links,
                duplicates: self.scan_duplicates(&name, options.max_links).await?,
                pending_intents: self.pending_intents(&name).await?,
                dead_letters: self.dead_letters(&name).await?,
                events: self
                    .events(&name, Timestamp::MIN, Timestamp::MAX)
                    .await?
                    .into_iter()
                    .rev()
                    .take(options.max_events)
                    .rev()
                    .collect(),
            };
            pipelines.insert(name, dump);
        }
        Ok(StateDump { pipelines })
    }
}

/// One step's outcome for one pipeline, applied by [`StateStore::commit`]
/// in a single transaction.
///
/// The engine fills one per page: the links it made or updated (with the
/// hashes of what it wrote and read), the records it dead-lettered or that
/// now succeeded, the intents the page's writes resolved, and the cursor the
/// page's checkpoint allows. Either all of it is stored, or none.
#[derive(Debug, Clone, Default)]
pub struct Commit {
    /// The pipeline every entry belongs to.
    pub pipeline: String,
    /// Links to create, update or remove, in order.
    pub links: Vec<LinkChange>,
    /// Records to park (or count again) in the dead letter queue.
    pub dead_letters: Vec<DeadLetter>,
    /// Dead letters to remove (retried successfully, or dropped), by side
    /// and record id.
    pub dead_letters_removed: Vec<(Side, String)>,
    /// Intents whose remote write is done (or given up and dead-lettered).
    pub intents_resolved: Vec<IntentId>,
    /// Cursors to move, by side and object; `None` resets one to the
    /// beginning (resync).
    pub cursors: Vec<(Side, String, Option<Cursor>)>,
    /// Funnel events to append.
    pub events: Vec<Event>,
    /// Round-robin positions to store, by assignment group.
    pub round_robin: Vec<(String, u64)>,
    /// The pipeline's new status, if it changed.
    pub status: Option<PipelineStatus>,
    /// Follow-up SLA states to store (each moves its lead's timer).
    pub sla: Vec<SlaLead>,
    /// Sales outcome records to store (a conversion, a close, what
    /// marketing was told).
    pub outcomes: Vec<OutcomeLink>,
    /// Fingerprint tags given to canonical fields for the first time (see
    /// [`StateStore::field_tags`]); merged into the pipeline's table.
    pub field_tags: BTreeMap<String, u16>,
    /// Marketing duplicates to remember or forget, in order.
    pub duplicates: Vec<DuplicateChange>,
}

impl Commit {
    /// An empty commit for a pipeline.
    pub fn new(pipeline: impl Into<String>) -> Self {
        Self {
            pipeline: pipeline.into(),
            ..Self::default()
        }
    }

    /// True when there is nothing to apply.
    pub fn is_empty(&self) -> bool {
        self.links.is_empty()
            && self.dead_letters.is_empty()
            && self.dead_letters_removed.is_empty()
            && self.intents_resolved.is_empty()
            && self.cursors.is_empty()
            && self.events.is_empty()
            && self.round_robin.is_empty()
            && self.status.is_none()
            && self.sla.is_empty()
            && self.outcomes.is_empty()
            && self.field_tags.is_empty()
            && self.duplicates.is_empty()
    }

    /// The state this commit gives marketing record `marketing_id`'s link,
    /// if it creates or changes one (the last change wins, as when applied).
    pub fn pending_link(&self, marketing_id: &str) -> Option<LinkState> {
        for change in self.links.iter().rev() {
            match change {
                LinkChange::Upsert {
                    marketing_id: id,
                    state,
                } if id == marketing_id => return Some(state.clone()),
                LinkChange::Remove { marketing_id: id } if id == marketing_id => return None,
                _ => {}
            }
        }
        None
    }

    /// Remembers a marketing duplicate.
    pub fn mark_duplicate(&mut self, duplicate: Duplicate) -> &mut Self {
        self.duplicates.push(DuplicateChange::Mark(duplicate));
        self
    }

    /// Forgets a marketing duplicate.
    pub fn clear_duplicate(&mut self, marketing_id: impl Into<String>) -> &mut Self {
        self.duplicates
            .push(DuplicateChange::Clear(marketing_id.into()));
        self
    }

    /// The duplicate entry this commit leaves for `marketing_id`:
    /// `Some(Some(_))` marked, `Some(None)` cleared, `None` untouched.
    pub fn pending_duplicate(&self, marketing_id: &str) -> Option<Option<Duplicate>> {
        self.duplicates.iter().rev().find_map(|c| match c {
            DuplicateChange::Mark(d) if d.marketing_id == marketing_id => Some(Some(d.clone())),
            DuplicateChange::Clear(id) if id == marketing_id => Some(None),
            _ => None,
        })
    }

    /// Gives canonical field `name` the fingerprint tag `tag`, for good.
    pub fn set_field_tag(&mut self, name: impl Into<String>, tag: u16) -> &mut Self {
        self.field_tags.insert(name.into(), tag);
        self
    }

    /// Creates a link or replaces its state.
    pub fn upsert_link(&mut self, marketing_id: impl Into<String>, state: LinkState) -> &mut Self {
        self.links.push(LinkChange::Upsert {
            marketing_id: marketing_id.into(),
            state,
        });
        self
    }

    /// Forgets a link in both directions.
    pub fn remove_link(&mut self, marketing_id: impl Into<String>) -> &mut Self {
        self.links.push(LinkChange::Remove {
            marketing_id: marketing_id.into(),
        });
        self
    }

    /// Parks a record in the dead letter queue (or counts another attempt).
    pub fn dead_letter(&mut self, letter: DeadLetter) -> &mut Self {
        self.dead_letters.push(letter);
        self
    }

    /// Removes a record from the dead letter queue.
    pub fn remove_dead_letter(&mut self, side: Side, record_id: impl Into<String>) -> &mut Self {
        self.dead_letters_removed.push((side, record_id.into()));
        self
    }

    /// Marks an intent done.
    pub fn resolve_intent(&mut self, id: IntentId) -> &mut Self {
        self.intents_resolved.push(id);
        self
    }

    /// Moves a cursor to a page's checkpoint.
    pub fn set_cursor(
        &mut self,
        side: Side,
        object: impl Into<String>,
        cursor: Cursor,
    ) -> &mut Self {
        self.cursors.push((side, object.into(), Some(cursor)));
        self
    }

    /// Resets a cursor so the next pass reads from the beginning.
    pub fn reset_cursor(&mut self, side: Side, object: impl Into<String>) -> &mut Self {
        self.cursors.push((side, object.into(), None));
        self
    }

    /// Appends a funnel event.
    pub fn event(&mut self, event: Event) -> &mut Self {
        self.events.push(event);
        self
    }

    /// Stores a round-robin position.
    pub fn set_round_robin(&mut self, group: impl Into<String>, position: u64) -> &mut Self {
        self.round_robin.push((group.into(), position));
        self
    }

    /// Stores a lead's follow-up SLA state; its timer moves to `lead.due`
    /// (or is cancelled when `None`) in the same transaction.
    pub fn set_sla_lead(&mut self, lead: SlaLead) -> &mut Self {
        self.sla.push(lead);
        self
    }

    /// Stores a converted lead's outcome record.
    pub fn set_outcome(&mut self, outcome: OutcomeLink) -> &mut Self {
        self.outcomes.push(outcome);
        self
    }

    /// Stores the pipeline's status.
    pub fn set_status(&mut self, status: PipelineStatus) -> &mut Self {
        self.status = Some(status);
        self
    }
}

/// How much a dump shows.
#[derive(Debug, Clone)]
pub struct DumpOptions {
    /// Only this pipeline; `None` for all.
    pub pipeline: Option<String>,
    /// At most this many links per pipeline (the first by marketing id).
    pub max_links: usize,
    /// At most this many events per pipeline (the latest).
    pub max_events: usize,
}

impl Default for DumpOptions {
    fn default() -> Self {
        Self {
            pipeline: None,
            max_links: 1_000,
            max_events: 1_000,
        }
    }
}

/// Everything stored, by pipeline; serialises to JSON for the CLI.
#[derive(Debug, Clone, Serialize)]
pub struct StateDump {
    /// Per pipeline.
    pub pipelines: BTreeMap<String, PipelineDump>,
}

/// One pipeline's state in a dump.
#[derive(Debug, Clone, Serialize)]
pub struct PipelineDump {
    /// Its status.
    pub status: Option<PipelineStatus>,
    /// Its sizes.
    pub counts: PipelineCounts,
    /// Its cursors.
    pub cursors: Vec<CursorEntry>,
    /// Round-robin positions by group.
    pub round_robin: BTreeMap<String, u64>,
    /// Links (up to the dump's limit).
    pub links: Vec<Link>,
    /// Marketing duplicates (up to the dump's link limit).
    pub duplicates: Vec<Duplicate>,
    /// Intents not yet resolved.
    pub pending_intents: Vec<Intent>,
    /// The dead letter queue.
    pub dead_letters: Vec<DlqEntry>,
    /// The latest events (up to the dump's limit).
    pub events: Vec<Event>,
}
