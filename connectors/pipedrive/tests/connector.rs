//! Pipedrive-specific behaviour beyond the shared suite: pacing under the
//! token-based limits, OAuth with HTTP Basic, creates never re-sent blind,
//! leads, deals as outcome feedback, merges, metadata and tasks.
#![cfg(feature = "simulator")]

use std::time::Duration;

use leadbridge_conformance::{Setup, SetupOptions};
use leadbridge_core::sim::{FaultKind, SeedSpec};
use leadbridge_core::{
    Activity, ActivityKind, ChangePage, ChangesRequest, ConnectorError, Fields, Record, ValueType,
    WriteBatch, WriteOutcome, WriteRecord,
};
use leadbridge_pipedrive::simulator::catalog::{DEAL_CAMPAIGN_FIELD, SCORE_FIELD, SOURCE_FIELD};
use leadbridge_pipedrive::testing::{setup, API_TOKEN};
use serde_json::{json, Value};

fn fields(pairs: &[(&str, Value)]) -> Fields {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), v.clone()))
        .collect()
}

fn request(object: &str, fields: &[&str], include_archived: bool) -> ChangesRequest {
    ChangesRequest {
        object: object.into(),
        since: None,
        overlap: Duration::ZERO,
        fields: fields.iter().map(|s| (*s).to_owned()).collect(),
        include_archived,
    }
}

async fn pass(s: &Setup, req: &ChangesRequest) -> Vec<Record> {
    let mut out = Vec::new();
    let mut token = None;
    loop {
        let page: ChangePage = s.connector.changes(req, token.as_ref()).await.unwrap();
        out.extend(page.records);
        match page.next {
            Some(t) => token = Some(t),
            None => return out,
        }
    }
}

fn seed(s: &Setup, object: &str, count: u64) -> Vec<String> {
    s.control
        .seed(&SeedSpec {
            object: object.into(),
            count,
            seed: 3,
            first_index: 0,
        })
        .unwrap()
}

