//! `leadbridge sla preview --config F --pipeline P --handed-off-at T`:
//! the SLA timeline of a lead handed off at `T`, in the calendar's zone, so
//! ops can check a calendar (hours, holidays, days off) before trusting it.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Subcommand};
use jiff::Timestamp;

use super::common::load_config;
use crate::sla::Timeline;

/// Flags of `leadbridge sla`.
#[derive(Debug, Args)]
pub struct SlaArgs {
    /// What to do.
    #[command(subcommand)]
    pub command: SlaCommand,
}

/// `leadbridge sla` subcommands.
#[derive(Debug, Subcommand)]
pub enum SlaCommand {
    /// Print a lead's first-touch deadline, escalation steps and recycle time.
    Preview(PreviewArgs),
}

/// Flags of `leadbridge sla preview`.
#[derive(Debug, Args)]
pub struct PreviewArgs {
    /// The config file.
    #[arg(long, short = 'c', value_name = "FILE", env = super::common::CONFIG_ENV, default_value = super::common::DEFAULT_CONFIG)]
    pub config: PathBuf,
    /// The pipeline whose `[pipelines.sla]` to use.
    #[arg(long)]
    pub pipeline: String,
    /// When the lead is handed off, with an offset: 2026-12-30T17:00:00+09:00.
    #[arg(long)]
    pub handed_off_at: String,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

/// Runs `leadbridge sla …`.
pub fn run(args: SlaArgs) -> anyhow::Result<ExitCode> {
    match args.command {
        SlaCommand::Preview(p) => preview(p),
    }
}

fn preview(args: PreviewArgs) -> anyhow::Result<ExitCode> {
    let config = match load_config(&args.config) {
        Ok(c) => c,
        Err(code) => return Ok(code),
    };
    let pipeline = config.pipeline(&args.pipeline).with_context(|| {
        format!(
            "no pipeline `{}` in {}",
            args.pipeline,
            args.config.display()
        )
    })?;
    let sla = pipeline
        .sla
        .as_deref()
        .with_context(|| format!("pipeline `{}` has no [pipelines.sla]", args.pipeline))?;
    let at: Timestamp = args.handed_off_at.parse().with_context(|| {
        format!(
            "--handed-off-at `{}` is not a time with an offset, such as 2026-12-30T17:00:00+09:00",
            args.handed_off_at
        )
    })?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&preview_json(sla, at)?)?);
    } else {
        print!("{}", preview_text(sla, at)?);
    }
    Ok(ExitCode::SUCCESS)
}

/// What one step does, in words (`notify webhook:…`, `task for owner`,
/// `reassign round_robin`).
fn step_actions(step: &crate::config::EscalationStep) -> Vec<String> {
    let mut what = Vec::new();
    if let Some(n) = &step.notify {
        what.push(format!("notify {}", n.reference));
    }
    if let Some(task) = &step.task {
        what.push(format!("task for {:?}", task.for_whom).to_lowercase());
    }
    if step.reassign {
        what.push("reassign round_robin".into());
    }
    what
}

/// The preview as JSON: each moment as an instant (`…Z`) and in the
/// calendar's zone, with the configured durations as written.
pub fn preview_json(
    sla: &crate::config::SlaConfig,
    at: Timestamp,
) -> anyhow::Result<serde_json::Value> {
    use serde_json::json;
    let t = Timeline::new(sla, at)?;
    let moment = |ts: Timestamp| {
        json!({
            "at": ts,
            "local": sla.calendar.local(ts).strftime("%Y-%m-%dT%H:%M:%S%:z[%Q]").to_string(),
        })
    };
    let steps: Vec<serde_json::Value> = t
        .steps
        .iter()
        .zip(&sla.steps)
        .enumerate()
        .map(|(i, (when, step))| {
            json!({
                "step": i + 1,
                "due": moment(*when),
                "after_deadline": step.after.to_string(),
                "actions": step_actions(step),
            })
        })
        .collect();
    let recycle = match (&t.recycle, &sla.recycle) {
        (Some(when), Some(r)) => {
            json!({ "due": moment(*when), "after_handoff": r.after.to_string() })
        }
        _ => serde_json::Value::Null,
    };
    Ok(json!({
        "calendar": sla.calendar.to_string(),
        "handed_off": moment(at),
        "first_touch_due": moment(t.deadline),
        "within": sla.within.to_string(),
        "escalation_steps": steps,
        "recycle": recycle,
    }))
}

/// The preview as printed.
pub fn preview_text(sla: &crate::config::SlaConfig, at: Timestamp) -> anyhow::Result<String> {
    let t = Timeline::new(sla, at)?;
    let local = |ts: Timestamp| {
        sla.calendar
            .local(ts)
            .strftime("%a %Y-%m-%d %H:%M %Z (%:z)")
            .to_string()
    };
    let mut out = format!("calendar: {}\n", sla.calendar);
    out.push_str(&format!("handed off:         {}\n", local(at)));
    out.push_str(&format!(
        "first touch due:    {}  (within {})\n",
        local(t.deadline),
        sla.within
    ));
    for (i, (when, step)) in t.steps.iter().zip(&sla.steps).enumerate() {
        let what = step_actions(step);
        out.push_str(&format!(
            "escalation step {}:  {}  (+{} after the deadline: {})\n",
            i + 1,
            local(*when),
            step.after,
            what.join(", ")
        ));
    }
    match (&t.recycle, &sla.recycle) {
        (Some(when), Some(r)) => out.push_str(&format!(
            "recycle:            {}  ({} after the handoff)\n",
            local(*when),
            r.after
        )),
        _ => out.push_str("recycle:            never (no recycle configured)\n"),
    }
    Ok(out)
}
