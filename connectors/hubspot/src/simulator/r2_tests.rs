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
    let _ = (call, insert);
}
