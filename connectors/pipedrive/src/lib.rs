//! The Pipedrive connector of leadbridge: persons, leads and deals through
//! Pipedrive's API (v2 where it exists, v1 otherwise), as
//! [`leadbridge_core::Record`]s.
//!
//! - **Changes**: persons and deals from v2 lists (`updated_since`,
//!   `sort_by=update_time`, `sort_direction=asc`, `cursor` paging, 500 a
//!   page); leads from `/v1/leads` ordered by `update_time ASC,id ASC` with
//!   offset paging re-anchored at each page's last second; persons with
//!   deletions from `/v1/recents` (v2 lists omit deleted persons). The
//!   compound cursor rule is kept over whole-second timestamps ([`pass`]).
//! - **Look-ups**: one exact `/api/v2/persons/search` per e-mail (Pipedrive
//!   has no batch read by e-mail), then one `GET /api/v2/persons?ids=` for
//!   the hits; leads and deals by person through their list filters.
//! - **Writes**: no batch endpoint, so one call per record, a few in flight,
//!   inside the rate limiter; each record its own outcome. A keyed write
//!   looks the key up first; a create is sent at most once, and one whose
//!   answer is lost fails the batch as `OutcomeUnknown` (the engine's
//!   replay looks keys up before re-sending).
//! - **Activities**: notes (`/v1/notes`) and tasks (`/api/v2/activities`,
//!   type `task`, due date and owner).
//! - **Errors** and rate limits: [`PipedriveClassify`].
//!
//! Behind the `simulator` feature, [`simulator::start`] serves a stateful,
//! in-memory Pipedrive on loopback, and [`testing`] holds the conformance target.
//!
//! ```no_run
//! use leadbridge_core::auth::AuthConfig;
//! use leadbridge_pipedrive::{PipedriveConfig, PipedriveConnector, DEFAULT_BASE_URL};
//! # fn demo(token: secrecy::SecretString) -> leadbridge_core::ConnectorResult<()> {
//! let config = PipedriveConfig::new(DEFAULT_BASE_URL, AuthConfig::StaticToken { token });
//! let connector = PipedriveConnector::new(config, None)?;
//! # let _ = connector; Ok(()) }
//! ```
#![deny(missing_docs)]

mod classify;
mod config;
mod connector;
pub mod fields;
pub mod pass;
pub mod schema;
pub mod time;
mod wire;

#[cfg(feature = "simulator")]
pub mod simulator;
#[cfg(feature = "simulator")]
pub mod testing;

pub use classify::PipedriveClassify;
pub use config::{
    PipedriveConfig, API_TOKEN_HEADER, DEFAULT_BASE_URL, DEFAULT_RATE_LIMIT, DEFAULT_SCOPES,
    DEFAULT_SEARCH_RATE_LIMIT, DEFAULT_TOKEN_LIFETIME, DEFAULT_WRITE_CONCURRENCY,
    OAUTH_AUTHORIZE_URL, OAUTH_BASE_URL, OAUTH_TOKEN_URL,
};
pub use connector::{PipedriveConnector, PAGE_LIMIT};
