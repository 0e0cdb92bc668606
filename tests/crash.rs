//! End to end: the real `leadbridge` binary, SIGKILLed at 20 random moments
//! of a 5,000-lead sync and restarted after each, ends with every qualified
//! lead exactly once in the CRM, every feedback change in marketing and
//! nothing in the dead letter queue.

mod support;

use std::collections::BTreeSet;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use rand::{Rng, SeedableRng};
use serde_json::json;
use support::*;

fn spawn(world: &World, log: &std::path::Path) -> Child {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .unwrap();
    Command::new(env!("CARGO_BIN_EXE_leadbridge"))
        .args(["run", "--config"])
        .arg(&world.config_path)
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("start leadbridge")
}

fn run_once(world: &World) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_leadbridge"))
        .args(["run", "--once", "--config"])
        .arg(&world.config_path)
        .env("RUST_LOG", "warn")
        .output()
        .unwrap();
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_at_random_moments_loses_and_duplicates_nothing() {
    let world = World::start(WorldOptions {
        contacts: 5_600,
        // Nearly everyone qualifies: about 5,000 leads to hand off.
        rule: "score >= 10",
        ..WorldOptions::default()
    })
    .await;
    let expected: BTreeSet<String> = contacts(&world, 5_600)
        .iter()
        .filter(|c| {
            c.text("hubspotscore")
                .and_then(|s| s.parse::<f64>().ok())
                .is_some_and(|s| s >= 10.0)
        })
        .map(|c| c.text("email").unwrap().to_lowercase())
        .collect();
    assert!(expected.len() >= 4_800, "{} leads", expected.len());
    let log = world.path().join("daemon.log");
    let mut rng = rand::rngs::StdRng::seed_from_u64(0x1eadb41d);
    let mut feedback: Vec<(String, String)> = Vec::new();
    let mut kills_mid_handoff = 0;

    for kill in 0..20 {
        let mut child = spawn(&world, &log);
        // Fault injection, not synchronisation: the kill must land at an
        // arbitrary instant of the sync, wherever the daemon happens to be.
        let after = Duration::from_millis(rng.random_range(50..2_500));
        tokio::time::sleep(after).await;
        child.kill().expect("SIGKILL");
        child.wait().unwrap();
        let so_far = leads(&world).await.len();
        if so_far < expected.len() {
            kills_mid_handoff += 1;
        }
        if kill == 10 {
            // Sales works some leads while the daemon keeps dying.
            let leads = leads(&world).await;
            for lead in leads.iter().step_by(97).take(20) {
                let id = lead["Id"].as_str().unwrap().to_owned();
                world
                    .sf()
                    .update(
                        "Lead",
                        &id,
                        fields(&[("Status", json!("Working - Contacted"))]),
                    )
                    .unwrap();
                let contact = lead["Leadbridge_Id__c"]
                    .as_str()
                    .unwrap()
                    .trim_start_matches("inbound:")
                    .to_owned();
                feedback.push((id, contact));
            }
        }
    }
    assert!(!feedback.is_empty(), "some leads existed by the 10th kill");
    // The kills really interrupted the work, not an idle daemon.
    assert!(
        kills_mid_handoff >= 3,
        "only {kills_mid_handoff} kills landed before the handoff completed"
    );
    let replays = std::fs::read_to_string(&log)
        .unwrap()
        .matches("replaying writes a stop interrupted")
        .count();
    eprintln!("{kills_mid_handoff} kills landed mid-handoff; {replays} restarts replayed interrupted writes");

    // Let it finish undisturbed.
    let mut converged = false;
    for _ in 0..6 {
        let (ok, out) = run_once(&world);
        assert!(ok, "run --once failed:\n{out}");
        if out.contains("wrote 0 crm / 0 marketing") && out.contains("0 dead-lettered") {
            converged = true;
            break;
        }
    }
    assert!(
        converged,
        "the sync converges after the crashes; log in {}",
        log.display()
    );

    let leads = leads(&world).await;
    let emails: Vec<String> = leads
        .iter()
        .map(|l| l["Email"].as_str().unwrap().to_lowercase())
        .collect();
    let unique: BTreeSet<String> = emails.iter().cloned().collect();
    assert_eq!(unique.len(), emails.len(), "a lead was created twice");
    assert_eq!(unique, expected, "every qualified lead exists");
    let ext_ids: BTreeSet<&str> = leads
        .iter()
        .map(|l| l["Leadbridge_Id__c"].as_str().unwrap())
        .collect();
    assert_eq!(ext_ids.len(), leads.len());
    for (lead, contact_id) in &feedback {
        assert_eq!(
            contact(&world, contact_id)
                .text("hs_lead_status")
                .as_deref(),
            Some("IN_PROGRESS"),
            "feedback of lead {lead} reached marketing"
        );
    }
    let out = Command::new(env!("CARGO_BIN_EXE_leadbridge"))
        .args(["dlq", "list", "--json", "--config"])
        .arg(&world.config_path)
        .output()
        .unwrap();
    let entries: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        entries.is_empty(),
        "nothing belongs in the DLQ: {entries:?}"
    );
}
