//! The daemon's parts put together: config → state store, token vault,
//! connectors and pipelines; one cycle of everything, or the scheduled loop
//! until shutdown. The CLI, the demo and the end-to-end tests all go
//! through here, so they exercise the same code.

use std::sync::Arc;

use leadbridge_core::auth::{AuthConfig, RefreshTokenSink};
use tokio::sync::watch;
use tracing::{error, warn};

use crate::config::Config;
use crate::engine::build::{build, BuildError, Built, TokenHooks};
use crate::engine::clock::{Clock, SystemClock};
use crate::engine::cycle::{CycleError, CycleReport};
use crate::engine::runner::{run_cycle, run_scheduled};
use crate::state::{SledStore, StateError, StateStore, TokenVault};

/// Why the daemon could not start.
#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    /// The state directory could not be opened (or another instance holds it).
    #[error(transparent)]
    State(#[from] StateError),
    /// The connectors or pipelines could not be built.
    #[error(transparent)]
    Build(#[from] BuildError),
}

/// A daemon ready to run.
pub struct Daemon {
    /// The config it runs.
    pub config: Config,
    /// Its state.
    pub store: Arc<dyn StateStore>,
    /// Its connectors and pipelines.
    pub built: Built,
    /// Its clock.
    pub clock: Arc<dyn Clock>,
}

impl Daemon {
    /// Opens the state directory and builds every connector and pipeline.
    pub fn open(config: Config) -> Result<Self, DaemonError> {
        let store = SledStore::open(&config.daemon.state_dir)?;
        let hooks = PersistingHooks::new(store.vault()?, &config);
        let built = build(&config, &hooks)?;
        Ok(Self {
            config,
            store: Arc::new(store),
            built,
            clock: Arc::new(SystemClock),
        })
    }

    /// One cycle of every pipeline, in config order; each pipeline's result.
    pub async fn run_once(&self, dry_run: bool) -> Vec<(String, Result<CycleReport, CycleError>)> {
        let mut results = Vec::new();
        for scheduled in &self.built.pipelines {
            let p = &scheduled.pipeline;
            let result = run_cycle(p, &*self.store, &*self.clock, dry_run).await;
            if let Err(e) = &result {
                error!(pipeline = %p.name, error = %e, "cycle failed");
            }
            results.push((p.name.clone(), result));
        }
        results
    }

    /// Runs every pipeline on its schedule until `shutdown` turns true.
    pub async fn run_until(&self, shutdown: watch::Receiver<bool>) {
        run_scheduled(
            self.built.pipelines.clone(),
            self.store.clone(),
            self.clock.clone(),
            shutdown,
        )
        .await;
    }
}

/// Rotated refresh tokens go to the vault in the state directory (owner-only
/// files), keyed to the configured token they replaced.
struct PersistingHooks {
    vault: TokenVault,
    configured: std::collections::BTreeMap<String, secrecy::SecretString>,
}

impl PersistingHooks {
    fn new(vault: TokenVault, config: &Config) -> Self {
        let configured = config
            .connectors
            .iter()
            .filter_map(|(name, c)| match c.auth() {
                AuthConfig::OAuth2Refresh { refresh_token, .. } => {
                    Some((name.clone(), refresh_token.clone()))
                }
                _ => None,
            })
            .collect();
        Self { vault, configured }
    }
}

impl TokenHooks for PersistingHooks {
    fn sink(&self, name: &str) -> Option<Arc<dyn RefreshTokenSink>> {
        let configured = self.configured.get(name)?.clone();
        match self.vault.sink(name, configured) {
            Ok(sink) => Some(sink),
            Err(e) => {
                warn!(connector = name, error = %e, "rotated refresh tokens will not be persisted");
                None
            }
        }
    }

    /// A stored rotation is used instead of the configured refresh token
    /// until the configured one changes.
    fn auth(&self, name: &str, configured: &AuthConfig) -> AuthConfig {
        match configured {
            AuthConfig::OAuth2Refresh {
                client_id,
                client_secret,
                refresh_token,
                token_url,
            } => {
                let current = self.vault.current(name, refresh_token).unwrap_or_else(|e| {
                    warn!(connector = name, error = %e, "cannot read the stored refresh token; using the configured one");
                    refresh_token.clone()
                });
                AuthConfig::OAuth2Refresh {
                    client_id: client_id.clone(),
                    client_secret: client_secret.clone(),
                    refresh_token: current,
                    token_url: token_url.clone(),
                }
            }
            other => other.clone(),
        }
    }
}
