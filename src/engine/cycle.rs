//! One sync cycle of one pipeline:
//!
//! 1. replay intents a crash left unfinished;
//! 2. read the CRM's changes (sales feedback) and keep the real ones;
//! 3. read marketing's changes page by page: update linked pairs, hand
//!    qualified leads over (match by key, else create with an owner);
//! 4. carry the remaining feedback to marketing;
//! 5. follow sales outcomes: record conversions, carry opportunity stage,
//!    won/lost and amount to marketing (`outcomes`);
//!
//! committing each step's effect (links, fingerprints, dead letters,
//! cursor) in one transaction after the remote writes it depends on.

use std::collections::{BTreeMap, HashMap};

use leadbridge_core::{
    ChangesRequest, ConnectorError, Cursor, Fields, PageToken, Record, WriteBatch, WriteOutcome,
    WriteRecord,
};
use serde_json::Value;
use tracing::{debug, info, info_span, Instrument};

use super::clock::Clock;
use super::fields::Canonical;
use super::pipeline::{Endpoint, Pipeline};
use super::plan::{CrmChange, MarketingDecision, Rejection};
use super::stop::StopSignal;
use crate::state::{
    Commit, CycleCounts, DeadLetter, Event, EventKind, Intent, IntentAction, IntentId, Link,
    LinkState, Side, StateError, StateStore,
};

mod duplicates;
mod outcomes;
mod successors;

/// Why a cycle stopped before the end. Whatever was committed stays
/// committed; the next cycle starts from there.
#[derive(Debug, thiserror::Error)]
pub enum CycleError {
    /// A connector call failed (after the HTTP layer's own retries).
    #[error("{side} connector {connector}: {source}")]
    Connector {
        /// The side.
        side: Side,
        /// The connector's config name.
        connector: String,
        /// What failed.
        #[source]
        source: ConnectorError,
    },
    /// The state store failed.
    #[error("state: {0}")]
    State(#[from] StateError),
    /// A stop was requested: no new page was read. Everything before was
    /// committed page by page; the next start goes on from there. Not a
    /// failure.
    #[error("stopping: no new page is read after a stop request")]
    Stopped,
}

impl CycleError {
    /// The connector error, if that is what it is.
    pub fn connector_error(&self) -> Option<&ConnectorError> {
        match self {
            Self::Connector { source, .. } => Some(source),
            Self::State(_) | Self::Stopped => None,
        }
    }
}

/// What a cycle did (or, in a dry run, would do).
#[derive(Debug, Clone, Default)]
pub struct CycleReport {
    /// Counts of records read, written, echoed and dead-lettered.
    pub counts: CycleCounts,
    /// Leads handed off to sales.
    pub handoffs: u64,
    /// In a dry run: each change that would be made.
    pub planned: Vec<PlannedWrite>,
}

/// A write a dry run would make: printed as a line by `run --dry-run`, as
/// an object by `run --dry-run --json`.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct PlannedWrite {
    /// `create`, `link and update` or `update`.
    pub action: &'static str,
    /// The side written to.
    pub side: Side,
    /// The record's id there, or its key for a create (`?` when neither).
    pub record: String,
    /// The marketing record it is about.
    pub marketing_id: String,
    /// The vendor fields it would write.
    pub fields: Fields,
}

impl std::fmt::Display for PlannedWrite {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {} record {} for marketing {}: {}",
            self.action,
            self.side,
            self.record,
            self.marketing_id,
            serde_json::to_string(&self.fields).unwrap_or_default()
        )
    }
}

/// One remote write decided by the engine, with what to record once it is done.
#[derive(Debug, Clone)]
struct Write {
    marketing_id: String,
    record: WriteRecord,
    /// The canonical values it carries, to agree on once written.
    values: Canonical,
    /// The pair, when it exists already.
    link: Option<Link>,
    /// Set for a handoff: the owner it was assigned to.
    handoff_owner: Option<Option<String>>,
    /// For a handoff, every canonical value of the marketing record (source,
    /// campaign, score…): what funnel events and the SLA note are about,
    /// beyond the fields written.
    context: Canonical,
    /// Where the source record came from, for the dead letter queue.
    source: (Side, String, String, Fields),
    intent: Option<IntentId>,
}

/// A decision about one marketing record, before any CRM call.
#[derive(Debug, Clone)]
enum Decided {
    /// An update of a linked pair, ready to write.
    Write(Box<Write>),
    /// A qualified lead to match in the CRM (or create there): the record,
    /// its key value and its canonical values.
    Handoff(Box<(Record, String, Canonical)>),
}

impl Decided {
    /// The marketing record decided on.
    fn marketing_id(&self) -> &str {
        match self {
            Decided::Write(w) => &w.marketing_id,
            Decided::Handoff(h) => &h.0.id,
        }
    }
}

/// Queues the decisions of page `page_no`. A record decided again before
/// its earlier decision was written (read twice in one cycle: a pair that
/// ended and a page that holds it, or a record changed while paging)
/// keeps only its newest decision, so one record is never written twice
/// in one batch.
fn queue_decisions(
    queue: &mut std::collections::VecDeque<(u64, Decided)>,
    page_no: u64,
    decided: Vec<Decided>,
) {
    if decided.is_empty() {
        return;
    }
    let newer: std::collections::HashSet<String> = decided
        .iter()
        .map(|d| d.marketing_id().to_owned())
        .collect();
    queue.retain(|(_, d)| !newer.contains(d.marketing_id()));
    queue.extend(decided.into_iter().map(|d| (page_no, d)));
}

/// Runs cycles of one pipeline against a state store.
pub struct Cycle<'a> {
    pipeline: &'a Pipeline,
    store: &'a dyn StateStore,
    clock: &'a dyn Clock,
    dry_run: bool,
    report: CycleReport,
    dlq_active: bool,
    /// Conversions the CRM pass noted, for the outcomes pass.
    conversions: outcomes::Conversions,
    /// Asked to stop: no new page is read once it is.
    stop: StopSignal,
    /// CRM objects' fields read this cycle (successor objects' writes).
    schemas: HashMap<String, leadbridge_core::ObjectSchema>,
    /// Canonical keys of marketing records to look at again this cycle:
    /// their pair ended, so they may qualify for a new handoff.
    reconsider: Vec<String>,
    /// Handoffs held back for a survivor of the same key in this batch.
    awaiting: Vec<duplicates::Awaiting>,
}

fn connector_err(side: Side, endpoint: &Endpoint) -> impl Fn(ConnectorError) -> CycleError + '_ {
    move |source| CycleError::Connector {
        side,
        connector: endpoint.connector_name.clone(),
        source,
    }
}

