//! The connector against the round-2 simulator: what it does with
//! converted leads, duplicate rules, transient per-record errors, deletes
//! and merges, whole-second stamps, full describes and batched tasks.
#![cfg(feature = "simulator")]

mod common;

use std::time::Duration;

use common::{connector, fields, insert, lead, sim};
use leadbridge_core::{
    Activity, ActivityKind, ActivityOutcome, ChangesRequest, Connector, Record, Successor,
    SuccessorReason, ValueType, WriteBatch, WriteOutcome, WriteRecord,
};
use leadbridge_salesforce::simulator::org::MergeRequest;
use leadbridge_salesforce::simulator::record_faults::{RecordFault, RecordFaultSpec};
use leadbridge_salesforce::simulator::store::duplicates::{Action, Matching, Rule};
use leadbridge_salesforce::simulator::store::lifecycle::LeadConvert;
use leadbridge_salesforce::SalesforceConnector;
use serde_json::json;

/// `describe` normalises Salesforce's types for the engine (picklist →
/// Enumeration, currency → Number, url → Text, reference → Reference…)
/// with lengths and External ID flags; `users()` lists every user, active
/// or not, from one query.
#[tokio::test]
async fn describe_normalises_types_and_users_come_from_one_query() {
    let (sim, _org) = sim().await;
    let c = connector(&sim);
    let schema = c.describe("Lead").await.unwrap();
    let get = |n: &str| schema.field(n).unwrap_or_else(|| panic!("no {n}")).clone();
    for (name, expected) in [
        ("Status", ValueType::Enumeration),
        ("AnnualRevenue", ValueType::Number),
        ("NumberOfEmployees", ValueType::Number),
        ("HasOptedOutOfEmail", ValueType::Bool),
        ("ConvertedDate", ValueType::Date),
        ("EmailBouncedDate", ValueType::DateTime),
        ("OwnerId", ValueType::Reference),
        ("Id", ValueType::Reference),
        ("Website", ValueType::Text),
        ("Street", ValueType::Text),
        ("Email", ValueType::Text),
        ("MobilePhone", ValueType::Text),
    ] {
        assert_eq!(get(name).value_type, expected, "{name}");
    }
    assert_eq!(get("Company").length, Some(255));
    assert_eq!(get("FirstName").length, Some(40));
    assert_eq!(get("AnnualRevenue").length, None);
    assert!(get("Leadbridge_Id__c").external_id);
    assert!(!get("Email").external_id);
    assert_eq!(
        get("Salutation").options,
        ["Mr.", "Ms.", "Mrs.", "Dr.", "Prof."]
    );
    assert!(!get("IsConverted").createable && !get("IsConverted").required);
    assert!(get("LastName").required && get("Company").required);
    let task = c.describe("Task").await.unwrap();
    assert_eq!(task.field("Subject").unwrap().value_type, ValueType::Text);

    sim.control.requests().reset();
    let users = c
        .users()
        .await
        .unwrap()
        .expect("Salesforce lists its users");
    assert_eq!(sim.control.requests().total(), 1, "one query");
    assert_eq!(users.len(), 5);
    let ada = &users[0];
    assert_eq!(ada.name, "Ada Admin");
    assert_eq!(
        ada.email.as_deref(),
        Some("ada.admin@leadbridge-sim.example")
    );
    assert!(ada.active);
    assert!(users.iter().any(|u| u.name == "Ina Inactive" && !u.active));
}

fn converted(contact: &str) -> Option<Successor> {
    Some(Successor {
        object: "Contact".into(),
        id: contact.into(),
        reason: SuccessorReason::Converted,
    })
}

fn changes_request(object: &str, fields: &[&str], include_archived: bool) -> ChangesRequest {
    ChangesRequest {
        object: object.into(),
        since: None,
        overlap: Duration::ZERO,
        fields: fields.iter().map(|f| (*f).to_owned()).collect(),
        include_archived,
    }
}

