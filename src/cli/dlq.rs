//! `leadbridge dlq list|show|retry|drop`: the records that could not be
//! applied, why, and what to do about them.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand};

use super::common::{init_logging, load_config, runtime};
use crate::daemon::Daemon;
use crate::engine::cycle::{Cycle, RetryOutcome};
use crate::state::{Commit, DlqEntry, Side, StateStore};

/// Flags of `leadbridge dlq`.
#[derive(Debug, Args)]
pub struct DlqArgs {
    /// The config file.
    #[arg(long, short = 'c', value_name = "FILE", global = true, env = super::common::CONFIG_ENV, default_value = super::common::DEFAULT_CONFIG)]
    pub config: PathBuf,
    /// What to do.
    #[command(subcommand)]
    pub action: DlqAction,
}

/// The DLQ actions.
#[derive(Debug, Subcommand)]
pub enum DlqAction {
    /// One line per dead letter: pipeline, side, record, attempts, first/last seen, reason.
    List {
        /// Only this pipeline.
        #[arg(long)]
        pipeline: Option<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Everything about one dead letter, the record's fields included.
    Show(EntryArgs),
    /// Re-apply one dead letter (or all of a pipeline) against current state.
    Retry(EntryArgs),
    /// Forget one dead letter (or all of a pipeline).
    Drop(EntryArgs),
}

/// Which dead letter(s).
#[derive(Debug, Args)]
pub struct EntryArgs {
    /// The pipeline.
    #[arg(long)]
    pub pipeline: String,
    /// The record's id; omit with --all.
    pub record: Option<String>,
    /// The side the record was read from (default: whichever has it).
    #[arg(long, value_parser = ["marketing", "crm"])]
    pub side: Option<String>,
    /// Every dead letter of the pipeline.
    #[arg(long)]
    pub all: bool,
}

fn side_of(s: &Option<String>) -> Option<Side> {
    match s.as_deref() {
        Some("marketing") => Some(Side::Marketing),
        Some("crm") => Some(Side::Crm),
        _ => None,
    }
}

async fn select(store: &dyn StateStore, args: &EntryArgs) -> anyhow::Result<Vec<DlqEntry>> {
    let side = side_of(&args.side);
    let entries = store.dead_letters(&args.pipeline).await?;
    let chosen: Vec<DlqEntry> = entries
        .into_iter()
        .filter(|e| side.is_none_or(|s| s == e.side))
        .filter(|e| args.all || args.record.as_deref() == Some(e.record_id.as_str()))
        .collect();
    if chosen.is_empty() {
        anyhow::bail!(
            "no dead letter {} in pipeline {}",
            args.record.as_deref().unwrap_or("(none with --all)"),
            args.pipeline
        );
    }
    Ok(chosen)
}

/// Runs the DLQ command.
pub fn run(args: DlqArgs) -> anyhow::Result<ExitCode> {
    let path = args.config.clone();
    let config = match load_config(&path) {
        Ok(c) => c,
        Err(code) => return Ok(code),
    };
    init_logging(config.daemon.log_format, "warn");
    let names: Vec<String> = config.pipelines.iter().map(|p| p.name.clone()).collect();
    runtime()?.block_on(async move {
        let daemon = Daemon::open(config)?;
        let store = &*daemon.store;
        match args.action {
            DlqAction::List { pipeline, json } => {
                let mut all = Vec::new();
                for name in names
                    .iter()
                    .filter(|n| pipeline.as_ref().is_none_or(|p| p == *n))
                {
                    all.extend(store.dead_letters(name).await?);
                }
                if json {
                    println!("{}", serde_json::to_string_pretty(&all)?);
                } else if all.is_empty() {
                    println!("the dead letter queue is empty");
                } else {
                    print!("{}", super::tables::dead_letters(&all));
                }
                Ok(ExitCode::SUCCESS)
            }
            DlqAction::Show(which) => {
                for e in select(store, &which).await? {
                    println!("{}", serde_json::to_string_pretty(&e)?);
                }
                Ok(ExitCode::SUCCESS)
            }
            DlqAction::Drop(which) => {
                let entries = select(store, &which).await?;
                let mut commit = Commit::new(which.pipeline.clone());
                for e in &entries {
                    commit.remove_dead_letter(e.side, e.record_id.clone());
                }
                store.commit(&commit).await?;
                println!("dropped {} dead letter(s)", entries.len());
                Ok(ExitCode::SUCCESS)
            }
            DlqAction::Retry(which) => {
                let Some(scheduled) = daemon
                    .built
                    .pipelines
                    .iter()
                    .find(|s| s.pipeline.name == which.pipeline)
                else {
                    anyhow::bail!("no pipeline named {:?}", which.pipeline);
                };
                let mut failed = 0;
                for e in select(store, &which).await? {
                    let cycle = Cycle::new(&scheduled.pipeline, store, &*daemon.clock, false);
                    let outcome = cycle.retry(&e).await?;
                    let what = match &outcome {
                        RetryOutcome::Applied => "applied".to_owned(),
                        RetryOutcome::NothingToDo => "nothing to do any more; removed".to_owned(),
                        RetryOutcome::Gone => "the record no longer exists; removed".to_owned(),
                        RetryOutcome::StillFailing(reason) => {
                            failed += 1;
                            format!("still failing: {reason}")
                        }
                    };
                    println!("{} {} {}: {what}", e.pipeline, e.side.as_str(), e.record_id);
                }
                Ok(if failed == 0 {
                    ExitCode::SUCCESS
                } else {
                    ExitCode::FAILURE
                })
            }
        }
    })
}
