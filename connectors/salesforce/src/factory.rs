//! Salesforce's entry in the daemon's registry: its `[connectors.<name>]`
//! keys, how the connector is built from them, the connected app's OAuth
//! consent and the simulator. Salesforce has no signed HTTP webhooks
//! (SEMANTICS.md §2 "Push"), so it offers no verifier: polling it is.
//!
//! ```toml
//! [connectors.salesforce]
//! kind = "salesforce"
//! instance_url = "https://acme.my.salesforce.com"
//! login_url = "https://login.salesforce.com"    # optional: where the token endpoint is
//! api_version = "62.0"                          # optional: the pinned default otherwise
//! duplicate_rule_allow_save = false             # optional: save despite alert-only duplicate rules
//! auth = { type = "oauth2_refresh", client_id = "…", client_secret = "env:SF_SECRET", refresh_token = "file:/etc/leadbridge/sf.refresh" }
//! ```

use std::ops::Range;
use std::sync::Arc;
use std::time::Duration;

use leadbridge_core::auth::{AuthConfig, RefreshTokenSink};
use leadbridge_core::config::{Checker, Table, Text};
use leadbridge_core::factory::{
    ClientAuth, ConnectorFactory, ConnectorSpec, Consent, RawSection, SectionContext,
};
use leadbridge_core::http::HttpSettings;
use leadbridge_core::{Connector, ConnectorResult};

use crate::{SalesforceConfig, SalesforceConnector};

/// The registry entry.
#[derive(Debug, Clone, Copy, Default)]
pub struct SalesforceFactory;

impl ConnectorFactory for SalesforceFactory {
    fn kind(&self) -> &'static str {
        "salesforce"
    }

    fn display_name(&self) -> &'static str {
        "Salesforce"
    }

    fn summary(&self) -> &'static str {
        "Salesforce REST (Lead, Contact, Task, Opportunity; SOQL, Composite, OAuth2)"
    }

    fn auth_types(&self) -> &'static [&'static str] {
        &["static_token", "oauth2_refresh", "client_credentials"]
    }

    fn read(&self, t: &Table<'_, '_, '_>) -> Box<dyn RawSection> {
        Box::new(RawSalesforce {
            instance_url: t.string(
                "instance_url",
                "a URL such as \"https://example.my.salesforce.com\"",
            ),
            login_url: t.string(
                "login_url",
                "a URL such as \"https://login.salesforce.com\"",
            ),
            api_version: t.string("api_version", "a REST API version such as \"62.0\""),
            duplicate_rule_allow_save: t.boolean("duplicate_rule_allow_save", "true or false"),
            span: t.span(),
        })
    }

    #[cfg(feature = "simulator")]
    fn simulator(&self) -> Option<leadbridge_core::factory::SimulatorEntry> {
        Some(leadbridge_core::factory::SimulatorEntry {
            summary:
                "Salesforce REST (Lead, Contact, Task, Opportunity; SOQL, collections, OAuth2)",
            start: |options| Box::pin(crate::simulator::start(options)),
        })
    }
}

/// Salesforce's own keys as written.
struct RawSalesforce {
    instance_url: Option<Text>,
    login_url: Option<Text>,
    api_version: Option<Text>,
    duplicate_rule_allow_save: Option<leadbridge_core::config::Spanned<bool>>,
    span: Range<usize>,
}

impl RawSection for RawSalesforce {
    fn validate(
        self: Box<Self>,
        context: SectionContext<'_>,
        c: &Checker<'_, '_>,
    ) -> Option<Arc<dyn ConnectorSpec>> {
        let instance_url = match &self.instance_url {
            Some(u) => c.url("instance_url", u),
            None => {
                c.error(
                    self.span.clone(),
                    format!(
                        "missing key `instance_url` in [connectors.{}]",
                        context.name.get_ref()
                    ),
                    Some("the org's URL such as \"https://example.my.salesforce.com\"".to_string()),
                );
                None
            }
        };
        let login_url = match &self.login_url {
            Some(u) => Some(c.url("login_url", u)?),
            None => None,
        };
        let api_version = match &self.api_version {
            Some(v) => {
                let text = v.get_ref().trim_start_matches('v');
                if text.parse::<f32>().is_err() {
                    c.error(
                        v.span(),
                        format!("`api_version` is not a version: `{}`", v.get_ref()),
                        Some("a REST API version such as \"62.0\"".to_string()),
                    );
                    None
                } else {
                    Some(Some(text.to_string()))
                }
            }
            None => Some(None),
        };
        let common = context.common?;
        let mut config = SalesforceConfig::new(instance_url?, common.auth.clone());
        config.login_url = login_url;
        if let Some(allow) = &self.duplicate_rule_allow_save {
            config.duplicate_rule_allow_save = *allow.get_ref();
        }
        if let Some(v) = api_version? {
            config.api_version = v;
        }
        common.apply(&mut config.http, &mut config.overlap);
        Some(Arc::new(SalesforceSpec { config }))
    }
}

/// One validated Salesforce section.
#[derive(Debug)]
pub struct SalesforceSpec {
    /// The connector's settings.
    pub config: SalesforceConfig,
}

impl ConnectorSpec for SalesforceSpec {
    fn kind(&self) -> &'static str {
        "salesforce"
    }

    fn auth(&self) -> &AuthConfig {
        &self.config.auth
    }

    fn http(&self) -> &HttpSettings {
        &self.config.http
    }

    fn overlap(&self) -> Duration {
        self.config.overlap
    }

    fn build(
        &self,
        auth: AuthConfig,
        sink: Option<Arc<dyn RefreshTokenSink>>,
    ) -> ConnectorResult<Arc<dyn Connector>> {
        let mut config = self.config.clone();
        config.auth = auth;
        Ok(Arc::new(SalesforceConnector::new(config, sink)?))
    }

    fn unthrottled(&self) -> Arc<dyn ConnectorSpec> {
        let mut config = self.config.clone();
        config.http.rate_limit = None;
        Arc::new(SalesforceSpec { config })
    }

    fn consent(&self) -> Option<Consent> {
        let token_url = match &self.config.auth {
            AuthConfig::OAuth2Refresh {
                token_url: Some(url),
                ..
            } => url.clone(),
            _ => self.config.token_url(),
        };
        Some(Consent {
            authorize_url: format!(
                "{}/services/oauth2/authorize",
                self.config
                    .login_url
                    .as_deref()
                    .unwrap_or(&self.config.instance_url)
                    .trim_end_matches('/')
            ),
            token_url,
            default_scopes: vec!["api".to_string(), "refresh_token".to_string()],
            pkce: true,
            client_auth: ClientAuth::RequestBody,
        })
    }
}
