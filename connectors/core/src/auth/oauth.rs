//! OAuth2 access tokens refreshed ahead of expiry, once more on a 401, with
//! rotated refresh tokens handed to the engine to persist.
//!
//! The token request is a plain form POST read by [`read_token_response`]
//! rather than through the `oauth2` crate: vendors refuse a grant in bodies
//! that crate cannot parse (HubSpot's legacy `{"status":"BAD_REFRESH_TOKEN",
//! "message":…}` has no RFC 6749 `error` field), and a token response
//! carries fields a connector needs (Salesforce's `instance_url`) that the
//! crate drops.

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Map, Value};
use tokio::sync::Mutex;
use tracing::{debug, info};

use super::TokenSource;
use crate::error::{ConnectorError, ConnectorResult};
use crate::http::retry_after_seconds;

/// Receives a refresh token the vendor rotated, so the engine can persist it
/// before the old one stops working. Must not log the token.
pub trait RefreshTokenSink: Send + Sync {
    /// Stores the new refresh token; an error is logged (without the token)
    /// and the in-memory token is used until the next rotation.
    fn rotated(&self, refresh_token: &SecretString) -> Result<(), String>;
}

/// How the client authenticates to the token endpoint (RFC 6749 §2.3.1).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ClientAuth {
    /// `client_id` and `client_secret` in the form body (Salesforce, HubSpot).
    #[default]
    RequestBody,
    /// HTTP Basic `client_id:client_secret`, required by Pipedrive's token endpoint.
    BasicHeader,
}

/// How to obtain tokens.
#[derive(Clone)]
pub enum OAuth2Grant {
    /// The refresh-token grant, starting from this refresh token.
    RefreshToken(SecretString),
    /// The client-credentials grant (server-to-server apps).
    ClientCredentials,
}

/// An OAuth2 client's settings.
#[derive(Clone)]
pub struct OAuth2Settings {
    /// The token endpoint.
    pub token_url: String,
    /// The client id (not a secret, but never logged with the secret).
    pub client_id: String,
    /// The client secret.
    pub client_secret: SecretString,
    /// The grant to use.
    pub grant: OAuth2Grant,
    /// Scopes to ask for with client credentials.
    pub scopes: Vec<String>,
    /// How long a token lives when the response has no `expires_in`
    /// (Salesforce sends none: the session timeout applies).
    pub default_lifetime: Duration,
    /// Refresh this long before the expiry, so no request carries a token
    /// that expires in flight.
    pub refresh_margin: Duration,
    /// The connector's kind (`hubspot`, `salesforce`), named in the message
    /// of a revoked grant so a person knows which `leadbridge auth` to run.
    pub connector_kind: String,
    /// Where the client credentials go in token requests.
    pub client_auth: ClientAuth,
}

struct Current {
    access: Option<(SecretString, Instant)>,
    refresh: Option<SecretString>,
}

/// Access tokens for one connector from an OAuth2 token endpoint.
pub struct OAuth2Token {
    http: reqwest::Client,
    settings: OAuth2Settings,
    current: Mutex<Current>,
    /// The non-secret fields of the latest successful token response.
    fields: std::sync::Mutex<Option<Map<String, Value>>>,
    sink: Option<Arc<dyn RefreshTokenSink>>,
}

/// A successful token response, read.
#[derive(Debug)]
pub struct TokenGrant {
    /// The access token.
    pub access_token: SecretString,
    /// `expires_in`, when the vendor sent it (as a number or a numeric string).
    pub expires_in: Option<Duration>,
    /// A refresh token, when the vendor sent one.
    pub refresh_token: Option<SecretString>,
    /// Every other field (`instance_url`, `hub_id`, `scopes`, `token_type`…),
    /// without the tokens themselves (`id_token` is dropped too).
    pub fields: Map<String, Value>,
}

