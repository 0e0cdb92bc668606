//! A tool is a crate and one registry line: a connector kind the daemon has
//! never heard of (the memory connector, registered here under the name
//! `fake`) is configured, validated with located errors, built and run end
//! to end without a single edit to the daemon.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use leadbridge::config::Config;
use leadbridge::daemon::Daemon;
use leadbridge::state::Side;
use leadbridge_core::memory::{CallKind, MemoryFactory, MemoryWorld};
use leadbridge_core::sim::SimControl;
use leadbridge_core::{Fields, Registry};
use serde_json::json;

const CONFIG: &str = r#"[daemon]
state_dir = "state"

[connectors.marketing]
kind = "fake"
auth = { type = "static_token", token = "env:FAKE_TOKEN" }
page_size = 4

[connectors.crm]
kind = "fake"
auth = { type = "static_token", token = "env:FAKE_TOKEN" }
batch_size = 3

[[pipelines]]
name = "inbound"
schedule = "0 */5 * * * *"
marketing = { connector = "marketing", object = "contacts" }
crm = { connector = "crm", object = "leads", match_on = "email" }

[pipelines.fields]
email = { marketing = "email", crm = "Email", key = true }
last_name = { marketing = "lastname", crm = "LastName", owner = "marketing" }
score = { marketing = "score", crm = "Score", owner = "marketing", type = "number" }
status = { marketing = "status", crm = "Status", owner = "crm" }

[pipelines.handoff]
when = "score >= 50"
require = ["last_name"]
"#;

fn registry(world: &Arc<MemoryWorld>) -> Registry {
    leadbridge::registry::builtin().with(Arc::new(MemoryFactory::new("fake", world.clone())))
}

fn secrets() -> BTreeMap<String, String> {
    BTreeMap::from([("FAKE_TOKEN".to_string(), "x".to_string())])
}

fn contact(email: &str, score: u32) -> Fields {
    let serde_json::Value::Object(f) = json!({"email": email, "lastname": "Kato", "score": score})
    else {
        unreachable!()
    };
    f
}

#[tokio::test]
async fn a_registered_kind_runs_end_to_end_without_a_daemon_edit() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("leadbridge.toml");
    std::fs::write(&path, CONFIG).unwrap();
    let world = MemoryWorld::new();
    let emails: Vec<String> = (0..10).map(|i| format!("p{i}@example.com")).collect();
    world
        .insert(
            "contacts",
            emails
                .iter()
                .enumerate()
                .map(|(i, e)| contact(e, if i % 2 == 0 { 80 } else { 10 }))
                .collect(),
        )
        .unwrap();
    world.clock().advance(std::time::Duration::from_secs(600));

    // Without the registry line the kind is unknown, with a located error.
    let unknown = Config::parse(CONFIG, &path, &secrets()).unwrap_err();
    assert!(
        unknown
            .to_string()
            .contains("leadbridge.toml:5:8: error: unknown connector kind `fake`"),
        "{unknown}"
    );

    // With it, the config validates and the daemon runs it.
    let registry = registry(&world);
    let config = Config::load_from(&path, &secrets(), &registry).unwrap();
    assert_eq!(config.connector("crm").unwrap().kind(), "fake");
    let daemon = Daemon::open(config).unwrap();
    let results = daemon.run_once(false).await;
    let report = results[0].1.as_ref().expect("the cycle runs");
    assert_eq!(report.handoffs, 5, "{report:?}");
    assert_eq!(world.count("leads"), 5);
    for (i, email) in emails.iter().enumerate() {
        let found = world.find("leads", "Email", email);
        assert_eq!(found.len(), usize::from(i % 2 == 0), "{email}");
    }
    // Paged by 4 and written by 3, as its section said.
    let writes: Vec<usize> = world
        .calls()
        .iter()
        .filter(|c| c.kind == CallKind::Write)
        .map(|c| c.size)
        .collect();
    assert_eq!(writes, [3, 2], "two CRM batches of at most 3");
    let link = daemon
        .store
        .link(
            "inbound",
            Side::Marketing,
            &world.find("contacts", "email", &emails[0])[0].id,
        )
        .await
        .unwrap();
    assert!(link.is_some(), "the handoff is linked");

    // Sales works a lead: the status flows back; then an idle cycle writes nothing.
    let lead = &world.find("leads", "Email", &emails[2])[0];
    world.clock().advance(std::time::Duration::from_secs(120));
    world
        .update("leads", &lead.id, contact_status("Working"))
        .unwrap();
    world.clock().advance(std::time::Duration::from_secs(120));
    daemon.run_once(false).await[0].1.as_ref().expect("cycle 2");
    let contact = &world.find("contacts", "email", &emails[2])[0];
    assert_eq!(contact.text("status").as_deref(), Some("Working"));
    world.clock().advance(std::time::Duration::from_secs(600));
    world.clear_calls();
    let idle = daemon.run_once(false).await;
    let idle = idle[0].1.as_ref().expect("idle cycle");
    assert_eq!(idle.counts.written_crm + idle.counts.written_marketing, 0);
    assert_eq!(world.count_calls(CallKind::Write), 0, "{:?}", world.calls());
}

fn contact_status(status: &str) -> Fields {
    let serde_json::Value::Object(f) = json!({ "Status": status }) else {
        unreachable!()
    };
    f
}

#[test]
fn a_bad_key_of_the_new_kind_is_located_by_its_own_crate() {
    let world = MemoryWorld::new();
    let registry = registry(&world);
    let text = CONFIG.replace("page_size = 4", "page_size = 0");
    let errors = Config::parse_with(&text, Path::new("x.toml"), &secrets(), &registry).unwrap_err();
    assert!(
        errors
            .to_string()
            .contains("x.toml:7:13: error: a size must be at least 1"),
        "{errors}"
    );
    let text = CONFIG.replace("page_size = 4", "page_sise = 4");
    let errors = Config::parse_with(&text, Path::new("x.toml"), &secrets(), &registry).unwrap_err();
    assert!(
        errors
            .to_string()
            .contains("x.toml:7:1: error: unknown key `page_sise`"),
        "{errors}"
    );
    assert_eq!(
        registry.get("fake").map(|f| f.summary()),
        Some("records in memory (tests)")
    );
}
