//! Sales outcomes end to end: a lead handed off to Salesforce is converted
//! with an Opportunity, the Opportunity moves through its stages and is
//! won, and the HubSpot contact shows the stage, won flag, amount and
//! lifecycle; the funnel counts the conversion and the win once each, and
//! an idle cycle afterwards writes nothing. A marketing write that fails
//! after its intent was recorded is replayed without recording anything twice.

mod support;

use std::collections::BTreeMap;

use jiff::Timestamp;
use leadbridge::daemon::Daemon;
use leadbridge::report::report;
use leadbridge::state::{Event, EventKind};
use leadbridge_core::sim::FaultKind;
use serde_json::json;
use support::*;

/// The outcomes table of the test pipeline.
const OUTCOMES: &str = r#"
[pipelines.outcomes]
object = "Opportunity"
converted_to = "ConvertedOpportunityId"
id_field = "Id"
won_when = "closed_won"
lost_when = "closed && !closed_won"
on_converted = { lifecycle = "opportunity" }
on_won = { lifecycle = "customer" }

[pipelines.outcomes.fields]
opportunity_stage = { crm = "StageName", marketing = "opportunity_stage" }
closed_won = { crm = "IsWon", marketing = "closed_won", type = "bool" }
closed = { crm = "IsClosed", type = "bool" }
amount = { crm = "Amount", marketing = "opportunity_amount", type = "number" }
"#;

async fn world() -> World {
    World::start(WorldOptions {
        contacts: 40,
        outcomes: OUTCOMES.to_string(),
        ..WorldOptions::default()
    })
    .await
}

/// Hands the seeded leads off and settles the first feedback; returns the
/// first lead's Salesforce id and its HubSpot contact id.
async fn handed_off(world: &World, daemon: &Daemon) -> (String, String) {
    let report = cycle(daemon).await;
    assert!(report.handoffs > 0, "the seed has qualified leads");
    cycle(daemon).await;
    let leads = sf_query(
        &world.salesforce.url(),
        "SELECT Id, Leadbridge_Id__c FROM Lead ORDER BY Id",
    )
    .await;
    let lead = &leads[0];
    let contact_id = lead["Leadbridge_Id__c"]
        .as_str()
        .unwrap()
        .trim_start_matches("inbound:")
        .to_owned();
    (lead["Id"].as_str().unwrap().to_owned(), contact_id)
}

/// Converts a lead the way Lead Convert does: an Opportunity, then the
/// lead marked converted and pointing at it.
fn convert(world: &World, lead_id: &str, amount: f64) -> String {
    let opportunity = world
        .sf()
        .insert(
            "Opportunity",
            vec![fields(&[
                ("Name", json!("Acme - 50 seats")),
                ("StageName", json!("Prospecting")),
                ("CloseDate", json!("2026-12-31")),
                ("Amount", json!(amount)),
            ])],
        )
        .unwrap()
        .remove(0);
    world
        .sf()
        .update(
            "Lead",
            lead_id,
            fields(&[
                ("IsConverted", json!(true)),
                ("ConvertedOpportunityId", json!(opportunity)),
                ("Status", json!("Closed - Converted")),
            ]),
        )
        .unwrap();
    opportunity
}

fn stage(world: &World, opportunity: &str, stage: &str, amount: Option<f64>) {
    let mut f = fields(&[("StageName", json!(stage))]);
    if let Some(a) = amount {
        f.insert("Amount".into(), json!(a));
    }
    world.sf().update("Opportunity", opportunity, f).unwrap();
}

/// The outcome properties of a contact, as text.
fn shown(world: &World, contact_id: &str) -> BTreeMap<&'static str, Option<String>> {
    let c = contact(world, contact_id);
    [
        "lifecyclestage",
        "opportunity_stage",
        "closed_won",
        "opportunity_amount",
        "hs_lead_status",
    ]
    .into_iter()
    .map(|p| (p, c.text(p)))
    .collect()
}

fn expect(
    lifecycle: &str,
    stage: &str,
    won: &str,
    amount: &str,
) -> BTreeMap<&'static str, Option<String>> {
    [
        ("lifecyclestage", lifecycle),
        ("opportunity_stage", stage),
        ("closed_won", won),
        ("opportunity_amount", amount),
        ("hs_lead_status", "OPEN_DEAL"),
    ]
    .into_iter()
    .map(|(k, v)| (k, Some(v.to_owned())))
    .collect()
}

async fn events(daemon: &Daemon, kind: EventKind) -> Vec<Event> {
    daemon
        .store
        .events("inbound", Timestamp::MIN, Timestamp::MAX)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.kind == kind)
        .collect()
}

