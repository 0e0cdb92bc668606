//! The end-to-end harness: both simulators on loopback, a config written
//! the way ops write one (secrets in files), and the real daemon code.
#![allow(dead_code)]

pub mod child;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use leadbridge::config::Config;
use leadbridge::daemon::Daemon;
use leadbridge::engine::cycle::CycleReport;
use leadbridge_core::sim::{
    RunningSimulator, SeedSpec, SimControl, SimulatorOptions, TokenSettings,
};
use leadbridge_core::{Fields, Record};
use serde_json::Value;

/// HubSpot's private-app token in the tests.
pub const HS_TOKEN: &str = "hs-e2e-private-app-token";
/// Salesforce's connected app and first refresh token.
pub const SF_CLIENT_ID: &str = "e2e-connected-app";
/// Its secret.
pub const SF_CLIENT_SECRET: &str = "e2e-client-secret-value";
/// The refresh token configured at the start (the simulator rotates it).
pub const SF_REFRESH_TOKEN: &str = "e2e-first-refresh-token";
/// A session id for reading the Salesforce simulator directly in tests.
pub const SF_SESSION: &str = "e2e-test-session";

/// The admin API's bearer token in the tests.
pub const ADMIN_TOKEN: &str = "e2e-admin-token";

/// The admin server's address, from a daemon's log line "admin server listening".
pub fn admin_addr(log: &str) -> Option<String> {
    let line = log.lines().find(|l| l.contains("admin server listening"))?;
    let line = child::strip_ansi(line);
    let at = line.find("127.0.0.1:")?;
    Some(
        line[at..]
            .chars()
            .take_while(|c| c.is_ascii_digit() || *c == '.' || *c == ':')
            .collect(),
    )
}

/// The handoff rule of the test pipeline.
pub const RULE: &str = "score >= 60 && lifecycle == 'marketingqualifiedlead'";

/// Two simulators and a config pointing at them.
pub struct World {
    pub hubspot: RunningSimulator,
    pub salesforce: RunningSimulator,
    pub dir: tempfile::TempDir,
    pub config_path: PathBuf,
    pub owners: Vec<String>,
}

/// Knobs of the test config.
#[derive(Clone)]
pub struct WorldOptions {
    /// `conflict` policy of the `company` field (owned by both).
    pub company_conflict: &'static str,
    /// Seeded HubSpot contacts.
    pub contacts: u64,
    /// Enforce vendor rate limits in the simulators.
    pub rate_limits: bool,
    /// Extra lines appended to each connector table (retry tuning, …).
    pub connector_extra: &'static str,
    /// The pipeline's cron schedule.
    pub schedule: &'static str,
    /// The handoff rule.
    pub rule: &'static str,
    /// The canonical fields a lead must have to be handed off.
    pub require: &'static str,
    /// Extra lines of the `[pipelines.handoff]` table.
    pub handoff_extra: &'static str,
    /// A `[pipelines.sla]` table appended to the pipeline; `{owner0}`,
    /// `{owner1}`, `{owner2}` are replaced by the simulator's user ids.
    pub sla: String,
    /// A `[pipelines.outcomes]` table (and its fields) appended to the pipeline.
    pub outcomes: String,
    /// The credentials both simulators accept and the config references
    /// (the canary test sets distinctive ones).
    pub secrets: Secrets,
}

/// The credentials of a world.
#[derive(Clone)]
pub struct Secrets {
    /// HubSpot's private-app token.
    pub hs_token: String,
    /// Salesforce's connected-app secret.
    pub sf_client_secret: String,
    /// Salesforce's first refresh token.
    pub sf_refresh_token: String,
}

impl Default for Secrets {
    fn default() -> Self {
        Self {
            hs_token: HS_TOKEN.into(),
            sf_client_secret: SF_CLIENT_SECRET.into(),
            sf_refresh_token: SF_REFRESH_TOKEN.into(),
        }
    }
}

impl Default for WorldOptions {
    fn default() -> Self {
        Self {
            company_conflict: "newest",
            contacts: 200,
            rate_limits: false,
            connector_extra: "retry = { max_attempts = 8, base_delay = \"5ms\", max_delay = \"2s\", max_total_wait = \"20s\" }",
            schedule: "*/1 * * * * *",
            rule: RULE,
            require: r#"["email", "last_name", "company"]"#,
            handoff_extra: "",
            sla: String::new(),
            outcomes: String::new(),
            secrets: Secrets::default(),
        }
    }
}

