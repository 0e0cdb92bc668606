//! Which of the two joined tools something belongs to: one type shared by
//! the config (field mappings), the engine and the state store.

use std::fmt;

use serde::{Deserialize, Serialize};

/// One of the two tools a pipeline joins. Cursors, dead letters and intents
/// are per side because each tool has its own change order, its own record
/// ids and its own refusals.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Side {
    /// The marketing tool (HubSpot Marketing, Marketo…): where leads come from.
    Marketing,
    /// The CRM (Salesforce, HubSpot CRM…): where sales works the leads.
    Crm,
}

impl Side {
    /// The other tool: where a record read on this side is written to.
    pub fn other(self) -> Self {
        match self {
            Self::Marketing => Self::Crm,
            Self::Crm => Self::Marketing,
        }
    }

    /// The name used in logs, dumps and the CLI.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Marketing => "marketing",
            Self::Crm => "crm",
        }
    }

    /// The one byte that stands for the side inside storage keys.
    pub(crate) fn tag(self) -> u8 {
        match self {
            Self::Marketing => b'm',
            Self::Crm => b'c',
        }
    }

    /// The side a key byte stands for, if any.
    pub(crate) fn from_tag(tag: u8) -> Option<Self> {
        match tag {
            b'm' => Some(Self::Marketing),
            b'c' => Some(Self::Crm),
            _ => None,
        }
    }
}

impl fmt::Display for Side {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
