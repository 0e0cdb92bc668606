//! The README's promises about its own commands:
//!
//! - the Quick start has exactly two commands, the demo and `./test`;
//! - `./test` installs what the tests need and runs `cargo test --workspace`,
//!   and `.ci/run` calls exactly that command (so CI runs what a newcomer runs);
//! - every `leadbridge` subcommand the README shows is run by some test
//!   (the demo by `tests/demo.rs`, the operator commands by `tests/cli.rs`,
//!   `tests/operator_cli.rs` and others), so none can rot unnoticed.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn read(path: &str) -> String {
    std::fs::read_to_string(root().join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The commands of the first ```sh block after `## Quick start`, comments off.
fn quick_start(readme: &str) -> Vec<String> {
    let section = readme
        .split("## Quick start")
        .nth(1)
        .expect("a Quick start section");
    let block = section
        .split("```sh\n")
        .nth(1)
        .and_then(|b| b.split("```").next())
        .expect("a sh block");
    block
        .lines()
        .map(|l| l.split(" #").next().unwrap_or_default().trim().to_owned())
        .filter(|l| !l.is_empty())
        .collect()
}

/// The commands a script runs: its lines, comments and blanks off.
fn script_commands(text: &str) -> Vec<String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_owned)
        .collect()
}

#[test]
fn the_quick_start_is_the_demo_and_the_test_script() {
    let readme = read("README.md");
    assert_eq!(
        quick_start(&readme),
        ["cargo run --release -- demo", "./test"],
        "the README's two commands"
    );
    // The demo command is what tests/demo.rs runs (`demo` on the built binary).
    assert!(read("tests/demo.rs").contains(r#".args(["demo""#));
}

#[test]
fn ci_runs_the_readme_test_command_and_it_sets_itself_up() {
    let readme = read("README.md");
    let test_command = quick_start(&readme)[1].clone();
    let ci = script_commands(&read(".ci/run"));
    assert!(
        ci.contains(&test_command),
        ".ci/run calls `{test_command}`: {ci:?}"
    );
    assert_eq!(ci.last(), Some(&test_command), "as its last step");
    assert!(
        !ci.iter().any(|l| l.starts_with("cargo test")),
        ".ci/run runs the tests only through `{test_command}`"
    );

    let script_path = root().join(test_command.trim_start_matches("./"));
    let script = std::fs::read_to_string(&script_path).expect("the test script");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&script_path)
            .unwrap()
            .permissions()
            .mode();
        assert!(mode & 0o111 != 0, "{} is executable", script_path.display());
    }
    let commands = script_commands(&script);
    assert_eq!(
        commands.last().map(String::as_str),
        Some(r#"exec cargo test --workspace "$@""#),
        "it ends by running every test"
    );
    for (tool, package) in [
        ("chromium", "chromium"),
        ("node", "nodejs"),
        ("npm", "npm"),
        ("systemd-analyze", "systemd"),
    ] {
        assert!(
            script.contains(&format!("command -v {tool} "))
                && script.contains(&format!("missing+=({package})")),
            "./test installs {package} when {tool} is missing"
        );
    }
    assert!(script.contains("apt-get install"));
    assert!(script.contains("npm ci --prefix tests/clients"));
    // The README says what it installs.
    for word in [
        "Chromium",
        "Node.js",
        "npm",
        "systemd-analyze",
        "npm ci --prefix tests/clients",
    ] {
        assert!(readme.contains(word), "the README mentions {word}");
    }
}

fn test_files() -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(root().join("tests"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "rs") && !p.ends_with("readme.rs"))
        .collect();
    out.sort();
    out
}

#[test]
fn every_leadbridge_command_the_readme_shows_is_run_by_a_test() {
    let readme = read("README.md");
    let mut shown = BTreeSet::new();
    let mut in_block = false;
    for line in readme.lines() {
        if line.starts_with("```") {
            in_block = !in_block;
            continue;
        }
        let line = line.trim().trim_start_matches("$ ");
        let rest = line
            .strip_prefix("leadbridge ")
            .or_else(|| line.strip_prefix("lb "))
            .or_else(|| line.strip_prefix("cargo run --release -- "));
        if let (true, Some(rest)) = (in_block, rest) {
            let sub = rest.split_whitespace().next().unwrap_or_default();
            if sub.chars().all(|c| c.is_ascii_lowercase()) && !sub.is_empty() {
                shown.insert(sub.to_owned());
            }
        }
    }
    for expected in [
        "check",
        "run",
        "status",
        "explain",
        "dlq",
        "resync",
        "report",
        "sla",
        "demo",
        "simulate",
        "completions",
        "man",
    ] {
        assert!(
            shown.contains(expected),
            "the README shows `{expected}`: {shown:?}"
        );
    }
    let tests: Vec<(PathBuf, String)> = test_files()
        .into_iter()
        .map(|p| {
            let text = std::fs::read_to_string(&p).unwrap();
            (p, text)
        })
        .collect();
    for sub in &shown {
        let literal = format!("\"{sub}\"");
        let runner = tests.iter().find(|(_, text)| {
            text.contains(&literal) && text.contains("CARGO_BIN_EXE_leadbridge")
                || text.contains(&format!("&[{literal}")) && text.contains("leadbridge(")
        });
        assert!(
            runner.is_some(),
            "`leadbridge {sub}` is shown in the README but no test runs it"
        );
    }
}
