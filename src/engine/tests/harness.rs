//! The unit-test harness of the engine: a [`MemoryWorld`] holding both
//! tools' records, a [`MemoryStore`] behind a recorder of every commit, a
//! clock shared by the world and the engine, and a pipeline built from a
//! config string exactly as the daemon builds one (registry, validation,
//! `engine::build`).
//!
//! Both connectors are wrapped in a [`Tap`] that keeps every batch the
//! engine sent, so a test asserts what was written (ids, keys, fields),
//! not only how many calls there were.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use jiff::Timestamp;
use leadbridge_core::http::UsageSnapshot;
use leadbridge_core::memory::{CallKind, MemoryFactory, MemoryWorld};
use leadbridge_core::sim::SimClock;
pub use leadbridge_core::sim::SimControl;
use leadbridge_core::{
    Activity, ActivityOutcome, ChangePage, ChangesRequest, Connector, ConnectorResult, Cursor,
    Fields, Limits, ObjectSchema, PageToken, Record, ToolUser, WriteBatch, WriteOutcome,
};
use serde_json::Value;

use crate::config::Config;
use crate::engine::build::{build, NoTokenHooks};
use crate::engine::clock::Clock;
use crate::engine::cycle::{Cycle, CycleError, CycleReport};
use crate::engine::pipeline::Pipeline;
use crate::state::{
    Commit, CursorEntry, DlqEntry, Duplicate, Event, EventKind, Intent, IntentId, Link,
    MemoryStore, OutcomeLink, PipelineCounts, PipelineStatus, Side, SlaLead, StateResult,
    StateStore,
};

/// The pipeline's name in every test config.
pub const PIPELINE: &str = "inbound";
/// The marketing object.
pub const CONTACTS: &str = "contacts";
/// The CRM object.
pub const LEADS: &str = "leads";

/// A Monday, 09:00 UTC: where every test's clock starts.
pub const START: &str = "2026-03-02T09:00:00Z";

/// The engine reads the world's clock, so record times and engine times agree.
#[derive(Clone)]
pub struct WorldClock(pub SimClock);

impl Clock for WorldClock {
    fn now(&self) -> Timestamp {
        self.0.now()
    }
}

/// What varies between the tests' pipelines.
#[derive(Debug, Clone)]
pub struct Options {
    /// Marketing's page size.
    pub page_size: usize,
    /// The CRM's write batch size.
    pub batch_size: usize,
    /// Creates upsert on an External ID (`LeadbridgeId`) instead of
    /// looking the email up first.
    pub upsert_key: bool,
    /// The conflict policy of `company` (owned by both).
    pub conflict: &'static str,
    /// Tables appended to the pipeline (`[pipelines.sla]`, `[pipelines.outcomes]`).
    pub extra: String,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            page_size: 10,
            batch_size: 5,
            upsert_key: false,
            conflict: "newest",
            extra: String::new(),
        }
    }
}

/// The config every test runs, with its options filled in.
pub fn config_text(o: &Options) -> String {
    let upsert = if o.upsert_key {
        r#", upsert_key = "LeadbridgeId""#
    } else {
        ""
    };
    format!(
        r#"[daemon]
state_dir = "state"

[connectors.marketing]
kind = "memory"
auth = {{ type = "static_token", token = "env:MEMORY_TOKEN" }}
page_size = {page}

[connectors.crm]
kind = "memory"
auth = {{ type = "static_token", token = "env:MEMORY_TOKEN" }}
batch_size = {batch}

[[pipelines]]
name = "{PIPELINE}"
schedule = "0 */5 * * * *"
marketing = {{ connector = "marketing", object = "{CONTACTS}" }}
crm = {{ connector = "crm", object = "{LEADS}", match_on = "email", owner_field = "OwnerId"{upsert} }}

[pipelines.fields]
email = {{ marketing = "email", crm = "Email", key = true }}
last_name = {{ marketing = "lastname", crm = "LastName", owner = "marketing" }}
company = {{ marketing = "company", crm = "Company", owner = "both", conflict = "{conflict}" }}
score = {{ marketing = "score", crm = "Score", owner = "marketing", type = "number" }}
lifecycle = {{ marketing = "lifecycle", owner = "marketing" }}
status = {{ marketing = "status", crm = "Status", owner = "crm" }}
owner = {{ crm = "OwnerId", owner = "crm" }}

[pipelines.handoff]
when = "score >= 50"
require = ["last_name"]
assign = {{ strategy = "round_robin", owners = ["u1", "u2"] }}
{extra}
"#,
        page = o.page_size,
        batch = o.batch_size,
        conflict = o.conflict,
        extra = o.extra,
    )
}

