//! Where access tokens come from: a static token (HubSpot private app,
//! Salesforce session id), or an OAuth2 token endpoint with the
//! refresh-token or client-credentials grant. Secrets stay in `secrecy`
//! types from the config reader to the `Authorization` header.

mod config;
mod oauth;

pub use config::{AuthConfig, TokenDefaults};
pub use oauth::{
    read_token_response, ClientAuth, OAuth2Grant, OAuth2Settings, OAuth2Token, RefreshTokenSink,
    TokenGrant,
};

use async_trait::async_trait;
use secrecy::SecretString;

use crate::error::ConnectorResult;

/// A source of bearer tokens for one connector.
#[async_trait]
pub trait TokenSource: Send + Sync {
    /// A token that should be valid now (refreshed ahead of its expiry).
    async fn access_token(&self) -> ConnectorResult<SecretString>;

    /// The vendor refused `rejected`: get a new token if this source can.
    /// Returns false when it cannot (a static token), so the caller reports
    /// the refusal instead of retrying.
    async fn refresh_after_unauthorized(&self, rejected: &SecretString) -> ConnectorResult<bool>;

    /// The non-secret fields of the latest token response (Salesforce's
    /// `instance_url`, HubSpot's `hub_id`), so a connector can follow what
    /// the vendor said with its token; `None` for sources without a token
    /// endpoint, or before the first token.
    fn response_fields(&self) -> Option<serde_json::Map<String, serde_json::Value>> {
        None
    }
}

/// A token that never changes: a HubSpot private-app token or a fixed session id.
pub struct StaticToken(SecretString);

impl StaticToken {
    /// Wraps the token.
    pub fn new(token: SecretString) -> Self {
        Self(token)
    }
}

#[async_trait]
impl TokenSource for StaticToken {
    async fn access_token(&self) -> ConnectorResult<SecretString> {
        Ok(self.0.clone())
    }

    async fn refresh_after_unauthorized(&self, _rejected: &SecretString) -> ConnectorResult<bool> {
        Ok(false)
    }
}