impl<'a> Cycle<'a> {
    /// A cycle; `dry_run` reads and decides but writes nothing anywhere.
    pub fn new(
        pipeline: &'a Pipeline,
        store: &'a dyn StateStore,
        clock: &'a dyn Clock,
        dry_run: bool,
    ) -> Self {
        Self {
            pipeline,
            store,
            clock,
            dry_run,
            report: CycleReport::default(),
            dlq_active: false,
            conversions: outcomes::Conversions::new(),
            stop: StopSignal::never(),
            schemas: HashMap::new(),
            reconsider: Vec::new(),
            awaiting: Vec::new(),
        }
    }

    /// The same cycle, ending at the next page boundary once `stop` is
    /// requested (with [`CycleError::Stopped`]): the batch in flight is
    /// written and committed, no new work is taken.
    pub fn with_stop(mut self, stop: StopSignal) -> Self {
        self.stop = stop;
        self
    }

    fn endpoint(&self, side: Side) -> &'a Endpoint {
        match side {
            Side::Marketing => &self.pipeline.marketing,
            Side::Crm => &self.pipeline.crm,
        }
    }

    /// Runs the cycle to the end.
    pub async fn run(mut self) -> Result<CycleReport, CycleError> {
        let span = info_span!("cycle", pipeline = %self.pipeline.name, dry_run = self.dry_run);
        let (pipeline, store, dry_run) = (self.pipeline, self.store, self.dry_run);
        let timer = std::time::Instant::now();
        let result = async move {
            // Fingerprint tags first: replay and every decision use them.
            self.pipeline.load_tags(self.store).await?;
            if !self.dry_run {
                self.replay_intents().await?;
            }
            self.dlq_active = self.store.counts(&self.pipeline.name).await?.dead_letters > 0;
            let (feedback, held_cursor) = self.read_crm().await?;
            // Conversions keep the CRM checkpoint until the outcomes pass recorded them.
            let (held_cursor, held_for_outcomes) = match self.conversions.is_empty() {
                true => (held_cursor, None),
                false => (None, held_cursor),
            };
            let mut feedback = feedback;
            self.read_marketing(&mut feedback).await?;
            self.apply_feedback(feedback, held_cursor).await?;
            self.read_successors().await?;
            self.follow_outcomes(held_for_outcomes).await?;
            if !self.dry_run {
                // SLA hook: fire due timers (notes, breaches, escalation, recycle).
                super::follow_up::sweep(self.pipeline, self.store, self.clock).await?;
            }
            crate::metrics::CycleFinished {
                pipeline: &self.pipeline.name,
                counts: self.report.counts,
                handoffs: self.report.handoffs,
                dry_run: self.dry_run,
            }
            .emit();
            Ok(self.report)
        }
        .instrument(span)
        .await;
        if !dry_run && !matches!(result, Err(CycleError::Stopped)) {
            let failure = result
                .as_ref()
                .err()
                .map(|e: &CycleError| crate::metrics::failure_reason(e.connector_error()));
            crate::metrics::record_cycle(&pipeline.name, timer.elapsed(), failure);
            if let Ok(counts) = store.counts(&pipeline.name).await {
                crate::metrics::record_dlq_size(&pipeline.name, counts.dead_letters);
            }
        }
        result
    }

    fn request(&self, side: Side, since: Option<Cursor>) -> ChangesRequest {
        let endpoint = self.endpoint(side);
        let mut fields = self.pipeline.planner.fields.vendor_fields(side);
        if let (Side::Crm, Some(outcomes)) = (side, &self.pipeline.outcomes) {
            // The conversion pointer, so the CRM pass sees conversions.
            fields.push(outcomes.config.converted_to.clone());
        }
        if let (Side::Crm, Some(owner)) = (side, &self.pipeline.owner_field) {
            // The owner, read back as the CRM shows it.
            if !fields.contains(owner) {
                fields.push(owner.clone());
            }
        }
        ChangesRequest {
            object: endpoint.object.clone(),
            since,
            overlap: endpoint.overlap,
            fields,
            // Deleted and merged records end or move their pairs.
            include_archived: true,
        }
    }

    async fn page(
        &self,
        side: Side,
        request: &ChangesRequest,
        token: Option<&PageToken>,
    ) -> Result<leadbridge_core::ChangePage, CycleError> {
        if self.stop.requested() {
            return Err(CycleError::Stopped);
        }
        let endpoint = self.endpoint(side);
        endpoint
            .connector
            .changes(request, token)
            .await
            .map_err(connector_err(side, endpoint))
    }

    /// The owner of each linked record of a CRM page, read back from the
    /// CRM's owner field: when sales (or an assignment rule) changed it,
    /// the link and the lead's follow-up SLA learn the new owner, so later
    /// tasks, escalations and the funnel's `--by owner` name the owner the
    /// CRM shows. Updates `links` in place; returns the CRM ids whose owner
    /// changed. The SLA states are committed here, before first touches
    /// are read from the store.
    async fn read_owners(
        &mut self,
        records: &[leadbridge_core::Record],
        links: &mut HashMap<String, crate::state::Link>,
    ) -> Result<Vec<String>, CycleError> {
        let Some(field) = self.pipeline.owner_field.clone() else {
            return Ok(Vec::new());
        };
        let mut changed = Vec::new();
        let mut commit = Commit::new(self.pipeline.name.clone());
        for record in records {
            let (Some(link), Some(owner)) = (links.get_mut(&record.id), record.text(&field)) else {
                continue;
            };
            if link.state.owner.as_deref() == Some(owner.as_str()) {
                continue;
            }
            debug!(lead = %record.id, from = ?link.state.owner, to = %owner, "the CRM shows a new owner");
            link.state.owner = Some(owner.clone());
            changed.push(record.id.clone());
            if self.pipeline.sla.is_some() && !self.dry_run {
                if let Some(mut lead) = self
                    .store
                    .sla_lead(&self.pipeline.name, &link.marketing_id)
                    .await?
                {
                    if lead.owner.as_deref() != Some(owner.as_str()) {
                        lead.owner = Some(owner);
                        commit.set_sla_lead(lead);
                    }
                }
            }
        }
        self.commit(&commit).await?;
        Ok(changed)
    }

    /// Reads the CRM's changes; returns the real feedback by marketing id,
    /// and the checkpoint to commit once that feedback is applied.
    async fn read_crm(
        &mut self,
    ) -> Result<(HashMap<String, CrmChange>, Option<Cursor>), CycleError> {
        let p = &self.pipeline.name;
        let since = self
            .store
            .cursor(p, Side::Crm, &self.pipeline.crm.object)
            .await?;
        let request = self.request(Side::Crm, since);
        let mut feedback: HashMap<String, CrmChange> = HashMap::new();
        let mut held = None;
        let mut token = None;
        loop {
            let page = self.page(Side::Crm, &request, token.as_ref()).await?;
            self.report.counts.read_crm += page.records.len() as u64;
            let ids: Vec<String> = page.records.iter().map(|r| r.id.clone()).collect();
            let mut links = self.store.links(p, Side::Crm, &ids).await?;
            let owners_changed = self.read_owners(&page.records, &mut links).await?;
            let mut commit = Commit::new(p.clone());
            let replaced = self
                .crm_successors(&page.records, &links, &mut commit)
                .await?;
            for record in &page.records {
                if replaced.contains(&record.id) {
                    continue;
                }
                let link = links.get(&record.id).cloned();
                let linked = link.is_some();
                let owner_changed = owners_changed.contains(&record.id);
                if let (true, Some(link)) = (owner_changed, &link) {
                    // Stored with the page: feedback re-reads links before writing.
                    commit.upsert_link(link.marketing_id.clone(), link.state.clone());
                }
                match self.pipeline.planner.crm_record(record, link) {
                    Ok(Some(change)) => {
                        feedback.insert(change.link.marketing_id.clone(), change);
                    }
                    Ok(None) if owner_changed => {}
                    Ok(None) if linked => self.report.counts.echoes += 1,
                    Ok(None) => {}
                    Err(rejection) => self.dead_letter(
                        &mut commit,
                        rejection,
                        &self.pipeline.crm.object,
                        record.fields.clone(),
                    ),
                }
            }
            if !self.dry_run {
                // SLA hook: first touches stop their timers with this page's commit.
                let now = self.clock.now();
                let live: Vec<leadbridge_core::Record> = page
                    .records
                    .iter()
                    .filter(|r| !replaced.contains(&r.id))
                    .cloned()
                    .collect();
                super::follow_up::lifecycle::detect_touches(
                    self.pipeline,
                    self.store,
                    &live,
                    &links,
                    &mut commit,
                    now,
                )
                .await?;
            }
            self.note_conversions(&page.records, &links).await?;
            if let Some(checkpoint) = page.checkpoint {
                if feedback.is_empty() && self.conversions.is_empty() {
                    commit.set_cursor(Side::Crm, self.pipeline.crm.object.clone(), checkpoint);
                } else {
                    held = Some(checkpoint);
                }
            }
            self.commit(&commit).await?;
            if feedback.len() >= FEEDBACK_HELD_AT_MOST {
                // Feedback on fields only the CRM owns cannot conflict with
                // anything the marketing pass will read: carry it now, so a
                // pass over many CRM changes holds a bounded amount.
                let (now, later) = split_conflict_free(
                    &self.pipeline.planner.fields,
                    std::mem::take(&mut feedback),
                );
                feedback = later;
                self.apply_feedback(now, None).await?;
                if feedback.is_empty() && self.conversions.is_empty() {
                    if let Some(checkpoint) = held.take() {
                        let mut commit = Commit::new(p.clone());
                        commit.set_cursor(Side::Crm, self.pipeline.crm.object.clone(), checkpoint);
                        self.commit(&commit).await?;
                    }
                }
            }
            match page.next {
                Some(next) => token = Some(next),
                None => return Ok((feedback, held)),
            }
        }
    }

    fn dead_letter(
        &mut self,
        commit: &mut Commit,
        rejection: Rejection,
        object: &str,
        fields: Fields,
    ) {
        crate::metrics::DeadLettered {
            pipeline: &self.pipeline.name,
            side: rejection.side,
            record_id: &rejection.record_id,
            reason: &rejection.reason,
            rejected_by: None,
        }
        .emit();
        self.report.counts.dead_lettered += 1;
        commit.dead_letter(DeadLetter {
            side: rejection.side,
            object: object.to_owned(),
            record_id: rejection.record_id,
            fields,
            reason: rejection.reason,
            code: None,
            at: self.clock.now(),
        });
    }

    async fn commit(&self, commit: &Commit) -> Result<(), CycleError> {
        if self.dry_run || commit.is_empty() {
            return Ok(());
        }
        Ok(self.store.commit(commit).await?)
    }

    /// Reads marketing's changes page by page and carries the decisions to
    /// the CRM in full batches: decisions queue up across pages, and each
    /// time a batch's worth has gathered, exactly that many are matched and
    /// written (the rest wait for the next pages). A page's checkpoint is
    /// committed once every decision of it and of the pages before it is
    /// written, so nothing is skipped by a stop, and a page of 200 contacts
    /// with a handful of handoffs does not cost a small look-up and write.
    async fn read_marketing(
        &mut self,
        feedback: &mut HashMap<String, CrmChange>,
    ) -> Result<(), CycleError> {
        let p = self.pipeline.name.clone();
        let object = self.pipeline.marketing.object.clone();
        let since = self.store.cursor(&p, Side::Marketing, &object).await?;
        let request = self.request(Side::Marketing, since);
        let mut position = self.store.round_robin(&p, "").await?;
        let batch = self.pipeline.crm.connector.limits().batch_size.max(1);
        // Decisions not yet written, with the page they came from.
        let mut queue: std::collections::VecDeque<(u64, Decided)> = Default::default();
        // Page checkpoints not yet committed, in page order.
        let mut checkpoints: std::collections::VecDeque<(u64, Cursor)> = Default::default();
        let mut commit = Commit::new(p.clone());
        let mut page_no: u64 = 0;
        let mut token = None;
        let again = self.reconsidered(&request.fields).await?;
        if !again.is_empty() {
            // Pairs that ended this cycle: their marketing records are decided
            // again with the first page's batch, as if they had changed.
            let decided = self.plan_records(&again, feedback, &mut commit).await?;
            queue_decisions(&mut queue, 0, decided);
        }
        loop {
            let page = self.page(Side::Marketing, &request, token.as_ref()).await?;
            page_no += 1;
            self.report.counts.read_marketing += page.records.len() as u64;
            let decided = self
                .plan_records(&page.records, feedback, &mut commit)
                .await?;
            queue_decisions(&mut queue, page_no, decided);
            if let Some(checkpoint) = page.checkpoint {
                checkpoints.push_back((page_no, checkpoint));
            }
            let last = page.next.is_none();
            let full = (queue.len() / batch) * batch;
            let take = if last { queue.len() } else { full };
            // A quiet stretch (nothing to write) still commits its progress
            // every ten pages.
            let quiet = queue.is_empty() && page_no % 10 == 0;
            if take > 0 || last || quiet {
                let taken: Vec<Decided> = queue.drain(..take).map(|(_, d)| d).collect();
                let writes = self.resolve(taken, &mut commit, &mut position).await?;
                self.execute(Side::Crm, writes, &mut commit).await?;
                self.settle_duplicates(&mut commit);
                // Pages before the oldest decision still queued are done.
                let done = queue.front().map_or(page_no, |(n, _)| n - 1);
                let mut cursor = None;
                while checkpoints.front().is_some_and(|(n, _)| *n <= done) {
                    cursor = checkpoints.pop_front().map(|(_, c)| c);
                }
                if let Some(cursor) = cursor {
                    commit.set_cursor(Side::Marketing, object.clone(), cursor);
                }
                if self.pipeline.assignment.is_some() {
                    commit.set_round_robin("", position);
                }
                self.commit(&commit).await?;
                commit = Commit::new(p.clone());
            }
            match page.next {
                Some(next) => token = Some(next),
                None => return Ok(()),
            }
        }
    }

    /// The marketing records of the keys noted in [`Cycle::reconsider`],
    /// read by key (their pairs ended, so they may qualify again).
    async fn reconsidered(&mut self, fields: &[String]) -> Result<Vec<Record>, CycleError> {
        let keys = std::mem::take(&mut self.reconsider);
        let Some(key_field) = self.pipeline.planner.fields.key().marketing.clone() else {
            return Ok(Vec::new());
        };
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let m = &self.pipeline.marketing;
        m.connector
            .lookup(&m.object, &key_field, &keys, fields)
            .await
            .map_err(connector_err(Side::Marketing, m))
    }

    /// Turns marketing records (one or more pages) into CRM writes.
    async fn decide_page(
        &mut self,
        records: &[Record],
        feedback: &mut HashMap<String, CrmChange>,
        commit: &mut Commit,
        position: &mut u64,
    ) -> Result<Vec<Write>, CycleError> {
        let decided = self.plan_records(records, feedback, commit).await?;
        self.resolve(decided, commit, position).await
    }

    /// The decisions for marketing records, without CRM calls: updates of
    /// linked pairs as writes, qualified leads as handoffs still to be
    /// matched in the CRM (see [`Cycle::resolve`]).
    async fn plan_records(
        &mut self,
        records: &[Record],
        feedback: &mut HashMap<String, CrmChange>,
        commit: &mut Commit,
    ) -> Result<Vec<Decided>, CycleError> {
        // Merged and deleted marketing records move or end their pairs first.
        let ended = if self.dry_run {
            Default::default()
        } else {
            self.marketing_successors(records, commit).await?
        };
        let p = &self.pipeline.name;
        let ids: Vec<String> = records.iter().map(|r| r.id.clone()).collect();
        let mut links = self.store.links(p, Side::Marketing, &ids).await?;
        for record in records.iter().filter(|r| !r.merged_from.is_empty()) {
            // The survivor's pair may have come from a record it absorbed in
            // this very commit, not yet stored.
            if !links.contains_key(&record.id) {
                if let Some(state) = commit.pending_link(&record.id) {
                    links.insert(
                        record.id.clone(),
                        Link {
                            marketing_id: record.id.clone(),
                            state,
                        },
                    );
                }
            }
        }
        let known_duplicates = self.known_duplicates(records, &links, commit).await?;
        let planner = &self.pipeline.planner;
        let mut decided = Vec::new();
        let source = |r: &Record| {
            (
                Side::Marketing,
                self.pipeline.marketing.object.clone(),
                r.id.clone(),
                r.fields.clone(),
            )
        };
        for record in records {
            if record.archived || ended.contains(&record.id) {
                continue;
            }
            if known_duplicates.contains(&record.id) {
                debug!(record = %record.id, "a duplicate of a pair's record: not handed off apart");
                continue;
            }
            let link = links.get(&record.id).cloned();
            let linked = link.is_some();
            match planner.marketing_record(record, link, feedback) {
                MarketingDecision::Unchanged => {
                    if linked {
                        self.report.counts.echoes += 1;
                    }
                }
                MarketingDecision::NotQualified(why) => {
                    debug!(record = %record.id, %why, "not handed off")
                }
                MarketingDecision::Rejected(rejection) => self.dead_letter(
                    commit,
                    rejection,
                    &self.pipeline.marketing.object,
                    record.fields.clone(),
                ),
                MarketingDecision::Update(update) => {
                    let fields = planner.fields.to_vendor(Side::Crm, &update.to_crm);
                    decided.push(Decided::Write(Box::new(Write {
                        marketing_id: record.id.clone(),
                        record: WriteRecord {
                            id: Some(update.link.state.crm_id.clone()),
                            key: None,
                            fields,
                        },
                        values: update.to_crm,
                        link: Some(update.link),
                        handoff_owner: None,
                        context: Canonical::new(),
                        source: source(record),
                        intent: None,
                    })));
                }
                MarketingDecision::Handoff { key, values, .. } => {
                    decided.push(Decided::Handoff(Box::new((record.clone(), key, values))))
                }
            }
        }
        Ok(decided)
    }

    /// Turns decisions into CRM writes: handoffs are matched in the CRM by
    /// key (one look-up per full batch) and get an owner if new.
    async fn resolve(
        &mut self,
        decided: Vec<Decided>,
        commit: &mut Commit,
        position: &mut u64,
    ) -> Result<Vec<Write>, CycleError> {
        let mut writes = Vec::new();
        let mut handoffs: Vec<(Record, String, Canonical)> = Vec::new();
        for d in decided {
            match d {
                Decided::Write(w) => writes.push(*w),
                Decided::Handoff(handoff) => handoffs.push(*handoff),
            }
        }
        if handoffs.is_empty() {
            return Ok(writes);
        }
        let source = |r: &Record| {
            (
                Side::Marketing,
                self.pipeline.marketing.object.clone(),
                r.id.clone(),
                r.fields.clone(),
            )
        };
        let handoffs = self.one_per_key(handoffs);
        let planner = &self.pipeline.planner;
        let keys: Vec<String> = handoffs.iter().map(|(_, k, _)| k.clone()).collect();
        let existing = self.lookup_crm(&keys).await?;
        let found_ids: Vec<String> = existing.values().map(|r| r.id.clone()).collect();
        let paired = self
            .store
            .links(&self.pipeline.name, Side::Crm, &found_ids)
            .await?;
        for (record, key, values) in handoffs {
            if let Some(other) = existing
                .get(&key)
                .and_then(|found| paired.get(&found.id))
                .filter(|other| other.marketing_id != record.id)
            {
                // Sales' record has its pair already: this one is its duplicate.
                let reason = format!(
                    "shares the key {key} with {}, whose pair has CRM record {}",
                    other.marketing_id, other.state.crm_id
                );
                let (survivor, crm_id) = (other.marketing_id.clone(), other.state.crm_id.clone());
                self.mark_duplicate(&record.id, &survivor, &crm_id, &reason, commit);
                continue;
            }
            let mut create_values = planner.handoff_values(&values);
            let (record_to_write, owner) = match existing.get(&key) {
                Some(found) => {
                    // Sales already has this person: link to it, keep its owner.
                    let owner = self
                        .pipeline
                        .owner_field
                        .as_ref()
                        .and_then(|f| found.text(f));
                    create_values.remove(&planner.fields.key().name);
                    let fields = planner.fields.to_vendor(Side::Crm, &create_values);
                    (
                        WriteRecord {
                            id: Some(found.id.clone()),
                            key: None,
                            fields,
                        },
                        owner,
                    )
                }
                None => {
                    let owner = match &self.pipeline.assignment {
                        Some(assignment) => {
                            match super::assign::choose(assignment, &values, None, *position) {
                                Ok(choice) => {
                                    *position = choice.next_position;
                                    choice.owner
                                }
                                Err(reason) => {
                                    let rejection = Rejection {
                                        side: Side::Marketing,
                                        record_id: record.id.clone(),
                                        reason: format!("no owner: {reason}"),
                                    };
                                    self.dead_letter(
                                        commit,
                                        rejection,
                                        &self.pipeline.marketing.object,
                                        record.fields.clone(),
                                    );
                                    continue;
                                }
                            }
                        }
                        None => None,
                    };
                    let mut fields = planner.fields.to_vendor(Side::Crm, &create_values);
                    if let (Some(field), Some(owner)) = (&self.pipeline.owner_field, &owner) {
                        fields.insert(field.clone(), Value::String(owner.clone()));
                    }
                    let key_value = match &self.pipeline.upsert_key {
                        Some(_) => external_id(&self.pipeline.name, &record.id),
                        None => {
                            if let Some(key_field) = planner.fields.key().crm.as_ref() {
                                fields.remove(key_field);
                            }
                            key.clone()
                        }
                    };
                    (
                        WriteRecord {
                            id: None,
                            key: Some(key_value),
                            fields,
                        },
                        owner,
                    )
                }
            };
            writes.push(Write {
                marketing_id: record.id.clone(),
                record: record_to_write,
                values: planner.handoff_values(&values),
                link: None,
                handoff_owner: Some(owner),
                context: values.clone(),
                source: source(&record),
                intent: None,
            });
        }
        Ok(writes)
    }

    /// CRM records by canonical key (lower-cased), in as few calls as the CRM allows.
    async fn lookup_crm(&self, keys: &[String]) -> Result<HashMap<String, Record>, CycleError> {
        let crm = &self.pipeline.crm;
        let Some(key_field) = self.pipeline.planner.fields.key().crm.clone() else {
            return Ok(HashMap::new());
        };
        let mut fields = self.pipeline.planner.fields.vendor_fields(Side::Crm);
        if let Some(owner) = &self.pipeline.owner_field {
            fields.push(owner.clone());
        }
        let mut found = HashMap::new();
        let chunk = crm.connector.limits().lookup_batch_size.max(1);
        for keys in keys.chunks(chunk) {
            let records = crm
                .connector
                .lookup(&crm.object, &key_field, keys, &fields)
                .await
                .map_err(connector_err(Side::Crm, crm))?;
            for record in records {
                if let Some(key) = record.text(&key_field) {
                    // The oldest match wins when sales has duplicates; it is the one they work.
                    found.entry(super::key::fold(&key)).or_insert(record);
                }
            }
        }
        Ok(found)
    }

    /// Records intents, writes to `side`, and fills `commit` with the
    /// outcome of every write.
    async fn execute(
        &mut self,
        side: Side,
        mut writes: Vec<Write>,
        commit: &mut Commit,
    ) -> Result<(), CycleError> {
        if writes.is_empty() {
            return Ok(());
        }
        if self.dry_run {
            for w in &writes {
                let what = match (&w.handoff_owner, &w.record.id) {
                    (Some(_), None) => "create",
                    (Some(_), Some(_)) => "link and update",
                    _ => "update",
                };
                self.report.planned.push(PlannedWrite {
                    action: what,
                    side,
                    record: w
                        .record
                        .id
                        .as_deref()
                        .or(w.record.key.as_deref())
                        .unwrap_or("?")
                        .to_owned(),
                    marketing_id: w.marketing_id.clone(),
                    fields: w.record.fields.clone(),
                });
            }
            self.count_writes(side, &writes);
            return Ok(());
        }
        let key_field = self.key_field(side);
        let now = self.clock.now();
        let mut intents = Vec::with_capacity(writes.len());
        for w in writes.iter_mut() {
            if w.intent.is_none() {
                let id = self.store.new_intent_id().await?;
                w.intent = Some(id);
                let object = match (side, &w.link) {
                    (Side::Crm, Some(link)) => self.crm_object_of(link),
                    _ => self.endpoint(side).object.clone(),
                };
                intents.push(Intent {
                    id,
                    pipeline: self.pipeline.name.clone(),
                    side,
                    object,
                    marketing_id: w.marketing_id.clone(),
                    action: IntentAction::Write {
                        key_field: key_field.clone(),
                        record: w.record.clone(),
                    },
                    canonical_hash: None,
                    recorded_at: now,
                });
            }
        }
        if !intents.is_empty() {
            self.store.record_intents(&intents).await?;
        }
        let results = self.send(side, writes, commit).await?;
        for (w, outcome) in results {
            if let Some(id) = w.intent {
                commit.resolve_intent(id);
            }
            match outcome {
                WriteOutcome::Created { id } | WriteOutcome::Updated { id } => {
                    self.count_written(side, &w);
                    self.written(side, w, id, commit)
                }
                WriteOutcome::Deleted { message } => {
                    // The record is gone: the pair ends, no dead letter.
                    if let Some(link) = &w.link {
                        let why = match side {
                            Side::Crm => format!("the CRM record was deleted ({message})"),
                            Side::Marketing => {
                                format!("the marketing record was deleted ({message})")
                            }
                        };
                        self.unlink(link, &why, None, commit).await?;
                    }
                    if self.dlq_active {
                        commit.remove_dead_letter(w.source.0, w.source.2.clone());
                    }
                }
                other => {
                    let (message, code, fields) = match other {
                        WriteOutcome::Rejected {
                            message,
                            code,
                            fields,
                        } => (message, code, fields),
                        WriteOutcome::Superseded { successor } => (
                            format!(
                                "the record was replaced by {} {}, which was replaced too",
                                successor.object, successor.id
                            ),
                            None,
                            Vec::new(),
                        ),
                        WriteOutcome::Created { .. }
                        | WriteOutcome::Updated { .. }
                        | WriteOutcome::Deleted { .. } => {
                            unreachable!("matched above")
                        }
                    };
                    let (src_side, object, record_id, source_fields) = w.source;
                    let reason = if fields.is_empty() {
                        message
                    } else {
                        format!("{message} (fields: {})", fields.join(", "))
                    };
                    crate::metrics::DeadLettered {
                        pipeline: &self.pipeline.name,
                        side: src_side,
                        record_id: &record_id,
                        reason: &reason,
                        rejected_by: Some(side),
                    }
                    .emit();
                    self.report.counts.dead_lettered += 1;
                    commit.dead_letter(DeadLetter {
                        side: src_side,
                        object,
                        record_id,
                        fields: source_fields,
                        reason,
                        code,
                        at: now,
                    });
                }
            }
        }
        Ok(())
    }

    /// Sends writes to `side`, each to the object its pair lives on, and
    /// follows replaced CRM records once: a write that finds its record
    /// converted or merged moves the pair (in `commit`) and goes to the
    /// successor, with the fields the successor's object has.
    async fn send(
        &mut self,
        side: Side,
        writes: Vec<Write>,
        commit: &mut Commit,
    ) -> Result<Vec<(Write, WriteOutcome)>, CycleError> {
        let mut results = self.send_grouped(side, writes).await?;
        let mut again = Vec::new();
        let mut done = Vec::with_capacity(results.len());
        let mut claimed = HashMap::new();
        for (mut w, outcome) in results.drain(..) {
            let WriteOutcome::Superseded { successor } = &outcome else {
                done.push((w, outcome));
                continue;
            };
            if side == Side::Marketing {
                let Some(link) = w.link.clone() else {
                    done.push((w, outcome));
                    continue;
                };
                match self
                    .follow_marketing_successor(&link, successor, commit)
                    .await?
                {
                    Some(moved) => {
                        w.marketing_id = moved.marketing_id.clone();
                        w.record.id = Some(moved.marketing_id.clone());
                        w.link = Some(moved);
                        again.push(w);
                    }
                    None => {
                        // The pair ended already; nothing more to undo.
                        w.link = None;
                        done.push((
                            w,
                            WriteOutcome::Deleted {
                                message: "the marketing record was merged into one paired with another lead".into(),
                            },
                        ));
                    }
                }
                continue;
            }
            let link = w.link.clone().unwrap_or_else(|| Link {
                marketing_id: w.marketing_id.clone(),
                state: LinkState::new(w.record.id.clone().unwrap_or_default()),
            });
            let now = self.clock.now();
            self.relink(&link, successor, now, &mut claimed, commit)
                .await?;
            match commit.pending_link(&w.marketing_id) {
                Some(state) => {
                    w.record.id = Some(state.crm_id.clone());
                    w.record.key = None;
                    w.link = Some(Link {
                        marketing_id: w.marketing_id.clone(),
                        state,
                    });
                    again.push(w);
                }
                // The successor already had its pair: this one ended.
                None => done.push((
                    Write { link: None, ..w },
                    WriteOutcome::Deleted {
                        message: "the record was merged into one paired with another lead".into(),
                    },
                )),
            }
        }
        if !again.is_empty() {
            done.extend(self.send_grouped(side, again).await?);
        }
        Ok(done)
    }

    /// One write call per object the writes go to (the pipeline's object
    /// by key or id; a successor object by id, with the fields it has).
    async fn send_grouped(
        &mut self,
        side: Side,
        writes: Vec<Write>,
    ) -> Result<Vec<(Write, WriteOutcome)>, CycleError> {
        let primary = self.endpoint(side).object.clone();
        let mut groups: std::collections::BTreeMap<String, Vec<Write>> = Default::default();
        for w in writes {
            let object = match (side, &w.link) {
                (Side::Crm, Some(link)) => self.crm_object_of(link),
                _ => primary.clone(),
            };
            groups.entry(object).or_default().push(w);
        }
        let mut out = Vec::new();
        for (object, mut ws) in groups {
            let key_field = if object == primary {
                self.key_field(side)
            } else {
                let schema = self.crm_schema(&object).await?;
                for w in &mut ws {
                    w.record
                        .fields
                        .retain(|name, _| schema.field(name).is_some_and(|f| f.updateable));
                }
                None
            };
            let endpoint = self.endpoint(side);
            let batch = WriteBatch {
                object,
                key_field,
                records: ws.iter().map(|w| w.record.clone()).collect(),
            };
            let outcomes = endpoint
                .connector
                .write(&batch)
                .await
                .map_err(connector_err(side, endpoint))?;
            if outcomes.len() != ws.len() {
                return Err(CycleError::Connector {
                    side,
                    connector: endpoint.connector_name.clone(),
                    source: ConnectorError::fatal(format!(
                        "{} outcomes for {} records",
                        outcomes.len(),
                        ws.len()
                    )),
                });
            }
            out.extend(ws.into_iter().zip(outcomes));
        }
        Ok(out)
    }

    /// Counts writes planned in a dry run (nothing is written, so what
    /// would be is what is counted).
    fn count_writes(&mut self, side: Side, writes: &[Write]) {
        for w in writes {
            self.count_written(side, w);
        }
    }

    /// Counts one write the tool applied: outcomes, not attempts, so a
    /// record refused (and dead-lettered) is not counted as written, and
    /// one refused again on every re-read is never counted.
    fn count_written(&mut self, side: Side, w: &Write) {
        match side {
            Side::Crm => self.report.counts.written_crm += 1,
            Side::Marketing => self.report.counts.written_marketing += 1,
        }
        if w.handoff_owner.is_some() {
            self.report.handoffs += 1;
        }
    }

    /// The key field a batch to `side` upserts on.
    fn key_field(&self, side: Side) -> Option<String> {
        match side {
            Side::Crm => self
                .pipeline
                .upsert_key
                .clone()
                .or_else(|| self.pipeline.planner.fields.key().crm.clone()),
            Side::Marketing => self.pipeline.planner.fields.key().marketing.clone(),
        }
    }

    /// Stores the effect of one successful write.
    fn written(&mut self, side: Side, w: Write, id: String, commit: &mut Commit) {
        let now = self.clock.now();
        let mut state = match (&w.link, side) {
            (Some(link), _) => link.state.clone(),
            (None, Side::Crm) => LinkState::new(id.clone()),
            (None, Side::Marketing) => return,
        };
        if side == Side::Crm {
            state.crm_id = id.clone();
        }
        self.pipeline.planner.agree_on(&mut state.agreed, &w.values);
        if let Some(owner) = &w.handoff_owner {
            state.handed_off_at = Some(now);
            state.owner = owner.clone();
            // SLA hook: the lead's SLA starts in the same commit as its link.
            super::follow_up::lifecycle::start(
                self.pipeline,
                commit,
                &w.marketing_id,
                &id,
                owner.as_deref(),
                &w.context,
                now,
            );
            let text = |name: &str| {
                w.context
                    .get(name)
                    .and_then(|v| v.as_str())
                    .map(str::to_owned)
            };
            // Qualifying under the handoff rule is what makes a lead an MQL here.
            for kind in [EventKind::Qualified, EventKind::HandedOff] {
                let mut event = Event::new(now, kind, w.marketing_id.clone());
                event.crm_id = Some(id.clone());
                event.owner = owner.clone();
                event.source = text("source");
                event.campaign = text("campaign");
                commit.event(event);
            }
        }
        if self.dlq_active {
            commit.remove_dead_letter(w.source.0, w.source.2.clone());
        }
        commit.upsert_link(w.marketing_id, state);
    }

    /// Sales' feedback from the records pairs followed to other objects (a
    /// converted lead's contact): each such object's changes since its own
    /// cursor, page by page, carried to marketing as the CRM pass's are.
    /// Its cursor was set when the first pair moved there.
    async fn read_successors(&mut self) -> Result<(), CycleError> {
        let p = self.pipeline.name.clone();
        let primary = self.pipeline.crm.object.clone();
        let outcome_object = self
            .pipeline
            .outcomes
            .as_ref()
            .map(|o| o.config.object.clone());
        let objects: Vec<(String, Cursor)> = self
            .store
            .cursors(&p)
            .await?
            .into_iter()
            .filter(|c| c.side == Side::Crm && c.object != primary)
            .filter(|c| Some(&c.object) != outcome_object.as_ref())
            .map(|c| (c.object, c.cursor))
            .collect();
        for (object, since) in objects {
            let schema = self.crm_schema(&object).await?;
            let mut request = self.request(Side::Crm, Some(since));
            request.object = object.clone();
            request.fields.retain(|f| schema.field(f).is_some());
            let mut token = None;
            loop {
                let page = self.page(Side::Crm, &request, token.as_ref()).await?;
                self.report.counts.read_crm += page.records.len() as u64;
                let ids: Vec<String> = page.records.iter().map(|r| r.id.clone()).collect();
                let mut links = self.store.links(&p, Side::Crm, &ids).await?;
                let owners_changed = self.read_owners(&page.records, &mut links).await?;
                let mut commit = Commit::new(p.clone());
                let replaced = self
                    .crm_successors(&page.records, &links, &mut commit)
                    .await?;
                let mut feedback = HashMap::new();
                for record in &page.records {
                    if replaced.contains(&record.id) {
                        continue;
                    }
                    let Some(link) = links.get(&record.id).cloned() else {
                        continue;
                    };
                    if owners_changed.contains(&record.id) {
                        commit.upsert_link(link.marketing_id.clone(), link.state.clone());
                    }
                    match self.pipeline.planner.crm_record(record, Some(link)) {
                        Ok(Some(change)) => {
                            feedback.insert(change.link.marketing_id.clone(), change);
                        }
                        Ok(None) => self.report.counts.echoes += 1,
                        Err(rejection) => {
                            self.dead_letter(&mut commit, rejection, &object, record.fields.clone())
                        }
                    }
                }
                self.commit(&commit).await?;
                self.apply_feedback_of(feedback, page.checkpoint, object.clone())
                    .await?;
                match page.next {
                    Some(next) => token = Some(next),
                    None => break,
                }
            }
        }
        Ok(())
    }

    /// Carries the CRM's remaining changes to marketing, then commits the
    /// CRM checkpoint that was held back for them.
    async fn apply_feedback(
        &mut self,
        feedback: HashMap<String, CrmChange>,
        held: Option<Cursor>,
    ) -> Result<(), CycleError> {
        let object = self.pipeline.crm.object.clone();
        self.apply_feedback_of(feedback, held, object).await
    }

    /// [`Cycle::apply_feedback`] for the changes of one CRM object, whose
    /// checkpoint `held` is committed with the last of them.
    async fn apply_feedback_of(
        &mut self,
        feedback: HashMap<String, CrmChange>,
        held: Option<Cursor>,
        crm_object: String,
    ) -> Result<(), CycleError> {
        let p = self.pipeline.name.clone();
        let batch_size = self.pipeline.marketing.connector.limits().batch_size.max(1);
        // Sorted, so a run's writes are reproducible.
        let feedback: BTreeMap<String, CrmChange> = feedback
            .into_iter()
            .filter(|(_, c)| !c.values.is_empty())
            .collect();
        let changes: Vec<CrmChange> = feedback.into_values().collect();
        let chunks: Vec<&[CrmChange]> = changes.chunks(batch_size).collect();
        let last = chunks.len().saturating_sub(1);
        for (i, chunk) in chunks.iter().enumerate() {
            let mut commit = Commit::new(p.clone());
            // The links as stored now: part of a pair's feedback may have been
            // applied earlier in this cycle (see `read_crm`), and its agreed
            // fingerprints must not be overwritten with the older copy.
            let ids: Vec<String> = chunk.iter().map(|c| c.link.marketing_id.clone()).collect();
            let fresh = self.store.links(&p, Side::Marketing, &ids).await?;
            let mut writes: Vec<Write> = chunk
                .iter()
                .map(|change| Write {
                    marketing_id: change.link.marketing_id.clone(),
                    record: WriteRecord {
                        id: Some(change.link.marketing_id.clone()),
                        key: None,
                        fields: self
                            .pipeline
                            .planner
                            .fields
                            .to_vendor(Side::Marketing, &change.values),
                    },
                    values: change.values.clone(),
                    link: Some(
                        fresh
                            .get(&change.link.marketing_id)
                            .cloned()
                            .unwrap_or_else(|| change.link.clone()),
                    ),
                    handoff_owner: None,
                    context: Canonical::new(),
                    source: (
                        Side::Crm,
                        crm_object.clone(),
                        change.link.state.crm_id.clone(),
                        self.pipeline
                            .planner
                            .fields
                            .to_vendor(Side::Crm, &change.values),
                    ),
                    intent: None,
                })
                .collect();
            let to_duplicates = self.feedback_to_duplicates(&writes).await?;
            writes.extend(to_duplicates);
            self.execute(Side::Marketing, writes, &mut commit).await?;
            if i == last {
                if let Some(cursor) = held.clone() {
                    commit.set_cursor(Side::Crm, crm_object.clone(), cursor);
                }
            }
            self.commit(&commit).await?;
        }
        if chunks.is_empty() {
            if let Some(cursor) = held {
                let mut commit = Commit::new(p);
                commit.set_cursor(Side::Crm, crm_object, cursor);
                self.commit(&commit).await?;
            }
        }
        Ok(())
    }

    /// Finishes the writes a crash interrupted: each is redone idempotently
    /// (creates by key look the record up first) and its effect committed.
    async fn replay_intents(&mut self) -> Result<(), CycleError> {
        let pending = self.store.pending_intents(&self.pipeline.name).await?;
        if pending.is_empty() {
            return Ok(());
        }
        info!(count = pending.len(), "replaying writes a stop interrupted");
        let mut commit = Commit::new(self.pipeline.name.clone());
        for side in [Side::Crm, Side::Marketing] {
            let mut writes = Vec::new();
            for intent in pending.iter().filter(|i| i.side == side) {
                let IntentAction::Write { record, .. } = &intent.action else {
                    // Activities are the SLA's: its sweep looks them up
                    // before creating again, and resolves them.
                    continue;
                };
                writes.push(self.replayed_write(side, intent, record.clone()).await?);
            }
            self.execute(side, writes, &mut commit).await?;
        }
        self.commit(&commit).await
    }

    async fn replayed_write(
        &self,
        side: Side,
        intent: &Intent,
        mut record: WriteRecord,
    ) -> Result<Write, CycleError> {
        let planner = &self.pipeline.planner;
        let link = self
            .store
            .link(&self.pipeline.name, Side::Marketing, &intent.marketing_id)
            .await?;
        let is_create = record.id.is_none();
        // The key the write was decided on: a record found by it below is
        // updated by id, but holds that key all the same.
        let decided_key = record.key.clone();
        if side == Side::Crm && is_create && self.pipeline.upsert_key.is_none() {
            // A create by a non-unique key (Email) may have happened before
            // the stop: look it up, and update instead of creating twice.
            if let Some(key) = record.key.clone() {
                if let Some(found) = self
                    .lookup_crm(std::slice::from_ref(&key))
                    .await?
                    .remove(&super::key::fold(&key))
                {
                    record.id = Some(found.id);
                    record.key = None;
                }
            }
        }
        let mut values = planner
            .fields
            .to_canonical(side, &record.fields)
            .unwrap_or_default();
        // Only what the write carries: a field it does not name was not
        // written, so what both sides agree on for it must not change.
        values.retain(|name, _| {
            planner
                .fields
                .get(name)
                .and_then(|m| m.vendor_field(side))
                .is_some_and(|f| record.fields.contains_key(f))
        });
        if let (Some(key), Some(spec_name)) = (
            decided_key.as_ref(),
            Some(planner.fields.key().name.clone()),
        ) {
            if self.pipeline.upsert_key.is_none() || side == Side::Marketing {
                values.insert(spec_name, Value::String(super::key::fold(key)));
            }
        }
        let owner = self
            .pipeline
            .owner_field
            .as_ref()
            .and_then(|f| record.fields.get(f))
            .and_then(|v| v.as_str())
            .map(str::to_owned);
        let source_object = self.endpoint(side.other()).object.clone();
        Ok(Write {
            marketing_id: intent.marketing_id.clone(),
            handoff_owner: (side == Side::Crm && link.is_none()).then_some(owner),
            context: values.clone(),
            source: (
                side.other(),
                source_object,
                intent.marketing_id.clone(),
                record.fields.clone(),
            ),
            record,
            values,
            link,
            intent: Some(intent.id),
        })
    }
}