/// A record's fields from a JSON object.
pub fn fields(value: Value) -> Fields {
    match value {
        Value::Object(f) => f,
        other => panic!("not an object: {other}"),
    }
}

/// A marketing contact: `score` decides the handoff.
pub fn contact(email: &str, score: u32) -> Fields {
    fields(serde_json::json!({
        "email": email,
        "lastname": "Kato",
        "company": "Acme",
        "score": score,
    }))
}

/// A connector that passes every call through and keeps the write batches.
///
/// With `upserts_on`, it plays a CRM whose only unique field is that one:
/// a batch keyed on another field (the email, which a CRM does not hold
/// unique) creates its keyed records plainly, as a real create would,
/// instead of upserting as the memory connector does on any key.
pub struct Tap {
    inner: Arc<dyn Connector>,
    sent: Arc<Mutex<Vec<WriteBatch>>>,
    upserts_on: Option<Option<String>>,
}

#[async_trait]
impl Connector for Tap {
    fn kind(&self) -> &'static str {
        self.inner.kind()
    }

    fn limits(&self) -> Limits {
        self.inner.limits()
    }

    async fn describe(&self, object: &str) -> ConnectorResult<ObjectSchema> {
        self.inner.describe(object).await
    }

    async fn changes(
        &self,
        request: &ChangesRequest,
        page: Option<&PageToken>,
    ) -> ConnectorResult<ChangePage> {
        self.inner.changes(request, page).await
    }

    async fn lookup(
        &self,
        object: &str,
        key_field: &str,
        values: &[String],
        fields: &[String],
    ) -> ConnectorResult<Vec<Record>> {
        self.inner.lookup(object, key_field, values, fields).await
    }

    async fn write(&self, batch: &WriteBatch) -> ConnectorResult<Vec<WriteOutcome>> {
        self.sent.lock().unwrap().push(batch.clone());
        match &self.upserts_on {
            Some(unique) if batch.key_field.is_some() && batch.key_field != *unique => {
                let key_field = batch.key_field.clone().unwrap();
                let mut plain = batch.clone();
                plain.key_field = None;
                for r in &mut plain.records {
                    if let (None, Some(key)) = (&r.id, r.key.take()) {
                        r.fields.insert(key_field.clone(), Value::String(key));
                    }
                }
                self.inner.write(&plain).await
            }
            _ => self.inner.write(batch).await,
        }
    }

    async fn create_activity(&self, activity: &Activity) -> ConnectorResult<String> {
        self.inner.create_activity(activity).await
    }

    async fn create_activities(
        &self,
        activities: &[Activity],
    ) -> ConnectorResult<Vec<ActivityOutcome>> {
        self.inner.create_activities(activities).await
    }

    async fn users(&self) -> ConnectorResult<Option<Vec<ToolUser>>> {
        self.inner.users().await
    }

    fn usage(&self) -> UsageSnapshot {
        self.inner.usage()
    }
}

/// A [`MemoryStore`] that keeps a copy of every commit it applied.
#[derive(Default)]
pub struct RecordingStore {
    inner: MemoryStore,
    commits: Mutex<Vec<Commit>>,
}

impl RecordingStore {
    /// Every commit applied so far, in order.
    pub fn commits(&self) -> Vec<Commit> {
        self.commits.lock().unwrap().clone()
    }

    /// Forgets the commits seen so far.
    pub fn clear_commits(&self) {
        self.commits.lock().unwrap().clear();
    }
}

