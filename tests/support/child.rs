//! The real `leadbridge` binary as a child process: its stderr and stdout
//! read line by line (ANSI colours removed) so tests await log events, its systemd
//! notifications received on a socket of the test's own, signals sent with
//! `kill`. Every wait is bounded and fails with the log so far.

use std::io::{BufRead, BufReader};
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::mpsc::{channel, Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_leadbridge");

/// A running `leadbridge` child.
pub struct Daemon {
    child: std::process::Child,
    lines: Receiver<String>,
    log: Arc<Mutex<Vec<String>>>,
    notify: Option<UnixDatagram>,
    notifications: Vec<String>,
}

/// Drops `ESC [ … letter` sequences.
pub fn strip_ansi(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for d in chars.by_ref() {
                if d.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

impl Daemon {
    /// Starts `leadbridge <args>`; with `notify_dir`, a notify socket is
    /// bound there and passed as `$NOTIFY_SOCKET`.
    pub fn spawn(args: &[&str], envs: &[(&str, &str)], notify_dir: Option<&Path>) -> Daemon {
        let mut cmd = Command::new(BIN);
        cmd.args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .env_remove("NOTIFY_SOCKET")
            .env_remove("WATCHDOG_USEC")
            .env_remove("WATCHDOG_PID")
            .env("NO_COLOR", "1");
        if std::env::var_os("RUST_LOG").is_none() {
            cmd.env_remove("RUST_LOG");
        }
        for (k, v) in envs {
            cmd.env(k, v);
        }
        let notify = notify_dir.map(|dir| {
            let path: PathBuf = dir.join(format!("notify-{}", rand_suffix()));
            let socket = UnixDatagram::bind(&path).expect("bind the notify socket");
            cmd.env("NOTIFY_SOCKET", &path);
            socket
        });
        let mut child = cmd.spawn().expect("start leadbridge");
        let (tx, lines) = channel::<String>();
        let log = Arc::new(Mutex::new(Vec::new()));
        let out_tx = tx.clone();
        let stderr = child.stderr.take().expect("stderr is piped");
        let sink = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                let line = strip_ansi(&line);
                sink.lock().unwrap().push(line.clone());
                let _ = tx.send(line);
            }
        });
        let stdout = child.stdout.take().expect("stdout is piped");
        let sink = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                let line = format!("[stdout] {line}");
                sink.lock().unwrap().push(line.clone());
                let _ = out_tx.send(line);
            }
        });
        Daemon {
            child,
            lines,
            log,
            notify,
            notifications: Vec::new(),
        }
    }

    /// Its pid.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Everything it wrote so far (stderr and stdout).
    pub fn log(&self) -> String {
        self.log.lock().unwrap().join("\n")
    }

    /// Waits for an output line (stdout lines start `[stdout] `) matching `pred` (lines already consumed by
    /// an earlier wait are not seen again); panics with the log on timeout.
    pub fn wait_line(
        &mut self,
        what: &str,
        timeout: Duration,
        pred: impl Fn(&str) -> bool,
    ) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) if pred(&line) => return line,
                Ok(_) => {}
                Err(RecvTimeoutError::Timeout) => {
                    panic!("timed out waiting for {what}; log:\n{}", self.log())
                }
                Err(RecvTimeoutError::Disconnected) => {
                    panic!("leadbridge exited before {what}; log:\n{}", self.log())
                }
            }
        }
    }

    /// Waits for a systemd notification containing `needle`.
    pub fn wait_notify(&mut self, needle: &str, timeout: Duration) -> String {
        if let Some(i) = self.notifications.iter().position(|n| n.contains(needle)) {
            return self.notifications.remove(i);
        }
        let socket = self.notify.as_ref().expect("spawned with a notify socket");
        let deadline = Instant::now() + timeout;
        let mut buf = vec![0u8; 4096];
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                panic!(
                    "timed out waiting for notification {needle}; got {:?}; log:\n{}",
                    self.notifications,
                    self.log()
                );
            }
            socket.set_read_timeout(Some(left)).unwrap();
            match socket.recv(&mut buf) {
                Ok(n) => {
                    let msg = String::from_utf8_lossy(&buf[..n]).into_owned();
                    if msg.contains(needle) {
                        return msg;
                    }
                    self.notifications.push(msg);
                }
                Err(e)
                    if e.kind() == std::io::ErrorKind::WouldBlock
                        || e.kind() == std::io::ErrorKind::TimedOut => {}
                Err(e) => panic!("notify socket: {e}"),
            }
        }
    }

    /// Sends a signal by name (`TERM`, `HUP`, `INT`).
    pub fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .arg(format!("-{name}"))
            .arg(self.pid().to_string())
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -{name} failed");
    }

    /// Waits for the process to exit; panics with the log on timeout.
    pub fn wait_exit(&mut self, timeout: Duration) -> ExitStatus {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().expect("wait for leadbridge") {
                // Let the reader threads drain what was written last.
                let _ = self.wait_eof(Duration::from_secs(5));
                return status;
            }
            if Instant::now() >= deadline {
                panic!(
                    "leadbridge did not exit in {timeout:?}; log:\n{}",
                    self.log()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Waits until stderr is closed (the process is gone).
    fn wait_eof(&mut self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(_) => {}
                Err(RecvTimeoutError::Disconnected) => return true,
                Err(RecvTimeoutError::Timeout) => return false,
            }
        }
    }

    /// Whether it is still running.
    pub fn running(&mut self) -> bool {
        self.child
            .try_wait()
            .expect("wait for leadbridge")
            .is_none()
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn rand_suffix() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    format!(
        "{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    )
}

/// Polls `cond` until it holds; panics with `what` after `timeout`.
pub fn eventually(what: &str, timeout: Duration, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}
