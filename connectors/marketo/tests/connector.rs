//! The connector against its simulator: behaviour the shared suite does not
//! pin down but Marketo needs (merges, ties in one second, sparse logs,
//! duplicate emails, long look-ups, Marketo's limits, notes).
#![cfg(feature = "simulator")]

use std::collections::BTreeSet;
use std::time::Duration;

use leadbridge_conformance::{Setup, SetupOptions};
use leadbridge_core::sim::{FaultKind, SeedSpec};
use leadbridge_core::{
    Activity, ActivityKind, ActivityOutcome, ChangesRequest, Connector, ConnectorError, Cursor,
    Fields, Record, ValueType, WriteBatch, WriteOutcome, WriteRecord,
};
use leadbridge_marketo::testing::{setup, setup_with, STATIC_TOKEN};
use serde_json::{json, Value};

fn request(since: Option<Cursor>, fields: &[&str], include_archived: bool) -> ChangesRequest {
    ChangesRequest {
        object: "leads".into(),
        since,
        overlap: Duration::ZERO,
        fields: fields.iter().map(|f| f.to_string()).collect(),
        include_archived,
    }
}

/// A whole pass: its records and the checkpoint of each page.
async fn pass(c: &dyn Connector, req: &ChangesRequest) -> (Vec<Record>, Vec<Option<Cursor>>) {
    let mut records = Vec::new();
    let mut checkpoints = Vec::new();
    let mut token = None;
    loop {
        let page = c.changes(req, token.as_ref()).await.unwrap();
        records.extend(page.records);
        checkpoints.push(page.checkpoint);
        match page.next {
            Some(next) => token = Some(next),
            None => return (records, checkpoints),
        }
    }
}

fn fields(v: Value) -> Fields {
    v.as_object().cloned().unwrap_or_default()
}

fn seed(s: &Setup, count: u64) -> Vec<String> {
    s.control
        .seed(&SeedSpec {
            object: "leads".into(),
            count,
            seed: 5,
            first_index: 0,
        })
        .unwrap()
}

#[tokio::test]
async fn a_merge_reaches_the_winner_as_merged_from() {
    let s = setup(SetupOptions::default()).await;
    let ids = seed(&s, 3);
    s.control.clock().advance(Duration::from_secs(60));
    let (first, checkpoints) = pass(&*s.connector, &request(None, &["email"], false)).await;
    assert_eq!(first.len(), 3);
    let since = checkpoints.last().cloned().flatten().unwrap();
    s.control.clock().advance(Duration::from_secs(60));
    let merged: Value = reqwest::Client::new()
        .post(format!(
            "{}/rest/v1/leads/{}/merge.json?leadId={}",
            s.control.base_url(),
            ids[0],
            ids[1]
        ))
        .bearer_auth(STATIC_TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(merged["success"], true, "{merged}");
    s.control.clock().advance(Duration::from_secs(1));
    let (second, _) = pass(&*s.connector, &request(Some(since), &["email"], false)).await;
    assert_eq!(second.len(), 1, "{second:?}");
    assert_eq!(second[0].id, ids[0]);
    assert_eq!(second[0].merged_from, vec![ids[1].clone()]);
    assert!(s.control.get("leads", &ids[1]).unwrap().archived);
}

#[tokio::test]
async fn many_leads_in_one_second_are_read_through_with_checkpoints_before_it() {
    let s = setup(SetupOptions::default()).await;
    let clock = s.control.clock();
    let tie: jiff::Timestamp = "2026-02-01T10:00:00Z".parse().unwrap();
    clock.freeze_at(tie);
    let ids: BTreeSet<String> = seed(&s, 700).into_iter().collect();
    clock.advance(Duration::from_secs(600));
    let (records, checkpoints) = pass(&*s.connector, &request(None, &["email"], false)).await;
    let got: BTreeSet<String> = records.iter().map(|r| r.id.clone()).collect();
    assert_eq!(got, ids);
    assert_eq!(records.len(), 700, "each lead once");
    // Pages inside the second may only say "everything before it".
    for cp in &checkpoints[..checkpoints.len() - 1] {
        assert_eq!(cp.as_ref().unwrap(), &Cursor::before(tie));
    }
    let last = ids
        .iter()
        .max_by(|a, b| leadbridge_core::cursor::compare_ids(a, b))
        .unwrap();
    assert_eq!(
        checkpoints.last().cloned().flatten().unwrap(),
        Cursor::new(tie, last.clone()),
        "the end covers the whole second"
    );
}

#[tokio::test]
async fn a_lead_changed_several_times_on_a_page_comes_back_once_at_its_last_change() {
    let s = setup(SetupOptions::default()).await;
    let clock = s.control.clock();
    clock.freeze_at(clock.now());
    let ids = seed(&s, 2);
    clock.advance(Duration::from_secs(60));
    let (_, checkpoints) = pass(&*s.connector, &request(None, &["title"], false)).await;
    let since = checkpoints.last().cloned().flatten().unwrap();
    for (i, title) in ["CMO", "CFO", "CEO"].iter().enumerate() {
        clock.advance(Duration::from_secs(10));
        s.control
            .update("leads", &ids[0], fields(json!({"title": title})))
            .unwrap();
        if i == 1 {
            s.control
                .update("leads", &ids[1], fields(json!({"title": "COO"})))
                .unwrap();
        }
    }
    let last_change = clock.now();
    clock.advance(Duration::from_secs(5));
    let (records, _) = pass(&*s.connector, &request(Some(since), &["title"], false)).await;
    assert_eq!(records.len(), 2, "{records:?}");
    let first = records.iter().find(|r| r.id == ids[0]).unwrap();
    assert_eq!(first.text("title").as_deref(), Some("CEO"));
    assert_eq!(first.modified_at.as_second(), last_change.as_second());
}

#[tokio::test]
async fn a_sparse_log_is_followed_to_its_end() {
    let s = setup(SetupOptions::default()).await;
    let ids = seed(&s, 1);
    let clock = s.control.clock();
    clock.advance(Duration::from_secs(60));
    let (_, checkpoints) = pass(&*s.connector, &request(None, &["title"], false)).await;
    let since = checkpoints.last().cloned().flatten().unwrap();
    clock.advance(Duration::from_secs(60));
    // 7,000 changes of a field the pass does not read, then one it does:
    // the log answers pages with nothing on them and moreResult.
    for score in 0..7_000 {
        s.control
            .update("leads", &ids[0], fields(json!({"leadScore": score % 2})))
            .unwrap();
    }
    s.control
        .update("leads", &ids[0], fields(json!({"title": "CRO"})))
        .unwrap();
    clock.advance(Duration::from_secs(1));
    s.control.requests().reset();
    let (records, _) = pass(&*s.connector, &request(Some(since), &["title"], false)).await;
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].text("title").as_deref(), Some("CRO"));
    let feed_calls = s
        .control
        .requests()
        .get("GET /rest/v1/activities/leadchanges.json");
    assert!(feed_calls >= 3, "short pages were followed: {feed_calls}");
}

