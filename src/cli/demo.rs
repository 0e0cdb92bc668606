//! `leadbridge demo`: the whole thing on one machine with no account
//! anywhere — both simulators on loopback seeded with realistic leads, the
//! daemon's real code against them with its state in a local folder, and a
//! narration of what happens: leads qualified and handed off with their
//! owners, sales working them in the CRM, the feedback reaching marketing,
//! then the daemon on its schedule until Ctrl-C.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use leadbridge_core::sim::{
    RunningSimulator, SeedSpec, SimControl, SimulatorOptions, TokenSettings,
};
use serde_json::{json, Value};
use tokio::sync::watch;

use super::common::{init_logging, runtime};
use super::simulate::stop_requested;
use crate::config::{Config, LogFormat};
use crate::daemon::Daemon;
use crate::engine::cycle::CycleReport;

const HS_TOKEN: &str = "demo-hubspot-private-app-token";
const SF_CLIENT_ID: &str = "demo-connected-app";
const SF_CLIENT_SECRET: &str = "demo-connected-app-secret";
const SF_REFRESH: &str = "demo-first-refresh-token";
const SF_SESSION: &str = "demo-session-for-the-narrator";
const RULE: &str = "score >= 60 && lifecycle == 'marketingqualifiedlead'";

/// Flags of `leadbridge demo`.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// The folder for the demo's config, secrets and state (recreated each run).
    #[arg(long, default_value = "demo-state")]
    pub dir: PathBuf,
    /// Marketing contacts to seed.
    #[arg(long, default_value_t = 300)]
    pub contacts: u64,
    /// Tell the story, then exit instead of running on schedule.
    #[arg(long)]
    pub no_wait: bool,
}

/// Runs the demo.
pub fn run(args: DemoArgs) -> anyhow::Result<ExitCode> {
    init_logging(LogFormat::Human, "warn");
    runtime()?.block_on(story(args))
}

struct Sims {
    hubspot: RunningSimulator,
    salesforce: RunningSimulator,
}

async fn start_sims(contacts: u64) -> anyhow::Result<Sims> {
    let hubspot = leadbridge_hubspot::simulator::start(SimulatorOptions {
        tokens: TokenSettings {
            static_tokens: vec![HS_TOKEN.into()],
            ..TokenSettings::default()
        },
        ..SimulatorOptions::default()
    })
    .await
    .context("starting the HubSpot simulator")?;
    hubspot
        .control
        .seed(&SeedSpec {
            object: "contacts".into(),
            count: contacts,
            seed: 2026,
            first_index: 0,
        })
        .map_err(anyhow::Error::msg)?;
    let salesforce = leadbridge_salesforce::simulator::start(SimulatorOptions {
        tokens: TokenSettings {
            client_id: SF_CLIENT_ID.into(),
            client_secret: SF_CLIENT_SECRET.into(),
            initial_refresh_token: Some(SF_REFRESH.into()),
            static_tokens: vec![SF_SESSION.into()],
            ..TokenSettings::default()
        },
        ..SimulatorOptions::default()
    })
    .await
    .context("starting the Salesforce simulator")?;
    Ok(Sims {
        hubspot,
        salesforce,
    })
}

/// Reads the Salesforce simulator with SOQL, as any client would.
async fn soql(url: &str, query: &str) -> anyhow::Result<Vec<Value>> {
    let client = reqwest::Client::new();
    let mut next = format!("{url}/services/data/v62.0/query");
    let mut params = vec![("q", query.to_owned())];
    let mut out = Vec::new();
    loop {
        let page: Value = client
            .get(&next)
            .query(&params)
            .bearer_auth(SF_SESSION)
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        out.extend(page["records"].as_array().cloned().unwrap_or_default());
        match page["nextRecordsUrl"].as_str() {
            Some(more) => {
                next = format!("{url}{more}");
                params.clear();
            }
            None => return Ok(out),
        }
    }
}

