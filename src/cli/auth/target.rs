//! Which connector the consent is for, where its OAuth2 endpoints are, and
//! which file receives the refresh token.
//!
//! The config is validated as the daemon validates it, with one exception:
//! refresh-token files may not exist yet (walking the consent is how they
//! come to exist, one connector at a time), so a missing or empty one reads
//! as a placeholder.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use leadbridge_core::auth::AuthConfig;
use secrecy::SecretString;

use crate::config::raw::RawConfig;
use crate::config::{
    Config, ConnectorKind, ConnectorSettings, SecretRef, SecretSource, SystemSecrets,
    HUBSPOT_BASE_URL,
};

/// HubSpot's consent page (the API host serves no consent UI).
pub const HUBSPOT_AUTHORIZE_URL: &str = "https://app.hubspot.com/oauth/authorize";

/// Everything the flow needs about one connector.
pub struct Target {
    /// The connector's config name.
    pub connector: String,
    /// The OAuth2 app's client id.
    pub client_id: String,
    /// Its secret (sent to the token endpoint only).
    pub client_secret: SecretString,
    /// The consent page.
    pub authorize_url: String,
    /// The token endpoint.
    pub token_url: String,
    /// Where the refresh token is written.
    pub token_file: PathBuf,
    /// Scopes the vendor needs for what leadbridge does.
    pub default_scopes: Vec<String>,
}

/// Secrets as the daemon reads them, except missing refresh-token files.
struct PendingConsent {
    files: Vec<PathBuf>,
}

impl SecretSource for PendingConsent {
    fn var(&self, name: &str) -> Option<String> {
        SystemSecrets.var(name)
    }

    fn read_file(&self, path: &Path) -> std::io::Result<String> {
        let pending = self.files.iter().any(|f| f == path);
        match SystemSecrets.read_file(path) {
            Ok(text) if !text.trim().is_empty() || !pending => Ok(text),
            Err(e) if !pending => Err(e),
            _ => Ok("pending-consent".to_string()),
        }
    }
}

/// Finds the connector of `kind` (named `name`, or the only one) with
/// `oauth2_refresh` auth, refusing an `env:` refresh token reference.
pub fn find(config_path: &Path, kind: ConnectorKind, name: Option<&str>) -> anyhow::Result<Target> {
    let text = std::fs::read_to_string(config_path)
        .with_context(|| format!("cannot read {}", config_path.display()))?;
    let raw: RawConfig = toml::from_str(&text).with_context(|| {
        format!(
            "{} is not a valid config; run `leadbridge check --config {}`",
            config_path.display(),
            config_path.display()
        )
    })?;
    let candidates: Vec<(String, &crate::config::raw::RawAuth)> = raw
        .connectors
        .iter()
        .flatten()
        .filter(|(_, c)| c.kind.as_ref().map(|k| k.get_ref().as_str()) == Some(kind.name()))
        .filter(|(n, _)| name.is_none_or(|want| n.get_ref() == want))
        .filter_map(|(n, c)| c.auth.as_ref().map(|a| (n.get_ref().clone(), a)))
        .collect();
    let (connector, auth) = match candidates.as_slice() {
        [] => match name {
            Some(n) => bail!(
                "no {} connector named `{n}` in {}",
                kind.name(),
                config_path.display()
            ),
            None => bail!("no {} connector in {}", kind.name(), config_path.display()),
        },
        [one] => one,
        many => bail!(
            "several {} connectors ({}); choose one with --connector",
            kind.name(),
            many.iter()
                .map(|(n, _)| n.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    if auth.kind.as_ref().map(|k| k.get_ref().as_str()) != Some("oauth2_refresh") {
        bail!(
            "connector `{connector}` does not use auth type \"oauth2_refresh\"; \
             the consent flow produces a refresh token for that type only"
        );
    }
    let Some(reference) = &auth.refresh_token else {
        bail!("connector `{connector}` has no `refresh_token` reference; add refresh_token = \"file:/etc/leadbridge/{connector}.refresh\"");
    };
    let base = match config_path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let token_file = match SecretRef::parse(reference.get_ref()) {
        Ok(SecretRef::File(p)) => base.join(p),
        Ok(SecretRef::Env(var)) => bail!(
            "connector `{connector}`: refresh_token is `env:{var}`, and a helper cannot set the \
             daemon's environment; write refresh_token = \"file:/etc/leadbridge/{connector}.refresh\" \
             (or a systemd LoadCredential= path) and run this again"
        ),
        Err(problem) => bail!("connector `{connector}`: refresh_token: {problem}"),
    };
    let files = raw
        .connectors
        .iter()
        .flatten()
        .filter_map(|(_, c)| c.auth.as_ref()?.refresh_token.as_ref())
        .filter_map(|r| match SecretRef::parse(r.get_ref()) {
            Ok(SecretRef::File(p)) => Some(base.join(p)),
            _ => None,
        })
        .collect();
    let config = Config::load_with(config_path, &PendingConsent { files })
        .map_err(|errors| anyhow::anyhow!("{errors}"))?;
    let Some(valid) = config.connector(connector) else {
        bail!("connector `{connector}` is not in the validated config");
    };
    let AuthConfig::OAuth2Refresh {
        client_id,
        client_secret,
        token_url,
        ..
    } = valid.auth()
    else {
        bail!("connector `{connector}` does not use auth type \"oauth2_refresh\"");
    };
    let (authorize_url, default_token_url, default_scopes) = match &valid.settings {
        ConnectorSettings::HubSpot(c) => (
            if c.base_url == HUBSPOT_BASE_URL {
                HUBSPOT_AUTHORIZE_URL.to_string()
            } else {
                format!("{}/oauth/authorize", c.base_url)
            },
            c.token_defaults().token_url,
            vec![
                "oauth".to_string(),
                "crm.objects.contacts.read".to_string(),
                "crm.objects.contacts.write".to_string(),
            ],
        ),
        ConnectorSettings::Salesforce(c) => (
            format!(
                "{}/services/oauth2/authorize",
                c.login_url
                    .as_deref()
                    .unwrap_or(&c.instance_url)
                    .trim_end_matches('/')
            ),
            c.token_url(),
            vec!["api".to_string(), "refresh_token".to_string()],
        ),
    };
    Ok(Target {
        connector: connector.clone(),
        client_id: client_id.clone(),
        client_secret: client_secret.clone(),
        authorize_url,
        token_url: token_url.clone().unwrap_or(default_token_url),
        token_file,
        default_scopes,
    })
}
