//! The daemon loop: each pipeline in its own task on its own schedule,
//! stopping cleanly on shutdown after the batch in flight is committed.

use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;
use leadbridge_core::ConnectorError;
use tokio::sync::watch;
use tokio::task::JoinSet;
use tracing::{error, info, warn};

use super::clock::Clock;
use super::cycle::{Cycle, CycleError, CycleReport};
use super::pipeline::Pipeline;
use super::schedule::Schedule;
use crate::state::{PipelineStatus, StateStore};

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
    let started = clock.now();
    let result = Cycle::new(pipeline, store, clock, dry_run).run().await;
    if dry_run {
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
/// loop finishes (and commits) the cycle in flight before it returns.
pub async fn run_scheduled(
    pipelines: Vec<Scheduled>,
    store: Arc<dyn StateStore>,
    clock: Arc<dyn Clock>,
    shutdown: watch::Receiver<bool>,
) {
    let mut tasks = JoinSet::new();
    for scheduled in pipelines {
        let store = store.clone();
        let clock = clock.clone();
        let shutdown = shutdown.clone();
        tasks.spawn(pipeline_loop(scheduled, store, clock, shutdown));
    }
    while let Some(joined) = tasks.join_next().await {
        if let Err(e) = joined {
            error!(error = %e, "a pipeline task failed");
        }
    }
}

async fn sleep_until(
    at: Timestamp,
    clock: &dyn Clock,
    shutdown: &mut watch::Receiver<bool>,
) -> bool {
    let wait = at.duration_since(clock.now());
    let wait = Duration::try_from(wait).unwrap_or(Duration::ZERO);
    tokio::select! {
        _ = tokio::time::sleep(wait) => true,
        _ = shutdown.wait_for(|s| *s) => false,
    }
}

async fn pipeline_loop(
    scheduled: Scheduled,
    store: Arc<dyn StateStore>,
    clock: Arc<dyn Clock>,
    mut shutdown: watch::Receiver<bool>,
) {
    let Scheduled { pipeline, schedule } = scheduled;
    let name = pipeline.name.clone();
    // The first cycle runs at start, so a restart resumes at once.
    let mut due = clock.now();
    loop {
        if *shutdown.borrow() {
            break;
        }
        // The cycle itself is not raced with shutdown: a stop lets the
        // page in flight commit (the grace period bounds the wait).
        let outcome = run_cycle(&pipeline, &*store, &*clock, false).await;
        let now = clock.now();
        let next = match &outcome {
            Ok(_) => schedule.next_run(due, now),
            Err(e) => match after_failure(e) {
                AfterFailure::NextTick => {
                    warn!(pipeline = %name, error = %e, "cycle failed; retrying at the next tick");
                    schedule.next_run(due, now)
                }
                AfterFailure::WaitUntil(t) => {
                    warn!(pipeline = %name, error = %e, resumes_at = %t, "API quota exhausted; pausing the pipeline");
                    Some(t.max(now))
                }
                AfterFailure::Halt => {
                    error!(pipeline = %name, error = %e, "pipeline halted: fix the credentials or config, then reload");
                    None
                }
            },
        };
        let Some(next) = next else { break };
        due = next;
        if !sleep_until(next, &*clock, &mut shutdown).await {
            break;
        }
    }
    info!(pipeline = %name, "pipeline stopped");
}

/// The status of a pipeline, for callers that only hold the store.
pub async fn status(store: &dyn StateStore, pipeline: &str) -> Option<PipelineStatus> {
    store.status(pipeline).await.ok().flatten()
}
