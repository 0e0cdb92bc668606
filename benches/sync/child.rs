//! The engine child: this benchmark binary re-run as
//! `sync --cycle-child CONFIG`, which opens the daemon exactly as
//! `leadbridge run --once` does (`Daemon::open`, `run_once`) but with the
//! connectors' client-side rate limiters lifted (`ConnectorSpec::unthrottled`)
//! — HubSpot's search limiter (5/s) has no config key, and it alone would
//! cap a backfill at 1,000 records/s. Its own process, so its RSS and CPU are its own.

use std::path::Path;
use std::process::ExitCode;

use leadbridge::config::Config;
use leadbridge::daemon::Daemon;

/// Runs one cycle of every pipeline of the config at `path`; prints the
/// same summary line per pipeline as `leadbridge run --once`.
pub fn run(path: &Path) -> anyhow::Result<ExitCode> {
    let mut config = Config::load(path).map_err(|e| anyhow::anyhow!("invalid config:\n{e}"))?;
    for connector in config.connectors.values_mut() {
        connector.spec = connector.spec.unthrottled();
    }
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new("info"))
        .with_writer(std::io::stderr)
        .init();
    // The daemon's runtime (`cli::common::runtime`): one thread.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let daemon = Daemon::open(config)?;
        let mut failed = false;
        for (name, result) in daemon.run_once(false).await {
            match result {
                Ok(report) => {
                    let c = report.counts;
                    println!(
                        "{name}: read {} marketing / {} crm, handed off {}, wrote {} crm / {} marketing, {} echoes, {} dead-lettered",
                        c.read_marketing,
                        c.read_crm,
                        report.handoffs,
                        c.written_crm,
                        c.written_marketing,
                        c.echoes,
                        c.dead_lettered,
                    );
                }
                Err(e) => {
                    failed = true;
                    println!("{name}: failed: {e}");
                }
            }
        }
        Ok(if failed {
            ExitCode::FAILURE
        } else {
            ExitCode::SUCCESS
        })
    })
}
