//! The command line: one subcommand per thing ops do.

mod check;
mod simulate;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// leadbridge: marketing → sales handoff, follow-up SLA and feedback, as a daemon.
#[derive(Debug, Parser)]
#[command(name = "leadbridge", version, about)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Validate a config file offline: every problem with file:line:col.
    Check(check::CheckArgs),
    /// Serve a local simulator of a tool's API on loopback (tests, demo, trying things).
    Simulate(simulate::SimulateArgs),
}

/// Runs a parsed command line.
pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Check(args) => check::run(args),
        Command::Simulate(args) => simulate::run(args),
    }
}
