//! End to end: the daemon's cycle against both simulators over loopback.
//! Handoff by the rule with round-robin owners, feedback back to
//! marketing, no echo after convergence.

mod support;

use std::collections::{BTreeMap, BTreeSet};

use serde_json::json;
use support::*;

fn write_calls(counts: &BTreeMap<String, u64>) -> u64 {
    counts
        .iter()
        .filter(|(label, _)| {
            let l = label.as_str();
            l.contains("batch/update")
                || l.contains("batch/upsert")
                || l.contains("batch/create")
                || l.starts_with("PATCH")
                || l.starts_with("DELETE")
                || (l.starts_with("POST")
                    && !l.contains("/search")
                    && !l.contains("batch/read")
                    && !l.contains("oauth"))
        })
        .map(|(_, n)| n)
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn qualified_leads_are_handed_off_feedback_returns_and_nothing_echoes() {
    let world = World::start(WorldOptions {
        contacts: 2_000,
        ..WorldOptions::default()
    })
    .await;
    let daemon = world.daemon();

    // Handoff: exactly the contacts the rule selects become Leads, once each.
    let report = cycle(&daemon).await;
    let seeded = contacts(&world, 2_000);
    assert_eq!(seeded.len(), 2_000);
    let expected: BTreeMap<String, _> = seeded
        .iter()
        .filter(|c| qualifies(c))
        .map(|c| (c.text("email").unwrap().to_lowercase(), c))
        .collect();
    assert!(
        expected.len() > 100 && expected.len() < 1_500,
        "the seed gives a realistic mix: {}",
        expected.len()
    );
    assert_eq!(report.handoffs as usize, expected.len());
    let leads = leads(&world).await;
    let emails: Vec<String> = leads
        .iter()
        .map(|l| l["Email"].as_str().unwrap().to_lowercase())
        .collect();
    let unique: BTreeSet<&String> = emails.iter().collect();
    assert_eq!(unique.len(), emails.len(), "no lead twice");
    assert_eq!(
        unique.into_iter().cloned().collect::<BTreeSet<_>>(),
        expected.keys().cloned().collect()
    );
    // Mapped values and owners.
    let mut per_owner: BTreeMap<String, usize> = BTreeMap::new();
    for lead in &leads {
        let contact = expected[&lead["Email"].as_str().unwrap().to_lowercase()];
        assert_eq!(
            lead["LastName"].as_str(),
            contact.text("lastname").as_deref()
        );
        assert_eq!(lead["Company"].as_str(), contact.text("company").as_deref());
        let score: f64 = contact.text("hubspotscore").unwrap().parse().unwrap();
        assert_eq!(lead["Lead_Score__c"].as_f64(), Some(score));
        assert_eq!(
            lead["Leadbridge_Id__c"].as_str(),
            Some(format!("inbound:{}", contact.id).as_str())
        );
        *per_owner
            .entry(lead["OwnerId"].as_str().unwrap().to_owned())
            .or_default() += 1;
    }
    assert_eq!(per_owner.keys().cloned().collect::<Vec<_>>(), {
        let mut o = world.owners.clone();
        o.sort();
        o
    });
    let (min, max) = (
        per_owner.values().min().unwrap(),
        per_owner.values().max().unwrap(),
    );
    assert!(max - min <= 1, "round-robin spreads evenly: {per_owner:?}");

    // The CRM's default status flows back to marketing as the first feedback.
    cycle(&daemon).await;
    let some_lead = &leads[0];
    let contact_id = some_lead["Leadbridge_Id__c"]
        .as_str()
        .unwrap()
        .trim_start_matches("inbound:")
        .to_owned();
    assert_eq!(
        contact(&world, &contact_id)
            .text("hs_lead_status")
            .as_deref(),
        Some("NEW")
    );

    // Feedback: sales works some leads and disqualifies one.
    let worked = &leads[1];
    let disqualified = &leads[2];
    world
        .sf()
        .update(
            "Lead",
            worked["Id"].as_str().unwrap(),
            fields(&[("Status", json!("Working - Contacted"))]),
        )
        .unwrap();
    world
        .sf()
        .update(
            "Lead",
            disqualified["Id"].as_str().unwrap(),
            fields(&[
                ("Status", json!("Closed - Not Converted")),
                ("Disqualified_Reason__c", json!("No budget")),
            ]),
        )
        .unwrap();
    cycle(&daemon).await;
    let id_of = |lead: &serde_json::Value| {
        lead["Leadbridge_Id__c"]
            .as_str()
            .unwrap()
            .trim_start_matches("inbound:")
            .to_owned()
    };
    let worked_contact = contact(&world, &id_of(worked));
    assert_eq!(
        worked_contact.text("hs_lead_status").as_deref(),
        Some("IN_PROGRESS")
    );
    let dq_contact = contact(&world, &id_of(disqualified));
    assert_eq!(
        dq_contact.text("hs_lead_status").as_deref(),
        Some("UNQUALIFIED")
    );
    assert_eq!(
        dq_contact.text("disqualify_reason").as_deref(),
        Some("No budget")
    );

    // Marketing keeps owning what it owns: a new score reaches the CRM.
    world
        .hs()
        .update(
            "contacts",
            &id_of(worked),
            fields(&[("hubspotscore", json!("99"))]),
        )
        .unwrap();
    cycle(&daemon).await;
    let lead = sf_query(
        &world.salesforce.url(),
        &format!(
            "SELECT Lead_Score__c FROM Lead WHERE Id = '{}'",
            worked["Id"].as_str().unwrap()
        ),
    )
    .await;
    assert_eq!(lead[0]["Lead_Score__c"].as_f64(), Some(99.0));

    // Converge, then two idle cycles write nothing anywhere.
    cycle(&daemon).await;
    world.hs().requests().reset();
    world.sf().requests().reset();
    for _ in 0..2 {
        let report = cycle(&daemon).await;
        assert_eq!(
            report.counts.written_crm + report.counts.written_marketing,
            0,
            "{:?}",
            report.counts
        );
    }
    let hs_writes = write_calls(&world.hs().requests().counts());
    let sf_writes = write_calls(&world.sf().requests().counts());
    assert_eq!(
        (hs_writes, sf_writes),
        (0, 0),
        "idle cycles made write calls: {:?} {:?}",
        world.hs().requests().counts(),
        world.sf().requests().counts()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dry_run_plans_without_writing_or_moving_cursors() {
    let world = World::start(WorldOptions {
        contacts: 300,
        ..WorldOptions::default()
    })
    .await;
    let daemon = world.daemon();
    let expected = contacts(&world, 300)
        .iter()
        .filter(|c| qualifies(c))
        .count();
    for _ in 0..2 {
        let (_, result) = daemon.run_once(true).await.remove(0);
        let report = result.unwrap();
        assert_eq!(
            report.planned.len(),
            expected,
            "every handoff is planned, each time"
        );
        assert!(
            report
                .planned
                .iter()
                .all(|l| l.to_string().starts_with("create crm record")),
            "{:?}",
            &report.planned[..2]
        );
    }
    assert!(leads(&world).await.is_empty(), "a dry run wrote to the CRM");
    assert_eq!(write_calls(&world.sf().requests().counts()), 0);
    let report = cycle(&daemon).await;
    assert_eq!(
        report.handoffs as usize, expected,
        "the real run still has everything to do"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_crm_pass_carries_feedback_in_bounded_batches_and_still_decides_conflicts() {
    let world = World::start(WorldOptions {
        contacts: 2_600,
        rule: "score >= 5",
        ..WorldOptions::default()
    })
    .await;
    let daemon = world.daemon();
    let report = cycle(&daemon).await;
    assert!(
        report.handoffs > 2_000,
        "more feedback than the engine holds at once: {}",
        report.handoffs
    );
    let leads = leads(&world).await;
    // While Salesforce's default status for every lead is pending, marketing
    // renames one lead's company after sales did: `newest` must pick marketing.
    let lead = &leads[leads.len() / 2];
    let contact_id = lead["Leadbridge_Id__c"]
        .as_str()
        .unwrap()
        .trim_start_matches("inbound:")
        .to_owned();
    world
        .sf()
        .clock()
        .advance(std::time::Duration::from_secs(30));
    world
        .sf()
        .update(
            "Lead",
            lead["Id"].as_str().unwrap(),
            fields(&[("Company", json!("Renamed by sales"))]),
        )
        .unwrap();
    world
        .hs()
        .clock()
        .advance(std::time::Duration::from_secs(60));
    world
        .hs()
        .update(
            "contacts",
            &contact_id,
            fields(&[("company", json!("Renamed by marketing"))]),
        )
        .unwrap();
    let report = cycle(&daemon).await;
    assert!(
        report.counts.written_marketing as usize >= leads.len(),
        "{:?}",
        report.counts
    );
    let missing: Vec<String> = leads
        .iter()
        .map(|l| {
            l["Leadbridge_Id__c"]
                .as_str()
                .unwrap()
                .trim_start_matches("inbound:")
                .to_owned()
        })
        .filter(|id| contact(&world, id).text("hs_lead_status").as_deref() != Some("NEW"))
        .collect();
    assert!(
        missing.is_empty(),
        "{} leads' status did not reach marketing: {:?}",
        missing.len(),
        &missing[..missing.len().min(5)]
    );
    assert_eq!(
        contact(&world, &contact_id).text("company").as_deref(),
        Some("Renamed by marketing")
    );
    let crm = sf_query(
        &world.salesforce.url(),
        &format!(
            "SELECT Company FROM Lead WHERE Id = '{}'",
            lead["Id"].as_str().unwrap()
        ),
    )
    .await;
    assert_eq!(crm[0]["Company"], "Renamed by marketing");
    for _ in 0..2 {
        let report = cycle(&daemon).await;
        assert_eq!(
            report.counts.written_crm + report.counts.written_marketing,
            0,
            "{:?}",
            report.counts
        );
    }
}
