//! Bad input isolated: a record the CRM refuses goes to the dead letter
//! queue with the CRM's reason, the rest of its batch goes through, and the
//! cursor moves past it; `dlq retry` ([`Cycle::retry`]) re-applies it
//! against the current state once the cause is fixed, and clears it.

use leadbridge_core::{FieldSchema, ObjectSchema};
use serde_json::json;

use super::harness::*;
use crate::engine::cycle::{Cycle, RetryOutcome};
use crate::state::{EventKind, Side, StateStore};

/// The CRM's leads, with `Company` required on create or not.
fn leads_schema(company_required: bool) -> ObjectSchema {
    let field = |name: &str, required: bool| FieldSchema {
        name: name.into(),
        kind: "text".into(),
        required,
        createable: true,
        updateable: true,
        ..FieldSchema::default()
    };
    ObjectSchema {
        object: LEADS.into(),
        fields: vec![
            field("Email", false),
            field("LastName", false),
            field("Company", company_required),
            field("Score", false),
            field("Status", false),
            field("OwnerId", false),
        ],
    }
}

async fn retry(h: &Harness) -> RetryOutcome {
    let entries = h.store.dead_letters(PIPELINE).await.unwrap();
    assert_eq!(entries.len(), 1, "{entries:?}");
    Cycle::new(&h.pipeline, &*h.store, &h.clock, false)
        .retry(&entries[0])
        .await
        .expect("the retry runs")
}

#[tokio::test]
async fn a_record_the_crm_refuses_is_dead_lettered_and_retried_after_a_fix() {
    let h = Harness::new(Options {
        batch_size: 3,
        ..Options::default()
    });
    h.world.define(leads_schema(true));
    let mut no_company = contact("bob@example.com", 90);
    no_company.remove("company");
    let ids = h.contacts(vec![
        contact("ann@example.com", 80),
        no_company,
        contact("cy@example.com", 70),
        contact("dee@example.com", 60),
    ]);
    h.advance(1);

    // The CRM refuses Bob (no company); Ann, Cy and Dee go through.
    let report = h.ok().await;
    assert_eq!(report.counts.dead_lettered, 1, "{report:?}");
    assert_eq!(h.write_sizes(LEADS), [3, 1]);
    assert_eq!(h.world.count(LEADS), 3);
    for (i, linked) in [(0, true), (1, false), (2, true), (3, true)] {
        assert_eq!(h.link(&ids[i]).await.is_some(), linked, "contact {i}");
    }
    let dlq = h.store.dead_letters(PIPELINE).await.unwrap();
    assert_eq!(dlq.len(), 1);
    let entry = &dlq[0];
    assert_eq!(
        (entry.side, entry.object.as_str(), entry.record_id.as_str()),
        (Side::Marketing, CONTACTS, ids[1].as_str())
    );
    assert_eq!(
        entry.reason,
        "Required fields are missing: [Company] (fields: Company)"
    );
    assert_eq!(entry.code.as_deref(), Some("REQUIRED_FIELD_MISSING"));
    assert_eq!(entry.attempts, 1);
    assert_eq!(
        entry.fields.get("email"),
        Some(&json!("bob@example.com")),
        "the record as read, for the operator"
    );
    assert!(
        h.pending().await.is_empty(),
        "the refused write's intent is resolved"
    );
    let last = h.get(CONTACTS, &ids[3]);
    assert_eq!(
        h.cursor(Side::Marketing, CONTACTS).await,
        Some(leadbridge_core::Cursor::new(
            last.modified_at,
            last.id.clone()
        )),
        "the cursor moved past the refused record"
    );

    // Later cycles leave it parked. (A refused record re-read in a later
    // pass's overlap window is decided again, and refused again: let the
    // window pass first, so these cycles show the cursor moved past it.)
    h.advance(200);
    h.idle_cycles("with a dead letter parked").await;
    assert_eq!(h.store.dead_letters(PIPELINE).await.unwrap()[0].attempts, 1);

    // A retry before the fix fails again and counts the attempt.
    let again = retry(&h).await;
    assert_eq!(
        again,
        RetryOutcome::StillFailing(
            "Required fields are missing: [Company] (fields: Company)".into()
        )
    );
    assert_eq!(h.store.dead_letters(PIPELINE).await.unwrap()[0].attempts, 2);
    assert_eq!(h.world.count(LEADS), 3);

    // The CRM admin relaxes the rule; the retry hands Bob off and clears it.
    h.world.define(leads_schema(false));
    h.advance(10);
    h.clear_log();
    assert_eq!(retry(&h).await, RetryOutcome::Applied);
    assert!(h.store.dead_letters(PIPELINE).await.unwrap().is_empty());
    assert_eq!(h.write_sizes(LEADS), [1]);
    let bob = h.leads_with("bob@example.com");
    assert_eq!(bob.len(), 1);
    let link = h.link(&ids[1]).await.expect("Bob is linked");
    assert_eq!(link.state.crm_id, bob[0].id);
    let handed: Vec<String> = h
        .events(EventKind::HandedOff)
        .await
        .into_iter()
        .map(|e| e.marketing_id)
        .collect();
    assert_eq!(handed.iter().filter(|m| **m == ids[1]).count(), 1);
    assert_eq!(h.world.count(LEADS), 4);
    assert!(h.pending().await.is_empty());
    h.idle_cycles("after the retry").await;
}