#[tokio::test]
async fn duplicate_emails_refuse_the_upsert_and_write_nothing() {
    let s = setup(SetupOptions::default()).await;
    let twin = fields(json!({"email": "twin@x.example", "title": "Old"}));
    let ids = s.control.insert("leads", vec![twin.clone(), twin]).unwrap();
    let batch = WriteBatch {
        object: "leads".into(),
        key_field: Some("email".into()),
        records: vec![WriteRecord {
            id: None,
            key: Some("twin@x.example".into()),
            fields: fields(json!({"title": "New"})),
        }],
    };
    let outcomes = s.connector.write(&batch).await.unwrap();
    match &outcomes[0] {
        WriteOutcome::Rejected { code, message, .. } => {
            assert_eq!(code.as_deref(), Some("1007"));
            assert!(message.contains("Multiple leads"), "{message}");
        }
        other => panic!("expected a 1007 rejection, got {other:?}"),
    }
    for id in &ids {
        let lead = s.control.get("leads", id).unwrap();
        assert_eq!(lead.text("title").as_deref(), Some("Old"));
    }
    assert_eq!(s.control.count("leads"), 2);
}

#[tokio::test]
async fn writes_by_id_update_and_report_deleted_leads() {
    let s = setup(SetupOptions::default()).await;
    let ids = seed(&s, 2);
    s.control.delete("leads", &ids[1]).unwrap();
    let by_id = |id: &str, title: &str| WriteRecord {
        id: Some(id.to_owned()),
        key: None,
        fields: fields(json!({"title": title})),
    };
    let batch = WriteBatch {
        object: "leads".into(),
        key_field: None,
        records: vec![by_id(&ids[0], "Head of Sales"), by_id(&ids[1], "Gone")],
    };
    let outcomes = s.connector.write(&batch).await.unwrap();
    assert_eq!(outcomes[0], WriteOutcome::Updated { id: ids[0].clone() });
    assert!(
        matches!(&outcomes[1], WriteOutcome::Deleted { message } if message.contains("1004")),
        "{outcomes:?}"
    );
    assert_eq!(
        s.control
            .get("leads", &ids[0])
            .unwrap()
            .text("title")
            .as_deref(),
        Some("Head of Sales")
    );
}

