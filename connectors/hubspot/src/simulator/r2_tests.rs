//! Tests of the round-2 facts (SEMANTICS.md R2.5–R2.8): each reproduces
//! one fact HubSpot shows, quoted in its doc comment.

use serde_json::{json, Value};

use super::tests::{call, insert, sim};

async fn token_call(
    s: &leadbridge_core::sim::RunningSimulator,
    path: &str,
    form: &[(&str, &str)],
) -> (u16, Value) {
    let resp = reqwest::Client::new()
        .post(format!("{}{path}", s.url()))
        .form(form)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

/// R2.6: "`POST https://api.hubapi.com/oauth/v3/token`,
/// `application/x-www-form-urlencoded`. Every parameter goes in the body;
/// v1 also took query parameters." v3 ignores query parameters (so a grant
/// sent there is missing), v1 still takes them.
#[tokio::test]
async fn v3_token_endpoint_takes_every_parameter_in_the_body() {
    let s = sim(false).await;
    let (status, body) = token_call(
        &s,
        "/oauth/v3/token",
        &[
            ("grant_type", "refresh_token"),
            ("client_id", "sim-client"),
            ("client_secret", "sim-secret"),
            ("refresh_token", "rt-first"),
        ],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["expires_in"], 1800);
    assert_eq!(body["hub_id"], 62515);
    let rotated = body["refresh_token"].as_str().unwrap().to_owned();
    let query = format!(
        "/oauth/v3/token?grant_type=refresh_token&client_id=sim-client&client_secret=sim-secret&refresh_token={rotated}"
    );
    let (status, body) = token_call(&s, &query, &[]).await;
    assert_eq!(status, 400, "v3 reads no query parameters: {body}");
    assert_eq!(body["status"], "BAD_GRANT_TYPE");
    let query = query.replace("/v3/", "/v1/");
    let (status, _) = token_call(&s, &query, &[]).await;
    assert_eq!(status, 200, "v1 still takes query parameters");
}

/// R2.6: a bad, expired or revoked refresh token is "HTTP 400 … `{"error":
/// "invalid_grant", "error_description": "refresh token is invalid, expired
/// or revoked", "status": "BAD_REFRESH_TOKEN", "message": …}`"; "Older bodies
/// carried only `{"status":"BAD_REFRESH_TOKEN","message":"missing or invalid
/// refresh token"}`"; "A live capture reported `error:"invalid_request"`
/// alongside `BAD_REFRESH_TOKEN`"; `BAD_HUB` comes with
/// `error:"access_denied"`; `BAD_CLIENT_ID` with `error:"invalid_client"`.
/// Each shape is selectable through the control surface.
#[tokio::test]
async fn every_refusal_shape_is_selectable() {
    let s = sim(false).await;
    let form = [
        ("grant_type", "refresh_token"),
        ("client_id", "sim-client"),
        ("client_secret", "sim-secret"),
        ("refresh_token", "never-issued"),
    ];
    let (status, body) = token_call(&s, "/oauth/v3/token", &form).await;
    assert_eq!(status, 400);
    assert_eq!(body["error"], "invalid_grant");
    assert_eq!(body["status"], "BAD_REFRESH_TOKEN");
    assert_eq!(
        body["error_description"],
        "refresh token is invalid, expired or revoked"
    );
    let cases = [
        ("legacy", None, "BAD_REFRESH_TOKEN"),
        (
            "invalid_request",
            Some("invalid_request"),
            "BAD_REFRESH_TOKEN",
        ),
        ("bad_hub", Some("access_denied"), "BAD_HUB"),
        ("bad_client_id", Some("invalid_client"), "BAD_CLIENT_ID"),
    ];
    let good = [
        ("grant_type", "refresh_token"),
        ("client_id", "sim-client"),
        ("client_secret", "sim-secret"),
        ("refresh_token", "rt-first"),
    ];
    for (shape, error, status_field) in cases {
        s.control.tokens().set_refusal(Some(shape.into()));
        let (status, body) = token_call(&s, "/oauth/v1/token", &good).await;
        assert_eq!(status, 400, "{shape}");
        assert_eq!(body["status"], status_field, "{shape}");
        assert_eq!(body.get("error").and_then(Value::as_str), error, "{shape}");
    }
    // Over the HTTP control surface too; clearing it lets the grant through.
    let resp = reqwest::Client::new()
        .post(format!("{}/__sim/tokens/refuse", s.url()))
        .json(&json!({"shape": null}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 204);
    let (status, _) = token_call(&s, "/oauth/v1/token", &good).await;
    assert_eq!(status, 200);
}

fn contact(email: &str, extra: Value) -> Value {
    let mut props = json!({ "email": email });
    if let (Some(p), Some(e)) = (props.as_object_mut(), extra.as_object()) {
        p.extend(e.clone());
    }
    json!({ "properties": props })
}

/// R2.8: "Without trace ids, one bad input fails the whole request"; an
/// existing email gives "409 `{"status":"error","message":"Contact already
/// exists. Existing ID: <id>", …,"category":"CONFLICT"}`. Only the first
/// conflicting contact is named"; "Two inputs with the same email in one
/// create batch also give 409"; a bad property gives "400
/// `VALIDATION_ERROR`, e.g. `PROPERTY_DOESNT_EXIST` in `errors[].code`".
/// Nothing is written.
#[tokio::test]
async fn untraced_create_batches_fail_whole() {
    let s = sim(false).await;
    let ids = insert(
        &s,
        json!([{"email": "a@x.example"}, {"email": "b@x.example"}]),
    );
    let path = "/crm/v3/objects/contacts/batch/create";
    let (status, body) = call(
        &s,
        "POST",
        path,
        Some(json!({"inputs": [
            contact("new1@x.example", json!({})),
            contact("b@x.example", json!({})),
            contact("a@x.example", json!({})),
        ]})),
    )
    .await;
    assert_eq!(status, 409);
    assert_eq!(body["category"], "CONFLICT");
    assert_eq!(
        body["message"],
        format!("Contact already exists. Existing ID: {}", ids[1])
    );
    let (status, body) = call(
        &s,
        "POST",
        path,
        Some(json!({"inputs": [contact("twin@x.example", json!({})), contact("TWIN@x.example", json!({}))]})),
    )
    .await;
    assert_eq!((status, body["category"].as_str()), (409, Some("CONFLICT")));
    let (status, body) = call(
        &s,
        "POST",
        path,
        Some(json!({"inputs": [contact("ok@x.example", json!({})), contact("c@x.example", json!({"nosuch": "1"}))]})),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(body["category"], "VALIDATION_ERROR");
    assert_eq!(body["errors"][0]["code"], "PROPERTY_DOESNT_EXIST");
    assert_eq!(s.control.count("contacts"), 2, "nothing was written");
}

/// R2.8: "207 Multi-Status applies only to batch create, and only when every
/// input carries a unique `objectWriteTraceId`. Successes land in
/// `results[]`. Failures land in `errors[]` with
/// `context.objectWriteTraceId:[...]`, plus `numErrors`."
#[tokio::test]
async fn traced_create_batches_answer_per_record() {
    let s = sim(false).await;
    insert(&s, json!([{"email": "a@x.example"}]));
    let traced = |email: &str, trace: &str, extra: Value| {
        let mut c = contact(email, extra);
        c["objectWriteTraceId"] = json!(trace);
        c
    };
    let (status, body) = call(
        &s,
        "POST",
        "/crm/v3/objects/contacts/batch/create",
        Some(json!({"inputs": [
            traced("n1@x.example", "t1", json!({})),
            traced("a@x.example", "t2", json!({})),
            traced("n3@x.example", "t3", json!({"lifecyclestage": "nope"})),
        ]})),
    )
    .await;
    assert_eq!(status, 207, "{body}");
    assert_eq!(body["numErrors"], 2);
    assert_eq!(body["results"][0]["objectWriteTraceId"], "t1");
    let traces: Vec<&Value> = body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| &e["context"]["objectWriteTraceId"][0])
        .collect();
    assert_eq!(traces, vec![&json!("t2"), &json!("t3")]);
    assert_eq!(s.control.count("contacts"), 2);
    // Trace ids on some inputs only: the whole batch fails.
    let (status, _) = call(
        &s,
        "POST",
        "/crm/v3/objects/contacts/batch/create",
        Some(json!({"inputs": [traced("n4@x.example", "t4", json!({})), contact("a@x.example", json!({}))]})),
    )
    .await;
    assert_eq!(status, 409);
    assert_eq!(s.control.count("contacts"), 2);
}

/// R2.8: "Duplicate ids inside one batch (read/update/upsert/archive with
/// the same `id` or `idProperty` value twice): 400 `{"status":"error",
/// "message":"Duplicate IDs found in batch input: [12877907025]. IDs must be
/// unique", …,"context":{"ids":["12877907025"]},"category":
/// "VALIDATION_ERROR"}`"; "Batch **update** accepts record ids only"; and
/// "Partial upserts are not supported with `idProperty=email`".
#[tokio::test]
async fn duplicate_ids_and_update_keys_are_refused_whole() {
    let s = sim(false).await;
    let ids = insert(&s, json!([{"email": "a@x.example"}]));
    for op in ["read", "update", "upsert", "archive"] {
        let input =
            json!({"id": ids[0], "properties": {"firstname": "X"}, "objectWriteTraceId": "t"});
        let (status, body) = call(
            &s,
            "POST",
            &format!("/crm/v3/objects/contacts/batch/{op}"),
            Some(json!({"inputs": [input.clone(), input]})),
        )
        .await;
        assert_eq!(status, 400, "{op}: {body}");
        assert_eq!(
            body["message"],
            format!(
                "Duplicate IDs found in batch input: [{}]. IDs must be unique",
                ids[0]
            )
        );
        assert_eq!(body["context"]["ids"][0], ids[0]);
    }
    let (status, body) = call(
        &s,
        "POST",
        "/crm/v3/objects/contacts/batch/update",
        Some(json!({"inputs": [{"id": "a@x.example", "idProperty": "email", "properties": {"firstname": "X"}}]})),
    )
    .await;
    assert_eq!(status, 400);
    assert!(body["message"]
        .as_str()
        .unwrap()
        .starts_with("Unable to perform update/upsert by non-unique 0-1 property email"));
    // An upsert by email with one bad input writes nothing, trace ids or not.
    let up = |email: &str, stage: &str, t: &str| json!({"id": email, "idProperty": "email", "properties": {"lifecyclestage": stage}, "objectWriteTraceId": t});
    let (status, _) = call(
        &s,
        "POST",
        "/crm/v3/objects/contacts/batch/upsert",
        Some(
            json!({"inputs": [up("new@x.example", "lead", "1"), up("bad@x.example", "nope", "2")]}),
        ),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(s.control.count("contacts"), 1);
}

/// §1 Rate limits: "Daily limits reset at midnight in the account's time
/// zone." The account's zone is what `GET /account-info/v3/details` says
/// (`timeZone`, with `portalId`, `utcOffset`, `utcOffsetMilliseconds`…):
/// midnight UTC resets nothing, midnight in US/Eastern does.
#[tokio::test]
async fn the_daily_limit_resets_at_the_accounts_midnight() {
    let s = sim(false).await;
    let clock = s.control.clock();
    clock.freeze_at("2026-01-14T23:59:30Z".parse().unwrap());
    let (status, body) = call(&s, "GET", "/account-info/v3/details", None).await;
    assert_eq!(status, 200);
    assert_eq!(body["timeZone"], "US/Eastern");
    assert_eq!(body["portalId"], 62515);
    assert_eq!(body["utcOffset"], "-05:00");
    assert_eq!(body["utcOffsetMilliseconds"], -18_000_000);
    s.control.set_daily_limit(Some(2));
    let (status, _) = call(&s, "GET", "/crm/v3/objects/contacts", None).await;
    assert_eq!(
        status, 200,
        "the details call and this one use the day's two"
    );
    let (status, body) = call(&s, "GET", "/crm/v3/objects/contacts", None).await;
    assert_eq!((status, body["policyName"].as_str()), (429, Some("DAILY")));
    clock.advance(std::time::Duration::from_secs(60));
    let (status, _) = call(&s, "GET", "/crm/v3/objects/contacts", None).await;
    assert_eq!(
        status, 429,
        "00:00:30 UTC is still yesterday evening in New York"
    );
    clock.freeze_at("2026-01-15T05:00:00Z".parse().unwrap());
    let (status, _) = call(&s, "GET", "/crm/v3/objects/contacts", None).await;
    assert_eq!(status, 200, "midnight in New York starts a new day");
}

/// R2.5: "**Search** is a separate bucket: **5 requests/s per account**",
/// metered in a rolling second: a burst of 5 then a sixth call 200 ms later
/// (the pace of a 5-per-second token bucket) is refused with HubSpot's
/// secondly 429, and the refusal is counted as rate-limited.
#[tokio::test]
async fn a_bucket_paced_sixth_search_breaks_the_rolling_second() {
    let s = sim(true).await;
    for _ in 0..5 {
        let (status, _) = call(
            &s,
            "POST",
            "/crm/v3/objects/contacts/search",
            Some(json!({})),
        )
        .await;
        assert_eq!(status, 200);
    }
    // Not synchronisation: the gap a token bucket would leave.
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let (status, body) = call(
        &s,
        "POST",
        "/crm/v3/objects/contacts/search",
        Some(json!({})),
    )
    .await;
    assert_eq!(status, 429);
    assert_eq!(body["message"], "You have reached your secondly limit.");
    assert_eq!(
        s.control
            .requests()
            .rate_limited_counts()
            .get("POST /crm/v3/objects/contacts/search"),
        Some(&1)
    );
}

/// Owners guide: `GET /crm/v3/owners` lists the users who can own records,
/// `archived=true` only the deactivated ones; `id` is what
/// `hubspot_owner_id` holds, `userId` the user's own id.
#[tokio::test]
async fn owners_list_active_or_only_archived() {
    let s = sim(false).await;
    let (status, body) = call(&s, "GET", "/crm/v3/owners?limit=2", None).await;
    assert_eq!(status, 200);
    assert_eq!(body["results"].as_array().unwrap().len(), 2);
    let after = body["paging"]["next"]["after"].as_str().unwrap().to_owned();
    let (_, body) = call(
        &s,
        "GET",
        &format!("/crm/v3/owners?limit=2&after={after}"),
        None,
    )
    .await;
    assert_eq!(body["results"].as_array().unwrap().len(), 1);
    assert!(body.get("paging").is_none());
    let (_, body) = call(&s, "GET", "/crm/v3/owners?archived=true", None).await;
    let archived = body["results"].as_array().unwrap();
    assert_eq!(archived.len(), 1);
    assert_eq!(archived[0]["archived"], true);
}

/// R2.7: "The merge creates a **new record with a new id**; both old ids
/// point at it"; "`GET /crm/v3/objects/contacts/{oldId}` returns **200 with
/// the merged record, whose `id` differs from the requested id**"; "The
/// primary record's current values win"; "`hs_merged_object_ids` holds the
/// old ids"; "**Single** `PATCH …/{oldId}` accepts a merged-away id;
/// **batch/update does not**"; GDPR delete "returns **204**", the contact
/// "cannot be restored", and its email is blocklisted.
#[tokio::test]
async fn merges_make_a_new_record_and_gdpr_deletes_for_good() {
    let s = sim(false).await;
    let ids = insert(
        &s,
        json!([
            {"email": "p@x.example", "firstname": "Primary"},
            {"email": "o@x.example", "firstname": "Other", "jobtitle": "CTO"}
        ]),
    );
    let (status, merged) = call(
        &s,
        "POST",
        "/crm/v3/objects/contacts/merge",
        Some(json!({"primaryObjectId": ids[0], "objectIdToMerge": ids[1]})),
    )
    .await;
    assert_eq!(status, 200, "{merged}");
    let new_id = merged["id"].as_str().unwrap().to_owned();
    assert!(new_id != ids[0] && new_id != ids[1]);
    let (status, got) = call(
        &s,
        "GET",
        &format!(
            "/crm/v3/objects/contacts/{}?properties=firstname,jobtitle,hs_merged_object_ids",
            ids[1]
        ),
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(got["id"], new_id.as_str());
    assert_eq!(got["properties"]["firstname"], "Primary");
    assert_eq!(got["properties"]["jobtitle"], "CTO");
    assert_eq!(
        got["properties"]["hs_merged_object_ids"],
        format!("{};{}", ids[0], ids[1])
    );
    let (status, patched) = call(
        &s,
        "PATCH",
        &format!("/crm/v3/objects/contacts/{}", ids[0]),
        Some(json!({"properties": {"lastname": "Kept"}})),
    )
    .await;
    assert_eq!(
        (status, patched["id"].as_str()),
        (200, Some(new_id.as_str()))
    );
    let (status, body) = call(
        &s,
        "POST",
        "/crm/v3/objects/contacts/batch/update",
        Some(json!({"inputs": [{"id": ids[0], "properties": {"lastname": "X"}, "objectWriteTraceId": "1"}]})),
    )
    .await;
    assert_eq!(status, 207, "{body}");
    assert_eq!(body["errors"][0]["category"], "OBJECT_NOT_FOUND");
    let (status, body) = call(
        &s,
        "POST",
        "/crm/v3/objects/contacts/batch/read",
        Some(json!({"inputs": [{"id": ids[1]}], "properties": ["email"], "propertiesWithHistory": []})),
    )
    .await;
    assert_eq!(
        (status, body["results"][0]["id"].as_str()),
        (200, Some(new_id.as_str()))
    );
    assert_eq!(s.control.count("contacts"), 1);

    let (status, _) = call(
        &s,
        "POST",
        "/crm/v3/objects/contacts/gdpr-delete",
        Some(json!({"objectId": new_id})),
    )
    .await;
    assert_eq!(status, 204);
    assert_eq!(s.control.count("contacts"), 0);
    let (status, _) = call(
        &s,
        "GET",
        &format!("/crm/v3/objects/contacts/{new_id}?archived=true"),
        None,
    )
    .await;
    assert_eq!(status, 404, "not in the recycle bin");
    let (status, body) = call(
        &s,
        "POST",
        "/crm/v3/objects/contacts",
        Some(json!({"properties": {"email": "P@x.example"}})),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(body["errors"][0]["code"], "GDPR_BLACKLISTED_EMAIL");
}