/// Every record of a change pass.
async fn pass(c: &dyn Connector, request: &ChangesRequest) -> Vec<Record> {
    let mut out = Vec::new();
    let mut token = None;
    loop {
        let page = c.changes(request, token.as_ref()).await.unwrap();
        out.extend(page.records);
        match page.next {
            Some(next) => token = Some(next),
            None => return out,
        }
    }
}

/// Converted leads (R2.1: "When `IsConverted=true`, or after a
/// `CANNOT_UPDATE_CONVERTED_LEAD`, re-point its mapping to
/// `ConvertedContactId` … Create new Tasks with `WhoId = ConvertedContactId`
/// and `WhatId` = the Opportunity or Account. Treat the error as permanent
/// for the Lead id."): a change pass and a look-up name the contact as the
/// lead's successor; writes to the converted lead, by id or by upsert key,
/// answer `Superseded` by the contact and change nothing; a task for the
/// converted lead lands on the contact, about the opportunity.
#[tokio::test]
async fn converted_leads_point_to_their_contact_and_tasks_follow() {
    let (sim, org) = sim().await;
    let c = connector(&sim);
    let mut f = lead("Ann", "Lee", "Acme", "ann@acme.example");
    f.insert("Leadbridge_Id__c".into(), json!("lb-1"));
    let lead_id = insert(&sim, "Lead", f);
    let mut f = lead("Cy", "Do", "Beta", "cy@beta.example");
    f.insert("Leadbridge_Id__c".into(), json!("lb-2"));
    let live = insert(&sim, "Lead", f);
    let done = org
        .convert_lead(&LeadConvert {
            lead_id: lead_id.clone(),
            ..LeadConvert::default()
        })
        .unwrap();

    let records = pass(&c, &changes_request("Lead", &["Email"], false)).await;
    let by_id = |id: &str| records.iter().find(|r| r.id == id).unwrap().clone();
    assert_eq!(by_id(&lead_id).successor, converted(&done.contact_id));
    assert_eq!(by_id(&live).successor, None);
    assert!(
        !by_id(&lead_id).fields.contains_key("IsConverted"),
        "only asked-for fields"
    );
    let found = c
        .lookup(
            "Lead",
            "Email",
            &["ann@acme.example".into()],
            &["Email".into()],
        )
        .await
        .unwrap();
    assert_eq!(found[0].successor, converted(&done.contact_id));

    let title = fields(&[("Title", json!("CTO"))]);
    let batch = WriteBatch {
        object: "Lead".into(),
        key_field: Some("Leadbridge_Id__c".into()),
        records: vec![
            WriteRecord {
                id: Some(lead_id.clone()),
                key: None,
                fields: title.clone(),
            },
            WriteRecord {
                id: None,
                key: Some("LB-1".into()),
                fields: title.clone(),
            },
            WriteRecord {
                id: Some(live.clone()),
                key: None,
                fields: title.clone(),
            },
        ],
    };
    let out = c.write(&batch).await.unwrap();
    let superseded = WriteOutcome::Superseded {
        successor: converted(&done.contact_id).unwrap(),
    };
    assert_eq!(
        out,
        vec![
            superseded.clone(),
            superseded,
            WriteOutcome::Updated { id: live.clone() }
        ]
    );
    assert_eq!(
        sim.control.get("Lead", &lead_id).unwrap().text("Title"),
        None
    );

    let task = c
        .create_activity(&Activity {
            kind: ActivityKind::Task,
            parent_object: "Lead".into(),
            parent_id: lead_id.clone(),
            subject: "Call back".into(),
            body: "Asked for a demo".into(),
            owner: None,
            due: None,
        })
        .await
        .unwrap();
    let t = sim.control.get("Task", &task).unwrap();
    assert_eq!(t.text("WhoId").as_deref(), Some(done.contact_id.as_str()));
    assert_eq!(t.text("WhatId"), done.opportunity_id);
}

