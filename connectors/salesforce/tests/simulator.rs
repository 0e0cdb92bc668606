//! The simulator over HTTP, as any client sees it, and the connector
//! against it beyond what the shared conformance suite covers.
#![cfg(feature = "simulator")]

use std::time::Duration;

use leadbridge_core::auth::AuthConfig;
use leadbridge_core::http::HttpSettings;
use leadbridge_core::sim::{RunningSimulator, SeedSpec, SimulatorOptions, TokenSettings};
use leadbridge_core::{Activity, ActivityKind, Connector, WriteBatch, WriteOutcome, WriteRecord};
use leadbridge_salesforce::testing::{INITIAL_REFRESH_TOKEN, STATIC_TOKEN};
use leadbridge_salesforce::{SalesforceConfig, SalesforceConnector};
use reqwest::StatusCode;
use secrecy::SecretString;
use serde_json::{json, Value};

async fn sim() -> RunningSimulator {
    leadbridge_salesforce::simulator::start(SimulatorOptions {
        tokens: TokenSettings {
            static_tokens: vec![STATIC_TOKEN.into()],
            initial_refresh_token: Some(INITIAL_REFRESH_TOKEN.into()),
            ..TokenSettings::default()
        },
        rate_limits: false,
        ..SimulatorOptions::default()
    })
    .await
    .unwrap()
}

fn connector(sim: &RunningSimulator) -> SalesforceConnector {
    let mut config = SalesforceConfig::new(
        sim.url(),
        AuthConfig::StaticToken {
            token: SecretString::from(STATIC_TOKEN),
        },
    );
    config.http = HttpSettings::default();
    SalesforceConnector::new(config, None).unwrap()
}

struct Api {
    http: reqwest::Client,
    base: String,
}

impl Api {
    fn new(sim: &RunningSimulator) -> Self {
        Self {
            http: reqwest::Client::new(),
            base: sim.url(),
        }
    }
    fn url(&self, path: &str) -> String {
        format!("{}/services/data/v62.0{path}", self.base)
    }
    async fn send(
        &self,
        req: reqwest::RequestBuilder,
    ) -> (StatusCode, reqwest::header::HeaderMap, Value) {
        let r = req.bearer_auth(STATIC_TOKEN).send().await.unwrap();
        let status = r.status();
        let headers = r.headers().clone();
        let text = r.text().await.unwrap();
        (
            status,
            headers,
            serde_json::from_str(&text).unwrap_or(Value::Null),
        )
    }
    async fn get(&self, path: &str) -> (StatusCode, reqwest::header::HeaderMap, Value) {
        self.send(self.http.get(self.url(path))).await
    }
    async fn query(&self, soql: &str, batch: Option<usize>) -> (StatusCode, Value) {
        let mut req = self.http.get(self.url("/query")).query(&[("q", soql)]);
        if let Some(n) = batch {
            req = req.header("Sforce-Query-Options", format!("batchSize={n}"));
        }
        let (s, _, v) = self.send(req).await;
        (s, v)
    }
}

