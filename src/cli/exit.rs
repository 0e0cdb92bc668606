//! What leadbridge's exit codes mean, the same for every command (listed
//! in `--help` and the README): a script or a CI job can tell a config to
//! fix from a tool that is down from records that need a look.

use std::process::ExitCode;

/// Everything went as asked.
pub const OK: u8 = 0;
/// It could not start or run: the state directory is locked or unreadable,
/// the admin port is taken, a tool could not be reached, a stop outran its
/// grace period.
pub const FAILED: u8 = 1;
/// The config is wrong: the file itself (`check`), or against the tools
/// (`check --online` and every start: a field that does not exist, refused
/// credentials…). Every problem was printed with file:line:col.
pub const CONFIG: u8 = 2;
/// A pipeline's cycle failed (after its retries): its error was printed.
pub const CYCLE_FAILED: u8 = 3;
/// Every cycle ran, but records went to the dead letter queue
/// (`leadbridge dlq list` shows them and why).
pub const DEAD_LETTERS: u8 = 4;

/// The help text's section on exit codes.
pub const HELP: &str = "Exit codes:
  0  everything went as asked
  1  could not start or run (state locked, port taken, tool unreachable, stop past its grace)
  2  the config is wrong, in the file or against the tools (every problem printed as file:line:col)
  3  a pipeline's cycle failed (its error printed)
  4  the cycles ran, but records went to the dead letter queue (leadbridge dlq list)";

/// An exit code.
pub fn code(code: u8) -> ExitCode {
    ExitCode::from(code)
}
