//! Unit tests of the simulator's tricky parts, over real HTTP on loopback.

use leadbridge_core::sim::{SimulatorOptions, TokenSettings};
use serde_json::{json, Value};

use super::*;

pub(super) const TOKEN: &str = "pat-sim-unit";

pub(super) async fn sim(rate_limits: bool) -> RunningSimulator {
    start(SimulatorOptions {
        tokens: TokenSettings {
            static_tokens: vec![TOKEN.into()],
            initial_refresh_token: Some("rt-first".into()),
            ..TokenSettings::default()
        },
        rate_limits,
        ..SimulatorOptions::default()
    })
    .await
    .unwrap()
}

pub(super) async fn call(
    s: &RunningSimulator,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let client = reqwest::Client::new();
    let url = format!("{}{path}", s.url());
    let mut req = match method {
        "GET" => client.get(url),
        "PATCH" => client.patch(url),
        "DELETE" => client.delete(url),
        _ => client.post(url),
    }
    .bearer_auth(TOKEN);
    if let Some(b) = body {
        req = req.json(&b);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

pub(super) fn insert(s: &RunningSimulator, records: Value) -> Vec<String> {
    let records = records
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_object().unwrap().clone())
        .collect();
    s.control.insert("contacts", records).unwrap()
}

async fn search_ids(s: &RunningSimulator, groups: Value) -> Vec<String> {
    let (status, body) = call(
        s,
        "POST",
        "/crm/v3/objects/contacts/search",
        Some(json!({"filterGroups": groups, "limit": 200, "properties": ["email"]})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    body["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn search_filters_follow_hubspot_semantics() {
    let s = sim(false).await;
    let ids = insert(
        &s,
        json!([
            {"email": "ann@acme.example", "firstname": "Ann", "company": "Acme Robotics", "lifecyclestage": "lead", "jobtitle": "CTO"},
            {"email": "bob@blue.example", "firstname": "Bob", "company": "Blue Harbor", "lifecyclestage": "customer"},
            {"email": "cy@acme.example", "firstname": "Cy", "company": "Acme Foods", "lifecyclestage": "lead"},
        ]),
    );
    let f = |p: &str, op: &str, v: Value| json!([{"filters": [{"propertyName": p, "operator": op, "value": v}]}]);
    assert_eq!(
        search_ids(&s, f("firstname", "EQ", json!("ann"))).await,
        vec![ids[0].clone()],
        "EQ ignores case"
    );
    assert_eq!(
        search_ids(&s, f("lifecyclestage", "NEQ", json!("lead"))).await,
        vec![ids[1].clone()]
    );
    assert_eq!(
        search_ids(&s, f("company", "CONTAINS_TOKEN", json!("acme"))).await,
        vec![ids[0].clone(), ids[2].clone()]
    );
    assert_eq!(
        search_ids(&s, f("company", "CONTAINS_TOKEN", json!("harb*"))).await,
        vec![ids[1].clone()]
    );
    assert_eq!(
        search_ids(&s, f("hs_object_id", "GT", json!(ids[0]))).await,
        vec![ids[1].clone(), ids[2].clone()]
    );
    let has = json!([{"filters": [{"propertyName": "jobtitle", "operator": "HAS_PROPERTY"}]}]);
    assert_eq!(search_ids(&s, has).await, vec![ids[0].clone()]);
    let has_not =
        json!([{"filters": [{"propertyName": "jobtitle", "operator": "NOT_HAS_PROPERTY"}]}]);
    assert_eq!(search_ids(&s, has_not).await.len(), 2);
    let in_ = json!([{"filters": [{"propertyName": "email", "operator": "IN", "values": ["BOB@blue.example", "cy@acme.example"]}]}]);
    assert_eq!(
        search_ids(&s, in_).await,
        vec![ids[1].clone(), ids[2].clone()]
    );
    let not_in = json!([{"filters": [{"propertyName": "hs_object_id", "operator": "NOT_IN", "values": [ids[0], ids[1]]}]}]);
    assert_eq!(search_ids(&s, not_in).await, vec![ids[2].clone()]);
    // Groups are OR-ed, filters in a group AND-ed.
    let or = json!([
        {"filters": [{"propertyName": "firstname", "operator": "EQ", "value": "Bob"}]},
        {"filters": [
            {"propertyName": "company", "operator": "CONTAINS_TOKEN", "value": "acme"},
            {"propertyName": "firstname", "operator": "EQ", "value": "Cy"}
        ]}
    ]);
    assert_eq!(
        search_ids(&s, or).await,
        vec![ids[1].clone(), ids[2].clone()]
    );
    // Dates compare as instants, given as epoch ms.
    let now = s.control.clock().now().as_millisecond();
    let between = json!([{"filters": [{"propertyName": "lastmodifieddate", "operator": "BETWEEN", "value": (now - 1000).to_string(), "highValue": (now + 1000).to_string()}]}]);
    assert_eq!(search_ids(&s, between).await.len(), 3);
    // Free text matches word prefixes of the searchable properties.
    let (_, body) = call(
        &s,
        "POST",
        "/crm/v3/objects/contacts/search",
        Some(json!({"query": "acm"})),
    )
    .await;
    assert_eq!(body["total"], 2);
    // An empty body is a valid search and returns the default properties.
    let (_, body) = call(
        &s,
        "POST",
        "/crm/v3/objects/contacts/search",
        Some(json!({})),
    )
    .await;
    let props = body["results"][0]["properties"].as_object().unwrap();
    assert!(props.contains_key("email") && props.contains_key("lastmodifieddate"));
    assert!(!props.contains_key("company"));
}

#[tokio::test]
async fn search_stops_at_ten_thousand_results_and_enforces_filter_limits() {
    let s = sim(false).await;
    s.control
        .seed(&leadbridge_core::sim::SeedSpec {
            object: "contacts".into(),
            count: 10_050,
            seed: 3,
            first_index: 0,
        })
        .unwrap();
    let page = |after: &str| json!({"limit": 200, "after": after, "sorts": [{"propertyName": "hs_object_id", "direction": "ASCENDING"}]});
    let (status, body) = call(
        &s,
        "POST",
        "/crm/v3/objects/contacts/search",
        Some(page("9800")),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(body["total"], 10_050);
    assert_eq!(body["results"].as_array().unwrap().len(), 200);
    assert_eq!(
        body["paging"]["next"]["after"], "10000",
        "after is a string"
    );
    assert!(body["paging"]["next"]["link"].is_string());
    let (status, body) = call(
        &s,
        "POST",
        "/crm/v3/objects/contacts/search",
        Some(page("10000")),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["category"], "VALIDATION_ERROR");

    let filter = json!({"propertyName": "firstname", "operator": "HAS_PROPERTY"});
    let groups = |n: usize, per: usize| json!({"filterGroups": vec![json!({"filters": vec![filter.clone(); per]}); n]});
    for (n, per, ok) in [(5, 5, true), (6, 1, false), (1, 11, false), (3, 9, false)] {
        let (status, _) = call(
            &s,
            "POST",
            "/crm/v3/objects/contacts/search",
            Some(groups(n, per)),
        )
        .await;
        assert_eq!(status == 200, ok, "{n} groups of {per}");
    }
    let (status, _) = call(
        &s,
        "POST",
        "/crm/v3/objects/contacts/search",
        Some(json!({"limit": 201})),
    )
    .await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn lagging_changes_are_invisible_to_search_only() {
    let s = sim(false).await;
    s.control.set_index_lag(Duration::from_secs(30));
    let ids = insert(&s, json!([{"email": "late@x.example"}]));
    let all = json!([{"filters": [{"propertyName": "email", "operator": "HAS_PROPERTY"}]}]);
    assert!(search_ids(&s, all.clone()).await.is_empty());
    let (status, _) = call(
        &s,
        "GET",
        &format!("/crm/v3/objects/contacts/{}", ids[0]),
        None,
    )
    .await;
    assert_eq!(status, 200);
    s.control.clock().advance(Duration::from_secs(31));
    assert_eq!(search_ids(&s, all.clone()).await, ids);
    s.control.delete("contacts", &ids[0]).unwrap();
    assert!(
        search_ids(&s, all).await.is_empty(),
        "archived records never appear in search"
    );
}

#[tokio::test]
async fn batch_writes_answer_per_record_with_207() {
    let s = sim(false).await;
    insert(&s, json!([{"email": "taken@x.example"}]));
    let (status, body) = call(
        &s,
        "POST",
        "/crm/v3/objects/contacts/batch/create",
        Some(json!({"inputs": [
            {"properties": {"email": "ok@x.example"}, "objectWriteTraceId": "a"},
            {"properties": {"email": "not an email"}, "objectWriteTraceId": "b"},
            {"properties": {"email": "TAKEN@x.example"}, "objectWriteTraceId": "c"},
            {"properties": {"email": "ok@x.example"}, "objectWriteTraceId": "d"},
        ]})),
    )
    .await;
    assert_eq!(status, 207, "{body}");
    assert_eq!(body["numErrors"], 3);
    assert_eq!(body["results"][0]["objectWriteTraceId"], "a");
    let errors = body["errors"].as_array().unwrap();
    let by_trace = |t: &str| {
        errors
            .iter()
            .find(|e| e["context"]["objectWriteTraceId"][0] == t)
            .unwrap()
            .clone()
    };
    assert_eq!(by_trace("b")["category"], "VALIDATION_ERROR");
    assert_eq!(by_trace("b")["errors"][0]["code"], "INVALID_EMAIL");
    assert_eq!(by_trace("c")["category"], "CONFLICT");
    assert_eq!(
        by_trace("d")["category"],
        "CONFLICT",
        "a duplicate inside the batch conflicts too"
    );

    let upsert = json!({"inputs": [
        {"id": "ok@x.example", "idProperty": "email", "properties": {"firstname": "Ok"}},
        {"id": "new@x.example", "idProperty": "email", "properties": {"firstname": "New"}},
    ]});
    let (status, body) = call(
        &s,
        "POST",
        "/crm/v3/objects/contacts/batch/upsert",
        Some(upsert),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["results"][0]["new"], false);
    assert_eq!(body["results"][1]["new"], true);
    assert_eq!(body["results"][1]["properties"]["email"], "new@x.example");

    let too_many: Vec<Value> = (0..101).map(|i| json!({"id": i.to_string()})).collect();
    let (status, _) = call(
        &s,
        "POST",
        "/crm/v3/objects/contacts/batch/read",
        Some(json!({"inputs": too_many})),
    )
    .await;
    assert_eq!(status, 400);
    let (status, body) = call(
        &s,
        "POST",
        "/crm/v3/objects/contacts/batch/read",
        Some(json!({"idProperty": "email", "inputs": [{"id": "ok@x.example"}, {"id": "nobody@x.example"}], "properties": ["email"]})),
    )
    .await;
    assert_eq!(status, 207);
    assert_eq!(body["errors"][0]["category"], "OBJECT_NOT_FOUND");
    assert_eq!(body["errors"][0]["context"]["ids"][0], "nobody@x.example");

    let (status, body) = call(
        &s,
        "POST",
        "/crm/v3/objects/contacts",
        Some(json!({"properties": {"email": "taken@x.example"}})),
    )
    .await;
    assert_eq!(status, 409);
    assert_eq!(body["category"], "CONFLICT");
    assert!(body["message"].as_str().unwrap().contains("Existing ID"));
}

#[tokio::test]
async fn auth_oauth_and_rate_limits_answer_like_hubspot() {
    let s = sim(true).await;
    let client = reqwest::Client::new();
    let resp = client
        .get(format!("{}/crm/v3/objects/contacts", s.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["category"], "INVALID_AUTHENTICATION");

    let form = [
        ("grant_type", "refresh_token"),
        ("client_id", "sim-client"),
        ("client_secret", "sim-secret"),
        ("refresh_token", "rt-first"),
    ];
    let resp = client
        .post(format!("{}/oauth/v1/token", s.url()))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let token: Value = resp.json().await.unwrap();
    assert_eq!(token["expires_in"], 1800);
    assert_eq!(token["token_type"], "bearer");
    assert!(token["refresh_token"].is_string());
    let resp = client
        .post(format!("{}/oauth/v1/token", s.url()))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400, "a rotated refresh token is spent");
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["status"], "BAD_REFRESH_TOKEN");
    assert_eq!(body["error"], "invalid_grant");

    // Search: 5 per second, then HubSpot's secondly 429.
    let mut statuses = Vec::new();
    for _ in 0..6 {
        statuses.push(
            call(
                &s,
                "POST",
                "/crm/v3/objects/contacts/search",
                Some(json!({})),
            )
            .await,
        );
    }
    assert!(statuses[..5].iter().all(|(st, _)| *st == 200));
    assert_eq!(statuses[5].0, 429);
    assert_eq!(
        statuses[5].1["message"],
        "You have reached your secondly limit."
    );

    s.control.set_daily_limit(Some(1000));
    let resp = client
        .get(format!("{}/crm/v3/objects/contacts", s.url()))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.headers()["x-hubspot-ratelimit-daily"], "1000");
    assert_eq!(resp.headers()["x-hubspot-ratelimit-max"], "100");
    s.control.set_daily_limit(Some(0));
    let (status, body) = call(&s, "GET", "/crm/v3/objects/contacts", None).await;
    assert_eq!(status, 429);
    assert_eq!(body["policyName"], "DAILY");
    let counts = s.control.requests().counts();
    assert_eq!(counts.get("POST /crm/v3/objects/contacts/search"), Some(&6));
}

#[tokio::test]
async fn notes_associate_inline_and_list_through_v4() {
    let s = sim(false).await;
    let ids = insert(&s, json!([{"email": "a@x.example"}]));
    let note = json!({
        "properties": {"hs_note_body": "hello", "hs_timestamp": "2026-01-01T00:00:00Z"},
        "associations": [{"to": {"id": ids[0]}, "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 202}]}],
    });
    let (status, created) = call(&s, "POST", "/crm/v3/objects/notes", Some(note)).await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["properties"]["hs_object_id"], created["id"]);
    let (_, assoc) = call(
        &s,
        "GET",
        &format!("/crm/v4/objects/contacts/{}/associations/notes", ids[0]),
        None,
    )
    .await;
    assert_eq!(
        assoc["results"][0]["toObjectId"].to_string(),
        created["id"].as_str().unwrap()
    );
    assert_eq!(assoc["results"][0]["associationTypes"][0]["typeId"], 201);
    let bad = json!({
        "properties": {"hs_note_body": "x", "hs_timestamp": "1700000000000"},
        "associations": [{"to": {"id": "987654321"}, "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 202}]}],
    });
    let (status, _) = call(&s, "POST", "/crm/v3/objects/notes", Some(bad)).await;
    assert_eq!(status, 400);
    let (status, props) = call(&s, "GET", "/crm/v3/properties/contacts", None).await;
    assert_eq!(status, 200);
    let score = props["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "hubspotscore")
        .unwrap()
        .clone();
    assert_eq!(score["modificationMetadata"]["readOnlyValue"], true);
}

#[test]
fn endpoint_labels_hide_record_ids() {
    assert_eq!(
        endpoint_label("GET", "/crm/v3/objects/contacts/123"),
        "GET /crm/v3/objects/contacts/{id}"
    );
    assert_eq!(
        endpoint_label("POST", "/crm/v3/objects/contacts/search"),
        "POST /crm/v3/objects/contacts/search"
    );
    assert_eq!(
        endpoint_label("GET", "/crm/v4/objects/contacts/5/associations/notes"),
        "GET /crm/v4/objects/contacts/{id}/associations/notes"
    );
}
