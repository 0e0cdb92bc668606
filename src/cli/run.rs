//! `leadbridge run --config F [--once] [--dry-run]`: the daemon.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use tokio::sync::watch;
use tracing::{error, info};

use super::common::{init_logging, load_config, runtime};
use super::simulate::stop_requested;
use crate::daemon::Daemon;

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

/// Runs the daemon until SIGTERM/SIGINT, or one cycle with `--once`.
pub fn run(args: RunArgs) -> anyhow::Result<ExitCode> {
    let config = match load_config(&args.config) {
        Ok(c) => c,
        Err(code) => return Ok(code),
    };
    init_logging(config.daemon.log_format, "info");
    let grace = config.daemon.shutdown_grace;
    runtime()?.block_on(async move {
        let daemon = Daemon::open(config)?;
        if args.once || args.dry_run {
            return Ok(once(&daemon, args.dry_run).await);
        }
        let (stop, stopped) = watch::channel(false);
        info!(pipelines = daemon.built.pipelines.len(), "leadbridge running");
        let running = daemon.run_until(stopped);
        tokio::pin!(running);
        tokio::select! {
            _ = &mut running => return Ok(ExitCode::SUCCESS),
            _ = stop_requested() => {}
        }
        info!(grace_s = grace.as_secs(), "stopping: finishing the batch in flight");
        let _ = stop.send(true);
        match tokio::time::timeout(grace, running).await {
            Ok(()) => {
                info!("stopped cleanly; state flushed");
                Ok(ExitCode::SUCCESS)
            }
            Err(_) => {
                error!("the batch in flight did not finish within the grace period; aborting (intents are replayed on the next start)");
                Ok(ExitCode::FAILURE)
            }
        }
    })
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
