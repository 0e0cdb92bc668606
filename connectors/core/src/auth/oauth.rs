//! OAuth2 access tokens refreshed ahead of expiry, once more on a 401, with
//! rotated refresh tokens handed to the engine to persist.

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use oauth2::basic::BasicClient;
use oauth2::{
    AuthType, ClientId, ClientSecret, EndpointNotSet, EndpointSet, RefreshToken, RequestTokenError,
    TokenResponse, TokenUrl,
};
use secrecy::{ExposeSecret, SecretString};
use tokio::sync::Mutex;
use tracing::{debug, info};

use super::TokenSource;
use crate::error::{ConnectorError, ConnectorResult};

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
    /// Where the client credentials go in token requests.
    pub client_auth: ClientAuth,
}

type Client =
    BasicClient<EndpointNotSet, EndpointNotSet, EndpointNotSet, EndpointNotSet, EndpointSet>;

struct Current {
    access: Option<(SecretString, Instant)>,
    refresh: Option<SecretString>,
}

/// Access tokens for one connector from an OAuth2 token endpoint.
pub struct OAuth2Token {
    client: Client,
    http: reqwest::Client,
    settings: OAuth2Settings,
    current: Mutex<Current>,
    sink: Option<Arc<dyn RefreshTokenSink>>,
}

impl OAuth2Token {
    /// A token source; `sink` receives rotated refresh tokens.
    pub fn new(
        settings: OAuth2Settings,
        sink: Option<Arc<dyn RefreshTokenSink>>,
    ) -> ConnectorResult<Self> {
        let token_url = TokenUrl::new(settings.token_url.clone()).map_err(|e| {
            ConnectorError::fatal(format!(
                "invalid OAuth2 token URL {}: {e}",
                settings.token_url
            ))
        })?;
        let client = BasicClient::new(ClientId::new(settings.client_id.clone()))
            .set_client_secret(ClientSecret::new(
                settings.client_secret.expose_secret().to_owned(),
            ))
            .set_auth_type(match settings.client_auth {
                ClientAuth::RequestBody => AuthType::RequestBody,
                ClientAuth::BasicHeader => AuthType::BasicAuth,
            })
            .set_token_uri(token_url);
        let http = reqwest::Client::builder()
            // The token endpoint must never redirect us (SSRF guard the oauth2 crate asks for).
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(30))
            .build()
            .map_err(|e| ConnectorError::fatal(format!("cannot build HTTP client: {e}")))?;
        let refresh = match &settings.grant {
            OAuth2Grant::RefreshToken(t) => Some(t.clone()),
            OAuth2Grant::ClientCredentials => None,
        };
        Ok(Self {
            client,
            http,
            settings,
            current: Mutex::new(Current {
                access: None,
                refresh,
            }),
            sink,
        })
    }

    /// Asks the token endpoint for a new access token. Holding the lock makes
    /// concurrent callers share one refresh instead of racing (a rotated
    /// refresh token may be used only once).
    async fn fetch(&self, current: &mut Current) -> ConnectorResult<()> {
        let response = match &current.refresh {
            Some(refresh) => {
                let refresh = RefreshToken::new(refresh.expose_secret().to_owned());
                self.client
                    .exchange_refresh_token(&refresh)
                    .request_async(&self.http)
                    .await
            }
            None => {
                let mut request = self.client.exchange_client_credentials();
                for scope in &self.settings.scopes {
                    request = request.add_scope(oauth2::Scope::new(scope.clone()));
                }
                request.request_async(&self.http).await
            }
        };
        let token = response.map_err(describe_token_error)?;
        let lifetime = token.expires_in().unwrap_or(self.settings.default_lifetime);
        let expires = Instant::now() + lifetime;
        current.access = Some((
            SecretString::from(token.access_token().secret().to_owned()),
            expires,
        ));
        if let Some(new_refresh) = token.refresh_token() {
            let changed = current
                .refresh
                .as_ref()
                .is_none_or(|old| old.expose_secret() != new_refresh.secret());
            if changed {
                let new_refresh = SecretString::from(new_refresh.secret().to_owned());
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

/// Turns a token-endpoint failure into an error by meaning, without echoing
/// the request (which holds the client secret and refresh token).
fn describe_token_error<RE: std::error::Error + 'static>(
    err: RequestTokenError<RE, oauth2::basic::BasicErrorResponse>,
) -> ConnectorError {
    match err {
        RequestTokenError::ServerResponse(resp) => {
            let code = resp.error().to_string();
            let description = resp.error_description().cloned().unwrap_or_default();
            ConnectorError::Unauthorized {
                message: format!("token endpoint refused the grant: {code} {description}")
                    .trim_end()
                    .to_owned(),
            }
        }
        RequestTokenError::Request(e) => ConnectorError::Retryable {
            message: format!("token endpoint unreachable: {e}"),
            retry_after: None,
        },
        RequestTokenError::Parse(e, _) => ConnectorError::Retryable {
            message: format!("token endpoint sent an unreadable response: {e}"),
            retry_after: None,
        },
        RequestTokenError::Other(e) => ConnectorError::Retryable {
            message: format!("token endpoint failed: {e}"),
            retry_after: None,
        },
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
        Ok(current
            .access
            .as_ref()
            .map(|(t, _)| t.clone())
            .expect("fetch sets the access token"))
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
}
