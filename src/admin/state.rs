//! [`AdminState`]: everything the request handlers read, and the methods
//! the daemon calls to keep it current.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, RwLock};

use leadbridge_core::Connector;
use secrecy::SecretString;
use tokio::sync::mpsc;

use super::commands::{self, AdminCommand, SendError};
use super::health::{ConnectorAuth, Health, PipelineState};
use super::webhook::{SeenEvents, WebhookEndpoint};
use crate::engine::clock::Clock;
use crate::engine::cycle::{CycleError, CycleReport};
use crate::engine::runner::{after_failure, AfterFailure, CycleFailure, PipelineEvent, Scheduled};
use crate::state::StateStore;
use jiff::Timestamp;

/// What [`AdminState::new`] is built from (a config struct rather than a
/// long argument list).
pub struct AdminParts {
    /// The daemon's state store (read for `/status`, written by DLQ drop
    /// and resync).
    pub store: Arc<dyn StateStore>,
    /// The daemon's clock (times on the page, webhook freshness).
    pub clock: Arc<dyn Clock>,
    /// The connectors by config name (their request counters).
    pub connectors: BTreeMap<String, Arc<dyn Connector>>,
    /// The pipelines with their schedules, in config order.
    pub pipelines: Vec<Scheduled>,
    /// Where run-now, pause and resume go (see the module docs).
    pub commands: mpsc::Sender<AdminCommand>,
    /// The bearer token POST actions require; `None` refuses them all.
    pub admin_token: Option<SecretString>,
    /// The connectors that verify pushes (`POST /webhooks/<kind>`).
    pub webhooks: Vec<WebhookEndpoint>,
}

/// The pipelines and connectors currently configured; replaced whole on
/// reload.
pub(crate) struct Topology {
    pub(crate) connectors: BTreeMap<String, Arc<dyn Connector>>,
    pub(crate) pipelines: Vec<Scheduled>,
    pub(crate) webhooks: Vec<WebhookEndpoint>,
}

impl Topology {
    pub(crate) fn pipeline(&self, name: &str) -> Option<&Scheduled> {
        self.pipelines.iter().find(|s| s.pipeline.name == name)
    }
}

pub(crate) struct Inner {
    pub(crate) store: Arc<dyn StateStore>,
    pub(crate) clock: Arc<dyn Clock>,
    topology: RwLock<Arc<Topology>>,
    commands: mpsc::Sender<AdminCommand>,
    pub(crate) health: Health,
    pub(crate) admin_token: Option<SecretString>,
    pub(crate) seen_events: Mutex<SeenEvents>,
    /// When this state was made: a cycle finished since then proves its
    /// connectors even if the daemon forwards no reports.
    pub(crate) started_at: Timestamp,
    /// Pipelines whose handoff rule a reload changed, by name.
    rule_changes: Mutex<BTreeMap<String, RuleChanged>>,
}

/// A reload changed a pipeline's handoff rule (its condition, required
/// fields, or whether it hands off at all). Contacts the new rule would
/// qualify are handed off only when they next change in marketing (the
/// marketing pass reads changes since its cursor), or once
/// `leadbridge resync --only-unlinked` has the pass read marketing again
/// from the beginning: the page and the log say so.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RuleChanged {
    /// When the reload was applied.
    pub at: Timestamp,
    /// The rule before (`None`: no condition; `"(no handoff)"` when the
    /// pipeline handed nothing off).
    pub before: String,
    /// The rule now.
    pub now: String,
    /// What to do about it, in words.
    pub advice: String,
}

/// A pipeline's handoff rule in words, to compare and show.
fn handoff_text(s: &Scheduled) -> String {
    let h = &s.pipeline.planner.handoff;
    if !h.enabled {
        return "(no handoff)".to_owned();
    }
    let when = h.when.as_ref().map_or("(any lead)", |r| r.source());
    if h.require.is_empty() {
        when.to_owned()
    } else {
        format!("{when}; require {}", h.require.join(", "))
    }
}

/// What ops should know after `pipeline`'s rule changed.
pub fn rule_change_advice(pipeline: &str) -> String {
    format!(
        "the handoff rule changed: contacts it now qualifies are handed off only when they next change in marketing, or after `leadbridge resync --only-unlinked --pipeline {pipeline}` (re-reads marketing from the beginning; linked records cause no writes)"
    )
}

/// The admin server's shared state: cheap to clone (one `Arc`), given to
/// [`serve`](super::serve); the daemon keeps a clone to report what its
/// pipelines do ([`AdminState::observe_cycle`], [`AdminState::observe_failure`],
/// [`AdminState::observe_paused`]) and to swap the pipelines on reload
/// ([`AdminState::set_topology`]).
#[derive(Clone)]
pub struct AdminState {
    pub(crate) inner: Arc<Inner>,
}

impl AdminState {
    /// The state from its parts.
    pub fn new(parts: AdminParts) -> Self {
        Self {
            inner: Arc::new(Inner {
                store: parts.store,
                clock: parts.clock.clone(),
                topology: RwLock::new(Arc::new(Topology {
                    connectors: parts.connectors,
                    pipelines: parts.pipelines,
                    webhooks: parts.webhooks,
                })),
                commands: parts.commands,
                health: Health::default(),
                admin_token: parts.admin_token,
                seen_events: Mutex::new(SeenEvents::default()),
                started_at: parts.clock.now(),
                rule_changes: Mutex::new(BTreeMap::new()),
            }),
        }
    }

