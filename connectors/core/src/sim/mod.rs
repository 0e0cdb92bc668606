//! The simulator kit: what every tool's simulator needs once, so each
//! simulator only writes its vendor's paths, bodies and rules.
//!
//! - [`SimClock`]: the simulated "now", frozen or running, so tests can make
//!   thousands of records share one timestamp or jump past a token's expiry;
//! - [`Faults`] and [`fault_layer`]: injected 429s, 5xx, slow responses,
//!   dropped connections, malformed JSON and expired tokens, by count or rate;
//! - [`TokenIssuer`]: an OAuth2 authority whose access tokens expire and
//!   whose refresh tokens rotate;
//! - [`RequestCounter`]: calls per endpoint, read by tests and benchmarks;
//! - [`seed`]: deterministic, realistic people and companies;
//! - [`SimControl`] and [`control_router`]: the control surface, in process
//!   (for the conformance suite) and over HTTP under [`CONTROL_PREFIX`];
//! - [`SimServer`]: serving a router on loopback with graceful shutdown.

mod clock;
mod control;
mod counter;
mod faults;
pub mod seed;
mod server;
mod tokens;

pub use clock::SimClock;
pub use control::{control_router, FaultSpec, SeedSpec, SimControl, CONTROL_PREFIX};
pub use counter::RequestCounter;
pub use faults::{fault_layer, FaultKind, Faults, VendorErrors};
pub use server::SimServer;
pub use tokens::{Issued, TokenCheck, TokenIssuer, TokenSettings};
