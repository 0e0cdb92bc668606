//! Activities in batches: notes and tasks through `batch/create`.
#![cfg(feature = "simulator")]

use leadbridge_conformance::SetupOptions;
use leadbridge_core::sim::SeedSpec;
use leadbridge_core::{Activity, ActivityKind, ActivityOutcome};
use leadbridge_hubspot::testing::setup;

/// 120 notes and 30 tasks cost three calls (notes 100 + 20, tasks 30),
/// each activity gets its own outcome in input order, and one whose
/// contact does not exist is rejected alone.
#[tokio::test]
async fn activities_go_out_a_hundred_a_call_with_one_outcome_each() {
    let s = setup(SetupOptions::default()).await;
    let ids = s
        .control
        .seed(&SeedSpec {
            object: "contacts".into(),
            count: 150,
            seed: 9,
            first_index: 0,
        })
        .unwrap();
    let activities: Vec<Activity> = ids
        .iter()
        .enumerate()
        .map(|(i, id)| Activity {
            kind: if i % 5 == 4 {
                ActivityKind::Task
            } else {
                ActivityKind::Note
            },
            parent_object: "contacts".into(),
            parent_id: if i == 7 {
                "999999999".into()
            } else {
                id.clone()
            },
            subject: format!("Activity {i}"),
            body: "Handed over by leadbridge".into(),
            owner: None,
            due: None,
        })
        .collect();
    s.control.requests().reset();
    let out = s.connector.create_activities(&activities).await.unwrap();
    assert_eq!(out.len(), 150);
    for (i, o) in out.iter().enumerate() {
        match (i, o) {
            (7, ActivityOutcome::Rejected { .. }) => {}
            (7, other) => panic!("a note on a missing contact: {other:?}"),
            (_, ActivityOutcome::Created { .. }) => {}
            (i, other) => panic!("activity {i}: {other:?}"),
        }
    }
    assert_eq!(s.control.count("notes"), 119);
    assert_eq!(s.control.count("tasks"), 30);
    let counts = s.control.requests().counts();
    assert_eq!(
        counts.get("POST /crm/v3/objects/notes/batch/create"),
        Some(&2)
    );
    assert_eq!(
        counts.get("POST /crm/v3/objects/tasks/batch/create"),
        Some(&1)
    );
    assert_eq!(s.control.requests().total(), 3, "{counts:?}");
}