#[async_trait]
impl StateStore for RecordingStore {
    async fn link(&self, pipeline: &str, side: Side, id: &str) -> StateResult<Option<Link>> {
        self.inner.link(pipeline, side, id).await
    }
    async fn links(
        &self,
        pipeline: &str,
        side: Side,
        ids: &[String],
    ) -> StateResult<HashMap<String, Link>> {
        self.inner.links(pipeline, side, ids).await
    }
    async fn scan_links(
        &self,
        pipeline: &str,
        after: Option<&str>,
        limit: usize,
    ) -> StateResult<Vec<Link>> {
        self.inner.scan_links(pipeline, after, limit).await
    }
    async fn cursor(
        &self,
        pipeline: &str,
        side: Side,
        object: &str,
    ) -> StateResult<Option<Cursor>> {
        self.inner.cursor(pipeline, side, object).await
    }
    async fn cursors(&self, pipeline: &str) -> StateResult<Vec<CursorEntry>> {
        self.inner.cursors(pipeline).await
    }
    async fn new_intent_id(&self) -> StateResult<IntentId> {
        self.inner.new_intent_id().await
    }
    async fn record_intents(&self, intents: &[Intent]) -> StateResult<()> {
        self.inner.record_intents(intents).await
    }
    async fn pending_intents(&self, pipeline: &str) -> StateResult<Vec<Intent>> {
        self.inner.pending_intents(pipeline).await
    }
    async fn dead_letter(
        &self,
        pipeline: &str,
        side: Side,
        record_id: &str,
    ) -> StateResult<Option<DlqEntry>> {
        self.inner.dead_letter(pipeline, side, record_id).await
    }
    async fn dead_letters(&self, pipeline: &str) -> StateResult<Vec<DlqEntry>> {
        self.inner.dead_letters(pipeline).await
    }
    async fn round_robin(&self, pipeline: &str, group: &str) -> StateResult<u64> {
        self.inner.round_robin(pipeline, group).await
    }
    async fn round_robins(&self, pipeline: &str) -> StateResult<BTreeMap<String, u64>> {
        self.inner.round_robins(pipeline).await
    }
    async fn status(&self, pipeline: &str) -> StateResult<Option<PipelineStatus>> {
        self.inner.status(pipeline).await
    }
    async fn counts(&self, pipeline: &str) -> StateResult<PipelineCounts> {
        self.inner.counts(pipeline).await
    }
    async fn events(
        &self,
        pipeline: &str,
        from: Timestamp,
        until: Timestamp,
    ) -> StateResult<Vec<Event>> {
        self.inner.events(pipeline, from, until).await
    }
    async fn duplicates(
        &self,
        pipeline: &str,
        ids: &[String],
    ) -> StateResult<HashMap<String, Duplicate>> {
        self.inner.duplicates(pipeline, ids).await
    }
    async fn duplicates_of(&self, pipeline: &str, survivor: &str) -> StateResult<Vec<Duplicate>> {
        self.inner.duplicates_of(pipeline, survivor).await
    }
    async fn scan_duplicates(&self, pipeline: &str, limit: usize) -> StateResult<Vec<Duplicate>> {
        self.inner.scan_duplicates(pipeline, limit).await
    }
    async fn pipelines(&self) -> StateResult<Vec<String>> {
        self.inner.pipelines().await
    }
    async fn sla_lead(&self, pipeline: &str, marketing_id: &str) -> StateResult<Option<SlaLead>> {
        self.inner.sla_lead(pipeline, marketing_id).await
    }
    async fn due_sla_leads(
        &self,
        pipeline: &str,
        until: Timestamp,
        limit: usize,
    ) -> StateResult<Vec<SlaLead>> {
        self.inner.due_sla_leads(pipeline, until, limit).await
    }
    async fn open_sla_timers(&self, pipeline: &str) -> StateResult<u64> {
        self.inner.open_sla_timers(pipeline).await
    }
    async fn outcome(&self, pipeline: &str, outcome_id: &str) -> StateResult<Option<OutcomeLink>> {
        self.inner.outcome(pipeline, outcome_id).await
    }
    async fn field_tags(
        &self,
        pipeline: &str,
    ) -> StateResult<std::collections::BTreeMap<String, u16>> {
        self.inner.field_tags(pipeline).await
    }
    async fn outcomes(
        &self,
        pipeline: &str,
        ids: &[String],
    ) -> StateResult<HashMap<String, OutcomeLink>> {
        self.inner.outcomes(pipeline, ids).await
    }
    async fn commit(&self, commit: &Commit) -> StateResult<()> {
        self.inner.commit(commit).await?;
        self.commits.lock().unwrap().push(commit.clone());
        Ok(())
    }
}

/// A world, a store, a clock and a pipeline over them.
pub struct Harness {
    /// Both tools' records, the fault script and the call log.
    pub world: Arc<MemoryWorld>,
    /// The engine's state.
    pub store: Arc<RecordingStore>,
    /// The clock the world and the engine share.
    pub clock: WorldClock,
    /// The pipeline, built from the config.
    pub pipeline: Pipeline,
    crm_sent: Arc<Mutex<Vec<WriteBatch>>>,
    marketing_sent: Arc<Mutex<Vec<WriteBatch>>>,
    options: Options,
    plain_creates: bool,
}

