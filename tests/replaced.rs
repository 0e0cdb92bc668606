//! Records the tools replace or delete, end to end against both
//! simulators: nothing about them reaches the dead letter queue, and each
//! pair follows the record its life goes on in, or ends.
//!
//! - Sales converts a lead (Lead Convert, R2.1): the pair follows the new
//!   contact; a marketing change is written to the contact, and sales'
//!   feedback on the contact reaches HubSpot.
//! - Sales merges two linked leads (R2.3): the survivor keeps its own pair,
//!   the absorbed one ends and its contact becomes the survivor's
//!   duplicate, so no new lead is made for it, even when it changes.
//! - Sales deletes a lead: the pair ends and the contact, which still
//!   qualifies, is handed off anew.
//! - Marketing merges a linked contact into another (HubSpot merge): the
//!   pair follows the survivor, the lead is not handed off twice.
//! - Marketing deletes a linked contact: the pair ends; the lead stays.

mod support;

use jiff::Timestamp;
use leadbridge::state::{Event, EventKind, Side};
use serde_json::{json, Value};
use support::*;

fn person(i: &str, score: &str) -> leadbridge_core::Fields {
    fields(&[
        ("email", json!(format!("replaced-{i}@example.com"))),
        ("firstname", json!(format!("First {i}"))),
        ("lastname", json!(format!("Person {i}"))),
        ("company", json!(format!("Company {i}"))),
        ("lifecyclestage", json!("marketingqualifiedlead")),
        ("hubspotscore", json!(score)),
    ])
}

async fn post(url: String, bearer: &str, body: Value) -> Value {
    let response = reqwest::Client::new()
        .post(&url)
        .bearer_auth(bearer)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = response.status();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    assert!(status.is_success(), "{url}: {status} {body}");
    body
}

async fn events(world: &World, kind: EventKind) -> Vec<Event> {
    let daemon = world.daemon();
    let all = daemon
        .store
        .events(
            "inbound",
            "2000-01-01T00:00:00Z".parse::<Timestamp>().unwrap(),
            "2100-01-01T00:00:00Z".parse::<Timestamp>().unwrap(),
        )
        .await
        .unwrap();
    all.into_iter().filter(|e| e.kind == kind).collect()
}

async fn crm_id_of(world: &World, marketing_id: &str) -> Option<(String, Option<String>)> {
    let daemon = world.daemon();
    daemon
        .store
        .link("inbound", Side::Marketing, marketing_id)
        .await
        .unwrap()
        .map(|l| (l.state.crm_id, l.state.crm_object))
}

/// The dead letters, as "side object id: reason" lines.
async fn dead_letters(world: &World) -> Vec<String> {
    world
        .daemon()
        .store
        .dead_letters("inbound")
        .await
        .unwrap()
        .into_iter()
        .map(|d| format!("{:?} {} {}: {}", d.side, d.object, d.record_id, d.reason))
        .collect()
}

