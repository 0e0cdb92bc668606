//! `leadbridge check` against real files: the annotated example passes, and
//! every config under `tests/configs/broken/` fails with its located error.
//!
//! Each broken file starts with `# expect: LINE:COL substring`: the binary
//! must exit non-zero and print `<file>:LINE:COL` on a line containing the
//! substring.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Runs `leadbridge check --config path` with the test environment: the
/// references the configs use are set, the "unset" one is removed.
fn check(path: &Path, extra_env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_leadbridge"));
    cmd.arg("check").arg("--config").arg(path);
    cmd.env("LB_TEST_HUBSPOT_TOKEN", "hubspot-token")
        .env("LB_TEST_SF_SECRET", "sf-secret")
        .env("LB_TEST_SF_REFRESH", "sf-refresh")
        .env_remove("LB_TEST_UNSET_VARIABLE");
    for (k, v) in extra_env {
        cmd.env(k, v);
    }
    cmd.output().expect("run leadbridge")
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

fn configs_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/configs")
}

#[test]
fn every_broken_config_fails_with_a_located_error() {
    let mut files: Vec<PathBuf> = std::fs::read_dir(configs_dir().join("broken"))
        .expect("tests/configs/broken")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    assert!(files.len() >= 32, "only {} broken configs", files.len());
    let mut failures = Vec::new();
    for file in &files {
        let source = std::fs::read_to_string(file).expect("read");
        let first = source.lines().next().unwrap_or_default();
        let expect = first.strip_prefix("# expect: ").unwrap_or_else(|| {
            panic!(
                "{}: first line must be `# expect: LINE:COL text`",
                file.display()
            )
        });
        let (position, substring) = expect.split_once(' ').expect("LINE:COL then text");
        let output = check(file, &[]);
        let out = text(&output);
        let located = format!("{}:{position}:", file.display());
        let found = out
            .lines()
            .any(|l| l.starts_with(&located) && l.contains(substring));
        if output.status.success() || !found {
            failures.push(format!(
                "{}: expected exit != 0 and `{located} … {substring}`, got {:?}:\n{out}",
                file.display(),
                output.status.code()
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn the_base_of_the_broken_configs_is_valid() {
    let output = check(&configs_dir().join("base.toml"), &[]);
    assert!(output.status.success(), "{}", text(&output));
    assert!(
        text(&output).contains("ok: 1 pipeline (inbound), 2 connectors"),
        "{}",
        text(&output)
    );
}

#[test]
fn the_annotated_example_is_valid() {
    let dir = tempfile::tempdir().expect("tempdir");
    // The example reads its refresh token from /etc/leadbridge/sf.token;
    // point that reference at a temporary file instead.
    let token = dir.path().join("sf.token");
    std::fs::write(&token, "refresh-token\n").expect("write token");
    let example = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("config/leadbridge.example.toml"),
    )
    .expect("example")
    .replace(
        "file:/etc/leadbridge/sf.token",
        &format!("file:{}", token.display()),
    );
    let path = dir.path().join("leadbridge.toml");
    std::fs::write(&path, example).expect("write config");
    let output = check(
        &path,
        &[("HUBSPOT_TOKEN", "pat-na1-x"), ("SF_SECRET", "secret")],
    );
    let out = text(&output);
    assert!(output.status.success(), "{out}");
    assert!(out.contains("ok: 2 pipelines (inbound, events), 2 connectors (hubspot (hubspot), salesforce (salesforce))"), "{out}");
}

#[test]
fn a_config_with_several_problems_reports_all_of_them() {
    let base = std::fs::read_to_string(configs_dir().join("base.toml")).expect("base");
    let broken = base
        .replace("[daemon]\nstate_dir", "[daemon]\nstatedir")
        .replace(
            "kind = \"salesforce\"",
            "kind = \"salesforce\"\ntimeout = \"soon\"",
        )
        .replace("\"0 */2 * * * *\"", "\"*/2 * * * *\"")
        .replace("score >= 80", "scroe >= 80")
        .replace("env:LB_TEST_SF_SECRET", "env:LB_TEST_UNSET_VARIABLE")
        .replace(
            "owner = \"both\", conflict = \"newest\"",
            "owner = \"both\"",
        );
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("several.toml");
    std::fs::write(&path, broken).expect("write");
    let output = check(&path, &[]);
    let out = text(&output);
    assert!(!output.status.success());
    let file = path.display().to_string();
    for (position, what) in [
        ("3:1", "unknown key `statedir`"),
        ("12:11", "bad duration for `timeout`"),
        ("14:70", "env:LB_TEST_UNSET_VARIABLE is not set"),
        ("18:12", "has 5 fields"),
        ("25:61", "no `conflict` policy"),
        ("32:9", "names `scroe`"),
    ] {
        let located = format!("{file}:{position}:");
        assert!(
            out.lines()
                .any(|l| l.starts_with(&located) && l.contains(what)),
            "missing `{located} … {what}` in:\n{out}"
        );
    }
    assert!(out.contains("7 problems found"), "{out}");
}

#[test]
fn a_missing_file_is_an_error_not_a_panic() {
    let output = check(Path::new("/nonexistent/leadbridge.toml"), &[]);
    assert!(!output.status.success());
    assert!(text(&output)
        .contains("/nonexistent/leadbridge.toml:1:1: error: cannot read the config file"));
}
