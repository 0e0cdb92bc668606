//! The connector against its simulator: behaviour the shared suite does not
//! pin down but HubSpot needs.
#![cfg(feature = "simulator")]

use std::collections::BTreeSet;
use std::time::Duration;

use leadbridge_conformance::SetupOptions;
use leadbridge_core::sim::SeedSpec;
use leadbridge_core::{ChangesRequest, Fields, WriteBatch, WriteOutcome, WriteRecord};
use leadbridge_hubspot::testing::setup;
use serde_json::json;

fn request(fields: &[&str], include_archived: bool) -> ChangesRequest {
    ChangesRequest {
        object: "contacts".into(),
        since: None,
        overlap: Duration::ZERO,
        fields: fields.iter().map(|f| f.to_string()).collect(),
        include_archived,
    }
}

#[tokio::test]
async fn a_whole_batch_refusal_is_split_so_each_record_gets_its_outcome() {
    let s = setup(SetupOptions::default()).await;
    // HubSpot refuses an upsert batch naming one email twice (HTTP 400 for
    // the whole batch); the connector splits it and writes each record.
    let record = |first: &str| WriteRecord {
        id: None,
        key: Some("twice@x.example".into()),
        fields: json!({"firstname": first})
            .as_object()
            .cloned()
            .unwrap_or_default(),
    };
    let batch = WriteBatch {
        object: "contacts".into(),
        key_field: Some("email".into()),
        records: vec![record("One"), record("Two")],
    };
    let outcomes = s.connector.write(&batch).await.unwrap();
    assert!(
        matches!(outcomes[0], WriteOutcome::Created { .. }),
        "{outcomes:?}"
    );
    assert!(
        matches!(outcomes[1], WriteOutcome::Updated { .. }),
        "{outcomes:?}"
    );
    let stored = s.control.find("contacts", "email", "twice@x.example");
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].text("firstname").as_deref(), Some("Two"));
}

#[tokio::test]
async fn updates_by_id_and_creates_without_key_report_per_record() {
    let s = setup(SetupOptions::default()).await;
    let ids = s
        .control
        .seed(&SeedSpec {
            object: "contacts".into(),
            count: 2,
            seed: 1,
            first_index: 0,
        })
        .unwrap();
    let fields = |v: serde_json::Value| -> Fields { v.as_object().cloned().unwrap_or_default() };
    let batch = WriteBatch {
        object: "contacts".into(),
        key_field: None,
        records: vec![
            WriteRecord {
                id: Some(ids[0].clone()),
                key: None,
                fields: fields(json!({"jobtitle": "CMO"})),
            },
            WriteRecord {
                id: Some("424242424".into()),
                key: None,
                fields: fields(json!({"jobtitle": "x"})),
            },
            WriteRecord {
                id: None,
                key: None,
                fields: fields(json!({"email": "fresh@x.example"})),
            },
            WriteRecord {
                id: Some(ids[1].clone()),
                key: None,
                fields: fields(json!({"hubspotscore": "99"})),
            },
        ],
    };
    let out = s.connector.write(&batch).await.unwrap();
    assert_eq!(out[0], WriteOutcome::Updated { id: ids[0].clone() });
    assert!(
        matches!(&out[1], WriteOutcome::Rejected { code: Some(c), .. } if c == "OBJECT_NOT_FOUND"),
        "{out:?}"
    );
    assert!(matches!(out[2], WriteOutcome::Created { .. }));
    match &out[3] {
        WriteOutcome::Rejected { code, fields, .. } => {
            assert_eq!(code.as_deref(), Some("READ_ONLY_VALUE"));
            assert_eq!(fields, &vec!["hubspotscore".to_owned()]);
        }
        other => panic!("read-only write should be rejected: {other:?}"),
    }
}

#[tokio::test]
async fn describe_marks_read_only_and_unique_fields() {
    let s = setup(SetupOptions::default()).await;
    let schema = s.connector.describe("contacts").await.unwrap();
    let score = schema.field("hubspotscore").unwrap();
    assert!(!score.updateable && !score.createable);
    assert!(schema.field("email").unwrap().unique);
    assert!(schema
        .field("lifecyclestage")
        .unwrap()
        .options
        .contains(&"lead".to_owned()));
    let err = s.connector.describe("widgets").await.unwrap_err();
    assert!(
        matches!(err, leadbridge_core::ConnectorError::Fatal { .. }),
        "{err}"
    );
}

#[tokio::test]
async fn records_changed_during_a_pass_are_not_lost() {
    let s = setup(SetupOptions::default()).await;
    let clock = s.control.clock();
    let mut ids = Vec::new();
    for i in 0..5u64 {
        ids.extend(
            s.control
                .seed(&SeedSpec {
                    object: "contacts".into(),
                    count: 100,
                    seed: 2,
                    first_index: i * 100,
                })
                .unwrap(),
        );
        clock.advance(Duration::from_secs(1));
    }
    let req = request(&["email"], false);
    let first = s.connector.changes(&req, None).await.unwrap();
    assert_eq!(first.records.len(), 200);
    // Offset paging would now skip a record: the first page's records move to
    // the end of the result set. Seek paging does not care.
    let mut fields = Fields::new();
    fields.insert("jobtitle".into(), json!("Moved"));
    for id in &ids[..50] {
        s.control.update("contacts", id, fields.clone()).unwrap();
    }
    let mut seen: BTreeSet<String> = first.records.iter().map(|r| r.id.clone()).collect();
    let mut token = first.next;
    while let Some(t) = token {
        let page = s.connector.changes(&req, Some(&t)).await.unwrap();
        seen.extend(page.records.iter().map(|r| r.id.clone()));
        token = page.next;
    }
    let want: BTreeSet<String> = ids.into_iter().collect();
    assert_eq!(seen, want);
}

