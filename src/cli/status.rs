//! `leadbridge status --config F [--json]`: per pipeline, the last cycle,
//! cursors, what moved, the dead letter queue and the last error.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use serde::Serialize;

use super::common::{load_config, runtime};
use crate::state::{CursorEntry, PipelineCounts, PipelineStatus, StateStore};

/// Flags of `leadbridge status`.
#[derive(Debug, Args)]
pub struct StatusArgs {
    /// The config file.
    #[arg(long, short = 'c', value_name = "FILE", env = super::common::CONFIG_ENV, default_value = super::common::DEFAULT_CONFIG)]
    pub config: PathBuf,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

/// One pipeline's status, as printed.
#[derive(Debug, Serialize)]
pub struct PipelineReport {
    /// The pipeline.
    pub name: String,
    /// Its last cycle and totals.
    pub status: PipelineStatus,
    /// Links, dead letters, pending intents.
    pub counts: PipelineCounts,
    /// Where each change pass resumes.
    pub cursors: Vec<CursorEntry>,
}

/// Reads every configured pipeline's status from the state directory.
pub async fn collect(
    store: &dyn StateStore,
    names: &[String],
) -> anyhow::Result<Vec<PipelineReport>> {
    let mut out = Vec::new();
    for name in names {
        out.push(PipelineReport {
            name: name.clone(),
            status: store.status(name).await?.unwrap_or_default(),
            counts: store.counts(name).await?,
            cursors: store.cursors(name).await?,
        });
    }
    Ok(out)
}

/// Prints the status.
pub fn run(args: StatusArgs) -> anyhow::Result<ExitCode> {
    let config = match load_config(&args.config) {
        Ok(c) => c,
        Err(code) => return Ok(code),
    };
    let names: Vec<String> = config.pipelines.iter().map(|p| p.name.clone()).collect();
    let store = crate::state::open(&config.daemon.state_dir)?.store;
    let reports = runtime()?.block_on(collect(&*store, &names))?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&reports)?);
        return Ok(ExitCode::SUCCESS);
    }
    print!("{}", super::tables::status(&reports));
    Ok(ExitCode::SUCCESS)
}
