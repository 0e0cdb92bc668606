//! HubSpot's entry in the daemon's registry: its `[connectors.<name>]`
//! keys, how the connector is built from them, the OAuth consent of a
//! public app, the v3 webhook verifier and the simulator.
//!
//! ```toml
//! [connectors.hubspot]
//! kind = "hubspot"
//! base_url = "https://api.hubapi.com"          # optional; a simulator's URL in tests
//! auth = { type = "private_app", token = "env:HUBSPOT_TOKEN" }
//! webhook_secret = "env:HUBSPOT_APP_SECRET"    # optional: verifies POST /webhooks/hubspot
//! ```

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use leadbridge_core::auth::{AuthConfig, RefreshTokenSink};
use leadbridge_core::config::{Checker, Table, Text, SECRET_HINT};
use leadbridge_core::factory::{
    ClientAuth, ConnectorFactory, ConnectorSpec, Consent, RawSection, SectionContext,
};
use leadbridge_core::http::HttpSettings;
use leadbridge_core::webhook::WebhookVerifier;
use leadbridge_core::{Connector, ConnectorResult};
use secrecy::{ExposeSecret, SecretString};

use crate::webhook::V3Verifier;
use crate::{HubSpotConfig, HubSpotConnector};

/// HubSpot's public API root.
pub const BASE_URL: &str = "https://api.hubapi.com";

/// HubSpot's consent page (the API host serves no consent UI).
pub const AUTHORIZE_URL: &str = "https://app.hubspot.com/oauth/authorize";

/// The `[daemon]` key configs written before connectors owned their
/// sections used for the webhook secret; still read, for every HubSpot
/// connector without its own `webhook_secret`.
pub const DAEMON_WEBHOOK_SECRET_KEY: &str = "hubspot_webhook_secret";

/// The registry entry.
#[derive(Debug, Clone, Copy, Default)]
pub struct HubSpotFactory;

impl ConnectorFactory for HubSpotFactory {
    fn kind(&self) -> &'static str {
        "hubspot"
    }

    fn display_name(&self) -> &'static str {
        "HubSpot"
    }

    fn summary(&self) -> &'static str {
        "HubSpot CRM v3 (contacts, notes, tasks, deals; search, batch, OAuth2, v3-signed webhooks)"
    }

    fn auth_types(&self) -> &'static [&'static str] {
        &[
            "private_app",
            "static_token",
            "oauth2_refresh",
            "client_credentials",
        ]
    }

    fn daemon_keys(&self) -> &'static [&'static str] {
        &[DAEMON_WEBHOOK_SECRET_KEY]
    }

    fn read(&self, t: &Table<'_, '_, '_>) -> Box<dyn RawSection> {
        Box::new(RawHubSpot {
            base_url: t.string("base_url", "a URL such as \"https://api.hubapi.com\""),
            webhook_secret: t.string("webhook_secret", SECRET_HINT),
        })
    }

    #[cfg(feature = "simulator")]
    fn simulator(&self) -> Option<leadbridge_core::factory::SimulatorEntry> {
        Some(leadbridge_core::factory::SimulatorEntry {
            summary: "HubSpot CRM v3 (contacts, notes, tasks, deals; search, batch, OAuth2)",
            start: |options| Box::pin(crate::simulator::start(options)),
        })
    }
}

/// HubSpot's own keys as written.
struct RawHubSpot {
    base_url: Option<Text>,
    webhook_secret: Option<Text>,
}

impl RawSection for RawHubSpot {
    fn validate(
        self: Box<Self>,
        context: SectionContext<'_>,
        c: &Checker<'_, '_>,
    ) -> Option<Arc<dyn ConnectorSpec>> {
        let base_url = match &self.base_url {
            Some(u) => c.url("base_url", u),
            None => Some(BASE_URL.to_string()),
        };
        let legacy = context
            .daemon_keys
            .iter()
            .find(|(k, _)| *k == DAEMON_WEBHOOK_SECRET_KEY)
            .map(|(_, v)| v);
        let webhook_secret = match (&self.webhook_secret, legacy) {
            (Some(own), _) => Some(c.secret("webhook_secret", own)?),
            (None, Some(legacy)) => Some(c.secret(DAEMON_WEBHOOK_SECRET_KEY, legacy)?),
            (None, None) => None,
        };
        let common = context.common?;
        let mut config = HubSpotConfig::new(base_url?, common.auth.clone());
        common.apply(&mut config.http, &mut config.overlap);
        Some(Arc::new(HubSpotSpec {
            config,
            webhook_secret,
        }))
    }
}

/// One validated HubSpot section.
pub struct HubSpotSpec {
    /// The connector's settings.
    pub config: HubSpotConfig,
    /// The app's client secret that signs webhooks, if set.
    webhook_secret: Option<SecretString>,
}

impl fmt::Debug for HubSpotSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HubSpotSpec")
            .field("config", &self.config)
            .field("webhooks", &self.webhook_secret.is_some())
            .finish()
    }
}

impl ConnectorSpec for HubSpotSpec {
    fn kind(&self) -> &'static str {
        "hubspot"
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
        Ok(Arc::new(HubSpotConnector::new(config, sink)?))
    }

    fn consent(&self) -> Option<Consent> {
        let token_url = match &self.config.auth {
            AuthConfig::OAuth2Refresh {
                token_url: Some(url),
                ..
            } => url.clone(),
            _ => self.config.token_defaults().token_url,
        };
        Some(Consent {
            authorize_url: if self.config.base_url == BASE_URL {
                AUTHORIZE_URL.to_string()
            } else {
                format!("{}/oauth/authorize", self.config.base_url)
            },
            token_url,
            default_scopes: vec![
                "oauth".to_string(),
                "crm.objects.contacts.read".to_string(),
                "crm.objects.contacts.write".to_string(),
            ],
            pkce: true,
            client_auth: ClientAuth::RequestBody,
        })
    }

    fn webhook(&self) -> Option<Arc<dyn WebhookVerifier>> {
        self.webhook_secret
            .as_ref()
            .map(|s| Arc::new(V3Verifier::new(s.clone())) as Arc<dyn WebhookVerifier>)
    }

    fn unthrottled(&self) -> Arc<dyn ConnectorSpec> {
        let mut config = self.config.clone();
        config.http.rate_limit = None;
        config.search_rate_limit = None;
        Arc::new(HubSpotSpec {
            config,
            webhook_secret: self.webhook_secret.clone(),
        })
    }

    fn hash_secrets(&self, hash: &mut dyn FnMut(&str, &[u8])) {
        if let Some(s) = &self.webhook_secret {
            hash("webhook_secret", s.expose_secret().as_bytes());
        }
    }
}
