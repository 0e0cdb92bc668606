//! The supervisor: one task per pipeline, started, restarted and stopped
//! as the config changes, commanded from outside (the admin API), and
//! watched so the daemon knows whether it is healthy.

use std::collections::BTreeMap;
use std::sync::Arc;

use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tracing::error;

use super::pipeline_loop::{pipeline_loop, LoopParts};
use super::{PipelineCommand, PipelineEvent, Scheduled};
use crate::engine::clock::Clock;
use crate::state::StateStore;

/// What identifies a pipeline's effective configuration: equal keys mean a
/// reload leaves the running pipeline alone. The daemon derives it from the
/// pipeline's config and the configs (secrets included) of its connectors.
pub type ConfigKey = [u8; 32];

/// One running pipeline task and the handles to steer it.
struct Running {
    key: ConfigKey,
    stop: watch::Sender<bool>,
    commands: mpsc::UnboundedSender<PipelineCommand>,
    handle: JoinHandle<()>,
}

/// What [`Supervisor::apply`] did, by pipeline name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ApplySummary {
    /// Pipelines that did not run before.
    pub started: Vec<String>,
    /// Pipelines whose config changed: stopped after their batch in flight,
    /// then started with the new config.
    pub restarted: Vec<String>,
    /// Pipelines left running as they were.
    pub unchanged: Vec<String>,
    /// Pipelines no longer in the config.
    pub stopped: Vec<String>,
}

/// Why a command could not be delivered.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("no pipeline named `{0}` is running")]
pub struct UnknownPipeline(pub String);

/// Runs every pipeline in its own task; see the module docs.
pub struct Supervisor {
    store: Arc<dyn StateStore>,
    clock: Arc<dyn Clock>,
    running: BTreeMap<String, Running>,
    /// Tasks told to stop (removed or replaced pipelines) still finishing
    /// their batch in flight.
    retiring: Vec<JoinHandle<()>>,
    events_tx: mpsc::UnboundedSender<PipelineEvent>,
    events_rx: mpsc::UnboundedReceiver<PipelineEvent>,
}

impl Supervisor {
    /// A supervisor with no pipeline yet.
    pub fn new(store: Arc<dyn StateStore>, clock: Arc<dyn Clock>) -> Self {
        let (events_tx, events_rx) = mpsc::unbounded_channel();
        Self {
            store,
            clock,
            running: BTreeMap::new(),
            retiring: Vec::new(),
            events_tx,
            events_rx,
        }
    }

    /// Makes the running set match `desired`: pipelines with an unchanged
    /// key keep running untouched; changed ones are stopped (after their
    /// batch in flight) and started anew, never two cycles of one pipeline
    /// at once; removed ones are stopped; new ones are started.
    pub fn apply(&mut self, desired: Vec<(Scheduled, ConfigKey)>) -> ApplySummary {
        let mut summary = ApplySummary::default();
        let mut keep = BTreeMap::new();
        for (scheduled, key) in desired {
            let name = scheduled.pipeline.name.clone();
            match self.running.remove(&name) {
                Some(old) if old.key == key && !old.handle.is_finished() => {
                    summary.unchanged.push(name.clone());
                    keep.insert(name, old);
                }
                Some(old) => {
                    let _ = old.stop.send(true);
                    summary.restarted.push(name.clone());
                    keep.insert(name, self.spawn(scheduled, key, Some(old.handle)));
                }
                None => {
                    summary.started.push(name.clone());
                    keep.insert(name, self.spawn(scheduled, key, None));
                }
            }
        }
        for (name, old) in std::mem::take(&mut self.running) {
            let _ = old.stop.send(true);
            summary.stopped.push(name);
            self.retiring.push(old.handle);
        }
        self.running = keep;
        self.retiring.retain(|h| !h.is_finished());
        summary
    }

    fn spawn(
        &self,
        scheduled: Scheduled,
        key: ConfigKey,
        after: Option<JoinHandle<()>>,
    ) -> Running {
        let (stop, stop_rx) = watch::channel(false);
        let (commands, commands_rx) = mpsc::unbounded_channel();
        let parts = LoopParts {
            scheduled,
            store: self.store.clone(),
            clock: self.clock.clone(),
            stop: stop_rx,
            commands: commands_rx,
            events: self.events_tx.clone(),
        };
        let handle = tokio::spawn(async move {
            if let Some(previous) = after {
                // The replaced task finishes its batch in flight first.
                if let Err(e) = previous.await {
                    error!(error = %e, "a replaced pipeline task failed");
                }
            }
            pipeline_loop(parts).await;
        });
        Running {
            key,
            stop,
            commands,
            handle,
        }
    }

    /// Sends `command` to pipeline `name`.
    pub fn command(&self, name: &str, command: PipelineCommand) -> Result<(), UnknownPipeline> {
        let running = self
            .running
            .get(name)
            .ok_or_else(|| UnknownPipeline(name.to_owned()))?;
        running
            .commands
            .send(command)
            .map_err(|_| UnknownPipeline(name.to_owned()))
    }

    /// Sends `command` to every pipeline.
    pub fn command_all(&self, command: PipelineCommand) {
        for running in self.running.values() {
            let _ = running.commands.send(command.clone());
        }
    }

    /// The names of the pipelines it runs.
    pub fn pipelines(&self) -> Vec<String> {
        self.running.keys().cloned().collect()
    }

    /// Whether every pipeline task is alive. A task ends only when told to
    /// stop, so one that ended on its own panicked: the process is not
    /// healthy and the watchdog should let systemd restart it. A halted
    /// pipeline (bad credentials) is alive and waits for a person; a
    /// restart would not fix it.
    pub fn healthy(&self) -> bool {
        self.running.values().all(|r| !r.handle.is_finished())
    }

    /// The names of pipeline tasks that ended without being told to.
    pub fn dead(&self) -> Vec<String> {
        self.running
            .iter()
            .filter(|(_, r)| r.handle.is_finished())
            .map(|(n, _)| n.clone())
            .collect()
    }

    /// The next thing a pipeline reports. Never ends while the supervisor
    /// lives (it holds a sender itself).
    pub async fn next_event(&mut self) -> Option<PipelineEvent> {
        self.events_rx.recv().await
    }

    /// Stops every pipeline after its batch in flight and waits for all of
    /// them (bound the wait with a timeout: this is the grace period).
    pub async fn shutdown(&mut self) {
        for running in self.running.values() {
            let _ = running.stop.send(true);
        }
        let mut handles: Vec<JoinHandle<()>> = std::mem::take(&mut self.retiring);
        handles.extend(
            std::mem::take(&mut self.running)
                .into_values()
                .map(|r| r.handle),
        );
        for handle in handles {
            if let Err(e) = handle.await {
                error!(error = %e, "a pipeline task failed");
            }
        }
    }
}
