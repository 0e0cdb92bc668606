//! `leadbridge explain --config F --pipeline P --email X`: why a lead was,
//! or was not, handed to sales — each condition of the handoff rule with
//! the values it saw.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

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
}

/// Explains one lead.
pub fn run(args: ExplainArgs) -> anyhow::Result<ExitCode> {
    let config = match load_config(&args.config) {
        Ok(c) => c,
        Err(code) => return Ok(code),
    };
    init_logging(config.daemon.log_format, "warn");
    runtime()?.block_on(async move {
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
            println!("no {} record has {key_field} = {key}", p.marketing.object);
            return Ok(ExitCode::FAILURE);
        };
        println!("{} {} ({key})", p.marketing.object, record.id);
        if let Some(link) = daemon
            .store
            .link(&p.name, Side::Marketing, &record.id)
            .await?
        {
            let s = &link.state;
            println!("  handed off: linked to {} {}", p.crm.object, s.crm_id);
            if let Some(at) = s.handed_off_at {
                println!(
                    "  at {at}, owner {}",
                    s.owner.as_deref().unwrap_or("(CRM default)")
                );
            }
            return Ok(ExitCode::SUCCESS);
        }
        let values = match fields.to_canonical(Side::Marketing, &record.fields) {
            Ok(v) => fields.complete(&v),
            Err(e) => {
                println!("  not handed off: a value cannot be read: {e}");
                return Ok(ExitCode::SUCCESS);
            }
        };
        let handoff = &p.planner.handoff;
        if !handoff.enabled {
            println!("  not handed off: this pipeline hands nothing off (no [pipelines.handoff])");
            return Ok(ExitCode::SUCCESS);
        }
        let mut held = false;
        for name in &handoff.require {
            let present = values.get(name).is_some_and(|v| !v.is_null());
            held |= !present;
            println!(
                "  require {name}: {}",
                if present { "present" } else { "MISSING" }
            );
        }
        if let Some(rule) = &handoff.when {
            println!("  when `{}`:", rule.source());
            for outcome in rule.explain(&values) {
                println!("    {outcome}");
            }
            match rule.evaluate(&values) {
                Ok(true) => {}
                Ok(false) => held = true,
                Err(e) => {
                    held = true;
                    println!("    the rule cannot be evaluated on this lead: {e}");
                }
            }
        }
        println!(
            "  verdict: {}",
            if held {
                "held back by the conditions above"
            } else {
                "qualifies; it is handed off at the next cycle"
            }
        );
        Ok(ExitCode::SUCCESS)
    })
}