fn create_by(key_field: &str, records: Vec<(&str, leadbridge_core::Fields)>) -> WriteBatch {
    WriteBatch {
        object: "Lead".into(),
        key_field: Some(key_field.into()),
        records: records
            .into_iter()
            .map(|(key, fields)| WriteRecord {
                id: None,
                key: Some(key.into()),
                fields,
            })
            .collect(),
    }
}

/// Duplicate rules (R2.2: "Allow + Alert: the API returns the error and
/// the record is not saved"; collections answer `DUPLICATES_DETECTED`
/// "with no match ids"; "A simulator should emit `duplicateResut` and
/// clients should read both"): a create an alert rule refuses becomes an
/// update of the record it matched (found by sending that record alone),
/// by plain key and by upsert key alike; a Block rule stays rejected,
/// naming the rule; with `duplicate_rule_allow_save` the alert-matched
/// record is created instead.
#[tokio::test]
async fn alert_duplicates_update_the_match_and_blocks_are_rejected_by_name() {
    let (sim, org) = sim().await;
    let c = connector(&sim);
    let mut f = lead("Ann", "Lee", "Acme", "ann@acme.example");
    f.insert("Leadbridge_Id__c".into(), json!("lb-ann"));
    let ann = insert(&sim, "Lead", f);
    insert(&sim, "Lead", lead("Bo", "Ng", "Beta", "bo@beta.example"));
    org.set_duplicate_rules(vec![
        Rule::on_lead("Lead_Email_Alert", Matching::Email, Action::AllowAlert),
        Rule::on_lead("Lead_Name_Block", Matching::CompanyAndName, Action::Block),
    ]);
    let titled = |first: &str, last: &str, company: &str, title: &str| {
        let mut f = fields(&[
            ("FirstName", json!(first)),
            ("LastName", json!(last)),
            ("Company", json!(company)),
        ]);
        f.insert("Title".into(), json!(title));
        f
    };
    sim.control.requests().reset();
    let out = c
        .write(&create_by(
            "Email",
            vec![
                ("ann@acme.example", titled("Ann", "Lee", "Acme Ltd", "CTO")),
                ("new@gamma.example", titled("Di", "Oz", "Gamma", "CEO")),
                ("bo2@beta.example", titled("Bo", "Ng", "Beta", "CFO")),
            ],
        ))
        .await
        .unwrap();
    assert_eq!(out[0], WriteOutcome::Updated { id: ann.clone() });
    assert!(
        matches!(&out[1], WriteOutcome::Created { .. }),
        "{:?}",
        out[1]
    );
    let WriteOutcome::Rejected { message, code, .. } = &out[2] else {
        panic!("{:?}", out[2])
    };
    assert_eq!(code.as_deref(), Some("DUPLICATES_DETECTED"));
    assert!(message.contains("Lead_Name_Block"), "{message}");
    let a = sim.control.get("Lead", &ann).unwrap();
    assert_eq!(
        (a.text("Title").as_deref(), a.text("Company").as_deref()),
        (Some("CTO"), Some("Acme Ltd"))
    );
    assert_eq!(sim.control.count("Lead"), 3, "one created, no duplicate");
    assert_eq!(
        sim.control.requests().counts().get("POST /composite"),
        Some(&3),
        "the batch, the refused records alone, the matches' update: {:?}",
        sim.control.requests().counts()
    );

    // By upsert key: the match is updated, its own External ID kept.
    let out = c
        .write(&create_by(
            "Leadbridge_Id__c",
            vec![("lb-new", {
                let mut f = titled("Ann", "Lee", "Acme", "VP");
                f.insert("Email".into(), json!("ann@acme.example"));
                f
            })],
        ))
        .await
        .unwrap();
    assert_eq!(out[0], WriteOutcome::Updated { id: ann.clone() });
    let a = sim.control.get("Lead", &ann).unwrap();
    assert_eq!(
        (
            a.text("Title").as_deref(),
            a.text("Leadbridge_Id__c").as_deref()
        ),
        (Some("VP"), Some("lb-ann"))
    );

    // allowSave=true from the config: the alert lets the create through.
    let mut config = common::config(&sim);
    config.duplicate_rule_allow_save = true;
    let c = SalesforceConnector::new(config, None).unwrap();
    let out = c
        .write(&create_by(
            "Email",
            vec![
                (
                    "ann@acme.example",
                    titled("Ann", "Lee", "Acme Twin", "Twin"),
                ),
                ("bo3@beta.example", titled("Bo", "Ng", "Beta", "Twin")),
            ],
        ))
        .await
        .unwrap();
    let WriteOutcome::Created { id } = &out[0] else {
        panic!("{:?}", out[0])
    };
    assert_ne!(id, &ann);
    assert!(
        matches!(&out[1], WriteOutcome::Rejected { message, .. } if message.contains("Lead_Name_Block"))
    );
}

