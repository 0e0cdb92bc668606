//! The Marketo Engage connector of leadbridge (the marketing side), and
//! (behind the `simulator` feature) a faithful in-memory simulator of the
//! same REST API.
//!
//! The connector translates between [`leadbridge_core::Record`]s and
//! Marketo's Lead Database API (`leads` only):
//!
//! - **auth**: the OAuth2 client-credentials grant of a LaunchPoint custom
//!   service, `{base}/identity/oauth/token`, through core's token source
//!   (renewed a minute before expiry; the client id and secret go in the
//!   POST form body, which Marketo's identity endpoint accepts as well as
//!   the query string its Swagger shows). Marketo reports a bad token as
//!   601/602 in an HTTP 200 body: renewed once and retried, then
//!   `Unauthorized`;
//! - **changes**: the activity log through date-based paging tokens — Get
//!   Lead Changes for the requested fields (data value changes and new
//!   leads), the changed leads then read by id, 300 at a time; merges
//!   (`merged_from` on the winner) and, with `include_archived`, deleted
//!   leads from their own feeds. See [`changes`] for the algorithm and how
//!   it maps onto [`leadbridge_core::Cursor`];
//! - **lookup**: Get Leads by Filter Type (`filterType=<key>`), 300 values a
//!   call, as a `_method=GET` POST when the URI would pass 8 KB;
//! - **write**: Sync Leads — `updateOnly` by id, `createOrUpdate` by the
//!   key field, `createOnly` otherwise — with per-record outcomes from
//!   `status`/`reasons`. Writes by id and by key are idempotent: a batch
//!   interrupted by a crash and sent again creates nothing new (with email
//!   as the key, a lead whose email is shared by several leads is refused
//!   with 1007 instead of being written; Marketo allows duplicate emails);
//! - **describe**: Describe Lead2 (`GET /rest/v1/leads/describe2.json`);
//! - **activities**: see below.
//!
//! All HTTP goes through [`leadbridge_core::http::ApiClient`] with
//! [`MarketoClassify`] reading Marketo's 200-with-error bodies; at most ten
//! calls are in flight at once and the client paces itself to 100 calls
//! per 20 seconds.
//!
//! # Notes and tasks
//!
//! Marketo has neither. leadbridge writes sales feedback into lead fields,
//! and creates its notes and SLA tasks in the CRM, so Marketo never needs
//! them for the engine's flows. What Marketo offers instead, and why it is
//! only opt-in:
//!
//! - *Interesting moments* are written only by the "Interesting Moment"
//!   flow step of a smart campaign; no REST endpoint creates one (an
//!   integration would need an admin-built campaign with a "Campaign is
//!   Requested" trigger and tokens, per note);
//! - *custom activities* (`POST /rest/v1/activities/external.json`) are
//!   write-once timeline entries on a lead, but their type must be created
//!   and approved by an admin first (at most ten types per subscription),
//!   and Marketo purges activities after a while.
//!
//! So [`Connector::create_activity`](leadbridge_core::Connector) writes a
//! note as a custom activity when [`MarketoConfig::note_activity`] names an
//! approved type (subject → primary attribute, body → the named attribute;
//! up to 300 per call with `create_activities`), and refuses with `Fatal`
//! otherwise; a task is always refused with `Fatal` (no owner, due date or
//! completion exists on a Marketo lead).
//!
//! ```no_run
//! # async fn demo() -> Result<(), leadbridge_core::ConnectorError> {
//! use leadbridge_core::auth::AuthConfig;
//! use leadbridge_marketo::{MarketoConfig, MarketoConnector};
//! let auth = AuthConfig::ClientCredentials {
//!     client_id: "4f1c…".into(),
//!     client_secret: "…".to_owned().into(),
//!     token_url: None,
//!     scopes: Vec::new(),
//! };
//! let config = MarketoConfig::new("https://123-ABC-456.mktorest.com/rest", auth);
//! let connector = MarketoConnector::new(config, None)?;
//! # let _ = connector; Ok(()) }
//! ```
#![deny(missing_docs)]

pub mod changes;
mod classify;
mod config;
mod connector;
pub mod time;
mod wire;
mod write;

#[cfg(feature = "simulator")]
pub mod simulator;
#[cfg(feature = "simulator")]
pub mod testing;

pub use classify::MarketoClassify;
pub use config::{
    MarketoConfig, NoteActivity, BATCH_LIMIT, DEFAULT_MAX_CONCURRENT, DEFAULT_OVERLAP,
    DEFAULT_PAGING_TOKEN_TIMEOUT, DEFAULT_RATE_LIMIT, DEFAULT_RATE_LIMIT_WAIT, TOKEN_PATH,
};
pub use connector::{value_type, MarketoConnector, MAX_GET_URI, OBJECT};
pub use write::MAX_BODY_BYTES;