/// What retrying a dead letter did.
#[derive(Debug, Clone, PartialEq)]
pub enum RetryOutcome {
    /// The record went through; its dead letter is gone.
    Applied,
    /// Current state needs nothing done (already in sync, or no longer
    /// qualifies); its dead letter is gone.
    NothingToDo,
    /// The record no longer exists on its side; its dead letter is gone.
    Gone,
    /// It failed again; the dead letter stays, one more attempt counted.
    StillFailing(String),
}

impl Cycle<'_> {
    /// Re-applies one dead-lettered record against the current state of
    /// both tools: reads it again (by its key) and runs it through the same
    /// decisions and writes as a cycle, without moving any cursor.
    pub async fn retry(
        mut self,
        entry: &crate::state::DlqEntry,
    ) -> Result<RetryOutcome, CycleError> {
        self.pipeline.load_tags(self.store).await?;
        self.dlq_active = true;
        let side = entry.side;
        let endpoint = self.endpoint(side);
        let planner = &self.pipeline.planner;
        let p = self.pipeline.name.clone();
        let Some(key_field) = planner.fields.key().vendor_field(side).map(str::to_owned) else {
            return Ok(RetryOutcome::StillFailing(
                "the key field does not live on this side".into(),
            ));
        };
        let key = entry
            .fields
            .get(&key_field)
            .and_then(Value::as_str)
            .map(super::key::fold);
        let found = match key {
            Some(key) => endpoint
                .connector
                .lookup(
                    &endpoint.object,
                    &key_field,
                    &[key],
                    &planner.fields.vendor_fields(side),
                )
                .await
                .map_err(connector_err(side, endpoint))?,
            None => Vec::new(),
        };
        let record = found
            .iter()
            .find(|r| r.id == entry.record_id)
            .or(found.first())
            .cloned();
        let mut commit = Commit::new(p.clone());
        let Some(record) = record else {
            commit.remove_dead_letter(side, entry.record_id.clone());
            self.commit(&commit).await?;
            return Ok(RetryOutcome::Gone);
        };
        let before = self.report.counts;
        match side {
            Side::Marketing => {
                let mut position = self.store.round_robin(&p, "").await?;
                let writes = self
                    .decide_page(
                        std::slice::from_ref(&record),
                        &mut HashMap::new(),
                        &mut commit,
                        &mut position,
                    )
                    .await?;
                self.execute(Side::Crm, writes, &mut commit).await?;
                self.settle_duplicates(&mut commit);
                if self.pipeline.assignment.is_some() {
                    commit.set_round_robin("", position);
                }
            }
            Side::Crm => {
                let link = self.store.link(&p, Side::Crm, &record.id).await?;
                match self.pipeline.planner.crm_record(&record, link) {
                    Ok(Some(change)) => {
                        let feedback = HashMap::from([(change.link.marketing_id.clone(), change)]);
                        self.apply_feedback(feedback, None).await?;
                    }
                    Ok(None) => {}
                    Err(rejection) => self.dead_letter(
                        &mut commit,
                        rejection,
                        &endpoint.object,
                        record.fields.clone(),
                    ),
                }
            }
        }
        let failed_again = commit
            .dead_letters
            .iter()
            .find(|d| d.side == side && d.record_id == entry.record_id)
            .map(|d| d.reason.clone());
        let wrote = self.report.counts.written_crm + self.report.counts.written_marketing
            > before.written_crm + before.written_marketing;
        if failed_again.is_none() {
            commit
                .dead_letters_removed
                .retain(|(s, id)| !(*s == side && *id == entry.record_id));
            commit.remove_dead_letter(side, entry.record_id.clone());
        }
        self.commit(&commit).await?;
        Ok(match failed_again {
            Some(reason) => RetryOutcome::StillFailing(reason),
            None if wrote => RetryOutcome::Applied,
            None => RetryOutcome::NothingToDo,
        })
    }
}

