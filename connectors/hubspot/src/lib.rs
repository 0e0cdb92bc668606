//! The HubSpot CRM v3 connector of leadbridge, and (behind the `simulator`
//! feature) a faithful in-memory simulator of the same API.
//!
//! The connector translates between [`leadbridge_core::Record`]s and
//! HubSpot's object APIs:
//!
//! - **changes**: `POST /crm/v3/objects/{object}/search` on the object's
//!   last-modified property, re-anchored before the 10,000-result cap and
//!   switching to an id-ordered *tie drain* when many records share one
//!   timestamp (see [`changes`] for the algorithm and why it is exact);
//! - **lookup**: `batch/read` with `idProperty`, 100 values a call;
//! - **write**: `batch/upsert` by the key field, `batch/update` by id and
//!   `batch/create`, with per-record outcomes from 207 multi-status bodies and
//!   a split-and-retry fallback when HubSpot refuses a whole batch for one bad
//!   input;
//! - **activities**: notes and tasks created with an inline association to
//!   the contact, many at once through `batch/create` (100 a call);
//! - **describe**: `GET /crm/v3/properties/{object}`.
//!
//! All HTTP goes through [`leadbridge_core::http::ApiClient`], with
//! [`HubSpotClassify`] reading HubSpot's status codes, error bodies and
//! rate-limit headers.
//!
//! ```no_run
//! # async fn demo() -> Result<(), leadbridge_core::ConnectorError> {
//! use leadbridge_core::auth::AuthConfig;
//! use leadbridge_hubspot::{HubSpotConfig, HubSpotConnector};
//! let auth = AuthConfig::StaticToken { token: "pat-na1-…".to_owned().into() };
//! let connector = HubSpotConnector::new(HubSpotConfig::new("https://api.hubapi.com", auth), None)?;
//! # let _ = connector; Ok(()) }
//! ```
#![deny(missing_docs)]

mod activities;
pub mod changes;
mod classify;
mod config;
mod connector;
pub mod factory;
mod page;
pub mod time;
pub mod webhook;
mod wire;
mod write;

#[cfg(feature = "simulator")]
pub mod simulator;
#[cfg(feature = "simulator")]
pub mod testing;

pub use classify::HubSpotClassify;
pub use config::{HubSpotConfig, DEFAULT_RATE_LIMIT, DEFAULT_SEARCH_RATE_LIMIT};
pub use connector::{HubSpotConnector, BATCH_LIMIT};
pub use factory::HubSpotFactory;

/// The property that holds an object's last-modified time: `lastmodifieddate`
/// on contacts, `hs_lastmodifieddate` on every other object (HubSpot kept the
/// contact's legacy name).
pub fn modified_property(object: &str) -> &'static str {
    if is_contacts(object) {
        "lastmodifieddate"
    } else {
        "hs_lastmodifieddate"
    }
}

/// True for the contacts object under any of the names HubSpot accepts.
pub fn is_contacts(object: &str) -> bool {
    matches!(object, "contacts" | "contact" | "0-1")
}
