//! The daemon's lifecycle, with the real binary as a child process against
//! both simulators: SIGTERM mid-sync, SIGHUP with a broken and with a
//! changed config, a second instance on the same state, bad credentials at
//! start, and the systemd unit's verification and hardening score.
//!
//! Every wait awaits an event (a log line, a systemd notification, the
//! simulators' state) within a bound; none sleeps a fixed time.

mod support;

use std::collections::BTreeSet;
use std::process::Command;
use std::time::Duration;

use leadbridge_core::sim::FaultKind;
use serde_json::json;
use support::child::{eventually, Daemon};
use support::*;

const LONG: Duration = Duration::from_secs(90);

fn run_args(world: &World) -> Vec<String> {
    vec![
        "run".into(),
        "--config".into(),
        world.config_path.display().to_string(),
    ]
}

/// Contacts of the mid-sync stop test: about 3,000 qualify, three CRM
/// write batches.
const CONTACTS: u64 = 30_000;

fn spawn(world: &World, envs: &[(&str, &str)]) -> Daemon {
    let args = run_args(world);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    Daemon::spawn(&args, envs, Some(world.path()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_mid_sync_commits_the_batch_in_flight_and_a_restart_finishes_without_duplicates() {
    // Enough contacts for several write batches (Salesforce takes 1,000
    // records a call): the stop must land between batches of one cycle.
    let world = World::start(WorldOptions {
        contacts: CONTACTS,
        ..WorldOptions::default()
    })
    .await;
    // Slow CRM writes keep the first cycle busy for many pages.
    world.sf().faults().add(
        FaultKind::Slow { delay_ms: 250 },
        None,
        None,
        Some("composite".into()),
    );
    let mut daemon = spawn(&world, &[]);
    daemon.wait_notify("READY=1", LONG);
    eventually("the first leads to be written", LONG, || {
        world.sf().count("Lead") > 0
    });
    daemon.signal("TERM");
    daemon.wait_notify("STOPPING=1", LONG);
    let status = daemon.wait_exit(Duration::from_secs(30));
    let log = daemon.log();
    assert!(status.success(), "exit {status:?}; log:\n{log}");
    assert!(log.contains("stopped cleanly"), "{log}");
    assert!(
        log.contains("cycle ended at a page boundary"),
        "the stop came mid-sync and ended at a page boundary:\n{log}"
    );
    let written_at_stop = world.sf().count("Lead");
    let expected: BTreeSet<String> = contacts(&world, CONTACTS)
        .iter()
        .filter(|c| qualifies(c))
        .map(|c| c.text("email").unwrap().to_lowercase())
        .collect();
    assert!(
        written_at_stop < expected.len(),
        "stopped before the end: {written_at_stop} of {}",
        expected.len()
    );

    // A restart resumes from the committed pages: every lead once.
    world.sf().faults().clear();
    let args = run_args(&world);
    let mut args: Vec<&str> = args.iter().map(String::as_str).collect();
    args.push("--once");
    let mut once = Daemon::spawn(&args, &[], None);
    let status = once.wait_exit(LONG);
    assert!(status.success(), "{}", once.log());
    let emails: Vec<String> = leads(&world)
        .await
        .iter()
        .map(|l| l["Email"].as_str().unwrap().to_lowercase())
        .collect();
    let unique: BTreeSet<String> = emails.iter().cloned().collect();
    assert_eq!(unique.len(), emails.len(), "no lead twice");
    assert_eq!(unique, expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_keeps_the_last_good_config_and_applies_a_valid_change_to_that_pipeline_only() {
    let world = World::start(WorldOptions::default()).await;
    // A second pipeline that a change to the first must leave running.
    let original = std::fs::read_to_string(&world.config_path).unwrap();
    let with_audit = format!(
        "{original}\n[[pipelines]]\nname = \"audit\"\nschedule = \"*/1 * * * * *\"\n\
         marketing = {{ connector = \"hubspot\", object = \"contacts\" }}\n\
         crm = {{ connector = \"salesforce\", object = \"Lead\" }}\n\n\
         [pipelines.fields]\nemail = {{ marketing = \"email\", crm = \"Email\", key = true }}\n"
    );
    std::fs::write(&world.config_path, &with_audit).unwrap();
    let mut daemon = spawn(&world, &[("WATCHDOG_USEC", "400000")]);
    daemon.wait_notify("READY=1", LONG);
    daemon.wait_notify("WATCHDOG=1", LONG);
    daemon.wait_line("a first cycle", LONG, |l| l.contains("cycle finished"));

    // A broken file: every problem logged, the old config keeps running.
    let broken = with_audit.replacen(
        "schedule = \"*/1 * * * * *\"",
        "schedule = \"every second\"",
        1,
    );
    std::fs::write(&world.config_path, &broken).unwrap();
    daemon.signal("HUP");
    let problem = daemon.wait_line("the config problem", LONG, |l| l.contains("config problem"));
    assert!(problem.contains("leadbridge.toml:"), "located: {problem}");
    daemon.wait_line("the refusal", LONG, |l| {
        l.contains("reload refused") && l.contains("last good config")
    });
    daemon.wait_notify("READY=1", LONG);
    daemon.wait_line("a cycle after the refusal", LONG, |l| {
        l.contains("cycle finished")
    });
    assert!(daemon.running());

    // A valid change to `inbound`: applied, `audit` left alone.
    let changed = with_audit.replace(RULE, "score >= 60");
    assert_ne!(changed, with_audit);
    std::fs::write(&world.config_path, &changed).unwrap();
    daemon.signal("HUP");
    let line = daemon.wait_line("the reload", LONG, |l| l.contains("config reloaded"));
    assert!(line.contains(r#"restarted=["inbound"]"#), "{line}");
    assert!(line.contains(r#"unchanged=["audit"]"#), "{line}");
    // The new rule is in force: a contact only it qualifies becomes a lead.
    let candidate = contacts(&world, 200)
        .into_iter()
        .find(|c| {
            let score: f64 = c
                .text("hubspotscore")
                .and_then(|s| s.parse().ok())
                .unwrap_or(-1.0);
            let has = |f: &str| c.text(f).is_some_and(|v| !v.trim().is_empty());
            score >= 60.0 && !qualifies(c) && has("email") && has("lastname") && has("company")
        })
        .expect("a contact that qualifies only under the new rule");
    let email = candidate.text("email").unwrap();
    assert!(world.sf().find("Lead", "Email", &email).is_empty());
    world
        .hs()
        .update(
            "contacts",
            &candidate.id,
            fields(&[("campaign", json!("reload-test"))]),
        )
        .unwrap();
    eventually("the lead the new rule hands off", LONG, || {
        !world.sf().find("Lead", "Email", &email).is_empty()
    });

    daemon.signal("TERM");
    assert!(daemon.wait_exit(Duration::from_secs(30)).success());
    let log = daemon.log();
    assert_eq!(
        log.matches("pipeline stopped").count(),
        3,
        "inbound once at the reload, then both at the stop:\n{log}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_instance_on_the_same_state_directory_is_refused() {
    let world = World::start(WorldOptions {
        contacts: 20,
        ..WorldOptions::default()
    })
    .await;
    let mut first = spawn(&world, &[]);
    first.wait_notify("READY=1", LONG);
    let mut second = spawn(&world, &[]);
    let status = second.wait_exit(LONG);
    let log = second.log();
    assert!(!status.success());
    assert!(
        log.contains("another leadbridge instance is using the state directory"),
        "{log}"
    );
    assert!(first.running(), "the first instance is undisturbed");
    first.signal("TERM");
    assert!(first.wait_exit(Duration::from_secs(30)).success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_credentials_fail_the_start_before_ready() {
    let world = World::start(WorldOptions {
        contacts: 0,
        ..WorldOptions::default()
    })
    .await;
    std::fs::write(world.path().join("secrets/hubspot.token"), "not-the-token").unwrap();
    let mut daemon = spawn(&world, &[]);
    let status = daemon.wait_exit(LONG);
    let log = daemon.log();
    assert_eq!(
        status.code(),
        Some(2),
        "refused credentials are a config problem: {log}"
    );
    assert!(
        log.contains("connector `hubspot`: hubspot refused the credentials"),
        "{log}"
    );
    assert!(!log.contains("not-the-token"), "{log}");
}

/// `systemd-analyze` verifies the unit and rates its sandbox ≤ 2.0 ("OK").
/// Needs the tool (Debian's `systemd` package; `.ci/run` installs it): a
/// machine without it fails here rather than passing unchecked.
#[test]
fn the_systemd_unit_verifies_and_is_hardened() {
    let unit = concat!(env!("CARGO_MANIFEST_DIR"), "/systemd/leadbridge.service");
    assert!(
        Command::new("systemd-analyze")
            .arg("--version")
            .output()
            .is_ok(),
        "systemd-analyze is needed to check the unit: apt-get install systemd"
    );
    let out = Command::new("systemd-analyze")
        .args(["security", "--offline=yes", unit])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let score: f64 = text
        .lines()
        .find_map(|l| {
            l.split("Overall exposure level for leadbridge.service: ")
                .nth(1)
        })
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no exposure level in:\n{text}"));
    assert!(score <= 2.0, "exposure {score} > 2.0:\n{text}");

    // `verify` checks that the commands exist: point them at the built binary.
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(unit)
        .unwrap()
        .replace("/usr/local/bin/leadbridge", support::child::BIN);
    let copy = dir.path().join("leadbridge.service");
    std::fs::write(&copy, text).unwrap();
    let out = Command::new("systemd-analyze")
        .arg("verify")
        .arg(&copy)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stderr.trim().is_empty(),
        "systemd-analyze verify: {stderr}"
    );
}
