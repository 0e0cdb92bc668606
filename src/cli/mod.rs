//! The command line: one subcommand per thing ops do.

mod auth;
mod check;
mod common;
mod demo;
mod dlq;
pub mod exit;
mod explain;
pub mod logging;
mod manual;
pub mod pipe;
mod report;
mod resync;
mod run;
pub mod simulate;
mod sla;
mod status;
mod tables;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// leadbridge: marketing → sales handoff, follow-up SLA and feedback, as a daemon.
#[derive(Debug, Parser)]
#[command(name = "leadbridge", version, about, after_help = exit::HELP)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Validate a config file: every problem with file:line:col (offline;
    /// --online also holds it against the tools themselves).
    Check(check::CheckArgs),
    /// The whole thing on local simulators, narrated: no account needed.
    Demo(demo::DemoArgs),
    /// Run the daemon (or one cycle with --once; --dry-run writes nothing).
    Run(run::RunArgs),
    /// Per pipeline: last cycle, cursors, counts, dead letters, last error.
    Status(status::StatusArgs),
    /// The dead letter queue: list, show, retry, drop.
    Dlq(dlq::DlqArgs),
    /// Re-read a pipeline from the beginning at its next cycle (idempotent).
    Resync(resync::ResyncArgs),
    /// Why a lead was or was not handed off.
    Explain(explain::ExplainArgs),
    /// The shared funnel: stages, conversion, time to first touch, SLA compliance.
    Report(report::ReportArgs),
    /// The follow-up SLA: `sla preview` prints a lead's deadlines in business time.
    Sla(sla::SlaArgs),
    /// Walk the OAuth2 consent of a connector and store its refresh token.
    Auth(auth::AuthArgs),
    /// Serve a local simulator of a tool's API on loopback (tests, demo, trying things).
    Simulate(simulate::SimulateArgs),
    /// Print a shell completion script: `leadbridge completions bash > /etc/bash_completion.d/leadbridge`.
    Completions(manual::CompletionsArgs),
    /// Print a man page (roff): `leadbridge man > /usr/local/share/man/man1/leadbridge.1`.
    Man(manual::ManArgs),
}

/// Runs a parsed command line.
pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Check(args) => check::run(args),
        Command::Demo(args) => demo::run(args),
        Command::Run(args) => run::run(args),
        Command::Status(args) => status::run(args),
        Command::Dlq(args) => dlq::run(args),
        Command::Resync(args) => resync::run(args),
        Command::Explain(args) => explain::run(args),
        Command::Report(args) => report::run(args),
        Command::Sla(args) => sla::run(args),
        Command::Simulate(args) => simulate::run(args),
        Command::Auth(args) => auth::run(args),
        Command::Completions(args) => manual::completions(args),
        Command::Man(args) => manual::man(args),
    }
}
