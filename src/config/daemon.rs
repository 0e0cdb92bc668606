//! `[daemon]`: settings of the process itself.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use super::checker::Checker;
use super::raw::RawDaemon;

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

/// `[daemon]`, validated.
#[derive(Debug, Clone, PartialEq)]
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
    Some(DaemonConfig {
        state_dir: state_dir?,
        admin_listen: admin_listen?,
        log_format: log_format?,
        shutdown_grace: shutdown_grace?,
    })
}
