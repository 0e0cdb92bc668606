//! leadbridge: joins a marketing tool and a CRM so marketing and sales work
//! as one team. The binary in `main.rs` is a thin shell over this library so
//! that tests drive the same code paths.
#![deny(missing_docs)]

pub mod admin;
pub mod calendar;
pub mod cli;
pub mod config;
pub mod daemon;
pub mod engine;
pub mod metrics;
pub mod registry;
pub mod report;
pub mod rules;
pub mod side;
pub mod sla;
pub mod state;

pub use side::Side;
