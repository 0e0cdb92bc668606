//! The daemon's parts put together: config → state store, token vault,
//! connectors and pipelines; one cycle of everything, or the supervised
//! loop until shutdown. The CLI, the demo and the end-to-end tests all go
//! through here, so they exercise the same code.
//!
//! Lifecycle of [`Daemon::run`] (the CLI maps signals onto it):
//!
//! - start: [`Daemon::open`] (config already valid, state opened, which
//!   fails on a second instance), [`Daemon::authenticate`] (one metadata
//!   call per connector object, so bad credentials fail the start), then
//!   `run` starts every pipeline and tells systemd `READY=1`;
//! - [`Input::Reload`] (SIGHUP): re-read the config; an invalid one is
//!   logged problem by problem and the last good one keeps running; a
//!   valid one is applied, restarting only pipelines whose key changed
//!   (`reload.rs`); state is never reopened;
//! - [`Input::Command`] (the admin API): run now, pause, resume;
//! - the watchdog is pinged only while every pipeline task is alive;
//! - shutdown: pipelines stop at a page boundary after committing the batch
//!   in flight, bounded by `shutdown_grace` ([`Stopped`]).

pub mod live_check;
mod notify;
mod reload;
mod status_line;

use std::collections::BTreeSet;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use leadbridge_core::auth::{AuthConfig, RefreshTokenSink};
use tokio::sync::{mpsc, oneshot, watch};
use tracing::{error, info, warn};

pub use notify::Notifier;

use crate::config::Config;
use crate::engine::build::{build, BuildError, Built, TokenHooks};
use crate::engine::clock::{Clock, SystemClock};
use crate::engine::cycle::{CycleError, CycleReport};
use crate::engine::runner::{
    run_cycle, run_scheduled, ApplySummary, ConfigKey, PipelineCommand, Scheduled, Supervisor,
    UnknownPipeline,
};
use crate::engine::schedule::Schedule;
use crate::state::{StateError, StateStore, TokenVault};
use status_line::StatusLine;

/// Why the daemon could not start.
#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    /// The state directory could not be opened (or another instance holds it).
    #[error(transparent)]
    State(#[from] StateError),
    /// The connectors or pipelines could not be built.
    #[error(transparent)]
    Build(#[from] BuildError),
    /// The config does not fit the tools (credentials refused, a field
    /// that does not exist or cannot be written, an owner who is not a
    /// user…): every problem with the file:line:col of the setting.
    #[error("the config does not fit the tools:\n{0}")]
    LiveCheck(crate::config::ConfigErrors),
}

/// Something the running daemon is asked to do from outside its schedule.
#[derive(Debug)]
pub enum Input {
    /// Re-read the config file and apply it (SIGHUP, `systemctl reload`).
    Reload,
    /// Steer pipelines (the admin API's buttons).
    Command {
        /// One pipeline, or every pipeline when `None`.
        pipeline: Option<String>,
        /// What to do.
        command: PipelineCommand,
        /// Told whether the pipeline exists, when the sender wants to know.
        reply: Option<oneshot::Sender<Result<(), UnknownPipeline>>>,
    },
}

impl From<crate::admin::AdminCommand> for Input {
    /// The daemon's form of an admin request: a command for one pipeline,
    /// nobody waiting for the answer (the admin server already answered).
    fn from(command: crate::admin::AdminCommand) -> Self {
        let (pipeline, command) = command.into_pipeline_command();
        Input::Command {
            pipeline: Some(pipeline),
            command,
            reply: None,
        }
    }
}

/// Forwards every admin command to the daemon's input channel until either
/// side closes: spawned next to the admin server.
pub async fn forward_admin_commands(
    mut commands: mpsc::Receiver<crate::admin::AdminCommand>,
    inputs: mpsc::UnboundedSender<Input>,
) {
    while let Some(command) = commands.recv().await {
        if inputs.send(Input::from(command)).is_err() {
            break;
        }
    }
}

/// How [`Daemon::run`] ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stopped {
    /// Every pipeline committed its batch in flight and stopped.
    Clean,
    /// Pipelines were still busy when the grace period ran out; what they
    /// had not committed is replayed from intents at the next start.
    GraceExpired(Duration),
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
    /// Where rotated refresh tokens go (connectors rebuilt on reload too).
    vault: TokenVault,
    /// The admin server's view, when one serves: told of every pipeline
    /// event (readiness, halts, pauses) and of the topology after a reload.
    pub admin: Option<crate::admin::AdminState>,
}

