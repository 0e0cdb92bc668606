//! What several subcommands share: loading the config (printing every
//! problem when it is invalid), logging, the async runtime.

use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;

use crate::config::Config;

/// Where the config is when neither `--config` nor [`CONFIG_ENV`] says:
/// the unit's `ConfigurationDirectory=leadbridge`, so `leadbridge status`
/// on the server needs no flag.
pub const DEFAULT_CONFIG: &str = "/etc/leadbridge/leadbridge.toml";

/// The environment variable that names the config when `--config` is not given.
pub const CONFIG_ENV: &str = "LEADBRIDGE_CONFIG";

/// Loads and validates the config; on failure prints every problem (file,
/// line, column) to stderr and returns the exit code to leave with.
pub fn load_config(path: &Path) -> Result<Config, ExitCode> {
    Config::load(path).map_err(|errors| {
        for e in errors.iter() {
            eprintln!("{e}");
        }
        eprintln!(
            "{}: {} problem(s); nothing was started",
            path.display(),
            errors.len()
        );
        super::exit::code(super::exit::CONFIG)
    })
}

/// Prints the live check's findings (warnings first, then errors) to
/// stderr; returns whether the config fits the tools.
pub fn print_findings(findings: &crate::daemon::live_check::Findings, path: &Path) -> bool {
    for w in &findings.warnings {
        eprintln!("{}", w.as_warning());
    }
    for e in &findings.errors {
        eprintln!("{e}");
    }
    if !findings.is_ok() {
        eprintln!(
            "{}: {} problem{} against the tools; nothing was written",
            path.display(),
            findings.errors.len(),
            if findings.errors.len() == 1 { "" } else { "s" }
        );
    }
    findings.is_ok()
}

pub use super::logging::init_logging;

/// The tokio runtime for one command: a single thread. The daemon's work
/// is waiting on vendor APIs, one page at a time per pipeline; a second
/// worker thread only added wake-ups across threads (twice the context
/// switches and about 5% more CPU per record in the benchmark's backfill),
/// and nothing in the daemon blocks a thread for longer than a page takes.
pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

/// Accepts a registered connector kind (`leadbridge auth <kind>`,
/// `leadbridge simulate <kind>`), listing them in `--help` and errors.
pub fn kind_parser() -> clap::builder::PossibleValuesParser {
    clap::builder::PossibleValuesParser::new(crate::registry::builtin().kinds())
}
