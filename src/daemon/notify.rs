//! The systemd notify protocol (`Type=notify`), over std's `UnixDatagram`.
//!
//! It is a handful of lines: one datagram of `KEY=value` lines to the
//! socket named by `$NOTIFY_SOCKET` (a path, or `@name` in the abstract
//! namespace). Writing them here costs less than a dependency and keeps the
//! behaviour in view: every message is best effort (a daemon started by
//! hand, or in a test, has no socket and notifies nobody), and the
//! watchdog interval comes from `$WATCHDOG_USEC` (only when
//! `$WATCHDOG_PID`, if set, is this process).

use std::os::unix::net::{SocketAddr, UnixDatagram};
use std::time::Duration;

use tracing::debug;

/// Where notifications go; a no-op when the process was not started by
/// systemd with a notify socket.
#[derive(Debug)]
pub struct Notifier {
    socket: Option<(UnixDatagram, SocketAddr)>,
    watchdog: Option<Duration>,
}

impl Notifier {
    /// From the environment systemd sets: `NOTIFY_SOCKET`, `WATCHDOG_USEC`,
    /// `WATCHDOG_PID`.
    pub fn from_env() -> Self {
        let socket = std::env::var_os("NOTIFY_SOCKET").and_then(|path| {
            let path = path.to_string_lossy().into_owned();
            let addr = address(&path)?;
            let socket = UnixDatagram::unbound().ok()?;
            Some((socket, addr))
        });
        let for_us = std::env::var("WATCHDOG_PID")
            .ok()
            .and_then(|p| p.trim().parse::<u32>().ok())
            .is_none_or(|pid| pid == std::process::id());
        let watchdog = std::env::var("WATCHDOG_USEC")
            .ok()
            .and_then(|u| u.trim().parse::<u64>().ok())
            .filter(|u| *u > 0 && for_us)
            .map(Duration::from_micros);
        Self { socket, watchdog }
    }

    /// A notifier that sends nothing (tests, `--once`).
    pub fn disabled() -> Self {
        Self {
            socket: None,
            watchdog: None,
        }
    }

    /// The watchdog timeout systemd expects pings within, if it set one.
    /// Ping at half of it, as sd_watchdog_enabled(3) advises.
    pub fn watchdog_timeout(&self) -> Option<Duration> {
        self.watchdog
    }

    /// Sends raw `KEY=value` lines; failures are logged at debug and
    /// otherwise ignored (notification is advisory).
    pub fn send(&self, message: &str) {
        if let Some((socket, addr)) = &self.socket {
            if let Err(e) = socket.send_to_addr(message.as_bytes(), addr) {
                debug!(error = %e, "cannot notify systemd");
            }
        }
    }

    /// Start-up is complete: config valid, state open, connectors authenticated.
    pub fn ready(&self, status: &str) {
        self.send(&format!("READY=1\nSTATUS={}", one_line(status)));
    }

    /// The one-line summary `systemctl status` shows.
    pub fn status(&self, status: &str) {
        self.send(&format!("STATUS={}", one_line(status)));
    }

    /// A reload started; `ready` ends it.
    pub fn reloading(&self) {
        self.send("RELOADING=1");
    }

    /// Shutdown started.
    pub fn stopping(&self) {
        self.send("STOPPING=1");
    }

    /// The loop is alive and healthy.
    pub fn watchdog(&self) {
        self.send("WATCHDOG=1");
    }
}

/// `STATUS=` is one line: newlines would start new keys.
fn one_line(text: &str) -> String {
    text.replace(['\n', '\r'], " ")
}

fn address(path: &str) -> Option<SocketAddr> {
    if let Some(name) = path.strip_prefix('@') {
        #[cfg(target_os = "linux")]
        {
            use std::os::linux::net::SocketAddrExt;
            return SocketAddr::from_abstract_name(name.as_bytes()).ok();
        }
        #[cfg(not(target_os = "linux"))]
        {
            let _ = name;
            return None;
        }
    }
    SocketAddr::from_pathname(path).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_reach_the_socket_as_one_datagram_each() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notify");
        let receiver = UnixDatagram::bind(&path).unwrap();
        let notifier = Notifier {
            socket: Some((
                UnixDatagram::unbound().unwrap(),
                SocketAddr::from_pathname(&path).unwrap(),
            )),
            watchdog: None,
        };
        notifier.ready("2 pipelines\nrunning");
        notifier.watchdog();
        let mut buf = [0u8; 256];
        let n = receiver.recv(&mut buf).unwrap();
        assert_eq!(
            std::str::from_utf8(&buf[..n]).unwrap(),
            "READY=1\nSTATUS=2 pipelines running"
        );
        let n = receiver.recv(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"WATCHDOG=1");
    }

    #[test]
    fn no_socket_is_a_silent_no_op() {
        let n = Notifier::disabled();
        n.ready("x");
        assert_eq!(n.watchdog_timeout(), None);
    }
}