/// Reads a token endpoint's answer into a grant or an error by meaning:
///
/// - 2xx with an `access_token` → the grant (a 2xx without one, or not
///   JSON, is a garbled answer: retryable);
/// - 429 and 5xx → [`ConnectorError::Retryable`] (honouring `Retry-After`);
/// - a refused grant → [`ConnectorError::Unauthorized`], whose message says
///   how to re-authenticate: RFC 6749 `error: invalid_grant` (Salesforce,
///   HubSpot since Jan 2026), or HubSpot's `status` `BAD_REFRESH_TOKEN` /
///   `BAD_HUB` whatever `error` says beside it (older bodies have no `error`
///   at all; a live capture showed `invalid_request` beside
///   `BAD_REFRESH_TOKEN`: SEMANTICS.md R2.6);
/// - `invalid_client`, HubSpot's `BAD_CLIENT_*`, and any other 4xx → fatal:
///   the app is misconfigured (client id, secret, redirect, scopes), which no
///   re-authentication fixes;
/// - 401/403 without a readable reason → unauthorized.
///
/// Messages carry the vendor's codes and descriptions, never a token.
pub fn read_token_response(
    status: u16,
    retry_after: Option<&str>,
    body: &[u8],
    connector_kind: &str,
) -> ConnectorResult<TokenGrant> {
    let json: Option<Map<String, Value>> = serde_json::from_slice(body).ok();
    if (200..300).contains(&status) {
        return json
            .and_then(grant_from)
            .ok_or_else(|| ConnectorError::Retryable {
                message: format!(
                    "token endpoint answered HTTP {status} without a readable access token"
                ),
                retry_after: None,
            });
    }
    if status == 429 || status >= 500 {
        return Err(ConnectorError::Retryable {
            message: format!("token endpoint answered HTTP {status}"),
            retry_after: retry_after_seconds(retry_after),
        });
    }
    let json = json.unwrap_or_default();
    let text = |k: &str| json.get(k).and_then(Value::as_str).unwrap_or_default();
    let (error, vendor_status) = (text("error"), text("status"));
    let description = [text("error_description"), text("message")]
        .into_iter()
        .find(|s| !s.is_empty())
        .unwrap_or_default();
    let codes: Vec<&str> = [error, vendor_status]
        .into_iter()
        .filter(|s| !s.is_empty())
        .collect();
    let what = if codes.is_empty() {
        format!("HTTP {status}")
    } else {
        format!("HTTP {status} {}", codes.join("/"))
    };
    let what = if description.is_empty() {
        what
    } else {
        format!("{what}: {description}")
    };
    let revoked =
        matches!(vendor_status, "BAD_REFRESH_TOKEN" | "BAD_HUB") || error == "invalid_grant";
    let misconfigured = error == "invalid_client" || vendor_status.starts_with("BAD_CLIENT");
    if revoked && !misconfigured {
        return Err(ConnectorError::Unauthorized {
            message: format!(
                "the token endpoint refused the grant ({what}); the app's access was revoked or \
                 expired: re-authenticate: `leadbridge auth {connector_kind}`"
            ),
        });
    }
    if !misconfigured && codes.is_empty() && matches!(status, 401 | 403) {
        return Err(ConnectorError::Unauthorized {
            message: format!(
                "the token endpoint refused the credentials ({what}); re-authenticate: \
                 `leadbridge auth {connector_kind}`"
            ),
        });
    }
    Err(ConnectorError::fatal(format!(
        "the token endpoint refused the app's request ({what}); check the connector's \
         client_id, client_secret and token_url"
    )))
}

fn grant_from(mut json: Map<String, Value>) -> Option<TokenGrant> {
    let access_token = match json.remove("access_token")? {
        Value::String(s) if !s.is_empty() => SecretString::from(s),
        _ => return None,
    };
    let refresh_token = match json.remove("refresh_token") {
        Some(Value::String(s)) if !s.is_empty() => Some(SecretString::from(s)),
        _ => None,
    };
    json.remove("id_token");
    let expires_in = match json.get("expires_in") {
        Some(Value::Number(n)) => n.as_f64(),
        Some(Value::String(s)) => s.trim().parse().ok(),
        _ => None,
    }
    .filter(|s| s.is_finite() && *s > 0.0)
    .map(Duration::from_secs_f64);
    Some(TokenGrant {
        access_token,
        expires_in,
        refresh_token,
        fields: json,
    })
}

