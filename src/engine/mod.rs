//! The engine: the sync cycle, its decisions, and the schedule it runs on.
//! It knows connectors only through `leadbridge_core::Connector` and never
//! names a vendor; only it commits cursors and links to the state store.

pub mod assign;
pub mod build;
pub mod clock;
pub mod conflict;
pub mod cycle;
pub mod fields;
pub mod fingerprint;
pub mod follow_up;
pub mod key;
pub mod outcomes;
pub mod pipeline;
pub mod plan;
pub mod runner;
pub mod schedule;
pub mod stop;

#[cfg(test)]
mod tests;
