//! `cargo bench --bench sync [-- --json] [-- --runs N --scales 100000,1000000 --no-daemon --no-micro]`
//!
//! What a sync costs in API calls, time and memory (issue 6): both
//! simulators as child processes on loopback with vendor rate limits off,
//! each daemon cycle a child process measured with `wait4` (CPU, peak
//! RSS), request counts per endpoint from the simulators' `/__sim/requests`.
//! Prints one Markdown table, or JSON with `--json`.
//!
//! Not part of `cargo test`: without cargo bench's `--bench` flag it only
//! says how to run it.

mod budget;
mod child;
mod ctl;
mod micro;
mod procs;
mod report;
mod scenario;
mod world;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;

/// The daemon's allocator (see src/main.rs), so the engine child costs what
/// `leadbridge run` does.
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

use crate::budget::Projection;
use crate::report::{median_run, Report};
use crate::scenario::Engine;

/// The harness's flags.
struct Args {
    json: bool,
    runs: usize,
    scales: Vec<u64>,
    daemon: bool,
    micro: bool,
}

impl Args {
    fn parse(raw: &[String]) -> anyhow::Result<Self> {
        let mut args = Args {
            json: false,
            runs: 3,
            scales: vec![100_000, 1_000_000],
            daemon: true,
            micro: true,
        };
        let mut it = raw.iter();
        while let Some(a) = it.next() {
            match a.as_str() {
                "--json" => args.json = true,
                "--no-daemon" => args.daemon = false,
                "--no-micro" => args.micro = false,
                "--runs" => args.runs = it.next().context("--runs N")?.parse()?,
                "--scales" => {
                    args.scales = it
                        .next()
                        .context("--scales N,M")?
                        .split(',')
                        .filter(|s| !s.is_empty())
                        .map(str::parse)
                        .collect::<Result<_, _>>()?
                }
                _ => {} // cargo's own flags (--bench, filters)
            }
        }
        Ok(args)
    }
}

fn machine() -> String {
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let mem = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .find_map(|l| l.strip_prefix("MemTotal:"))
                .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
        })
        .map_or(0.0, |kib| kib as f64 / 1024.0 / 1024.0);
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let load: Vec<&str> = load.split_whitespace().take(3).collect();
    format!(
        "{cores} cores, {mem:.1} GiB RAM, load average {} at start",
        load.join(" ")
    )
}

fn main() -> anyhow::Result<ExitCode> {
    let raw: Vec<String> = std::env::args().skip(1).collect();
    if let Some(i) = raw.iter().position(|a| a == "--cycle-child") {
        let config = raw.get(i + 1).context("--cycle-child CONFIG")?;
        return child::run(&PathBuf::from(config));
    }
    if !raw.iter().any(|a| a == "--bench") {
        println!("the sync benchmark runs with `cargo bench --bench sync` only");
        return Ok(ExitCode::SUCCESS);
    }
    let args = Args::parse(&raw)?;
    let bin = PathBuf::from(env!("CARGO_BIN_EXE_leadbridge"));
    let machine = machine();
    let runtime = tokio::runtime::Runtime::new()?;
    let report = runtime.block_on(async {
        let mut scales = Vec::new();
        let mut projections = Vec::new();
        for (n, &contacts) in args.scales.iter().enumerate() {
            // The first scale is repeated for medians; larger ones run once.
            let runs = if n == 0 { args.runs.max(1) } else { 1 };
            let mut results = Vec::new();
            for run in 0..runs {
                eprintln!(
                    "[bench] {contacts} contacts, unthrottled engine, run {}/{runs}",
                    run + 1
                );
                results.push(scenario::run(&bin, contacts, Engine::Unthrottled).await?);
            }
            let median = median_run(&results);
            projections.push(Projection::new(
                contacts,
                &median.backfill,
                &median.incremental,
                &median.idle,
            ));
            scales.push((runs, median));
            if n == 0 && args.daemon {
                eprintln!("[bench] {contacts} contacts, leadbridge run --once");
                scales.push((1, scenario::run(&bin, contacts, Engine::Daemon).await?));
            }
        }
        let micro = if args.micro {
            eprintln!("[bench] engine micro-benchmarks");
            Some(micro::run(args.runs.max(3)).await?)
        } else {
            None
        };
        anyhow::Ok(Report {
            machine,
            scales,
            projections,
            micro,
        })
    })?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        println!("{}", report.table());
    }
    Ok(ExitCode::SUCCESS)
}
