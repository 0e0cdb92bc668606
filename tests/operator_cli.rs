//! The command line's rough edges, run as ops run it: a closed pipe ends
//! every command quietly (`leadbridge dlq list | head`), the config comes
//! from `$LEADBRIDGE_CONFIG` when no flag names it, and the completions and
//! man page are generated from the same definitions that parse the flags.

mod support;

use std::os::fd::{FromRawFd, OwnedFd};
use std::process::{Command, Stdio};

use jiff::Timestamp;
use leadbridge::state::{Commit, DeadLetter, Side};
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
            "only-unlinked",
            "config",
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
    assert!(page.contains(".TH leadbridge-status 1"), "{page}");
    assert!(
        page.contains("LEADBRIDGE_CONFIG") && page.contains("\\-\\-json"),
        "{page}"
    );
    let out = bin().args(["man", "nope"]).output().unwrap();
    assert!(!out.status.success());
}

/// Runs the binary with the world's config; returns (exit code, stdout, stderr).
fn run_json(world: &World, args: &[&str]) -> (Option<i32>, serde_json::Value, String) {
    let out = bin()
        .args(args)
        .arg("--config")
        .arg(&world.config_path)
        .output()
        .expect("run leadbridge");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let json = serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("{args:?}: stdout is not JSON ({e}):\n{stdout}\n{stderr}"));
    (out.status.code(), json, stderr)
}