impl Daemon {
    /// The admin server's state over this daemon: its store, clock,
    /// connectors, pipelines, admin token and webhook verifiers.
    pub fn admin_state(
        &self,
        commands: mpsc::Sender<crate::admin::AdminCommand>,
    ) -> crate::admin::AdminState {
        crate::admin::AdminState::new(crate::admin::AdminParts {
            store: self.store.clone(),
            clock: self.clock.clone(),
            connectors: self.built.connectors.clone(),
            pipelines: self.built.pipelines.clone(),
            commands,
            admin_token: self.config.daemon.admin_token.clone(),
            webhooks: self.webhooks(),
        })
    }

    /// The connectors that verify their tool's pushes, for the admin
    /// server's `POST /webhooks/<kind>`.
    pub fn webhooks(&self) -> Vec<crate::admin::webhook::WebhookEndpoint> {
        self.config
            .connectors
            .values()
            .filter_map(|c| {
                c.spec
                    .webhook()
                    .map(|verifier| crate::admin::webhook::WebhookEndpoint {
                        kind: c.kind(),
                        connector: c.name.clone(),
                        verifier,
                    })
            })
            .collect()
    }

    /// Opens the state directory and builds every connector and pipeline.
    pub fn open(config: Config) -> Result<Self, DaemonError> {
        let crate::state::OpenState { store, vault } =
            crate::state::open(&config.daemon.state_dir)?;
        let hooks = PersistingHooks::new(vault.clone(), &config);
        let built = build(&config, &hooks)?;
        Ok(Self {
            config,
            store,
            built,
            clock: Arc::new(SystemClock),
            vault,
            admin: None,
        })
    }

    /// Proves every connector can talk to its tool before the daemon says
    /// it is ready: one `describe` per object a pipeline uses (a metadata
    /// read that needs valid credentials and costs one API call). The
    /// first failure is returned, so bad credentials fail the start with
    /// the connector's name instead of halting pipelines later.
    pub async fn authenticate(&self) -> Result<live_check::Findings, DaemonError> {
        verified(&self.config, &self.built).await
    }