impl OAuth2Token {
    /// A token source; `sink` receives rotated refresh tokens.
    pub fn new(
        settings: OAuth2Settings,
        sink: Option<Arc<dyn RefreshTokenSink>>,
    ) -> ConnectorResult<Self> {
        url::Url::parse(&settings.token_url).map_err(|e| {
            ConnectorError::fatal(format!(
                "invalid OAuth2 token URL {}: {e}",
                settings.token_url
            ))
        })?;
        let http = reqwest::Client::builder()
            // The token endpoint must never redirect us: a redirect would
            // carry the client secret and refresh token elsewhere.
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(30))
            .build()
            .map_err(|e| ConnectorError::fatal(format!("cannot build HTTP client: {e}")))?;
        let refresh = match &settings.grant {
            OAuth2Grant::RefreshToken(t) => Some(t.clone()),
            OAuth2Grant::ClientCredentials => None,
        };
        Ok(Self {
            http,
            settings,
            current: Mutex::new(Current {
                access: None,
                refresh,
            }),
            fields: std::sync::Mutex::new(None),
            sink,
        })
    }

    /// The non-secret fields of the latest successful token response
    /// (Salesforce's `instance_url`, HubSpot's `hub_id`), `None` before the
    /// first one.
    pub fn latest_fields(&self) -> Option<Map<String, Value>> {
        self.fields
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Asks the token endpoint for a new access token. Holding the lock makes
    /// concurrent callers share one refresh instead of racing (a rotated
    /// refresh token may be used only once).
    async fn fetch(&self, current: &mut Current) -> ConnectorResult<()> {
        let s = &self.settings;
        let mut form: Vec<(&str, String)> = match s.client_auth {
            ClientAuth::RequestBody => vec![
                ("client_id", s.client_id.clone()),
                ("client_secret", s.client_secret.expose_secret().to_owned()),
            ],
            ClientAuth::BasicHeader => Vec::new(),
        };
        match &current.refresh {
            Some(refresh) => {
                form.push(("grant_type", "refresh_token".into()));
                form.push(("refresh_token", refresh.expose_secret().to_owned()));
            }
            None => {
                form.push(("grant_type", "client_credentials".into()));
                if !s.scopes.is_empty() {
                    form.push(("scope", s.scopes.join(" ")));
                }
            }
        }
        let mut request = self
            .http
            .post(&s.token_url)
            .header(reqwest::header::ACCEPT, "application/json");
        if s.client_auth == ClientAuth::BasicHeader {
            request = request.basic_auth(&s.client_id, Some(s.client_secret.expose_secret()));
        }
        let response = request
            .form(&form)
            .send()
            .await
            .map_err(|e| ConnectorError::Retryable {
                message: format!("token endpoint unreachable: {}", e.without_url()),
                retry_after: None,
            })?;
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let body = response
            .bytes()
            .await
            .map_err(|e| ConnectorError::Retryable {
                message: format!("token endpoint dropped the connection: {}", e.without_url()),
                retry_after: None,
            })?;
        let grant =
            match read_token_response(status, retry_after.as_deref(), &body, &s.connector_kind) {
                // With the client-credentials grant the client's id and secret
                // are the credentials: refused, they are what to fix, as a
                // refused refresh token is for the other grant.
                Err(ConnectorError::Fatal { message }) if current.refresh.is_none() => {
                    return Err(ConnectorError::Unauthorized { message })
                }
                other => other?,
            };
        let lifetime = grant.expires_in.unwrap_or(s.default_lifetime);
        current.access = Some((grant.access_token, Instant::now() + lifetime));
        *self.fields.lock().unwrap_or_else(|e| e.into_inner()) = Some(grant.fields);
        if let Some(new_refresh) = grant.refresh_token {
            let changed = current
                .refresh
                .as_ref()
                .is_none_or(|old| old.expose_secret() != new_refresh.expose_secret());
            if changed {
                if let Some(sink) = &self.sink {
                    if let Err(e) = sink.rotated(&new_refresh) {
                        tracing::error!(error = %e, "could not persist the rotated refresh token");
                    }
                }
                info!("refresh token rotated by the vendor; handed over for persistence");
                current.refresh = Some(new_refresh);
            }
        }
        debug!(
            lifetime_s = lifetime.as_secs(),
            "obtained a new access token"
        );
        Ok(())
    }
}

#[async_trait]
impl TokenSource for OAuth2Token {
    async fn access_token(&self) -> ConnectorResult<SecretString> {
        let mut current = self.current.lock().await;
        let fresh = current
            .access
            .as_ref()
            .is_some_and(|(_, exp)| Instant::now() + self.settings.refresh_margin < *exp);
        if !fresh {
            self.fetch(&mut current).await?;
        }
        current
            .access
            .as_ref()
            .map(|(t, _)| t.clone())
            .ok_or_else(|| ConnectorError::Retryable {
                message: "the token endpoint gave no access token".into(),
                retry_after: None,
            })
    }

    async fn refresh_after_unauthorized(&self, rejected: &SecretString) -> ConnectorResult<bool> {
        let mut current = self.current.lock().await;
        // Another request may already have refreshed since `rejected` was handed out.
        let already = current
            .access
            .as_ref()
            .is_some_and(|(t, _)| t.expose_secret() != rejected.expose_secret());
        if !already {
            self.fetch(&mut current).await?;
        }
        Ok(true)
    }