#[tokio::test]
async fn query_pages_follow_next_records_url_with_the_batch_size_asked_for() {
    let sim = sim().await;
    sim.control
        .seed(&SeedSpec {
            object: "Lead".into(),
            count: 450,
            seed: 3,
            first_index: 0,
        })
        .unwrap();
    let api = Api::new(&sim);
    let (status, first) = api
        .query(
            "SELECT Id, Email FROM Lead ORDER BY SystemModstamp, Id",
            Some(200),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(first["totalSize"], 450);
    assert_eq!(first["done"], false);
    assert_eq!(first["records"].as_array().unwrap().len(), 200);
    assert_eq!(first["records"][0]["attributes"]["type"], "Lead");
    let next = first["nextRecordsUrl"].as_str().unwrap().to_owned();
    assert!(
        next.starts_with("/services/data/v62.0/query/01g") && next.ends_with("-200"),
        "{next}"
    );
    let mut ids: Vec<String> = Vec::new();
    let mut page = first;
    loop {
        ids.extend(
            page["records"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r["Id"].as_str().unwrap().to_owned()),
        );
        let Some(next) = page["nextRecordsUrl"].as_str() else {
            break;
        };
        let req = api
            .http
            .get(format!("{}{next}", api.base))
            .header("Sforce-Query-Options", "batchSize=200");
        page = api.send(req).await.2;
    }
    assert_eq!(ids.len(), 450);
    let mut sorted = ids.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted.len(), 450, "each record once");

    let (status, _, body) = api.get("/query/01gNOPE-200").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body[0]["errorCode"], "INVALID_QUERY_LOCATOR");
    let (status, body) = api.query("SELECT Id FROM Lead WHERE", None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body[0]["errorCode"], "MALFORMED_QUERY");
    let (status, body) = api.query("SELECT COUNT() FROM Lead", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["totalSize"], 450);
}

#[tokio::test]
async fn collections_answer_200_with_per_record_errors_and_refuse_over_200() {
    let sim = sim().await;
    let api = Api::new(&sim);
    let records = json!({ "allOrNone": false, "records": [
        { "attributes": {"type": "Lead"}, "LastName": "Ok", "Company": "C", "Leadbridge_Id__c": "k1" },
        { "attributes": {"type": "Lead"}, "FirstName": "NoLast" },
        { "attributes": {"type": "Lead"}, "LastName": "B", "Company": "C", "Email": "not-an-email" },
        { "attributes": {"type": "Lead"}, "LastName": "B", "Company": "C", "Leadbridge_Id__c": "K1" },
        { "attributes": {"type": "Lead"}, "LastName": "B", "Company": "C", "Status": "Bogus" },
    ]});
    let (status, _, body) = api
        .send(api.http.post(api.url("/composite/sobjects")).json(&records))
        .await;
    assert_eq!(status, StatusCode::OK);
    let codes: Vec<Value> = body
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["errors"][0]["statusCode"].clone())
        .collect();
    assert_eq!(body[0]["success"], true);
    assert_eq!(
        codes[1..],
        [
            json!("REQUIRED_FIELD_MISSING"),
            json!("INVALID_EMAIL_ADDRESS"),
            json!("DUPLICATE_VALUE"),
            json!("INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST")
        ]
    );
    assert_eq!(sim.control.count("Lead"), 1);

    let mut all_or_none = records.clone();
    all_or_none["allOrNone"] = json!(true);
    all_or_none["records"][0]["Leadbridge_Id__c"] = json!("k2");
    let (_, _, body) = api
        .send(
            api.http
                .post(api.url("/composite/sobjects"))
                .json(&all_or_none),
        )
        .await;
    assert_eq!(
        body[0]["errors"][0]["statusCode"],
        "ALL_OR_NONE_OPERATION_ROLLED_BACK"
    );
    assert_eq!(sim.control.count("Lead"), 1, "nothing written");

    let many: Vec<Value> = (0..201).map(|i| json!({"attributes": {"type": "Lead"}, "LastName": format!("L{i}"), "Company": "C"})).collect();
    let (status, _, body) = api
        .send(
            api.http
                .post(api.url("/composite/sobjects"))
                .json(&json!({"records": many})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body[0]["errorCode"], "EXCEEDED_ID_LIMIT");
}

