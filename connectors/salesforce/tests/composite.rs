//! Composite: the simulator's `POST /composite` as any client sees it, and
//! the connector's writes and look-ups through it (one API call for up to
//! five collections or queries), including how it reads a subrequest that
//! failed as a whole (against a scripted stub, since a real org fails
//! subrequests on its own schedule).
#![cfg(feature = "simulator")]

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::routing::{get, post};
use axum::{Json, Router};
use leadbridge_core::auth::AuthConfig;
use leadbridge_core::http::{HttpSettings, RetryPolicy};
use leadbridge_core::sim::{RunningSimulator, SimulatorOptions, TokenSettings};
use leadbridge_core::{Connector, ConnectorError, Fields, WriteBatch, WriteOutcome, WriteRecord};
use leadbridge_salesforce::testing::STATIC_TOKEN;
use leadbridge_salesforce::{SalesforceConfig, SalesforceConnector};
use reqwest::StatusCode;
use secrecy::SecretString;
use serde_json::{json, Value};

async fn sim() -> RunningSimulator {
    leadbridge_salesforce::simulator::start(SimulatorOptions {
        tokens: TokenSettings {
            static_tokens: vec![STATIC_TOKEN.into()],
            ..TokenSettings::default()
        },
        rate_limits: false,
        ..SimulatorOptions::default()
    })
    .await
    .unwrap()
}

/// A connector to `url` that retries quickly.
fn connector(url: String) -> SalesforceConnector {
    let mut config = SalesforceConfig::new(
        url,
        AuthConfig::StaticToken {
            token: SecretString::from(STATIC_TOKEN),
        },
    );
    config.http = HttpSettings {
        retry: RetryPolicy {
            base_delay: Duration::from_millis(5),
            max_delay: Duration::from_millis(50),
            ..RetryPolicy::default()
        },
        ..HttpSettings::default()
    };
    SalesforceConnector::new(config, None).unwrap()
}

fn lead(last: &str) -> Fields {
    let mut f = Fields::new();
    f.insert("LastName".into(), json!(last));
    f.insert("Company".into(), json!("Composite Inc"));
    f
}

/// No LastName, no Company: `REQUIRED_FIELD_MISSING`.
fn broken() -> Fields {
    let mut f = Fields::new();
    f.insert("FirstName".into(), json!("Broken"));
    f
}

fn by_key(key: &str, fields: Fields) -> WriteRecord {
    WriteRecord {
        id: None,
        key: Some(key.into()),
        fields,
    }
}

fn by_id(id: &str, fields: Fields) -> WriteRecord {
    WriteRecord {
        id: Some(id.into()),
        key: None,
        fields,
    }
}

fn batch(key_field: &str, records: Vec<WriteRecord>) -> WriteBatch {
    WriteBatch {
        object: "Lead".into(),
        key_field: Some(key_field.into()),
        records,
    }
}

fn calls(sim: &RunningSimulator) -> BTreeMap<String, u64> {
    sim.control.requests().counts()
}

fn one(label: &str, n: u64) -> BTreeMap<String, u64> {
    BTreeMap::from([(label.to_owned(), n)])
}

