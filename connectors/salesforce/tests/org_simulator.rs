//! The simulator where round 2 made it as strict as Salesforce (the facts
//! R2.1–R2.3 of `SEMANTICS.md`), seen over HTTP as any client sees it.
#![cfg(feature = "simulator")]

mod common;

use common::{fields, insert, lead, sim, Api};
use leadbridge_salesforce::simulator::org::MergeRequest;
use leadbridge_salesforce::simulator::record_faults::{RecordFault, RecordFaultSpec};
use leadbridge_salesforce::simulator::store::duplicates::{Action, Matching, Rule};
use leadbridge_salesforce::simulator::store::lifecycle::LeadConvert;
use reqwest::StatusCode;
use serde_json::{json, Value};

fn field<'a>(describe: &'a Value, name: &str) -> &'a Value {
    describe["fields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == name)
        .unwrap_or_else(|| panic!("no field {name}"))
}

/// The standard objects describe as a fresh org's do (Salesforce's object
/// reference: Lead, Contact, Account, Opportunity, Task, User), with real
/// types, lengths, precision, picklist values and flags; a custom field
/// added as in Setup is described, checked and upserted by like one.
#[tokio::test]
async fn describe_answers_standard_and_added_custom_fields() {
    let (sim, _org) = sim().await;
    let api = Api::new(&sim);
    let (status, d) = api.get("/sobjects/Lead/describe").await;
    assert_eq!(status, StatusCode::OK);
    for (name, kind, length) in [
        ("Salutation", "picklist", 40),
        ("MiddleName", "string", 40),
        ("Suffix", "string", 40),
        ("Company", "string", 255),
        ("Email", "email", 80),
        ("MobilePhone", "phone", 40),
        ("Website", "url", 255),
        ("Street", "textarea", 255),
        ("PostalCode", "string", 20),
        ("Description", "textarea", 32000),
        ("OwnerId", "reference", 18),
    ] {
        let f = field(&d, name);
        assert_eq!(
            (f["type"].as_str(), f["length"].as_u64()),
            (Some(kind), Some(length)),
            "{name}"
        );
    }
    let revenue = field(&d, "AnnualRevenue");
    assert_eq!(
        (
            revenue["type"].as_str(),
            revenue["precision"].as_u64(),
            revenue["scale"].as_u64()
        ),
        (Some("currency"), Some(18), Some(0))
    );
    assert_eq!(field(&d, "NumberOfEmployees")["digits"], 8);
    let converted = field(&d, "IsConverted");
    assert_eq!(
        (
            converted["createable"].as_bool(),
            converted["updateable"].as_bool(),
            converted["defaultedOnCreate"].as_bool()
        ),
        (Some(false), Some(false), Some(true))
    );
    assert_eq!(field(&d, "ConvertedDate")["type"], "date");
    assert_eq!(field(&d, "HasOptedOutOfEmail")["nillable"], false);
    assert_eq!(field(&d, "DoNotCall")["type"], "boolean");
    let status_field = field(&d, "Status");
    assert_eq!(
        status_field["picklistValues"][0]["value"],
        "Open - Not Contacted"
    );
    assert_eq!(status_field["picklistValues"][0]["defaultValue"], true);
    let industries = field(&d, "Industry")["picklistValues"]
        .as_array()
        .unwrap()
        .len();
    assert!(industries > 30, "{industries}");
    let ext = field(&d, "Leadbridge_Id__c");
    assert_eq!(
        (
            ext["externalId"].as_bool(),
            ext["unique"].as_bool(),
            ext["custom"].as_bool()
        ),
        (Some(true), Some(true), Some(true))
    );
    assert_eq!(field(&d, "MasterRecordId")["referenceTo"], json!(["Lead"]));

    let (_, contact) = api.get("/sobjects/Contact/describe").await;
    assert_eq!(field(&contact, "MailingCity")["length"], 40);
    assert_eq!(field(&contact, "Birthdate")["type"], "date");
    let (_, opp) = api.get("/sobjects/Opportunity/describe").await;
    assert_eq!(field(&opp, "Probability")["type"], "percent");
    assert_eq!(field(&opp, "ExpectedRevenue")["createable"], false);
    let (_, task) = api.get("/sobjects/Task/describe").await;
    assert_eq!(field(&task, "Subject")["type"], "combobox");
    assert_eq!(field(&task, "TaskSubtype")["updateable"], false);
    let (_, user) = api.get("/sobjects/User/describe").await;
    assert_eq!(field(&user, "Username")["unique"], true);
    assert_eq!(field(&user, "Alias")["length"], 8);

    // A number past its precision is refused as Salesforce refuses it.
    let mut too_big = lead("A", "B", "C", "a@b.example");
    too_big.insert("NumberOfEmployees".into(), json!(123_456_789));
    let (status, body) = api.post("/sobjects/Lead", &Value::Object(too_big)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body[0]["errorCode"], "NUMBER_OUTSIDE_VALID_RANGE");

    // Custom fields through the control surface, as an admin adds them.
    let add = |body: Value| {
        let http = api.http.clone();
        let url = format!("{}/__sim/salesforce/fields/Lead", api.base);
        async move { http.post(url).json(&body).send().await.unwrap().status() }
    };
    assert_eq!(
        add(json!({"name": "Tier", "type": "string"})).await,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        add(json!({"name": "Tier__c", "type": "picklist", "picklist_values": ["Gold", "Silver"]}))
            .await,
        StatusCode::OK
    );
    assert_eq!(
        add(json!({"name": "Partner_Key__c", "type": "string", "length": 40, "external_id": true}))
            .await,
        StatusCode::OK
    );
    assert_eq!(
        add(json!({"name": "Tier__c", "type": "string"})).await,
        StatusCode::BAD_REQUEST
    );
    let (_, d) = api.get("/sobjects/Lead/describe").await;
    let tier = field(&d, "Tier__c");
    assert_eq!(
        (
            tier["type"].as_str(),
            tier["custom"].as_bool(),
            tier["restrictedPicklist"].as_bool()
        ),
        (Some("picklist"), Some(true), Some(true))
    );
    let key = field(&d, "Partner_Key__c");
    assert_eq!(
        (
            key["length"].as_u64(),
            key["externalId"].as_bool(),
            key["unique"].as_bool()
        ),
        (Some(40), Some(true), Some(true))
    );

    let mut bronze = lead("A", "B", "C", "a@b.example");
    bronze.insert("Tier__c".into(), json!("Bronze"));
    let (status, body) = api.post("/sobjects/Lead", &Value::Object(bronze)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        body[0]["errorCode"],
        "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"
    );
    // An existing record saves with the new field, and the new key upserts.
    let id = insert(&sim, "Lead", lead("Old", "Lead", "C", "old@b.example"));
    let (status, _) = api
        .patch(&format!("/sobjects/Lead/{id}"), &json!({"Tier__c": "gold"}))
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(
        sim.control
            .get("Lead", &id)
            .unwrap()
            .text("Tier__c")
            .as_deref(),
        Some("Gold")
    );
    let (status, created) = api
        .patch(
            "/sobjects/Lead/Partner_Key__c/pk-1",
            &Value::Object(lead("P", "K", "C", "pk@b.example")),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let rows = api
        .query(
            "SELECT Id, Tier__c, Partner_Key__c FROM Lead WHERE Partner_Key__c = 'pk-1'",
            false,
        )
        .await;
    assert_eq!(rows.len(), 1);
}

/// Freezes the simulator's clock at a whole second and returns it.
fn freeze(sim: &leadbridge_core::sim::RunningSimulator, at: &str) -> jiff::Timestamp {
    let t: jiff::Timestamp = at.parse().unwrap();
    sim.control.clock().freeze_at(t);
    t
}

fn advance(sim: &leadbridge_core::sim::RunningSimulator, secs: u64) {
    sim.control
        .clock()
        .advance(std::time::Duration::from_secs(secs));
}

/// R2.1, conversion side effects: "All open and closed activities move to
/// the new Contact/Account (and Opportunity). Their `WhoId`/`WhatId`
/// change, and their `LastModifiedDate` is bumped." "The Lead itself is
/// updated: `Status` becomes a `LeadStatus` with `IsConverted=true`."
/// "`ConvertedDate` (type `date`, no time part)." "The CDC change event for
/// the Lead carries `Status`, `IsConverted`, `ConvertedDate` and the three
/// `Converted*Id` fields, but not `LastModifiedDate`." "SOQL on `Lead`
/// still returns converted leads."
#[tokio::test]
async fn lead_convert_makes_account_contact_opportunity_and_moves_tasks() {
    let (sim, org) = sim().await;
    let api = Api::new(&sim);
    freeze(&sim, "2026-03-02T09:00:00.500Z");
    let mut f = lead("Ann", "Lee", "Acme", "ann@acme.example");
    f.insert("Phone".into(), json!("+1 555 0100"));
    f.insert("City".into(), json!("Lyon"));
    let lead_id = insert(&sim, "Lead", f);
    let open = insert(
        &sim,
        "Task",
        fields(&[("WhoId", json!(lead_id)), ("Subject", json!("Call"))]),
    );
    let done = insert(
        &sim,
        "Task",
        fields(&[
            ("WhoId", json!(lead_id)),
            ("Subject", json!("Email")),
            ("Status", json!("Completed")),
        ]),
    );
    advance(&sim, 5);
    let (_, before) = api.get(&format!("/sobjects/Lead/{lead_id}")).await;
    assert_eq!(
        before["SystemModstamp"], "2026-03-02T09:00:00.000+0000",
        "whole seconds"
    );

    let converted = org
        .convert_lead(&LeadConvert {
            lead_id: lead_id.clone(),
            ..LeadConvert::default()
        })
        .unwrap();
    let opportunity = converted
        .opportunity_id
        .clone()
        .expect("an opportunity by default");
    let (_, l) = api.get(&format!("/sobjects/Lead/{lead_id}")).await;
    assert_eq!(l["IsConverted"], true);
    assert_eq!(l["Status"], "Closed - Converted");
    assert_eq!(l["ConvertedDate"], "2026-03-02");
    assert_eq!(l["ConvertedContactId"], json!(converted.contact_id));
    assert_eq!(l["ConvertedAccountId"], json!(converted.account_id));
    assert_eq!(l["ConvertedOpportunityId"], json!(opportunity));
    assert_eq!(
        l["SystemModstamp"], "2026-03-02T09:00:05.000+0000",
        "the stamp moves"
    );
    assert_eq!(
        l["LastModifiedDate"], before["LastModifiedDate"],
        "LastModifiedDate does not"
    );
    let (_, c) = api
        .get(&format!("/sobjects/Contact/{}", converted.contact_id))
        .await;
    assert_eq!(
        (
            c["FirstName"].as_str(),
            c["Email"].as_str(),
            c["MailingCity"].as_str()
        ),
        (Some("Ann"), Some("ann@acme.example"), Some("Lyon"))
    );
    assert_eq!(c["AccountId"], json!(converted.account_id));
    let (_, a) = api
        .get(&format!("/sobjects/Account/{}", converted.account_id))
        .await;
    assert_eq!(
        (a["Name"].as_str(), a["Phone"].as_str()),
        (Some("Acme"), Some("+1 555 0100"))
    );
    let (_, o) = api
        .get(&format!("/sobjects/Opportunity/{opportunity}"))
        .await;
    assert_eq!(
        (o["Name"].as_str(), o["StageName"].as_str()),
        (Some("Acme-"), Some("Prospecting"))
    );
    for task in [&open, &done] {
        let (_, t) = api.get(&format!("/sobjects/Task/{task}")).await;
        assert_eq!(t["WhoId"], json!(converted.contact_id), "{task}");
        assert_eq!(t["WhatId"], json!(opportunity));
        assert_eq!(t["AccountId"], json!(converted.account_id));
        assert_eq!(t["LastModifiedDate"], "2026-03-02T09:00:05.000+0000");
        assert_eq!(t["SystemModstamp"], "2026-03-02T09:00:05.000+0000");
    }
    let rows = api
        .query("SELECT Id FROM Lead WHERE IsConverted = false", false)
        .await;
    assert!(rows.is_empty());
    assert_eq!(
        api.query("SELECT Id, IsConverted FROM Lead", false)
            .await
            .len(),
        1
    );
    assert!(
        org.convert_lead(&LeadConvert {
            lead_id: lead_id.clone(),
            ..LeadConvert::default()
        })
        .is_err(),
        "once"
    );

    // Without an opportunity, onto an existing account.
    let second = insert(&sim, "Lead", lead("Bo", "Ng", "Acme", "bo@acme.example"));
    let c2 = org
        .convert_lead(&LeadConvert {
            lead_id: second.clone(),
            account_id: Some(converted.account_id.clone()),
            do_not_create_opportunity: true,
            ..LeadConvert::default()
        })
        .unwrap();
    assert_eq!(
        (c2.account_id.as_str(), c2.opportunity_id.as_deref()),
        (converted.account_id.as_str(), None)
    );
    let (_, l2) = api.get(&format!("/sobjects/Lead/{second}")).await;
    assert_eq!(l2["ConvertedOpportunityId"], Value::Null);
}

/// R2.1, refusals: "The response is HTTP 400
/// `[{"message":"cannot reference converted lead","errorCode":"CANNOT_UPDATE_CONVERTED_LEAD","fields":[]}]`.
/// Inside collections and SOAP the same error appears as `statusCode`."
/// "Tasks/Events with `WhoId` = a converted lead: creating or logging
/// activity against a converted lead fails with
/// `CANNOT_UPDATE_CONVERTED_LEAD`" (modelled as the same 400 array).
/// "Writing any `Converted*` field on update fails with
/// `INVALID_FIELD_FOR_INSERT_UPDATE`." "Users with the 'View and Edit
/// Converted Leads' permission can edit converted leads … A simulator
/// should make this a per-user switch."
#[tokio::test]
async fn converted_leads_refuse_updates_and_tasks_unless_the_user_may_edit_them() {
    let (sim, org) = sim().await;
    let api = Api::new(&sim);
    let mut f = lead("Ann", "Lee", "Acme", "ann@acme.example");
    f.insert("Leadbridge_Id__c".into(), json!("lb-1"));
    let lead_id = insert(&sim, "Lead", f);
    let live = insert(&sim, "Lead", lead("Cy", "Do", "Beta", "cy@beta.example"));
    let (status, body) = api
        .patch(
            &format!("/sobjects/Lead/{live}"),
            &json!({"ConvertedOpportunityId": null}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body[0]["errorCode"], "INVALID_FIELD_FOR_INSERT_UPDATE");
    assert!(
        body[0]["message"]
            .as_str()
            .unwrap()
            .starts_with("Unable to update fields: ConvertedOpportunityId."),
        "{body}"
    );
    org.convert_lead(&LeadConvert {
        lead_id: lead_id.clone(),
        ..LeadConvert::default()
    })
    .unwrap();

    let refused = json!([{
        "message": "cannot reference converted lead",
        "errorCode": "CANNOT_UPDATE_CONVERTED_LEAD",
        "fields": [],
    }]);
    let (status, body) = api
        .patch(
            &format!("/sobjects/Lead/{lead_id}"),
            &json!({"Title": "CTO"}),
        )
        .await;
    assert_eq!((status, &body), (StatusCode::BAD_REQUEST, &refused));
    let (status, body) = api
        .patch(
            "/sobjects/Lead/Leadbridge_Id__c/lb-1",
            &json!({"Title": "CTO"}),
        )
        .await;
    assert_eq!(
        (status, &body),
        (StatusCode::BAD_REQUEST, &refused),
        "an upsert that updates"
    );
    let (status, body) = api
        .send(api.http.patch(api.url("/composite/sobjects")).json(&json!({
            "records": [
                {"attributes": {"type": "Lead"}, "id": lead_id, "Title": "CTO"},
                {"attributes": {"type": "Lead"}, "id": live, "Title": "CFO"},
            ]
        })))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body[0],
        json!({"success": false, "errors": [{"statusCode": "CANNOT_UPDATE_CONVERTED_LEAD", "message": "cannot reference converted lead", "fields": []}]})
    );
    assert_eq!(body[1]["success"], true);
    let (status, body) = api
        .post(
            "/sobjects/Task",
            &json!({"WhoId": lead_id, "Subject": "Call"}),
        )
        .await;
    assert_eq!(
        (status, &body),
        (StatusCode::BAD_REQUEST, &refused),
        "no task on a converted lead"
    );
    assert_eq!(
        sim.control.get("Lead", &lead_id).unwrap().text("Title"),
        None
    );

    // The permission lets the API user's updates through (tasks still not).
    org.set_view_and_edit_converted_leads(&org.api_user(), true);
    let (status, _) = api
        .patch(
            &format!("/sobjects/Lead/{lead_id}"),
            &json!({"Title": "CTO"}),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(
        sim.control
            .get("Lead", &lead_id)
            .unwrap()
            .text("Title")
            .as_deref(),
        Some("CTO")
    );
    let (status, _) = api
        .post(
            "/sobjects/Task",
            &json!({"WhoId": lead_id, "Subject": "Call"}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    // The permission is per user: another user's grant changes nothing.
    org.set_view_and_edit_converted_leads(&org.api_user(), false);
    let other = sim.control.find("User", "Alias", "sseller")[0].id.clone();
    org.set_view_and_edit_converted_leads(&other, true);
    let (status, _) = api
        .patch(
            &format!("/sobjects/Lead/{lead_id}"),
            &json!({"Title": "CEO"}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

fn rules() -> Vec<Rule> {
    vec![
        Rule::on_lead("Lead_Email_Alert", Matching::Email, Action::AllowAlert),
        Rule::on_lead("Lead_Name_Block", Matching::CompanyAndName, Action::Block),
    ]
}

/// R2.2, single saves: "Block rule: error, record not saved. Allow +
/// Alert: the API returns the error and the record is not saved. Resend the
/// request with `allowSave=true` to save it. Allow without Alert (Report
/// only): the record is saved and no error is returned." "Single-record
/// error (POST or PATCH `/sobjects/...`): HTTP 400 with a JSON array …
/// spell the key `duplicateResut` … The matching record is identified by
/// `matchResults[].matchRecords[].record.Id`." "`includeRecordDetails`:
/// return the matched records' fields instead of only their `Id`." The
/// header exists from "API 52.0+"; "every field defaults to false"; "it
/// applies to create, update and upsert".
#[tokio::test]
async fn duplicate_rules_refuse_single_saves_as_salesforce_does() {
    let (sim, org) = sim().await;
    let api = Api::new(&sim);
    let ann = insert(&sim, "Lead", lead("Ann", "Lee", "Acme", "ann@acme.example"));
    let bo = insert(&sim, "Lead", lead("Bo", "Ng", "Beta", "bo@beta.example"));
    org.set_duplicate_rules(rules());
    let again = json!({"LastName": "Lee2", "Company": "Other", "Email": "ANN@acme.example"});
    let (status, body) = api.post("/sobjects/Lead", &again).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body[0]["errorCode"], "DUPLICATES_DETECTED");
    assert_eq!(body[0]["message"], "Use one of these records?");
    let result = &body[0]["duplicateResut"];
    assert_eq!(result["allowSave"], true);
    assert_eq!(result["duplicateRule"], "Lead_Email_Alert");
    assert_eq!(result["duplicateRuleEntityType"], "Lead");
    let record = &result["matchResults"][0]["matchRecords"][0]["record"];
    assert_eq!(record["Id"], json!(ann));
    assert_eq!(record["attributes"]["type"], "Lead");
    assert_eq!(
        record.as_object().unwrap().len(),
        2,
        "only attributes and Id: {record}"
    );
    assert_eq!(sim.control.count("Lead"), 2, "not saved");

    let header = |v: &str| ("Sforce-Duplicate-Rule-Header", v.to_owned());
    let (name, value) = header("includeRecordDetails=true");
    let (_, body) = api
        .send(
            api.http
                .post(api.url("/sobjects/Lead"))
                .header(name, value)
                .json(&again),
        )
        .await;
    let record = &body[0]["duplicateResut"]["matchResults"][0]["matchRecords"][0]["record"];
    assert_eq!(record["Email"], "ann@acme.example", "details: {record}");
    // Before API 52.0 the header does not exist: allowSave is not heard.
    let old = Api {
        version: "51.0",
        ..Api::new(&sim)
    };
    let (name, value) = header("allowSave=true");
    let (status, _) = old
        .send(
            old.http
                .post(old.url("/sobjects/Lead"))
                .header(name, value.clone())
                .json(&again),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, created) = api
        .send(
            api.http
                .post(api.url("/sobjects/Lead"))
                .header(name, value.clone())
                .json(&again),
        )
        .await;
    assert_eq!(
        status,
        StatusCode::CREATED,
        "allowSave saves past an alert: {created}"
    );

    // A Block rule refuses whatever the header says; updates are checked too.
    let clash = json!({"FirstName": "bo", "LastName": "NG", "Company": "beta", "Email": "other@beta.example"});
    let (status, body) = api
        .send(
            api.http
                .post(api.url("/sobjects/Lead"))
                .header(name, value.clone())
                .json(&clash),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body[0]["duplicateResut"]["allowSave"], false);
    assert_eq!(
        body[0]["duplicateResut"]["duplicateRule"],
        "Lead_Name_Block"
    );
    assert_eq!(
        body[0]["duplicateResut"]["matchResults"][0]["matchRecords"][0]["record"]["Id"],
        json!(bo)
    );
    let (status, body) = api
        .patch(
            &format!("/sobjects/Lead/{bo}"),
            &json!({"Email": "ann@acme.example"}),
        )
        .await;
    assert_eq!(
        (status, body[0]["errorCode"].as_str()),
        (StatusCode::BAD_REQUEST, Some("DUPLICATES_DETECTED"))
    );
    let (status, body) = api
        .patch(
            "/sobjects/Lead/Leadbridge_Id__c/new-1",
            &json!({"LastName": "X", "Company": "Y", "Email": "bo@beta.example"}),
        )
        .await;
    assert_eq!(
        (status, body[0]["errorCode"].as_str()),
        (StatusCode::BAD_REQUEST, Some("DUPLICATES_DETECTED")),
        "upsert"
    );

    // Report only: saved, nothing said.
    org.set_duplicate_rules(vec![Rule::on_lead(
        "Lead_Email_Report",
        Matching::Email,
        Action::Report,
    )]);
    let (status, _) = api.post("/sobjects/Lead", &again).await;
    assert_eq!(status, StatusCode::CREATED);
}

/// R2.2, collections: "the HTTP status is 200 and each failing item is
/// `{"success":false,"errors":[{"statusCode":"DUPLICATES_DETECTED","message":"Use one of these records?","fields":[]}]}`
/// … the docs example shows none [no match ids]." "With `allOrNone=true`,
/// the other items get `ALL_OR_NONE_OPERATION_ROLLED_BACK`." The header
/// also reaches a Composite subrequest through its `httpHeaders`.
#[tokio::test]
async fn duplicate_rules_in_collections_answer_without_match_ids() {
    let (sim, org) = sim().await;
    let api = Api::new(&sim);
    insert(&sim, "Lead", lead("Ann", "Lee", "Acme", "ann@acme.example"));
    org.set_duplicate_rules(rules());
    let records = json!([
        {"attributes": {"type": "Lead"}, "LastName": "Dup", "Company": "C", "Email": "ann@acme.example"},
        {"attributes": {"type": "Lead"}, "LastName": "New", "Company": "C", "Email": "new@c.example"},
    ]);
    let (status, body) = api
        .post(
            "/composite/sobjects",
            &json!({"allOrNone": false, "records": records}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body[0],
        json!({"success": false, "errors": [{"statusCode": "DUPLICATES_DETECTED", "message": "Use one of these records?", "fields": []}]})
    );
    assert_eq!(body[1]["success"], true);
    assert_eq!(sim.control.count("Lead"), 2);
    let mut records = records.clone();
    records[1]["Email"] = json!("newer@c.example");
    let (_, body) = api
        .post(
            "/composite/sobjects",
            &json!({"allOrNone": true, "records": records}),
        )
        .await;
    assert_eq!(body[0]["errors"][0]["statusCode"], "DUPLICATES_DETECTED");
    assert_eq!(
        body[1]["errors"][0]["statusCode"],
        "ALL_OR_NONE_OPERATION_ROLLED_BACK"
    );
    assert_eq!(sim.control.count("Lead"), 2, "rolled back");

    let (_, body) = api
        .post(
            "/composite",
            &json!({"compositeRequest": [{
                "method": "POST",
                "url": "/services/data/v62.0/composite/sobjects",
                "referenceId": "dups",
                "httpHeaders": {"Sforce-Duplicate-Rule-Header": "allowSave=true"},
                "body": {"records": [records[0].clone()]},
            }]}),
        )
        .await;
    assert_eq!(
        body["compositeResponse"][0]["body"][0]["success"], true,
        "{body}"
    );
    assert_eq!(sim.control.count("Lead"), 3);
}

/// R2.3, transient errors: "`UNABLE_TO_LOCK_ROW` ('unable to obtain
/// exclusive access to this record' or '... or N records')"; "It also
/// arrives wrapped, for example as `CANNOT_EXECUTE_FLOW_TRIGGER` with '...
/// UNABLE_TO_LOCK_ROW ...' in the message"; "`CANNOT_INSERT_UPDATE_ACTIVATE_ENTITY`
/// … e.g. `Task_Trigger: System.LimitException: Apex CPU time limit
/// exceeded` … Retry with a smaller batch; a 200-record save shares one
/// transaction's limits." Injected per record (by count or rate) through
/// the control surface; a refused record is not saved.
#[tokio::test]
async fn injected_record_faults_refuse_records_as_a_busy_org_does() {
    let (sim, org) = sim().await;
    let api = Api::new(&sim);
    let ids: Vec<String> = (0..3)
        .map(|i| {
            insert(
                &sim,
                "Lead",
                lead("L", &format!("N{i}"), "C", &format!("l{i}@c.example")),
            )
        })
        .collect();
    // Over HTTP, as any client would set it.
    let r = api
        .http
        .post(format!("{}/__sim/salesforce/record-faults", api.base))
        .json(&json!({"kind": "unable_to_lock_row", "object": "Lead", "count": 2}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let updates: Vec<Value> = ids
        .iter()
        .map(|id| json!({"attributes": {"type": "Lead"}, "id": id, "Title": "T"}))
        .collect();
    let (_, body) = api
        .send(
            api.http
                .patch(api.url("/composite/sobjects"))
                .json(&json!({"records": updates})),
        )
        .await;
    assert_eq!(body[0]["errors"][0]["statusCode"], "UNABLE_TO_LOCK_ROW");
    assert!(body[0]["errors"][0]["message"]
        .as_str()
        .unwrap()
        .starts_with("unable to obtain exclusive access to this record"));
    assert_eq!(body[1]["errors"][0]["statusCode"], "UNABLE_TO_LOCK_ROW");
    assert_eq!(body[2]["success"], true, "the count ran out");
    assert_eq!(
        sim.control.get("Lead", &ids[0]).unwrap().text("Title"),
        None,
        "not saved"
    );

    // The CPU limit fails a whole save over its size; smaller ones pass.
    org.add_record_fault(RecordFaultSpec {
        fault: RecordFault::TriggerCpuLimit { over_records: 2 },
        object: None,
        count: None,
        rate: None,
    });
    let creates = |n: usize| {
        let records: Vec<Value> = (0..n)
            .map(|i| json!({"attributes": {"type": "Lead"}, "LastName": format!("X{i}"), "Company": "C"}))
            .collect();
        json!({"records": records})
    };
    let (_, body) = api.post("/composite/sobjects", &creates(3)).await;
    for r in body.as_array().unwrap() {
        assert_eq!(
            r["errors"][0]["statusCode"],
            "CANNOT_INSERT_UPDATE_ACTIVATE_ENTITY"
        );
        assert_eq!(
            r["errors"][0]["message"],
            "Lead_Trigger: System.LimitException: Apex CPU time limit exceeded"
        );
    }
    let (_, body) = api.post("/composite/sobjects", &creates(2)).await;
    assert!(
        body.as_array()
            .unwrap()
            .iter()
            .all(|r| r["success"] == true),
        "{body}"
    );
    org.clear_record_faults();

    // A flow's lock on a single save: 400 with the cause in the message.
    org.add_record_fault(RecordFaultSpec {
        fault: RecordFault::FlowLockRow,
        object: Some("Lead".into()),
        count: Some(1),
        rate: None,
    });
    let (status, body) = api
        .patch(
            &format!("/sobjects/Lead/{}", ids[1]),
            &json!({"Title": "T"}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body[0]["errorCode"], "CANNOT_EXECUTE_FLOW_TRIGGER");
    assert!(body[0]["message"]
        .as_str()
        .unwrap()
        .contains("UNABLE_TO_LOCK_ROW"));
    org.add_record_fault(RecordFaultSpec {
        fault: RecordFault::TriggerLockRow,
        object: None,
        count: None,
        rate: Some(0.5),
    });
    let (_, body) = api.post("/composite/sobjects", &creates(200)).await;
    let failed = body
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["success"] == false)
        .count();
    assert!((50..150).contains(&failed), "about half: {failed}");
    let wrapped = body
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["success"] == false)
        .unwrap();
    assert_eq!(
        wrapped["errors"][0]["statusCode"],
        "CANNOT_INSERT_UPDATE_ACTIVATE_ENTITY"
    );
    assert!(wrapped["errors"][0]["message"]
        .as_str()
        .unwrap()
        .contains("UNABLE_TO_LOCK_ROW"));
}

/// R2.3, deleted records and merges: "`DELETE /sobjects/{type}/{id}` moves
/// the record to the Recycle Bin (`IsDeleted=true`). A second DELETE, or a
/// PATCH, on that id returns `[{"message":"entity is deleted","errorCode":"ENTITY_IS_DELETED","fields":[]}]`
/// … HTTP 404." "`GET /queryAll?q=` … return rows with `IsDeleted=true`,
/// both deleted and merged. Plain `/query` never does." "[merge()]
/// combines up to 3 records of one type … The losing records are deleted
/// with `MasterRecordId` = winner id and `IsDeleted=true` … The losers also
/// appear in getDeleted. Child records are re-parented to the winner … The
/// winner gets one update, so its SystemModstamp moves." getDeleted: "It
/// covers at most the last 15 days"; "`start` must precede `end` (by more
/// than one minute in current docs), otherwise `INVALID_REPLICATION_DATE`."
#[tokio::test]
async fn deletes_merges_and_get_deleted_behave_as_salesforce() {
    let (sim, org) = sim().await;
    let api = Api::new(&sim);
    freeze(&sim, "2026-03-10T08:00:00Z");
    let a = insert(&sim, "Lead", lead("A", "One", "C", "a@c.example"));
    let b = insert(&sim, "Lead", lead("B", "Two", "C", "b@c.example"));
    let c = insert(&sim, "Lead", lead("C", "Three", "C", "c@c.example"));
    let task = insert(
        &sim,
        "Task",
        fields(&[("WhoId", json!(c)), ("Subject", json!("Call"))]),
    );
    advance(&sim, 60);

    let (status, _) = api.delete(&format!("/sobjects/Lead/{a}")).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let deleted =
        json!([{"message": "entity is deleted", "errorCode": "ENTITY_IS_DELETED", "fields": []}]);
    let (status, body) = api.delete(&format!("/sobjects/Lead/{a}")).await;
    assert_eq!((status, &body), (StatusCode::NOT_FOUND, &deleted));
    let (status, body) = api
        .patch(&format!("/sobjects/Lead/{a}"), &json!({"Title": "T"}))
        .await;
    assert_eq!((status, &body), (StatusCode::NOT_FOUND, &deleted));

    // Merge over HTTP: B wins, C loses.
    advance(&sim, 60);
    let r = api
        .http
        .post(format!("{}/__sim/salesforce/merge", api.base))
        .json(&json!({"object": "Lead", "master_id": b, "merge_ids": [c], "fields": {"Title": "From C"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let merged: Value = r.json().await.unwrap();
    assert_eq!(merged["merged_record_ids"], json!([c]));
    assert_eq!(merged["updated_related_ids"], json!([task]));
    let (_, winner) = api.get(&format!("/sobjects/Lead/{b}")).await;
    assert_eq!(
        winner["SystemModstamp"], "2026-03-10T08:02:00.000+0000",
        "the winner's stamp moves"
    );
    assert_eq!(winner["Title"], "From C");
    let (_, t) = api.get(&format!("/sobjects/Task/{task}")).await;
    assert_eq!(t["WhoId"], json!(b), "children follow the winner");
    let (status, body) = api
        .patch(&format!("/sobjects/Lead/{c}"), &json!({"Title": "T"}))
        .await;
    assert_eq!((status, &body), (StatusCode::NOT_FOUND, &deleted));

    let live: Vec<Value> = api.query("SELECT Id FROM Lead", false).await;
    assert_eq!(live.len(), 1);
    let all = api
        .query(
            "SELECT Id, IsDeleted, MasterRecordId FROM Lead ORDER BY SystemModstamp",
            true,
        )
        .await;
    assert_eq!(all.len(), 3);
    let merged_away = api
        .query(
            "SELECT Id, IsDeleted, MasterRecordId FROM Lead WHERE IsDeleted = true AND MasterRecordId != null AND SystemModstamp > 2026-03-10T08:01:30Z",
            true,
        )
        .await;
    assert_eq!(merged_away.len(), 1);
    assert_eq!(
        (
            merged_away[0]["Id"].as_str(),
            merged_away[0]["MasterRecordId"].as_str()
        ),
        (Some(c.as_str()), Some(b.as_str()))
    );
    let d = all.iter().find(|r| r["Id"] == json!(a)).unwrap();
    assert_eq!(
        (d["IsDeleted"].as_bool(), &d["MasterRecordId"]),
        (Some(true), &Value::Null)
    );

    advance(&sim, 600);
    let window =
        |start: &str, end: &str| format!("/sobjects/Lead/deleted/?start={start}&end={end}");
    let (status, got) = api
        .get(&window("2026-03-10T07:00:00Z", "2026-03-10T09:00:00Z"))
        .await;
    assert_eq!(status, StatusCode::OK);
    let ids: Vec<&str> = got["deletedRecords"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [a.as_str(), c.as_str()]);
    assert_eq!(
        got["deletedRecords"][0]["deletedDate"],
        "2026-03-10T08:01:00.000+0000"
    );
    assert_eq!(got["earliestDateAvailable"], "2026-02-23T00:00:00.000+0000");
    assert_eq!(got["latestDateCovered"], "2026-03-10T08:12:00.000+0000");
    for (start, end) in [
        ("2026-03-10T08:00:00Z", "2026-03-10T08:00:30Z"),
        ("2026-03-10T09:00:00Z", "2026-03-10T08:00:00Z"),
        ("2026-02-20T00:00:00Z", "2026-03-10T08:00:00Z"),
    ] {
        let (status, body) = api.get(&window(start, end)).await;
        assert_eq!(
            (status, body[0]["errorCode"].as_str()),
            (StatusCode::BAD_REQUEST, Some("INVALID_REPLICATION_DATE")),
            "{start} {end}"
        );
    }

    // Undelete: live again; merges take three records at most, of mergeable objects.
    org.undelete("Lead", &a).unwrap();
    assert_eq!(api.query("SELECT Id FROM Lead", false).await.len(), 2);
    assert!(org.undelete("Lead", &a).is_err(), "not in the recycle bin");
    let more: Vec<String> = (0..3)
        .map(|i| {
            insert(
                &sim,
                "Lead",
                lead("M", &format!("{i}"), "C", &format!("m{i}@c.example")),
            )
        })
        .collect();
    let too_many = org.merge(&MergeRequest {
        object: "Lead".into(),
        master_id: a.clone(),
        merge_ids: more.clone(),
        ..MergeRequest::default()
    });
    assert!(too_many.is_err());
    let opp = insert(
        &sim,
        "Opportunity",
        fields(&[
            ("Name", json!("O")),
            ("StageName", json!("Prospecting")),
            ("CloseDate", json!("2026-04-01")),
        ]),
    );
    let opp2 = insert(
        &sim,
        "Opportunity",
        fields(&[
            ("Name", json!("P")),
            ("StageName", json!("Prospecting")),
            ("CloseDate", json!("2026-04-01")),
        ]),
    );
    assert!(org
        .merge(&MergeRequest {
            object: "Opportunity".into(),
            master_id: opp,
            merge_ids: vec![opp2],
            ..MergeRequest::default()
        })
        .is_err());
}

/// Timestamps: a real org stamps `SystemModstamp`, `LastModifiedDate` and
/// `CreatedDate` in whole seconds (`2013-05-20T20:49:32.000+0000`, §2
/// "Timestamps"), so records written within one second share a stamp,
/// ordered by id.
#[tokio::test]
async fn stamps_are_whole_seconds() {
    let (sim, _org) = sim().await;
    let api = Api::new(&sim);
    freeze(&sim, "2026-03-02T09:00:07.750Z");
    let (status, created) = api
        .post("/sobjects/Lead", &json!({"LastName": "S", "Company": "C"}))
        .await;
    assert_eq!(status, StatusCode::CREATED);
    sim.control
        .clock()
        .advance(std::time::Duration::from_millis(200));
    let id = created["id"].as_str().unwrap();
    let (_, rec) = api.get(&format!("/sobjects/Lead/{id}")).await;
    for field in ["CreatedDate", "LastModifiedDate", "SystemModstamp"] {
        assert_eq!(rec[field], "2026-03-02T09:00:07.000+0000", "{field}");
    }
    let other = insert(&sim, "Lead", lead("T", "U", "C", "t@u.example"));
    let rows = api
        .query("SELECT Id, SystemModstamp FROM Lead WHERE SystemModstamp = 2026-03-02T09:00:07Z ORDER BY SystemModstamp, Id", false)
        .await;
    let ids: Vec<&str> = rows.iter().map(|r| r["Id"].as_str().unwrap()).collect();
    assert_eq!(ids, [id, other.as_str()], "one second, ordered by id");
}
