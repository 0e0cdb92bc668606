//! The funnel's event log: every handoff and SLA event, in time order.
//!
//! Append-only and keyed by time, so `leadbridge report --since 30d` is one
//! range scan. The follow-up SLA work adds its event kinds here.

use jiff::Timestamp;
use leadbridge_core::Fields;
use serde::{Deserialize, Serialize};

/// What happened to a lead.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum EventKind {
    /// Marketing qualified the lead (MQL).
    Qualified,
    /// Marketing handed the lead to sales (created or matched in the CRM).
    HandedOff,
    /// Sales touched the lead (first touch): the SLA was met or late.
    Accepted,
    /// The first-touch deadline passed.
    SlaBreached,
    /// An escalation step fired.
    Escalated,
    /// The lead got a new owner.
    Reassigned,
    /// The lead went back to marketing nurture.
    Recycled,
    /// Sales converted the lead (to a contact, account, opportunity).
    Converted,
    /// The opportunity was won.
    Won,
    /// The opportunity was lost.
    Lost,
    /// The pair now follows another record: the CRM record was converted
    /// (the link follows the contact) or merged into another (the link
    /// follows the survivor), or the marketing record was merged; `detail`
    /// says which and from where.
    Relinked,
    /// The pair ended: its CRM or marketing record was deleted with no
    /// successor. The lead is handed off again if it still qualifies.
    Unlinked,
    /// A marketing record found to be the same person as a linked pair's
    /// (same key, or its lead merged into the pair's): remembered as a
    /// duplicate of that pair's marketing record, never handed off apart.
    Duplicate,
    /// A kind this build does not know (written by a newer leadbridge).
    #[serde(other)]
    Other,
}

/// One funnel event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// When it happened (its place in the log).
    pub at: Timestamp,
    /// What happened.
    pub kind: EventKind,
    /// The lead, by marketing id.
    pub marketing_id: String,
    /// The CRM record, once there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crm_id: Option<String>,
    /// The owner at the time (vendor user id).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    /// The lead's source, for `report --by source`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// The lead's campaign, for `report --by campaign`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub campaign: Option<String>,
    /// Anything else the event carries (breach step, recycle reason, amount…).
    #[serde(default, skip_serializing_if = "Fields::is_empty")]
    pub detail: Fields,
}

impl Event {
    /// An event with no optional parts yet.
    pub fn new(at: Timestamp, kind: EventKind, marketing_id: impl Into<String>) -> Self {
        Self {
            at,
            kind,
            marketing_id: marketing_id.into(),
            crm_id: None,
            owner: None,
            source: None,
            campaign: None,
            detail: Fields::new(),
        }
    }
}
