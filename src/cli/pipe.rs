//! A closed reader is not an error: `leadbridge dlq list | head` must end
//! quietly, as `cat` or `grep` do, instead of panicking.
//!
//! Rust ignores SIGPIPE, so a write to a pipe whose reader has gone fails
//! with EPIPE, and `println!` turns that failure into a panic ("failed
//! printing to stdout: Broken pipe"). Restoring SIGPIPE's default would
//! also kill the daemon the day journald restarts under it, so instead the
//! binary installs a panic hook that recognises that one panic and exits at
//! once, silently, with the shell's status for a SIGPIPE death (141), so
//! `set -o pipefail` scripts still see the output was cut. Every command,
//! including ones added later, is covered without touching its prints.
//! State is safe: every commit is flushed before it returns.

/// The status a shell reports for a process ended by SIGPIPE (128 + 13).
pub const BROKEN_PIPE_STATUS: i32 = 141;

/// Installs the hook (once, in `main`): a panic from printing to a closed
/// stdout or stderr exits with [`BROKEN_PIPE_STATUS`] without a word; every
/// other panic goes to the previous hook as before.
pub fn exit_quietly_on_broken_pipe() {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let payload = info.payload();
        let message = payload
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| payload.downcast_ref::<&str>().copied())
            .unwrap_or_default();
        if is_broken_pipe(message) {
            std::process::exit(BROKEN_PIPE_STATUS);
        }
        previous(info);
    }));
}

/// Whether a panic message is std's "failed printing to stdout/stderr"
/// for EPIPE.
fn is_broken_pipe(message: &str) -> bool {
    let broken = std::io::Error::from(std::io::ErrorKind::BrokenPipe);
    let os = std::io::Error::from_raw_os_error(32);
    message.starts_with("failed printing to std")
        && (message.contains(&os.to_string())
            || message.contains(&broken.to_string())
            || message.contains("Broken pipe"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_std_broken_pipe_panics_only() {
        let os = std::io::Error::from_raw_os_error(32);
        assert!(is_broken_pipe(&format!("failed printing to stdout: {os}")));
        assert!(is_broken_pipe(&format!("failed printing to stderr: {os}")));
        let other = std::io::Error::from_raw_os_error(28);
        assert!(!is_broken_pipe(&format!(
            "failed printing to stdout: {other}"
        )));
        assert!(!is_broken_pipe("Broken pipe in some other panic"));
    }
}