/// A mixed workload of searches and writes, each at the connector's
/// default pacing, against the simulator's burst limits.
async fn workload(s: &Setup) -> u64 {
    let ids = seed(s, "persons", 30);
    let emails: Vec<String> = ids[..12]
        .iter()
        .map(|id| s.control.get("persons", id).unwrap().text("email").unwrap())
        .collect();
    let found = s
        .connector
        .lookup("persons", "email", &emails, &["name".into()])
        .await
        .unwrap();
    assert_eq!(found.len(), 12);
    let batch = WriteBatch {
        object: "persons".into(),
        key_field: None,
        records: ids
            .iter()
            .map(|id| WriteRecord {
                id: Some(id.clone()),
                key: None,
                fields: fields(&[(SCORE_FIELD, json!(99))]),
            })
            .collect(),
    };
    let outcomes = s.connector.write(&batch).await.unwrap();
    assert!(outcomes
        .iter()
        .all(|o| matches!(o, WriteOutcome::Updated { .. })));
    s.connector.usage().retries
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn default_pacing_makes_no_429_against_the_burst_limits() {
    let paced = setup(SetupOptions {
        rate_limits: true,
        ..SetupOptions::default()
    })
    .await;
    assert_eq!(workload(&paced).await, 0, "a paced workload was refused");

    // The same workload without client-side pacing is refused, so the
    // limits under test are really there.
    let mut unpaced = setup(SetupOptions::default()).await;
    unpaced.control.set_rate_limits(true);
    let retries = workload(&unpaced).await;
    assert!(retries > 0, "the simulator let an unpaced burst through");
    unpaced.guard = Box::new(());
}

#[tokio::test]
async fn the_token_endpoint_takes_client_credentials_only_as_basic() {
    let s = setup(SetupOptions::default()).await;
    let url = format!("{}/oauth/token", s.control.base_url());
    let http = reqwest::Client::new();
    let code = s
        .control
        .tokens()
        .authorize("sim-client", "http://127.0.0.1/cb", None)
        .unwrap();
    let in_body = http
        .post(&url)
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", "http://127.0.0.1/cb"),
            ("client_id", "sim-client"),
            ("client_secret", "sim-secret"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(in_body.status(), 401);
    let basic = http
        .post(&url)
        .basic_auth("sim-client", Some("sim-secret"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", "http://127.0.0.1/cb"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(basic.status(), 200);
    let body: Value = basic.json().await.unwrap();
    assert_eq!(body["token_type"], "Bearer");
    assert!(body["refresh_token"]
        .as_str()
        .is_some_and(|t| !t.is_empty()));
    assert_eq!(body["api_domain"], json!(s.control.base_url()));
}

#[tokio::test]
async fn a_create_whose_answer_is_lost_is_not_sent_again() {
    let s = setup(SetupOptions {
        timeout: Duration::from_millis(500),
        ..SetupOptions::default()
    })
    .await;
    // The answer comes after the client gave up: it cannot know whether the
    // person was created.
    s.control.faults().add(
        FaultKind::Slow { delay_ms: 1_000 },
        Some(1),
        None,
        Some("/api/v2/persons".into()),
    );
    let batch = WriteBatch {
        object: "persons".into(),
        key_field: None,
        records: vec![WriteRecord {
            id: None,
            key: None,
            fields: fields(&[
                ("name", json!("Lost Answer")),
                ("email", json!("lost@x.example")),
            ]),
        }],
    };
    match s.connector.write(&batch).await {
        Err(ConnectorError::OutcomeUnknown { .. }) => {}
        other => panic!("expected an unknown outcome, got {other:?}"),
    }
    assert_eq!(
        s.control.requests().get("POST /api/v2/persons"),
        1,
        "the create was re-sent: {:?}",
        s.control.requests().counts()
    );
}

#[tokio::test]
async fn leads_are_written_for_a_person_and_read_back_in_change_order() {
    let s = setup(SetupOptions::default()).await;
    let person = s
        .control
        .insert("persons", vec![fields(&[("name", json!("Ana Costa"))])])
        .unwrap();
    let batch = |title: &str| WriteBatch {
        object: "leads".into(),
        key_field: Some("person_id".into()),
        records: vec![
            WriteRecord {
                id: None,
                key: Some(person[0].clone()),
                fields: fields(&[
                    ("title", json!(title)),
                    (DEAL_CAMPAIGN_FIELD, json!("ebook")),
                ]),
            },
            WriteRecord {
                id: None,
                key: Some("424242".into()),
                fields: fields(&[("title", json!("Nobody's lead"))]),
            },
        ],
    };
    let first = s.connector.write(&batch("Acme expansion")).await.unwrap();
    let WriteOutcome::Created { id } = &first[0] else {
        panic!("{first:?}")
    };
    assert_eq!(id.len(), 36, "lead ids are UUIDs");
    assert!(
        matches!(&first[1], WriteOutcome::Rejected { message, .. } if message.contains("Person"))
    );
    let second = s
        .connector
        .write(&batch("Acme expansion, phase 2"))
        .await
        .unwrap();
    assert_eq!(second[0], WriteOutcome::Updated { id: id.clone() });
    assert_eq!(s.control.count("leads"), 1);

    let found = s
        .connector
        .lookup(
            "leads",
            "person_id",
            &[person[0].clone()],
            &["title".into()],
        )
        .await
        .unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(
        found[0].text("title").as_deref(),
        Some("Acme expansion, phase 2")
    );

    seed(&s, "leads", 40);
    let leads = pass(
        &s,
        &request("leads", &["title", "person_id", DEAL_CAMPAIGN_FIELD], false),
    )
    .await;
    assert_eq!(leads.len(), 41);
    assert!(leads
        .windows(2)
        .all(|w| w[0].modified_at <= w[1].modified_at));
    assert!(leads
        .iter()
        .any(|l| l.text(DEAL_CAMPAIGN_FIELD).as_deref() == Some("ebook")));
}

#[tokio::test]
async fn deals_report_stage_and_outcome_and_deleted_deals_when_asked() {
    let s = setup(SetupOptions::default()).await;
    let ids = seed(&s, "deals", 3);
    s.control.clock().advance(Duration::from_secs(5));
    s.control
        .update(
            "deals",
            &ids[0],
            fields(&[("status", json!("won")), ("stage_id", json!(4))]),
        )
        .unwrap();
    s.control
        .update(
            "deals",
            &ids[1],
            fields(&[("status", json!("lost")), ("lost_reason", json!("Budget"))]),
        )
        .unwrap();
    s.control.delete("deals", &ids[2]).unwrap();
    let wanted = [
        "title",
        "status",
        "stage_id",
        "value",
        "currency",
        "won_time",
        "lost_reason",
    ];
    let live = pass(&s, &request("deals", &wanted, false)).await;
    assert_eq!(live.len(), 2);
    let won = live.iter().find(|d| d.id == ids[0]).unwrap();
    assert_eq!(won.text("status").as_deref(), Some("won"));
    assert_eq!(won.text("stage_id").as_deref(), Some("4"));
    assert!(won.text("won_time").is_some());
    assert_eq!(won.text("currency").as_deref(), Some("EUR"));
    let lost = live.iter().find(|d| d.id == ids[1]).unwrap();
    assert_eq!(lost.text("lost_reason").as_deref(), Some("Budget"));
    let all = pass(&s, &request("deals", &wanted, true)).await;
    assert_eq!(all.len(), 3);
    assert!(all.iter().find(|d| d.id == ids[2]).unwrap().archived);
}

#[tokio::test]
async fn a_merged_away_person_reads_as_deleted_and_answers_writes_as_deleted() {
    let s = setup(SetupOptions::default()).await;
    let ids = seed(&s, "persons", 2);
    let merged: Value = reqwest::Client::new()
        .put(format!(
            "{}/v1/persons/{}/merge",
            s.control.base_url(),
            ids[0]
        ))
        .header("x-api-token", API_TOKEN)
        .json(&json!({"merge_with_id": ids[1].parse::<u64>().unwrap()}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        merged["data"]["merge_what_id"],
        json!(ids[0].parse::<u64>().unwrap())
    );
    assert_eq!(
        merged["data"]["email"].as_array().unwrap().len(),
        2,
        "addresses are merged"
    );

    let records = pass(&s, &request("persons", &["name", "email"], true)).await;
    let loser = records.iter().find(|r| r.id == ids[0]).unwrap();
    assert!(loser.archived, "the merged-away person reads as deleted");
    assert!(!records.iter().find(|r| r.id == ids[1]).unwrap().archived);
    let live = pass(&s, &request("persons", &["name"], false)).await;
    assert_eq!(live.len(), 1, "v2 lists leave deleted persons out");

    let outcome = s
        .connector
        .write(&WriteBatch {
            object: "persons".into(),
            key_field: None,
            records: vec![WriteRecord {
                id: Some(ids[0].clone()),
                key: None,
                fields: fields(&[("name", json!("Too late"))]),
            }],
        })
        .await
        .unwrap();
    assert!(
        matches!(&outcome[0], WriteOutcome::Deleted { .. }),
        "{outcome:?}"
    );
}

#[tokio::test]
async fn metadata_and_users_come_from_the_fields_endpoints() {
    let s = setup(SetupOptions::default()).await;
    let persons = s.connector.describe("persons").await.unwrap();
    assert!(persons.field("name").unwrap().required);
    assert!(!persons.field("update_time").unwrap().updateable);
    assert_eq!(
        persons.field(SCORE_FIELD).unwrap().value_type,
        ValueType::Number
    );
    let source = persons.field(SOURCE_FIELD).unwrap();
    assert_eq!(source.value_type, ValueType::Enumeration);
    assert!(source.options.contains(&"PAID_SEARCH".to_owned()));
    let leads = s.connector.describe("leads").await.unwrap();
    assert!(leads.field("title").unwrap().required);
    assert!(leads.field(DEAL_CAMPAIGN_FIELD).is_some());
    assert!(
        leads.field("stage_id").is_none(),
        "deal-only system fields are not lead fields"
    );
    let users = s.connector.users().await.unwrap().unwrap();
    assert_eq!(users.len(), 4);
    assert_eq!(users.iter().filter(|u| !u.active).count(), 1);
}

#[tokio::test]
async fn tasks_carry_their_due_date_owner_and_open_flag() {
    let s = setup(SetupOptions::default()).await;
    let person = seed(&s, "persons", 1);
    let due: jiff::Timestamp = "2027-03-01T09:30:00Z".parse().unwrap();
    let id = s
        .connector
        .create_activity(&Activity {
            kind: ActivityKind::Task,
            parent_object: "persons".into(),
            parent_id: person[0].clone(),
            subject: "Follow up the webinar lead".into(),
            body: "Score 91".into(),
            owner: Some("1002".into()),
            due: Some(due),
        })
        .await
        .unwrap();
    let task = s.control.get("activities", &id).unwrap();
    assert_eq!(task.text("type").as_deref(), Some("task"));
    assert_eq!(task.text("due_date").as_deref(), Some("2027-03-01"));
    assert_eq!(task.text("due_time").as_deref(), Some("09:30"));
    assert_eq!(task.text("owner_id").as_deref(), Some("1002"));
    assert_eq!(task.text("done").as_deref(), Some("false"));
    let refused = s
        .connector
        .create_activity(&Activity {
            kind: ActivityKind::Task,
            parent_object: "persons".into(),
            parent_id: person[0].clone(),
            subject: "x".into(),
            body: String::new(),
            owner: Some("999".into()),
            due: None,
        })
        .await;
    assert!(
        matches!(refused, Err(ConnectorError::Rejected { .. })),
        "{refused:?}"
    );
}
