//! `leadbridge check --config FILE`: validates a config offline, as ops do
//! before a deploy and as systemd does in `ExecStartPre=`/`ExecReload=`.
//! Prints every problem, one per line (`file:line:col: error: …`), and exits
//! non-zero; prints a one-line summary and exits 0 when the file is valid.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use crate::config::Config;

/// Arguments of `leadbridge check`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// The config file to check.
    #[arg(long, short = 'c', value_name = "FILE")]
    pub config: PathBuf,
}

/// Checks the file; secrets are resolved from this process's environment,
/// so run it with the daemon's environment (as systemd's `ExecStartPre=` does).
pub fn run(args: CheckArgs) -> anyhow::Result<ExitCode> {
    match Config::load(&args.config) {
        Ok(config) => {
            let pipelines: Vec<&str> = config.pipelines.iter().map(|p| p.name.as_str()).collect();
            let connectors: Vec<String> = config
                .connectors
                .values()
                .map(|c| format!("{} ({})", c.name, c.kind()))
                .collect();
            println!(
                "{}: ok: {} pipeline{} ({}), {} connector{} ({})",
                args.config.display(),
                pipelines.len(),
                if pipelines.len() == 1 { "" } else { "s" },
                pipelines.join(", "),
                connectors.len(),
                if connectors.len() == 1 { "" } else { "s" },
                connectors.join(", "),
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(errors) => {
            for e in errors.iter() {
                eprintln!("{e}");
            }
            eprintln!(
                "{}: {} problem{} found",
                args.config.display(),
                errors.len(),
                if errors.len() == 1 { "" } else { "s" }
            );
            Ok(ExitCode::FAILURE)
        }
    }
}
