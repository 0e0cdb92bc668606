//! `leadbridge resync --config F --pipeline P`: re-read both tools from the
//! beginning at the next cycle. Safe at any time: links and fingerprints
//! stay, so re-read records that are in sync cause no writes, and
//! handoffs upsert by key.
//!
//! `--only-unlinked` is for after a handoff rule changed: contacts the new
//! rule qualifies are otherwise handed off only when they next change in
//! marketing, since each pass reads changes since its cursor. It resets
//! the marketing cursor alone: the next pass reads marketing from the
//! beginning and hands off the unlinked contacts that now qualify, while
//! linked ones are compared with what was last agreed (no write unless
//! they changed) and the CRM is not re-read.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use super::common::{load_config, runtime};
use crate::state::{Commit, Side};

/// Flags of `leadbridge resync`.
#[derive(Debug, Args)]
pub struct ResyncArgs {
    /// The config file.
    #[arg(long, short = 'c', value_name = "FILE", env = super::common::CONFIG_ENV, default_value = super::common::DEFAULT_CONFIG)]
    pub config: PathBuf,
    /// The pipeline to re-read.
    #[arg(long)]
    pub pipeline: String,
    /// Re-read marketing only, for the unlinked contacts a changed handoff
    /// rule now qualifies (the CRM side keeps its cursor).
    #[arg(long)]
    pub only_unlinked: bool,
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
    let mut commit = Commit::new(p.name.clone());
    commit.reset_cursor(Side::Marketing, p.marketing.object.clone());
    if !args.only_unlinked {
        commit.reset_cursor(Side::Crm, p.crm.side.object.clone());
    }
    let path = args.config.clone();
    let daemon = crate::daemon::Daemon::open(config.clone())?;
    let rt = runtime()?;
    // A resync re-reads everything: first make sure the config fits the tools.
    let findings = rt.block_on(daemon.check_online());
    if !super::common::print_findings(&findings, &path) {
        return Ok(super::exit::code(if findings.unreachable {
            super::exit::FAILED
        } else {
            super::exit::CONFIG
        }));
    }
    rt.block_on(daemon.store.commit(&commit))?;
    if args.only_unlinked {
        println!(
            "{}: marketing cursor reset; the next cycle re-reads marketing from the beginning and hands off the unlinked contacts the handoff rule now qualifies",
            p.name
        );
    } else {
        println!(
            "{}: cursors reset; the next cycle re-reads both tools from the beginning",
            p.name
        );
    }
    Ok(ExitCode::SUCCESS)
}
