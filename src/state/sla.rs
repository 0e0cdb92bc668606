//! The follow-up SLA's per-lead state: where each handed-off lead stands
//! (waiting for a first touch, breached, escalated, accepted, recycled) and
//! when its next step falls due.
//!
//! One [`SlaLead`] per lead, stored under its marketing id, and at most one
//! live timer per lead in the `timers` tree, keyed by due time so the sweep
//! finds what is due with one range scan up to now. The timer is moved in
//! the same commit that records a step's effect (events, activity ids), so a
//! step fires exactly once: either its commit happened and the timer points
//! at the next step, or it did not and the step is still due (a breach that
//! fell due while the daemon was down fires once, at start).

use jiff::Timestamp;
use leadbridge_core::Fields;
use serde::{Deserialize, Serialize};

/// The next thing that happens to a lead if nobody touches it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "step", content = "index", rename_all = "snake_case")]
pub enum SlaStep {
    /// Just handed off: create the context note and the follow-up task.
    Setup,
    /// The first-touch deadline: record the breach.
    Breach,
    /// Escalation step `n` (index into the config's `on_breach`).
    Escalate(u16),
    /// Give the lead back to marketing nurture.
    Recycle,
}

/// A task leadbridge created in the CRM for this lead, so a reassignment
/// can move it to the new owner.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlaTask {
    /// The CRM's id of the task.
    pub id: String,
    /// Whom it was assigned to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    /// Its subject, as created.
    pub subject: String,
}

/// Where one handed-off lead stands in the follow-up SLA.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SlaLead {
    /// The lead, by marketing id.
    pub marketing_id: String,
    /// Its CRM record.
    pub crm_id: String,
    /// The current owner (changes on reassignment).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    /// When marketing handed it off: the SLA clock's start.
    pub handed_off_at: Timestamp,
    /// The step the timer waits for; `None` once the SLA is closed
    /// (accepted or recycled).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next: Option<SlaStep>,
    /// When `next` falls due (the timer's key).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub due: Option<Timestamp>,
    /// The first-touch deadline passed without a touch.
    #[serde(default)]
    pub breached: bool,
    /// When sales first touched it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accepted_at: Option<Timestamp>,
    /// It went back to marketing nurture.
    #[serde(default)]
    pub recycled: bool,
    /// Tasks created for it in the CRM.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tasks: Vec<SlaTask>,
    /// The canonical values it was handed off with (the context note, task
    /// subjects and funnel events are made from them).
    #[serde(default, skip_serializing_if = "Fields::is_empty")]
    pub context: Fields,
    /// Its source, for the funnel's events.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// Its campaign, for the funnel's events.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub campaign: Option<String>,
}

impl SlaLead {
    /// True while the lead still waits for a first touch (or for its
    /// context to be created) and a timer is live.
    pub fn is_open(&self) -> bool {
        self.next.is_some() && self.accepted_at.is_none() && !self.recycled
    }
}