#[tokio::test]
async fn a_mixed_batch_is_one_call_with_every_outcome_in_input_order() {
    let sim = sim().await;
    let c = connector(sim.url());
    let mut old = lead("Old");
    old.insert("Leadbridge_Id__c".into(), json!("k-old"));
    let ids = sim.control.insert("Lead", vec![old, lead("Upd")]).unwrap();
    let (old_id, upd_id) = (ids[0].clone(), ids[1].clone());
    c.describe("Lead").await.unwrap();
    sim.control.requests().reset();

    let out = c
        .write(&batch(
            "Leadbridge_Id__c",
            vec![
                by_key("k-new-1", lead("New1")),
                by_id(&upd_id, lead("Updated")),
                by_key("k-old", lead("OldAgain")),
                by_key("k-bad", broken()),
                WriteRecord {
                    id: None,
                    key: None,
                    fields: lead("Nothing"),
                },
                by_id("00QDn000000000zzzz", lead("Ghost")),
                by_key("k-new-2", lead("New2")),
            ],
        ))
        .await
        .unwrap();

    assert_eq!(calls(&sim), one("POST /composite", 1), "one API call");
    assert_eq!(out.len(), 7);
    let created = |o: &WriteOutcome| match o {
        WriteOutcome::Created { id } => id.clone(),
        other => panic!("expected a create, got {other:?}"),
    };
    let new1 = created(&out[0]);
    assert_eq!(out[1], WriteOutcome::Updated { id: upd_id.clone() });
    assert_eq!(out[2], WriteOutcome::Updated { id: old_id.clone() });
    match &out[3] {
        WriteOutcome::Rejected {
            message,
            code,
            fields,
        } => {
            assert_eq!(code.as_deref(), Some("REQUIRED_FIELD_MISSING"), "{message}");
            assert!(fields.iter().any(|f| f == "LastName"), "{fields:?}");
        }
        other => panic!("record 3 should be rejected, got {other:?}"),
    }
    // Neither id nor key: created in the same call.
    let nothing = created(&out[4]);
    assert!(
        matches!(&out[5], WriteOutcome::Rejected { code: Some(_), .. }),
        "{:?}",
        out[5]
    );
    let new2 = created(&out[6]);
    let last = |id: &str| sim.control.get("Lead", id).unwrap().text("LastName");
    assert_eq!(last(&new1).as_deref(), Some("New1"));
    assert_eq!(last(&new2).as_deref(), Some("New2"));
    assert_eq!(last(&upd_id).as_deref(), Some("Updated"));
    assert_eq!(last(&old_id).as_deref(), Some("OldAgain"));
    assert_eq!(last(&nothing).as_deref(), Some("Nothing"));
    assert_eq!(sim.control.count("Lead"), 5);
}

#[tokio::test]
async fn creates_by_a_plain_key_and_updates_share_one_call() {
    let sim = sim().await;
    let c = connector(sim.url());
    let ids = sim.control.insert("Lead", vec![lead("Existing")]).unwrap();
    c.describe("Lead").await.unwrap();
    sim.control.requests().reset();
    let out = c
        .write(&batch(
            "Email",
            vec![
                by_key("a@plain.example", lead("A")),
                by_id(&ids[0], lead("Renamed")),
                by_key("b@plain.example", broken()),
                by_key("c@plain.example", lead("C")),
            ],
        ))
        .await
        .unwrap();
    assert_eq!(calls(&sim), one("POST /composite", 1));
    assert!(matches!(out[0], WriteOutcome::Created { .. }), "{out:?}");
    assert_eq!(out[1], WriteOutcome::Updated { id: ids[0].clone() });
    assert!(matches!(out[2], WriteOutcome::Rejected { .. }), "{out:?}");
    assert!(matches!(out[3], WriteOutcome::Created { .. }), "{out:?}");
    let found = sim.control.find("Lead", "Email", "c@plain.example");
    assert_eq!(found.len(), 1);
    assert_eq!(Some(found[0].id.as_str()), out[3].id());
}

#[tokio::test]
async fn more_than_200_of_a_kind_go_as_several_collections_of_one_call() {
    let sim = sim().await;
    let c = connector(sim.url());
    assert_eq!(c.limits().batch_size, 1_000);
    c.describe("Lead").await.unwrap();
    let records = |n: usize| -> Vec<WriteRecord> {
        (0..n)
            .map(|i| by_key(&format!("k-{i:05}"), lead(&format!("L{i}"))))
            .collect()
    };
    sim.control.requests().reset();
    // 450 upserts: collections of 200, 200 and 50 in one composite (the
    // simulator refuses a collection of more than 200).
    let first = c
        .write(&batch("Leadbridge_Id__c", records(450)))
        .await
        .unwrap();
    assert_eq!(calls(&sim), one("POST /composite", 1));
    assert!(first
        .iter()
        .all(|o| matches!(o, WriteOutcome::Created { .. })));
    for (i, o) in first.iter().enumerate() {
        let rec = sim.control.get("Lead", o.id().unwrap()).unwrap();
        assert_eq!(rec.text("LastName"), Some(format!("L{i}")), "input order");
    }
    assert_eq!(sim.control.count("Lead"), 450);

    // 1,001 records: five collections in one call, the last record in a second.
    sim.control.requests().reset();
    let second = c
        .write(&batch("Leadbridge_Id__c", records(1_001)))
        .await
        .unwrap();
    assert_eq!(calls(&sim), one("POST /composite", 2));
    assert!(second[..450]
        .iter()
        .all(|o| matches!(o, WriteOutcome::Updated { .. })));
    assert!(second[450..]
        .iter()
        .all(|o| matches!(o, WriteOutcome::Created { .. })));
    assert_eq!(sim.control.count("Lead"), 1_001);
}

