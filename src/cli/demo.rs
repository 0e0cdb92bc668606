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

use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

use super::common::runtime;
use super::simulate::stop_requested;
use jiff::{Timestamp, Zoned};

use crate::config::Config;
use crate::daemon::Daemon;
use crate::engine::clock::{ManualClock, SystemClock};
use crate::engine::cycle::CycleReport;
use crate::state::EventKind;

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
    /// Where the status page and admin API listen while the demo runs.
    #[arg(long, default_value = "127.0.0.1:9464")]
    pub admin_listen: std::net::SocketAddr,
}

/// Runs the demo.
pub fn run(args: DemoArgs) -> anyhow::Result<ExitCode> {
    // The story narrates outcomes itself; the log speaks up only for errors
    // until the daemon runs on its own.
    let (filter, level) =
        tracing_subscriber::reload::Layer::new(tracing_subscriber::EnvFilter::new("error"));
    let _ = tracing_subscriber::registry()
        .with(filter)
        .with(tracing_subscriber::fmt::layer().with_writer(std::io::stderr))
        .try_init();
    runtime()?.block_on(story(args, level))
}

/// Changes the demo's log level once the narrated part is over.
type LogLevel =
    tracing_subscriber::reload::Handle<tracing_subscriber::EnvFilter, tracing_subscriber::Registry>;

struct Sims {
    hubspot: RunningSimulator,
    salesforce: RunningSimulator,
}

