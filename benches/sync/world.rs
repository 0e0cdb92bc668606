//! One benchmark world: both simulators as child processes on loopback
//! (vendor rate limits off), HubSpot seeded, and a config written the way
//! ops write one (secrets in files), in a fresh directory.

use std::path::{Path, PathBuf};

use anyhow::Context;

use crate::ctl::Ctl;
use crate::procs::Simulator;

/// HubSpot's private-app token.
pub const HS_TOKEN: &str = "bench-private-app-token";
/// Salesforce's connected app.
pub const SF_CLIENT_ID: &str = "bench-connected-app";
/// Its secret.
pub const SF_CLIENT_SECRET: &str = "bench-client-secret";
/// The first refresh token (the simulator rotates it).
pub const SF_REFRESH_TOKEN: &str = "bench-first-refresh-token";
/// A session id for the harness's own SOQL reads.
pub const SF_SESSION: &str = "bench-session";
/// The population seed of the HubSpot contacts.
pub const SEED: u64 = 1;
/// The handoff rule: about 10% of the seeded people (score is uniform on
/// 0–100 and a third of those scoring 67–99 are MQLs).
pub const RULE: &str = "score >= 70 && lifecycle == 'marketingqualifiedlead'";

/// Two simulators and a config pointing at them.
pub struct World {
    /// HubSpot (marketing).
    pub hubspot: Simulator,
    /// Salesforce (CRM).
    pub salesforce: Simulator,
    /// HubSpot's control surface.
    pub hs: Ctl,
    /// Salesforce's control surface.
    pub sf: Ctl,
    /// The config file.
    pub config: PathBuf,
    /// The folder holding config, secrets, state and logs.
    pub dir: tempfile::TempDir,
}

impl World {
    /// Starts both simulators (HubSpot seeded with `contacts` people) and
    /// writes the config.
    pub async fn start(bin: &Path, contacts: u64) -> anyhow::Result<World> {
        let args = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        let seed = contacts.to_string();
        let seed_no = SEED.to_string();
        let hubspot = Simulator::start(
            bin,
            &args(&[
                "hubspot",
                "--listen",
                "127.0.0.1:0",
                "--token",
                HS_TOKEN,
                "--seed-records",
                &seed,
                "--seed",
                &seed_no,
                "--no-rate-limits",
            ]),
        )?;
        let salesforce = Simulator::start(
            bin,
            &args(&[
                "salesforce",
                "--listen",
                "127.0.0.1:0",
                "--token",
                SF_SESSION,
                "--client-id",
                SF_CLIENT_ID,
                "--client-secret",
                SF_CLIENT_SECRET,
                "--refresh-token",
                SF_REFRESH_TOKEN,
                "--token-lifetime",
                "86400",
                "--no-rate-limits",
            ]),
        )?;
        let hs = Ctl::new(&hubspot.url);
        let sf = Ctl::new(&salesforce.url);
        let owners = sf
            .soql_ids(SF_SESSION, "SELECT Id FROM User ORDER BY Id LIMIT 3")
            .await
            .context("reading Salesforce users")?;
        let dir = tempfile::Builder::new()
            .prefix("leadbridge-bench")
            .tempdir()?;
        let secrets = dir.path().join("secrets");
        std::fs::create_dir_all(&secrets)?;
        std::fs::write(secrets.join("hubspot.token"), HS_TOKEN)?;
        std::fs::write(secrets.join("sf.secret"), SF_CLIENT_SECRET)?;
        std::fs::write(secrets.join("sf.refresh"), SF_REFRESH_TOKEN)?;
        let config = dir.path().join("leadbridge.toml");
        std::fs::write(&config, config_text(&hubspot.url, &salesforce.url, &owners))?;
        Ok(World {
            hubspot,
            salesforce,
            hs,
            sf,
            config,
            dir,
        })
    }

    /// The daemon's state directory.
    pub fn state_dir(&self) -> PathBuf {
        self.dir.path().join("state")
    }

    /// Moves both simulated clocks forward.
    pub async fn advance(&self, ms: u64) -> anyhow::Result<()> {
        self.hs.advance_clock(ms).await?;
        self.sf.advance_clock(ms).await
    }

    /// Resets both request counters.
    pub async fn reset_requests(&self) -> anyhow::Result<()> {
        self.hs.reset_requests().await?;
        self.sf.reset_requests().await
    }
}

/// The benchmark config: the end-to-end tests' pipeline with the
/// benchmark's rule, vendor default overlaps, and the client-side general
/// rate limit lifted (the simulators enforce none).
pub fn config_text(hs: &str, sf: &str, owners: &[String]) -> String {
    let owners = owners
        .iter()
        .map(|o| format!("\"{o}\""))
        .collect::<Vec<_>>()
        .join(", ");
    format!(
        r#"[daemon]
state_dir = "state"
log_format = "human"

[connectors.hubspot]
kind = "hubspot"
base_url = "{hs}"
auth = {{ type = "private_app", token = "file:secrets/hubspot.token" }}
rate_limit = {{ requests = 1000000, per = "1s" }}

[connectors.salesforce]
kind = "salesforce"
instance_url = "{sf}"
auth = {{ type = "oauth2_refresh", client_id = "{SF_CLIENT_ID}", client_secret = "file:secrets/sf.secret", refresh_token = "file:secrets/sf.refresh" }}
rate_limit = {{ requests = 1000000, per = "1s" }}

[[pipelines]]
name = "inbound"
schedule = "0 */2 * * * *"
marketing = {{ connector = "hubspot", object = "contacts" }}
crm = {{ connector = "salesforce", object = "Lead", match_on = "email", upsert_key = "Leadbridge_Id__c", owner_field = "OwnerId" }}

[pipelines.fields]
email = {{ marketing = "email", crm = "Email", key = true }}
first_name = {{ marketing = "firstname", crm = "FirstName", owner = "marketing" }}
last_name = {{ marketing = "lastname", crm = "LastName", owner = "marketing" }}
company = {{ marketing = "company", crm = "Company", owner = "both", conflict = "newest" }}
score = {{ marketing = "hubspotscore", crm = "Lead_Score__c", owner = "marketing", type = "number" }}
lifecycle = {{ marketing = "lifecyclestage", owner = "marketing" }}
campaign = {{ marketing = "campaign", owner = "marketing" }}
status = {{ marketing = "hs_lead_status", crm = "Status", owner = "crm", values = {{ "Open - Not Contacted" = "NEW", "Working - Contacted" = "IN_PROGRESS", "Closed - Converted" = "OPEN_DEAL", "Closed - Not Converted" = "UNQUALIFIED" }} }}
disqualify_reason = {{ marketing = "disqualify_reason", crm = "Disqualified_Reason__c", owner = "crm" }}
owner = {{ crm = "OwnerId", owner = "crm" }}

[pipelines.handoff]
when = "{RULE}"
require = ["email", "last_name", "company"]
assign = {{ strategy = "round_robin", owners = [{owners}] }}
"#
    )
}
