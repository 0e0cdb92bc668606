//! `[daemon]`: settings of the process itself.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};

use super::raw::RawDaemon;
use leadbridge_core::config::Checker;

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogFormat {
    /// Human on a terminal, JSON otherwise (the journal).
    #[default]
    Auto,
    /// One JSON object per line.
    Json,
    /// Human-readable lines.
    Human,
}

/// `[daemon]`, validated. `Debug` shows no secret (`secrecy` redacts them).
#[derive(Debug, Clone)]
pub struct DaemonConfig {
    /// Where sled state and rotated tokens live (absolute, or taken from
    /// the config file's folder).
    pub state_dir: PathBuf,
    /// The admin HTTP server's address; loopback by default.
    pub admin_listen: SocketAddr,
    /// How logs are written.
    pub log_format: LogFormat,
    /// How long SIGTERM waits for the batch in flight.
    pub shutdown_grace: Duration,
    /// The bearer token the admin server's state-changing POSTs require;
    /// `None` refuses them all (read-only admin server).
    pub admin_token: Option<SecretString>,
    /// Whether `admin_listen` may be a non-loopback address: off by default,
    /// since the admin server speaks plain HTTP.
    pub admin_allow_non_loopback: bool,
}

/// Equal when every setting is; secrets are compared by value so a reload
/// can tell a rotated token, without ever printing one.
impl PartialEq for DaemonConfig {
    fn eq(&self, other: &Self) -> bool {
        fn same(a: &Option<SecretString>, b: &Option<SecretString>) -> bool {
            match (a, b) {
                (Some(a), Some(b)) => a.expose_secret() == b.expose_secret(),
                (None, None) => true,
                _ => false,
            }
        }
        self.state_dir == other.state_dir
            && self.admin_listen == other.admin_listen
            && self.log_format == other.log_format
            && self.shutdown_grace == other.shutdown_grace
            && same(&self.admin_token, &other.admin_token)
            && self.admin_allow_non_loopback == other.admin_allow_non_loopback
    }
}

/// The admin server's default address.
pub const DEFAULT_ADMIN_LISTEN: &str = "127.0.0.1:9464";

pub(crate) fn validate(raw: &RawDaemon, c: &Checker<'_, '_>) -> Option<DaemonConfig> {
    let state_dir = raw.state_dir.as_ref().and_then(|t| {
        c.non_empty("state_dir", t)?;
        Some(c.path(t))
    });
    let admin_listen = match &raw.admin_listen {
        Some(t) => t
            .get_ref()
            .parse::<SocketAddr>()
            .map_err(|_| {
                c.error(
                    t.span(),
                    format!("`admin_listen` is not an address: `{}`", t.get_ref()),
                    Some("an IP and port such as \"127.0.0.1:9464\"".to_string()),
                );
            })
            .ok(),
        None => DEFAULT_ADMIN_LISTEN.parse().ok(),
    };
    let log_format = match &raw.log_format {
        Some(t) => c.choice("log_format", t, &["auto", "json", "human"], |s| match s {
            "auto" => Some(LogFormat::Auto),
            "json" => Some(LogFormat::Json),
            "human" => Some(LogFormat::Human),
            _ => None,
        }),
        None => Some(LogFormat::Auto),
    };
    let shutdown_grace = match &raw.shutdown_grace {
        Some(t) => c.duration("shutdown_grace", t),
        None => Some(Duration::from_secs(30)),
    };
    // Secrets are references; a missing or unreadable one is an error at
    // `check` and at start, like every other secret.
    let admin_token = optional_secret(c, "admin_token", raw.admin_token.as_ref());
    let admin_allow_non_loopback = raw
        .admin_allow_non_loopback
        .as_ref()
        .is_some_and(|b| *b.get_ref());
    if let (Some(addr), Some(t)) = (&admin_listen, &raw.admin_listen) {
        if !addr.ip().is_loopback() && !admin_allow_non_loopback {
            c.error(
                t.span(),
                format!("`admin_listen` `{addr}` is not a loopback address"),
                Some(
                    "127.0.0.1 or ::1, or set `admin_allow_non_loopback = true` behind a TLS proxy"
                        .to_string(),
                ),
            );
        }
    }
    Some(DaemonConfig {
        state_dir: state_dir?,
        admin_listen: admin_listen?,
        log_format: log_format?,
        shutdown_grace: shutdown_grace?,
        admin_token: admin_token.ok()?,
        admin_allow_non_loopback,
    })
}

/// An optional secret reference: `Ok(None)` when not set, `Err(())` when
/// set but unreadable (already reported with its location).
fn optional_secret(
    c: &Checker<'_, '_>,
    key: &str,
    text: Option<&leadbridge_core::config::Text>,
) -> Result<Option<SecretString>, ()> {
    match text {
        None => Ok(None),
        Some(t) => c.secret(key, t).map(Some).ok_or(()),
    }
}