/// How many pairs' pending CRM feedback a CRM pass holds before it carries
/// the conflict-free part to marketing.
const FEEDBACK_HELD_AT_MOST: usize = 2_000;

/// Splits pending feedback into what can be written now (fields the CRM
/// alone owns) and what must wait for the marketing pass (fields owned by
/// both, which a marketing change in this cycle may contest).
fn split_conflict_free(
    fields: &super::fields::FieldMap,
    feedback: HashMap<String, CrmChange>,
) -> (HashMap<String, CrmChange>, HashMap<String, CrmChange>) {
    let mut now = HashMap::new();
    let mut later = HashMap::new();
    for (id, change) in feedback {
        let (contested, free): (Canonical, Canonical) = change
            .values
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .partition(|(name, _)| {
                fields
                    .get(name)
                    .is_some_and(|m| matches!(m.owner, super::fields::FieldOwner::Both(_)))
            });
        if !free.is_empty() {
            now.insert(
                id.clone(),
                CrmChange {
                    values: free,
                    ..change.clone()
                },
            );
        }
        if !contested.is_empty() {
            later.insert(
                id,
                CrmChange {
                    values: contested,
                    ..change
                },
            );
        }
    }
    (now, later)
}

/// The External ID a handoff upserts on: stable per marketing record, so a
/// replayed create finds the record the first attempt made.
pub fn external_id(pipeline: &str, marketing_id: &str) -> String {
    format!("{pipeline}:{marketing_id}")
}
