//! One person, one lead, whatever the width, and two marketing records of
//! one person never stall the pipeline.
//!
//! HubSpot keeps `ｙａｍａｄａ@example.jp` (full-width letters, typed with a
//! Japanese IME) and `yamada@example.jp` as two contacts; leadbridge folds
//! keys (NFKC, case folding, trimming: `engine::key`) so both are one
//! person: one lead, the first-created contact its pair, the other
//! remembered as its duplicate (an event, a count), in one page or across
//! pages and cycles, with zero dead letters and every other lead handed
//! off. Japanese names and companies reach Salesforce as typed.

mod support;

use jiff::Timestamp;
use leadbridge::daemon::Daemon;
use leadbridge::state::{EventKind, Side};
use serde_json::{json, Value};
use support::*;

fn person(email: &str, last: &str, company: &str) -> leadbridge_core::Fields {
    fields(&[
        ("email", json!(email)),
        ("lastname", json!(last)),
        ("company", json!(company)),
        ("hubspotscore", json!("80")),
        ("lifecyclestage", json!("marketingqualifiedlead")),
    ])
}

async fn leads_for(world: &World, email: &str) -> Vec<Value> {
    sf_query(
        &world.salesforce.url(),
        &format!("SELECT Id, Email, LastName, Company FROM Lead WHERE Email = '{email}'"),
    )
    .await
}

/// (duplicate, survivor) of every Duplicate event.
async fn duplicate_events(daemon: &Daemon) -> Vec<(String, String)> {
    let events = daemon
        .store
        .events("inbound", Timestamp::MIN, Timestamp::MAX)
        .await
        .unwrap();
    events
        .into_iter()
        .filter(|e| e.kind == EventKind::Duplicate)
        .map(|e| {
            (
                e.marketing_id,
                e.detail["survivor"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

async fn dead_letters(daemon: &Daemon) -> Vec<String> {
    daemon
        .store
        .dead_letters("inbound")
        .await
        .unwrap()
        .into_iter()
        .map(|d| format!("{} {}: {}", d.object, d.record_id, d.reason))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_width_and_half_width_addresses_are_one_lead() {
    let world = World::start(WorldOptions {
        contacts: 0,
        ..WorldOptions::default()
    })
    .await;
    let ids = world
        .hs()
        .insert(
            "contacts",
            vec![
                person("ｙａｍａｄａ@example.jp", "山田", "株式会社\u{3000}テスト"),
                person("yamada@example.jp", "山田", "株式会社\u{3000}テスト"),
                person("ＴＡＮＡＫＡ１２３@example.jp", "田中", "田中商店"),
                person("tanaka123@example.jp", "田中", "田中商店"),
                person("suzuki@example.jp", "鈴木", "鈴木工業"),
            ],
        )
        .unwrap();
    let daemon = world.daemon();
    let report = cycle(&daemon).await;

    assert_eq!(dead_letters(&daemon).await, Vec::<String>::new());
    assert_eq!(report.handoffs, 3, "three people, three leads");
    let yamada = leads_for(&world, "yamada@example.jp").await;
    assert_eq!(yamada.len(), 1, "{yamada:?}");
    assert_eq!(yamada[0]["LastName"], "山田");
    assert_eq!(
        yamada[0]["Company"], "株式会社\u{3000}テスト",
        "only keys are folded"
    );
    assert_eq!(leads_for(&world, "tanaka123@example.jp").await.len(), 1);
    assert_eq!(leads_for(&world, "suzuki@example.jp").await.len(), 1);

    // The first-created contact of each person has the pair.
    let mut dups = duplicate_events(&daemon).await;
    dups.sort();
    let mut expected = vec![
        (ids[1].clone(), ids[0].clone()),
        (ids[3].clone(), ids[2].clone()),
    ];
    expected.sort();
    assert_eq!(dups, expected);
    let linked = daemon
        .store
        .link("inbound", Side::Marketing, &ids[0])
        .await
        .unwrap()
        .expect("the first-created contact is paired");
    assert_eq!(linked.state.crm_id, yamada[0]["Id"].as_str().unwrap());
    assert!(daemon
        .store
        .link("inbound", Side::Marketing, &ids[1])
        .await
        .unwrap()
        .is_none());
    assert_eq!(report.counts.duplicates, 2);
    assert_eq!(daemon.store.counts("inbound").await.unwrap().duplicates, 2);

    // Read again (a change to the duplicate): still no second lead.
    world
        .hs()
        .update("contacts", &ids[1], fields(&[("firstname", json!("太郎"))]))
        .unwrap();
    let again = cycle(&daemon).await;
    assert_eq!(again.handoffs, 0);
    assert_eq!(leads_for(&world, "yamada@example.jp").await.len(), 1);
    assert_eq!(duplicate_events(&daemon).await.len(), 2, "found once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicates_across_pages_and_cycles_get_sales_feedback_and_never_stall() {
    let world = World::start(WorldOptions {
        contacts: 0,
        handoff_extra: "feedback_to_duplicates = true",
        ..WorldOptions::default()
    })
    .await;
    // The two forms 250 contacts apart: different pages (HubSpot's search
    // pages hold 100) and different write batches (Salesforce's 200).
    let first = world
        .hs()
        .insert(
            "contacts",
            vec![person("ｓａｔｏ@example.jp", "佐藤", "佐藤物産")],
        )
        .unwrap()
        .remove(0);
    let fillers: Vec<_> = (0..250)
        .map(|i| person(&format!("filler{i}@example.jp"), "高橋", "高橋建設"))
        .collect();
    world.hs().insert("contacts", fillers).unwrap();
    let second = world
        .hs()
        .insert(
            "contacts",
            vec![person("sato@example.jp", "佐藤", "佐藤物産")],
        )
        .unwrap()
        .remove(0);

    let daemon = world.daemon();
    let report = cycle(&daemon).await;
    assert_eq!(dead_letters(&daemon).await, Vec::<String>::new());
    assert_eq!(report.handoffs, 251, "every filler and one Sato");
    assert!(
        report.counts.read_marketing > 200,
        "more than one page was read"
    );
    let sato = leads_for(&world, "sato@example.jp").await;
    assert_eq!(sato.len(), 1);
    assert_eq!(
        duplicate_events(&daemon).await,
        vec![(second.clone(), first.clone())]
    );

    // A third form, a cycle later: the pair there stays, it is a duplicate too.
    let third = world
        .hs()
        .insert(
            "contacts",
            vec![person("ＳＡＴＯ@example.jp", "佐藤", "佐藤物産")],
        )
        .unwrap()
        .remove(0);
    let later = cycle(&daemon).await;
    assert_eq!(later.handoffs, 0);
    assert_eq!(leads_for(&world, "sato@example.jp").await.len(), 1);
    assert_eq!(daemon.store.counts("inbound").await.unwrap().duplicates, 2);

    // Sales disqualifies Sato: all three contacts hear it.
    world
        .sf()
        .update(
            "Lead",
            sato[0]["Id"].as_str().unwrap(),
            fields(&[("Disqualified_Reason__c", json!("予算なし"))]),
        )
        .unwrap();
    cycle(&daemon).await;
    for id in [&first, &second, &third] {
        assert_eq!(
            contact(&world, id).text("disqualify_reason").as_deref(),
            Some("予算なし"),
            "contact {id}"
        );
    }
    assert_eq!(dead_letters(&daemon).await, Vec::<String>::new());
}