fn fault(fault: RecordFault, count: Option<u64>, rate: Option<f64>) -> RecordFaultSpec {
    RecordFaultSpec {
        fault,
        object: Some("Lead".into()),
        count,
        rate,
    }
}

fn composite_calls(sim: &leadbridge_core::sim::RunningSimulator) -> u64 {
    sim.control
        .requests()
        .counts()
        .get("POST /composite")
        .copied()
        .unwrap_or(0)
}

/// Transient per-record errors (R2.3: "Retry these (transient)" —
/// `UNABLE_TO_LOCK_ROW`, wrapped in `CANNOT_EXECUTE_FLOW_TRIGGER` or
/// `CANNOT_INSERT_UPDATE_ACTIVATE_ENTITY`, the Apex CPU time limit
/// "Retry with a smaller batch"; "Permanent (do not retry)" for the rest):
/// injected lock, flow, trigger and CPU-limit faults on a 600-record
/// upsert converge with every record written and none rejected; a
/// permanent trigger error is rejected at once; a lock that never clears
/// is rejected with its message after the retry policy's attempts.
#[tokio::test]
async fn transient_record_errors_converge_and_permanent_ones_do_not_retry() {
    let (sim, org) = sim().await;
    let c = connector(&sim);
    org.add_record_fault(fault(
        RecordFault::TriggerCpuLimit { over_records: 100 },
        Some(1),
        None,
    ));
    org.add_record_fault(fault(RecordFault::UnableToLockRow, Some(150), Some(0.5)));
    org.add_record_fault(fault(RecordFault::FlowLockRow, Some(30), None));
    org.add_record_fault(fault(RecordFault::TriggerLockRow, Some(30), None));
    let records: Vec<(String, leadbridge_core::Fields)> = (0..600)
        .map(|i| {
            (
                format!("lb-{i}"),
                lead("T", &format!("N{i}"), "C", &format!("t{i}@c.example")),
            )
        })
        .collect();
    let batch = create_by(
        "Leadbridge_Id__c",
        records
            .iter()
            .map(|(k, f)| (k.as_str(), f.clone()))
            .collect(),
    );
    let out = c.write(&batch).await.unwrap();
    let rejected: Vec<_> = out
        .iter()
        .filter(|o| !matches!(o, WriteOutcome::Created { .. }))
        .collect();
    assert!(
        rejected.is_empty(),
        "{} not created: {:?}",
        rejected.len(),
        rejected.first()
    );
    assert_eq!(sim.control.count("Lead"), 600);
    let calls = composite_calls(&sim);
    assert!(
        (2..=6).contains(&calls),
        "retried in smaller collections: {calls} calls"
    );

    // Permanent: rejected at once, no second call.
    org.add_record_fault(fault(
        RecordFault::TriggerError {
            message: "System.NullPointerException: Attempt to de-reference a null object".into(),
        },
        Some(1),
        None,
    ));
    sim.control.requests().reset();
    let out = c
        .write(&create_by(
            "Leadbridge_Id__c",
            vec![("lb-p", lead("P", "Q", "C", "p@c.example"))],
        ))
        .await
        .unwrap();
    assert!(
        matches!(&out[0], WriteOutcome::Rejected { code: Some(c), .. } if c == "CANNOT_INSERT_UPDATE_ACTIVATE_ENTITY"),
        "{out:?}"
    );
    assert_eq!(composite_calls(&sim), 1);

    // A lock that never clears: bounded, then rejected with the last message.
    org.add_record_fault(fault(RecordFault::UnableToLockRow, None, None));
    sim.control.requests().reset();
    let out = c
        .write(&create_by(
            "Leadbridge_Id__c",
            vec![("lb-q", lead("P", "Q", "C", "q@c.example"))],
        ))
        .await
        .unwrap();
    let WriteOutcome::Rejected { code, message, .. } = &out[0] else {
        panic!("{out:?}")
    };
    assert_eq!(code.as_deref(), Some("UNABLE_TO_LOCK_ROW"));
    assert!(
        message.contains("unable to obtain exclusive access"),
        "{message}"
    );
    assert_eq!(composite_calls(&sim), 5, "the retry policy's five attempts");
}

