//! What a reload compares: a key per connector and per pipeline, equal when
//! nothing that affects it changed, so SIGHUP restarts only what it must.
//!
//! Keys are SHA-256 digests of the validated config. The config's `Debug`
//! output is complete except for credentials (it hides them on purpose), so
//! the credentials are hashed in explicitly: a refresh token replaced by
//! `leadbridge auth`, or a rotated client secret, restarts the connector's
//! pipelines. Digests, not values, are kept: no secret is held twice.

use std::collections::BTreeMap;

use leadbridge_core::auth::AuthConfig;
use secrecy::ExposeSecret;
use sha2::{Digest, Sha256};

use crate::config::{Config, ConnectorConfig, PipelineConfig};
use crate::engine::runner::ConfigKey;

/// The key of one connector's config, credentials included.
pub(crate) fn connector_key(c: &ConnectorConfig) -> ConfigKey {
    let mut h = Sha256::new();
    h.update(format!("{c:?}").as_bytes());
    let mut part = |label: &str, value: &str| {
        h.update(label.as_bytes());
        h.update((value.len() as u64).to_le_bytes());
        h.update(value.as_bytes());
    };
    match c.auth() {
        AuthConfig::StaticToken { token } => part("token", token.expose_secret()),
        AuthConfig::OAuth2Refresh {
            client_id,
            client_secret,
            refresh_token,
            token_url,
        } => {
            part("client_id", client_id);
            part("client_secret", client_secret.expose_secret());
            part("refresh_token", refresh_token.expose_secret());
            part("token_url", token_url.as_deref().unwrap_or_default());
        }
        AuthConfig::ClientCredentials {
            client_id,
            client_secret,
            token_url,
            scopes,
        } => {
            part("client_id", client_id);
            part("client_secret", client_secret.expose_secret());
            part("token_url", token_url.as_deref().unwrap_or_default());
            part("scopes", &scopes.join(" "));
        }
    }
    h.finalize().into()
}

/// Every connector's key, by name.
pub(crate) fn connector_keys(config: &Config) -> BTreeMap<String, ConfigKey> {
    config
        .connectors
        .iter()
        .map(|(name, c)| (name.clone(), connector_key(c)))
        .collect()
}

/// The key of one pipeline: its own config and its two connectors' keys.
pub(crate) fn pipeline_key(
    p: &PipelineConfig,
    connectors: &BTreeMap<String, ConfigKey>,
) -> ConfigKey {
    let mut h = Sha256::new();
    h.update(format!("{p:?}").as_bytes());
    for name in [&p.marketing.connector, &p.crm.side.connector] {
        h.update(name.as_bytes());
        if let Some(k) = connectors.get(name) {
            h.update(k);
        }
    }
    h.finalize().into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    const TEXT: &str = r#"
[daemon]
state_dir = "/tmp/x"
[connectors.hs]
kind = "hubspot"
auth = { type = "private_app", token = "env:T" }
[connectors.sf]
kind = "salesforce"
instance_url = "https://example.my.salesforce.com"
auth = { type = "static_token", token = "env:S" }
[[pipelines]]
name = "a"
schedule = "0 * * * * *"
marketing = { connector = "hs", object = "contacts" }
crm = { connector = "sf", object = "Lead" }
[pipelines.fields]
email = { marketing = "email", crm = "Email", key = true }
[[pipelines]]
name = "b"
schedule = "0 * * * * *"
marketing = { connector = "hs", object = "contacts" }
crm = { connector = "sf", object = "Contact" }
[pipelines.fields]
email = { marketing = "email", crm = "Email", key = true }
"#;

    fn keys(text: &str, token: &str) -> BTreeMap<String, ConfigKey> {
        let env = BTreeMap::from([
            ("T".to_string(), token.to_string()),
            ("S".to_string(), "s".to_string()),
        ]);
        let config = Config::parse(text, Path::new("x.toml"), &env).unwrap();
        let c = connector_keys(&config);
        config
            .pipelines
            .iter()
            .map(|p| (p.name.clone(), pipeline_key(p, &c)))
            .collect()
    }

    #[test]
    fn only_what_changed_gets_a_new_key() {
        let before = keys(TEXT, "t1");
        assert_eq!(before, keys(TEXT, "t1"), "keys are stable");
        let changed = keys(&TEXT.replacen("0 * * * * *", "30 * * * * *", 1), "t1");
        assert_eq!(before["b"], changed["b"]);
        assert_ne!(before["a"], changed["a"]);
        let rotated = keys(TEXT, "t2");
        assert_ne!(before["a"], rotated["a"], "a new credential restarts");
        assert_ne!(before["b"], rotated["b"]);
    }
}
