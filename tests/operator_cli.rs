//! The command line's rough edges, run as ops run it: a closed pipe ends
//! every command quietly (`leadbridge dlq list | head`), the config comes
//! from `$LEADBRIDGE_CONFIG` when no flag names it, and the completions and
//! man page are generated from the same definitions that parse the flags.

mod support;

use std::os::fd::{FromRawFd, OwnedFd};
use std::process::{Command, Stdio};

use jiff::Timestamp;
use leadbridge::state::{Commit, DeadLetter, Side, StateStore};
use support::*;

fn bin() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_leadbridge"));
    cmd.env_remove("LEADBRIDGE_CONFIG");
    cmd
}

/// A pipe whose reader is already closed: every write to it fails with
/// EPIPE, deterministically (no race with a reader that has not closed yet).
fn closed_pipe() -> Stdio {
    let mut fds = [0; 2];
    // SAFETY: `fds` is two ints, as pipe(2) asks; both fds are new and ours.
    let rc = unsafe { libc::pipe(fds.as_mut_ptr()) };
    assert_eq!(rc, 0, "pipe(2)");
    // SAFETY: each fd is open and owned by nothing else.
    let (reader, writer) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    drop(reader);
    Stdio::from(writer)
}

/// Runs `cmd` with stdout into a closed pipe: returns its exit code and stderr.
fn into_closed_pipe(mut cmd: Command) -> (Option<i32>, String) {
    let out = cmd
        .stdout(closed_pipe())
        .stderr(Stdio::piped())
        .output()
        .expect("run leadbridge");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn dead_letter(i: usize) -> DeadLetter {
    DeadLetter {
        side: Side::Marketing,
        object: "contacts".into(),
        record_id: format!("{}", 9_000 + i),
        fields: Default::default(),
        reason: "REQUIRED_FIELD_MISSING: Company".into(),
        code: Some("REQUIRED_FIELD_MISSING".into()),
        at: Timestamp::now(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_closed_reader_ends_every_command_quietly() {
    let world = World::start(WorldOptions {
        contacts: 20,
        ..WorldOptions::default()
    })
    .await;
    {
        let daemon = world.daemon();
        cycle(&daemon).await;
        let mut commit = Commit::new("inbound");
        for i in 0..50 {
            commit.dead_letter(dead_letter(i));
        }
        daemon.store.commit(&commit).await.unwrap();
        assert_eq!(
            daemon.store.counts("inbound").await.unwrap().dead_letters,
            50
        );
    }
    let config = world.config_path.to_str().unwrap();
    let commands: Vec<Vec<&str>> = vec![
        vec!["dlq", "list", "--config", config],
        vec!["dlq", "list", "--json", "--config", config],
        vec!["status", "--config", config],
        vec!["status", "--json", "--config", config],
        vec!["report", "--csv", "--config", config],
        vec!["report", "--config", config],
        vec!["check", "--config", config],
        vec!["man"],
        vec!["completions", "bash"],
    ];
    for args in commands {
        let mut cmd = bin();
        cmd.args(&args);
        let (code, stderr) = into_closed_pipe(cmd);
        assert!(
            !stderr.contains("panicked") && !stderr.contains("Broken pipe"),
            "{args:?} complained about the closed pipe:\n{stderr}"
        );
        assert_eq!(
            code,
            Some(141),
            "{args:?} exits as a SIGPIPE'd tool does:\n{stderr}"
        );
    }
    // The same commands into an open pipe print and succeed (the state was left sound).
    let out = bin()
        .args(["dlq", "list", "--config", config])
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(text.matches("REQUIRED_FIELD_MISSING").count(), 50, "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_config_comes_from_the_environment_when_no_flag_names_it() {
    let world = World::start(WorldOptions {
        contacts: 5,
        ..WorldOptions::default()
    })
    .await;
    let out = bin()
        .args(["status", "--json"])
        .env("LEADBRIDGE_CONFIG", &world.config_path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json[0]["name"], "inbound");
    // Without either, the server's default path is the one read.
    let out = bin().args(["status"]).output().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("/etc/leadbridge/leadbridge.toml"), "{err}");
    // `--help` says so.
    let help = bin().args(["status", "--help"]).output().unwrap();
    let help = String::from_utf8_lossy(&help.stdout);
    assert!(
        help.contains("LEADBRIDGE_CONFIG") && help.contains("/etc/leadbridge/leadbridge.toml"),
        "{help}"
    );
}

#[test]
fn completions_and_man_pages_come_from_the_command_line_itself() {
    for (shell, marker) in [
        ("bash", "complete -F _leadbridge"),
        ("zsh", "#compdef leadbridge"),
        ("fish", "complete -c leadbridge"),
    ] {
        let out = bin().args(["completions", shell]).output().unwrap();
        assert!(out.status.success(), "{shell}");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains(marker), "{shell}:\n{text}");
        for word in [
            "status",
            "dlq",
            "resync",
            "--dry-run",
            "--config",
            "completions",
        ] {
            assert!(text.contains(word), "{shell} completes {word}");
        }
    }
    let out = bin().args(["man"]).output().unwrap();
    assert!(out.status.success());
    let page = String::from_utf8_lossy(&out.stdout);
    assert!(
        page.starts_with(".ie") || page.contains(".TH leadbridge 1"),
        "{page}"
    );
    assert!(page.contains(".TH leadbridge 1"), "{page}");
    for sub in [
        "leadbridge\\-status(1)",
        "leadbridge\\-dlq(1)",
        "leadbridge\\-report(1)",
    ] {
        assert!(page.contains(sub), "{sub} listed:\n{page}");
    }
    let out = bin().args(["man", "status"]).output().unwrap();
    assert!(out.status.success());
    let page = String::from_utf8_lossy(&out.stdout);
    assert!(page.contains(".TH leadbridge\\-status 1"), "{page}");
    assert!(
        page.contains("LEADBRIDGE_CONFIG") && page.contains("\\-\\-json"),
        "{page}"
    );
    let out = bin().args(["man", "nope"]).output().unwrap();
    assert!(!out.status.success());
}