    /// Replaces the pipelines and connectors after a reload. What the
    /// daemon reported about pipelines that kept their name is kept.
    pub fn set_topology(
        &self,
        connectors: BTreeMap<String, Arc<dyn Connector>>,
        pipelines: Vec<Scheduled>,
        webhooks: Vec<WebhookEndpoint>,
    ) {
        self.note_rule_changes(&self.topology().pipelines, &pipelines);
        let topology = Arc::new(Topology {
            connectors,
            pipelines,
            webhooks,
        });
        *self
            .inner
            .topology
            .write()
            .unwrap_or_else(|e| e.into_inner()) = topology;
        self.register_metrics();
    }

    /// Compares the handoff rules of pipelines that kept their name; logs
    /// and keeps a notice for each one that changed.
    fn note_rule_changes(&self, old: &[Scheduled], new: &[Scheduled]) {
        let now = self.inner.clock.now();
        let mut notes = self
            .inner
            .rule_changes
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        for s in new {
            let name = &s.pipeline.name;
            let Some(before) = old.iter().find(|o| &o.pipeline.name == name) else {
                continue;
            };
            let (before, after) = (handoff_text(before), handoff_text(s));
            if before == after {
                continue;
            }
            let advice = rule_change_advice(name);
            tracing::warn!(pipeline = %name, before = %before, now = %after, "{advice}");
            notes.insert(
                name.clone(),
                RuleChanged {
                    at: now,
                    before,
                    now: after,
                    advice,
                },
            );
        }
        notes.retain(|name, _| new.iter().any(|s| &s.pipeline.name == name));
    }

    /// The notice of a reload that changed `pipeline`'s handoff rule.
    pub fn rule_changed(&self, pipeline: &str) -> Option<RuleChanged> {
        self.inner
            .rule_changes
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(pipeline)
            .cloned()
    }

    /// Forgets the notice once a resync re-reads the pipeline.
    pub fn clear_rule_changed(&self, pipeline: &str) {
        self.inner
            .rule_changes
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(pipeline);
    }

    /// Registers every series of the current pipelines, connectors and
    /// webhook sources at zero (see [`crate::metrics::register`]); a no-op
    /// until the admin server has installed the recorder.
    pub fn register_metrics(&self) {
        let t = self.topology();
        let pipelines: Vec<String> = t
            .pipelines
            .iter()
            .map(|s| s.pipeline.name.clone())
            .collect();
        let connectors: Vec<String> = t.connectors.keys().cloned().collect();
        let mut sources: Vec<&'static str> = t.webhooks.iter().map(|w| w.kind).collect();
        sources.sort_unstable();
        sources.dedup();
        crate::metrics::register(&pipelines, &connectors, &sources);
    }

    pub(crate) fn topology(&self) -> Arc<Topology> {
        self.inner
            .topology
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Reports what a pipeline task said (the daemon forwards every
    /// [`PipelineEvent`] from `Supervisor::next_event`).
    pub fn observe(&self, event: &PipelineEvent) {
        match event {
            PipelineEvent::CycleFinished { pipeline, .. } => self.observe_finished(pipeline),
            PipelineEvent::CycleFailed {
                pipeline,
                failure,
                after,
            } => self.observe_failure(pipeline, failure, *after == AfterFailure::Halt),
            PipelineEvent::Paused { pipeline } => self.observe_paused(pipeline, true),
            PipelineEvent::Resumed { pipeline } => self.observe_paused(pipeline, false),
            PipelineEvent::Stopped { .. } => {}
        }
    }

    /// Reports a cycle's outcome (the daemon calls this after every
    /// scheduled or requested cycle; `leadbridge run --once` may too). A
    /// cycle that stopped at a page boundary is neither.
    pub fn observe_cycle(&self, pipeline: &str, result: &Result<CycleReport, CycleError>) {
        match result {
            Ok(_) => self.observe_finished(pipeline),
            Err(CycleError::Stopped) => {}
            Err(e) => {
                let halted = after_failure(e) == AfterFailure::Halt;
                self.observe_failure(pipeline, &CycleFailure::from(e), halted);
            }
        }
    }

    /// Reports a finished cycle, for daemons that forward events rather
    /// than results.
    pub fn observe_finished(&self, pipeline: &str) {
        let topology = self.topology();
        let connectors: Vec<&str> = topology
            .pipeline(pipeline)
            .map(|s| {
                vec![
                    s.pipeline.marketing.connector_name.as_str(),
                    s.pipeline.crm.connector_name.as_str(),
                ]
            })
            .unwrap_or_default();
        self.inner
            .health
            .finished(pipeline, &connectors, self.inner.clock.now());
    }

    /// Reports a failed cycle by its text (as `CycleError` prints it, with
    /// no secret in it) and whether the loop halted the pipeline.
    pub fn observe_failure(&self, pipeline: &str, failure: &CycleFailure, halted: bool) {
        self.record_failure(
            pipeline,
            &failure.message,
            failure.connector.as_deref(),
            halted,
        );
    }

    fn record_failure(&self, pipeline: &str, error: &str, connector: Option<&str>, halted: bool) {
        self.inner.health.failed(pipeline, error, connector, halted);
        let paused = self.pipeline_state(pipeline).0 == PipelineState::Paused;
        crate::metrics::record_pipeline_state(pipeline, halted, paused);
    }

    /// Reports that the loop paused or resumed a pipeline.
    pub fn observe_paused(&self, pipeline: &str, paused: bool) {
        self.inner.health.set_paused(pipeline, paused);
    }

    pub(crate) fn pipeline_state(&self, pipeline: &str) -> (PipelineState, Option<String>) {
        self.inner.health.pipeline(pipeline)
    }

    pub(crate) fn connector_auth(&self, name: &str) -> ConnectorAuth {
        self.inner.health.connector(name)
    }

    /// Queues a command for the daemon.
    pub(crate) fn send(&self, command: AdminCommand) -> Result<(), SendError> {
        commands::send(&self.inner.commands, command)
    }
}
