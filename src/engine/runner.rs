//! The daemon loop: each pipeline in its own task on its own schedule,
//! supervised so a reload restarts only the pipelines whose config changed,
//! commanded from outside (run now, pause, resume), and stopping cleanly on
//! shutdown at a page boundary after the batch in flight is committed.
//!
//! - [`Supervisor`] owns the tasks ([`supervisor`]);
//! - each task runs the loop in `pipeline_loop.rs`: wait for the tick or a
//!   [`PipelineCommand`], run a cycle, report a [`PipelineEvent`];
//! - on stop, the cycle reads no new page ([`super::stop`]), so it ends at
//!   a page boundary with everything before committed.

mod pipeline_loop;
pub mod supervisor;

use std::sync::Arc;

use jiff::Timestamp;
use leadbridge_core::ConnectorError;
use tokio::sync::watch;

use super::stop::StopSignal;

use super::clock::Clock;
use super::cycle::{Cycle, CycleError, CycleReport};
use super::pipeline::Pipeline;
use super::schedule::Schedule;
use crate::state::{PipelineStatus, StateStore};

pub use supervisor::{ApplySummary, ConfigKey, Supervisor, UnknownPipeline};

/// A request to one pipeline from outside its schedule (the admin API's
/// buttons, the CLI): acted on between cycles, never mid-cycle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PipelineCommand {
    /// Run a cycle now (also when paused or halted), then keep the schedule.
    RunNow,
    /// Run no scheduled cycle until resumed.
    Pause,
    /// Back on schedule; a halted pipeline tries again at once.
    Resume,
}

/// What a pipeline task reports, so the daemon can keep its status line,
/// readiness and metrics current without polling the store.
#[derive(Debug, Clone)]
pub enum PipelineEvent {
    /// A cycle ended well.
    CycleFinished {
        /// The pipeline.
        pipeline: String,
        /// What it did.
        report: CycleReport,
    },
    /// A cycle failed; `after` says what the loop does about it.
    CycleFailed {
        /// The pipeline.
        pipeline: String,
        /// What failed.
        failure: CycleFailure,
        /// Retry at the next tick, wait for the quota, or halt.
        after: AfterFailure,
    },
    /// The pipeline was paused by a command.
    Paused {
        /// The pipeline.
        pipeline: String,
    },
    /// The pipeline was resumed by a command (or a reload).
    Resumed {
        /// The pipeline.
        pipeline: String,
    },
    /// The pipeline's task ended (shutdown, or a reload changed or removed it).
    Stopped {
        /// The pipeline.
        pipeline: String,
    },
}

/// A failed cycle as the rest of the daemon sees it: which connector
/// failed and how, typed, so nobody re-reads it from the message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CycleFailure {
    /// The error, as shown to people (no secret in it).
    pub message: String,
    /// The connector (config name) whose call failed; `None` when the state
    /// store did.
    pub connector: Option<String>,
    /// What kind of failure: the metrics' reason word (`retryable`,
    /// `unauthorized`, `quota`, `rejected`, `fatal`, `state`…).
    pub reason: &'static str,
}

impl From<&CycleError> for CycleFailure {
    fn from(e: &CycleError) -> Self {
        Self {
            message: e.to_string(),
            connector: match e {
                CycleError::Connector { connector, .. } => Some(connector.clone()),
                CycleError::State(_) | CycleError::Stopped => None,
            },
            reason: crate::metrics::failure_reason(e.connector_error()),
        }
    }
}

/// What the loop does after a failed cycle.
#[derive(Debug, Clone, PartialEq)]
pub enum AfterFailure {
    /// Try again at the next tick (passing failures).
    NextTick,
    /// Wait until the quota resets.
    WaitUntil(Timestamp),
    /// Stop this pipeline until a person acts (bad credentials, bad config).
    Halt,
}

/// How a failed cycle is handled, by what failed.
pub fn after_failure(err: &CycleError) -> AfterFailure {
    match err.connector_error() {
        Some(ConnectorError::Unauthorized { .. }) | Some(ConnectorError::Fatal { .. }) => {
            AfterFailure::Halt
        }
        Some(ConnectorError::QuotaExhausted {
            resets_at: Some(t), ..
        }) => AfterFailure::WaitUntil(*t),
        _ => AfterFailure::NextTick,
    }
}

/// Runs one cycle and records the pipeline's status.
pub async fn run_cycle(
    pipeline: &Pipeline,
    store: &dyn StateStore,
    clock: &dyn Clock,
    dry_run: bool,
) -> Result<CycleReport, CycleError> {
    run_cycle_until(pipeline, store, clock, dry_run, StopSignal::never()).await
}

/// [`run_cycle`], ending at a page boundary once `stop` is requested; a
/// cycle cut short so is not recorded as a failure: its pages were
/// committed and the next start goes on from there.
pub(crate) async fn run_cycle_until(
    pipeline: &Pipeline,
    store: &dyn StateStore,
    clock: &dyn Clock,
    dry_run: bool,
    stop: StopSignal,
) -> Result<CycleReport, CycleError> {
    let started = clock.now();
    let result = Cycle::new(pipeline, store, clock, dry_run)
        .with_stop(stop)
        .run()
        .await;
    if dry_run || matches!(result, Err(CycleError::Stopped)) {
        return result;
    }
    let mut status = store.status(&pipeline.name).await?.unwrap_or_default();
    status.last_cycle_started = Some(started);
    match &result {
        Ok(report) => {
            status.last_cycle_finished = Some(clock.now());
            status.last_cycle = report.counts;
            status.totals.add(&report.counts);
        }
        Err(e) => {
            status.last_error = Some(e.to_string());
            status.last_error_at = Some(clock.now());
        }
    }
    let mut commit = crate::state::Commit::new(pipeline.name.clone());
    commit.set_status(status);
    store.commit(&commit).await?;
    result
}

/// A pipeline with its schedule.
#[derive(Clone)]
pub struct Scheduled {
    /// The pipeline.
    pub pipeline: Pipeline,
    /// When it runs.
    pub schedule: Schedule,
}

/// Runs every pipeline on its schedule until `shutdown` turns true; each
/// loop finishes (and commits) the batch in flight before it returns. The
/// daemon uses [`Supervisor`] directly for reload and commands; this is
/// the plain form for callers that only need start and stop.
pub async fn run_scheduled(
    pipelines: Vec<Scheduled>,
    store: Arc<dyn StateStore>,
    clock: Arc<dyn Clock>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut supervisor = Supervisor::new(store, clock);
    supervisor.apply(
        pipelines
            .into_iter()
            .enumerate()
            .map(|(i, s)| (s, [i as u8; 32]))
            .collect(),
    );
    let _ = shutdown.wait_for(|s| *s).await;
    supervisor.shutdown().await;
}

/// The status of a pipeline, for callers that only hold the store.
pub async fn status(store: &dyn StateStore, pipeline: &str) -> Option<PipelineStatus> {
    store.status(pipeline).await.ok().flatten()
}
