//! `leadbridge resync --config F --pipeline P`: re-read both tools from the
//! beginning at the next cycle. Safe at any time: links and fingerprints
//! stay, so re-read records that are in sync cause no writes, and
//! handoffs upsert by key.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use super::common::{load_config, runtime};
use crate::state::{Commit, Side};

/// Flags of `leadbridge resync`.
#[derive(Debug, Args)]
pub struct ResyncArgs {
    /// The config file.
    #[arg(long, short = 'c', value_name = "FILE")]
    pub config: PathBuf,
    /// The pipeline to re-read.
    #[arg(long)]
    pub pipeline: String,
}

/// Resets the pipeline's cursors.
pub fn run(args: ResyncArgs) -> anyhow::Result<ExitCode> {
    let config = match load_config(&args.config) {
        Ok(c) => c,
        Err(code) => return Ok(code),
    };
    let Some(p) = config.pipeline(&args.pipeline) else {
        anyhow::bail!(
            "no pipeline named {:?} in {}",
            args.pipeline,
            args.config.display()
        );
    };
    let store = crate::state::open(&config.daemon.state_dir)?.store;
    let mut commit = Commit::new(p.name.clone());
    commit.reset_cursor(Side::Marketing, p.marketing.object.clone());
    commit.reset_cursor(Side::Crm, p.crm.side.object.clone());
    runtime()?.block_on(store.commit(&commit))?;
    println!(
        "{}: cursors reset; the next cycle re-reads both tools from the beginning",
        p.name
    );
    Ok(ExitCode::SUCCESS)
}