#[tokio::test]
async fn upsert_by_external_id_answers_201_then_200() {
    let sim = sim().await;
    let api = Api::new(&sim);
    let body = json!({"LastName": "Ext", "Company": "C"});
    let (status, _, created) = api
        .send(
            api.http
                .patch(api.url("/sobjects/Lead/Leadbridge_Id__c/a%40b.example"))
                .json(&body),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(created["created"], true);
    let (status, _, updated) = api
        .send(
            api.http
                .patch(api.url("/sobjects/Lead/Leadbridge_Id__c/a@b.example"))
                .json(&body),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(updated["created"], false);
    assert_eq!(updated["id"], created["id"]);
    let (status, _, rec) = api.get("/sobjects/Lead/Leadbridge_Id__c/a@b.example").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(rec["Leadbridge_Id__c"], "a@b.example");
    assert!(rec["SystemModstamp"].as_str().unwrap().ends_with("+0000"));
    let (status, _, _) = api
        .send(
            api.http
                .patch(api.url("/sobjects/Lead/Email/x"))
                .json(&body),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "Email is no External ID");
}

#[tokio::test]
async fn sessions_limits_and_headers_behave_like_salesforce() {
    let sim = sim().await;
    let api = Api::new(&sim);
    let r = api.http.get(api.url("/limits")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body[0]["errorCode"], "INVALID_SESSION_ID");
    let (status, headers, limits) = api.get("/limits").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers["sforce-limit-info"], "api-usage=1/100000");
    assert_eq!(limits["DailyApiRequests"]["Max"], 100000);
    sim.control.set_daily_limit(Some(1));
    let (status, _, body) = api.get("/limits").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(body[0]["errorCode"], "REQUEST_LIMIT_EXCEEDED");
    let versions: Value = api
        .http
        .get(format!("{}/services/data/", api.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(versions
        .as_array()
        .unwrap()
        .iter()
        .any(|v| v["version"] == "62.0"));
}

#[tokio::test]
async fn oauth_token_responses_carry_no_expires_in_and_codes_need_pkce() {
    let sim = sim().await;
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let token_url = format!("{}/services/oauth2/token", sim.url());
    let form = [
        ("grant_type", "refresh_token"),
        ("client_id", "sim-client"),
        ("client_secret", "sim-secret"),
        ("refresh_token", INITIAL_REFRESH_TOKEN),
    ];
    let body: Value = http
        .post(&token_url)
        .form(&form)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(body.get("expires_in").is_none());
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["instance_url"], sim.url());
    assert!(
        body["refresh_token"].is_string(),
        "rotation issues a new one"
    );
    let r = http.post(&token_url).form(&form).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let err: Value = r.json().await.unwrap();
    assert_eq!(err["error"], "invalid_grant");

    let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    let challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
    let r = http
        .get(format!("{}/services/oauth2/authorize", sim.url()))
        .query(&[
            ("response_type", "code"),
            ("client_id", "sim-client"),
            ("redirect_uri", "http://127.0.0.1:9/cb"),
            ("state", "s1"),
            ("code_challenge", challenge),
            ("code_challenge_method", "S256"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FOUND);
    let location = url::Url::parse(r.headers()["location"].to_str().unwrap()).unwrap();
    let q: std::collections::HashMap<_, _> = location.query_pairs().into_owned().collect();
    assert_eq!(q["state"], "s1");
    let body: Value = http
        .post(&token_url)
        .form(&[
            ("grant_type", "authorization_code"),
            ("client_id", "sim-client"),
            ("client_secret", "sim-secret"),
            ("code", &q["code"]),
            ("redirect_uri", "http://127.0.0.1:9/cb"),
            ("code_verifier", verifier),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(body["access_token"].is_string(), "{body}");
    assert!(body["refresh_token"].is_string());
}

#[tokio::test]
async fn lookups_escape_quotes_and_ignore_index_lag() {
    let sim = sim().await;
    let c = connector(&sim);
    sim.control.set_index_lag(Duration::from_secs(3600));
    let email = "o'brien\\x@example.com";
    let mut f = leadbridge_core::Fields::new();
    f.insert("LastName".into(), json!("O'Brien"));
    f.insert("Company".into(), json!("Q"));
    f.insert("Email".into(), json!(email));
    sim.control.insert("Lead", vec![f]).unwrap();
    let found = c
        .lookup(
            "Lead",
            "Email",
            &[email.to_owned(), "x@y.example".into()],
            &["LastName".into()],
        )
        .await
        .unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].text("Email").as_deref(), Some(email));
    assert_eq!(found[0].text("LastName").as_deref(), Some("O'Brien"));
}

#[tokio::test]
async fn non_external_keys_create_and_ids_update() {
    let sim = sim().await;
    let c = connector(&sim);
    let fields = |last: &str| {
        let mut f = leadbridge_core::Fields::new();
        f.insert("LastName".into(), json!(last));
        f.insert("Company".into(), json!("K"));
        f
    };
    let batch = WriteBatch {
        object: "Lead".into(),
        key_field: Some("Email".into()),
        records: vec![WriteRecord {
            id: None,
            key: Some("new@k.example".into()),
            fields: fields("New"),
        }],
    };
    let out = c.write(&batch).await.unwrap();
    let WriteOutcome::Created { id } = &out[0] else {
        panic!("{out:?}")
    };
    assert_eq!(
        sim.control
            .get("Lead", id)
            .unwrap()
            .text("Email")
            .as_deref(),
        Some("new@k.example")
    );
    let batch = WriteBatch {
        object: "Lead".into(),
        key_field: Some("Email".into()),
        records: vec![
            WriteRecord {
                id: Some(id.clone()),
                key: None,
                fields: fields("Renamed"),
            },
            WriteRecord {
                id: Some("00QDn000000000zzzz".into()),
                key: None,
                fields: fields("Ghost"),
            },
            WriteRecord {
                id: None,
                key: None,
                fields: fields("Nothing"),
            },
        ],
    };
    let out = c.write(&batch).await.unwrap();
    assert_eq!(out[0], WriteOutcome::Updated { id: id.clone() });
    assert!(
        matches!(out[1], WriteOutcome::Rejected { .. }),
        "{:?}",
        out[1]
    );
    // Neither id nor key: a plain create (the contract's "create without a key").
    assert!(
        matches!(out[2], WriteOutcome::Created { .. }),
        "{:?}",
        out[2]
    );
    assert_eq!(
        sim.control
            .get("Lead", id)
            .unwrap()
            .text("LastName")
            .as_deref(),
        Some("Renamed")
    );
    assert_eq!(
        sim.control.count("Lead"),
        2,
        "the renamed lead and the keyless create"
    );
}

#[tokio::test]
async fn tasks_link_to_the_lead_with_owner_status_and_due_date() {
    let sim = sim().await;
    let c = connector(&sim);
    let ids = sim
        .control
        .seed(&SeedSpec {
            object: "Lead".into(),
            count: 1,
            seed: 1,
            first_index: 0,
        })
        .unwrap();
    let lead = sim.control.get("Lead", &ids[0]).unwrap();
    let owner = lead.text("OwnerId").unwrap();
    let task = c
        .create_activity(&Activity {
            kind: ActivityKind::Task,
            parent_object: "Lead".into(),
            parent_id: ids[0].clone(),
            subject: "Call within 4 business hours".into(),
            body: "Score 91".into(),
            owner: Some(owner.clone()),
            due: Some("2026-03-02T23:30:00Z".parse().unwrap()),
        })
        .await
        .unwrap();
    let t = sim.control.get("Task", &task).unwrap();
    assert_eq!(t.text("WhoId").as_deref(), Some(ids[0].as_str()));
    assert_eq!(t.text("OwnerId"), Some(owner));
    assert_eq!(t.text("Status").as_deref(), Some("Not Started"));
    assert_eq!(t.text("ActivityDate").as_deref(), Some("2026-03-02"));
    let schema = c.describe("Lead").await.unwrap();
    let last = schema.field("LastName").unwrap();
    assert!(last.required && last.createable);
    assert!(
        !schema.field("Status").unwrap().required,
        "defaulted on create"
    );
    assert!(schema.field("Leadbridge_Id__c").unwrap().unique);
    assert_eq!(schema.field("Status").unwrap().options.len(), 4);
    assert!(!schema.field("SystemModstamp").unwrap().updateable);
}
