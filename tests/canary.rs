//! The secret canary: an end-to-end sync with distinctive credentials,
//! through refreshes, injected failures and errors, and a search for those
//! credentials everywhere leadbridge writes: every log line at trace level,
//! error messages, `status --json`, and every byte of the state directory.
//!
//! The admin server's `/status`, `/api/status` and `/metrics` are searched too.

mod support;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use leadbridge_core::sim::FaultKind;
use support::child::{Daemon, BIN};
use support::*;

const HS_CANARY: &str = "CANARY-hubspot-pat-7f3a91e2";
const SF_SECRET_CANARY: &str = "CANARY-sf-client-secret-c0ffee11";
const SF_REFRESH_CANARY: &str = "CANARY-sf-refresh-d15ea5e5";
const CANARIES: [&str; 3] = [HS_CANARY, SF_SECRET_CANARY, SF_REFRESH_CANARY];
const LONG: Duration = Duration::from_secs(90);

fn assert_clean(what: &str, text: &[u8]) {
    for canary in CANARIES {
        let found = text.windows(canary.len()).any(|w| w == canary.as_bytes());
        assert!(!found, "{canary} leaked into {what}");
    }
}

fn files_under(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files_under(&path, out);
        } else {
            out.push(path);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_reaches_logs_errors_status_or_state() {
    let world = World::start(WorldOptions {
        contacts: 300,
        secrets: Secrets {
            hs_token: HS_CANARY.into(),
            sf_client_secret: SF_SECRET_CANARY.into(),
            sf_refresh_token: SF_REFRESH_CANARY.into(),
        },
        ..WorldOptions::default()
    })
    .await;
    // The search itself finds a canary where there is one.
    let secret_file = std::fs::read(world.path().join("secrets/sf.refresh")).unwrap();
    assert!(std::panic::catch_unwind(|| assert_clean("a secret file", &secret_file)).is_err());
    // Failures on the way: expired access tokens force refreshes (the
    // refresh token and client secret go over the wire), server errors
    // and throttling exercise the retry and error paths.
    world.sf().faults().add(
        FaultKind::ExpiredToken,
        Some(2),
        None,
        Some("/query".into()),
    );
    world.sf().faults().add(
        FaultKind::ServerError { status: 500 },
        Some(3),
        Some(0.3),
        None,
    );
    world.hs().faults().add(
        FaultKind::RateLimited { retry_after_s: 0 },
        Some(3),
        Some(0.3),
        None,
    );

    let config = world.config_path.display().to_string();
    let mut daemon = Daemon::spawn(
        &["run", "--config", &config],
        &[("RUST_LOG", "trace")],
        Some(world.path()),
    );
    daemon.wait_notify("READY=1", LONG);
    daemon.wait_line("a cycle", LONG, |l| l.contains("cycle finished"));
    daemon.wait_line("a second cycle", LONG, |l| l.contains("cycle finished"));
    assert!(world.sf().count("Lead") > 0, "the sync ran");
    assert!(
        world.sf().tokens().refresh_tokens_issued() >= 2,
        "tokens were refreshed"
    );
    // The admin server's pages and JSON hold no secret either.
    let addr = admin_addr(&daemon.log()).expect("the daemon logs where the admin server listens");
    for path in ["/status", "/api/status", "/metrics", "/readyz", "/healthz"] {
        let body = reqwest::get(format!("http://{addr}{path}"))
            .await
            .unwrap_or_else(|e| panic!("GET {path}: {e}"))
            .text()
            .await
            .unwrap();
        assert!(!body.is_empty(), "{path} answered");
        assert_clean(path, body.as_bytes());
    }
    let ready = reqwest::get(format!("http://{addr}/readyz")).await.unwrap();
    assert_eq!(
        ready.status(),
        200,
        "ready after the first cycles: {}",
        ready.text().await.unwrap()
    );
    daemon.signal("TERM");
    assert!(daemon.wait_exit(LONG).success(), "{}", daemon.log());
    let log = daemon.log();
    assert!(log.contains("TRACE"), "trace level was on");
    assert_clean("the daemon's log", log.as_bytes());

    // A refused credential: the error message names the connector only.
    std::fs::write(
        world.path().join("secrets/hubspot.token"),
        format!("{HS_CANARY}-revoked"),
    )
    .unwrap();
    let out = Command::new(BIN)
        .args(["run", "--config", &config])
        .env("RUST_LOG", "trace")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("refused the credentials"), "{stderr}");
    assert_clean("a start-up error", &out.stderr);
    assert_clean("a start-up error", &out.stdout);
    std::fs::write(world.path().join("secrets/hubspot.token"), HS_CANARY).unwrap();

    // A secret pasted into the config by mistake is refused, not repeated.
    let text = std::fs::read_to_string(&world.config_path).unwrap();
    let pasted = world.path().join("pasted.toml");
    std::fs::write(
        &pasted,
        text.replace("file:secrets/hubspot.token", HS_CANARY),
    )
    .unwrap();
    let out = Command::new(BIN)
        .arg("check")
        .arg("--config")
        .arg(&pasted)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("literal secret"));
    assert_clean("check's errors", &out.stderr);
    assert_clean("check's output", &out.stdout);

    let out = Command::new(BIN)
        .args(["status", "--json", "--config", &config])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_clean("status --json", &out.stdout);
    assert_clean("status --json", &out.stderr);

    let mut files = Vec::new();
    files_under(&world.state_dir(), &mut files);
    assert!(files.len() > 2, "state was written: {files:?}");
    for file in files {
        let bytes = std::fs::read(&file).unwrap();
        assert_clean(&format!("state file {}", file.display()), &bytes);
    }
}
