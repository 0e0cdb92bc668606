//! `leadbridge run --config F [--once] [--dry-run]`: the daemon.
//!
//! Signals, as systemd and ops send them:
//! - SIGTERM / SIGINT: stop taking new work, let every pipeline commit its
//!   batch in flight, flush, exit 0; past `shutdown_grace`, exit 1 loudly
//!   (what was not committed is replayed from intents at the next start);
//! - SIGHUP: re-read the config; an invalid one is logged and ignored, a
//!   valid one applied without restarting unchanged pipelines.
//!
//! With `$NOTIFY_SOCKET` set (systemd `Type=notify`), `READY=1` is sent once
//! the config is valid, the state is open and every connector answered.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Args;
use tokio::sync::mpsc;
use tracing::{error, info};

use super::common::{init_logging, load_config, runtime};
use super::simulate::stop_requested;
use crate::daemon::{Daemon, Input, Notifier, Stopped};

/// Flags of `leadbridge run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// The config file.
    #[arg(long, short = 'c', value_name = "FILE")]
    pub config: PathBuf,
    /// Run one cycle of every pipeline, then exit (0 when all succeeded).
    #[arg(long)]
    pub once: bool,
    /// Read and decide, but write nothing anywhere; print what would change.
    #[arg(long)]
    pub dry_run: bool,
}

/// Exit code when start-up fails after the config was valid (state locked,
/// credentials refused): systemd's `Restart=on-failure` retries it.
const START_FAILED: u8 = 1;

/// Runs the daemon until SIGTERM/SIGINT, or one cycle with `--once`.
pub fn run(args: RunArgs) -> anyhow::Result<ExitCode> {
    let config = match load_config(&args.config) {
        Ok(c) => c,
        Err(code) => return Ok(code),
    };
    init_logging(config.daemon.log_format, "info");
    let rt = runtime()?;
    let code = rt.block_on(async move {
        let notifier = Notifier::from_env();
        notifier.status("opening the state directory");
        let daemon = match Daemon::open(config) {
            Ok(d) => d,
            Err(e) => {
                error!(error = %e, "cannot start");
                notifier.status(&format!("cannot start: {e}"));
                return ExitCode::from(START_FAILED);
            }
        };
        if args.once || args.dry_run {
            return once(&daemon, args.dry_run).await;
        }
        notifier.status("authenticating connectors");
        if let Err(e) = daemon.authenticate().await {
            error!(error = %e, "cannot start");
            notifier.status(&format!("cannot start: {e}"));
            return ExitCode::from(START_FAILED);
        }
        let (inputs, inputs_rx) = mpsc::unbounded_channel();
        let reloads = match forward_reloads(inputs.clone()) {
            Ok(task) => task,
            Err(e) => {
                error!(error = %e, "cannot listen for SIGHUP");
                return ExitCode::from(START_FAILED);
            }
        };
        let stopped = match daemon.serve(inputs, inputs_rx, stop_requested(), &notifier).await {
            Ok(stopped) => stopped,
            Err(e) => {
                error!(error = %e, "cannot bind the admin server");
                return ExitCode::from(START_FAILED);
            }
        };
        reloads.abort();
        match stopped {
            Stopped::Clean => {
                info!("stopped cleanly; state flushed");
                ExitCode::SUCCESS
            }
            Stopped::GraceExpired(grace) => {
                error!(
                    grace_s = grace.as_secs_f64(),
                    "the batch in flight did not finish within the grace period; aborting (intents are replayed on the next start)"
                );
                ExitCode::FAILURE
            }
        }
    });
    // A task that outlived the grace period must not hold the exit.
    rt.shutdown_timeout(Duration::from_secs(1));
    Ok(code)
}

/// Turns every SIGHUP into [`Input::Reload`].
fn forward_reloads(
    inputs: mpsc::UnboundedSender<Input>,
) -> std::io::Result<tokio::task::JoinHandle<()>> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut hup = signal(SignalKind::hangup())?;
    Ok(tokio::spawn(async move {
        while hup.recv().await.is_some() {
            info!("SIGHUP: reloading the config");
            if inputs.send(Input::Reload).is_err() {
                break;
            }
        }
    }))
}

async fn once(daemon: &Daemon, dry_run: bool) -> ExitCode {
    let mut failed = false;
    for (name, result) in daemon.run_once(dry_run).await {
        match result {
            Ok(report) => {
                let c = report.counts;
                println!(
                    "{name}: read {} marketing / {} crm, handed off {}, wrote {} crm / {} marketing, {} echoes, {} dead-lettered{}",
                    c.read_marketing,
                    c.read_crm,
                    report.handoffs,
                    c.written_crm,
                    c.written_marketing,
                    c.echoes,
                    c.dead_lettered,
                    if dry_run { " (dry run: nothing written)" } else { "" }
                );
                for line in report.planned {
                    println!("  would {line}");
                }
            }
            Err(e) => {
                failed = true;
                println!("{name}: failed: {e}");
            }
        }
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
