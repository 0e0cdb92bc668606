//! Pipedrive's OAuth server (`oauth.pipedrive.com`): `POST /oauth/token`
//! and `GET /oauth/authorize`
//! (pipedrive.readme.io/docs/marketplace-oauth-authorization).
//!
//! The token endpoint takes the client credentials only as HTTP Basic
//! (`pipedrive/client-nodejs` `src/ApiClient.js` `authorize`/`refreshToken`
//! send nothing else); the form carries `grant_type`, `refresh_token` or
//! `code`/`redirect_uri` (and `code_verifier` with PKCE). Answers are RFC
//! 6749 JSON with `api_domain`, the company's API host.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use base64::Engine;
use serde_json::json;

use super::Sim;

/// The OAuth routes.
pub(crate) fn router() -> Router<Arc<Sim>> {
    Router::new()
        .route("/oauth/token", post(token))
        .route("/oauth/authorize", get(authorize))
}

fn oauth_error(status: StatusCode, code: &str, description: &str) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        json!({"error": code, "error_description": description}).to_string(),
    )
        .into_response()
}

fn basic(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Basic ")?;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(value.trim())
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (id, secret) = text.split_once(':')?;
    let unescape = |s: &str| {
        url::form_urlencoded::parse(format!("x={s}").as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default()
    };
    Some((unescape(id), unescape(secret)))
}

async fn token(State(sim): State<Arc<Sim>>, headers: HeaderMap, body: Bytes) -> Response {
    let form: Vec<(String, String)> = url::form_urlencoded::parse(&body).into_owned().collect();
    let field = |k: &str| form.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    let Some((client_id, client_secret)) = basic(&headers) else {
        return oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "Client authentication failed: the Authorization header must be Basic base64(client_id:client_secret)",
        );
    };
    let issued = match field("grant_type").unwrap_or_default() {
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
        _ => {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                "Unsupported grant type",
            )
        }
    };
    match issued {
        Ok(i) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "application/json")],
            json!({
                "access_token": i.access_token,
                "token_type": "Bearer",
                "refresh_token": i.refresh_token,
                "scope": crate::config::DEFAULT_SCOPES.join(" "),
                "expires_in": i.expires_in.as_secs(),
                "api_domain": sim.base_url(),
            })
            .to_string(),
        )
            .into_response(),
        Err(e) if e.code() == "invalid_client" => oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "Invalid client credentials",
        ),
        Err(_) => oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "Invalid grant: refresh token or authorization code is invalid",
        ),
    }
}

/// The consent step: the simulated user always allows; redirects to
/// `redirect_uri` with `code` (and `state`).
async fn authorize(
    State(sim): State<Arc<Sim>>,
    Query(q): Query<Vec<(String, String)>>,
) -> Response {
    let field = |k: &str| q.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    let Some(redirect_uri) = field("redirect_uri") else {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "redirect_uri is required",
        );
    };
    if field("code_challenge").is_some() && field("code_challenge_method") != Some("S256") {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "code_challenge_method must be S256",
        );
    }
    let Ok(code) = sim.tokens.authorize(
        field("client_id").unwrap_or_default(),
        redirect_uri,
        field("code_challenge"),
    ) else {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_client",
            "Unknown client_id",
        );
    };
    let Ok(mut target) = url::Url::parse(redirect_uri) else {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "redirect_uri is not a URL",
        );
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
