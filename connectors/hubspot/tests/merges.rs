//! Merged and deleted records (SEMANTICS.md R2.7).
#![cfg(feature = "simulator")]

use std::time::Duration;

use leadbridge_conformance::SetupOptions;
use leadbridge_core::{
    ChangesRequest, Fields, SuccessorReason, WriteBatch, WriteOutcome, WriteRecord,
};
use leadbridge_hubspot::testing::setup;
use serde_json::json;

fn fields(v: serde_json::Value) -> Fields {
    v.as_object().cloned().unwrap_or_default()
}

/// A change pass fills `merged_from` from `hs_merged_object_ids` (asked for
/// on every pass over contacts); an update of a merged-away id answers
/// `Superseded` by the new record, one of a deleted id `Deleted`.
#[tokio::test]
async fn merges_are_followed_and_deletions_told() {
    let s = setup(SetupOptions::default()).await;
    let ids = s
        .control
        .insert(
            "contacts",
            vec![
                fields(json!({"email": "p@m.example"})),
                fields(json!({"email": "o@m.example"})),
                fields(json!({"email": "gone@m.example"})),
            ],
        )
        .unwrap();
    let resp = reqwest::Client::new()
        .post(format!(
            "{}/crm/v3/objects/contacts/merge",
            s.control.base_url()
        ))
        .bearer_auth(leadbridge_hubspot::testing::STATIC_TOKEN)
        .json(&json!({"primaryObjectId": ids[0], "objectIdToMerge": ids[1]}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let new_id = resp.json::<serde_json::Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    s.control.delete("contacts", &ids[2]).unwrap();
    s.control.clock().advance(Duration::from_secs(1));

    let req = ChangesRequest {
        object: "contacts".into(),
        since: None,
        overlap: Duration::ZERO,
        fields: vec!["email".into()],
        include_archived: true,
    };
    let page = s.connector.changes(&req, None).await.unwrap();
    let merged = page.records.iter().find(|r| r.id == new_id).unwrap();
    assert_eq!(merged.merged_from, vec![ids[0].clone(), ids[1].clone()]);
    assert!(!merged.fields.contains_key("hs_merged_object_ids"));

    let update = |id: &str| WriteRecord {
        id: Some(id.into()),
        key: None,
        fields: fields(json!({"firstname": "X"})),
    };
    let out = s
        .connector
        .write(&WriteBatch {
            object: "contacts".into(),
            key_field: None,
            records: vec![update(&ids[1]), update(&ids[2]), update("987654321")],
        })
        .await
        .unwrap();
    match &out[0] {
        WriteOutcome::Superseded { successor } => {
            assert_eq!(successor.id, new_id);
            assert_eq!(successor.reason, SuccessorReason::Merged);
        }
        other => panic!("merged-away id: {other:?}"),
    }
    assert!(
        matches!(out[1], WriteOutcome::Deleted { .. }),
        "{:?}",
        out[1]
    );
    assert!(
        matches!(&out[2], WriteOutcome::Rejected { code: Some(c), .. } if c == "OBJECT_NOT_FOUND"),
        "{:?}",
        out[2]
    );
}