impl World {
    /// Starts both simulators, seeds HubSpot, writes the config.
    pub async fn start(options: WorldOptions) -> World {
        let hubspot = leadbridge_hubspot::simulator::start(SimulatorOptions {
            tokens: TokenSettings {
                static_tokens: vec![options.secrets.hs_token.clone()],
                ..TokenSettings::default()
            },
            rate_limits: options.rate_limits,
            seed_records: 0,
            ..SimulatorOptions::default()
        })
        .await
        .unwrap();
        let salesforce = leadbridge_salesforce::simulator::start(SimulatorOptions {
            tokens: TokenSettings {
                client_id: SF_CLIENT_ID.into(),
                client_secret: options.secrets.sf_client_secret.clone(),
                initial_refresh_token: Some(options.secrets.sf_refresh_token.clone()),
                static_tokens: vec![SF_SESSION.into()],
                ..TokenSettings::default()
            },
            rate_limits: options.rate_limits,
            ..SimulatorOptions::default()
        })
        .await
        .unwrap();
        if options.contacts > 0 {
            hubspot
                .control
                .seed(&SeedSpec {
                    object: "contacts".into(),
                    count: options.contacts,
                    seed: 42,
                    first_index: 0,
                })
                .unwrap();
        }
        let owners = sf_users(&salesforce.url()).await;
        assert!(
            owners.len() >= 3,
            "the Salesforce simulator has users to own leads"
        );
        let owners: Vec<String> = owners.into_iter().take(3).collect();
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("secrets")).unwrap();
        let secrets = &options.secrets;
        std::fs::write(dir.path().join("secrets/hubspot.token"), &secrets.hs_token).unwrap();
        std::fs::write(
            dir.path().join("secrets/sf.secret"),
            &secrets.sf_client_secret,
        )
        .unwrap();
        std::fs::write(
            dir.path().join("secrets/sf.refresh"),
            &secrets.sf_refresh_token,
        )
        .unwrap();
        std::fs::write(dir.path().join("secrets/admin.token"), ADMIN_TOKEN).unwrap();
        let config_path = dir.path().join("leadbridge.toml");
        let owners_toml = owners
            .iter()
            .map(|o| format!("\"{o}\""))
            .collect::<Vec<_>>()
            .join(", ");
        let text = format!(
            r#"[daemon]
state_dir = "state"
log_format = "human"
# Port 0: tests run daemons side by side; the log says where it listens.
admin_listen = "127.0.0.1:0"
admin_token = "file:secrets/admin.token"
shutdown_grace = "20s"

[connectors.hubspot]
kind = "hubspot"
base_url = "{hs}"
auth = {{ type = "private_app", token = "file:secrets/hubspot.token" }}
overlap = "1m"
{extra}

[connectors.salesforce]
kind = "salesforce"
instance_url = "{sf}"
auth = {{ type = "oauth2_refresh", client_id = "{client_id}", client_secret = "file:secrets/sf.secret", refresh_token = "file:secrets/sf.refresh" }}
overlap = "1m"
{extra}

[[pipelines]]
name = "inbound"
schedule = "{schedule}"
marketing = {{ connector = "hubspot", object = "contacts" }}
crm = {{ connector = "salesforce", object = "Lead", match_on = "email", upsert_key = "Leadbridge_Id__c", owner_field = "OwnerId" }}

[pipelines.fields]
email = {{ marketing = "email", crm = "Email", key = true }}
first_name = {{ marketing = "firstname", crm = "FirstName", owner = "marketing" }}
last_name = {{ marketing = "lastname", crm = "LastName", owner = "marketing" }}
company = {{ marketing = "company", crm = "Company", owner = "both", conflict = "{conflict}" }}
score = {{ marketing = "hubspotscore", crm = "Lead_Score__c", owner = "marketing", type = "number" }}
lifecycle = {{ marketing = "lifecyclestage", owner = "marketing" }}
campaign = {{ marketing = "campaign", owner = "marketing" }}
status = {{ marketing = "hs_lead_status", crm = "Status", owner = "crm", values = {{ "Open - Not Contacted" = "NEW", "Working - Contacted" = "IN_PROGRESS", "Closed - Converted" = "OPEN_DEAL", "Closed - Not Converted" = "UNQUALIFIED" }} }}
disqualify_reason = {{ marketing = "disqualify_reason", crm = "Disqualified_Reason__c", owner = "crm" }}
owner = {{ crm = "OwnerId", owner = "crm" }}

[pipelines.handoff]
when = "{rule}"
require = {require}
assign = {{ strategy = "round_robin", owners = [{owners_toml}] }}
{handoff_extra}
"#,
            hs = hubspot.url(),
            sf = salesforce.url(),
            client_id = SF_CLIENT_ID,
            extra = options.connector_extra,
            schedule = options.schedule,
            conflict = options.company_conflict,
            rule = options.rule,
            require = options.require,
            handoff_extra = options.handoff_extra,
        );
        let mut sla = options.sla.clone();
        for (i, o) in owners.iter().enumerate() {
            sla = sla.replace(&format!("{{owner{i}}}"), o);
        }
        let text = format!("{text}\n{sla}\n{}\n", options.outcomes);
        std::fs::write(&config_path, text).unwrap();
        World {
            hubspot,
            salesforce,
            dir,
            config_path,
            owners,
        }
    }

    /// The config, loaded and validated as the daemon does.
    pub fn config(&self) -> Config {
        Config::load(&self.config_path).unwrap_or_else(|e| panic!("test config invalid:\n{e}"))
    }

    /// A daemon over the config (opens the state directory).
    pub fn daemon(&self) -> Daemon {
        Daemon::open(self.config()).unwrap()
    }

    pub fn hs(&self) -> &Arc<dyn SimControl> {
        &self.hubspot.control
    }

    pub fn sf(&self) -> &Arc<dyn SimControl> {
        &self.salesforce.control
    }

    pub fn state_dir(&self) -> PathBuf {
        self.dir.path().join("state")
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }
}

