//! Child processes: the two simulators (served until dropped) and one
//! measured daemon cycle, so every figure belongs to exactly one process.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};

/// A simulator child process; killed when dropped.
pub struct Simulator {
    child: Child,
    /// Where it serves, e.g. `http://127.0.0.1:41234`.
    pub url: String,
    /// From spawn to "listening" (seeding included).
    pub startup: Duration,
}

impl Simulator {
    /// Starts `leadbridge simulate <args>` and waits until it listens.
    pub fn start(bin: &Path, args: &[String]) -> anyhow::Result<Self> {
        let started = Instant::now();
        let mut child = Command::new(bin)
            .arg("simulate")
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .with_context(|| format!("cannot start {}", bin.display()))?;
        let stdout = child.stdout.take().context("simulator stdout")?;
        let mut lines = BufReader::new(stdout).lines();
        let url = loop {
            let Some(line) = lines.next() else {
                let _ = child.kill();
                bail!("simulator exited before listening: {args:?}");
            };
            let line = line?;
            if let Some((_, url)) = line.split_once("listening on ") {
                break url.trim().to_owned();
            }
        };
        let startup = started.elapsed();
        // Keep draining its stdout so it never blocks on a full pipe.
        std::thread::spawn(move || lines.for_each(drop));
        Ok(Self {
            child,
            url,
            startup,
        })
    }

    /// Its process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// CPU time (user + system) it has used so far.
    pub fn cpu(&self) -> Duration {
        proc_cpu(self.pid()).unwrap_or_default()
    }

    /// Its resident set size now, in KiB.
    pub fn rss_kib(&self) -> u64 {
        proc_status_kib(self.pid(), "VmRSS:").unwrap_or(0)
    }
}

impl Drop for Simulator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What one measured child run cost.
#[derive(Debug, Clone)]
pub struct Measured {
    /// Wall time from spawn to exit.
    pub wall: Duration,
    /// User + system CPU time of the child.
    pub cpu: Duration,
    /// Peak resident set size of the child (ru_maxrss), KiB.
    pub max_rss_kib: u64,
    /// Everything it printed on stdout.
    pub stdout: String,
}

/// Runs `command` to the end, its stdout to `log` (stderr to `log.err`),
/// and reads its resource usage from `wait4`, which covers exactly this child.
pub fn measure(mut command: Command, log: &Path) -> anyhow::Result<Measured> {
    let out = File::create(log)?;
    let err = File::create(log.with_extension("err"))?;
    let started = Instant::now();
    let child = command
        .stdout(Stdio::from(out))
        .stderr(Stdio::from(err))
        .spawn()
        .context("cannot start the daemon")?;
    let pid = i32::try_from(child.id()).context("pid")?;
    let mut status = 0i32;
    // SAFETY: `rusage` is plain old data; wait4 fills it for our own child.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let reaped = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    let wall = started.elapsed();
    if reaped != pid {
        bail!("wait4 failed: {}", std::io::Error::last_os_error());
    }
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    let stdout = std::fs::read_to_string(log).unwrap_or_default();
    if !(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0) {
        let stderr = std::fs::read_to_string(log.with_extension("err")).unwrap_or_default();
        let tail: String = stderr.lines().rev().take(20).collect::<Vec<_>>().join("\n");
        bail!("the daemon failed (status {status}):\n{stdout}\n{tail}");
    }
    Ok(Measured {
        wall,
        cpu: tv(usage.ru_utime) + tv(usage.ru_stime),
        max_rss_kib: usage.ru_maxrss as u64,
        stdout,
    })
}

/// utime + stime of a live process, from `/proc/<pid>/stat`.
fn proc_cpu(pid: u32) -> Option<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name, which is in parentheses and may hold spaces.
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    // SAFETY: sysconf has no preconditions.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64;
    Some(Duration::from_millis((utime + stime) * 1000 / ticks))
}

/// A `kB` line of `/proc/<pid>/status`.
fn proc_status_kib(pid: u32, key: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix(key))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
}

/// Bytes under `path` on disk (allocated blocks, as `du` counts them).
pub fn disk_usage(path: &Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    let Ok(meta) = std::fs::symlink_metadata(path) else {
        return 0;
    };
    if meta.is_dir() {
        std::fs::read_dir(path)
            .map(|entries| {
                entries
                    .filter_map(Result::ok)
                    .map(|e| disk_usage(&e.path()))
                    .sum()
            })
            .unwrap_or(0)
    } else {
        meta.blocks() * 512
    }
}