impl Harness {
    /// A fresh world (clock frozen at [`START`]), an empty store, and the
    /// pipeline `options` describe.
    pub fn new(options: Options) -> Self {
        let world = MemoryWorld::new();
        world.clock().freeze_at(START.parse().unwrap());
        Self::over(world, Arc::default(), options, false)
    }

    /// The same, with a CRM that upserts only on the External ID: a create
    /// keyed on the email creates again (see [`Tap`]).
    pub fn with_plain_creates(options: Options) -> Self {
        let world = MemoryWorld::new();
        world.clock().freeze_at(START.parse().unwrap());
        Self::over(world, Arc::default(), options, true)
    }

    fn over(
        world: Arc<MemoryWorld>,
        store: Arc<RecordingStore>,
        options: Options,
        plain_creates: bool,
    ) -> Self {
        let registry =
            crate::registry::builtin().with(Arc::new(MemoryFactory::new("memory", world.clone())));
        let secrets = BTreeMap::from([("MEMORY_TOKEN".to_string(), "x".to_string())]);
        let text = config_text(&options);
        let config = Config::parse_with(&text, Path::new("test.toml"), &secrets, &registry)
            .unwrap_or_else(|e| panic!("test config invalid:\n{e}\n{text}"));
        let mut built = build(&config, &NoTokenHooks).expect("the config builds");
        let mut pipeline = built.pipelines.remove(0).pipeline;
        let crm_sent = Arc::new(Mutex::new(Vec::new()));
        let marketing_sent = Arc::new(Mutex::new(Vec::new()));
        let unique = plain_creates.then(|| options.upsert_key.then(|| "LeadbridgeId".to_string()));
        pipeline.crm.connector = Arc::new(Tap {
            inner: pipeline.crm.connector.clone(),
            sent: crm_sent.clone(),
            upserts_on: unique,
        });
        pipeline.marketing.connector = Arc::new(Tap {
            inner: pipeline.marketing.connector.clone(),
            sent: marketing_sent.clone(),
            upserts_on: None,
        });
        Self {
            clock: WorldClock(world.clock().clone()),
            world,
            store,
            pipeline,
            crm_sent,
            marketing_sent,
            options,
            plain_creates,
        }
    }

    /// The daemon restarted: a new pipeline (new connectors, nothing held in
    /// memory) over the same world and state store.
    pub fn restart(self) -> Self {
        Self::over(self.world, self.store, self.options, self.plain_creates)
    }

    /// Runs one cycle.
    pub async fn cycle(&self) -> Result<CycleReport, CycleError> {
        Cycle::new(&self.pipeline, &*self.store, &self.clock, false)
            .run()
            .await
    }

    /// Runs one cycle that must succeed.
    pub async fn ok(&self) -> CycleReport {
        self.cycle().await.expect("the cycle runs")
    }

    /// Inserts `records` as contacts, hands them off and lets the next
    /// cycles re-read what the handoff wrote; returns the contacts' ids.
    pub async fn handed_off(&self, records: Vec<Fields>) -> Vec<String> {
        let ids = self.contacts(records);
        self.advance(1);
        self.ok().await;
        self.idle_cycles("after the handoff").await;
        ids
    }

    /// Two cycles in which nothing happened in either tool, placed so that
    /// the second re-reads, in its overlap window, every record changed
    /// before the first (the first commits `now - overlap` as its
    /// checkpoint); each must write nothing and commit no effect. Returns
    /// their reports.
    pub async fn idle_cycles(&self, what: &str) -> [CycleReport; 2] {
        let mut reports = Vec::new();
        for step in [100, 10] {
            self.advance(step);
            self.clear_log();
            let report = self.ok().await;
            self.assert_quiet(what);
            assert_eq!(
                (report.counts.written_crm, report.counts.written_marketing),
                (0, 0),
                "{what}: {report:?}"
            );
            reports.push(report);
        }
        [reports.remove(0), reports.remove(0)]
    }

    /// Moves the shared clock forward.
    pub fn advance(&self, secs: u64) {
        self.world.clock().advance(Duration::from_secs(secs));
    }