async fn start_sims() -> anyhow::Result<Sims> {
    let hubspot = super::simulate::start(
        "hubspot",
        SimulatorOptions {
            tokens: TokenSettings {
                static_tokens: vec![HS_TOKEN.into()],
                ..TokenSettings::default()
            },
            ..SimulatorOptions::default()
        },
    )
    .await
    .context("starting the HubSpot simulator")?;
    let salesforce = super::simulate::start(
        "salesforce",
        SimulatorOptions {
            tokens: TokenSettings {
                client_id: SF_CLIENT_ID.into(),
                client_secret: SF_CLIENT_SECRET.into(),
                initial_refresh_token: Some(SF_REFRESH.into()),
                static_tokens: vec![SF_SESSION.into()],
                ..TokenSettings::default()
            },
            ..SimulatorOptions::default()
        },
    )
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

fn write_config(
    dir: &Path,
    sims: &Sims,
    owners: &[String],
    manager: &str,
    alerts_url: &str,
    admin_listen: std::net::SocketAddr,
) -> anyhow::Result<PathBuf> {
    if dir.join("state").exists() {
        std::fs::remove_dir_all(dir.join("state")).context("clearing the previous demo's state")?;
    }
    std::fs::create_dir_all(dir.join("secrets"))?;
    std::fs::write(dir.join("secrets/hubspot.token"), HS_TOKEN)?;
    std::fs::write(dir.join("secrets/salesforce.secret"), SF_CLIENT_SECRET)?;
    std::fs::write(dir.join("secrets/salesforce.refresh"), SF_REFRESH)?;
    std::fs::write(dir.join("secrets/sales-alerts.url"), alerts_url)?;
    std::fs::write(
        dir.join("secrets/admin.token"),
        format!("demo-admin-{}", std::process::id()),
    )?;
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
admin_listen = "{admin_listen}"
admin_token = "file:secrets/admin.token"

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
crm = {{ connector = "salesforce", object = "Lead", match_on = "email", upsert_key = "Leadbridge_Id__c", owner_field = "OwnerId" }}

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

# What sales owes in return: first touch within 8 business hours (Tokyo),
# then escalation, then back to marketing nurture.
[pipelines.sla]
calendar = {{ timezone = "Asia/Tokyo", days = "Mon-Fri", hours = "09:00-18:00" }}
first_touch = {{ within = "8h", touched_when = "status != 'NEW'" }}
on_breach = [
  {{ after = "0h", notify = "webhook:file:secrets/sales-alerts.url", task = {{ for = "owner", subject = "SLA breached: {{name}}" }} }},
  {{ after = "4h", reassign = "round_robin", task = {{ for = "manager", subject = "Escalated: {{name}}" }} }},
]
recycle = {{ after = "5d", set = {{ lifecycle = "lead", disqualify_reason = "SLA_EXPIRED" }} }}
manager = "{manager}"
note = "Handed off by marketing. Score {{score}}, {{company}}, campaign {{campaign}}.\nWhy: {{why}}\nFirst touch due: {{deadline}}"
follow_up = "Follow up: {{name}}"
marketing_url = "https://app.hubspot.com/contacts/demo/contact/{{id}}"
tasks = {{ object = "Task", subject = "Subject", parent = "WhoId", owner = "OwnerId" }}
"#,
        hs = sims.hubspot.url(),
        sf = sims.salesforce.url(),
        client_id = SF_CLIENT_ID,
        rule = RULE,
        manager = manager,
        admin_listen = admin_listen,
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

/// Alerts the SLA posts to "Slack", captured by a local receiver.
type Alerts = Arc<std::sync::Mutex<Vec<String>>>;

/// A Slack-compatible incoming-webhook receiver on loopback, so breach
/// notices have somewhere real to go.
async fn alert_receiver() -> anyhow::Result<(String, Alerts)> {
    let alerts: Alerts = Arc::default();
    let sink = alerts.clone();
    let app = axum::Router::new().route(
        "/hooks/sales-alerts",
        axum::routing::post(move |axum::Json(body): axum::Json<Value>| {
            let sink = sink.clone();
            async move {
                let text = body["text"].as_str().unwrap_or_default().to_owned();
                sink.lock().unwrap_or_else(|e| e.into_inner()).push(text);
                "ok"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}/hooks/sales-alerts", listener.local_addr()?);
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok((url, alerts))
}

/// The story's clock: the daemon's and both simulators', moved together.
struct StoryClock {
    daemon: ManualClock,
    sims: [Arc<dyn SimControl>; 2],
}

impl StoryClock {
    fn set(&self, at: &Zoned) {
        let t = at.timestamp();
        self.daemon.set(t);
        for sim in &self.sims {
            sim.clock().freeze_at(t);
        }
    }
}

/// A Friday 17:00 in Tokyo far enough back that the whole story (through
/// the next Friday) is in the past, so real time can take over afterwards.
fn story_start() -> anyhow::Result<Zoned> {
    let now = Timestamp::now().in_tz("Asia/Tokyo")?;
    let mut day = now.date().checked_sub(jiff::Span::new().days(9))?;
    while day.weekday() != jiff::civil::Weekday::Friday {
        day = day.checked_sub(jiff::Span::new().days(1))?;
    }
    Ok(day.at(17, 0, 0, 0).in_tz("Asia/Tokyo")?)
}

async fn events_of(daemon: &Daemon, kind: EventKind) -> anyhow::Result<Vec<crate::state::Event>> {
    Ok(daemon
        .store
        .events("inbound", Timestamp::MIN, Timestamp::MAX)
        .await?
        .into_iter()
        .filter(|e| e.kind == kind)
        .collect())
}

fn at(t: &Zoned) -> String {
    t.strftime("%A %Y-%m-%d %H:%M %Z").to_string()
}

async fn story(args: DemoArgs, level: LogLevel) -> anyhow::Result<ExitCode> {
    say("leadbridge demo: marketing (HubSpot) and sales (Salesforce) as one team, on local simulators.\n");
    let sims = start_sims().await?;
    let (alerts_url, alerts) = alert_receiver().await?;
    let hs: Arc<dyn SimControl> = sims.hubspot.control.clone();
    let sf: Arc<dyn SimControl> = sims.salesforce.control.clone();
    let start = story_start()?;
    let clock = StoryClock {
        daemon: ManualClock::new(start.timestamp()),
        sims: [hs.clone(), sf.clone()],
    };
    clock.set(&start.checked_sub(jiff::Span::new().hours(1))?);
    hs.seed(&SeedSpec {
        object: "contacts".into(),
        count: args.contacts,
        seed: 2026,
        first_index: 0,
    })
    .map_err(anyhow::Error::msg)?;
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
    let manager = names
        .iter()
        .find(|(_, n)| n.ends_with("Manager"))
        .or_else(|| names.iter().next())
        .map(|(id, _)| id.clone())
        .context("the CRM has no users")?;
    let owners: Vec<String> = names
        .keys()
        .filter(|id| **id != manager)
        .take(3)
        .cloned()
        .collect();
    let name_of = |id: &str| names.get(id).cloned().unwrap_or_else(|| "a rep".into());
    let config_path = write_config(
        &args.dir,
        &sims,
        &owners,
        &manager,
        &alerts_url,
        args.admin_listen,
    )?;
    say("▸ Simulators");
    say(format!(
        "  HubSpot     {}  ({} contacts from webinars, e-books, trade shows…)",
        sims.hubspot.url(),
        args.contacts
    ));
    say(format!(
        "  Salesforce  {}  (reps {}; manager {})",
        sims.salesforce.url(),
        owners
            .iter()
            .map(|o| name_of(o))
            .collect::<Vec<_>>()
            .join(", "),
        name_of(&manager)
    ));
    say(format!(
        "  config      {}   state {}",
        config_path.display(),
        args.dir.join("state").display()
    ));
    say(format!(
        "  the story runs on a controlled clock from {}\n",
        at(&start)
    ));

    let config = Config::load(&config_path)
        .map_err(|e| anyhow::anyhow!("the demo config is invalid:\n{e}"))?;
    let mut daemon = Daemon::open(config)?;
    daemon.clock = Arc::new(clock.daemon.clone());
    clock.set(&start);
    // The same live check as every start: the config against the tools.
    let findings = daemon.check_online().await;
    if !super::common::print_findings(&findings, &config_path) {
        anyhow::bail!("the demo config does not fit the simulated tools");
    }
    say(format!(
        "  checked against the tools: {} objects and the CRM's users fit the config",
        findings.schemas.len()
    ));

    say(format!(
        "▸ {}: marketing hands over what the SLA says",
        at(&start)
    ));
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
    for lead in leads.iter().take(6) {
        say(format!(
            "    {} {} ({}), score {:.0} → owned by {}",
            lead["FirstName"].as_str().unwrap_or(""),
            lead["LastName"].as_str().unwrap_or(""),
            lead["Company"].as_str().unwrap_or(""),
            lead["Lead_Score__c"].as_f64().unwrap_or_default(),
            name_of(lead["OwnerId"].as_str().unwrap_or(""))
        ));
    }
    if leads.len() > 6 {
        say(format!("    … and {} more", leads.len() - 6));
    }
    let mut per_owner: BTreeMap<String, usize> = BTreeMap::new();
    for lead in &leads {
        *per_owner
            .entry(name_of(lead["OwnerId"].as_str().unwrap_or("")))
            .or_default() += 1;
    }
    say(format!(
        "  leads per rep: {}",
        per_owner
            .iter()
            .map(|(k, v)| format!("{k} {v}"))
            .collect::<Vec<_>>()
            .join(", ")
    ));
    let tasks = soql(
        &sims.salesforce.url(),
        "SELECT Id, Subject, ActivityDate FROM Task",
    )
    .await?;
    say(format!(
        "  each lead got a context note and a follow-up task in Salesforce ({} activities); first touch due within 8 business hours\n",
        tasks.len()
    ));

    say("▸ Next cycle: Salesforce's default status reaches marketing as the first feedback");
    let report = cycle(&daemon).await?;
    say(format!("  {}\n", counts(&report)));

    let half_past = start.checked_add(jiff::Span::new().minutes(30))?;
    clock.set(&half_past);
    say(format!(
        "▸ {}: sales works some leads in Salesforce",
        at(&half_past)
    ));
    let mut changes = Vec::new();
    for (i, lead) in leads.iter().take(3).enumerate() {
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
            name_of(lead["OwnerId"].as_str().unwrap_or("")),
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
    let report = cycle(&daemon).await?;
    say(format!("  next cycle: {}", counts(&report)));
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
    let accepted = events_of(&daemon, EventKind::Accepted).await?;
    say(format!(
        "  {} leads accepted (first touch) within the SLA, 30 minutes after the handoff",
        accepted.len()
    ));
    let report = cycle(&daemon).await?;
    say(format!(
        "  and an idle cycle writes nothing (no echo loop): {}\n",
        counts(&report)
    ));

    let breach = start
        .checked_add(jiff::Span::new().days(3))?
        .with()
        .hour(16)
        .build()?;
    clock.set(&breach);
    say(format!(
        "▸ {}: 8 business hours later (the weekend does not count)",
        at(&breach)
    ));
    cycle(&daemon).await?;
    let breaches = events_of(&daemon, EventKind::SlaBreached).await?;
    let posted: Vec<String> = alerts.lock().unwrap_or_else(|e| e.into_inner()).clone();
    say(format!("  {} untouched leads breached the first-touch SLA: a task for each owner, and in #sales-alerts:", breaches.len()));
    for text in posted.iter().take(3) {
        say(format!("    {}", text.lines().next().unwrap_or_default()));
    }
    if posted.len() > 3 {
        say(format!("    … {} notices in all", posted.len()));
    }
    say("");

    let escalate = breach
        .checked_add(jiff::Span::new().days(1))?
        .with()
        .hour(11)
        .build()?;
    clock.set(&escalate);
    say(format!(
        "▸ {}: 4 business hours after the breach, escalation",
        at(&escalate)
    ));
    cycle(&daemon).await?;
    let since_escalation = |e: &crate::state::Event| e.at >= escalate.timestamp();
    let escalated: Vec<_> = events_of(&daemon, EventKind::Escalated)
        .await?
        .into_iter()
        .filter(since_escalation)
        .collect();
    let reassigned: Vec<_> = events_of(&daemon, EventKind::Reassigned)
        .await?
        .into_iter()
        .filter(since_escalation)
        .collect();
    say(format!(
        "  {} leads escalated to {} (a task each) and {} reassigned round-robin to another rep, their tasks moved along\n",
        escalated.len(),
        name_of(&manager),
        reassigned.len()
    ));

    let recycle = start.checked_add(jiff::Span::new().days(7))?;
    clock.set(&recycle);
    say(format!(
        "▸ {}: five business days after the handoff, still untouched",
        at(&recycle)
    ));
    cycle(&daemon).await?;
    let recycled = events_of(&daemon, EventKind::Recycled).await?;
    say(format!(
        "  {} leads went back to marketing nurture:",
        recycled.len()
    ));
    if let Some(e) = recycled.first() {
        if let Some(c) = hs.get("contacts", &e.marketing_id) {
            say(format!(
                "    e.g. HubSpot contact {}: lifecyclestage = {}, disqualify_reason = {}",
                c.text("email").unwrap_or_default(),
                c.text("lifecyclestage").unwrap_or_default(),
                c.text("disqualify_reason").unwrap_or_default()
            ));
        }
    }
    say("");
    say("▸ The shared funnel (`leadbridge report`):");
    let events = daemon
        .store
        .events("inbound", Timestamp::MIN, Timestamp::MAX)
        .await?;
    for line in crate::report::to_text(&crate::report::report(&events, None)).lines() {
        say(format!("  {line}"));
    }
    say("");

    if args.no_wait {
        say("Done (--no-wait). Inspect the state with:");
        say(format!(
            "  leadbridge status --config {}",
            config_path.display()
        ));
        say(format!(
            "  leadbridge report --config {} --since 30d",
            config_path.display()
        ));
        return Ok(ExitCode::SUCCESS);
    }

    // Real time takes over: the story's clock is in the past, so cursors stay ordered.
    let now = Timestamp::now();
    for sim in [&hs, &sf] {
        sim.clock().freeze_at(now);
        sim.clock().resume();
    }
    daemon.clock = Arc::new(SystemClock);
    say("▸ Now running on schedule, in real time (every 10 s). Marketing keeps warming up contacts;");
    say(format!(
        "  watch it on the status page: http://{}/status",
        args.admin_listen
    ));
    say(format!(
        "  (admin API token in {}); each cycle is logged below. Ctrl-C to stop.\n",
        args.dir.join("secrets/admin.token").display()
    ));
    let _ = level.modify(|f| *f = tracing_subscriber::EnvFilter::new("info"));
    let warm_up = tokio::spawn(warm_up_contacts(hs.clone(), args.contacts));
    let (inputs, inputs_rx) = tokio::sync::mpsc::unbounded_channel();
    let notifier = crate::daemon::Notifier::from_env();
    let served = daemon
        .serve(inputs, inputs_rx, stop_requested(), &notifier)
        .await;
    warm_up.abort();
    served.with_context(|| {
        format!(
            "cannot serve the status page on {} (try --admin-listen)",
            args.admin_listen
        )
    })?;
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