/// Deletes and merges (R2.3: "`GET /queryAll?q=` … return rows with
/// `IsDeleted=true`, both deleted and merged"; "The losing records are
/// deleted with `MasterRecordId` = winner id"; "A sync tool should map a
/// missing id to its `MasterRecordId` before treating it as a true
/// delete"): a change pass with deleted records flags them archived and
/// names a merge's winner as the loser's successor; a write to a deleted
/// record answers `Deleted`, to a merged-away one `Superseded` by the
/// winner.
#[tokio::test]
async fn deleted_and_merged_records_are_told_apart() {
    let (sim, org) = sim().await;
    let c = connector(&sim);
    let a = insert(&sim, "Lead", lead("A", "One", "C", "a@c.example"));
    let b = insert(&sim, "Lead", lead("B", "Two", "C", "b@c.example"));
    let gone = insert(&sim, "Lead", lead("C", "Three", "C", "c@c.example"));
    let opp = insert(
        &sim,
        "Opportunity",
        fields(&[
            ("Name", json!("O")),
            ("StageName", json!("Prospecting")),
            ("CloseDate", json!("2026-04-01")),
        ]),
    );
    sim.control.delete("Lead", &a).unwrap();
    sim.control.delete("Opportunity", &opp).unwrap();
    org.merge(&MergeRequest {
        object: "Lead".into(),
        master_id: b.clone(),
        merge_ids: vec![gone.clone()],
        ..MergeRequest::default()
    })
    .unwrap();

    let records = pass(&c, &changes_request("Lead", &["Email"], true)).await;
    let get = |id: &str| records.iter().find(|r| r.id == id).unwrap().clone();
    assert!(get(&a).archived && get(&a).successor.is_none());
    let loser = get(&gone);
    assert!(loser.archived);
    assert_eq!(
        loser.successor,
        Some(Successor {
            object: "Lead".into(),
            id: b.clone(),
            reason: SuccessorReason::Merged
        })
    );
    assert!(!get(&b).archived && get(&b).successor.is_none());
    let live = pass(&c, &changes_request("Lead", &["Email"], false)).await;
    assert_eq!(
        live.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(),
        [b.as_str()]
    );

    let title = fields(&[("Title", json!("T"))]);
    let by_id = |object: &str, ids: &[&str]| WriteBatch {
        object: object.into(),
        key_field: None,
        records: ids
            .iter()
            .map(|id| WriteRecord {
                id: Some((*id).into()),
                key: None,
                fields: title.clone(),
            })
            .collect(),
    };
    let out = c.write(&by_id("Lead", &[&a, &gone, &b])).await.unwrap();
    assert!(
        matches!(&out[0], WriteOutcome::Deleted { message } if message.contains("entity is deleted")),
        "{:?}",
        out[0]
    );
    assert_eq!(
        out[1],
        WriteOutcome::Superseded {
            successor: Successor {
                object: "Lead".into(),
                id: b.clone(),
                reason: SuccessorReason::Merged
            }
        }
    );
    assert_eq!(out[2], WriteOutcome::Updated { id: b.clone() });
    let out = c.write(&by_id("Opportunity", &[&opp])).await.unwrap();
    assert!(matches!(&out[0], WriteOutcome::Deleted { .. }), "{out:?}");
}

