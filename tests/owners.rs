//! Owners, stated not guessed: round robin over three reps gives 13/13/12
//! of 38 leads, written to the owner field the config names; each lead's
//! follow-up task is its owner's; when sales moves a lead to another rep
//! in the CRM, the breach task goes to that rep and the funnel counts the
//! breach for them — one id, read back from the CRM.

mod support;

use std::collections::BTreeMap;
use std::sync::Arc;

use jiff::Timestamp;
use leadbridge::engine::clock::ManualClock;
use leadbridge::report::{report, GroupBy};
use leadbridge::state::EventKind;
use serde_json::{json, Value};
use support::*;

const SLA: &str = r#"
[pipelines.sla]
first_touch = { within = "8h", touched_when = "status != 'NEW'" }
on_breach = [{ after = "0h", task = { for = "owner", subject = "SLA breached: {name}" } }]
tasks = { object = "Task", subject = "Subject", parent = "WhoId", owner = "OwnerId" }
"#;

fn ts(s: &str) -> Timestamp {
    s.parse().unwrap()
}

fn set_time(world: &World, clock: &ManualClock, at: &str) {
    let at = ts(at);
    clock.set(at);
    world.hs().clock().freeze_at(at);
    world.sf().clock().freeze_at(at);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn round_robin_owners_are_the_crms_owners_of_leads_tasks_and_funnel() {
    let world = World::start(WorldOptions {
        contacts: 0,
        sla: SLA.to_string(),
        ..WorldOptions::default()
    })
    .await;
    let clock = ManualClock::new(ts("2026-12-07T00:00:00Z"));
    set_time(&world, &clock, "2026-12-07T00:00:00Z");
    let people: Vec<_> = (0..38)
        .map(|i| {
            fields(&[
                ("email", json!(format!("rep-test-{i}@example.com"))),
                ("lastname", json!(format!("Person {i}"))),
                ("company", json!("Acme")),
                ("hubspotscore", json!("90")),
                ("lifecyclestage", json!("marketingqualifiedlead")),
            ])
        })
        .collect();
    world.hs().insert("contacts", people).unwrap();
    set_time(&world, &clock, "2026-12-07T00:10:00Z");
    let mut daemon = world.daemon();
    daemon.clock = Arc::new(clock.clone());
    let report_1 = cycle(&daemon).await;
    assert_eq!(report_1.handoffs, 38);

    let leads = sf_query(
        &world.salesforce.url(),
        "SELECT Id, OwnerId FROM Lead ORDER BY Id",
    )
    .await;
    let mut per_owner: BTreeMap<String, usize> = BTreeMap::new();
    for lead in &leads {
        *per_owner
            .entry(lead["OwnerId"].as_str().unwrap().to_owned())
            .or_default() += 1;
    }
    let mut counts: Vec<usize> = per_owner.values().copied().collect();
    counts.sort();
    assert_eq!(counts, [12, 13, 13], "{per_owner:?}");
    assert!(
        per_owner.keys().all(|o| world.owners.contains(o)),
        "every lead is owned by one of the configured reps: {per_owner:?}"
    );
    let tasks = |world: &World| {
        let url = world.salesforce.url();
        async move {
            sf_query(
                &url,
                "SELECT Id, Subject, OwnerId, WhoId FROM Task ORDER BY Id",
            )
            .await
        }
    };
    let owner_of = |id: &Value| {
        leads
            .iter()
            .find(|l| &l["Id"] == id)
            .map(|l| l["OwnerId"].clone())
            .unwrap()
    };
    for task in tasks(&world).await {
        if task["Subject"].as_str().unwrap().starts_with("Follow up: ") {
            assert_eq!(task["OwnerId"], owner_of(&task["WhoId"]), "{task}");
        }
    }

    // Sales moves one lead to another rep in the CRM; the next cycle reads
    // the owner back.
    let moved = leads[0]["Id"].as_str().unwrap().to_owned();
    let old = leads[0]["OwnerId"].as_str().unwrap().to_owned();
    let new = world.owners.iter().find(|o| **o != old).unwrap().clone();
    set_time(&world, &clock, "2026-12-07T01:00:00Z");
    world
        .sf()
        .update("Lead", &moved, fields(&[("OwnerId", json!(new))]))
        .unwrap();
    set_time(&world, &clock, "2026-12-07T01:10:00Z");
    cycle(&daemon).await;
    let link = daemon
        .store
        .link("inbound", leadbridge::state::Side::Crm, &moved)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(link.state.owner.as_deref(), Some(new.as_str()));

    // Past the deadline (8 hours, every hour counts without a calendar):
    // the breach task is the current owner's, and so is the funnel's breach.
    set_time(&world, &clock, "2026-12-07T09:00:00Z");
    cycle(&daemon).await;
    let breach = tasks(&world)
        .await
        .into_iter()
        .find(|t| {
            t["WhoId"] == json!(moved) && t["Subject"].as_str().unwrap().starts_with("SLA breached")
        })
        .expect("a breach task for the moved lead");
    assert_eq!(breach["OwnerId"], json!(new));
    let events = daemon
        .store
        .events("inbound", Timestamp::MIN, Timestamp::MAX)
        .await
        .unwrap();
    let breached = events
        .iter()
        .find(|e| e.kind == EventKind::SlaBreached && e.crm_id.as_deref() == Some(moved.as_str()))
        .expect("the breach is an event");
    assert_eq!(breached.owner.as_deref(), Some(new.as_str()));
    let funnel = report(&events, Some(GroupBy::Owner));
    let text = serde_json::to_string(&funnel).unwrap();
    assert!(text.contains(&new), "{text}");
}
