//! The admin HTTP server: health, readiness, metrics, the status page,
//! state-changing actions behind a bearer token, and webhook intake.
//!
//! # Endpoints
//!
//! | method and path | what | auth |
//! |---|---|---|
//! | `GET /healthz` | the process answers (200 `ok`) | none |
//! | `GET /readyz` | 200 when the state store answers, every connector a pipeline uses is proven authenticated and no pipeline is halted; 503 listing why not | none |
//! | `GET /metrics` | Prometheus text (names in [`crate::metrics::names`]) | none |
//! | `GET /status[?days=7\|30\|90&by=source\|campaign\|owner]` | the HTML status page: pipelines, connectors, funnel (window and grouping as asked; 400 for other values), SLA, handoff-rule changes | none |
//! | `GET /api/status[?days=…&by=…]` | the same as JSON ([`StatusSnapshot`]) | none |
//! | `POST /api/pipelines/{name}/run` | a cycle now (202) | bearer |
//! | `POST /api/pipelines/{name}/pause`, `/resume` | stop / restart scheduled cycles | bearer |
//! | `POST /api/pipelines/{name}/resync[?only_unlinked=true]` | reset both cursors (or marketing's only), then a cycle (202) | bearer |
//! | `POST /api/dlq/{pipeline}/{side}/{record}/retry`, `/drop` | one dead letter | bearer |
//! | `POST /webhooks/<kind>` | a tool's signed push ([`webhook`]) | the tool's signature |
//!
//! Reads are open to whoever reaches the port, which is loopback unless
//! `admin_allow_non_loopback = true` ([`bind`]); they show no secret
//! (stored errors are redacted at the source, and dead letters are listed
//! without record fields). Writes need `Authorization: Bearer
//! <admin_token>` (`[daemon] admin_token = "env:…" | "file:…"`), compared in
//! constant time; without a configured token they are all refused, and a
//! refused request changes nothing (401).
//!
//! # Wiring it into the daemon (for `leadbridge run`)
//!
//! In `cli/run.rs`, after `Daemon::open` and `authenticate`, before
//! `daemon.run(inputs_rx, …)` (so a port in use fails the start before
//! READY):
//!
//! ```text
//! let listener = admin::bind(&daemon.config.daemon).await?;    // refuses non-loopback unless allowed
//! let (commands, commands_rx) = admin::command_channel();
//! let state = daemon.admin_state(commands);  // store, clock, connectors, pipelines, secrets, webhooks
//! tokio::spawn(daemon::forward_admin_commands(commands_rx, inputs.clone()));  // → Input::Command
//! let server = tokio::spawn(admin::serve(listener, state.clone(), stop_future));  // any Future<Output = ()>
//! ```
//!
//! and in `Daemon::run`'s `supervisor.next_event()` branch, one line so
//! `/readyz` and `/status` know about halts, pauses and finished cycles:
//!
//! ```text
//! Some(event) = supervisor.next_event() => { status.apply(&event); admin.observe(&event); … }
//! ```
//!
//! (`admin: Option<AdminState>` passed to `run`; without it readiness still
//! works from the store — a cycle finished since start proves its
//! connectors — but halts are not seen.) After a successful reload call
//! `state.set_topology(connectors, pipelines, webhooks)`;
//! on stop the shutdown future resolves and `server` ends after the
//! requests in flight.
//!
//! [`AdminCommand`] maps one to one onto the supervisor's
//! `PipelineCommand` (`RunNow`, `Pause`, `Resume`;
//! the daemon turns each into its `Input::Command`). The loop acts on them *between* cycles:
//! a `RunNow` while a cycle runs means one more cycle right after it, and
//! several queued `RunNow`s (a burst of webhooks) may be coalesced into one.
//! A pause lasts until `Resume` or a restart (it is not persisted). A
//! daemon that runs cycles itself (`run --once`, tests) reports each with
//! [`AdminState::observe_cycle`].
//!
//! Readiness inputs are those reports, plus the store: a connector is
//! proven authenticated once a cycle of a pipeline using it finished (as
//! reported, or as the pipeline's stored status shows since this state was
//! made), and fails when a halting error names it; a pipeline is halted from a halting
//! failure until it finishes a cycle or is resumed. `/readyz` therefore
//! answers 503 until every pipeline has finished its first cycle, which
//! the loop runs at start.
//!
//! # Webhooks: tools push, polling remains the mechanism
//!
//! A delivery to `POST /webhooks/<kind>` verified by a connector of that
//! kind (its crate's verifier, with the secret in its section) asks for an
//! immediate cycle of every pipeline using that connector (details in
//! [`webhook`]); the cycle reads changes by cursor as usual, so a webhook
//! can make a handoff faster but can never lose or duplicate one. Which
//! tools push, and why the others stay on polling, is each connector
//! crate's documentation (and `docs/webhooks.md`).