/// Whole-second stamps (§2 "Timestamps"; a real org stamps
/// `SystemModstamp` in whole seconds): 5,000 records on one second come
/// once each in one pass; while that second is still running the pass
/// does not commit past it, so an older record updated later in the same
/// second (its id sorts before the cursor's) is read by the next pass; once
/// the second is over, the next pass starts after the tie and reads
/// nothing again.
#[tokio::test]
async fn thousands_of_records_on_one_second_are_read_once_and_none_is_lost() {
    let (sim, _org) = sim().await;
    let c = connector(&sim);
    let clock = sim.control.clock();
    let old = insert(&sim, "Lead", lead("Old", "Lead", "C", "old@c.example"));
    clock.advance(Duration::from_secs(30));
    clock.freeze_at(clock.now());
    let ids = sim
        .control
        .seed(&leadbridge_core::sim::SeedSpec {
            object: "Lead".into(),
            count: 5_000,
            seed: 5,
            first_index: 0,
        })
        .unwrap();
    let mut request = changes_request("Lead", &["Email"], false);
    request.overlap = Duration::from_secs(5);
    request.since = Some(sim.control.get("Lead", &old).unwrap().cursor());
    let tie = sim.control.get("Lead", &ids[0]).unwrap().modified_at;
    assert!(ids
        .iter()
        .all(|id| sim.control.get("Lead", id).unwrap().modified_at == tie));

    sim.control.requests().reset();
    let (records, checkpoint) = pass_with_checkpoint(&c, &request).await;
    let mut seen: Vec<&str> = records.iter().map(|r| r.id.as_str()).collect();
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), 5_000, "each record once");
    assert_eq!(records.len(), 5_000);
    assert!(
        !seen.contains(&old.as_str()),
        "the cursor's own record is not read again"
    );
    assert_eq!(
        sim.control.requests().total(),
        3,
        "5,000 records in three query batches"
    );
    assert!(
        checkpoint < leadbridge_core::Cursor::before(tie),
        "the running second is not committed past"
    );

    // Still within that second: an update of the old record, whose id
    // sorts before every seeded one.
    sim.control
        .update("Lead", &old, fields(&[("Title", json!("CEO"))]))
        .unwrap();
    assert_eq!(sim.control.get("Lead", &old).unwrap().modified_at, tie);
    clock.advance(Duration::from_secs(3));
    request.since = Some(checkpoint);
    let (again, checkpoint) = pass_with_checkpoint(&c, &request).await;
    let updated = again
        .iter()
        .find(|r| r.id == old)
        .expect("the late update in the tie is read");
    assert_eq!(updated.fields.get("Email"), Some(&json!("old@c.example")));
    assert_eq!(
        checkpoint.modified_at, tie,
        "the second is over: committed through the tie"
    );

    // Quiet: the next pass reads only the overlap before the tie, not the tie.
    clock.advance(Duration::from_secs(60));
    request.since = Some(checkpoint);
    sim.control.requests().reset();
    let (quiet, _) = pass_with_checkpoint(&c, &request).await;
    assert!(quiet.is_empty(), "{} records read again", quiet.len());
    assert_eq!(sim.control.requests().total(), 1);
}

/// Every record of a change pass and its last checkpoint.
async fn pass_with_checkpoint(
    c: &dyn Connector,
    request: &ChangesRequest,
) -> (Vec<Record>, leadbridge_core::Cursor) {
    let mut out = Vec::new();
    let mut token = None;
    let mut checkpoint = None;
    loop {
        let page = c.changes(request, token.as_ref()).await.unwrap();
        out.extend(page.records);
        if page.checkpoint.is_some() {
            checkpoint = page.checkpoint;
        }
        match page.next {
            Some(next) => token = Some(next),
            None => return (out, checkpoint.expect("a checkpoint")),
        }
    }
}

