//! `leadbridge simulate <tool>`: serves a faithful local simulator of a
//! tool's API on loopback, for people trying leadbridge without an account,
//! for the demo, and for the benchmarks.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use leadbridge_core::sim::{RunningSimulator, SimulatorOptions, TokenSettings};

/// Flags of `leadbridge simulate`.
#[derive(Debug, Args)]
pub struct SimulateArgs {
    /// The tool to simulate, by its connector kind.
    #[arg(value_parser = super::common::kind_parser())]
    pub tool: String,
    /// Where to listen (port 0 picks a free one; the URL is printed).
    #[arg(long, default_value = "127.0.0.1:0")]
    pub listen: SocketAddr,
    /// A bearer token accepted as valid (a private-app token, a session
    /// id). Repeat for several.
    #[arg(long = "token")]
    pub tokens: Vec<String>,
    /// Synthetic people seeded into the tool's main object.
    #[arg(long, default_value_t = 0)]
    pub seed_records: u64,
    /// The population seed for them (the same seed gives the same people).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// The OAuth2 client id its token endpoint accepts.
    #[arg(long, default_value = "sim-client")]
    pub client_id: String,
    /// The OAuth2 client secret its token endpoint accepts.
    #[arg(long, default_value = "sim-secret")]
    pub client_secret: String,
    /// The first refresh token its token endpoint accepts (it rotates).
    #[arg(long)]
    pub refresh_token: Option<String>,
    /// Access token lifetime in seconds.
    #[arg(long, default_value_t = 1800)]
    pub token_lifetime: u64,
    /// Do not enforce the vendor's rate limits (for benchmarks).
    #[arg(long)]
    pub no_rate_limits: bool,
}

impl SimulateArgs {
    fn options(&self) -> SimulatorOptions {
        SimulatorOptions {
            listen: self.listen,
            tokens: TokenSettings {
                client_id: self.client_id.clone(),
                client_secret: self.client_secret.clone(),
                initial_refresh_token: self.refresh_token.clone(),
                static_tokens: self.tokens.clone(),
                access_lifetime: Duration::from_secs(self.token_lifetime),
                rotate_refresh_tokens: true,
            },
            rate_limits: !self.no_rate_limits,
            seed_records: self.seed_records,
            seed: self.seed,
        }
    }
}

/// Starts the simulator of the tool of `kind`.
pub async fn start(kind: &str, options: SimulatorOptions) -> std::io::Result<RunningSimulator> {
    let entry = crate::registry::builtin()
        .get(kind)
        .and_then(|f| f.simulator())
        .ok_or_else(|| {
            std::io::Error::new(
                std::io::ErrorKind::NotFound,
                format!("no simulator for `{kind}`"),
            )
        })?;
    (entry.start)(options).await
}

/// Resolves when the process is asked to stop (SIGTERM or Ctrl-C). The
/// SIGTERM handler is installed when this is called, not when it is first
/// polled, so a SIGTERM sent right after the caller announced itself (a
/// test reading the simulator's URL, systemd after READY=1) is not lost to
/// the default action. Call it inside the runtime.
pub fn stop_requested() -> impl std::future::Future<Output = ()> {
    #[cfg(unix)]
    let term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    async move {
        #[cfg(unix)]
        if let Some(mut term) = term {
            tokio::select! {
                _ = term.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
            return;
        }
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// Serves the simulator until SIGTERM or Ctrl-C.
pub fn run(args: SimulateArgs) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    runtime.block_on(async {
        let sim = start(&args.tool, args.options()).await.with_context(|| {
            format!(
                "cannot start the {} simulator on {}",
                args.tool, args.listen
            )
        })?;
        let name = crate::registry::builtin()
            .get(&args.tool)
            .map_or("the", |f| f.display_name());
        let stop = stop_requested();
        println!("{name} simulator listening on {}", sim.url());
        println!(
            "control surface: {}/__sim (seed, clock, faults, requests)",
            sim.url()
        );
        if args.seed_records > 0 {
            println!(
                "seeded {} synthetic people (seed {})",
                args.seed_records, args.seed
            );
        }
        stop.await;
        sim.server.stop().await.context("stopping the simulator")?;
        println!("{name} simulator stopped");
        Ok(ExitCode::SUCCESS)
    })
}
