//! The Salesforce connector of leadbridge: Leads, Contacts, Tasks and
//! Opportunities through the Salesforce REST API, as [`leadbridge_core::Record`]s.
//!
//! - **Changes** come from one SOQL query ordered by `(SystemModstamp, Id)`,
//!   the compound cursor, followed through `nextRecordsUrl` (the server-side
//!   query cursor is a snapshot, so every record appears exactly once per
//!   pass, however many share one timestamp). Deleted records come from the
//!   same ordered stream through `queryAll` when asked for.
//! - **Writes** go through sObject Collections of 200 records with
//!   `allOrNone=false`, up to five of them in one Composite call (one API
//!   call for 1,000 records), upserting by an External ID field when the
//!   batch is keyed on one, so a retried batch never creates a duplicate.
//! - **Look-ups** by key are `IN (...)` queries, several in one Composite
//!   call when the keys need more than one.
//! - **Errors** are read from Salesforce's `[{message, errorCode, fields}]`
//!   bodies into the core's errors by meaning ([`SalesforceClassify`]).
//! - **Replaced records**: a converted lead names its contact as
//!   successor (change passes, look-ups) and a write to it answers
//!   `Superseded`; a merged-away record names the winner, a deleted one is
//!   `archived`, and a write to either answers `Superseded` or `Deleted`
//!   (`SEMANTICS.md` R2.1, R2.3). Tasks for a converted lead go to its contact.
//! - **Per-record follow-ups**: refusals that pass (row locks, the Apex CPU
//!   limit, R2.3) are sent again in smaller collections; a create an
//!   alert-only duplicate rule refuses updates the record it matched, a
//!   Block rule stays rejected by name (R2.2).
//!
//! Behind the `simulator` feature, [`simulator::start`] serves a stateful,
//! in-memory Salesforce on loopback (real paths, SOQL, paging, collections,
//! composite, error bodies, limits and OAuth2), and [`testing`] holds the conformance
//! target.
//!
//! ```no_run
//! use leadbridge_core::auth::AuthConfig;
//! use leadbridge_salesforce::{SalesforceConfig, SalesforceConnector};
//! # fn demo(token: secrecy::SecretString) -> leadbridge_core::ConnectorResult<()> {
//! let config = SalesforceConfig::new("https://example.my.salesforce.com", AuthConfig::StaticToken { token });
//! let connector = SalesforceConnector::new(config, None)?;
//! # let _ = connector; Ok(()) }
//! ```
#![deny(missing_docs)]

mod classify;
mod config;
mod connector;
pub mod factory;
pub mod soql;

#[cfg(feature = "simulator")]
pub mod simulator;
#[cfg(feature = "simulator")]
pub mod testing;

pub use classify::SalesforceClassify;
pub use config::{SalesforceConfig, DEFAULT_API_VERSION};
pub use connector::SalesforceConnector;
pub use factory::SalesforceFactory;
