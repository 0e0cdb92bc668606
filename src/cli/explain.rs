//! `leadbridge explain --config F --pipeline P --email X [--json]`: why a
//! lead was, or was not, handed to sales — each condition of the handoff
//! rule with the values it saw. `--json` prints the same as one object.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use serde::Serialize;
use serde_json::Value;

use super::common::{init_logging, load_config, runtime};
use crate::daemon::Daemon;
use crate::state::Side;

/// Flags of `leadbridge explain`.
#[derive(Debug, Args)]
pub struct ExplainArgs {
    /// The config file.
    #[arg(long, short = 'c', value_name = "FILE", env = super::common::CONFIG_ENV, default_value = super::common::DEFAULT_CONFIG)]
    pub config: PathBuf,
    /// The pipeline.
    #[arg(long)]
    pub pipeline: String,
    /// The lead's key value (the key field is usually the email).
    #[arg(long, alias = "key")]
    pub email: String,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

/// What `explain` found, as printed (`--json` prints it as is).
#[derive(Debug, Default, Serialize)]
pub struct Explanation {
    /// The pipeline.
    pub pipeline: String,
    /// The marketing object looked in.
    pub object: String,
    /// The marketing field holding the key.
    pub key_field: String,
    /// The key looked up (trimmed, lower case).
    pub key: String,
    /// The marketing record's id, when one has the key.
    pub record_id: Option<String>,
    /// `not_found`, `handed_off`, `unreadable`, `no_handoff`, `held_back`
    /// or `qualifies`.
    pub verdict: &'static str,
    /// Its CRM record, when linked.
    pub linked: Option<Linked>,
    /// Why a value could not be read, for `unreadable`.
    pub error: Option<String>,
    /// Each required field and whether it is present.
    pub require: Vec<Required>,
    /// The handoff rule as written.
    pub rule: Option<String>,
    /// Each condition of the rule, with the values it read.
    pub conditions: Vec<Condition>,
    /// Why the rule as a whole could not be evaluated.
    pub rule_error: Option<String>,
}

/// The CRM side of a handed-off lead.
#[derive(Debug, Serialize)]
pub struct Linked {
    /// The CRM object.
    pub object: String,
    /// The CRM record.
    pub crm_id: String,
    /// When it was handed off.
    pub handed_off_at: Option<jiff::Timestamp>,
    /// Its owner at handoff (`None`: the CRM's default).
    pub owner: Option<String>,
}

/// A required field.
#[derive(Debug, Serialize)]
pub struct Required {
    /// The canonical field.
    pub field: String,
    /// Whether the lead has a value.
    pub present: bool,
}

/// One condition of the handoff rule.
#[derive(Debug, Serialize)]
pub struct Condition {
    /// As written.
    pub condition: String,
    /// Whether it held (`None` when it could not be evaluated).
    pub held: Option<bool>,
    /// Why it could not be evaluated.
    pub error: Option<String>,
    /// The fields it read (`null`: missing).
    pub values: serde_json::Map<String, Value>,
    /// The line `explain` prints for it.
    pub text: String,
}

/// Explains one lead.
pub fn run(args: ExplainArgs) -> anyhow::Result<ExitCode> {
    let config = match load_config(&args.config) {
        Ok(c) => c,
        Err(code) => return Ok(code),
    };
    init_logging(config.daemon.log_format, "warn");
    let json = args.json;
    let found = runtime()?.block_on(explain(config, args))?;
    if json {
        println!("{}", serde_json::to_string_pretty(&found)?);
    } else {
        print!("{}", to_text(&found));
    }
    Ok(if found.verdict == "not_found" {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

async fn explain(config: crate::config::Config, args: ExplainArgs) -> anyhow::Result<Explanation> {
    let daemon = Daemon::open(config)?;
    let Some(scheduled) = daemon
        .built
        .pipelines
        .iter()
        .find(|s| s.pipeline.name == args.pipeline)
    else {
        anyhow::bail!("no pipeline named {:?}", args.pipeline);
    };
    let p = &scheduled.pipeline;
    let fields = &p.planner.fields;
    let key_field = fields
        .key()
        .vendor_field(Side::Marketing)
        .ok_or_else(|| anyhow::anyhow!("the key field has no marketing field"))?;
    let key = args.email.trim().to_lowercase();
    let mut out = Explanation {
        pipeline: p.name.clone(),
        object: p.marketing.object.clone(),
        key_field: key_field.to_owned(),
        key: key.clone(),
        verdict: "not_found",
        ..Explanation::default()
    };
    let found = p
        .marketing
        .connector
        .lookup(
            &p.marketing.object,
            key_field,
            std::slice::from_ref(&key),
            &fields.vendor_fields(Side::Marketing),
        )
        .await?;
    let Some(record) = found.into_iter().next() else {
        return Ok(out);
    };
    out.record_id = Some(record.id.clone());
    if let Some(link) = daemon
        .store
        .link(&p.name, Side::Marketing, &record.id)
        .await?
    {
        let s = &link.state;
        out.verdict = "handed_off";
        out.linked = Some(Linked {
            object: p.crm.object.clone(),
            crm_id: s.crm_id.clone(),
            handed_off_at: s.handed_off_at,
            owner: s.owner.clone(),
        });
        return Ok(out);
    }
    let values = match fields.to_canonical(Side::Marketing, &record.fields) {
        Ok(v) => fields.complete(&v),
        Err(e) => {
            out.verdict = "unreadable";
            out.error = Some(e.to_string());
            return Ok(out);
        }
    };
    let handoff = &p.planner.handoff;
    if !handoff.enabled {
        out.verdict = "no_handoff";
        return Ok(out);
    }
    let mut held = false;
    for name in &handoff.require {
        let present = values.get(name).is_some_and(|v| !v.is_null());
        held |= !present;
        out.require.push(Required {
            field: name.clone(),
            present,
        });
    }
    if let Some(rule) = &handoff.when {
        out.rule = Some(rule.source().to_owned());
        for outcome in rule.explain(&values) {
            out.conditions.push(Condition {
                text: outcome.to_string(),
                condition: outcome.condition.clone(),
                held: outcome.result.as_ref().ok().copied(),
                error: outcome.result.as_ref().err().map(|e| e.to_string()),
                values: outcome
                    .values
                    .iter()
                    .map(|(k, v)| (k.clone(), v.clone().unwrap_or(Value::Null)))
                    .collect(),
            });
        }
        match rule.evaluate(&values) {
            Ok(true) => {}
            Ok(false) => held = true,
            Err(e) => {
                held = true;
                out.rule_error = Some(e.to_string());
            }
        }
    }
    out.verdict = if held { "held_back" } else { "qualifies" };
    Ok(out)
}

/// The explanation for a terminal.
pub fn to_text(e: &Explanation) -> String {
    let mut out = String::new();
    let Some(id) = &e.record_id else {
        return format!("no {} record has {} = {}\n", e.object, e.key_field, e.key);
    };
    out.push_str(&format!("{} {id} ({})\n", e.object, e.key));
    if let Some(l) = &e.linked {
        out.push_str(&format!(
            "  handed off: linked to {} {}\n",
            l.object, l.crm_id
        ));
        if let Some(at) = l.handed_off_at {
            out.push_str(&format!(
                "  at {at}, owner {}\n",
                l.owner.as_deref().unwrap_or("(CRM default)")
            ));
        }
        return out;
    }
    match e.verdict {
        "unreadable" => {
            out.push_str(&format!(
                "  not handed off: a value cannot be read: {}\n",
                e.error.as_deref().unwrap_or_default()
            ));
            return out;
        }
        "no_handoff" => {
            out.push_str(
                "  not handed off: this pipeline hands nothing off (no [pipelines.handoff])\n",
            );
            return out;
        }
        _ => {}
    }
    for r in &e.require {
        out.push_str(&format!(
            "  require {}: {}\n",
            r.field,
            if r.present { "present" } else { "MISSING" }
        ));
    }
    if let Some(rule) = &e.rule {
        out.push_str(&format!("  when `{rule}`:\n"));
        for c in &e.conditions {
            out.push_str(&format!("    {}\n", c.text));
        }
        if let Some(err) = &e.rule_error {
            out.push_str(&format!(
                "    the rule cannot be evaluated on this lead: {err}\n"
            ));
        }
    }
    out.push_str(&format!(
        "  verdict: {}\n",
        if e.verdict == "qualifies" {
            "qualifies; it is handed off at the next cycle"
        } else {
            "held back by the conditions above"
        }
    ));
    out
}