mod actions;
mod auth;
mod chart;
pub mod commands;
pub mod funnel;
mod health;
mod html;
mod page;
mod routes;
pub mod snapshot;
mod state;
pub mod webhook;

use std::future::Future;
use std::io;

use axum::routing::{get, post};
use axum::Router;
use tokio::net::TcpListener;
use tracing::{info, warn};

pub use commands::{command_channel, AdminCommand};
pub use health::{ConnectorAuth, PipelineState};
pub use snapshot::StatusSnapshot;
pub use state::{AdminParts, AdminState};

use crate::config::DaemonConfig;

/// The routes, over `state` (exposed for tests that drive it in-process).
pub fn router(state: AdminState) -> Router {
    Router::new()
        .route("/healthz", get(routes::healthz))
        .route("/readyz", get(routes::readyz))
        .route("/metrics", get(routes::metrics))
        .route("/status", get(routes::status_page))
        .route("/", get(routes::status_page))
        .route("/api/status", get(routes::api_status))
        .route("/api/pipelines/{name}/run", post(actions::run))
        .route("/api/pipelines/{name}/pause", post(actions::pause))
        .route("/api/pipelines/{name}/resume", post(actions::resume))
        .route("/api/pipelines/{name}/resync", post(actions::resync))
        .route(
            "/api/dlq/{pipeline}/{side}/{record}/retry",
            post(actions::dlq_retry),
        )
        .route(
            "/api/dlq/{pipeline}/{side}/{record}/drop",
            post(actions::dlq_drop),
        )
        .route("/webhooks/{kind}", post(webhook::receive))
        .with_state(state)
}

/// Serves the admin API on `listener` until `shutdown` resolves, then
/// finishes the requests in flight. Installs the Prometheus recorder (once
/// per process) so metrics recorded from then on are exported.
pub async fn serve(
    listener: TcpListener,
    state: AdminState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    match crate::metrics::prometheus() {
        Ok(_) => state.register_metrics(),
        Err(e) => warn!(error = %e, "/metrics will answer 500"),
    }
    if let Ok(addr) = listener.local_addr() {
        info!(%addr, "admin server listening");
    }
    axum::serve(listener, router(state))
        .with_graceful_shutdown(shutdown)
        .await
}

/// Binds `config.admin_listen`. A non-loopback address is refused unless
/// `admin_allow_non_loopback = true`, and then logged as a warning: the
/// server speaks plain HTTP and its pages are readable without a token.
pub async fn bind(config: &DaemonConfig) -> io::Result<TcpListener> {
    let addr = config.admin_listen;
    if !addr.ip().is_loopback() {
        if !config.admin_allow_non_loopback {
            return Err(io::Error::new(
                io::ErrorKind::PermissionDenied,
                format!(
                    "admin_listen {addr} is not a loopback address; set admin_allow_non_loopback = true to allow it"
                ),
            ));
        }
        warn!(%addr, "the admin server listens on a non-loopback address: put a TLS proxy and a firewall in front of it");
    }
    TcpListener::bind(addr).await
}
