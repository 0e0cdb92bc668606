//! `leadbridge report --config F [--since 30d] [--by source|campaign|owner]
//! [--json|--csv] [--pipeline P]`: the shared funnel from the event log.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;
use jiff::{SignedDuration, Timestamp};

use super::common::{load_config, runtime};
use crate::report::{report, to_csv, to_text, GroupBy};

/// Flags of `leadbridge report`.
#[derive(Debug, Args)]
pub struct ReportArgs {
    /// The config file.
    #[arg(long, short = 'c', value_name = "FILE", env = super::common::CONFIG_ENV, default_value = super::common::DEFAULT_CONFIG)]
    pub config: PathBuf,
    /// How far back: a wall-clock duration such as `30d`, `12h`.
    #[arg(long, default_value = "30d")]
    pub since: String,
    /// Group by `source`, `campaign` or `owner`.
    #[arg(long, value_parser = ["source", "campaign", "owner"])]
    pub by: Option<String>,
    /// Only this pipeline (default: every configured one).
    #[arg(long)]
    pub pipeline: Option<String>,
    /// Print JSON.
    #[arg(long, conflicts_with = "csv")]
    pub json: bool,
    /// Print CSV.
    #[arg(long)]
    pub csv: bool,
}

/// Prints the report.
pub fn run(args: ReportArgs) -> anyhow::Result<ExitCode> {
    let config = match load_config(&args.config) {
        Ok(c) => c,
        Err(code) => return Ok(code),
    };
    let since =
        crate::config::parse_duration(&args.since).map_err(|e| anyhow::anyhow!("--since: {e}"))?;
    let since = SignedDuration::try_from(since).context("--since is too large")?;
    let until = Timestamp::now();
    let from = until.checked_sub(since).unwrap_or(Timestamp::MIN);
    let names: Vec<String> = match &args.pipeline {
        Some(p) if config.pipeline(p).is_none() => {
            anyhow::bail!("no pipeline `{p}` in {}", args.config.display())
        }
        Some(p) => vec![p.clone()],
        None => config.pipelines.iter().map(|p| p.name.clone()).collect(),
    };
    let store = crate::state::open(&config.daemon.state_dir)?.store;
    let events = runtime()?.block_on(async {
        let mut all = Vec::new();
        for name in &names {
            all.extend(store.events(name, from, until).await?);
        }
        anyhow::Ok(all)
    })?;
    let by = args.by.as_deref().and_then(GroupBy::parse);
    let r = report(&events, by);
    if args.json {
        println!("{}", serde_json::to_string_pretty(&r)?);
    } else if args.csv {
        print!("{}", to_csv(&r));
    } else {
        println!("{} to {} ({}):", from, until, names.join(", "));
        print!("{}", to_text(&r));
    }
    Ok(ExitCode::SUCCESS)
}
