//! The simulator over HTTP, as any client sees it: Marketo's limits, its
//! identity endpoint, its refusals and its activity feeds.
#![cfg(feature = "simulator")]

use std::time::Duration;

use leadbridge_core::sim::{FaultKind, RunningSimulator, SimulatorOptions};
use leadbridge_marketo::testing::{token_settings, STATIC_TOKEN};
use serde_json::{json, Value};

async fn start(rate_limits: bool) -> RunningSimulator {
    leadbridge_marketo::simulator::start(SimulatorOptions {
        tokens: token_settings(),
        rate_limits,
        ..SimulatorOptions::default()
    })
    .await
    .unwrap()
}

fn client() -> reqwest::Client {
    reqwest::Client::new()
}

async fn get(sim: &RunningSimulator, path_and_query: &str) -> Value {
    client()
        .get(format!("{}{path_and_query}", sim.url()))
        .bearer_auth(STATIC_TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

async fn post(sim: &RunningSimulator, path: &str, body: &Value) -> Value {
    client()
        .post(format!("{}{path}", sim.url()))
        .bearer_auth(STATIC_TOKEN)
        .json(body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

fn code(body: &Value) -> Option<&str> {
    body["errors"][0]["code"].as_str()
}

fn enc(t: &str) -> String {
    url::form_urlencoded::byte_serialize(t.as_bytes()).collect()
}

#[tokio::test]
async fn the_rate_limit_is_100_calls_in_20_seconds_and_errors_do_not_count() {
    let sim = start(true).await;
    for _ in 0..95 {
        assert_eq!(
            get(&sim, "/rest/v1/leads/describe2.json").await["success"],
            true
        );
    }
    // Refused calls are "not counted against your daily quota, or your
    // rate limit".
    for _ in 0..10 {
        let refused = get(
            &sim,
            "/rest/v1/leads.json?filterType=firstName&filterValues=a",
        )
        .await;
        assert_eq!(code(&refused), Some("1011"));
    }
    for _ in 0..5 {
        assert_eq!(
            get(&sim, "/rest/v1/leads/describe2.json").await["success"],
            true
        );
    }
    let response = client()
        .get(format!("{}/rest/v1/leads/describe2.json", sim.url()))
        .bearer_auth(STATIC_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "Marketo reports limits in a 200");
    assert!(response.headers().get("retry-after").is_none());
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["success"], false);
    assert_eq!(code(&body), Some("606"));
}

#[tokio::test]
async fn the_daily_quota_turns_at_midnight_cst() {
    let sim = start(false).await;
    let clock = sim.control.clock();
    clock.freeze_at("2026-03-01T05:59:00Z".parse().unwrap());
    sim.control.set_daily_limit(Some(2));
    for _ in 0..2 {
        assert_eq!(
            get(&sim, "/rest/v1/leads/describe2.json").await["success"],
            true
        );
    }
    let spent = get(&sim, "/rest/v1/leads/describe2.json").await;
    assert_eq!(code(&spent), Some("607"));
    // 06:01 UTC is 00:01 CST: a new day.
    clock.advance(Duration::from_secs(120));
    assert_eq!(
        get(&sim, "/rest/v1/leads/describe2.json").await["success"],
        true
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_eleventh_call_in_flight_is_refused_with_615() {
    let sim = start(true).await;
    // Ten slow answers hold the ten places (the fault sits inside the
    // guard, as Marketo's own slowness would).
    sim.control.faults().add(
        FaultKind::Slow { delay_ms: 3_000 },
        Some(10),
        None,
        Some("describe2".into()),
    );
    let calls = (0..11).map(|_| {
        let url = format!("{}/rest/v1/leads/describe2.json", sim.url());
        tokio::spawn(async move {
            let body: Value = client()
                .get(url)
                .bearer_auth(STATIC_TOKEN)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            body
        })
    });
    let mut refused = 0;
    for call in calls.collect::<Vec<_>>() {
        let body = call.await.unwrap();
        if code(&body) == Some("615") {
            refused += 1;
        } else {
            assert_eq!(body["success"], true, "{body}");
        }
    }
    assert_eq!(refused, 1, "one of eleven concurrent calls is refused");
}

#[tokio::test]
async fn identity_returns_the_same_token_while_it_lives() {
    let sim = start(false).await;
    let t = token_settings();
    let by_query = |secret: &str| {
        format!(
            "{}/identity/oauth/token?grant_type=client_credentials&client_id={}&client_secret={secret}",
            sim.url(),
            t.client_id
        )
    };
    let first: Value = client()
        .get(by_query(&t.client_secret))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(first["token_type"], "bearer");
    assert_eq!(first["expires_in"], 3600);
    sim.control.clock().advance(Duration::from_secs(100));
    let form = [
        ("grant_type", "client_credentials"),
        ("client_id", t.client_id.as_str()),
        ("client_secret", t.client_secret.as_str()),
    ];
    let again: Value = client()
        .post(format!("{}/identity/oauth/token", sim.url()))
        .form(&form)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        again["access_token"], first["access_token"],
        "same token while valid"
    );
    assert!(again["expires_in"].as_u64().unwrap() <= 3500);
    sim.control.tokens().expire_all();
    let fresh: Value = client()
        .get(by_query(&t.client_secret))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_ne!(fresh["access_token"], first["access_token"]);
    // The old token now answers 602, the new one works.
    let old = client()
        .get(format!("{}/rest/v1/leads/describe2.json", sim.url()))
        .bearer_auth(first["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap();
    assert_eq!(code(&old), Some("602"));
    let bad = client().get(by_query("wrong")).send().await.unwrap();
    assert_eq!(bad.status(), 401);
    assert_eq!(
        bad.json::<Value>().await.unwrap()["error"],
        "invalid_client"
    );
    let unknown = get(&sim, "/rest/v1/leads/describe2.json").await;
    assert_eq!(unknown["success"], true, "the static token is accepted");
    let none = client()
        .get(format!("{}/rest/v1/leads/describe2.json", sim.url()))
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap();
    assert_eq!(code(&none), Some("601"));
    let by_param = client()
        .get(format!(
            "{}/rest/v1/leads/describe2.json?access_token={STATIC_TOKEN}",
            sim.url()
        ))
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap();
    assert_eq!(
        by_param["success"], true,
        "the access_token parameter still works"
    );
}

#[tokio::test]
async fn long_queries_need_post_with_method_get_and_big_bodies_are_refused() {
    let sim = start(false).await;
    sim.control
        .insert(
            "leads",
            vec![json!({"email": "kept@x.example"})
                .as_object()
                .cloned()
                .unwrap()],
        )
        .unwrap();
    let mut values: Vec<String> = (0..299)
        .map(|i| format!("somebody.with.a.long.address.{i}@example.com"))
        .collect();
    values.push("kept@x.example".into());
    let query = format!(
        "filterType=email&filterValues={}&fields=email",
        enc(&values.join(","))
    );
    assert!(query.len() > 8 * 1024);
    let long = client()
        .get(format!("{}/rest/v1/leads.json?{query}", sim.url()))
        .bearer_auth(STATIC_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(long.status(), 414);
    let as_post: Value = client()
        .post(format!("{}/rest/v1/leads.json?_method=GET", sim.url()))
        .bearer_auth(STATIC_TOKEN)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(query)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(as_post["result"][0]["email"], "kept@x.example", "{as_post}");
    let big = json!({"input": [{"email": "a@x.example", "address": "x".repeat(1_100_000)}]});
    let refused = client()
        .post(format!("{}/rest/v1/leads.json", sim.url()))
        .bearer_auth(STATIC_TOKEN)
        .json(&big)
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 413);
}

#[tokio::test]
async fn sync_leads_refuses_records_as_marketo_does() {
    let sim = start(false).await;
    let twin = json!({"email": "twin@x.example"})
        .as_object()
        .cloned()
        .unwrap();
    sim.control
        .insert("leads", vec![twin.clone(), twin])
        .unwrap();
    let sync = |action: &str, lookup: &str, input: Value| json!({"action": action, "lookupField": lookup, "input": input});
    let r = post(
        &sim,
        "/rest/v1/leads.json",
        &sync(
            "createOrUpdate",
            "email",
            json!([
                {"email": "twin@x.example", "title": "CTO"},
                {"email": "new@x.example", "nope": 1},
                {"firstName": "NoEmail"},
                {"id": 1, "email": "x@x.example"},
                {"email": "new@x.example", "leadScore": "high"},
                {"email": "new@x.example", "leadScore": "12"},
            ]),
        ),
    )
    .await;
    let reasons: Vec<Option<&str>> = r["result"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["reasons"][0]["code"].as_str())
        .collect();
    assert_eq!(
        reasons,
        vec![
            Some("1007"),
            Some("1006"),
            Some("1002"),
            Some("1003"),
            Some("1001"),
            None
        ]
    );
    assert_eq!(r["result"][5]["status"], "created");
    let again = post(
        &sim,
        "/rest/v1/leads.json",
        &sync("createOnly", "email", json!([{"email": "NEW@x.example"}])),
    )
    .await;
    assert_eq!(again["result"][0]["reasons"][0]["code"], "1005");
    let missing = post(
        &sim,
        "/rest/v1/leads.json",
        &sync("updateOnly", "id", json!([{"id": 424242, "title": "x"}])),
    )
    .await;
    assert_eq!(missing["result"][0]["reasons"][0]["code"], "1004");
    let not_json = client()
        .post(format!("{}/rest/v1/leads.json", sim.url()))
        .bearer_auth(STATIC_TOKEN)
        .header("content-type", "text/plain")
        .body("{}")
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap();
    assert_eq!(code(&not_json), Some("612"));
    let too_many: Vec<Value> = (0..301)
        .map(|i| json!({"email": format!("p{i}@x.example")}))
        .collect();
    let refused = post(
        &sim,
        "/rest/v1/leads.json",
        &sync("createOrUpdate", "email", json!(too_many)),
    )
    .await;
    assert_eq!(code(&refused), Some("1003"));
    assert_eq!(
        sim.control.count("leads"),
        3,
        "only the one valid record was written"
    );
}

#[tokio::test]
async fn sparse_feeds_answer_short_pages_that_still_have_more() {
    let sim = start(false).await;
    let id = sim
        .control
        .insert(
            "leads",
            vec![json!({"email": "busy@x.example"})
                .as_object()
                .cloned()
                .unwrap()],
        )
        .unwrap()
        .remove(0);
    for score in 0..8_000 {
        let mut f = serde_json::Map::new();
        f.insert("leadScore".into(), json!(score % 2));
        sim.control.update("leads", &id, f).unwrap();
    }
    let mut f = serde_json::Map::new();
    f.insert("title".into(), json!("CMO"));
    sim.control.update("leads", &id, f).unwrap();
    let token = get(
        &sim,
        "/rest/v1/activities/pagingtoken.json?sinceDatetime=2000-01-01T00:00:00Z",
    )
    .await;
    let mut token = token["nextPageToken"].as_str().unwrap().to_owned();
    let mut pages = Vec::new();
    loop {
        let page = get(
            &sim,
            &format!(
                "/rest/v1/activities/leadchanges.json?nextPageToken={}&fields=title",
                enc(&token)
            ),
        )
        .await;
        pages.push(page["result"].as_array().unwrap().len());
        token = page["nextPageToken"].as_str().unwrap().to_owned();
        if page["moreResult"] != true {
            break;
        }
    }
    assert!(
        pages.len() > 1,
        "the 8,000 score changes are scanned over several calls"
    );
    assert_eq!(pages[0], 1, "the first page holds only the new lead");
    assert_eq!(
        pages.iter().sum::<usize>(),
        2,
        "the new lead and the title change: {pages:?}"
    );
    assert!(
        pages.contains(&0),
        "a page with nothing on it still says moreResult"
    );
}

#[tokio::test]
async fn deletions_are_reported_for_fourteen_days() {
    let sim = start(false).await;
    let ids = sim
        .control
        .insert(
            "leads",
            vec![json!({"email": "gone@x.example"})
                .as_object()
                .cloned()
                .unwrap()],
        )
        .unwrap();
    sim.control.delete("leads", &ids[0]).unwrap();
    let deleted = |sim: &RunningSimulator| {
        let sim_url = sim.url();
        async move {
            let token: Value = client()
                .get(format!("{sim_url}/rest/v1/activities/pagingtoken.json?sinceDatetime=2000-01-01T00:00:00Z"))
                .bearer_auth(STATIC_TOKEN)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            let t = token["nextPageToken"].as_str().unwrap().to_owned();
            let page: Value = client()
                .get(format!(
                    "{sim_url}/rest/v1/activities/deletedleads.json?nextPageToken={}",
                    enc(&t)
                ))
                .bearer_auth(STATIC_TOKEN)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            page["result"].as_array().unwrap().len()
        }
    };
    assert_eq!(deleted(&sim).await, 1);
    let found = get(
        &sim,
        &format!("/rest/v1/leads.json?filterType=id&filterValues={}", ids[0]),
    )
    .await;
    assert_eq!(
        found["result"].as_array().unwrap().len(),
        0,
        "a deleted lead cannot be read"
    );
    sim.control
        .clock()
        .advance(Duration::from_secs(15 * 24 * 3600));
    assert_eq!(deleted(&sim).await, 0, "pruned after 14 days");
}

#[tokio::test]
async fn unknown_paths_and_methods_answer_610_and_605() {
    let sim = start(false).await;
    let unknown = get(&sim, "/rest/v1/nothing.json").await;
    assert_eq!(code(&unknown), Some("610"));
    let wrong = post(&sim, "/rest/v1/leads/describe2.json", &json!({})).await;
    assert_eq!(code(&wrong), Some("605"));
}
