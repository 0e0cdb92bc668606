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
use leadbridge_core::factory::Consent;
use secrecy::SecretString;

use crate::config::{Config, SecretRef, SecretSource, SystemSecrets};

/// Everything the flow needs about one connector.
pub struct Target {
    /// The connector's config name.
    pub connector: String,
    /// The OAuth2 app's client id.
    pub client_id: String,
    /// Its secret (sent to the token endpoint only).
    pub client_secret: SecretString,
    /// Where the tool's consent page and token endpoint are, and how it
    /// authenticates the client.
    pub consent: Consent,
    /// Where the refresh token is written.
    pub token_file: PathBuf,
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

/// One `[connectors.<name>]` as plain TOML: enough to find the connector
/// and its refresh-token file before the files exist.
struct Section {
    name: String,
    kind: Option<String>,
    auth_type: Option<String>,
    refresh_token: Option<String>,
}

fn sections(text: &str) -> Option<Vec<Section>> {
    let doc: toml::Table = text.parse().ok()?;
    let connectors = doc.get("connectors")?.as_table()?;
    Some(
        connectors
            .iter()
            .filter_map(|(name, value)| {
                let t = value.as_table()?;
                let auth = t.get("auth").and_then(|a| a.as_table());
                let text = |v: Option<&toml::Value>| v.and_then(|v| v.as_str()).map(str::to_owned);
                Some(Section {
                    name: name.clone(),
                    kind: text(t.get("kind")),
                    auth_type: text(auth.and_then(|a| a.get("type"))),
                    refresh_token: text(auth.and_then(|a| a.get("refresh_token"))),
                })
            })
            .collect(),
    )
}

/// Finds the connector of `kind` (named `name`, or the only one) with
/// `oauth2_refresh` auth, refusing an `env:` refresh token reference.
pub fn find(config_path: &Path, kind: &str, name: Option<&str>) -> anyhow::Result<Target> {
    let text = std::fs::read_to_string(config_path)
        .with_context(|| format!("cannot read {}", config_path.display()))?;
    let all = sections(&text).with_context(|| {
        format!(
            "{} is not a valid config; run `leadbridge check --config {}`",
            config_path.display(),
            config_path.display()
        )
    })?;
    let candidates: Vec<&Section> = all
        .iter()
        .filter(|c| c.kind.as_deref() == Some(kind))
        .filter(|c| name.is_none_or(|want| c.name == want))
        .collect();
    let section = match candidates.as_slice() {
        [] => match name {
            Some(n) => bail!(
                "no {kind} connector named `{n}` in {}",
                config_path.display()
            ),
            None => bail!("no {kind} connector in {}", config_path.display()),
        },
        [one] => *one,
        many => bail!(
            "several {kind} connectors ({}); choose one with --connector",
            many.iter()
                .map(|c| c.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    let connector = &section.name;
    if section.auth_type.as_deref() != Some("oauth2_refresh") {
        bail!(
            "connector `{connector}` does not use auth type \"oauth2_refresh\"; \
             the consent flow produces a refresh token for that type only"
        );
    }
    let Some(reference) = &section.refresh_token else {
        bail!("connector `{connector}` has no `refresh_token` reference; add refresh_token = \"file:/etc/leadbridge/{connector}.refresh\"");
    };
    let base = match config_path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let token_file = match SecretRef::parse(reference) {
        Ok(SecretRef::File(p)) => base.join(p),
        Ok(SecretRef::Env(var)) => bail!(
            "connector `{connector}`: refresh_token is `env:{var}`, and a helper cannot set the \
             daemon's environment; write refresh_token = \"file:/etc/leadbridge/{connector}.refresh\" \
             (or a systemd LoadCredential= path) and run this again"
        ),
        Err(problem) => bail!("connector `{connector}`: refresh_token: {problem}"),
    };
    let files = all
        .iter()
        .filter_map(|c| c.refresh_token.as_deref())
        .filter_map(|r| match SecretRef::parse(r) {
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
        ..
    } = valid.auth()
    else {
        bail!("connector `{connector}` does not use auth type \"oauth2_refresh\"");
    };
    let Some(consent) = valid.spec.consent() else {
        bail!("`{kind}` connectors have no OAuth2 consent to walk");
    };
    Ok(Target {
        connector: connector.clone(),
        client_id: client_id.clone(),
        client_secret: client_secret.clone(),
        consent,
        token_file,
    })
}