fn number(text: &Option<String>) -> f64 {
    text.as_deref().unwrap().parse().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn opportunity_won_in_the_crm_shows_on_the_marketing_record() {
    let world = world().await;
    let daemon = world.daemon();
    let (lead_id, contact_id) = handed_off(&world, &daemon).await;
    let contacts_before = world.hs().count("contacts");

    // Converted with an Opportunity: marketing sees an open opportunity.
    let opportunity = convert(&world, &lead_id, 50_000.0);
    cycle(&daemon).await;
    let now = shown(&world, &contact_id);
    assert_eq!(now["lifecyclestage"].as_deref(), Some("opportunity"));
    assert_eq!(now["opportunity_stage"].as_deref(), Some("Prospecting"));
    assert_eq!(now["closed_won"].as_deref(), Some("false"));
    assert_eq!(number(&now["opportunity_amount"]), 50_000.0);
    assert_eq!(now["hs_lead_status"].as_deref(), Some("OPEN_DEAL"));
    let converted = events(&daemon, EventKind::Converted).await;
    assert_eq!(converted.len(), 1);
    assert_eq!(converted[0].marketing_id, contact_id);
    assert_eq!(converted[0].crm_id.as_deref(), Some(lead_id.as_str()));

    // The opportunity moves through its stages.
    stage(&world, &opportunity, "Negotiation/Review", None);
    cycle(&daemon).await;
    let now = shown(&world, &contact_id);
    assert_eq!(
        now["opportunity_stage"].as_deref(),
        Some("Negotiation/Review")
    );
    assert_eq!(now["lifecyclestage"].as_deref(), Some("opportunity"));

    // Won, at a bigger amount: a customer, with the revenue on the contact.
    stage(&world, &opportunity, "Closed Won", Some(72_000.0));
    cycle(&daemon).await;
    let now = shown(&world, &contact_id);
    let mut want = expect("customer", "Closed Won", "true", "");
    want.insert("opportunity_amount", now["opportunity_amount"].clone());
    assert_eq!(now, want);
    assert_eq!(number(&now["opportunity_amount"]), 72_000.0);
    let won = events(&daemon, EventKind::Won).await;
    assert_eq!(won.len(), 1);
    assert_eq!(won[0].marketing_id, contact_id);
    assert_eq!(won[0].detail.get("amount"), Some(&json!(72_000)));
    assert_eq!(won[0].detail.get("outcome_id"), Some(&json!(opportunity)));
    assert!(events(&daemon, EventKind::Lost).await.is_empty());

    // The funnel counts the conversion and the win once.
    let all = daemon
        .store
        .events("inbound", Timestamp::MIN, Timestamp::MAX)
        .await
        .unwrap();
    let counts = report(&all, None).total.counts;
    assert_eq!((counts.converted, counts.won, counts.lost), (1, 1, 0));

    // Converged: idle cycles write nothing anywhere and record nothing.
    for _ in 0..2 {
        let idle = cycle(&daemon).await;
        assert_eq!(
            (idle.counts.written_crm, idle.counts.written_marketing),
            (0, 0),
            "an idle cycle writes nothing: {:?}",
            idle.counts
        );
    }
    let after = daemon
        .store
        .events("inbound", Timestamp::MIN, Timestamp::MAX)
        .await
        .unwrap();
    assert_eq!(after.len(), all.len());
    assert_eq!(world.hs().count("contacts"), contacts_before);
    assert_eq!(world.sf().count("Opportunity"), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outcome_write_interrupted_after_its_intent_is_replayed_once() {
    let world = world().await;
    let daemon = world.daemon();
    let (lead_id, contact_id) = handed_off(&world, &daemon).await;
    let contacts_before = world.hs().count("contacts");
    let opportunity = convert(&world, &lead_id, 10_000.0);
    cycle(&daemon).await;

    // The win's write to HubSpot fails past every retry: the cycle stops
    // with the intent recorded and nothing committed.
    stage(&world, &opportunity, "Closed Won", None);
    world.hs().faults().add(
        FaultKind::ServerError { status: 503 },
        Some(8),
        None,
        Some("batch/update".into()),
    );
    let results = daemon.run_once(false).await;
    assert!(results[0].1.is_err(), "the cycle stops on the failed write");
    let pending = daemon.store.pending_intents("inbound").await.unwrap();
    assert_eq!(pending.len(), 1, "the write's intent survives");
    assert!(events(&daemon, EventKind::Won).await.is_empty());

    // The next cycle replays it and records the win once.
    world.hs().faults().clear();
    cycle(&daemon).await;
    assert!(daemon
        .store
        .pending_intents("inbound")
        .await
        .unwrap()
        .is_empty());
    let now = shown(&world, &contact_id);
    assert_eq!(now["lifecyclestage"].as_deref(), Some("customer"));
    assert_eq!(now["closed_won"].as_deref(), Some("true"));
    assert_eq!(events(&daemon, EventKind::Won).await.len(), 1);
    assert_eq!(events(&daemon, EventKind::Converted).await.len(), 1);
    assert_eq!(world.hs().count("contacts"), contacts_before);
    let idle = cycle(&daemon).await;
    assert_eq!(
        (idle.counts.written_crm, idle.counts.written_marketing),
        (0, 0),
        "converged after the replay: {:?}",
        idle.counts
    );
}