fn write_config(dir: &Path, sims: &Sims, owners: &[String]) -> anyhow::Result<PathBuf> {
    if dir.join("state").exists() {
        std::fs::remove_dir_all(dir.join("state")).context("clearing the previous demo's state")?;
    }
    std::fs::create_dir_all(dir.join("secrets"))?;
    std::fs::write(dir.join("secrets/hubspot.token"), HS_TOKEN)?;
    std::fs::write(dir.join("secrets/salesforce.secret"), SF_CLIENT_SECRET)?;
    std::fs::write(dir.join("secrets/salesforce.refresh"), SF_REFRESH)?;
    let owners = owners
        .iter()
        .map(|o| format!("\"{o}\""))
        .collect::<Vec<_>>()
        .join(", ");
    let text = format!(
        r#"# Written by `leadbridge demo`: the same config ops write, pointed at
# local simulators. Secrets are references to files in ./secrets.
[daemon]
state_dir = "state"
log_format = "human"

[connectors.hubspot]
kind = "hubspot"
base_url = "{hs}"
auth = {{ type = "private_app", token = "file:secrets/hubspot.token" }}

[connectors.salesforce]
kind = "salesforce"
instance_url = "{sf}"
auth = {{ type = "oauth2_refresh", client_id = "{client_id}", client_secret = "file:secrets/salesforce.secret", refresh_token = "file:secrets/salesforce.refresh" }}

[[pipelines]]
name = "inbound"
schedule = "*/10 * * * * *"
marketing = {{ connector = "hubspot", object = "contacts" }}
crm = {{ connector = "salesforce", object = "Lead", match_on = "email", upsert_key = "Leadbridge_Id__c" }}

[pipelines.fields]
email = {{ marketing = "email", crm = "Email", key = true }}
first_name = {{ marketing = "firstname", crm = "FirstName", owner = "marketing" }}
last_name = {{ marketing = "lastname", crm = "LastName", owner = "marketing" }}
company = {{ marketing = "company", crm = "Company", owner = "both", conflict = "newest" }}
phone = {{ marketing = "phone", crm = "Phone", owner = "both", conflict = "prefer_crm_unless_blank" }}
score = {{ marketing = "hubspotscore", crm = "Lead_Score__c", owner = "marketing", type = "number" }}
lifecycle = {{ marketing = "lifecyclestage", owner = "marketing" }}
source = {{ marketing = "hs_analytics_source", owner = "marketing" }}
campaign = {{ marketing = "campaign", owner = "marketing" }}
status = {{ marketing = "hs_lead_status", crm = "Status", owner = "crm", values = {{ "Open - Not Contacted" = "NEW", "Working - Contacted" = "IN_PROGRESS", "Closed - Converted" = "OPEN_DEAL", "Closed - Not Converted" = "UNQUALIFIED" }} }}
disqualify_reason = {{ marketing = "disqualify_reason", crm = "Disqualified_Reason__c", owner = "crm" }}
owner = {{ crm = "OwnerId", owner = "crm" }}

[pipelines.handoff]
when = "{rule}"
require = ["email", "last_name", "company"]
assign = {{ strategy = "round_robin", owners = [{owners}] }}
"#,
        hs = sims.hubspot.url(),
        sf = sims.salesforce.url(),
        client_id = SF_CLIENT_ID,
        rule = RULE,
    );
    let path = dir.join("leadbridge.toml");
    std::fs::write(&path, text)?;
    Ok(path)
}

fn say(line: impl AsRef<str>) {
    println!("{}", line.as_ref());
}

fn counts(report: &CycleReport) -> String {
    let c = &report.counts;
    format!(
        "read {} from HubSpot and {} from Salesforce; wrote {} to Salesforce and {} to HubSpot; {} already in sync (re-reads and echoes of our own writes) skipped",
        c.read_marketing, c.read_crm, c.written_crm, c.written_marketing, c.echoes
    )
}

async fn cycle(daemon: &Daemon) -> anyhow::Result<CycleReport> {
    let (name, result) = daemon
        .run_once(false)
        .await
        .into_iter()
        .next()
        .context("no pipeline")?;
    result.with_context(|| format!("cycle of {name}"))
}

