//! The follow-up SLA's steps in the cycle: starting a lead's timers at
//! handoff and noticing the first touch ([`lifecycle`]), and sweeping the
//! timers that fell due ([`sweep`]: note and task, breach, escalation,
//! reassignment, recycle). What the agreement says (its schedule, notices
//! and texts) is `crate::sla`'s; these steps act on a pipeline's tools and
//! state, so they are the engine's.

pub mod lifecycle;
pub mod sweep;

pub use sweep::{sweep, SlaError, SweepReport};
