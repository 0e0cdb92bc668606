//! `[connectors.<name>]`: one tool account, its credentials and HTTP limits.
//!
//! Settings start from the vendor crate's defaults ([`HubSpotConfig::new`],
//! [`SalesforceConfig::new`]: rate limit, overlap) and the config overrides
//! what it sets, so the vendor's published limits apply unless ops say
//! otherwise.

use std::time::Duration;

use leadbridge_core::auth::AuthConfig;
use leadbridge_core::http::{HttpSettings, RateLimit};
use leadbridge_hubspot::HubSpotConfig;
use leadbridge_salesforce::SalesforceConfig;

use super::checker::Checker;
use super::raw::{RawAuth, RawConnector, Text};

/// Which tool a connector talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectorKind {
    /// HubSpot (marketing or CRM objects).
    HubSpot,
    /// Salesforce.
    Salesforce,
}

impl ConnectorKind {
    /// The name written in `kind = "…"`.
    pub fn name(self) -> &'static str {
        match self {
            Self::HubSpot => "hubspot",
            Self::Salesforce => "salesforce",
        }
    }
}

/// The vendor crate's own settings, ready for its connector's constructor.
#[derive(Debug, Clone)]
pub enum ConnectorSettings {
    /// For `leadbridge_hubspot::HubSpotConnector`.
    HubSpot(HubSpotConfig),
    /// For `leadbridge_salesforce::SalesforceConnector`.
    Salesforce(SalesforceConfig),
}

/// One `[connectors.<name>]`, validated with its secrets resolved.
#[derive(Debug, Clone)]
pub struct ConnectorConfig {
    /// The name pipelines refer to it by.
    pub name: String,
    /// The vendor settings, defaults filled in.
    pub settings: ConnectorSettings,
}

impl ConnectorConfig {
    /// Which tool.
    pub fn kind(&self) -> ConnectorKind {
        match self.settings {
            ConnectorSettings::HubSpot(_) => ConnectorKind::HubSpot,
            ConnectorSettings::Salesforce(_) => ConnectorKind::Salesforce,
        }
    }

    /// The credentials, resolved from their references.
    pub fn auth(&self) -> &AuthConfig {
        match &self.settings {
            ConnectorSettings::HubSpot(c) => &c.auth,
            ConnectorSettings::Salesforce(c) => &c.auth,
        }
    }

    /// Timeouts, retries, rate limit and daily cap.
    pub fn http(&self) -> &HttpSettings {
        match &self.settings {
            ConnectorSettings::HubSpot(c) => &c.http,
            ConnectorSettings::Salesforce(c) => &c.http,
        }
    }

    /// How far before the cursor each poll re-reads.
    pub fn overlap(&self) -> Duration {
        match &self.settings {
            ConnectorSettings::HubSpot(c) => c.overlap,
            ConnectorSettings::Salesforce(c) => c.overlap,
        }
    }
}

/// HubSpot's public API root.
pub const HUBSPOT_BASE_URL: &str = "https://api.hubapi.com";

