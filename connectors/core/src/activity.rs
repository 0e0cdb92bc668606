//! Notes and tasks: how marketing context and SLA work reach a rep inside the CRM.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

/// Which kind of activity to create.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActivityKind {
    /// Context for the record's timeline (HubSpot note, Salesforce completed Task).
    Note,
    /// Work for an owner with a due date (HubSpot task, Salesforce open Task).
    Task,
}

/// An activity linked to one record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Activity {
    /// Note or task.
    pub kind: ActivityKind,
    /// The object of the record it belongs to (`contacts`, `Lead`…).
    pub parent_object: String,
    /// The vendor id of that record.
    pub parent_id: String,
    /// A one-line subject (tasks) or heading (notes).
    pub subject: String,
    /// The body text.
    pub body: String,
    /// The user who owns the task, by vendor user id; `None` leaves the default.
    pub owner: Option<String>,
    /// When a task is due.
    pub due: Option<Timestamp>,
}

/// What happened to one activity of a batch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum ActivityOutcome {
    /// Created with this vendor id.
    Created {
        /// The new activity's id.
        id: String,
    },
    /// The vendor refused this one activity (the rest of the batch went on).
    Rejected {
        /// The vendor's message, verbatim.
        message: String,
        /// The vendor's error code, when it gave one.
        code: Option<String>,
    },
}
