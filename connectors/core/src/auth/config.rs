//! How a connector is told to authenticate, independent of the vendor.

use std::sync::Arc;
use std::time::Duration;

use secrecy::SecretString;

use super::{
    ClientAuth, OAuth2Grant, OAuth2Settings, OAuth2Token, RefreshTokenSink, StaticToken,
    TokenSource,
};
use crate::error::ConnectorResult;

/// One connector's credentials, already resolved from `env:`/`file:`
/// references by the daemon's config layer.
#[derive(Clone)]
pub enum AuthConfig {
    /// A fixed bearer token (HubSpot private app, Salesforce session id).
    StaticToken {
        /// The token.
        token: SecretString,
    },
    /// OAuth2 refresh-token grant.
    OAuth2Refresh {
        /// The app's client id.
        client_id: String,
        /// The app's client secret.
        client_secret: SecretString,
        /// The refresh token to start from (a persisted rotation, if any, wins).
        refresh_token: SecretString,
        /// The token endpoint; `None` for the vendor's default.
        token_url: Option<String>,
    },
    /// OAuth2 client-credentials grant.
    ClientCredentials {
        /// The app's client id.
        client_id: String,
        /// The app's client secret.
        client_secret: SecretString,
        /// The token endpoint; `None` for the vendor's default.
        token_url: Option<String>,
        /// Scopes to request.
        scopes: Vec<String>,
    },
}

impl std::fmt::Debug for AuthConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the secrets: only which kind of auth it is.
        let kind = match self {
            Self::StaticToken { .. } => "static_token",
            Self::OAuth2Refresh { .. } => "oauth2_refresh",
            Self::ClientCredentials { .. } => "client_credentials",
        };
        write!(f, "AuthConfig::{kind}")
    }
}

/// Vendor defaults a connector passes when building its token source.
#[derive(Debug, Clone)]
pub struct TokenDefaults {
    /// The vendor's token endpoint, used when the config names none.
    pub token_url: String,
    /// Token lifetime when the vendor's response has no `expires_in`.
    pub default_lifetime: Duration,
    /// The connector's kind (`hubspot`), named in the message that tells a
    /// person how to re-authenticate after a revoked grant.
    pub connector_kind: String,
}

impl AuthConfig {
    /// Builds the token source; `sink` receives rotated refresh tokens.
    /// Client credentials go in the token request's body.
    pub fn token_source(
        &self,
        defaults: &TokenDefaults,
        sink: Option<Arc<dyn RefreshTokenSink>>,
    ) -> ConnectorResult<Arc<dyn TokenSource>> {
        self.token_source_with(defaults, ClientAuth::RequestBody, sink)
    }

    /// Like [`AuthConfig::token_source`], with the client credentials sent
    /// the way the vendor's token endpoint requires (`client_auth`).
    pub fn token_source_with(
        &self,
        defaults: &TokenDefaults,
        client_auth: ClientAuth,
        sink: Option<Arc<dyn RefreshTokenSink>>,
    ) -> ConnectorResult<Arc<dyn TokenSource>> {
        let oauth = |client_id: &String,
                     client_secret: &SecretString,
                     token_url: &Option<String>,
                     grant: OAuth2Grant,
                     scopes: Vec<String>| {
            OAuth2Token::new(
                OAuth2Settings {
                    token_url: token_url
                        .clone()
                        .unwrap_or_else(|| defaults.token_url.clone()),
                    client_id: client_id.clone(),
                    client_secret: client_secret.clone(),
                    grant,
                    scopes,
                    default_lifetime: defaults.default_lifetime,
                    refresh_margin: Duration::from_secs(60),
                    connector_kind: defaults.connector_kind.clone(),
                    client_auth,
                },
                sink.clone(),
            )
        };
        Ok(match self {
            Self::StaticToken { token } => Arc::new(StaticToken::new(token.clone())),
            Self::OAuth2Refresh {
                client_id,
                client_secret,
                refresh_token,
                token_url,
            } => Arc::new(oauth(
                client_id,
                client_secret,
                token_url,
                OAuth2Grant::RefreshToken(refresh_token.clone()),
                Vec::new(),
            )?),
            Self::ClientCredentials {
                client_id,
                client_secret,
                token_url,
                scopes,
            } => Arc::new(oauth(
                client_id,
                client_secret,
                token_url,
                OAuth2Grant::ClientCredentials,
                scopes.clone(),
            )?),
        })
    }
}