#[tokio::test]
async fn lookups_of_many_keys_go_five_queries_to_a_call() {
    let sim = sim().await;
    let c = connector(sim.url());
    assert_eq!(c.limits().lookup_batch_size, 1_000);
    let people: Vec<Fields> = (0..950)
        .map(|i| {
            let mut f = lead(&format!("P{i}"));
            f.insert("Email".into(), json!(format!("p{i}@many.example")));
            f
        })
        .collect();
    sim.control.insert("Lead", people).unwrap();
    // 2,050 leads share one address: that query's result is longer than a batch.
    let twins: Vec<Fields> = (0..2_050)
        .map(|i| {
            let mut f = lead(&format!("T{i}"));
            f.insert("Email".into(), json!("twin@many.example"));
            f
        })
        .collect();
    sim.control.insert("Lead", twins).unwrap();
    let fields = vec!["Email".to_owned(), "LastName".to_owned()];

    sim.control.requests().reset();
    let few: Vec<String> = (0..10).map(|i| format!("p{i}@many.example")).collect();
    let found = c.lookup("Lead", "Email", &few, &fields).await.unwrap();
    assert_eq!(found.len(), 10);
    assert_eq!(
        calls(&sim),
        one("GET /query", 1),
        "one chunk: a plain query"
    );

    sim.control.requests().reset();
    let mut keys: Vec<String> = (0..950).map(|i| format!("p{i}@many.example")).collect();
    keys.push("twin@many.example".into());
    keys.push("nobody@many.example".into());
    let found = c.lookup("Lead", "Email", &keys, &fields).await.unwrap();
    assert_eq!(found.len(), 950 + 2_050);
    assert_eq!(
        calls(&sim),
        BTreeMap::from([
            ("POST /composite".to_owned(), 1),
            ("GET /query/{locator}".to_owned(), 1),
        ]),
        "five queries in one composite, the long result followed to its end"
    );
}

// ---- The simulator's composite over HTTP ----

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

    /// One composite call: status, API usage after it, body.
    async fn composite(&self, body: Value) -> (StatusCode, String, Value) {
        let r = self
            .http
            .post(format!("{}/services/data/v62.0/composite", self.base))
            .bearer_auth(STATIC_TOKEN)
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = r.status();
        let usage = r
            .headers()
            .get("sforce-limit-info")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        (status, usage, r.json().await.unwrap_or(Value::Null))
    }
}

fn sub(method: &str, url: &str, reference: &str, body: Option<Value>) -> Value {
    let mut s = json!({
        "method": method,
        "url": format!("/services/data/v62.0{url}"),
        "referenceId": reference,
    });
    if let Some(b) = body {
        s["body"] = b;
    }
    s
}

