//! The simulator where round 2 made it as strict as Salesforce (the facts
//! R2.1–R2.3 of `SEMANTICS.md`), seen over HTTP as any client sees it.
#![cfg(feature = "simulator")]

mod common;

use common::{insert, lead, sim, Api};
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