async fn leads_with_email(world: &World, email: &str) -> Vec<Value> {
    sf_query(
        &world.salesforce.url(),
        &format!("SELECT Id, IsDeleted FROM Lead WHERE Email = '{email}'"),
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn converted_merged_and_deleted_records_move_or_end_their_pairs() {
    let world = World::start(WorldOptions {
        contacts: 0,
        ..WorldOptions::default()
    })
    .await;
    // The contact object can hold sales' reason too (a field in Setup), so
    // feedback goes on after conversion.
    post(
        format!("{}/__sim/salesforce/fields/Contact", world.salesforce.url()),
        SF_SESSION,
        json!({"name": "Disqualified_Reason__c", "type": "string"}),
    )
    .await;
    let names = [
        "convert",
        "master",
        "absorbed",
        "deleted",
        "hsmerged",
        "hsdeleted",
    ];
    let people: Vec<_> = names.iter().map(|n| person(n, "80")).collect();
    let ids = world.hs().insert("contacts", people).unwrap();
    let id = |name: &str| ids[names.iter().position(|n| *n == name).unwrap()].clone();
    // A contact that does not qualify, which will absorb a linked one.
    let survivor = world
        .hs()
        .insert("contacts", vec![person("survivor", "10")])
        .unwrap()
        .remove(0);

    let daemon = world.daemon();
    let first = cycle(&daemon).await;
    drop(daemon);
    assert_eq!(first.handoffs, 6);
    let lead = |name: &str| {
        let world = &world;
        let m = id(name);
        async move { crm_id_of(world, &m).await.expect("linked").0 }
    };
    let (l_convert, l_master, l_absorbed, l_deleted, l_hsmerged) = (
        lead("convert").await,
        lead("master").await,
        lead("absorbed").await,
        lead("deleted").await,
        lead("hsmerged").await,
    );

    // Sales' day: a conversion, a merge, a deletion.
    let sf = world.salesforce.url();
    let converted = post(
        format!("{sf}/__sim/salesforce/convert-lead"),
        SF_SESSION,
        json!({"lead_id": l_convert, "do_not_create_opportunity": true}),
    )
    .await;
    let contact_id = converted["contact_id"].as_str().unwrap().to_owned();
    post(
        format!("{sf}/__sim/salesforce/merge"),
        SF_SESSION,
        json!({"object": "Lead", "master_id": l_master, "merge_ids": [l_absorbed]}),
    )
    .await;
    world.sf().delete("Lead", &l_deleted).unwrap();
    // Marketing's day: a merge into an unlinked contact, a deletion.
    // HubSpot makes a new record of the two (R2.7).
    let merged = post(
        format!("{}/crm/v3/objects/contacts/merge", world.hubspot.url()),
        HS_TOKEN,
        json!({"primaryObjectId": survivor, "objectIdToMerge": id("hsmerged")}),
    )
    .await;
    let merged_id = merged["id"].as_str().unwrap().to_owned();
    world.hs().delete("contacts", &id("hsdeleted")).unwrap();

    let daemon = world.daemon();
    let second = cycle(&daemon).await;
    drop(daemon);
    assert_eq!(
        dead_letters(&world).await,
        Vec::<String>::new(),
        "nothing replaced is refused"
    );

    // Converted: the pair follows the contact.
    assert_eq!(
        crm_id_of(&world, &id("convert")).await,
        Some((contact_id.clone(), Some("Contact".to_owned())))
    );
    // Merged leads: the master keeps its pair, the absorbed one's ends.
    assert_eq!(
        crm_id_of(&world, &id("master")).await.map(|l| l.0),
        Some(l_master.clone())
    );
    assert_eq!(crm_id_of(&world, &id("absorbed")).await, None);
    // Deleted lead: handed off anew, to a new lead.
    let (new_lead, _) = crm_id_of(&world, &id("deleted"))
        .await
        .expect("the contact that still qualifies is linked again");
    assert_ne!(new_lead, l_deleted);
    assert_eq!(
        leads_with_email(&world, "replaced-deleted@example.com")
            .await
            .len(),
        1,
        "one live lead for the person"
    );
    // HubSpot merge: the merged record took the pair over, no second lead.
    assert_eq!(crm_id_of(&world, &id("hsmerged")).await, None);
    assert_eq!(crm_id_of(&world, &survivor).await, None);
    assert_eq!(
        crm_id_of(&world, &merged_id).await.map(|l| l.0),
        Some(l_hsmerged.clone())
    );
    // HubSpot delete: the pair ends; sales' lead stays.
    assert_eq!(crm_id_of(&world, &id("hsdeleted")).await, None);
    assert_eq!(
        leads_with_email(&world, "replaced-hsdeleted@example.com")
            .await
            .len(),
        1
    );
    assert_eq!(second.handoffs, 1, "only the deleted lead's contact again");

    let relinked = events(&world, EventKind::Relinked).await;
    let reasons: Vec<(String, String)> = relinked
        .iter()
        .map(|e| {
            (
                e.marketing_id.clone(),
                e.detail["reason"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    assert!(
        reasons.contains(&(id("convert"), "converted".into())),
        "{reasons:?}"
    );
    assert!(
        reasons.contains(&(id("absorbed"), "merged".into())),
        "{reasons:?}"
    );
    assert!(
        reasons.contains(&(merged_id.clone(), "marketing_merge".into())),
        "{reasons:?}"
    );
    let unlinked: Vec<String> = events(&world, EventKind::Unlinked)
        .await
        .into_iter()
        .map(|e| e.marketing_id)
        .collect();
    assert!(unlinked.contains(&id("deleted")), "{unlinked:?}");
    assert!(unlinked.contains(&id("hsdeleted")), "{unlinked:?}");

    // Life goes on on the contact: marketing's change reaches it, and sales'
    // feedback on it reaches HubSpot.
    world
        .hs()
        .update(
            "contacts",
            &id("convert"),
            fields(&[("lastname", json!("Renamed"))]),
        )
        .unwrap();
    world
        .sf()
        .update(
            "Contact",
            &contact_id,
            fields(&[("Disqualified_Reason__c", json!("Budget"))]),
        )
        .unwrap();
    let daemon = world.daemon();
    cycle(&daemon).await;
    drop(daemon);
    let sales_contact = world.sf().get("Contact", &contact_id).unwrap();
    assert_eq!(sales_contact.text("LastName").as_deref(), Some("Renamed"));
    let marketing = contact(&world, &id("convert"));
    assert_eq!(
        marketing.text("disqualify_reason").as_deref(),
        Some("Budget")
    );
    assert_eq!(dead_letters(&world).await, Vec::<String>::new());

    // The absorbed lead's contact is the master pair's duplicate: a change
    // to it hands nothing off again.
    let daemon = world.daemon();
    let duplicates = daemon
        .store
        .duplicates("inbound", &[id("absorbed")])
        .await
        .unwrap();
    assert_eq!(duplicates[&id("absorbed")].survivor, id("master"));
    world
        .hs()
        .update(
            "contacts",
            &id("absorbed"),
            fields(&[("firstname", json!("Changed"))]),
        )
        .unwrap();
    let quiet = cycle(&daemon).await;
    assert_eq!(quiet.handoffs, 0);
    assert_eq!(
        leads_with_email(&world, "replaced-absorbed@example.com")
            .await
            .len(),
        0,
        "the merged-away lead is not made again"
    );
}
