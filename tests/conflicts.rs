//! End to end: a field owned by both sides, edited on both between cycles,
//! is decided by its configured policy — the same way whatever order the
//! engine reads in — and then both sides hold the winner with no echo.

mod support;

use std::time::Duration;

use serde_json::{json, Value};
use support::*;

struct Case {
    policy: &'static str,
    /// Marketing's new company (None: blanked).
    marketing: Option<&'static str>,
    crm: &'static str,
    /// Which side edits last (for `newest`).
    crm_last: bool,
    winner: &'static str,
}

async fn run_case(case: Case) {
    let world = World::start(WorldOptions {
        company_conflict: case.policy,
        contacts: 60,
        ..WorldOptions::default()
    })
    .await;
    let daemon = world.daemon();
    cycle(&daemon).await;
    cycle(&daemon).await;
    let leads = leads(&world).await;
    let lead = &leads[0];
    let lead_id = lead["Id"].as_str().unwrap().to_owned();
    let contact_id = lead["Leadbridge_Id__c"]
        .as_str()
        .unwrap()
        .trim_start_matches("inbound:")
        .to_owned();

    // Both sides edit the company between two cycles; each simulator's
    // clock says when, so `newest` has real timestamps to compare.
    let (first, second) = if case.crm_last {
        (false, true)
    } else {
        (true, false)
    };
    for crm in [first, second] {
        world.hs().clock().advance(Duration::from_secs(30));
        world.sf().clock().advance(Duration::from_secs(30));
        if crm {
            world
                .sf()
                .update("Lead", &lead_id, fields(&[("Company", json!(case.crm))]))
                .unwrap();
        } else {
            let value = case.marketing.map(Value::from).unwrap_or(json!(""));
            world
                .hs()
                .update("contacts", &contact_id, fields(&[("company", value)]))
                .unwrap();
        }
    }
    world.hs().clock().advance(Duration::from_secs(1));
    world.sf().clock().advance(Duration::from_secs(1));
    cycle(&daemon).await;

    let crm_now = sf_query(
        &world.salesforce.url(),
        &format!("SELECT Company FROM Lead WHERE Id = '{lead_id}'"),
    )
    .await;
    let marketing_now = contact(&world, &contact_id).text("company");
    assert_eq!(
        crm_now[0]["Company"].as_str(),
        Some(case.winner),
        "{}: CRM holds the winner",
        case.policy
    );
    assert_eq!(
        marketing_now.as_deref(),
        Some(case.winner),
        "{}: marketing holds the winner",
        case.policy
    );

    // Decided once: the next cycles change nothing.
    for _ in 0..2 {
        let report = cycle(&daemon).await;
        assert_eq!(
            report.counts.written_crm + report.counts.written_marketing,
            0,
            "{}: {:?}",
            case.policy,
            report.counts
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn newest_wins_whichever_side_edited_last() {
    run_case(Case {
        policy: "newest",
        marketing: Some("Acme (marketing)"),
        crm: "Acme (sales)",
        crm_last: false,
        winner: "Acme (marketing)",
    })
    .await;
    run_case(Case {
        policy: "newest",
        marketing: Some("Acme (marketing)"),
        crm: "Acme (sales)",
        crm_last: true,
        winner: "Acme (sales)",
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prefer_one_side_wins_regardless_of_time() {
    run_case(Case {
        policy: "prefer_crm",
        marketing: Some("Acme (marketing)"),
        crm: "Acme (sales)",
        crm_last: false,
        winner: "Acme (sales)",
    })
    .await;
    run_case(Case {
        policy: "prefer_marketing",
        marketing: Some("Acme (marketing)"),
        crm: "Acme (sales)",
        crm_last: true,
        winner: "Acme (marketing)",
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unless_blank_policies_fall_back_when_the_preferred_side_is_blank() {
    // Marketing is preferred, but blanked the field: the CRM's value wins.
    run_case(Case {
        policy: "prefer_marketing_unless_blank",
        marketing: None,
        crm: "Acme (sales)",
        crm_last: false,
        winner: "Acme (sales)",
    })
    .await;
    // The CRM is preferred and not blank: it wins even though marketing edited last.
    run_case(Case {
        policy: "prefer_crm_unless_blank",
        marketing: Some("Acme (marketing)"),
        crm: "Acme (sales)",
        crm_last: false,
        winner: "Acme (sales)",
    })
    .await;
}
