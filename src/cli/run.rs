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

use super::common::{init_logging, load_config, print_findings, runtime};
use super::exit;
use super::simulate::stop_requested;
use crate::daemon::{Daemon, Input, Notifier, Stopped};

/// Flags of `leadbridge run`.
#[derive(Debug, Args)]
#[command(after_help = exit::HELP)]
pub struct RunArgs {
    /// The config file.
    #[arg(long, short = 'c', value_name = "FILE", env = super::common::CONFIG_ENV, default_value = super::common::DEFAULT_CONFIG)]
    pub config: PathBuf,
    /// Run one cycle of every pipeline, then exit (see the exit codes below).
    #[arg(long)]
    pub once: bool,
    /// Read and decide, but write nothing anywhere; print what would change.
    #[arg(long)]
    pub dry_run: bool,
    /// With --once or --dry-run: print each pipeline's outcome (and the
    /// dry run's plan) as JSON on stdout instead of lines.
    #[arg(long)]
    pub json: bool,
}

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
                return exit::code(exit::FAILED);
            }
        };
        // The same live check before any mode writes anything.
        notifier.status("checking the config against the tools");
        let findings = daemon.check_online().await;
        if !print_findings(&findings, &args.config) {
            error!(problems = findings.errors.len(), "cannot start: the config does not fit the tools");
            notifier.status("cannot start: the config does not fit the tools");
            return exit::code(if findings.unreachable { exit::FAILED } else { exit::CONFIG });
        }
        for w in &findings.warnings {
            tracing::warn!(warning = %w.as_warning(), "config warning");
        }
        if args.once || args.dry_run {
            return once(&daemon, args.dry_run, args.json).await;
        }
        let (inputs, inputs_rx) = mpsc::unbounded_channel();
        let reloads = match forward_reloads(inputs.clone()) {
            Ok(task) => task,
            Err(e) => {
                error!(error = %e, "cannot listen for SIGHUP");
                return exit::code(exit::FAILED);
            }
        };
        let stopped = match daemon.serve(inputs, inputs_rx, stop_requested(), &notifier).await {
            Ok(stopped) => stopped,
            Err(e) => {
                error!(error = %e, "cannot bind the admin server");
                return exit::code(exit::FAILED);
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

/// One cycle of every pipeline; the exit code says whether any failed
/// (3) or dead-lettered records (4).
async fn once(daemon: &Daemon, dry_run: bool, json: bool) -> ExitCode {
    let mut failed = false;
    let mut dead_lettered = 0;
    let mut outcomes = Vec::new();
    for (name, result) in daemon.run_once(dry_run).await {
        if json {
            outcomes.push(match &result {
                Ok(report) => serde_json::json!({
                    "pipeline": name,
                    "ok": true,
                    "dry_run": dry_run,
                    "counts": report.counts,
                    "handoffs": report.handoffs,
                    "planned": report.planned,
                }),
                Err(e) => serde_json::json!({
                    "pipeline": name,
                    "ok": false,
                    "dry_run": dry_run,
                    "error": e.to_string(),
                }),
            });
        }
        match result {
            Ok(report) if json => dead_lettered += report.counts.dead_lettered,
            Err(_) if json => failed = true,
            Ok(report) => {
                let c = report.counts;
                dead_lettered += c.dead_lettered;
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
    if json {
        match serde_json::to_string_pretty(&outcomes) {
            Ok(text) => println!("{text}"),
            Err(e) => error!(error = %e, "cannot print the outcome as JSON"),
        }
    }
    if failed {
        exit::code(exit::CYCLE_FAILED)
    } else if dead_lettered > 0 {
        eprintln!("{dead_lettered} record(s) went to the dead letter queue: `leadbridge dlq list` shows them and why");
        exit::code(exit::DEAD_LETTERS)
    } else {
        exit::code(exit::OK)
    }
}