const SLA: &str = r#"
[pipelines.sla]
calendar = { timezone = "Asia/Tokyo", days = "Mon-Fri", hours = "09:00-18:00", holidays = ["2026-12-31", "2027-01-01"] }
first_touch = { within = "8h", touched_when = "status != 'NEW'" }
manager = "{owner0}"
on_breach = [
  { after = "0h", task = { for = "owner", subject = "SLA breached: {name}" } },
  { after = "4h", reassign = "round_robin", task = { for = "manager", subject = "Escalated: {name}" } },
]
recycle = { after = "5d", set = { lifecycle = "lead", disqualify_reason = "SLA_EXPIRED" } }
tasks = { object = "Task", subject = "Subject", parent = "WhoId", owner = "OwnerId" }
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_for_explain_the_dry_run_sla_preview_and_check() {
    let world = World::start(WorldOptions {
        contacts: 40,
        sla: SLA.to_string(),
        ..WorldOptions::default()
    })
    .await;
    let all = contacts(&world, 40);
    let qualifying = all.iter().filter(|c| qualifies(c)).count();
    assert!(qualifying > 0);
    let held = all
        .iter()
        .find(|c| {
            c.text("hubspotscore")
                .and_then(|s| s.parse::<f64>().ok())
                .is_some_and(|s| s < 60.0)
        })
        .expect("a low-score contact");

    // The dry run's plan: one object per write, nothing written.
    let (code, plan, err) = run_json(&world, &["run", "--dry-run", "--json"]);
    assert_eq!(code, Some(0), "{err}");
    let p = &plan[0];
    assert_eq!(p["pipeline"], "inbound");
    assert_eq!((&p["ok"], &p["dry_run"]), (&true.into(), &true.into()));
    let planned = p["planned"].as_array().unwrap();
    assert_eq!(planned.len(), qualifying, "{plan}");
    for w in planned {
        assert_eq!(w["action"], "create", "{w}");
        assert_eq!(w["side"], "crm", "{w}");
        assert!(w["fields"]["Email"].is_string(), "{w}");
        assert!(w["marketing_id"].is_string(), "{w}");
    }
    assert_eq!(p["counts"]["written_crm"], qualifying as u64);
    assert_eq!(world.sf().count("Lead"), 0, "a dry run writes nothing");

    // explain: the held-back lead's conditions with the values they read.
    let email = held.text("email").unwrap();
    let (code, e, err) = run_json(
        &world,
        &[
            "explain",
            "--pipeline",
            "inbound",
            "--email",
            &email,
            "--json",
        ],
    );
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(e["verdict"], "held_back", "{e}");
    assert_eq!(e["record_id"], held.id.as_str());
    let score = e["conditions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["condition"] == "score >= 60")
        .unwrap_or_else(|| panic!("{e}"));
    assert_eq!(score["held"], false, "{e}");
    let expected: f64 = held.text("hubspotscore").unwrap().parse().unwrap();
    assert_eq!(score["values"]["score"].as_f64(), Some(expected), "{e}");
    let (code, e, _) = run_json(
        &world,
        &[
            "explain",
            "--pipeline",
            "inbound",
            "--email",
            "nobody@example.invalid",
            "--json",
        ],
    );
    assert_eq!((code, &e["verdict"]), (Some(1), &"not_found".into()), "{e}");

    // sla preview: Friday 17:00 in Tokyo with 8 business hours is due Monday 16:00.
    let (code, s, err) = run_json(
        &world,
        &[
            "sla",
            "preview",
            "--pipeline",
            "inbound",
            "--handed-off-at",
            "2026-12-04T17:00:00+09:00",
            "--json",
        ],
    );
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(s["first_touch_due"]["at"], "2026-12-07T07:00:00Z", "{s}");
    assert!(
        s["first_touch_due"]["local"]
            .as_str()
            .unwrap()
            .starts_with("2026-12-07T16:00:00+09:00"),
        "{s}"
    );
    assert_eq!(s["escalation_steps"].as_array().unwrap().len(), 2, "{s}");
    assert_eq!(
        s["escalation_steps"][1]["due"]["at"], "2026-12-08T02:00:00Z",
        "{s}"
    );
    assert!(s["recycle"]["due"]["at"].is_string(), "{s}");

    // check, offline and online, on a good config.
    let (code, c, err) = run_json(&world, &["check", "--json"]);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(
        (&c["ok"], &c["online"]),
        (&true.into(), &false.into()),
        "{c}"
    );
    assert_eq!(c["errors"], serde_json::json!([]));
    let (code, c, err) = run_json(&world, &["check", "--online", "--json"]);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(
        (&c["ok"], &c["online"]),
        (&true.into(), &true.into()),
        "{c}"
    );

    // A field the CRM lacks: online only, located, with what was expected.
    let text = std::fs::read_to_string(&world.config_path).unwrap();
    let typo = text.replace(r#"crm = "FirstName""#, r#"crm = "First_Name__typo""#);
    assert_ne!(text, typo);
    std::fs::write(&world.config_path, &typo).unwrap();
    let (code, c, _) = run_json(&world, &["check", "--online", "--json"]);
    assert_eq!(code, Some(2), "{c}");
    assert_eq!(c["ok"], false);
    let e = c["errors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["message"].as_str().unwrap().contains("First_Name__typo"))
        .unwrap_or_else(|| panic!("{c}"));
    let line = typo
        .lines()
        .position(|l| l.contains("First_Name__typo"))
        .unwrap()
        + 1;
    assert_eq!(e["line"], line, "{e}");
    assert!(e["column"].as_u64().unwrap() > 0, "{e}");
    assert!(e["file"].as_str().unwrap().ends_with(".toml"), "{e}");
    assert!(e.get("expected").is_some(), "{e}");

    // A file that does not parse: offline, located.
    std::fs::write(&world.config_path, text.replace("[daemon]", "[deamon]")).unwrap();
    let (code, c, _) = run_json(&world, &["check", "--json"]);
    assert_eq!(code, Some(2), "{c}");
    let errors = c["errors"].as_array().unwrap();
    assert!(!errors.is_empty(), "{c}");
    assert!(
        errors
            .iter()
            .any(|e| e["line"].as_u64() > Some(0)
                && e["message"].as_str().unwrap().contains("deamon")),
        "{c}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn under_systemd_error_lines_carry_the_journal_priority() {
    use std::os::unix::fs::MetadataExt;
    let world = World::start(WorldOptions {
        contacts: 5,
        ..WorldOptions::default()
    })
    .await;
    let text = std::fs::read_to_string(&world.config_path).unwrap();
    let typo = text.replace(r#"crm = "FirstName""#, r#"crm = "First_Name__typo""#);
    std::fs::write(&world.config_path, typo).unwrap();
    // stderr is a file standing for journald's stream; systemd names it in
    // $JOURNAL_STREAM as device:inode, which is what the daemon checks.
    let log_path = world.path().join("journal-stream");
    let log = std::fs::File::create(&log_path).unwrap();
    let meta = log.metadata().unwrap();
    let run = |stream: String| {
        let log = std::fs::OpenOptions::new()
            .write(true)
            .truncate(true)
            .open(&log_path)
            .unwrap();
        let status = bin()
            .args(["run", "--once", "--config"])
            .arg(&world.config_path)
            .env("JOURNAL_STREAM", stream)
            .stdout(Stdio::null())
            .stderr(log)
            .status()
            .unwrap();
        assert_eq!(status.code(), Some(2), "the config does not fit the tools");
        std::fs::read_to_string(&log_path).unwrap()
    };
    let journal = run(format!("{}:{}", meta.dev(), meta.ino()));
    let error = journal
        .lines()
        .find(|l| l.contains("cannot start"))
        .unwrap_or_else(|| panic!("{journal}"));
    // The test config logs human lines; the prefix is the same for JSON.
    let line = error
        .strip_prefix("<3>")
        .unwrap_or_else(|| panic!("{error}"));
    assert!(line.contains("ERROR"), "{line}");
    assert!(
        !line.contains('\u{1b}'),
        "no colour codes in the journal: {line}"
    );
    assert!(
        journal.lines().any(|l| l.starts_with("<6>")),
        "info lines: {journal}"
    );
    // Another stream (stderr is not the journal): no prefixes.
    let plain = run(format!("{}:{}", meta.dev(), meta.ino() + 1));
    assert!(plain.contains("cannot start"), "{plain}");
    assert!(!plain.lines().any(|l| l.starts_with('<')), "{plain}");
}

/// The README's "Run one by hand": `simulate hubspot` serves the API, and
/// the README's search request answers with the seeded people; SIGTERM
/// stops it cleanly.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn simulate_serves_the_readme_request_and_stops_on_sigterm() {
    use std::io::BufRead;
    let mut child = bin()
        .args([
            "simulate",
            "hubspot",
            "--listen",
            "127.0.0.1:0",
            "--token",
            "demo-token",
            "--seed-records",
            "5",
        ])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next().unwrap().unwrap();
    let url = first
        .split("listening on ")
        .nth(1)
        .unwrap_or_else(|| panic!("{first}"))
        .trim()
        .to_owned();
    let body: serde_json::Value = reqwest::Client::new()
        .post(format!("{url}/crm/v3/objects/contacts/search"))
        .bearer_auth("demo-token")
        .json(&serde_json::json!({"limit": 2, "properties": ["email", "hubspotscore"]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(body["results"].as_array().map(Vec::len), Some(2), "{body}");
    assert!(
        body["results"][0]["properties"]["email"].is_string(),
        "{body}"
    );
    // SAFETY: kill(2) on our own child's pid.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let status = child.wait().unwrap();
    assert!(status.success(), "{status:?}");
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    assert!(
        rest.iter().any(|l| l.contains("simulator stopped")),
        "{rest:?}"
    );
}

/// After the handoff rule is loosened, contacts that now qualify are not
/// read again until they change; `resync --only-unlinked` re-reads
/// marketing (only) and hands them off, without writing the linked ones.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resync_only_unlinked_picks_up_leads_a_loosened_rule_qualifies() {
    let world = World::start(WorldOptions {
        contacts: 120,
        ..WorldOptions::default()
    })
    .await;
    // Each cycle starts past both vendors' change-pass overlaps, so an
    // incremental pass reads only what changed since the one before.
    let later = || {
        world
            .hs()
            .clock()
            .advance(std::time::Duration::from_secs(600));
        world
            .sf()
            .clock()
            .advance(std::time::Duration::from_secs(600));
    };
    later();
    let first = {
        let daemon = world.daemon();
        cycle(&daemon).await
    };
    assert!(first.handoffs > 0);
    let text = std::fs::read_to_string(&world.config_path).unwrap();
    let looser = text.replace("score >= 60", "score >= 30");
    assert_ne!(text, looser);
    std::fs::write(&world.config_path, looser).unwrap();
    let now_qualify = contacts(&world, 120)
        .iter()
        .filter(|c| {
            let has = |f: &str| c.text(f).is_some_and(|v| !v.trim().is_empty());
            c.text("hubspotscore")
                .and_then(|s| s.parse::<f64>().ok())
                .is_some_and(|s| (30.0..60.0).contains(&s))
                && c.text("lifecyclestage").as_deref() == Some("marketingqualifiedlead")
                && has("email")
                && has("lastname")
                && has("company")
        })
        .count() as u64;
    assert!(now_qualify > 0, "the seed has contacts between 30 and 60");
    // Without a resync the next cycle reads only changes: nothing new.
    let idle = {
        let daemon = world.daemon();
        let crm_cursor = daemon.store.cursors("inbound").await.unwrap();
        later();
        let idle = cycle(&daemon).await;
        assert_eq!(
            daemon.store.cursors("inbound").await.unwrap().len(),
            crm_cursor.len()
        );
        idle
    };
    assert_eq!(idle.handoffs, 0, "unchanged contacts are not read again");

    let crm_before: Vec<_> = {
        let daemon = world.daemon();
        daemon
            .store
            .cursors("inbound")
            .await
            .unwrap()
            .into_iter()
            .filter(|c| c.side == Side::Crm)
            .collect()
    };
    let (ok, out) = leadbridge(
        &world,
        &["resync", "--pipeline", "inbound", "--only-unlinked"],
    );
    assert!(ok, "{out}");
    assert!(out.contains("marketing cursor reset"), "{out}");
    let daemon = world.daemon();
    let cursors = daemon.store.cursors("inbound").await.unwrap();
    assert!(
        cursors.iter().all(|c| c.side != Side::Marketing),
        "{cursors:?}"
    );
    let crm_after: Vec<_> = cursors
        .into_iter()
        .filter(|c| c.side == Side::Crm)
        .collect();
    assert_eq!(crm_before, crm_after, "the CRM keeps its cursor");
    let again = cycle(&daemon).await;
    assert_eq!(
        again.counts.read_marketing, 120,
        "marketing re-read from the beginning"
    );
    assert_eq!(
        again.handoffs, now_qualify,
        "the newly qualifying contacts, once each"
    );
    assert_eq!(
        leads(&world).await.len() as u64,
        first.handoffs + now_qualify,
        "no lead written twice"
    );
}
