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
//! one lease per pipeline can implement it unchanged. [`conformance`] is a
//! suite of plain async functions over `&dyn StateStore` that every backend
//! runs as is: [`SledStore`] and [`MemoryStore`] (the fake the engine's
//! unit tests run on) today.
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
//! `keys`. What there is one of per lead is packed (`pack`): links and
//! their reverse entries in buckets of some 30 and 110 (`bucket`), funnel
//! events in chunks of one commit's events, intents in a compact binary
//! form; everything else is JSON. Counters for links, dead letters and
//! pending intents are kept in the same transactions, so `counts` never
//! scans. Refresh tokens are files in `<state_dir>/tokens/`
//! ([`TokenVault`]), never in the database, so a [`StateDump`] cannot
//! contain one.
//!
//! The follow-up SLA keeps one [`SlaLead`] per handed-off lead in the `sla`
//! tree and its one live timer in the `timers` tree, keyed by
//! `pipeline \0 due-time marketing-id` (due timers are a range scan up to
//! now; a commit that stores an [`SlaLead`] moves its timer in the same
//! transaction, so a touch cancels it and a fired step re-arms it
//! atomically). Funnel events are stored keyed by time (a chunk under its
//! first event's).
//!
//! Sales outcomes keep one [`OutcomeLink`] per converted lead's outcome
//! record (opportunity) in the `outcomes` tree, keyed by its CRM id: the
//! outcomes pass looks the records it reads up there.
//!
//! # Bytes per link
//!
//! The benchmark allows 300 bytes of disk per link: `du` of the state
//! directory after a backfill of 10,000 handoffs and five more cycles,
//! divided by the links. sled 0.34 is what makes that hard. It writes an
//! entry as a delta, again in every rewrite of its leaf (16 entries,
//! rewritten after 10 deltas) and in every split, and reclaims a segment of
//! its log only once half of it is dead, so about 300 bytes of disk per
//! entry however small the entry, and two to four bytes of disk per byte
//! stored. With one entry per link, one per reverse link and two JSON
//! events per handoff the benchmark measured 1,930-2,040 bytes per link
//! (about 20 MB for 10,088 links, 13 MB of it the events).
//!
//! So what grows with every lead is packed, to few entries and few bytes:
//!
//! | per handed-off lead | before | now |
//! |---|---|---|
//! | link (forward) | 1 entry, 99 bytes | 46 bytes in a bucket of ~30 |
//! | reverse link | 1 entry, 31 bytes | 10 bytes in a bucket of ~110 |
//! | `Qualified` + `HandedOff` events | 2 entries, 390 bytes of JSON | 30 bytes in a chunk of ~50 handoffs |
//! | intents (live until the next commit) | 2 entries, 400 + 260 bytes of JSON | 2 entries, 205 + 63 bytes |
//!
//! About 86 bytes stored per link, which sled turns into 183-222 bytes of
//! disk in the benchmark at 100k contacts (14 runs; the spread is sled's
//! background cleaning, which runs on its own clock) and 164 at 1M. New
//! databases use 128 KiB segments instead of sled's 512 KiB: measured best
//! among 64, 128, 256 and 512 KiB (smaller segments are cleaned at a finer
//! grain; at 64 KiB a leaf of 16 buckets passes a quarter of a segment and
//! sled moves it out of the log into a blob file). sled's `compression`
//! feature (zstd on every log message) was measured too, replaying the
//! benchmark's writes: smaller still, but commits two to four times slower
//! (a zstd context per message) and every cold read decompressed, so it is
//! not used.
//!
//! Not per lead, so left as JSON: cursors, dead letters (one per bad
//! record), status, round robin, outcomes. Per lead but only with the
//! follow-up SLA configured (not in the benchmark): one [`SlaLead`] (JSON)
//! per lead and its timer.

mod bucket;
mod codec;
pub mod conformance;
mod dlq;
mod duplicates;
mod error;
mod events;
mod files;
mod intents;
mod keys;
mod links;
mod memory;
mod outcomes;
mod pack;
mod sla;
mod sled_store;
mod status;
mod store;
mod vault;

pub use crate::side::Side;
pub use dlq::{DeadLetter, DlqEntry};
pub use duplicates::{Duplicate, DuplicateChange};
pub use error::{StateError, StateResult};
pub use events::{Event, EventKind};
pub use intents::{Intent, IntentAction, IntentId};
pub use links::{Fingerprints, Link, LinkChange, LinkState, SideSync};
pub use memory::MemoryStore;
pub use outcomes::OutcomeLink;
pub use sla::{SlaLead, SlaStep, SlaTask};
pub use sled_store::{SledOptions, SledStore};
pub use status::{CursorEntry, CycleCounts, PipelineCounts, PipelineStatus};
pub use store::{Commit, DumpOptions, PipelineDump, StateDump, StateStore};
pub use vault::TokenVault;

/// A state directory, opened: the store and the refresh-token vault.
pub struct OpenState {
    /// The store (sled, the embedded default).
    pub store: std::sync::Arc<dyn StateStore>,
    /// Rotated refresh tokens, beside the database.
    pub vault: TokenVault,
}

/// Opens the state directory `dir`: the one place the backend is chosen,
/// so a second backend (PostgreSQL with per-pipeline leases) is a change
/// here, not in every command.
pub fn open(dir: &std::path::Path) -> StateResult<OpenState> {
    let store = SledStore::open(dir)?;
    let vault = store.vault()?;
    Ok(OpenState {
        store: std::sync::Arc::new(store),
        vault,
    })
}

#[cfg(test)]
mod tests;
