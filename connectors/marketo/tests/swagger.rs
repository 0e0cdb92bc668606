//! The simulator's answers validated against Marketo's official Swagger
//! (`tests/swagger/`, see its NOTICE.md): for every path the connector
//! uses, the body is checked against the 200 schema the Swagger declares
//! for that operation, with its `$ref`s resolved.
//!
//! Where the Swagger and Marketo's documented responses disagree, the
//! documented responses win and the Swagger is corrected here, as an
//! overlay (never in the files):
//!
//! 1. every `ResponseOf…` envelope lists `errors`, `warnings` and `result`
//!    as required, but the docs' examples of successful calls carry no
//!    `errors` or `warnings` (Leads, Activities pages) and failed calls no
//!    `result` (error-codes page): only `requestId` and `success` stay
//!    required;
//! 2. `Attribute.value` is typed `object`, but activities carry strings,
//!    numbers and booleans there (Activities page: `"value": 775`);
//! 3. `CustomActivity` requires the whole input shape, but Add Custom
//!    Activities answers `{id, marketoGUID, status}` per record (Activities
//!    page).
#![cfg(feature = "simulator")]

use jsonschema::Validator;
use leadbridge_core::sim::{SimulatorOptions, TokenSettings};
use leadbridge_marketo::simulator::{self, NOTE_ACTIVITY_TYPE_ID, NOTE_BODY_ATTRIBUTE};
use leadbridge_marketo::testing::{token_settings, STATIC_TOKEN};
use serde_json::{json, Value};

const MAPI: &str = include_str!("swagger/swagger-mapi.json");
const IDENTITY: &str = include_str!("swagger/swagger-identity.json");

/// The Swagger with the documented corrections applied.
fn spec(text: &str) -> Value {
    let mut spec: Value = serde_json::from_str(text).expect("the Swagger file is JSON");
    let defs = spec["definitions"]
        .as_object_mut()
        .expect("the Swagger has definitions");
    for (name, def) in defs.iter_mut() {
        let envelope = def.pointer("/properties/success").is_some()
            && def.pointer("/properties/requestId").is_some();
        if (name.starts_with("ResponseOf") || name == "ResponseWithoutResult") && envelope {
            if let Some(required) = def.get_mut("required").and_then(Value::as_array_mut) {
                required.retain(|r| r == "requestId" || r == "success");
            }
        }
    }
    if let Some(value) = defs
        .get_mut("Attribute")
        .and_then(|a| a.pointer_mut("/properties/value"))
        .and_then(Value::as_object_mut)
    {
        value.remove("type");
    }
    if let Some(custom) = defs
        .get_mut("CustomActivity")
        .and_then(Value::as_object_mut)
    {
        custom.remove("required");
    }
    spec
}

/// A validator for the 200 answer of `method path` as the Swagger declares it.
fn validator(spec: &Value, path: &str, method: &str) -> Validator {
    let reference = spec["paths"][path][method]["responses"]["200"]["schema"]["$ref"]
        .as_str()
        .unwrap_or_else(|| panic!("the Swagger declares a 200 schema for {method} {path}"));
    let schema = json!({
        "definitions": spec["definitions"],
        "allOf": [{"$ref": reference}],
    });
    jsonschema::draft4::new(&schema).expect("the Swagger's schema compiles")
}

fn assert_valid(spec: &Value, path: &str, method: &str, body: &Value) {
    let v = validator(spec, path, method);
    let errors: Vec<String> = v
        .iter_errors(body)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "{method} {path} answered a body the Swagger refuses: {errors:?}\n{body}"
    );
}

struct Client {
    http: reqwest::Client,
    base: String,
}

