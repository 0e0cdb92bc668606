//! The follow-up SLA: what sales owes marketing once a lead is handed off,
//! and what happens when it is not met.
//!
//! - [`calendar`]: business time (time zone, working days and hours,
//!   holidays) with jiff; [`duration`]: `"8h"` business hours, `"5d"`
//!   business days.
//! - [`schedule`]: for one handoff instant, the deadline, each escalation
//!   step's time and the recycle time (also what `leadbridge sla preview` prints).

pub mod calendar;
pub mod duration;

pub use calendar::{Calendar, CalendarError};
pub use duration::BusinessDuration;
pub mod lifecycle;
pub mod notify;
pub mod schedule;
pub mod sweep;
pub mod template;

pub use schedule::Timeline;
pub use sweep::{sweep, SlaError, SweepReport};