fn usage(header: &str) -> u64 {
    header
        .trim_start_matches("api-usage=")
        .split('/')
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

/// The single 400 entry of a composite refused as a whole.
fn refused_code(body: &Value) -> &str {
    let entries = body["compositeResponse"].as_array().unwrap();
    assert_eq!(entries.len(), 1, "{body}");
    assert_eq!(entries[0]["httpStatusCode"], 400, "{body}");
    assert!(entries[0]["referenceId"].is_null(), "{body}");
    entries[0]["body"][0]["errorCode"].as_str().unwrap()
}

#[tokio::test]
async fn composite_takes_25_subrequests_of_which_5_collections_or_queries() {
    let sim = sim().await;
    let api = Api::new(&sim);
    let id = sim.control.insert("Lead", vec![lead("Seen")]).unwrap()[0].clone();
    let read = |i: usize| {
        sub(
            "GET",
            &format!("/sobjects/Lead/{id}"),
            &format!("r{i}"),
            None,
        )
    };
    let query = |i: usize| {
        sub(
            "GET",
            "/query?q=SELECT+Id+FROM+Lead",
            &format!("q{i}"),
            None,
        )
    };
    let create = |i: usize| {
        sub(
            "POST",
            "/composite/sobjects",
            &format!("c{i}"),
            Some(
                json!({ "records": [{ "attributes": {"type": "Lead"}, "LastName": "X", "Company": "Y" }] }),
            ),
        )
    };
    let before = usage(&api.composite(json!({ "compositeRequest": [] })).await.1);

    // 26 subrequests: refused as a whole, HTTP 200 (as Salesforce answers).
    let (status, used, body) = api
        .composite(json!({ "compositeRequest": (0..26).map(read).collect::<Vec<_>>() }))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(refused_code(&body), "LIMIT_EXCEEDED");
    assert_eq!(usage(&used), before + 1, "one API call");

    // 25, five of them queries: every one answered, in order.
    let mut list: Vec<Value> = (0..20).map(read).collect();
    list.extend((0..5).map(query));
    let (status, used, body) = api.composite(json!({ "compositeRequest": list })).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(usage(&used), before + 2, "25 subrequests, one API call");
    let entries = body["compositeResponse"].as_array().unwrap();
    assert_eq!(entries.len(), 25);
    assert_eq!(entries[0]["referenceId"], "r0");
    assert_eq!(entries[0]["body"]["LastName"], "Seen");
    assert_eq!(entries[24]["referenceId"], "q4");
    assert_eq!(entries[24]["body"]["totalSize"], 1);
    assert!(entries.iter().all(|e| e["httpStatusCode"] == 200));

    // Six collections or queries: refused, nothing written.
    let mut list: Vec<Value> = (0..3).map(query).collect();
    list.extend((0..3).map(create));
    let (_, _, body) = api.composite(json!({ "compositeRequest": list })).await;
    assert_eq!(refused_code(&body), "LIMIT_EXCEEDED");
    assert_eq!(sim.control.count("Lead"), 1);

    // referenceId: required, unique, letters, digits and underscores.
    let mut no_ref = read(0);
    no_ref.as_object_mut().unwrap().remove("referenceId");
    let (_, _, body) = api.composite(json!({ "compositeRequest": [no_ref] })).await;
    assert_eq!(refused_code(&body), "INVALID_INPUT");
    let (_, _, body) = api
        .composite(json!({ "compositeRequest": [read(0), read(0)] }))
        .await;
    assert_eq!(refused_code(&body), "INVALID_INPUT");
    let (_, _, body) = api
        .composite(json!({ "compositeRequest": [sub("GET", "/limits", "a-b", None)] }))
        .await;
    assert_eq!(refused_code(&body), "INVALID_INPUT");

    // A body that is not a composite request is a plain 400.
    let (status, _, body) = api.composite(json!({ "requests": [] })).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body[0]["errorCode"], "JSON_PARSER_ERROR");

    assert_eq!(
        sim.control.requests().get("POST /composite"),
        8,
        "each composite is one request"
    );
}

#[tokio::test]
async fn subrequests_reference_earlier_answers_and_all_or_none_rolls_back() {
    let sim = sim().await;
    let api = Api::new(&sim);
    let (_, _, body) = api
        .composite(json!({ "compositeRequest": [
            sub("POST", "/sobjects/Lead", "newLead", Some(json!({ "LastName": "Ref", "Company": "R" }))),
            sub("GET", "/sobjects/Lead/@{newLead.id}?fields=LastName,Company", "got", None),
            sub("PATCH", "/sobjects/Lead/@{newLead.id}", "renamed", Some(json!({ "Title": "@{got.LastName}" }))),
            sub("GET", "/sobjects/Lead/@{nothing.id}", "dangling", None),
            sub("GET", "/limits", "notInComposite", None),
        ]}))
        .await;
    let e = body["compositeResponse"].as_array().unwrap();
    assert_eq!(e[0]["httpStatusCode"], 201, "{body}");
    let id = e[0]["body"]["id"].as_str().unwrap();
    assert_eq!(
        e[0]["httpHeaders"]["Location"],
        format!("/services/data/v62.0/sobjects/Lead/{id}")
    );
    assert_eq!(e[1]["httpStatusCode"], 200);
    assert_eq!(e[1]["body"]["Company"], "R");
    assert_eq!(e[2]["httpStatusCode"], 204);
    assert_eq!(
        sim.control
            .get("Lead", id)
            .unwrap()
            .text("Title")
            .as_deref(),
        Some("Ref")
    );
    assert_eq!(e[3]["httpStatusCode"], 400);
    assert_eq!(e[3]["body"][0]["errorCode"], "PROCESSING_HALTED");
    assert_eq!(e[4]["httpStatusCode"], 404);

    // allOrNone: one failing record undoes everything the call did.
    let (_, _, body) = api
        .composite(json!({ "allOrNone": true, "compositeRequest": [
            sub("POST", "/sobjects/Lead", "fine", Some(json!({ "LastName": "Fine", "Company": "F" }))),
            sub("POST", "/composite/sobjects", "mixed", Some(json!({ "allOrNone": false, "records": [
                { "attributes": {"type": "Lead"}, "LastName": "Ok", "Company": "C" },
                { "attributes": {"type": "Lead"}, "FirstName": "NoLast" },
            ]}))),
            sub("POST", "/sobjects/Lead", "after", Some(json!({ "LastName": "After", "Company": "A" }))),
        ]}))
        .await;
    let e = body["compositeResponse"].as_array().unwrap();
    assert_eq!(e.len(), 3);
    assert_eq!(e[0]["httpStatusCode"], 400);
    assert_eq!(e[0]["body"][0]["errorCode"], "PROCESSING_HALTED");
    assert_eq!(
        e[1]["body"][1]["errors"][0]["statusCode"],
        "REQUIRED_FIELD_MISSING"
    );
    assert_eq!(
        e[1]["body"][0]["errors"][0]["statusCode"], "ALL_OR_NONE_OPERATION_ROLLED_BACK",
        "the collection ran with allOrNone forced on"
    );
    assert_eq!(e[2]["body"][0]["errorCode"], "PROCESSING_HALTED");
    assert_eq!(sim.control.count("Lead"), 1, "only the first call's lead");
}

