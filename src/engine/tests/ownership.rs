//! Per-field ownership: a field flows only from the side that owns it. A
//! marketing-owned field (`last_name`) edited in the CRM does not flow
//! back; a CRM-owned one (`status`) edited in marketing does not flow out;
//! each flows from its owner, overwriting the other side's edit.

use serde_json::{json, Value};

use super::harness::*;

#[tokio::test]
async fn a_field_flows_only_from_the_side_that_owns_it() {
    let h = Harness::new(Options::default());
    let id = h
        .handed_off(vec![contact("ann@example.com", 80)])
        .await
        .remove(0);
    let lead_id = h.link(&id).await.expect("linked").state.crm_id;

    // Each side edits the field the other owns: nothing flows.
    h.advance(30);
    h.edit(LEADS, &lead_id, json!({"LastName": "Sato (sales)"}));
    h.edit(CONTACTS, &id, json!({"status": "Hot (marketing)"}));
    h.advance(1);
    h.clear_log();
    let report = h.ok().await;
    h.assert_quiet("edits of fields the other side owns");
    assert_eq!(report.counts.read_crm, 1, "{report:?}");
    assert_eq!(report.counts.read_marketing, 1, "{report:?}");
    assert_eq!(
        h.get(CONTACTS, &id).text("lastname").as_deref(),
        Some("Kato")
    );
    assert_eq!(h.get(LEADS, &lead_id).text("Status"), None);
    h.idle_cycles("re-reading those edits").await;

    // Each side edits the field it owns: each flows, and only it.
    h.advance(30);
    h.edit(CONTACTS, &id, json!({"lastname": "Kato-Sato"}));
    h.edit(LEADS, &lead_id, json!({"Status": "Working"}));
    h.advance(1);
    h.clear_log();
    h.ok().await;
    let (to_crm, to_marketing) = (h.crm_sent(), h.marketing_sent());
    assert_eq!(to_crm.len(), 1, "{to_crm:?}");
    assert_eq!(to_crm[0].records[0].id.as_ref(), Some(&lead_id));
    assert_eq!(
        Value::Object(to_crm[0].records[0].fields.clone()),
        json!({"LastName": "Kato-Sato"})
    );
    assert_eq!(to_marketing.len(), 1, "{to_marketing:?}");
    assert_eq!(to_marketing[0].records[0].id.as_ref(), Some(&id));
    assert_eq!(
        Value::Object(to_marketing[0].records[0].fields.clone()),
        json!({"status": "Working"})
    );
    let (lead, person) = (h.get(LEADS, &lead_id), h.get(CONTACTS, &id));
    assert_eq!(lead.text("LastName").as_deref(), Some("Kato-Sato"));
    assert_eq!(person.text("lastname").as_deref(), Some("Kato-Sato"));
    assert_eq!(lead.text("Status").as_deref(), Some("Working"));
    assert_eq!(person.text("status").as_deref(), Some("Working"));
    h.idle_cycles("after each owner's edit").await;
}
