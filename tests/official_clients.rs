//! The vendors' official clients work against our simulators: the HubSpot
//! Node SDK and jsforce create, read, search or query, page to the end and
//! upsert (tests/clients/check.mjs), as they would against the real APIs.

use std::path::Path;
use std::process::Command;

use leadbridge_core::sim::{SimulatorOptions, TokenSettings};

fn options(token: &str, seed_records: u64) -> SimulatorOptions {
    SimulatorOptions {
        tokens: TokenSettings {
            static_tokens: vec![token.to_owned()],
            ..TokenSettings::default()
        },
        // The SDKs pace themselves; the check is about shapes, not limits.
        rate_limits: false,
        seed_records,
        ..SimulatorOptions::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hubspot_sdk_and_jsforce_work_against_the_simulators() {
    let clients = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/clients");
    if !clients.join("node_modules/jsforce").exists()
        || !clients.join("node_modules/@hubspot/api-client").exists()
    {
        let status = Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
            .current_dir(&clients)
            .status()
            .expect("npm is needed for this test (Debian: apt-get install nodejs npm)");
        assert!(status.success(), "npm ci failed in tests/clients");
    }
    let hubspot = leadbridge_hubspot::simulator::start(options("hs-sdk-token", 250))
        .await
        .unwrap();
    let salesforce = leadbridge_salesforce::simulator::start(options("sf-sdk-session", 2_500))
        .await
        .unwrap();
    let (hs_url, sf_url) = (hubspot.url(), salesforce.url());
    let output = tokio::task::spawn_blocking(move || {
        Command::new("node")
            .args([
                "check.mjs",
                &hs_url,
                "hs-sdk-token",
                &sf_url,
                "sf-sdk-session",
            ])
            .current_dir(&clients)
            .output()
            .expect("node is needed for this test")
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "official clients failed:\n{stdout}\n{stderr}"
    );
    assert!(
        stdout.contains("ok - hubspot: batch upsert by email"),
        "{stdout}"
    );
    assert!(
        stdout.contains("ok - salesforce: upsert by External ID"),
        "{stdout}"
    );
    let requests = hubspot.control.requests().total() + salesforce.control.requests().total();
    assert!(
        requests > 10,
        "the clients really called the simulators ({requests} requests)"
    );
}