    fn response_fields(&self) -> Option<Map<String, Value>> {
        self.latest_fields()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(status: u16, body: &str) -> ConnectorResult<TokenGrant> {
        read_token_response(status, None, body.as_bytes(), "hubspot")
    }

    fn assert_revoked(result: ConnectorResult<TokenGrant>) {
        match result {
            Err(ConnectorError::Unauthorized { message }) => {
                assert!(
                    message.contains("re-authenticate: `leadbridge auth hubspot`"),
                    "{message}"
                )
            }
            other => panic!("expected unauthorized, got {other:?}"),
        }
    }

    #[test]
    fn every_refused_refresh_shape_is_unauthorized_with_the_way_back() {
        // HubSpot since Jan 2026: RFC 6749 fields beside the legacy ones.
        assert_revoked(read(
            400,
            r#"{"error":"invalid_grant","error_description":"refresh token is invalid, expired or revoked","status":"BAD_REFRESH_TOKEN","message":"refresh token is invalid, expired or revoked"}"#,
        ));
        // HubSpot's legacy body: no RFC `error` at all.
        assert_revoked(read(
            400,
            r#"{"status":"BAD_REFRESH_TOKEN","message":"missing or invalid refresh token"}"#,
        ));
        // A deleted or disconnected portal.
        assert_revoked(read(
            400,
            r#"{"status":"BAD_HUB","message":"missing or unknown hub id"}"#,
        ));
        // A live capture: `invalid_request` beside BAD_REFRESH_TOKEN.
        assert_revoked(read(
            400,
            r#"{"error":"invalid_request","status":"BAD_REFRESH_TOKEN","message":"missing or unknown refresh token"}"#,
        ));
        // Salesforce.
        assert_revoked(read(
            400,
            r#"{"error":"invalid_grant","error_description":"expired access/refresh token"}"#,
        ));
    }

    #[test]
    fn misconfiguration_is_fatal_and_passing_failures_retryable() {
        for body in [
            r#"{"error":"invalid_client","status":"BAD_CLIENT_ID","message":"missing or unknown client id"}"#,
            r#"{"status":"BAD_CLIENT_SECRET","message":"bad secret"}"#,
            r#"{"error":"invalid_client","error_description":"invalid client credentials"}"#,
        ] {
            assert!(
                matches!(read(400, body), Err(ConnectorError::Fatal { .. })),
                "{body}"
            );
        }
        let limited = read_token_response(429, Some("3"), b"{}", "hubspot");
        assert!(
            matches!(limited, Err(ConnectorError::Retryable { retry_after: Some(d), .. }) if d == Duration::from_secs(3))
        );
        assert!(matches!(
            read(502, "<html>"),
            Err(ConnectorError::Retryable { .. })
        ));
        assert!(matches!(
            read(200, r#"{"token_type":"bearer"}"#),
            Err(ConnectorError::Retryable { .. })
        ));
    }

    #[test]
    fn a_grant_keeps_its_extra_fields_but_not_its_tokens() {
        let g = read(
            200,
            r#"{"access_token":"at","refresh_token":"rt","id_token":"x","expires_in":"1800","instance_url":"https://eu1.example","hub_id":62515}"#,
        )
        .unwrap();
        assert_eq!(g.access_token.expose_secret(), "at");
        assert_eq!(g.refresh_token.unwrap().expose_secret(), "rt");
        assert_eq!(g.expires_in, Some(Duration::from_secs(1800)));
        assert_eq!(g.fields["instance_url"], "https://eu1.example");
        assert_eq!(g.fields["hub_id"], 62515);
        assert!(!g.fields.contains_key("access_token") && !g.fields.contains_key("id_token"));
    }

    /// A connector can read what the vendor said beside the token
    /// (Salesforce's `instance_url`) from the token source it was given.
    #[tokio::test]
    async fn the_latest_response_fields_are_readable_through_the_source() {
        use axum::routing::post;
        let app = axum::Router::new().route(
            "/token",
            post(|| async {
                axum::Json(serde_json::json!({
                    "access_token": "at-1",
                    "instance_url": "https://na1.example",
                    "token_type": "Bearer",
                }))
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/token", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        let source: Arc<dyn TokenSource> = Arc::new(
            OAuth2Token::new(
                OAuth2Settings {
                    token_url: url,
                    client_id: "c".into(),
                    client_secret: SecretString::from("s"),
                    grant: OAuth2Grant::RefreshToken(SecretString::from("rt")),
                    scopes: Vec::new(),
                    default_lifetime: Duration::from_secs(7200),
                    refresh_margin: Duration::from_secs(60),
                    connector_kind: "salesforce".into(),
                    client_auth: ClientAuth::RequestBody,
                },
                None,
            )
            .unwrap(),
        );
        assert!(source.response_fields().is_none());
        assert_eq!(source.access_token().await.unwrap().expose_secret(), "at-1");
        let fields = source.response_fields().unwrap();
        assert_eq!(fields["instance_url"], "https://na1.example");
        assert!(!fields.contains_key("access_token"));
    }
}
