//! Sales outcomes: a handed-off lead converted with an outcome record
//! (an opportunity) shows the conversion on the marketing record; when the
//! opportunity closes won, its values and `on_won` reach marketing once,
//! with one `Won` event, and re-reading it changes nothing.

use serde_json::{json, Value};

use super::harness::*;
use crate::state::{EventKind, StateStore};

const OPPORTUNITIES: &str = "opportunities";

const OUTCOMES: &str = r#"
[pipelines.outcomes]
object = "opportunities"
converted_to = "ConvertedOpportunityId"
id_field = "id"
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

#[tokio::test]
async fn an_opportunity_closing_won_reaches_marketing_once_with_one_won_event() {
    let h = Harness::new(Options {
        extra: OUTCOMES.to_string(),
        ..Options::default()
    });
    let id = h
        .handed_off(vec![contact("ann@example.com", 80)])
        .await
        .remove(0);
    let lead_id = h.link(&id).await.expect("linked").state.crm_id;

    // Sales converts the lead with an opportunity.
    h.advance(30);
    let opportunity = h
        .world
        .insert(
            OPPORTUNITIES,
            vec![fields(json!({
                "StageName": "Prospecting",
                "IsWon": false,
                "IsClosed": false,
                "Amount": 50_000,
            }))],
        )
        .unwrap()
        .remove(0);
    h.edit(
        LEADS,
        &lead_id,
        json!({"ConvertedOpportunityId": opportunity, "Status": "Converted"}),
    );
    h.advance(1);
    h.clear_log();
    h.ok().await;
    let converted = h.events(EventKind::Converted).await;
    assert_eq!(converted.len(), 1);
    assert_eq!(converted[0].crm_id.as_deref(), Some(lead_id.as_str()));
    assert_eq!(converted[0].detail["outcome_id"], json!(opportunity));
    let shown = h.get(CONTACTS, &id);
    assert_eq!(shown.text("lifecycle").as_deref(), Some("opportunity"));
    assert_eq!(
        shown.text("opportunity_stage").as_deref(),
        Some("Prospecting")
    );
    assert_eq!(shown.fields.get("closed_won"), Some(&json!(false)));
    assert_eq!(shown.text("opportunity_amount").as_deref(), Some("50000"));
    assert_eq!(shown.text("status").as_deref(), Some("Converted"));
    let outcome = h.store.outcome(PIPELINE, &opportunity).await.unwrap();
    let outcome = outcome.expect("the outcome is linked");
    assert_eq!(
        (outcome.marketing_id.as_str(), outcome.closed),
        (id.as_str(), None)
    );
    h.idle_cycles("after the conversion").await;

    // The opportunity closes won, at a bigger amount.
    h.advance(30);
    h.edit(
        OPPORTUNITIES,
        &opportunity,
        json!({"StageName": "Closed Won", "IsWon": true, "IsClosed": true, "Amount": 72_000}),
    );
    h.advance(1);
    h.clear_log();
    let report = h.ok().await;
    assert_eq!(report.counts.written_marketing, 1, "{report:?}");
    let sent = h.marketing_sent();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].records.len(), 1);
    assert_eq!(sent[0].records[0].id.as_ref(), Some(&id));
    assert_eq!(
        Value::Object(sent[0].records[0].fields.clone()),
        json!({
            "lifecycle": "customer",
            "opportunity_stage": "Closed Won",
            "closed_won": true,
            "opportunity_amount": 72_000,
        }),
        "the changed outcome fields and on_won, nothing else"
    );
    let shown = h.get(CONTACTS, &id);
    assert_eq!(shown.text("lifecycle").as_deref(), Some("customer"));
    assert_eq!(
        shown.text("opportunity_stage").as_deref(),
        Some("Closed Won")
    );
    assert_eq!(shown.fields.get("closed_won"), Some(&json!(true)));
    let won = h.events(EventKind::Won).await;
    assert_eq!(won.len(), 1);
    assert_eq!(won[0].marketing_id, id);
    assert_eq!(won[0].detail["amount"], json!(72_000));
    assert_eq!(won[0].detail["opportunity_stage"], json!("Closed Won"));
    assert!(h.events(EventKind::Lost).await.is_empty());
    let outcome = h
        .store
        .outcome(PIPELINE, &opportunity)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(outcome.closed, Some(EventKind::Won));

    // Re-reading the closed opportunity (and the contact written) changes
    // nothing and records nothing.
    let events = h.all_events().await.len();
    let [_, reread] = h.idle_cycles("after the win").await;
    assert!(
        reread.counts.echoes >= 1,
        "the opportunity is re-read: {reread:?}"
    );
    assert_eq!(h.all_events().await.len(), events);
    assert_eq!(h.events(EventKind::Won).await.len(), 1);
}