pub(crate) fn validate(
    name: &Text,
    raw: &RawConnector,
    c: &Checker<'_, '_>,
) -> Option<ConnectorConfig> {
    let kind = raw.kind.as_ref().and_then(|k| {
        c.choice(
            "connector kind",
            k,
            &["hubspot", "salesforce"],
            |s| match s {
                "hubspot" => Some(ConnectorKind::HubSpot),
                "salesforce" => Some(ConnectorKind::Salesforce),
                _ => None,
            },
        )
    });
    let not_for = |key: &str, value: &Option<Text>, kind_name: &str, expected: &str| {
        if let Some(v) = value {
            c.error(
                v.span(),
                format!("`{key}` is not a {kind_name} setting"),
                Some(expected.to_string()),
            );
        }
    };
    let auth = raw.auth.as_ref().and_then(|a| validate_auth(a, kind, c));
    let mut http = HttpSettings::default();
    let mut ok = true;
    if let Some(t) = &raw.timeout {
        match c.duration("timeout", t) {
            Some(d) if d.is_zero() => {
                c.error(
                    t.span(),
                    "`timeout` is zero",
                    Some("a positive duration such as \"30s\"".to_string()),
                );
                ok = false;
            }
            Some(d) => http.timeout = d,
            None => ok = false,
        }
    }
    if let Some(cap) = &raw.daily_cap {
        match u64::try_from(*cap.get_ref()) {
            Ok(n) if n > 0 => http.daily_cap = Some(n),
            _ => {
                c.error(
                    cap.span(),
                    "`daily_cap` must be positive",
                    Some("a whole number of calls per day".to_string()),
                );
                ok = false;
            }
        }
    }
    let mut rate_limit = None;
    if let Some(r) = &raw.rate_limit {
        let requests = r
            .requests
            .as_ref()
            .and_then(|n| match u32::try_from(*n.get_ref()) {
                Ok(v) if v > 0 => Some(v),
                _ => {
                    c.error(
                        n.span(),
                        "`requests` must be positive",
                        Some("a whole number of requests per window".to_string()),
                    );
                    None
                }
            });
        let per = r.per.as_ref().and_then(|p| match c.duration("per", p) {
            Some(d) if d.is_zero() => {
                c.error(
                    p.span(),
                    "`per` is zero",
                    Some("a positive duration such as \"10s\"".to_string()),
                );
                None
            }
            d => d,
        });
        match (requests, per) {
            (Some(n), Some(per)) => rate_limit = Some(RateLimit::new(n, per)),
            _ => ok = false,
        }
    }
    if let Some(r) = &raw.retry {
        if let Some(n) = &r.max_attempts {
            match u32::try_from(*n.get_ref()) {
                Ok(v) if v > 0 => http.retry.max_attempts = v,
                _ => {
                    c.error(
                        n.span(),
                        "`max_attempts` must be at least 1",
                        Some("a whole number of attempts, the first included".to_string()),
                    );
                    ok = false;
                }
            }
        }
        for (key, value, slot) in [
            ("base_delay", &r.base_delay, &mut http.retry.base_delay),
            ("max_delay", &r.max_delay, &mut http.retry.max_delay),
            (
                "max_total_wait",
                &r.max_total_wait,
                &mut http.retry.max_total_wait,
            ),
        ] {
            if let Some(t) = value {
                match c.duration(key, t) {
                    Some(d) => *slot = d,
                    None => ok = false,
                }
            }
        }
    }
    let overlap = match &raw.overlap {
        Some(t) => match c.duration("overlap", t) {
            Some(d) => Some(d),
            None => {
                ok = false;
                None
            }
        },
        None => None,
    };
    let settings = match kind? {
        ConnectorKind::HubSpot => {
            not_for(
                "instance_url",
                &raw.instance_url,
                "HubSpot",
                "`base_url` for HubSpot",
            );
            not_for(
                "login_url",
                &raw.login_url,
                "HubSpot",
                "`base_url` for HubSpot",
            );
            not_for(
                "api_version",
                &raw.api_version,
                "HubSpot",
                "no API version for HubSpot",
            );
            let base_url = match &raw.base_url {
                Some(u) => c.url("base_url", u),
                None => Some(HUBSPOT_BASE_URL.to_string()),
            };
            let mut cfg = HubSpotConfig::new(base_url?, auth?);
            apply(&mut cfg.http, &mut cfg.overlap, http, rate_limit, overlap);
            ConnectorSettings::HubSpot(cfg)
        }
        ConnectorKind::Salesforce => {
            not_for(
                "base_url",
                &raw.base_url,
                "Salesforce",
                "`instance_url` (and `login_url`) for Salesforce",
            );
            let instance_url = match &raw.instance_url {
                Some(u) => c.url("instance_url", u),
                None => {
                    c.error(
                        raw.span.clone(),
                        format!(
                            "missing key `instance_url` in [connectors.{}]",
                            name.get_ref()
                        ),
                        Some(
                            "the org's URL such as \"https://example.my.salesforce.com\""
                                .to_string(),
                        ),
                    );
                    None
                }
            };
            let login_url = match &raw.login_url {
                Some(u) => Some(c.url("login_url", u)?),
                None => None,
            };
            let api_version = match &raw.api_version {
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
            let mut cfg = SalesforceConfig::new(instance_url?, auth?);
            cfg.login_url = login_url;
            if let Some(v) = api_version? {
                cfg.api_version = v;
            }
            apply(&mut cfg.http, &mut cfg.overlap, http, rate_limit, overlap);
            ConnectorSettings::Salesforce(cfg)
        }
    };
    ok.then(|| ConnectorConfig {
        name: name.get_ref().clone(),
        settings,
    })
}

/// Lays what the config set over the vendor's defaults.
fn apply(
    vendor: &mut HttpSettings,
    vendor_overlap: &mut Duration,
    ours: HttpSettings,
    rate_limit: Option<RateLimit>,
    overlap: Option<Duration>,
) {
    vendor.timeout = ours.timeout;
    vendor.retry = ours.retry;
    vendor.daily_cap = ours.daily_cap.or(vendor.daily_cap);
    if rate_limit.is_some() {
        vendor.rate_limit = rate_limit;
    }
    if let Some(o) = overlap {
        *vendor_overlap = o;
    }
}

const AUTH_TYPES: &[&str] = &[
    "private_app",
    "static_token",
    "oauth2_refresh",
    "client_credentials",
];

fn validate_auth(
    raw: &RawAuth,
    kind: Option<ConnectorKind>,
    c: &Checker<'_, '_>,
) -> Option<AuthConfig> {
    let ty = raw.kind.as_ref()?;
    let name = c.choice("auth type", ty, AUTH_TYPES, |s| {
        AUTH_TYPES.iter().find(|t| **t == s).copied()
    })?;
    if name == "private_app" && kind == Some(ConnectorKind::Salesforce) {
        c.error(
            ty.span(),
            "auth type `private_app` is HubSpot's",
            Some(
                "\"static_token\", \"oauth2_refresh\" or \"client_credentials\" for Salesforce"
                    .to_string(),
            ),
        );
        return None;
    }
    let allowed: &[&str] = match name {
        "private_app" | "static_token" => &["token"],
        "oauth2_refresh" => &["client_id", "client_secret", "refresh_token", "token_url"],
        _ => &["client_id", "client_secret", "token_url", "scopes"],
    };
    let mut ok = true;
    let present: [(&str, Option<std::ops::Range<usize>>); 6] = [
        ("token", raw.token.as_ref().map(|t| t.span())),
        ("client_id", raw.client_id.as_ref().map(|t| t.span())),
        (
            "client_secret",
            raw.client_secret.as_ref().map(|t| t.span()),
        ),
        (
            "refresh_token",
            raw.refresh_token.as_ref().map(|t| t.span()),
        ),
        ("token_url", raw.token_url.as_ref().map(|t| t.span())),
        ("scopes", raw.scopes.as_ref().map(|t| t.span())),
    ];
    for (key, span) in &present {
        if let Some(span) = span {
            if !allowed.contains(key) {
                c.error(
                    span.clone(),
                    format!("`{key}` is not used by auth type `{name}`"),
                    Some(format!("only {}", allowed.join(", "))),
                );
                ok = false;
            }
        }
    }
    let required = |key: &str, value: &Option<Text>| -> Option<Text> {
        if value.is_none() {
            c.error(
                raw.span.clone(),
                format!("missing key `{key}` for auth type `{name}`"),
                Some(if key == "client_id" {
                    "the OAuth2 app's client id".to_string()
                } else {
                    format!("{key} = \"env:NAME\" or \"file:/path\"")
                }),
            );
        }
        value.clone()
    };
    let token_url = match &raw.token_url {
        Some(u) => match c.url("token_url", u) {
            Some(u) => Some(u),
            None => {
                ok = false;
                None
            }
        },
        None => None,
    };
    let auth = match name {
        "private_app" | "static_token" => {
            let token = required("token", &raw.token).and_then(|t| c.secret("token", &t));
            AuthConfig::StaticToken { token: token? }
        }
        "oauth2_refresh" => {
            let client_id = required("client_id", &raw.client_id)
                .and_then(|t| c.plain_or_reference("client_id", &t));
            let client_secret = required("client_secret", &raw.client_secret)
                .and_then(|t| c.secret("client_secret", &t));
            let refresh_token = required("refresh_token", &raw.refresh_token)
                .and_then(|t| c.secret("refresh_token", &t));
            AuthConfig::OAuth2Refresh {
                client_id: client_id?,
                client_secret: client_secret?,
                refresh_token: refresh_token?,
                token_url,
            }
        }
        _ => {
            let client_id = required("client_id", &raw.client_id)
                .and_then(|t| c.plain_or_reference("client_id", &t));
            let client_secret = required("client_secret", &raw.client_secret)
                .and_then(|t| c.secret("client_secret", &t));
            AuthConfig::ClientCredentials {
                client_id: client_id?,
                client_secret: client_secret?,
                token_url,
                scopes: raw
                    .scopes
                    .as_ref()
                    .map(|s| s.get_ref().iter().map(|t| t.get_ref().clone()).collect())
                    .unwrap_or_default(),
            }
        }
    };
    ok.then_some(auth)
}
