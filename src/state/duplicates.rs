//! Marketing duplicates: marketing records that are the same person as a
//! linked pair's record (Marketo allows two leads with one e-mail; key
//! folding joins forms HubSpot keeps apart; sales merged their two leads).
//!
//! One CRM record has one pair, so the others cannot be linked to it; they
//! are remembered here instead, each under its own marketing id with the
//! survivor (the marketing record the pair belongs to), so the engine
//! never hands them off again, never stalls on them, can carry sales'
//! feedback to them, and the status page can list them. A second entry,
//! under the survivor, lists its duplicates for that feedback.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

/// A marketing record that is a duplicate of a linked pair's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Duplicate {
    /// The duplicate's marketing id (the entry's key).
    pub marketing_id: String,
    /// The marketing record whose pair stands for both.
    pub survivor: String,
    /// The CRM record of that pair when the duplicate was found.
    pub crm_id: String,
    /// When it was found.
    pub at: Timestamp,
    /// Why, in words (the shared key, a merge in the CRM).
    pub reason: String,
}

/// A change to the duplicates table, applied in a commit's order.
#[derive(Debug, Clone, PartialEq)]
pub enum DuplicateChange {
    /// Remembers a duplicate (replacing an entry under the same id).
    Mark(Duplicate),
    /// Forgets one, by marketing id (its survivor's pair ended, or it was
    /// deleted).
    Clear(String),
}