/// Runs one cycle of every pipeline and returns the reports; panics on failure.
pub async fn cycle(daemon: &Daemon) -> CycleReport {
    let mut results = daemon.run_once(false).await;
    let (name, result) = results.remove(0);
    result.unwrap_or_else(|e| panic!("cycle of {name} failed: {e}"))
}

/// The Salesforce users (ids), read through the simulator's SOQL.
pub async fn sf_users(url: &str) -> Vec<String> {
    let records = sf_query(url, "SELECT Id FROM User ORDER BY Id").await;
    records
        .iter()
        .filter_map(|r| r["Id"].as_str().map(str::to_owned))
        .collect()
}

/// Every record of a SOQL query against the Salesforce simulator, paging to the end.
pub async fn sf_query(url: &str, soql: &str) -> Vec<Value> {
    let client = reqwest::Client::new();
    let mut out = Vec::new();
    let mut next = format!("{url}/services/data/v62.0/query?q={}", urlencode(soql));
    loop {
        let page: Value = client
            .get(&next)
            .bearer_auth(SF_SESSION)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        out.extend(page["records"].as_array().cloned().unwrap_or_default());
        match page["nextRecordsUrl"].as_str() {
            Some(more) => next = format!("{url}{more}"),
            None => return out,
        }
    }
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Whether a seeded contact satisfies the handoff rule, computed from its
/// values independently of the engine.
pub fn qualifies(contact: &Record) -> bool {
    let score: f64 = contact
        .text("hubspotscore")
        .and_then(|s| s.parse().ok())
        .unwrap_or(-1.0);
    let stage = contact.text("lifecyclestage").unwrap_or_default();
    let has = |f: &str| contact.text(f).is_some_and(|v| !v.trim().is_empty());
    score >= 60.0
        && stage == "marketingqualifiedlead"
        && has("email")
        && has("lastname")
        && has("company")
}

/// The ids of every seeded contact (HubSpot numbers its records from 1001).
pub fn contact(world: &World, id: &str) -> Record {
    world
        .hs()
        .get("contacts", id)
        .unwrap_or_else(|| panic!("contact {id}"))
}

/// Every HubSpot contact id, found by walking ids from the first.
pub fn contacts(world: &World, count: u64) -> Vec<Record> {
    let mut out = Vec::new();
    let mut id = 1001u64;
    while (out.len() as u64) < count && id < 1001 + count * 4 {
        if let Some(r) = world.hs().get("contacts", &id.to_string()) {
            out.push(r);
        }
        id += 1;
    }
    out
}

/// A field map from pairs.
pub fn fields(pairs: &[(&str, Value)]) -> Fields {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), v.clone()))
        .collect()
}

/// Every Lead in the Salesforce simulator, with the fields the tests check.
pub async fn leads(world: &World) -> Vec<Value> {
    sf_query(
        &world.salesforce.url(),
        "SELECT Id, Email, FirstName, LastName, Company, Lead_Score__c, Status, OwnerId, Disqualified_Reason__c, Leadbridge_Id__c FROM Lead ORDER BY Id",
    )
    .await
}

/// Runs the real `leadbridge` binary with `args` and the world's config;
/// whether it succeeded, and stdout and stderr together.
pub fn leadbridge(world: &World, args: &[&str]) -> (bool, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_leadbridge"))
        .args(args)
        .arg("--config")
        .arg(&world.config_path)
        .output()
        .expect("run leadbridge");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}
