//! How a Marketo connector is configured, with Marketo's published limits
//! as defaults.
//!
//! The limits (experienceleague.adobe.com/en/docs/marketo-developer/marketo/rest/marketo-integration-best-practices):
//! 100 calls per 20 seconds per instance, ten concurrent calls, 300
//! records a batch, 1 MB a request body, 50,000 calls a day for most
//! subscriptions (the quota is the account's; leadbridge only caps itself
//! when [`HttpSettings::daily_cap`] says so).

use std::time::Duration;

use leadbridge_core::auth::{AuthConfig, TokenDefaults};
use leadbridge_core::http::{HttpSettings, RateLimit};

/// Everything a [`crate::MarketoConnector`] needs. Build it with
/// [`MarketoConfig::new`] to get Marketo's published limits, then override
/// what the subscription allows or what other integrations leave over.
#[derive(Debug, Clone)]
pub struct MarketoConfig {
    /// The instance's root without `/rest` and without a trailing slash:
    /// `https://123-ABC-456.mktorest.com`, or a simulator's URL. (Admin >
    /// Web Services shows the REST endpoint as `…/rest`; [`Self::new`]
    /// strips it.)
    pub base_url: String,
    /// Marketo authenticates with the OAuth2 client-credentials grant of a
    /// LaunchPoint custom service ([`AuthConfig::ClientCredentials`]); a
    /// static token works for tests and one-off runs.
    pub auth: AuthConfig,
    /// Timeouts, retries, the client-side rate limit (default
    /// [`DEFAULT_RATE_LIMIT`]) and the daily cap.
    pub http: HttpSettings,
    /// How far before the cursor a change pass re-reads by default, to
    /// catch activities Marketo logged late (default [`DEFAULT_OVERLAP`]).
    pub overlap: Duration,
    /// How long to wait after a 606 (rate limit) before trying again.
    /// Marketo sends no `Retry-After`; its window is a rolling 20 seconds,
    /// so waiting one window lets the calls that filled it age out.
    pub rate_limit_wait: Duration,
    /// The most calls in flight at once (Marketo refuses the eleventh with
    /// 615; other integrations share the same ten).
    pub max_concurrent: usize,
    /// The timeout of Get Paging Token, which Marketo lets run up to 300 s
    /// ("Get Paging Token: 300s", Activities page, Timeouts) where its
    /// other activity endpoints stop at 30 s; every other call uses
    /// [`HttpSettings::timeout`].
    pub paging_token_timeout: Duration,
    /// The custom activity type notes are written to, when an admin has
    /// created and approved one; `None` makes `create_activity` refuse (see
    /// the crate docs for why notes are opt-in and tasks unsupported).
    pub note_activity: Option<NoteActivity>,
}

/// A custom activity type for notes (Admin > Marketo Custom Activities, or
/// `POST /rest/v1/activities/external/type.json`), approved before use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoteActivity {
    /// The type's numeric id (`GET /rest/v1/activities/external/types.json`).
    pub activity_type_id: i64,
    /// The API name of the secondary attribute that holds the note's body;
    /// the subject goes into the primary attribute.
    pub body_attribute: String,
}

/// Marketo's rate limit: 100 calls per 20 seconds per instance.
pub const DEFAULT_RATE_LIMIT: RateLimit = RateLimit {
    requests: 100,
    per_ms: 20_000,
};

/// Marketo's concurrency limit: ten calls in flight per instance.
pub const DEFAULT_MAX_CONCURRENT: usize = 10;

/// The default overlap: Marketo publishes no figure for how late an
/// activity can reach the activity log, which is written asynchronously;
/// five minutes re-reads little and covers delays users report.
pub const DEFAULT_OVERLAP: Duration = Duration::from_secs(300);

/// The default wait after a 606: one 20-second window.
pub const DEFAULT_RATE_LIMIT_WAIT: Duration = Duration::from_secs(20);

/// How long Get Paging Token may take by default: Marketo's own limit for it.
pub const DEFAULT_PAGING_TOKEN_TIMEOUT: Duration = Duration::from_secs(300);

/// The most records one Lead Database call reads or writes.
pub const BATCH_LIMIT: usize = 300;

/// The token endpoint's path under the instance root.
pub const TOKEN_PATH: &str = "/identity/oauth/token";

impl MarketoConfig {
    /// A config with Marketo's defaults: 100 calls per 20 s, ten at once, a
    /// five-minute overlap, a 20 s wait after a 606, and the token endpoint
    /// at `{base_url}/identity/oauth/token` unless `auth` names another.
    pub fn new(base_url: impl Into<String>, auth: AuthConfig) -> Self {
        let base_url = base_url.into();
        let base_url = base_url.trim_end_matches('/');
        let base_url = base_url
            .strip_suffix("/rest")
            .unwrap_or(base_url)
            .to_owned();
        Self {
            base_url,
            auth,
            http: HttpSettings {
                rate_limit: Some(DEFAULT_RATE_LIMIT),
                ..HttpSettings::default()
            },
            overlap: DEFAULT_OVERLAP,
            rate_limit_wait: DEFAULT_RATE_LIMIT_WAIT,
            max_concurrent: DEFAULT_MAX_CONCURRENT,
            paging_token_timeout: DEFAULT_PAGING_TOKEN_TIMEOUT,
            note_activity: None,
        }
    }

    /// The token endpoint defaults: Marketo's access tokens live an hour,
    /// and the identity response says how much of it is left in
    /// `expires_in`.
    pub fn token_defaults(&self) -> TokenDefaults {
        TokenDefaults {
            token_url: format!("{}{TOKEN_PATH}", self.base_url),
            default_lifetime: Duration::from_secs(3600),
            connector_kind: "marketo".into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rest_suffix_admin_shows_is_stripped() {
        let auth = AuthConfig::StaticToken {
            token: "t".to_owned().into(),
        };
        let c = MarketoConfig::new("https://123-ABC-456.mktorest.com/rest/", auth);
        assert_eq!(c.base_url, "https://123-ABC-456.mktorest.com");
        assert_eq!(
            c.token_defaults().token_url,
            "https://123-ABC-456.mktorest.com/identity/oauth/token"
        );
        assert_eq!(c.http.rate_limit, Some(DEFAULT_RATE_LIMIT));
    }
}
