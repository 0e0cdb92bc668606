//! Salesforce's OAuth2 endpoints: `/services/oauth2/token`, `authorize`
//! and `revoke`. Token responses carry no `expires_in` (Salesforce sends
//! none) and name the simulator as `instance_url`.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use base64::Engine;
use hmac::{Hmac, Mac};
use serde_json::{json, Map, Value};
use sha2::Sha256;

use super::api::{identity_url, json_response};
use super::Sim;

/// The OAuth2 routes.
pub(crate) fn router() -> Router<Arc<Sim>> {
    Router::new()
        .route("/services/oauth2/token", post(token))
        .route("/services/oauth2/authorize", get(authorize))
        .route("/services/oauth2/revoke", post(revoke))
}

fn oauth_error(code: &str, description: &str) -> Response {
    json_response(
        StatusCode::BAD_REQUEST,
        &json!({ "error": code, "error_description": description }),
    )
}

/// Client credentials from the form, or from HTTP Basic when the client
/// authenticates that way.
fn client(form: &[(String, String)], headers: &HeaderMap) -> (String, String) {
    let field = |k: &str| {
        form.iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    let (mut id, mut secret) = (field("client_id"), field("client_secret"));
    if let Some(basic) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
    {
        if let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(basic.trim()) {
            if let Some((i, s)) = String::from_utf8_lossy(&decoded).split_once(':') {
                let decode = |x: &str| {
                    url::form_urlencoded::parse(format!("x={x}").as_bytes())
                        .next()
                        .map(|(_, v)| v.into_owned())
                        .unwrap_or_default()
                };
                id = decode(i);
                secret = decode(s);
            }
        }
    }
    (id, secret)
}

/// `POST /services/oauth2/token`: refresh token (rotating when so
/// configured), authorization code (with PKCE) and client credentials.
async fn token(State(sim): State<Arc<Sim>>, headers: HeaderMap, body: Bytes) -> Response {
    let form: Vec<(String, String)> = url::form_urlencoded::parse(&body).into_owned().collect();
    let field = |k: &str| form.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    let (client_id, client_secret) = client(&form, &headers);
    let grant = field("grant_type").unwrap_or_default();
    let issued = match grant {
        "refresh_token" => sim.tokens.refresh(
            &client_id,
            &client_secret,
            field("refresh_token").unwrap_or_default(),
        ),
        "authorization_code" => sim.tokens.exchange_code(
            &client_id,
            &client_secret,
            field("code").unwrap_or_default(),
            field("redirect_uri").unwrap_or_default(),
            field("code_verifier"),
        ),
        "client_credentials" => sim.tokens.client_credentials(&client_id, &client_secret),
        _ => return oauth_error("unsupported_grant_type", "grant type not supported"),
    };
    let issued = match issued {
        Ok(i) => i,
        Err(e) => {
            return match e.code() {
                "invalid_client" if client_id != sim.tokens.settings().client_id => {
                    oauth_error("invalid_client_id", "client identifier invalid")
                }
                "invalid_client" => oauth_error("invalid_client", "invalid client credentials"),
                _ if grant == "authorization_code" => {
                    oauth_error("invalid_grant", "invalid authorization code")
                }
                _ => oauth_error("invalid_grant", "expired access/refresh token"),
            }
        }
    };
    let id = identity_url(&sim);
    let issued_at = sim.now_ms().to_string();
    // Salesforce signs `id + issued_at` with the client secret, so a client
    // can check the response came from the server that knows its secret.
    let signature = Hmac::<Sha256>::new_from_slice(sim.tokens.settings().client_secret.as_bytes())
        .map(|mut mac| {
            mac.update(id.as_bytes());
            mac.update(issued_at.as_bytes());
            base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
        })
        .unwrap_or_default();
    let mut out = Map::new();
    out.insert("access_token".into(), json!(issued.access_token));
    if let Some(rt) = issued.refresh_token {
        out.insert("refresh_token".into(), json!(rt));
    }
    out.insert("signature".into(), json!(signature));
    out.insert("scope".into(), json!("api refresh_token"));
    out.insert("instance_url".into(), json!(sim.base_url()));
    out.insert("id".into(), json!(id));
    out.insert("token_type".into(), json!("Bearer"));
    out.insert("issued_at".into(), json!(issued_at));
    json_response(StatusCode::OK, &Value::Object(out))
}

/// `GET /services/oauth2/authorize`: the simulated user always consents;
/// redirects to `redirect_uri` with `code` and `state`.
async fn authorize(
    State(sim): State<Arc<Sim>>,
    Query(q): Query<Vec<(String, String)>>,
) -> Response {
    let field = |k: &str| q.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    let Some(redirect_uri) = field("redirect_uri") else {
        return oauth_error(
            "redirect_uri_missing",
            "redirect_uri must match configuration",
        );
    };
    if field("response_type") != Some("code") {
        return oauth_error("unsupported_response_type", "response type not supported");
    }
    let code = match sim.tokens.authorize(
        field("client_id").unwrap_or_default(),
        redirect_uri,
        field("code_challenge"),
    ) {
        Ok(c) => c,
        Err(_) => return oauth_error("invalid_client_id", "client identifier invalid"),
    };
    let mut target = match url::Url::parse(redirect_uri) {
        Ok(u) => u,
        Err(_) => {
            return oauth_error(
                "redirect_uri_mismatch",
                "redirect_uri must match configuration",
            )
        }
    };
    {
        let mut pairs = target.query_pairs_mut();
        pairs.append_pair("code", &code);
        if let Some(state) = field("state") {
            pairs.append_pair("state", state);
        }
    }
    (StatusCode::FOUND, [(header::LOCATION, target.to_string())]).into_response()
}

/// `POST /services/oauth2/revoke`: accepted (the simulator keeps tokens
/// until they expire).
async fn revoke() -> Response {
    StatusCode::OK.into_response()
}