async fn story(args: DemoArgs) -> anyhow::Result<ExitCode> {
    say("leadbridge demo: marketing (HubSpot) and sales (Salesforce) as one team, on local simulators.\n");
    let sims = start_sims(args.contacts).await?;
    let users = soql(
        &sims.salesforce.url(),
        "SELECT Id, FirstName, LastName FROM User ORDER BY Id",
    )
    .await?;
    let names: BTreeMap<String, String> = users
        .iter()
        .filter_map(|u| {
            Some((
                u["Id"].as_str()?.to_owned(),
                format!(
                    "{} {}",
                    u["FirstName"].as_str().unwrap_or(""),
                    u["LastName"].as_str().unwrap_or("")
                ),
            ))
        })
        .collect();
    let owners: Vec<String> = names.keys().take(3).cloned().collect();
    let config_path = write_config(&args.dir, &sims, &owners)?;
    say("▸ Simulators");
    say(format!(
        "  HubSpot     {}  ({} contacts from webinars, e-books, trade shows…)",
        sims.hubspot.url(),
        args.contacts
    ));
    say(format!(
        "  Salesforce  {}  (sales reps {})",
        sims.salesforce.url(),
        owners
            .iter()
            .map(|o| names[o].as_str())
            .collect::<Vec<_>>()
            .join(", ")
    ));
    say(format!(
        "  config      {}   state {}\n",
        config_path.display(),
        args.dir.join("state").display()
    ));

    let config = Config::load(&config_path)
        .map_err(|e| anyhow::anyhow!("the demo config is invalid:\n{e}"))?;
    let daemon = Daemon::open(config)?;

    say("▸ Cycle 1: marketing hands over what the SLA says");
    say(format!(
        "  rule: {RULE}; required: email, last_name, company; owners: round-robin"
    ));
    let report = cycle(&daemon).await?;
    say(format!("  {}", counts(&report)));
    let leads = soql(
        &sims.salesforce.url(),
        "SELECT Id, FirstName, LastName, Company, Lead_Score__c, OwnerId, Leadbridge_Id__c FROM Lead ORDER BY CreatedDate, Id",
    )
    .await?;
    say(format!(
        "  {} of {} contacts qualified and are now Salesforce leads:",
        leads.len(),
        args.contacts
    ));
    for lead in leads.iter().take(8) {
        say(format!(
            "    {} {} ({}), score {:.0} → owned by {}",
            lead["FirstName"].as_str().unwrap_or(""),
            lead["LastName"].as_str().unwrap_or(""),
            lead["Company"].as_str().unwrap_or(""),
            lead["Lead_Score__c"].as_f64().unwrap_or_default(),
            names
                .get(lead["OwnerId"].as_str().unwrap_or(""))
                .map(String::as_str)
                .unwrap_or("?")
        ));
    }
    if leads.len() > 8 {
        say(format!("    … and {} more", leads.len() - 8));
    }
    let mut per_owner: BTreeMap<&str, usize> = BTreeMap::new();
    for lead in &leads {
        *per_owner
            .entry(
                names
                    .get(lead["OwnerId"].as_str().unwrap_or(""))
                    .map(String::as_str)
                    .unwrap_or("?"),
            )
            .or_default() += 1;
    }
    say(format!(
        "  leads per rep: {}\n",
        per_owner
            .iter()
            .map(|(k, v)| format!("{k} {v}"))
            .collect::<Vec<_>>()
            .join(", ")
    ));

    say("▸ Cycle 2: Salesforce's default status reaches marketing as the first feedback");
    let report = cycle(&daemon).await?;
    say(format!("  {}\n", counts(&report)));

    say("▸ Sales works the leads in Salesforce");
    let sf: Arc<dyn SimControl> = sims.salesforce.control.clone();
    let hs: Arc<dyn SimControl> = sims.hubspot.control.clone();
    let worked: Vec<&Value> = leads.iter().take(3).collect();
    let mut changes = Vec::new();
    for (i, lead) in worked.iter().enumerate() {
        let id = lead["Id"].as_str().unwrap_or_default();
        let (status, reason) = if i == 2 {
            ("Closed - Not Converted", Some("No budget this year"))
        } else {
            ("Working - Contacted", None)
        };
        let mut fields = leadbridge_core::Fields::new();
        fields.insert("Status".into(), json!(status));
        if let Some(reason) = reason {
            fields.insert("Disqualified_Reason__c".into(), json!(reason));
        }
        sf.update("Lead", id, fields).map_err(anyhow::Error::msg)?;
        say(format!(
            "  {} sets {} {} to \"{status}\"{}",
            names
                .get(lead["OwnerId"].as_str().unwrap_or(""))
                .map(String::as_str)
                .unwrap_or("a rep"),
            lead["FirstName"].as_str().unwrap_or(""),
            lead["LastName"].as_str().unwrap_or(""),
            reason
                .map(|r| format!(", reason \"{r}\""))
                .unwrap_or_default()
        ));
        changes.push(
            lead["Leadbridge_Id__c"]
                .as_str()
                .unwrap_or_default()
                .trim_start_matches("inbound:")
                .to_owned(),
        );
    }
    say("");
    say("▸ Cycle 3: the feedback flows back to marketing");
    let report = cycle(&daemon).await?;
    say(format!("  {}", counts(&report)));
    for contact_id in &changes {
        if let Some(c) = hs.get("contacts", contact_id) {
            say(format!(
                "  HubSpot contact {} now: hs_lead_status = {}{}",
                c.text("email").unwrap_or_default(),
                c.text("hs_lead_status").unwrap_or_default(),
                c.text("disqualify_reason")
                    .map(|r| format!(", disqualify_reason = \"{r}\""))
                    .unwrap_or_default()
            ));
        }
    }
    say("");
    say("▸ Cycle 4: nothing changed, so nothing is written (no echo loop)");
    let report = cycle(&daemon).await?;
    say(format!("  {}\n", counts(&report)));

    if args.no_wait {
        say("Done (--no-wait). Inspect the state with:");
        say(format!(
            "  leadbridge status --config {}",
            config_path.display()
        ));
        return Ok(ExitCode::SUCCESS);
    }

    say("▸ Now running on schedule (every 10 s). Marketing keeps warming up contacts;");
    say("  each cycle's outcome is logged below. Ctrl-C to stop.\n");
    init_logging(LogFormat::Human, "info");
    let (stop, stopped) = watch::channel(false);
    let warm_up = tokio::spawn(warm_up_contacts(hs.clone(), args.contacts));
    let running = daemon.run_until(stopped);
    tokio::pin!(running);
    tokio::select! {
        _ = &mut running => {}
        _ = stop_requested() => {
            let _ = stop.send(true);
            running.await;
        }
    }
    warm_up.abort();
    say(format!(
        "\nStopped. The state stays in {}; `leadbridge status --config {}` shows it.",
        args.dir.join("state").display(),
        config_path.display()
    ));
    Ok(ExitCode::SUCCESS)
}

/// Every few seconds a contact engages (a webinar, a pricing page) and its
/// score and stage rise, so the running daemon has new leads to hand off.
async fn warm_up_contacts(hs: Arc<dyn SimControl>, contacts: u64) {
    let mut next = 1001 + contacts;
    loop {
        tokio::time::sleep(Duration::from_secs(7)).await;
        next = if next <= 1001 {
            1000 + contacts
        } else {
            next - 1
        };
        let id = next.to_string();
        let Some(c) = hs.get("contacts", &id) else {
            continue;
        };
        if c.text("lifecyclestage").as_deref() == Some("marketingqualifiedlead")
            && c.text("hubspotscore")
                .and_then(|s| s.parse::<u32>().ok())
                .unwrap_or(0)
                >= 60
        {
            continue;
        }
        let mut fields = leadbridge_core::Fields::new();
        fields.insert("hubspotscore".into(), json!("88"));
        fields.insert("lifecyclestage".into(), json!("marketingqualifiedlead"));
        if hs.update("contacts", &id, fields).is_ok() {
            tracing::info!(contact = %c.text("email").unwrap_or_default(), "marketing: contact attended a webinar; score 88, now an MQL");
        }
    }
}
