//! What the admin server asks of the daemon's pipeline loops.
//!
//! The admin server never runs a scheduled cycle itself: "run now", "pause"
//! and "resume" are requests to the loop that owns the pipeline, which acts
//! on them between cycles, so two cycles of one pipeline never overlap.
//! They travel over a bounded channel; the daemon holds the receiver.

use tokio::sync::mpsc;

use crate::engine::runner::PipelineCommand;

/// How many commands may wait for the daemon before the admin server
/// answers 503 (a burst of webhooks only needs one queued run per
/// pipeline; the loop coalesces the rest).
pub const COMMAND_QUEUE: usize = 256;

/// A request to one pipeline's loop.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AdminCommand {
    /// Run a cycle now (from `POST /api/pipelines/{name}/run`, `/resync`,
    /// or a verified webhook), then keep the schedule.
    RunNow {
        /// The pipeline.
        pipeline: String,
        /// Why, for the loop's log line (`admin`, `resync`, `webhook`).
        reason: &'static str,
    },
    /// Run no scheduled cycle until resumed (lasts until a restart).
    Pause {
        /// The pipeline.
        pipeline: String,
    },
    /// Back on schedule; a halted pipeline tries again at once.
    Resume {
        /// The pipeline.
        pipeline: String,
    },
}

impl AdminCommand {
    /// The pipeline it is for.
    pub fn pipeline(&self) -> &str {
        match self {
            Self::RunNow { pipeline, .. }
            | Self::Pause { pipeline }
            | Self::Resume { pipeline } => pipeline,
        }
    }
}

impl AdminCommand {
    /// The supervisor's form: the pipeline and its [`PipelineCommand`].
    pub fn into_pipeline_command(self) -> (String, PipelineCommand) {
        match self {
            Self::RunNow { pipeline, .. } => (pipeline, PipelineCommand::RunNow),
            Self::Pause { pipeline } => (pipeline, PipelineCommand::Pause),
            Self::Resume { pipeline } => (pipeline, PipelineCommand::Resume),
        }
    }
}

/// The channel between the admin server (sender, given to
/// [`AdminState::new`](super::AdminState::new)) and the daemon (receiver).
pub fn command_channel() -> (mpsc::Sender<AdminCommand>, mpsc::Receiver<AdminCommand>) {
    mpsc::channel(COMMAND_QUEUE)
}

/// Why a command could not be handed to the daemon.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// The queue is full: the daemon is not keeping up (or not reading).
    #[error("the daemon's command queue is full")]
    Busy,
    /// The daemon dropped the receiver (it is stopping).
    #[error("the daemon is not taking commands")]
    Closed,
}

/// Queues `command` without waiting: a request handler must answer even
/// when the daemon is slow.
pub(crate) fn send(
    sender: &mpsc::Sender<AdminCommand>,
    command: AdminCommand,
) -> Result<(), SendError> {
    sender.try_send(command).map_err(|e| match e {
        mpsc::error::TrySendError::Full(_) => SendError::Busy,
        mpsc::error::TrySendError::Closed(_) => SendError::Closed,
    })
}
