//! `leadbridge auth`: the real binary walks the authorization-code consent
//! with PKCE against each simulator's authorize endpoint. The test plays
//! the browser: it fetches the printed consent URL and follows the redirect
//! to the helper's loopback listener; the helper exchanges the code and
//! writes the refresh token, mode 0600, where the config points.

mod support;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::Duration;

use leadbridge_core::sim::{RunningSimulator, SimulatorOptions, TokenSettings};
use support::child::Daemon;

const CLIENT_ID: &str = "auth-test-app";
const CLIENT_SECRET: &str = "auth-test-app-secret";
const WAIT: Duration = Duration::from_secs(60);

fn tokens() -> TokenSettings {
    TokenSettings {
        client_id: CLIENT_ID.into(),
        client_secret: CLIENT_SECRET.into(),
        ..TokenSettings::default()
    }
}

async fn simulators() -> (RunningSimulator, RunningSimulator) {
    let options = || SimulatorOptions {
        tokens: tokens(),
        seed_records: 0,
        ..SimulatorOptions::default()
    };
    let hs = leadbridge_hubspot::simulator::start(options())
        .await
        .unwrap();
    let sf = leadbridge_salesforce::simulator::start(options())
        .await
        .unwrap();
    (hs, sf)
}

/// A config whose two connectors take their refresh tokens from files that
/// do not exist yet.
fn write_config(dir: &Path, hs: &str, sf: &str, hs_refresh: &str) -> std::path::PathBuf {
    std::fs::write(dir.join("client.secret"), CLIENT_SECRET).unwrap();
    let path = dir.join("leadbridge.toml");
    std::fs::write(
        &path,
        format!(
            r#"[daemon]
state_dir = "state"

[connectors.hubspot]
kind = "hubspot"
base_url = "{hs}"
auth = {{ type = "oauth2_refresh", client_id = "{CLIENT_ID}", client_secret = "file:client.secret", refresh_token = "{hs_refresh}" }}

[connectors.salesforce]
kind = "salesforce"
instance_url = "{sf}"
auth = {{ type = "oauth2_refresh", client_id = "{CLIENT_ID}", client_secret = "file:client.secret", refresh_token = "file:tokens/salesforce.refresh" }}

[[pipelines]]
name = "inbound"
schedule = "0 */5 * * * *"
marketing = {{ connector = "hubspot", object = "contacts" }}
crm = {{ connector = "salesforce", object = "Lead" }}

[pipelines.fields]
email = {{ marketing = "email", crm = "Email", key = true }}
"#
        ),
    )
    .unwrap();
    path
}

/// Runs the helper for `tool`, plays the browser, returns the stored token.
async fn consent(config: &Path, tool: &str, token_file: &Path) -> String {
    let config = config.display().to_string();
    let mut helper = Daemon::spawn(&["auth", tool, "--config", &config], &[], None);
    let line = helper.wait_line("the consent URL", WAIT, |l| {
        l.starts_with("[stdout] http://")
    });
    let url = line.trim_start_matches("[stdout] ").trim().to_string();
    assert!(url.contains("code_challenge="), "PKCE: {url}");
    assert!(url.contains("code_challenge_method=S256"), "{url}");
    let page = reqwest::get(&url).await.unwrap();
    assert!(page.status().is_success(), "{}", page.status());
    assert!(page.url().host_str() == Some("127.0.0.1"));
    assert!(page.text().await.unwrap().contains("received the consent"));
    let status = helper.wait_exit(WAIT);
    assert!(status.success(), "{}", helper.log());
    let mode = std::fs::metadata(token_file).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "{}", token_file.display());
    let token = std::fs::read_to_string(token_file)
        .unwrap()
        .trim()
        .to_string();
    assert!(
        !helper.log().contains(&token),
        "the token was printed:\n{}",
        helper.log()
    );
    token
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_consent_stores_a_refresh_token_each_simulator_accepts() {
    let (hs, sf) = simulators().await;
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(
        dir.path(),
        &hs.url(),
        &sf.url(),
        "file:tokens/hubspot.refresh",
    );

    let token = consent(
        &config,
        "hubspot",
        &dir.path().join("tokens/hubspot.refresh"),
    )
    .await;
    hs.control
        .tokens()
        .refresh(CLIENT_ID, CLIENT_SECRET, &token)
        .expect("HubSpot accepts the stored refresh token");

    let token = consent(
        &config,
        "salesforce",
        &dir.path().join("tokens/salesforce.refresh"),
    )
    .await;
    sf.control
        .tokens()
        .refresh(CLIENT_ID, CLIENT_SECRET, &token)
        .expect("Salesforce accepts the stored refresh token");

    // The stored tokens make a valid config: `check` passes now.
    let out = std::process::Command::new(support::child::BIN)
        .args(["check", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_env_reference_is_refused_with_the_way_out() {
    let (hs, sf) = simulators().await;
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &hs.url(), &sf.url(), "env:HS_REFRESH");
    let config = config.display().to_string();
    let mut helper = Daemon::spawn(&["auth", "hubspot", "--config", &config], &[], None);
    let status = helper.wait_exit(WAIT);
    let log = helper.log();
    assert!(!status.success());
    assert!(log.contains("refresh_token is `env:HS_REFRESH`"), "{log}");
    assert!(log.contains("file:"), "{log}");
}
