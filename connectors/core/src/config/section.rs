//! The keys every `[connectors.<name>]` section shares: `kind`, `auth`,
//! `daily_cap`, `rate_limit`, `timeout`, `overlap`, `retry`.
//!
//! They are read here once, so every connector crate accepts them the same
//! way with the same messages; a crate reads only its own keys (a base URL,
//! an API version) and lays these over its vendor defaults with
//! [`CommonSettings::apply`].

use std::ops::Range;
use std::time::Duration;

use toml::Spanned;

use super::{Checker, Table, Text, DURATION_HINT, SECRET_HINT};
use crate::auth::AuthConfig;
use crate::http::{HttpSettings, RateLimit, RetryPolicy};

/// Every auth type a connector section may name; each factory accepts a
/// subset ([`crate::factory::ConnectorFactory::auth_types`]).
pub const AUTH_TYPES: &[&str] = &[
    "private_app",
    "static_token",
    "oauth2_refresh",
    "client_credentials",
];

/// `auth = { type = …, … }` as written.
#[derive(Debug, Default)]
pub struct RawAuth {
    /// `private_app`, `static_token`, `oauth2_refresh` or `client_credentials`.
    pub kind: Option<Text>,
    /// A static token, as an `env:`/`file:` reference.
    pub token: Option<Text>,
    /// The OAuth2 app's client id (not secret; a reference is also accepted).
    pub client_id: Option<Text>,
    /// The OAuth2 app's client secret, as a reference.
    pub client_secret: Option<Text>,
    /// The OAuth2 refresh token to start from, as a reference.
    pub refresh_token: Option<Text>,
    /// The OAuth2 token endpoint, when not the vendor's default.
    pub token_url: Option<Text>,
    /// Scopes to request with `client_credentials`.
    pub scopes: Option<Spanned<Vec<Text>>>,
    /// Where the auth table was written.
    pub span: Range<usize>,
}

/// `rate_limit = { requests = 100, per = "10s" }` as written.
#[derive(Debug, Default)]
pub struct RawRateLimit {
    /// Requests allowed per window (also the burst).
    pub requests: Option<Spanned<i64>>,
    /// The window (`"10s"`).
    pub per: Option<Text>,
}

/// `retry = { max_attempts = 6, … }` as written.
#[derive(Debug, Default)]
pub struct RawRetry {
    /// Attempts in all, the first included.
    pub max_attempts: Option<Spanned<i64>>,
    /// The backoff ceiling of the first retry; it doubles each retry.
    pub base_delay: Option<Text>,
    /// No single wait is longer than this.
    pub max_delay: Option<Text>,
    /// The total waiting in one call before giving up.
    pub max_total_wait: Option<Text>,
}

/// The shared keys of one `[connectors.<name>]`, as written.
#[derive(Debug, Default)]
pub struct RawCommon {
    /// Which tool (`kind = "…"`).
    pub kind: Option<Text>,
    /// How the connector authenticates.
    pub auth: Option<RawAuth>,
    /// The most API calls a day this connector may make.
    pub daily_cap: Option<Spanned<i64>>,
    /// The client-side rate limit; the vendor's published limit by default.
    pub rate_limit: Option<RawRateLimit>,
    /// Per-request timeout (`"30s"`).
    pub timeout: Option<Text>,
    /// How far before the last cursor each poll re-reads (`"2m"`).
    pub overlap: Option<Text>,
    /// Retries of passing failures.
    pub retry: Option<RawRetry>,
    /// Where the section was written.
    pub span: Range<usize>,
}