    /// Sets the shared clock.
    pub fn set_time(&self, at: Timestamp) {
        self.world.clock().freeze_at(at);
    }

    /// Inserts marketing contacts; returns their ids in order.
    pub fn contacts(&self, records: Vec<Fields>) -> Vec<String> {
        self.world.insert(CONTACTS, records).unwrap()
    }

    /// Edits a record as a person in the tool would.
    pub fn edit(&self, object: &str, id: &str, changes: Value) {
        self.world.update(object, id, fields(changes)).unwrap();
    }

    /// A record as it stands.
    pub fn get(&self, object: &str, id: &str) -> Record {
        self.world
            .get(object, id)
            .unwrap_or_else(|| panic!("no {object} {id}"))
    }

    /// The CRM leads with this email.
    pub fn leads_with(&self, email: &str) -> Vec<Record> {
        self.world.find(LEADS, "Email", email)
    }

    /// The stored link of a marketing record.
    pub async fn link(&self, marketing_id: &str) -> Option<Link> {
        self.store
            .link(PIPELINE, Side::Marketing, marketing_id)
            .await
            .unwrap()
    }

    /// The stored cursor of a side's object.
    pub async fn cursor(&self, side: Side, object: &str) -> Option<Cursor> {
        self.store.cursor(PIPELINE, side, object).await.unwrap()
    }

    /// The pending intents.
    pub async fn pending(&self) -> Vec<Intent> {
        self.store.pending_intents(PIPELINE).await.unwrap()
    }

    /// The funnel events of a kind, in time order.
    pub async fn events(&self, kind: EventKind) -> Vec<Event> {
        self.store
            .events(PIPELINE, Timestamp::MIN, Timestamp::MAX)
            .await
            .unwrap()
            .into_iter()
            .filter(|e| e.kind == kind)
            .collect()
    }

    /// Every funnel event, in time order.
    pub async fn all_events(&self) -> Vec<Event> {
        self.store
            .events(PIPELINE, Timestamp::MIN, Timestamp::MAX)
            .await
            .unwrap()
    }

    /// Sizes of the write calls on `object` the log holds, in order.
    pub fn write_sizes(&self, object: &str) -> Vec<usize> {
        self.calls(CallKind::Write, object)
    }

    /// Sizes of the calls of `kind` on `object` the log holds, in order.
    pub fn calls(&self, kind: CallKind, object: &str) -> Vec<usize> {
        self.world
            .calls()
            .into_iter()
            .filter(|c| c.kind == kind && c.object == object)
            .map(|c| c.size)
            .collect()
    }

    /// Forgets the call log, the batches sent and the commits seen.
    pub fn clear_log(&self) {
        self.world.clear_calls();
        self.crm_sent.lock().unwrap().clear();
        self.marketing_sent.lock().unwrap().clear();
        self.store.clear_commits();
    }

    /// The batches the engine sent to the CRM connector.
    pub fn crm_sent(&self) -> Vec<WriteBatch> {
        self.crm_sent.lock().unwrap().clone()
    }

    /// The batches the engine sent to the marketing connector.
    pub fn marketing_sent(&self) -> Vec<WriteBatch> {
        self.marketing_sent.lock().unwrap().clone()
    }

    /// The cursors moved by the commits seen, with the side and object.
    pub fn committed_cursors(&self, side: Side, object: &str) -> Vec<Cursor> {
        self.store
            .commits()
            .into_iter()
            .flat_map(|c| c.cursors)
            .filter(|(s, o, _)| *s == side && o == object)
            .filter_map(|(_, _, c)| c)
            .collect()
    }

    /// No write, activity or commit of a link, intent or dead letter since
    /// the log was cleared: what an idle cycle must leave behind.
    pub fn assert_quiet(&self, what: &str) {
        let writes: Vec<_> = self
            .world
            .calls()
            .into_iter()
            .filter(|c| matches!(c.kind, CallKind::Write | CallKind::Activity))
            .collect();
        assert!(writes.is_empty(), "{what}: remote writes {writes:?}");
        for c in self.store.commits() {
            assert!(
                c.links.is_empty()
                    && c.dead_letters.is_empty()
                    && c.events.is_empty()
                    && c.intents_resolved.is_empty()
                    && c.outcomes.is_empty()
                    && c.sla.is_empty(),
                "{what}: commit with effects {c:?}"
            );
        }
    }
}