// ---- Subrequests failing as a whole, against a scripted stub ----

/// Answers one composite request (the JSON it received) with a `compositeResponse`.
type Responder = Box<dyn Fn(&Value) -> Value + Send>;

#[derive(Clone, Default)]
struct Stub {
    script: Arc<Mutex<VecDeque<Responder>>>,
    seen: Arc<Mutex<Vec<Value>>>,
}

impl Stub {
    /// Serves a describe of Lead (Email is not an External ID) and
    /// composite calls answered by `script`, one responder a call.
    async fn start(script: Vec<Responder>) -> (Self, String) {
        let stub = Stub {
            script: Arc::new(Mutex::new(script.into())),
            ..Stub::default()
        };
        async fn composite(State(stub): State<Stub>, Json(body): Json<Value>) -> Json<Value> {
            let next = stub.script.lock().unwrap().pop_front();
            stub.seen.lock().unwrap().push(body.clone());
            Json(match next {
                Some(respond) => respond(&body),
                None => json!({ "compositeResponse": [] }),
            })
        }
        async fn describe() -> Json<Value> {
            Json(json!({ "fields": [
                { "name": "Email", "type": "email", "nillable": true, "createable": true, "updateable": true },
                { "name": "LastName", "type": "string", "createable": true, "updateable": true },
            ]}))
        }
        let app = Router::new()
            .route("/services/data/v62.0/composite", post(composite))
            .route("/services/data/v62.0/sobjects/Lead/describe", get(describe))
            .with_state(stub.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        (stub, url)
    }

    /// The referenceIds of each composite call received.
    fn calls(&self) -> Vec<Vec<String>> {
        self.seen
            .lock()
            .unwrap()
            .iter()
            .map(|b| {
                b["compositeRequest"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|s| s["referenceId"].as_str().unwrap().to_owned())
                    .collect()
            })
            .collect()
    }
}

/// Each subrequest of `request` answered by `answer(index, subrequest)`.
fn respond(answer: impl Fn(usize, &Value) -> (u16, Value) + Send + 'static) -> Responder {
    Box::new(move |request: &Value| {
        let entries: Vec<Value> = request["compositeRequest"]
            .as_array()
            .unwrap()
            .iter()
            .enumerate()
            .map(|(i, s)| {
                let (status, body) = answer(i, s);
                json!({ "body": body, "httpHeaders": {}, "httpStatusCode": status, "referenceId": s["referenceId"] })
            })
            .collect();
        json!({ "compositeResponse": entries })
    })
}

/// A collection's success: one created id per record, named after its LastName.
fn created(sub: &Value) -> (u16, Value) {
    let results: Vec<Value> = sub["body"]["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| json!({ "id": format!("00Q{}", r["LastName"].as_str().unwrap()), "success": true, "errors": [] }))
        .collect();
    (200, Value::Array(results))
}

fn failure(status: u16, code: &str, message: &str, fields: &[&str]) -> (u16, Value) {
    (
        status,
        json!([{ "message": message, "errorCode": code, "fields": fields }]),
    )
}

/// 250 creates by Email: a collection of 200 (`sub0`) and one of 50 (`sub1`).
fn creates() -> WriteBatch {
    batch(
        "Email",
        (0..250)
            .map(|i| by_key(&format!("p{i}@stub.example"), lead(&format!("N{i}"))))
            .collect(),
    )
}

fn assert_created_in_order(out: &[WriteOutcome], range: std::ops::Range<usize>) {
    for i in range {
        assert_eq!(
            out[i],
            WriteOutcome::Created {
                id: format!("00QN{i}")
            }
        );
    }
}

#[tokio::test]
async fn a_refused_collection_rejects_its_records_and_the_rest_stands() {
    let (stub, url) = Stub::start(vec![respond(|i, s| {
        if i == 0 {
            created(s)
        } else {
            failure(
                400,
                "INVALID_EMAIL_ADDRESS",
                "Email: invalid email address",
                &["Email"],
            )
        }
    })])
    .await;
    let out = connector(url).write(&creates()).await.unwrap();
    assert_eq!(stub.calls(), vec![vec!["sub0", "sub1"]]);
    assert_created_in_order(&out, 0..200);
    for o in &out[200..] {
        assert_eq!(
            *o,
            WriteOutcome::Rejected {
                message: "Email: invalid email address".into(),
                code: Some("INVALID_EMAIL_ADDRESS".into()),
                fields: vec!["Email".into()],
            }
        );
    }
}

#[tokio::test]
async fn a_passing_subrequest_failure_resends_only_that_subrequest() {
    let (stub, url) = Stub::start(vec![
        respond(|i, s| {
            if i == 0 {
                created(s)
            } else {
                failure(
                    500,
                    "UNKNOWN_EXCEPTION",
                    "An unexpected error occurred.",
                    &[],
                )
            }
        }),
        respond(|_, s| created(s)),
    ])
    .await;
    let out = connector(url).write(&creates()).await.unwrap();
    assert_eq!(
        stub.calls(),
        vec![vec!["sub0", "sub1"], vec!["sub1"]],
        "the created collection is not sent again"
    );
    assert_created_in_order(&out, 0..250);
}

#[tokio::test]
async fn when_every_subrequest_fails_passingly_the_whole_call_is_retried() {
    let (stub, url) = Stub::start(vec![
        respond(|_, _| {
            failure(
                503,
                "SERVER_UNAVAILABLE",
                "Server temporarily unavailable",
                &[],
            )
        }),
        respond(|_, s| created(s)),
    ])
    .await;
    let c = connector(url);
    let out = c.write(&creates()).await.unwrap();
    assert_eq!(
        stub.calls(),
        vec![vec!["sub0", "sub1"], vec!["sub0", "sub1"]]
    );
    assert_created_in_order(&out, 0..250);
    assert!(c.usage().retries >= 1, "{:?}", c.usage());
}

/// What the write's error must be.
type Expect = fn(&ConnectorError) -> bool;

#[tokio::test]
async fn auth_quota_configuration_and_whole_refusals_fail_the_write() {
    let cases: Vec<(Responder, Expect)> = vec![
        (
            respond(|i, s| {
                if i == 0 {
                    created(s)
                } else {
                    failure(401, "INVALID_SESSION_ID", "Session expired or invalid", &[])
                }
            }),
            (|e| matches!(e, ConnectorError::Unauthorized { .. })) as Expect,
        ),
        (
            respond(|_, _| {
                failure(
                    403,
                    "REQUEST_LIMIT_EXCEEDED",
                    "TotalRequests Limit exceeded.",
                    &[],
                )
            }),
            (|e| matches!(e, ConnectorError::QuotaExhausted { .. })) as Expect,
        ),
        (
            respond(|_, _| {
                failure(
                    400,
                    "INVALID_FIELD",
                    "No such column 'Nope__c' on sobject of type Lead",
                    &["Nope__c"],
                )
            }),
            (|e| matches!(e, ConnectorError::Fatal { .. })) as Expect,
        ),
        (
            Box::new(|_: &Value| {
                json!({ "compositeResponse": [{
                    "body": [{ "errorCode": "LIMIT_EXCEEDED", "message": "The request can’t contain more than 25 operations." }],
                    "httpHeaders": {}, "httpStatusCode": 400, "referenceId": null,
                }]})
            }),
            (|e| matches!(e, ConnectorError::Rejected { code: Some(c), .. } if c == "LIMIT_EXCEEDED"))
                as Expect,
        ),
    ];
    for (responder, expected) in cases {
        let (stub, url) = Stub::start(vec![responder]).await;
        match connector(url).write(&creates()).await {
            Err(e) => assert!(expected(&e), "unexpected error {e:?}"),
            Ok(out) => panic!("expected an error, got {:?}", &out[..2]),
        }
        assert_eq!(
            stub.calls().len(),
            1,
            "no retry of a failure that cannot pass"
        );
    }
}
