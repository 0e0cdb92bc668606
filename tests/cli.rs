//! The operator commands against a real sync: `explain` says why a lead was
//! or was not handed off, `status --json` reports what the cycles did, and
//! `resync` makes the next cycle re-read everything without writing twice.

mod support;

use support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn explain_status_and_resync_tell_ops_the_truth() {
    let world = World::start(WorldOptions {
        contacts: 150,
        ..WorldOptions::default()
    })
    .await;
    let all = contacts(&world, 150);
    let handed = all
        .iter()
        .find(|c| qualifies(c))
        .expect("a qualifying contact");
    let held = all
        .iter()
        .find(|c| {
            c.text("hubspotscore")
                .and_then(|s| s.parse::<f64>().ok())
                .is_some_and(|s| s < 60.0)
        })
        .expect("a low-score contact");
    let daemon = world.daemon();
    let first = cycle(&daemon).await;
    drop(daemon);

    // explain: the low-score lead is held back by the score condition, with its value.
    let (ok, out) = leadbridge(
        &world,
        &[
            "explain",
            "--pipeline",
            "inbound",
            "--email",
            &held.text("email").unwrap(),
        ],
    );
    assert!(ok, "{out}");
    let score = held.text("hubspotscore").unwrap();
    assert!(
        out.contains(&format!("score >= 60: false (score = {score})")),
        "{out}"
    );
    assert!(out.contains("held back"), "{out}");
    // …and the handed-off one is linked to its CRM lead.
    let (ok, out) = leadbridge(
        &world,
        &[
            "explain",
            "--pipeline",
            "inbound",
            "--email",
            &handed.text("email").unwrap(),
        ],
    );
    assert!(ok, "{out}");
    assert!(out.contains("handed off: linked to Lead 00Q"), "{out}");

    // status --json: the cycle's counts, links, cursors and no error.
    let (ok, out) = leadbridge(&world, &["status", "--json"]);
    assert!(ok, "{out}");
    let status: serde_json::Value =
        serde_json::from_str(out.trim()).unwrap_or_else(|e| panic!("{e}: {out}"));
    let p = &status[0];
    assert_eq!(p["name"], "inbound");
    assert_eq!(
        p["status"]["last_cycle"]["written_crm"],
        first.counts.written_crm
    );
    assert_eq!(p["counts"]["links"], first.handoffs);
    // The marketing pass read records, so its cursor is stored (the CRM's
    // first pass read nothing yet, so it has none to store).
    assert!(
        p["cursors"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["side"] == "marketing" && c["object"] == "contacts"),
        "{out}"
    );
    assert!(p["status"].get("last_error").is_none(), "{out}");

    // resync: cursors reset; the next cycle re-reads everything and writes nothing new.
    let (ok, out) = leadbridge(&world, &["resync", "--pipeline", "inbound"]);
    assert!(ok, "{out}");
    let daemon = world.daemon();
    let again = cycle(&daemon).await;
    assert_eq!(again.counts.read_marketing, 150, "everything re-read");
    assert_eq!(again.handoffs, 0, "nothing handed off twice");
    assert_eq!(leads(&world).await.len() as u64, first.handoffs);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mapping_to_a_field_the_tool_lacks_fails_the_start_before_any_write() {
    let world = World::start(WorldOptions {
        contacts: 20,
        ..WorldOptions::default()
    })
    .await;
    let text = std::fs::read_to_string(&world.config_path).unwrap();
    let broken = text.replace(r#"crm = "FirstName""#, r#"crm = "First_Name__typo""#);
    assert_ne!(text, broken);
    std::fs::write(&world.config_path, broken).unwrap();
    // `check` works offline and cannot know; the start asks the tools.
    let (ok, out) = leadbridge(&world, &["check"]);
    assert!(ok, "{out}");
    let (ok, out) = leadbridge(&world, &["run"]);
    assert!(!ok, "the daemon must not start:\n{out}");
    assert!(
        out.contains("First_Name__typo") && out.contains("first_name"),
        "{out}"
    );
    assert_eq!(world.sf().count("Lead"), 0, "nothing was written");
}
