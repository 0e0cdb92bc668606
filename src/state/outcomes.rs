//! Sales outcomes: which CRM outcome record (a Salesforce Opportunity)
//! a handed-off lead became when sales converted it, and what of it
//! marketing has already been told.
//!
//! One [`OutcomeLink`] per outcome record, stored under the outcome's CRM
//! id in the `outcomes` tree, because that is how the outcomes pass finds
//! it: it reads the outcome object's changes and looks each id up. The
//! entry is written in the same commit as the `Converted` event, so a
//! lead's conversion is recorded exactly once (a re-read finds the entry),
//! and `closed` is set in the same commit as the `Won`/`Lost` event, so a
//! close is recorded exactly once too.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::events::EventKind;
use super::links::Fingerprints;

/// A converted lead's outcome record, as the engine remembers it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutcomeLink {
    /// The outcome record's CRM id (the opportunity): the entry's key.
    pub outcome_id: String,
    /// The marketing record the outcome is written back to.
    pub marketing_id: String,
    /// The converted CRM lead.
    pub lead_id: String,
    /// When the engine saw the conversion.
    pub converted_at: Timestamp,
    /// Fingerprints of the outcome fields marketing was last given, so a
    /// re-read or an unrelated change of the opportunity writes nothing.
    #[serde(default)]
    pub agreed: Fingerprints,
    /// `Won` or `Lost` once the close is recorded (the first close only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub closed: Option<EventKind>,
    /// The lead's owner at conversion, for the funnel's events.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    /// The lead's source, for revenue per source.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// The lead's campaign, for revenue per campaign.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub campaign: Option<String>,
}