#[tokio::test]
async fn archived_records_are_listed_across_pages_with_their_archive_time() {
    let s = setup(SetupOptions::default()).await;
    let ids = s
        .control
        .seed(&SeedSpec {
            object: "contacts".into(),
            count: 260,
            seed: 4,
            first_index: 0,
        })
        .unwrap();
    for id in &ids[..150] {
        s.control.delete("contacts", id).unwrap();
    }
    let req = request(&["email"], true);
    let mut live = 0;
    let mut archived = BTreeSet::new();
    let mut token = None;
    loop {
        let page = s.connector.changes(&req, token.as_ref()).await.unwrap();
        for r in page.records {
            if r.archived {
                assert!(
                    r.text("email").is_some(),
                    "archived records carry their fields"
                );
                archived.insert(r.id);
            } else {
                live += 1;
            }
        }
        match page.next {
            Some(t) => token = Some(t),
            None => break,
        }
    }
    assert_eq!(live, 110);
    assert_eq!(archived.len(), 150);
    let counts = s.control.requests().counts();
    assert_eq!(
        counts.get("GET /crm/v3/objects/contacts"),
        Some(&2),
        "{counts:?}"
    );
}

#[tokio::test]
async fn a_full_pass_reports_its_calls() {
    let s = setup(SetupOptions::default()).await;
    s.control
        .seed(&SeedSpec {
            object: "contacts".into(),
            count: 1_000,
            seed: 5,
            first_index: 0,
        })
        .unwrap();
    s.control.clock().advance(Duration::from_secs(5));
    s.control.requests().reset();
    let req = request(&["email"], false);
    let mut token = None;
    let mut n = 0;
    loop {
        let page = s.connector.changes(&req, token.as_ref()).await.unwrap();
        n += page.records.len();
        match page.next {
            Some(t) => token = Some(t),
            None => break,
        }
    }
    assert_eq!(n, 1_000);
    // 1,000 records at one instant: five pages' worth of records, read by a
    // tie drain after the first page (whose 200 it re-reads once).
    let usage = s.connector.usage();
    assert!(usage.total_calls() <= 7, "{usage:?}");
    assert_eq!(usage.total_calls(), s.control.requests().total());
}

/// The connector reads the account's time zone once, at first use, and
/// its daily budget then resets at midnight there: a daily cap's reset time
/// is a midnight in US/Eastern (the simulated account's zone), not UTC.
#[tokio::test]
async fn the_daily_budget_resets_at_the_accounts_midnight() {
    let s = setup(SetupOptions {
        daily_cap: Some(1),
        ..SetupOptions::default()
    })
    .await;
    let req = request(&["email"], false);
    s.connector.changes(&req, None).await.unwrap();
    let err = s.connector.changes(&req, None).await.unwrap_err();
    let leadbridge_core::ConnectorError::QuotaExhausted {
        resets_at: Some(at),
        ..
    } = err
    else {
        panic!("expected the cap: {err:?}")
    };
    let local = at.to_zoned(jiff::tz::TimeZone::get("US/Eastern").unwrap());
    assert_eq!((local.hour(), local.minute(), local.second()), (0, 0, 0));
    let counts = s.control.requests().counts();
    assert_eq!(
        counts.get("GET /account-info/v3/details"),
        Some(&1),
        "{counts:?}"
    );
}

/// Against a simulator enforcing HubSpot's limits, 25 searches in a row
/// (25 change passes) meet no 429: the client paces to the rolling second
/// the vendor meters, not to a token bucket of the same rate.
#[tokio::test]
async fn paced_searches_meet_no_rate_limit() {
    let s = setup(SetupOptions {
        rate_limits: true,
        ..SetupOptions::default()
    })
    .await;
    s.control
        .seed(&SeedSpec {
            object: "contacts".into(),
            count: 10,
            seed: 3,
            first_index: 0,
        })
        .unwrap();
    let req = request(&["email"], false);
    for _ in 0..25 {
        assert_eq!(
            s.connector.changes(&req, None).await.unwrap().records.len(),
            10
        );
    }
    let counts = s.control.requests().counts();
    assert_eq!(
        counts.get("POST /crm/v3/objects/contacts/search"),
        Some(&25)
    );
    assert!(
        s.control.requests().rate_limited_counts().is_empty(),
        "{:?}",
        s.control.requests().rate_limited_counts()
    );
}

/// `describe` says what each property holds in the engine's terms, and
/// `users` lists the owners, active and deactivated.
#[tokio::test]
async fn describe_types_fields_and_users_lists_owners() {
    let s = setup(SetupOptions::default()).await;
    let schema = s.connector.describe("contacts").await.unwrap();
    let vt = |name: &str| schema.field(name).unwrap().value_type;
    use leadbridge_core::ValueType;
    assert_eq!(vt("lifecyclestage"), ValueType::Enumeration);
    assert_eq!(vt("hubspot_owner_id"), ValueType::Reference);
    assert_eq!(vt("opportunity_amount"), ValueType::Number);
    assert_eq!(vt("closed_won"), ValueType::Bool);
    assert_eq!(vt("last_event_date"), ValueType::Date);
    assert_eq!(vt("createdate"), ValueType::DateTime);
    assert_eq!(vt("city"), ValueType::Text);
    assert!(schema.field("hs_object_id").unwrap().unique);
    let users = s.connector.users().await.unwrap().unwrap();
    assert_eq!(users.len(), 4);
    assert_eq!(users.iter().filter(|u| u.active).count(), 3);
    let ava = users.iter().find(|u| u.id == "41629779").unwrap();
    assert_eq!(ava.name, "Ava Stone");
    assert_eq!(ava.email.as_deref(), Some("ava.stone@sim.example"));
}
