//! Unit tests of the engine: one cycle (or a few) of a pipeline built from
//! a config string, over the memory connector and the memory state store,
//! on a clock the test moves. Each test states one invariant or behaviour
//! of ARCHITECTURE.md and asserts both what came out (records on both
//! sides) and how (the connectors' call log, the batches sent, the commits
//! and cursors stored).

mod harness;

mod batching;
mod conflicts;
mod dead_letters;
mod echo;
mod held_checkpoint;
mod outcomes;
mod ownership;
mod replay;
mod sla;