impl Client {
    async fn get(&self, path_and_query: &str) -> Value {
        self.http
            .get(format!("{}{path_and_query}", self.base))
            .bearer_auth(STATIC_TOKEN)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    async fn post(&self, path_and_query: &str, body: &Value) -> Value {
        self.http
            .post(format!("{}{path_and_query}", self.base))
            .bearer_auth(STATIC_TOKEN)
            .json(body)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }
}

fn ok(body: &Value) -> &Value {
    assert_eq!(body["success"], json!(true), "{body}");
    body
}

#[test]
fn the_validator_refuses_what_the_swagger_refuses() {
    // So a passing validation below means something: a body of the wrong
    // shape fails against the same schemas.
    let mapi = spec(MAPI);
    let v = validator(&mapi, "/rest/v1/leads.json", "get");
    assert!(!v.is_valid(&json!({"requestId": "a", "success": "yes"})));
    assert!(
        !v.is_valid(&json!({"success": true})),
        "requestId is required"
    );
    assert!(!v.is_valid(&json!({"requestId": "a", "success": true, "result": [{"status": 3}]})));
    assert!(v.is_valid(&json!({"requestId": "a", "success": true, "result": [{"id": 1}]})));
    let identity = spec(IDENTITY);
    let v = validator(&identity, "/identity/oauth/token", "get");
    assert!(!v.is_valid(
        &json!({"access_token": "t", "token_type": "mac", "expires_in": 1, "scope": "s"})
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn simulator_answers_match_the_official_swagger() {
    let mapi = spec(MAPI);
    let identity_spec = spec(IDENTITY);
    let tokens: TokenSettings = token_settings();
    let sim = simulator::start(SimulatorOptions {
        tokens: tokens.clone(),
        rate_limits: false,
        ..SimulatorOptions::default()
    })
    .await
    .unwrap();
    let c = Client {
        http: reqwest::Client::new(),
        base: sim.url(),
    };

    // Identity.
    let token: Value = c
        .http
        .get(format!(
            "{}/identity/oauth/token?grant_type=client_credentials&client_id={}&client_secret={}",
            c.base, tokens.client_id, tokens.client_secret
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_valid(&identity_spec, "/identity/oauth/token", "get", &token);

    // Sync Leads: created, skipped (1001), then updated.
    let sync = json!({
        "action": "createOrUpdate",
        "lookupField": "email",
        "input": [
            {"email": "ada@x.example", "firstName": "Ada", "lastName": "Lovelace", "leadScore": 40},
            {"email": "bob@x.example", "firstName": "Bob", "numberOfEmployees": "lots"},
            {"email": "cy@x.example", "firstName": "Cy", "title": "CTO"},
        ],
    });
    let created = c.post("/rest/v1/leads.json", &sync).await;
    assert_valid(&mapi, "/rest/v1/leads.json", "post", ok(&created));
    assert_eq!(created["result"][1]["status"], "skipped");
    let updated = c.post("/rest/v1/leads.json", &sync).await;
    assert_eq!(updated["result"][0]["status"], "updated");
    assert_valid(&mapi, "/rest/v1/leads.json", "post", ok(&updated));
    let ada = created["result"][0]["id"].as_u64().unwrap();
    let cy = created["result"][2]["id"].as_u64().unwrap();

    // Reads.
    let found = c
        .get("/rest/v1/leads.json?filterType=email&filterValues=ada@x.example,nobody@x.example&fields=email,firstName,leadScore,updatedAt")
        .await;
    assert_valid(&mapi, "/rest/v1/leads.json", "get", ok(&found));
    assert_eq!(found["result"].as_array().unwrap().len(), 1);
    let one = c.get(&format!("/rest/v1/lead/{ada}.json")).await;
    assert_valid(&mapi, "/rest/v1/lead/{leadId}.json", "get", ok(&one));
    let describe = c.get("/rest/v1/leads/describe.json").await;
    assert_valid(&mapi, "/rest/v1/leads/describe.json", "get", ok(&describe));
    let describe2 = c.get("/rest/v1/leads/describe2.json").await;
    assert_valid(
        &mapi,
        "/rest/v1/leads/describe2.json",
        "get",
        ok(&describe2),
    );

    // Changes, a merge, a deletion, a custom activity.
    let since = c
        .get("/rest/v1/activities/pagingtoken.json?sinceDatetime=2000-01-01T00:00:00Z")
        .await;
    assert_valid(
        &mapi,
        "/rest/v1/activities/pagingtoken.json",
        "get",
        ok(&since),
    );
    let token = since["nextPageToken"].as_str().unwrap().to_owned();
    let mut change = serde_json::Map::new();
    change.insert("title".into(), json!("VP"));
    sim.control
        .update("leads", &ada.to_string(), change)
        .unwrap();
    let merged = c
        .post(
            &format!("/rest/v1/leads/{ada}/merge.json?leadId={cy}"),
            &json!({}),
        )
        .await;
    assert_valid(
        &mapi,
        "/rest/v1/leads/{leadId}/merge.json",
        "post",
        ok(&merged),
    );
    let extra = sim
        .control
        .insert(
            "leads",
            vec![json!({"email": "dee@x.example"})
                .as_object()
                .cloned()
                .unwrap()],
        )
        .unwrap();
    sim.control.delete("leads", &extra[0]).unwrap();
    let note = c
        .post(
            "/rest/v1/activities/external.json",
            &json!({"input": [
                {"leadId": ada, "activityDate": "2026-01-01T00:00:00Z", "activityTypeId": NOTE_ACTIVITY_TYPE_ID,
                 "primaryAttributeValue": "Call back", "attributes": [{"apiName": NOTE_BODY_ATTRIBUTE, "value": "Asked for pricing"}]},
                {"leadId": 999999, "activityDate": "2026-01-01T00:00:00Z", "activityTypeId": NOTE_ACTIVITY_TYPE_ID,
                 "primaryAttributeValue": "x", "attributes": []},
            ]}),
        )
        .await;
    assert_valid(
        &mapi,
        "/rest/v1/activities/external.json",
        "post",
        ok(&note),
    );
    assert_eq!(note["result"][0]["status"], "added");
    assert_eq!(note["result"][1]["status"], "skipped");

    let enc = |t: &str| url::form_urlencoded::byte_serialize(t.as_bytes()).collect::<String>();
    let activities = c
        .get(&format!(
            "/rest/v1/activities.json?nextPageToken={}&activityTypeIds=12,13,32,{NOTE_ACTIVITY_TYPE_ID}",
            enc(&token)
        ))
        .await;
    assert_valid(&mapi, "/rest/v1/activities.json", "get", ok(&activities));
    let types: Vec<i64> = activities["result"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|a| a["activityTypeId"].as_i64())
        .collect();
    for t in [12, 13, 32, NOTE_ACTIVITY_TYPE_ID] {
        assert!(types.contains(&t), "activity type {t} in {types:?}");
    }
    let changes = c
        .get(&format!(
            "/rest/v1/activities/leadchanges.json?nextPageToken={}&fields=title,email",
            enc(&token)
        ))
        .await;
    assert_valid(
        &mapi,
        "/rest/v1/activities/leadchanges.json",
        "get",
        ok(&changes),
    );
    let deleted = c
        .get(&format!(
            "/rest/v1/activities/deletedleads.json?nextPageToken={}",
            enc(&token)
        ))
        .await;
    assert_valid(
        &mapi,
        "/rest/v1/activities/deletedleads.json",
        "get",
        ok(&deleted),
    );
    assert_eq!(deleted["result"].as_array().unwrap().len(), 1);
    let types = c.get("/rest/v1/activities/types.json").await;
    assert_valid(&mapi, "/rest/v1/activities/types.json", "get", ok(&types));
    let custom = c.get("/rest/v1/activities/external/types.json").await;
    assert_valid(
        &mapi,
        "/rest/v1/activities/external/types.json",
        "get",
        ok(&custom),
    );

    // A response-level error has the same envelope.
    let refused: Value = c
        .http
        .get(format!(
            "{}/rest/v1/leads.json?filterType=email&filterValues=a@x.example",
            c.base
        ))
        .bearer_auth("not-a-token")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(refused["success"], json!(false));
    assert_eq!(refused["errors"][0]["code"], "601");
    assert_valid(&mapi, "/rest/v1/leads.json", "get", &refused);
}
