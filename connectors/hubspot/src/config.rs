//! How a HubSpot connector is configured, with HubSpot's published limits as
//! defaults.

use std::time::Duration;

use leadbridge_core::auth::{AuthConfig, TokenDefaults};
use leadbridge_core::http::{HttpSettings, RateLimit};

/// Everything a [`crate::HubSpotConnector`] needs. Build it with
/// [`HubSpotConfig::new`] to get HubSpot's published limits, then override
/// what the account's tier allows.
#[derive(Debug, Clone)]
pub struct HubSpotConfig {
    /// The API root without a trailing slash: `https://api.hubapi.com`, or a
    /// simulator's URL.
    pub base_url: String,
    /// A private-app token or an OAuth2 grant.
    pub auth: AuthConfig,
    /// Timeouts, retries, the general rate limit (default 100 calls per 10 s,
    /// the burst limit of the smallest tier) and the daily cap.
    pub http: HttpSettings,
    /// How far before the cursor a change pass re-reads by default, to catch
    /// records that reached the search index late (HubSpot indexes changes
    /// seconds to a minute after they happen).
    pub overlap: Duration,
    /// The search endpoints' own limit (5 requests per second per account);
    /// `None` for unlimited (benchmarks against a simulator).
    pub search_rate_limit: Option<RateLimit>,
}

/// HubSpot's burst limit for the smallest tier: 100 calls per 10 seconds.
pub const DEFAULT_RATE_LIMIT: RateLimit = RateLimit {
    requests: 100,
    per_ms: 10_000,
};

/// HubSpot's search limit: 5 requests per second per account.
pub const DEFAULT_SEARCH_RATE_LIMIT: RateLimit = RateLimit {
    requests: 5,
    per_ms: 1_000,
};

impl HubSpotConfig {
    /// A config with HubSpot's defaults: 100 calls per 10 s, search 5 per
    /// second, a 2-minute overlap, and the token endpoint at
    /// `{base_url}/oauth/v3/token` unless `auth` names another (v1 is
    /// deprecated and goes away on 2027-02-16: SEMANTICS.md R2.6).
    pub fn new(base_url: impl Into<String>, auth: AuthConfig) -> Self {
        let base_url = base_url.into().trim_end_matches('/').to_owned();
        Self {
            base_url,
            auth,
            http: HttpSettings {
                rate_limit: Some(DEFAULT_RATE_LIMIT),
                ..HttpSettings::default()
            },
            overlap: Duration::from_secs(120),
            search_rate_limit: Some(DEFAULT_SEARCH_RATE_LIMIT),
        }
    }

    /// The token endpoint defaults for this config: `/oauth/v3/token`
    /// (every parameter in the form body), and access tokens that live 30
    /// minutes (the response always says so in `expires_in`).
    pub fn token_defaults(&self) -> TokenDefaults {
        TokenDefaults {
            token_url: format!("{}/oauth/v3/token", self.base_url),
            default_lifetime: Duration::from_secs(1800),
            connector_kind: "hubspot".into(),
        }
    }
}
