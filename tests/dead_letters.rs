//! End to end: records that cannot go through land in the dead letter queue
//! with the reason (the CRM's own message, or the mapping's), the rest of
//! the sync goes on, and `leadbridge dlq retry` after fixing the source
//! applies them.

mod support;

use serde_json::json;
use support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rejected_records_are_parked_with_the_reason_and_retried_after_a_fix() {
    let world = World::start(WorldOptions {
        contacts: 100,
        // Company is not required by the rule, but Salesforce requires it.
        require: r#"["email", "last_name"]"#,
        ..WorldOptions::default()
    })
    .await;
    let qualifying = |email: &str, company: &str, score: Option<&str>| {
        let mut f = fields(&[
            ("email", json!(email)),
            ("firstname", json!("Dee")),
            ("lastname", json!("Lettered")),
            ("company", json!(company)),
            ("lifecyclestage", json!("marketingqualifiedlead")),
        ]);
        if let Some(score) = score {
            f.insert("hubspotscore".into(), json!(score));
        }
        f
    };
    let bad = world
        .hs()
        .insert(
            "contacts",
            vec![
                qualifying("no.company.1@example.com", "", Some("90")),
                qualifying("no.company.2@example.com", "", Some("95")),
                // No score: the rule `score >= 60` cannot be evaluated on it.
                qualifying("no.score@example.com", "Acme", None),
            ],
        )
        .unwrap();
    let expected_good = contacts(&world, 100)
        .iter()
        .filter(|c| qualifies(c))
        .count();

    let daemon = world.daemon();
    let report = cycle(&daemon).await;
    assert_eq!(report.counts.dead_lettered, 3, "{:?}", report.counts);
    assert_eq!(
        leads(&world).await.len(),
        expected_good,
        "the rest went through"
    );
    drop(daemon);

    // Ops see each one with the vendor's reason.
    let (ok, list) = leadbridge(&world, &["dlq", "list"]);
    assert!(ok, "{list}");
    for id in &bad {
        assert!(list.contains(id.as_str()), "dlq list names {id}:\n{list}");
    }
    assert!(
        list.contains("REQUIRED_FIELD_MISSING") || list.contains("Company"),
        "the CRM's message:\n{list}"
    );
    assert!(
        list.contains("handoff rule failed"),
        "the rule's reason for the missing score:\n{list}"
    );

    // Retrying without a fix fails again and keeps the entry (attempts grow).
    let (ok, out) = leadbridge(&world, &["dlq", "retry", "--pipeline", "inbound", &bad[0]]);
    assert!(!ok, "{out}");
    assert!(out.contains("still failing"), "{out}");

    // Fix the source, retry: the lead appears in the CRM, the entry is gone.
    world
        .hs()
        .update(
            "contacts",
            &bad[0],
            fields(&[("company", json!("Fixed Company"))]),
        )
        .unwrap();
    let (ok, out) = leadbridge(&world, &["dlq", "retry", "--pipeline", "inbound", &bad[0]]);
    assert!(ok, "{out}");
    assert!(out.contains("applied"), "{out}");
    let leads = leads(&world).await;
    assert!(leads
        .iter()
        .any(|l| l["Email"] == "no.company.1@example.com" && l["Company"] == "Fixed Company"));
    assert_eq!(leads.len(), expected_good + 1);

    let (_, list) = leadbridge(&world, &["dlq", "list", "--json"]);
    let entries: Vec<serde_json::Value> =
        serde_json::from_str(list.trim()).unwrap_or_else(|e| panic!("{e}: {list}"));
    assert_eq!(entries.len(), 2);
    let attempts = entries
        .iter()
        .find(|e| e["record_id"] == bad[1].as_str())
        .unwrap()["attempts"]
        .as_u64();
    assert_eq!(attempts, Some(1));

    // Dropping forgets an entry for good.
    let (ok, out) = leadbridge(&world, &["dlq", "drop", "--pipeline", "inbound", &bad[2]]);
    assert!(ok, "{out}");
    let (_, list) = leadbridge(&world, &["dlq", "list", "--json"]);
    let entries: Vec<serde_json::Value> = serde_json::from_str(list.trim()).unwrap();
    assert_eq!(entries.len(), 1);
}
