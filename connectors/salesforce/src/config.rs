//! How to reach one Salesforce org.

use std::time::Duration;

use leadbridge_core::auth::{AuthConfig, TokenDefaults};
use leadbridge_core::http::{HttpSettings, RateLimit};

/// The REST API version the connector pins. Pinning one version keeps
/// response shapes stable (e.g. single upserts answer 200 with a body from
/// 46.0 on); the simulator accepts any version. Writes need 46.0 or later
/// (sObject Collections upsert; collections inside Composite from 43.0).
pub const DEFAULT_API_VERSION: &str = "62.0";

/// Salesforce sends no `expires_in`: an access token lives for the org's
/// session timeout, two hours by default. Refreshing on this schedule (and
/// once more on a 401) keeps requests from carrying a dead session.
pub const DEFAULT_TOKEN_LIFETIME: Duration = Duration::from_secs(2 * 60 * 60);

/// One Salesforce org's connection settings, with vendor defaults from
/// [`SalesforceConfig::new`] that the daemon's config may override.
#[derive(Debug, Clone)]
pub struct SalesforceConfig {
    /// The org's API base (`https://acme.my.salesforce.com`), without a
    /// trailing slash; for OAuth2 this is the token response's `instance_url`.
    pub instance_url: String,
    /// The base of the token endpoint (`https://login.salesforce.com`,
    /// `https://test.salesforce.com`, or My Domain); `None` uses `instance_url`.
    pub login_url: Option<String>,
    /// The REST API version, e.g. `62.0` (no `v`).
    pub api_version: String,
    /// The credentials.
    pub auth: AuthConfig,
    /// Timeouts, retries, client-side rate limit and daily cap.
    pub http: HttpSettings,
    /// The overlap the connector reports as its default in
    /// [`leadbridge_core::Limits::default_overlap`]: how far before the
    /// cursor a pass re-reads. `SystemModstamp` is stamped when a transaction
    /// starts, so a long transaction can commit a record with a stamp older
    /// than records already read; re-reading a few minutes catches it.
    pub overlap: Duration,
    /// Send `Sforce-Duplicate-Rule-Header: allowSave=true` with writes, so
    /// records an alert-only duplicate rule matches are saved anyway (R2.2).
    /// Off by default: a create such a rule refuses then updates the
    /// record it matched instead. Block rules refuse either way.
    pub duplicate_rule_allow_save: bool,
}

impl SalesforceConfig {
    /// Settings with Salesforce's defaults: API v[`DEFAULT_API_VERSION`],
    /// the token endpoint on the instance, 10 requests/s client-side (the
    /// org's real budget is the daily API limit, which the classifier
    /// watches through `Sforce-Limit-Info`), and a 5-minute overlap.
    pub fn new(instance_url: impl Into<String>, auth: AuthConfig) -> Self {
        let instance_url = instance_url.into().trim_end_matches('/').to_owned();
        Self {
            instance_url,
            login_url: None,
            api_version: DEFAULT_API_VERSION.to_owned(),
            auth,
            http: HttpSettings {
                rate_limit: Some(RateLimit::new(10, Duration::from_secs(1))),
                ..HttpSettings::default()
            },
            overlap: Duration::from_secs(300),
            duplicate_rule_allow_save: false,
        }
    }

    /// The OAuth2 token endpoint: `{login_url}/services/oauth2/token`.
    pub fn token_url(&self) -> String {
        let base = self
            .login_url
            .as_deref()
            .unwrap_or(&self.instance_url)
            .trim_end_matches('/');
        format!("{base}/services/oauth2/token")
    }

    /// The vendor defaults the token source is built with.
    pub fn token_defaults(&self) -> TokenDefaults {
        TokenDefaults {
            token_url: self.token_url(),
            default_lifetime: DEFAULT_TOKEN_LIFETIME,
            connector_kind: "salesforce".into(),
        }
    }

    /// `{instance_url}/services/data/v{api_version}`, the root every REST
    /// resource hangs off.
    pub fn data_url(&self) -> String {
        format!("{}{}", self.instance_url, self.data_path())
    }

    /// `/services/data/v{api_version}` without the host: Composite
    /// subrequests name their resources by this path, not a full URL.
    pub fn data_path(&self) -> String {
        format!(
            "/services/data/v{}",
            self.api_version.trim_start_matches('v')
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::SecretString;

    #[test]
    fn token_url_defaults_to_the_instance_and_follows_login_url() {
        let mut c = SalesforceConfig::new(
            "https://acme.my.salesforce.com/",
            AuthConfig::StaticToken {
                token: SecretString::from("x"),
            },
        );
        assert_eq!(
            c.token_url(),
            "https://acme.my.salesforce.com/services/oauth2/token"
        );
        assert_eq!(
            c.data_url(),
            "https://acme.my.salesforce.com/services/data/v62.0"
        );
        assert_eq!(c.data_path(), "/services/data/v62.0");
        c.login_url = Some("https://test.salesforce.com".into());
        assert_eq!(
            c.token_url(),
            "https://test.salesforce.com/services/oauth2/token"
        );
    }
}