impl RawCommon {
    /// Reads the shared keys of a section (the factory reads the rest from
    /// the same table before unknown keys are reported).
    pub fn read(t: &Table<'_, '_, '_>, kinds: &[&str]) -> RawCommon {
        let kind_hint = match kinds {
            [] => "a connector kind".to_string(),
            [one] => format!("\"{one}\""),
            many => {
                let (last, rest) = many.split_last().unwrap_or((&"", &[]));
                format!(
                    "{} or \"{last}\"",
                    rest.iter()
                        .map(|k| format!("\"{k}\""))
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            }
        };
        RawCommon {
            kind: t.req_string("kind", &kind_hint),
            auth: t
                .req_table("auth", "auth = { type = \"…\", … }")
                .map(|a| read_auth(&a)),
            daily_cap: t.integer("daily_cap", "a whole number of calls per day"),
            rate_limit: t
                .table(
                    "rate_limit",
                    "rate_limit = { requests = 100, per = \"10s\" }",
                )
                .map(|r| {
                    let raw = RawRateLimit {
                        requests: r
                            .req_integer("requests", "a whole number of requests per window"),
                        per: r.req_string("per", DURATION_HINT),
                    };
                    r.report_unknown();
                    raw
                }),
            timeout: t.string("timeout", DURATION_HINT),
            overlap: t.string("overlap", DURATION_HINT),
            retry: t
                .table(
                    "retry",
                    "retry = { max_attempts = 6, base_delay = \"250ms\", … }",
                )
                .map(|r| {
                    let raw = RawRetry {
                        max_attempts: r
                            .integer("max_attempts", "a whole number of attempts, at least 1"),
                        base_delay: r.string("base_delay", DURATION_HINT),
                        max_delay: r.string("max_delay", DURATION_HINT),
                        max_total_wait: r.string("max_total_wait", DURATION_HINT),
                    };
                    r.report_unknown();
                    raw
                }),
            span: t.span(),
        }
    }
}

fn read_auth(t: &Table<'_, '_, '_>) -> RawAuth {
    let raw = RawAuth {
        kind: t.req_string(
            "type",
            "\"private_app\", \"static_token\", \"oauth2_refresh\" or \"client_credentials\"",
        ),
        token: t.string("token", SECRET_HINT),
        client_id: t.string("client_id", "the OAuth2 app's client id"),
        client_secret: t.string("client_secret", SECRET_HINT),
        refresh_token: t.string("refresh_token", SECRET_HINT),
        token_url: t.string("token_url", "a URL"),
        scopes: t.strings("scopes", "an array of scope names"),
        span: t.span(),
    };
    t.report_unknown();
    raw
}

/// The shared keys, validated: credentials resolved, HTTP settings to lay
/// over the vendor's defaults.
#[derive(Debug, Clone)]
pub struct CommonSettings {
    /// The credentials, resolved from their references.
    pub auth: AuthConfig,
    /// The per-request timeout.
    pub timeout: Duration,
    /// Retries of passing failures.
    pub retry: RetryPolicy,
    /// A daily cap set in the config.
    pub daily_cap: Option<u64>,
    /// A rate limit set in the config (the vendor's applies otherwise).
    pub rate_limit: Option<RateLimit>,
    /// An overlap set in the config (the vendor's applies otherwise).
    pub overlap: Option<Duration>,
}

impl CommonSettings {
    /// Lays what the config set over the vendor's defaults.
    pub fn apply(&self, vendor: &mut HttpSettings, vendor_overlap: &mut Duration) {
        vendor.timeout = self.timeout;
        vendor.retry = self.retry.clone();
        vendor.daily_cap = self.daily_cap.or(vendor.daily_cap);
        if self.rate_limit.is_some() {
            vendor.rate_limit = self.rate_limit;
        }
        if let Some(o) = self.overlap {
            *vendor_overlap = o;
        }
    }
}

/// Who accepts which auth types, for the message when a type is refused.
pub struct AuthTypes<'a> {
    /// The kind being validated (`salesforce`).
    pub kind: &'a str,
    /// The types it accepts.
    pub accepted: &'a [&'a str],
    /// The tool that owns a type the kind refuses, if one does
    /// (`private_app` → `HubSpot`), from the registry.
    pub owner_of: &'a dyn Fn(&str) -> Option<&'static str>,
}

/// Validates the shared keys; every problem is reported, `None` when any.
pub fn validate(
    raw: &RawCommon,
    types: &AuthTypes<'_>,
    c: &Checker<'_, '_>,
) -> Option<CommonSettings> {
    let auth = raw.auth.as_ref().and_then(|a| validate_auth(a, types, c));
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
    let auth = auth?;
    ok.then(|| CommonSettings {
        auth,
        timeout: http.timeout,
        retry: http.retry,
        daily_cap: http.daily_cap,
        rate_limit,
        overlap,
    })
}

fn validate_auth(raw: &RawAuth, types: &AuthTypes<'_>, c: &Checker<'_, '_>) -> Option<AuthConfig> {
    let ty = raw.kind.as_ref()?;
    let name = c.choice("auth type", ty, AUTH_TYPES, |s| {
        AUTH_TYPES.iter().find(|t| **t == s).copied()
    })?;
    if !types.accepted.contains(&name) {
        let list = types
            .accepted
            .iter()
            .map(|t| format!("\"{t}\""))
            .collect::<Vec<_>>()
            .join(", ");
        let message = match (types.owner_of)(name) {
            Some(owner) => format!(
                "auth type `{name}` is {owner}'s, not for `{}` connectors",
                types.kind
            ),
            None => format!("auth type `{name}` is not for `{}` connectors", types.kind),
        };
        c.error(
            ty.span(),
            message,
            Some(format!("one of {list} for `{}`", types.kind)),
        );
        return None;
    }
    let allowed: &[&str] = match name {
        "private_app" | "static_token" => &["token"],
        "oauth2_refresh" => &["client_id", "client_secret", "refresh_token", "token_url"],
        _ => &["client_id", "client_secret", "token_url", "scopes"],
    };
    let mut ok = true;
    let present: [(&str, Option<Range<usize>>); 6] = [
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