    /// The live check of the config against the tools, without refusing
    /// anything: what `leadbridge check --online` prints.
    pub async fn check_online(&self) -> live_check::Findings {
        let findings = live_check::check(&self.config, &self.built.connectors).await;
        learn_types(&self.built, &findings);
        findings
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

    /// Serves the admin server (bound first, so a port in use fails the
    /// start before READY) and runs the daemon until `shutdown`; the admin
    /// API's commands arrive as [`Input::Command`]s on `inputs`.
    pub async fn serve(
        mut self,
        inputs: mpsc::UnboundedSender<Input>,
        inputs_rx: mpsc::UnboundedReceiver<Input>,
        shutdown: impl Future<Output = ()>,
        notifier: &Notifier,
    ) -> std::io::Result<Stopped> {
        let listener = crate::admin::bind(&self.config.daemon).await?;
        let (commands, inbox) = crate::admin::command_channel();
        let admin = self.admin_state(commands);
        self.admin = Some(admin.clone());
        let (stop_admin, admin_stopped) = watch::channel(false);
        let forwarder = tokio::spawn(forward_admin_commands(inbox, inputs));
        let server = tokio::spawn(crate::admin::serve(listener, admin, async move {
            let mut stopped = admin_stopped;
            let _ = stopped.wait_for(|s| *s).await;
        }));
        let stopped = self.run(inputs_rx, shutdown, notifier).await;
        forwarder.abort();
        let _ = stop_admin.send(true);
        match server.await {
            Ok(Err(e)) => error!(error = %e, "the admin server failed"),
            Err(e) => error!(error = %e, "the admin server task failed"),
            Ok(Ok(())) => {}
        }
        Ok(stopped)
    }

    /// Runs the daemon: starts every pipeline, tells systemd it is ready,
    /// acts on `inputs` (reload, commands) and pings the watchdog while
    /// healthy, until `shutdown` completes; then stops every pipeline at a
    /// page boundary within the current config's `shutdown_grace`.
    pub async fn run(
        mut self,
        mut inputs: mpsc::UnboundedReceiver<Input>,
        shutdown: impl Future<Output = ()>,
        notifier: &Notifier,
    ) -> Stopped {
        let mut supervisor = Supervisor::new(self.store.clone(), self.clock.clone());
        supervisor.apply(self.desired());
        let mut status = StatusLine::new(&supervisor.pipelines());
        info!(
            pipelines = supervisor.pipelines().len(),
            state_dir = %self.config.daemon.state_dir.display(),
            "leadbridge running"
        );
        notifier.ready(&status.line());
        let mut watchdog = notifier
            .watchdog_timeout()
            .map(|t| tokio::time::interval((t / 2).max(Duration::from_millis(100))));
        let mut unhealthy_reported = false;
        let mut inputs_open = true;
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                _ = &mut shutdown => break,
                input = inputs.recv(), if inputs_open => match input {
                    Some(Input::Reload) => {
                        notifier.reloading();
                        notifier.status("reloading the config");
                        self.reload(&mut supervisor).await;
                        if let Some(admin) = &self.admin {
                            admin.set_topology(
                                self.built.connectors.clone(),
                                self.built.pipelines.clone(),
                                self.webhooks(),
                            );
                        }
                        status.reset(&supervisor.pipelines());
                        notifier.ready(&status.line());
                    }
                    Some(Input::Command { pipeline, command, reply }) => {
                        let result = match &pipeline {
                            Some(name) => supervisor.command(name, command),
                            None => {
                                supervisor.command_all(command);
                                Ok(())
                            }
                        };
                        if let Some(reply) = reply {
                            let _ = reply.send(result);
                        }
                    }
                    None => inputs_open = false,
                },
                Some(event) = supervisor.next_event() => {
                    if let Some(admin) = &self.admin {
                        admin.observe(&event);
                    }
                    status.apply(&event);
                    notifier.status(&status.line());
                }
                _ = async {
                    match watchdog.as_mut() {
                        Some(w) => { w.tick().await; }
                        None => std::future::pending().await,
                    }
                } => {
                    if supervisor.healthy() {
                        notifier.watchdog();
                    } else if !unhealthy_reported {
                        unhealthy_reported = true;
                        error!(
                            dead = ?supervisor.dead(),
                            "a pipeline task died; withholding the watchdog ping so systemd restarts the daemon"
                        );
                    }
                }
            }
        }
        let grace = self.config.daemon.shutdown_grace;
        notifier.stopping();
        notifier.status("stopping: finishing the batch in flight");
        info!(
            grace_s = grace.as_secs_f64(),
            "stopping: finishing the batch in flight"
        );
        match tokio::time::timeout(grace, supervisor.shutdown()).await {
            Ok(()) => Stopped::Clean,
            Err(_) => Stopped::GraceExpired(grace),
        }
    }

    /// The pipelines to run, each with its config key.
    fn desired(&self) -> Vec<(Scheduled, ConfigKey)> {
        let connectors = reload::connector_keys(&self.config);
        self.built
            .pipelines
            .iter()
            .map(|s| {
                let key = match self.config.pipeline(&s.pipeline.name) {
                    Some(p) => reload::pipeline_key(p, &connectors),
                    None => [0; 32],
                };
                (s.clone(), key)
            })
            .collect()
    }

    /// Re-reads the config file and applies it; on any problem, logs it and
    /// keeps the running config.
    async fn reload(&mut self, supervisor: &mut Supervisor) {
        info!(config = %self.config.path.display(), "reloading the config");
        let new = match Config::load(&self.config.path) {
            Ok(c) => c,
            Err(errors) => {
                for e in errors.iter() {
                    error!(problem = %e, "config problem");
                }
                error!(
                    problems = errors.len(),
                    "reload refused: the config is invalid; still running the last good config"
                );
                return;
            }
        };
        match self.apply_config(new, supervisor).await {
            Ok(summary) => info!(
                started = ?summary.started,
                restarted = ?summary.restarted,
                unchanged = ?summary.unchanged,
                stopped = ?summary.stopped,
                "config reloaded"
            ),
            Err(e) => error!(
                error = %e,
                "reload refused; still running the last good config"
            ),
        }
    }

    /// Builds what changed in `new` (unchanged connectors are reused, with
    /// their rate limiters, budgets and access tokens), checks changed
    /// connectors as at start, and hands the pipelines to the supervisor.
    async fn apply_config(
        &mut self,
        mut new: Config,
        supervisor: &mut Supervisor,
    ) -> Result<ApplySummary, DaemonError> {
        let old = &self.config.daemon;
        if new.daemon.state_dir != old.state_dir {
            warn!("`state_dir` changes need a restart; keeping the running state directory");
            new.daemon.state_dir = old.state_dir.clone();
        }
        if new.daemon.admin_listen != old.admin_listen {
            warn!("`admin_listen` changes need a restart; keeping the running address");
            new.daemon.admin_listen = old.admin_listen;
        }
        if new.daemon.log_format != old.log_format {
            warn!("`log_format` changes need a restart; keeping the running format");
            new.daemon.log_format = old.log_format;
        }
        let old_keys = reload::connector_keys(&self.config);
        let new_keys = reload::connector_keys(&new);
        let hooks = PersistingHooks::new(self.vault.clone(), &new);
        let mut connectors = std::collections::BTreeMap::new();
        let mut changed = BTreeSet::new();
        for (name, c) in &new.connectors {
            let reuse = old_keys.get(name) == new_keys.get(name);
            match self.built.connectors.get(name) {
                Some(existing) if reuse => {
                    connectors.insert(name.clone(), existing.clone());
                }
                _ => {
                    connectors.insert(name.clone(), crate::engine::build::connector(c, &hooks)?);
                    changed.insert(name.clone());
                }
            }
        }
        let mut pipelines = Vec::new();
        for p in &new.pipelines {
            pipelines.push(Scheduled {
                pipeline: crate::engine::build::pipeline(&new, p, &connectors)?,
                schedule: Schedule::from_cron(p.schedule.clone()),
            });
        }
        let built = Built {
            connectors,
            pipelines,
        };
        if !changed.is_empty() {
            info!(connectors = ?changed, "connectors changed: checking the config against the tools");
        }
        verified(&new, &built).await?;
        self.config = new;
        self.built = built;
        Ok(supervisor.apply(self.desired()))
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

/// The live check, its warnings logged; its errors refuse the start (or
/// the reload).
async fn verified(config: &Config, built: &Built) -> Result<live_check::Findings, DaemonError> {
    let findings = live_check::check(config, &built.connectors).await;
    learn_types(built, &findings);
    for w in &findings.warnings {
        warn!(warning = %w, "config warning");
    }
    if findings.is_ok() {
        info!(
            objects = findings.schemas.len(),
            "every connector answered; the config fits the tools"
        );
        Ok(findings)
    } else {
        Err(DaemonError::LiveCheck(crate::config::ConfigErrors {
            errors: findings.errors,
        }))
    }
}

/// Tells each pipeline what its fields hold, from the metadata the live
/// check read, so values are written as the fields expect them.
fn learn_types(built: &Built, findings: &live_check::Findings) {
    for s in &built.pipelines {
        let p = &s.pipeline;
        for (side, endpoint) in [
            (crate::Side::Marketing, &p.marketing),
            (crate::Side::Crm, &p.crm),
        ] {
            if let Some(schema) = findings
                .schemas
                .get(&(endpoint.connector_name.clone(), endpoint.object.clone()))
            {
                p.planner.fields.set_vendor_types(side, schema);
            }
        }
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