#[tokio::test]
async fn writes_over_one_megabyte_are_split() {
    let s = setup(SetupOptions::default()).await;
    let address = "x".repeat(20_000);
    let batch = WriteBatch {
        object: "leads".into(),
        key_field: Some("email".into()),
        records: (0..120)
            .map(|i| WriteRecord {
                id: None,
                key: Some(format!("big.{i}@x.example")),
                fields: fields(json!({"address": address})),
            })
            .collect(),
    };
    s.control.requests().reset();
    let outcomes = s.connector.write(&batch).await.unwrap();
    assert!(outcomes
        .iter()
        .all(|o| matches!(o, WriteOutcome::Created { .. })));
    assert_eq!(s.control.count("leads"), 120);
    assert!(s.control.requests().get("POST /rest/v1/leads.json") >= 3);
}

#[tokio::test]
async fn lookups_past_eight_kilobytes_go_as_post_with_method_get() {
    let s = setup(SetupOptions::default()).await;
    let kept = s
        .control
        .insert("leads", vec![fields(json!({"email": "kept@x.example"}))])
        .unwrap();
    let mut values: Vec<String> = (0..299)
        .map(|i| format!("somebody.with.a.long.address.{i}@example.com"))
        .collect();
    values.push("KEPT@x.example".into());
    s.control.requests().reset();
    let found = s
        .connector
        .lookup(
            "leads",
            "email",
            &values,
            &["email".into(), "firstName".into()],
        )
        .await
        .unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].id, kept[0]);
    assert_eq!(found[0].text("email").as_deref(), Some("kept@x.example"));
    assert_eq!(found[0].fields.get("firstName"), Some(&Value::Null));
    let counts = s.control.requests().counts();
    assert_eq!(
        counts.get("POST /rest/v1/leads.json"),
        Some(&1),
        "{counts:?}"
    );
    assert_eq!(counts.get("GET /rest/v1/leads.json"), None, "{counts:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_connector_keeps_to_ten_calls_at_once() {
    for (slots, refused) in [(10usize, false), (11, true)] {
        let s = setup_with(
            SetupOptions {
                rate_limits: true,
                ..SetupOptions::default()
            },
            |c| {
                c.max_concurrent = slots;
                c.http.rate_limit = None;
            },
        )
        .await;
        s.control.faults().add(
            FaultKind::Slow { delay_ms: 2_000 },
            Some(11),
            None,
            Some("leads.json".into()),
        );
        let calls: Vec<_> = (0..11)
            .map(|i| {
                let c = s.connector.clone();
                tokio::spawn(async move {
                    c.lookup("leads", "email", &[format!("p{i}@x.example")], &[])
                        .await
                })
            })
            .collect();
        for call in calls {
            match call.await.unwrap() {
                Ok(_) => {}
                // With eleven places the refused call's retries can all
                // fall inside the others' two seconds: it then gives up as
                // a passing failure, which is what a 615 means.
                Err(ConnectorError::Retryable { message, .. }) if refused => {
                    assert!(message.contains("615"), "{message}")
                }
                Err(e) => panic!("{slots} slots: {e}"),
            }
        }
        let retries = s.connector.usage().retries;
        assert_eq!(
            retries > 0,
            refused,
            "{slots} slots: a 615 was {}expected, {retries} retries",
            if refused { "" } else { "not " }
        );
    }
}

#[tokio::test]
async fn the_vendors_quota_stops_work_until_midnight_cst() {
    let s = setup(SetupOptions::default()).await;
    s.control.set_daily_limit(Some(0));
    let keys = vec!["a@x.example".to_owned()];
    match s.connector.lookup("leads", "email", &keys, &[]).await {
        Err(ConnectorError::QuotaExhausted { resets_at, message }) => {
            assert!(message.contains("607"), "{message}");
            let expected = leadbridge_marketo::time::next_quota_reset(jiff::Timestamp::now());
            assert_eq!(resets_at, expected);
            let at = resets_at
                .unwrap()
                .to_zoned(leadbridge_marketo::time::quota_zone());
            assert_eq!((at.hour(), at.minute()), (0, 0), "midnight CST");
        }
        other => panic!("expected the 607 to stop work, got {other:?}"),
    }
    assert_eq!(s.control.requests().total(), 1, "no retry after 607");
}

fn note(parent: &str, kind: ActivityKind) -> Activity {
    Activity {
        kind,
        parent_object: "leads".into(),
        parent_id: parent.to_owned(),
        subject: "Sales feedback".into(),
        body: "Asked for a demo next week".into(),
        owner: None,
        due: None,
    }
}

