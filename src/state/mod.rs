//! What leadbridge remembers: links, cursors, intents, the dead letter
//! queue, round-robin positions, pipeline status, the funnel's event log,
//! and (outside the database) rotated refresh tokens.
//!
//! # Shape
//!
//! [`StateStore`] is the contract, in the engine's words (links, cursors,
//! intents, dead letters), never in trees or tables; [`SledStore`] is the
//! embedded default. The trait is object safe (`Arc<dyn StateStore>`) and
//! every operation is scoped to one pipeline, so a PostgreSQL backend with
//! one lease per pipeline can implement it unchanged. `tests.rs` is a
//! conformance suite of plain async functions over `&dyn StateStore` that a
//! second backend runs as is.
//!
//! # How the engine uses it (one page)
//!
//! 1. Read `cursor(pipeline, side, object)`, pass it as `ChangesRequest::since`.
//! 2. Look the page's records up with `links(pipeline, side, ids)`; a record
//!    whose canonical hash equals `link.state.side(side).written` is an echo.
//! 3. Before writing, take `new_intent_id()` per record, build [`Intent`]s
//!    and `record_intents(..)`: durable when it returns.
//! 4. Write to the vendor (idempotent upserts by key).
//! 5. Fill one [`Commit`]: link upserts with the new hashes and
//!    `modified_at`s, dead letters for rejected records (and removals for
//!    records that now passed), `resolve_intent` for every intent of the
//!    page, `set_cursor` to the page's checkpoint, funnel events, the
//!    round-robin position, and call `commit`. It is one transaction and is
//!    flushed before it returns; if it fails nothing of it happened.
//! 6. On start, before anything else: `pending_intents(pipeline)`, replay
//!    each (same key, so no duplicate), and resolve them in a commit.
//!
//! Invariants kept here: a commit is atomic and durable (*durable state*,
//! *nothing lost*: the cursor moves in the same transaction as the effects
//! of the page); intents survive any crash (*no duplicates*); last written
//! and read hashes per side (*no echo*); a link conflict refuses the whole
//! commit instead of orphaning a link.
//!
//! # Storage
//!
//! One sled database in `<state_dir>/db`, opened under an advisory lock on
//! `<state_dir>/lock` (a second daemon gets [`StateError::Locked`], saying
//! another instance is using the directory). Trees and key layout: see
//! `keys`. Links use a compact binary encoding (`codec`), everything else
//! JSON. Counters for links, dead letters and pending intents are kept in
//! the same transactions, so `counts` never scans. Refresh tokens are files
//! in `<state_dir>/tokens/` ([`TokenVault`]), never in the database, so a
//! [`StateDump`] cannot contain one.
//!
//! The follow-up SLA keeps one [`SlaLead`] per handed-off lead in the `sla`
//! tree and its one live timer in the `timers` tree, keyed by
//! `pipeline \0 due-time marketing-id` (due timers are a range scan up to
//! now; a commit that stores an [`SlaLead`] moves its timer in the same
//! transaction, so a touch cancels it and a fired step re-arms it
//! atomically). Funnel events are stored keyed by time.
//!
//! Sales outcomes keep one [`OutcomeLink`] per converted lead's outcome
//! record (opportunity) in the `outcomes` tree, keyed by its CRM id: the
//! outcomes pass looks the records it reads up there.
//!
//! # Bytes per link
//!
//! A realistic link (11-digit HubSpot id, 18-character Salesforce ids, four
//! hashes, three times, an owner) is about 150 bytes of keys and values: 112
//! in the forward entry (93 of them the encoded state) and 37 in the reverse
//! one. On disk sled 0.34 turns that into 450-600 bytes (measured by
//! `bytes_of_sled_per_link_are_measured`): it costs about 150 bytes per
//! entry whatever its size, plus about 1.5 bytes per byte stored, and the
//! file never shrinks. So the benchmark's 300 bytes per link cannot be met
//! with one forward and one reverse entry per link. Ways to get there, for
//! when the benchmark needs it: sled's `compression` feature (zstd, measured
//! 315-355 bytes, 3x slower commits, a C dependency); hash-bucketed reverse
//! entries (one entry per ~16 CRM ids); interning pipeline names and owners.

mod codec;
mod dlq;
mod error;
mod events;
mod files;
mod intents;
mod keys;
mod links;
mod outcomes;
mod sla;
mod sled_store;
mod status;
mod store;
mod vault;

pub use crate::side::Side;
pub use dlq::{DeadLetter, DlqEntry};
pub use error::{StateError, StateResult};
pub use events::{Event, EventKind};
pub use intents::{Intent, IntentAction, IntentId};
pub use links::{Fingerprints, Link, LinkChange, LinkState, SideSync};
pub use outcomes::OutcomeLink;
pub use sla::{SlaLead, SlaStep, SlaTask};
pub use sled_store::{SledOptions, SledStore};
pub use status::{CursorEntry, CycleCounts, PipelineCounts, PipelineStatus};
pub use store::{Commit, DumpOptions, PipelineDump, StateDump, StateStore};
pub use vault::TokenVault;

#[cfg(test)]
mod tests;
