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

use std::net::SocketAddr;
use std::sync::Arc;

pub use clock::SimClock;
pub use control::{control_router, FaultSpec, SeedSpec, SimControl, CONTROL_PREFIX};
pub use counter::RequestCounter;
pub use faults::{fault_layer, FaultKind, FaultState, Faults, VendorErrors};
pub use server::SimServer;
pub use tokens::{GrantError, Issued, TokenCheck, TokenIssuer, TokenSettings};

/// How to start a simulator, the same for every tool (the CLI's
/// `leadbridge simulate <tool>` flags map onto it one to one).
#[derive(Debug, Clone)]
pub struct SimulatorOptions {
    /// Where to listen; port 0 picks a free one.
    pub listen: SocketAddr,
    /// The OAuth2 client, static tokens and token lifetimes.
    pub tokens: TokenSettings,
    /// Enforce the vendor's published rate limits (off for benchmarks).
    pub rate_limits: bool,
    /// Synthetic people to seed into the main object at start.
    pub seed_records: u64,
    /// The population seed for them.
    pub seed: u64,
}

impl Default for SimulatorOptions {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            tokens: TokenSettings::default(),
            rate_limits: true,
            seed_records: 0,
            seed: 1,
        }
    }
}

/// A simulator serving on loopback, and its control surface in process.
pub struct RunningSimulator {
    /// The HTTP server; dropping it stops the simulator.
    pub server: SimServer,
    /// The in-process control surface.
    pub control: Arc<dyn SimControl>,
}

impl RunningSimulator {
    /// Where it serves.
    pub fn url(&self) -> String {
        self.server.url()
    }
}