#[tokio::test]
async fn notes_become_custom_activities_in_one_call_and_tasks_are_refused() {
    let s = setup(SetupOptions::default()).await;
    let ids = seed(&s, 2);
    s.control.requests().reset();
    let outcomes = s
        .connector
        .create_activities(&[
            note(&ids[0], ActivityKind::Note),
            note(&ids[1], ActivityKind::Note),
            note("987654321", ActivityKind::Note),
        ])
        .await
        .unwrap();
    assert!(matches!(outcomes[0], ActivityOutcome::Created { .. }));
    assert!(matches!(outcomes[1], ActivityOutcome::Created { .. }));
    assert!(
        matches!(&outcomes[2], ActivityOutcome::Rejected { code: Some(c), .. } if c == "1004"),
        "{outcomes:?}"
    );
    assert_eq!(
        s.control
            .requests()
            .get("POST /rest/v1/activities/external.json"),
        1
    );
    match s
        .connector
        .create_activity(&note(&ids[0], ActivityKind::Task))
        .await
    {
        Err(ConnectorError::Fatal { message }) => {
            assert!(message.contains("no tasks"), "{message}")
        }
        other => panic!("a task must be refused, got {other:?}"),
    }
    let unconfigured = setup_with(SetupOptions::default(), |c| c.note_activity = None).await;
    match unconfigured
        .connector
        .create_activity(&note(&ids[0], ActivityKind::Note))
        .await
    {
        Err(ConnectorError::Fatal { message }) => {
            assert!(message.contains("custom activity"), "{message}")
        }
        other => panic!("an unconfigured note must be refused, got {other:?}"),
    }
    assert_eq!(unconfigured.control.requests().total(), 0);
}

#[tokio::test]
async fn describe_reads_types_lengths_and_read_only_fields() {
    let s = setup(SetupOptions::default()).await;
    let schema = s.connector.describe("leads").await.unwrap();
    let f = |name: &str| schema.field(name).unwrap().clone();
    assert_eq!(f("email").value_type, ValueType::Text);
    assert_eq!(f("email").length, Some(255));
    assert!(!f("email").unique, "Marketo allows duplicate emails");
    assert_eq!(f("leadScore").value_type, ValueType::Number);
    assert_eq!(f("unsubscribed").value_type, ValueType::Bool);
    assert_eq!(f("dateOfBirth").value_type, ValueType::Date);
    assert_eq!(f("createdAt").value_type, ValueType::DateTime);
    assert!(!f("updatedAt").updateable && !f("updatedAt").createable);
    assert!(f("id").unique && !f("id").updateable);
    assert!(f("title").createable && f("title").updateable);
}

#[tokio::test]
async fn a_refused_token_is_renewed_once_then_the_pass_stops_unauthorized() {
    use leadbridge_conformance::AuthMode;
    let s = setup(SetupOptions {
        auth: AuthMode::OAuthRefresh,
        ..SetupOptions::default()
    })
    .await;
    seed(&s, 5);
    s.control.clock().advance(Duration::from_secs(60));
    // One 602 (a token Marketo expired early): renewed and retried.
    s.control.faults().add(
        FaultKind::ExpiredToken,
        Some(1),
        None,
        Some("/rest/".into()),
    );
    s.control.requests().reset();
    let (records, _) = pass(&*s.connector, &request(None, &["email"], false)).await;
    assert_eq!(records.len(), 5);
    assert_eq!(
        s.control.requests().get("POST /identity/oauth/token"),
        2,
        "the first token, then one renewal: {:?}",
        s.control.requests().counts()
    );
    // A 602 again right after the renewal: the connector gives up.
    s.control.faults().add(
        FaultKind::ExpiredToken,
        Some(2),
        None,
        Some("/rest/".into()),
    );
    match s
        .connector
        .changes(&request(None, &["email"], false), None)
        .await
    {
        Err(ConnectorError::Unauthorized { message }) => {
            assert!(message.contains("602"), "{message}")
        }
        other => panic!("expected unauthorized after one renewal, got {other:?}"),
    }
}

#[tokio::test]
async fn a_token_marketo_does_not_know_stops_at_once() {
    let s = setup_with(SetupOptions::default(), |c| {
        c.auth = leadbridge_core::auth::AuthConfig::StaticToken {
            token: "revoked-token".to_owned().into(),
        }
    })
    .await;
    match s.connector.describe("leads").await {
        Err(ConnectorError::Unauthorized { message }) => {
            assert!(message.contains("601"), "{message}");
            assert!(!message.contains("revoked-token"), "no token in errors");
        }
        other => panic!("expected unauthorized, got {other:?}"),
    }
    assert_eq!(s.control.requests().total(), 1);
}