fn task_for(object: &str, id: &str, i: usize) -> Activity {
    Activity {
        kind: if i % 2 == 0 {
            ActivityKind::Task
        } else {
            ActivityKind::Note
        },
        parent_object: object.into(),
        parent_id: id.into(),
        subject: format!("Follow up {i}"),
        body: "from marketing".into(),
        owner: None,
        due: Some("2026-03-05T12:00:00Z".parse().unwrap()),
    }
}

/// Batched activities (and R2.1's "Create new Tasks with `WhoId =
/// ConvertedContactId` and `WhatId` = the Opportunity or Account"): 450
/// tasks go as three sObject Collections in one Composite call, one outcome
/// each in input order; those on a converted lead are created on its
/// contact (one query, one more collection); a task Salesforce refuses
/// is rejected alone; a few tasks are one direct collection call.
#[tokio::test]
async fn activities_go_as_collections_and_follow_converted_leads() {
    let (sim, org) = sim().await;
    let c = connector(&sim);
    let leads: Vec<String> = (0..3)
        .map(|i| {
            insert(
                &sim,
                "Lead",
                lead("L", &format!("N{i}"), "C", &format!("l{i}@c.example")),
            )
        })
        .collect();
    let done = org
        .convert_lead(&LeadConvert {
            lead_id: leads[2].clone(),
            ..LeadConvert::default()
        })
        .unwrap();
    let mut activities: Vec<Activity> = (0..450)
        .map(|i| task_for("Lead", &leads[i % 3], i))
        .collect();
    activities[7].owner = Some("005Dn000000NOPEAAA".into());
    sim.control.requests().reset();
    let out = c.create_activities(&activities).await.unwrap();
    assert_eq!(out.len(), 450);
    let counts = sim.control.requests().counts();
    assert_eq!(counts.get("POST /composite"), Some(&1), "{counts:?}");
    assert_eq!(
        counts.get("GET /query"),
        Some(&1),
        "where the converted lead went: {counts:?}"
    );
    assert_eq!(
        counts.get("POST /composite/sobjects"),
        Some(&1),
        "the redirected tasks: {counts:?}"
    );
    for (i, outcome) in out.iter().enumerate() {
        if i == 7 {
            assert!(
                matches!(outcome, ActivityOutcome::Rejected { .. }),
                "{outcome:?}"
            );
            continue;
        }
        let ActivityOutcome::Created { id } = outcome else {
            panic!("{i}: {outcome:?}")
        };
        let task = sim.control.get("Task", id).unwrap();
        assert_eq!(
            task.text("Subject"),
            Some(format!("Follow up {i}")),
            "input order"
        );
        let (who, what) = if i % 3 == 2 {
            (done.contact_id.clone(), done.opportunity_id.clone())
        } else {
            (leads[i % 3].clone(), None)
        };
        assert_eq!(
            (task.text("WhoId"), task.text("WhatId")),
            (Some(who), what),
            "{i}"
        );
        let status = if i % 2 == 0 {
            "Not Started"
        } else {
            "Completed"
        };
        assert_eq!(task.text("Status").as_deref(), Some(status));
    }
    assert_eq!(sim.control.count("Task"), 449);

    sim.control.requests().reset();
    let out = c
        .create_activities(&[
            task_for("Contact", &done.contact_id, 0),
            task_for("Lead", &leads[0], 1),
        ])
        .await
        .unwrap();
    assert!(
        out.iter()
            .all(|o| matches!(o, ActivityOutcome::Created { .. })),
        "{out:?}"
    );
    assert_eq!(
        sim.control.requests().total(),
        1,
        "{:?}",
        sim.control.requests().counts()
    );
    assert!(c.create_activities(&[]).await.unwrap().is_empty());
}
