//! One pipeline's loop: wait for the next tick (or a command), run one
//! cycle, report what happened, repeat until told to stop.

use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;
use tokio::sync::{mpsc, watch};
use tracing::{error, info, warn};

use super::{
    after_failure, run_cycle_until, AfterFailure, CycleFailure, PipelineCommand, PipelineEvent,
    Scheduled,
};
use crate::engine::clock::Clock;
use crate::engine::cycle::CycleError;
use crate::engine::stop::StopSignal;
use crate::state::StateStore;

/// What one pipeline task is given.
pub(super) struct LoopParts {
    pub(super) scheduled: Scheduled,
    pub(super) store: Arc<dyn StateStore>,
    pub(super) clock: Arc<dyn Clock>,
    /// Turns true when this pipeline must stop (shutdown, or a reload
    /// that changed or removed it).
    pub(super) stop: watch::Receiver<bool>,
    pub(super) commands: mpsc::UnboundedReceiver<PipelineCommand>,
    pub(super) events: mpsc::UnboundedSender<PipelineEvent>,
}

/// Why the loop woke up.
enum Wake {
    Tick,
    RunNow,
    Stop,
}

/// Runs until `stop`. A cycle in flight is never dropped: on stop it ends
/// at the next page boundary (see [`crate::engine::stop`]) and commits first.
pub(super) async fn pipeline_loop(parts: LoopParts) {
    let LoopParts {
        scheduled,
        store,
        clock,
        mut stop,
        mut commands,
        events,
    } = parts;
    let Scheduled { pipeline, schedule } = scheduled;
    let name = pipeline.name.clone();
    // The first cycle runs at start, so a restart resumes at once.
    let mut due = clock.now();
    let mut next: Option<Timestamp> = Some(due);
    let mut paused = false;
    let mut commands_open = true;
    loop {
        if *stop.borrow() {
            break;
        }
        let wait = next.filter(|_| !paused).map(|at| {
            let d = at.duration_since(clock.now());
            Duration::try_from(d).unwrap_or(Duration::ZERO)
        });
        let wake = tokio::select! {
            _ = async { match wait { Some(d) => tokio::time::sleep(d).await, None => std::future::pending().await } } => Wake::Tick,
            cmd = commands.recv(), if commands_open => match cmd {
                Some(PipelineCommand::RunNow) => Wake::RunNow,
                Some(PipelineCommand::Pause) => {
                    paused = true;
                    info!(pipeline = %name, "pipeline paused");
                    let _ = events.send(PipelineEvent::Paused { pipeline: name.clone() });
                    continue;
                }
                Some(PipelineCommand::Resume) => {
                    let was_halted = next.is_none();
                    if paused || was_halted {
                        info!(pipeline = %name, "pipeline resumed");
                    }
                    paused = false;
                    if was_halted {
                        next = Some(clock.now());
                    }
                    let _ = events.send(PipelineEvent::Resumed { pipeline: name.clone() });
                    continue;
                }
                None => {
                    commands_open = false;
                    continue;
                }
            },
            _ = stop.wait_for(|s| *s) => Wake::Stop,
        };
        match wake {
            Wake::Stop => break,
            Wake::Tick => {}
            Wake::RunNow => {
                info!(pipeline = %name, "cycle requested");
                due = clock.now();
            }
        }
        let outcome = run_cycle_until(
            &pipeline,
            &*store,
            &*clock,
            false,
            StopSignal::new(stop.clone()),
        )
        .await;
        let now = clock.now();
        match outcome {
            Ok(report) => {
                let _ = events.send(PipelineEvent::CycleFinished {
                    pipeline: name.clone(),
                    report,
                });
                next = schedule.next_run(due, now);
            }
            Err(CycleError::Stopped) => {
                info!(pipeline = %name, "cycle ended at a page boundary: stopping");
                break;
            }
            Err(e) => {
                let after = after_failure(&e);
                match &after {
                    AfterFailure::NextTick => {
                        warn!(pipeline = %name, error = %e, "cycle failed; retrying at the next tick");
                        next = schedule.next_run(due, now);
                    }
                    AfterFailure::WaitUntil(t) => {
                        warn!(pipeline = %name, error = %e, resumes_at = %t, "API quota exhausted; pausing the pipeline");
                        next = Some((*t).max(now));
                    }
                    AfterFailure::Halt => {
                        error!(pipeline = %name, error = %e, "pipeline halted: fix the credentials or config, then reload");
                        next = None;
                    }
                }
                let _ = events.send(PipelineEvent::CycleFailed {
                    pipeline: name.clone(),
                    failure: CycleFailure::from(&e),
                    after,
                });
            }
        }
        if let Some(n) = next {
            due = n;
        }
    }
    info!(pipeline = %name, "pipeline stopped");
    let _ = events.send(PipelineEvent::Stopped { pipeline: name });
}
