//! The follow-up SLA: what sales owes marketing once a lead is handed off,
//! and what happens when it is not met.
//!
//! - [`schedule`]: for one handoff instant, the deadline, each escalation
//!   step's time and the recycle time (also what `leadbridge sla preview` prints),
//!   counted on the business calendar ([`crate::calendar`]);
//! - [`notify`]: the Slack-compatible notice of a breach;
//! - [`template`]: the `{name}`-style texts of notes, tasks and notices.
//!
//! The steps that act on a pipeline (the sweep of due timers, first-touch
//! detection) are the engine's: `crate::engine::follow_up`.

pub mod notify;
pub mod schedule;
pub mod template;

pub use crate::calendar::{BusinessDuration, Calendar, CalendarError};
pub use schedule::Timeline;
