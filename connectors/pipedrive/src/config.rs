//! How a Pipedrive connector is configured, with Pipedrive's published
//! limits as defaults.

use std::time::Duration;

use leadbridge_core::auth::{AuthConfig, TokenDefaults};
use leadbridge_core::http::{HttpSettings, RateLimit};

/// Pipedrive's API host. Both `/v1/...` and `/api/v2/...` hang off it; an
/// OAuth token response names the company's own host as `api_domain`
/// (`https://{company}.pipedrive.com`), which serves the same paths.
pub const DEFAULT_BASE_URL: &str = "https://api.pipedrive.com";
/// The OAuth2 server (pipedrive.readme.io/docs/marketplace-oauth-authorization).
pub const OAUTH_BASE_URL: &str = "https://oauth.pipedrive.com";
/// Where a person consents to the app (authorization-code grant).
pub const OAUTH_AUTHORIZE_URL: &str = "https://oauth.pipedrive.com/oauth/authorize";
/// The token endpoint: HTTP Basic `client_id:client_secret`, form body
/// (SEMANTICS.md §3 Auth; `pipedrive/client-nodejs` `src/ApiClient.js` `refreshToken`).
pub const OAUTH_TOKEN_URL: &str = "https://oauth.pipedrive.com/oauth/token";
/// The scopes leadbridge needs: persons (contacts), leads, deals (read for
/// outcomes), activities (tasks and notes), users (owner check). Pipedrive
/// grants the scopes configured on the app; these are what to tick there.
pub const DEFAULT_SCOPES: &[&str] = &[
    "contacts:full",
    "leads:full",
    "deals:read",
    "activities:full",
    "users:read",
];
/// The header an API token travels in (spec security scheme `api_key`).
pub const API_TOKEN_HEADER: &str = "x-api-token";
/// Access tokens live an hour when the response says nothing else
/// (Pipedrive sends `expires_in`, 3599 s in its examples).
pub const DEFAULT_TOKEN_LIFETIME: Duration = Duration::from_secs(3600);

/// Paces to the general burst limit of the smallest plan for an API token,
/// 20 requests per rolling 2-second window
/// (pipedrive.readme.io/docs/core-api-concepts-rate-limiting): 9 at once,
/// then one per 222 ms. A token bucket lets through its burst plus its
/// refill in any window, so 9 + 9 = 18 at most per 2 seconds, two short of
/// the limit to absorb network jitter between our clock and Pipedrive's.
pub const DEFAULT_RATE_LIMIT: RateLimit = RateLimit {
    requests: 9,
    per_ms: 2_000,
};
/// Paces to the search endpoints' own limit, 10 requests per 2 seconds on
/// every plan (same page): 4 at once, one per 500 ms, 8 per window at most.
pub const DEFAULT_SEARCH_RATE_LIMIT: RateLimit = RateLimit {
    requests: 4,
    per_ms: 2_000,
};
/// How many writes run at once: Pipedrive has no batch write, so a batch
/// is one call per record, several in flight, all inside the rate limiter.
pub const DEFAULT_WRITE_CONCURRENCY: usize = 4;

/// Everything a [`crate::PipedriveConnector`] needs. Build it with
/// [`PipedriveConfig::new`] for Pipedrive's defaults, then override what
/// the company's plan allows.
#[derive(Debug, Clone)]
pub struct PipedriveConfig {
    /// The API host without a trailing slash ([`DEFAULT_BASE_URL`], the
    /// company domain, or a simulator's URL); `/v1` and `/api/v2` are added.
    pub base_url: String,
    /// The OAuth server's base ([`OAUTH_BASE_URL`]); the token endpoint is
    /// `{oauth_url}/oauth/token` unless `auth` names another.
    pub oauth_url: String,
    /// An API token (sent as `x-api-token`) or an OAuth2 refresh-token grant.
    pub auth: AuthConfig,
    /// Timeouts, retries, the general rate limit and our daily call cap.
    pub http: HttpSettings,
    /// The search endpoints' limit; `None` for unlimited (benchmarks).
    pub search_rate_limit: Option<RateLimit>,
    /// How many single-record writes run at once.
    pub write_concurrency: usize,
    /// How far before the cursor a pass re-reads by default. Pipedrive
    /// stamps `update_time` in whole seconds; a minute covers clock skew
    /// between its servers and a write that commits late.
    pub overlap: Duration,
}

impl PipedriveConfig {
    /// A config with Pipedrive's defaults: the smallest plan's burst limits
    /// (general and search), four writes in flight, a one-minute overlap.
    pub fn new(base_url: impl Into<String>, auth: AuthConfig) -> Self {
        Self {
            base_url: base_url.into().trim_end_matches('/').to_owned(),
            oauth_url: OAUTH_BASE_URL.to_owned(),
            auth,
            http: HttpSettings {
                rate_limit: Some(DEFAULT_RATE_LIMIT),
                ..HttpSettings::default()
            },
            search_rate_limit: Some(DEFAULT_SEARCH_RATE_LIMIT),
            write_concurrency: DEFAULT_WRITE_CONCURRENCY,
            overlap: Duration::from_secs(60),
        }
    }

    /// `{oauth_url}/oauth/token`.
    pub fn token_url(&self) -> String {
        format!("{}/oauth/token", self.oauth_url.trim_end_matches('/'))
    }

    /// The vendor defaults the token source is built with.
    pub fn token_defaults(&self) -> TokenDefaults {
        TokenDefaults {
            token_url: self.token_url(),
            default_lifetime: DEFAULT_TOKEN_LIFETIME,
            connector_kind: "pipedrive".into(),
        }
    }

    /// `{base_url}/v1{path}`.
    pub fn v1(&self, path: &str) -> String {
        format!("{}/v1{path}", self.base_url)
    }

    /// `{base_url}/api/v2{path}`.
    pub fn v2(&self, path: &str) -> String {
        format!("{}/api/v2{path}", self.base_url)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::SecretString;

    #[test]
    fn urls_follow_the_base_and_the_oauth_server() {
        let mut c = PipedriveConfig::new(
            "https://acme.pipedrive.com/",
            AuthConfig::StaticToken {
                token: SecretString::from("x"),
            },
        );
        assert_eq!(c.v1("/leads"), "https://acme.pipedrive.com/v1/leads");
        assert_eq!(
            c.v2("/persons"),
            "https://acme.pipedrive.com/api/v2/persons"
        );
        assert_eq!(c.token_url(), OAUTH_TOKEN_URL);
        c.oauth_url = "http://127.0.0.1:9/".into();
        assert_eq!(c.token_url(), "http://127.0.0.1:9/oauth/token");
    }
}
