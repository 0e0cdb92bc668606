//! Links between a marketing record and its CRM record, and what the engine
//! remembers about each linked pair to suppress echoes.

use std::collections::BTreeMap;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::side::Side;

/// What the engine last saw of, and last wrote to, one side of a link.
///
/// Hashes are of the *canonical* values the engine maps a record to, so they
/// compare equal however a vendor formats a value. A change read on a side
/// whose hash equals `written` only reflects the engine's own write (an
/// echo), and is not synced back.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SideSync {
    /// Hash of the canonical values last written to this side.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub written: Option<u64>,
    /// Hash of the canonical values last read from this side.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read: Option<u64>,
    /// The vendor's `modified_at` of the last version read from this side;
    /// the `newest` conflict policy compares it, and a re-read in the
    /// overlap window with the same value is dropped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub modified_at: Option<Timestamp>,
}

impl SideSync {
    /// True when a record read with canonical hash `hash` only reflects the
    /// engine's last write to this side.
    pub fn is_echo(&self, hash: u64) -> bool {
        self.written == Some(hash)
    }
}

/// Per canonical field (by a 16-bit tag of its name), a 32-bit fingerprint
/// of the value both sides last agreed on; blank fields are left out. The
/// engine compares what it reads with these to tell a real change from an
/// echo of its own write or a re-read (see `engine::fingerprint`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fingerprints(pub BTreeMap<u16, u32>);

/// Everything stored per linked pair, under the marketing record's id.
///
/// Kept small on purpose: a pipeline holds one of these per lead ever handed
/// off (a million is normal), and the benchmark allows 300 bytes of storage
/// per link. It is stored in a compact binary form (see `codec`), not JSON.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkState {
    /// The CRM record's id.
    pub crm_id: String,
    /// What the engine knows of the marketing record.
    #[serde(default)]
    pub marketing: SideSync,
    /// What the engine knows of the CRM record.
    #[serde(default)]
    pub crm: SideSync,
    /// When marketing handed the lead to sales (the SLA clock's start);
    /// `None` for a pair linked by matching, not by a handoff.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub handed_off_at: Option<Timestamp>,
    /// The CRM owner assigned (vendor user id), so reassignment and the
    /// per-owner report know it without reading the CRM.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    /// Fingerprints of the values both sides agree on, per field.
    #[serde(default, skip_serializing_if = "fingerprints_empty")]
    pub agreed: Fingerprints,
    /// The CRM record's object when it is not the pipeline's CRM object:
    /// a converted lead's link follows the contact sales now works on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crm_object: Option<String>,
}

fn fingerprints_empty(f: &Fingerprints) -> bool {
    f.0.is_empty()
}

impl LinkState {
    /// A new link to a CRM record, with nothing seen or written yet.
    pub fn new(crm_id: impl Into<String>) -> Self {
        Self {
            crm_id: crm_id.into(),
            ..Self::default()
        }
    }

    /// What is known of one side.
    pub fn side(&self, side: Side) -> &SideSync {
        match side {
            Side::Marketing => &self.marketing,
            Side::Crm => &self.crm,
        }
    }

    /// What is known of one side, to update it.
    pub fn side_mut(&mut self, side: Side) -> &mut SideSync {
        match side {
            Side::Marketing => &mut self.marketing,
            Side::Crm => &mut self.crm,
        }
    }
}

/// A link as read back: the marketing id it is stored under, and its state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Link {
    /// The marketing record's id.
    pub marketing_id: String,
    /// The stored state, with the CRM id.
    #[serde(flatten)]
    pub state: LinkState,
}

impl Link {
    /// The record id on one side.
    pub fn id(&self, side: Side) -> &str {
        match side {
            Side::Marketing => &self.marketing_id,
            Side::Crm => &self.state.crm_id,
        }
    }
}

/// A change to the links of a pipeline, applied by a commit.
// A commit holds one page of these at most; boxing the state would cost an
// allocation per link for nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkChange {
    /// Create the link or replace its state (both directions are kept in
    /// step; a changed CRM id moves the reverse entry).
    Upsert {
        /// The marketing record's id.
        marketing_id: String,
        /// The full new state.
        state: LinkState,
    },
    /// Forget the link in both directions (the record was deleted or merged).
    Remove {
        /// The marketing record's id.
        marketing_id: String,
    },
}
