//! Batch writes against HubSpot's whole-batch refusals (SEMANTICS.md R2.8).
#![cfg(feature = "simulator")]

use leadbridge_conformance::SetupOptions;
use leadbridge_core::{Fields, WriteBatch, WriteOutcome, WriteRecord};
use leadbridge_hubspot::testing::setup;
use serde_json::json;

fn fields(v: serde_json::Value) -> Fields {
    v.as_object().cloned().unwrap_or_default()
}

/// An upsert by email is never partial: one bad record refuses the whole
/// call. The connector keeps all 99 good records and rejects the bad one
/// with HubSpot's message, halving only what must be halved: with the bad
/// record last, 1 refused call, 7 left halves that go through (each proving
/// the right half holds the bad record, which is split unsent), and the bad
/// record alone: 9 calls.
#[tokio::test]
async fn one_bad_record_in_a_hundred_costs_nine_calls() {
    let s = setup(SetupOptions::default()).await;
    let records: Vec<WriteRecord> = (0..100)
        .map(|i| WriteRecord {
            id: None,
            key: Some(format!("p{i}@bisect.example")),
            fields: fields(json!({
                "firstname": format!("P{i}"),
                "lifecyclestage": if i == 99 { "not_a_stage" } else { "lead" },
            })),
        })
        .collect();
    let batch = WriteBatch {
        object: "contacts".into(),
        key_field: Some("email".into()),
        records,
    };
    s.control.requests().reset();
    let out = s.connector.write(&batch).await.unwrap();
    assert!(out[..99]
        .iter()
        .all(|o| matches!(o, WriteOutcome::Created { .. })));
    assert!(
        matches!(&out[99], WriteOutcome::Rejected { code: Some(c), fields, .. } if c == "INVALID_OPTION" && fields == &["lifecyclestage".to_owned()]),
        "{:?}",
        out[99]
    );
    assert_eq!(s.control.count("contacts"), 99);
    assert_eq!(
        s.control
            .requests()
            .get("POST /crm/v3/objects/contacts/batch/upsert"),
        9
    );
}

/// A create refused because the contact exists ("Contact already exists.
/// Existing ID: N") is a match: the existing contact is updated and the
/// outcome is `Updated { N }`; records naming one id twice go out in two
/// rounds instead of being refused as duplicates.
#[tokio::test]
async fn an_existing_contact_is_updated_not_rejected_and_duplicates_are_rounds() {
    let s = setup(SetupOptions::default()).await;
    let existing = s
        .control
        .insert(
            "contacts",
            vec![fields(
                json!({"email": "known@x.example", "firstname": "Old"}),
            )],
        )
        .unwrap();
    let create = |email: &str, first: &str| WriteRecord {
        id: None,
        key: None,
        fields: fields(json!({"email": email, "firstname": first})),
    };
    let batch = WriteBatch {
        object: "contacts".into(),
        key_field: None,
        records: vec![
            create("known@x.example", "New"),
            create("fresh@x.example", "Fresh"),
        ],
    };
    let out = s.connector.write(&batch).await.unwrap();
    assert_eq!(
        out[0],
        WriteOutcome::Updated {
            id: existing[0].clone()
        }
    );
    assert!(matches!(out[1], WriteOutcome::Created { .. }), "{out:?}");
    let stored = s.control.get("contacts", &existing[0]).unwrap();
    assert_eq!(stored.text("firstname").as_deref(), Some("New"));

    let update = |first: &str| WriteRecord {
        id: Some(existing[0].clone()),
        key: None,
        fields: fields(json!({"firstname": first})),
    };
    let batch = WriteBatch {
        object: "contacts".into(),
        key_field: None,
        records: vec![update("One"), update("Two")],
    };
    s.control.requests().reset();
    let out = s.connector.write(&batch).await.unwrap();
    assert!(out.iter().all(|o| o
        == &WriteOutcome::Updated {
            id: existing[0].clone()
        }));
    assert_eq!(
        s.control
            .requests()
            .get("POST /crm/v3/objects/contacts/batch/update"),
        2
    );
    let stored = s.control.get("contacts", &existing[0]).unwrap();
    assert_eq!(stored.text("firstname").as_deref(), Some("Two"));
}
