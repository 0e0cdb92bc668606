//! The connector contract of leadbridge.
//!
//! The engine speaks to every marketing tool and CRM through the [`Connector`]
//! trait defined here, and never names a vendor. A connector only translates
//! between [`Record`]s and one vendor's HTTP API; everything every connector
//! needs once (timeouts, retries with backoff, client-side rate limiting, a
//! daily API budget, OAuth2, request counting) lives in [`http`] and [`auth`]
//! so that no vendor crate writes it again.
//!
//! The rules every connector keeps:
//! - **Cursor rule.** A change pass from a [`Cursor`] returns every record
//!   changed at or after it exactly once, re-reading an overlap window so a
//!   record that became visible late is not lost; the page's
//!   [`ChangePage::checkpoint`] is the only cursor the engine may commit.
//! - **Per-record outcomes.** A batch write answers one [`WriteOutcome`] per
//!   input, in input order; a record the vendor rejects never fails the batch.
//! - **Errors by meaning.** [`ConnectorError`] says what the caller should do
//!   (wait and retry, re-authenticate, stop until the quota resets, fix the
//!   configuration), never which vendor said it.
//!
//! ```
//! use leadbridge_core::{Cursor, Record};
//! let a = Cursor::new("2026-01-01T00:00:00Z".parse().unwrap(), "10");
//! let b = Cursor::new("2026-01-01T00:00:00Z".parse().unwrap(), "9");
//! // Equal timestamps are ordered by id, compared as numbers when both are numeric.
//! assert!(b < a);
//! let r = Record::new("10", "2026-01-01T00:00:00Z".parse().unwrap());
//! assert_eq!(r.cursor(), a);
//! ```
#![deny(missing_docs)]

pub mod activity;
pub mod auth;
pub mod config;
pub mod connector;
pub mod cursor;
pub mod error;
pub mod factory;
pub mod http;
#[cfg(feature = "simulator")]
pub mod memory;
pub mod record;
pub mod schema;
#[cfg(feature = "simulator")]
pub mod sim;
pub mod webhook;
pub mod write;

pub use activity::{Activity, ActivityKind, ActivityOutcome};
pub use connector::Connector;
pub use cursor::{ChangePage, ChangesRequest, Cursor, PageToken};
pub use error::{ConnectorError, ConnectorResult};
pub use factory::{ConnectorFactory, ConnectorSpec, Registry};
pub use record::{Fields, Record, Successor, SuccessorReason};
pub use schema::{FieldSchema, Limits, ObjectSchema, ToolUser, ValueType};
pub use write::{WriteBatch, WriteOutcome, WriteRecord};
