//! What leadbridge remembers: links, cursors, intents, the dead letter
//! queue, round-robin positions, pipeline status, the funnel's event log,
//! and (outside the database) rotated refresh tokens.
//!
//! TODO: overview (filled in below).

mod codec;
mod dlq;
mod error;
mod events;
mod files;
mod intents;
mod keys;
mod links;
mod side;
mod sled_store;
mod status;
mod store;
mod vault;

pub use dlq::{DeadLetter, DlqEntry};
pub use error::{StateError, StateResult};
pub use events::{Event, EventKind};
pub use intents::{Intent, IntentAction, IntentId};
pub use links::{Link, LinkChange, LinkState, SideSync};
pub use side::Side;
pub use sled_store::{SledOptions, SledStore};
pub use status::{CursorEntry, CycleCounts, PipelineCounts, PipelineStatus};
pub use store::{Commit, DumpOptions, PipelineDump, StateDump, StateStore};
pub use vault::TokenVault;

#[cfg(test)]
mod tests;
