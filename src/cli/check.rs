//! `leadbridge check --config FILE [--online]`: validates a config, as ops
//! do before a deploy and as systemd does in `ExecStartPre=`/`ExecReload=`.
//!
//! Offline (the default, for CI and `ExecStartPre=`), it reads the file and
//! resolves its secret references; it never contacts a tool, and says so in
//! its last line. `--online` also holds the config against the tools
//! themselves, with the same live check every start runs
//! (`crate::daemon::live_check`): fields that do not exist or cannot be
//! written, types that cannot hold each other's values, owners who are not
//! users, credentials refused. Every problem is printed one per line
//! (`file:line:col: error: …`) with the exit code of a config problem.
//! `--json` prints one object on stdout instead: `ok`, `online`, the
//! `errors` and `warnings` as objects (file, line, column, message,
//! expected), with the same exit codes.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use super::common::{print_findings, runtime};
use super::exit;
use crate::config::Config;
use crate::daemon::Daemon;

/// Arguments of `leadbridge check`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// The config file to check.
    #[arg(long, short = 'c', value_name = "FILE", env = super::common::CONFIG_ENV, default_value = super::common::DEFAULT_CONFIG)]
    pub config: PathBuf,
    /// Also connect to every tool with the configured credentials and check
    /// the config against their metadata and users.
    #[arg(long)]
    pub online: bool,
    /// Print the outcome as one JSON object on stdout (errors and warnings
    /// as objects with file, line, column, message, expected).
    #[arg(long)]
    pub json: bool,
}

/// One problem as a JSON object.
fn problem(e: &leadbridge_core::config::ConfigError) -> serde_json::Value {
    serde_json::json!({
        "file": e.file.display().to_string(),
        "line": e.line,
        "column": e.column,
        "message": e.message,
        "expected": e.expected,
    })
}

/// Prints the `--json` outcome.
fn print_json(
    path: &std::path::Path,
    online: bool,
    errors: &[leadbridge_core::config::ConfigError],
    warnings: &[leadbridge_core::config::ConfigError],
    extra: serde_json::Value,
) -> anyhow::Result<()> {
    let mut out = serde_json::json!({
        "file": path.display().to_string(),
        "ok": errors.is_empty(),
        "online": online,
        "errors": errors.iter().map(problem).collect::<Vec<_>>(),
        "warnings": warnings.iter().map(problem).collect::<Vec<_>>(),
    });
    if let (Some(out), serde_json::Value::Object(extra)) = (out.as_object_mut(), extra) {
        out.extend(extra);
    }
    println!("{}", serde_json::to_string_pretty(&out)?);
    Ok(())
}

/// Checks the file; secrets are resolved from this process's environment,
/// so run it with the daemon's environment (as systemd's `ExecStartPre=` does).
pub fn run(args: CheckArgs) -> anyhow::Result<ExitCode> {
    let config = match Config::load(&args.config) {
        Ok(config) => config,
        Err(errors) if args.json => {
            print_json(
                &args.config,
                args.online,
                &errors.errors,
                &[],
                serde_json::Value::Null,
            )?;
            return Ok(exit::code(exit::CONFIG));
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
            return Ok(exit::code(exit::CONFIG));
        }
    };
    let pipelines: Vec<&str> = config.pipelines.iter().map(|p| p.name.as_str()).collect();
    let connectors: Vec<String> = config
        .connectors
        .values()
        .map(|c| format!("{} ({})", c.name, c.kind()))
        .collect();
    let summary = format!(
        "{}: ok: {} pipeline{} ({}), {} connector{} ({})",
        args.config.display(),
        pipelines.len(),
        if pipelines.len() == 1 { "" } else { "s" },
        pipelines.join(", "),
        connectors.len(),
        if connectors.len() == 1 { "" } else { "s" },
        connectors.join(", "),
    );
    let names = serde_json::json!({
        "pipelines": pipelines,
        "connectors": config.connectors.values().map(|c| serde_json::json!({"name": c.name, "kind": c.kind()})).collect::<Vec<_>>(),
    });
    if !args.online && args.json {
        print_json(&args.config, false, &[], &[], names)?;
        return Ok(exit::code(exit::OK));
    }
    if !args.online {
        println!("{summary}");
        println!(
            "the tools were not contacted: `leadbridge check --online` also checks fields, types, owners and credentials against them"
        );
        return Ok(exit::code(exit::OK));
    }
    let path = args.config.clone();
    let daemon = match Daemon::open(config) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(exit::code(exit::FAILED));
        }
    };
    let findings = runtime()?.block_on(daemon.check_online());
    if args.json {
        let mut extra = names;
        if let Some(o) = extra.as_object_mut() {
            o.insert("unreachable".into(), findings.unreachable.into());
        }
        print_json(&path, true, &findings.errors, &findings.warnings, extra)?;
        return Ok(exit::code(if findings.is_ok() {
            exit::OK
        } else if findings.unreachable {
            exit::FAILED
        } else {
            exit::CONFIG
        }));
    }
    if !print_findings(&findings, &path) {
        return Ok(exit::code(if findings.unreachable {
            exit::FAILED
        } else {
            exit::CONFIG
        }));
    }
    println!("{summary}");
    println!(
        "checked online: {} object{} and the users of every CRM, as the start does",
        findings.schemas.len(),
        if findings.schemas.len() == 1 { "" } else { "s" }
    );
    Ok(exit::code(exit::OK))
}
