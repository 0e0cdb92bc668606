//! `leadbridge check --online` against the simulators: every mistake of
//! `tests/configs/online/` is refused at its file:line:col, in the tool's
//! words, with the exit code of a config problem; their base passes.
//!
//! Each file starts with `# expect: LINE:COL substring`. Placeholders the
//! test fills, as an operator would with their own: `{hs_url}`,
//! `{sf_url}`, and user ids `{owner0}`, `{owner1}`, `{manager}`,
//! `{inactive}` (the simulated org's users).

use std::path::{Path, PathBuf};
use std::process::Command;

use leadbridge_core::sim::{RunningSimulator, SimulatorOptions, TokenSettings};

const HS_TOKEN: &str = "pat-online-check";
const SF_TOKEN: &str = "sf-online-check";

struct Sims {
    hubspot: RunningSimulator,
    salesforce: RunningSimulator,
}

async fn sims() -> Sims {
    let options = |token: &str| SimulatorOptions {
        tokens: TokenSettings {
            static_tokens: vec![token.to_string()],
            ..TokenSettings::default()
        },
        rate_limits: false,
        ..SimulatorOptions::default()
    };
    Sims {
        hubspot: leadbridge_hubspot::simulator::start(options(HS_TOKEN))
            .await
            .unwrap(),
        salesforce: leadbridge_salesforce::simulator::start(options(SF_TOKEN))
            .await
            .unwrap(),
    }
}

fn online_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/configs/online")
}

/// Writes `template` with the placeholders filled into a fresh folder with
/// its secrets; returns the config's path.
fn materialise(sims: &Sims, template: &str, dir: &Path) -> PathBuf {
    std::fs::create_dir_all(dir.join("secrets")).unwrap();
    std::fs::write(dir.join("secrets/hubspot.token"), HS_TOKEN).unwrap();
    std::fs::write(dir.join("secrets/hubspot.revoked"), "pat-revoked-long-ago").unwrap();
    std::fs::write(dir.join("secrets/salesforce.token"), SF_TOKEN).unwrap();
    let text = template
        .replace("{hs_url}", &sims.hubspot.url())
        .replace("{sf_url}", &sims.salesforce.url())
        .replace("{owner0}", "005Dn0000000002IAA")
        .replace("{owner1}", "005Dn0000000003IAA")
        .replace("{manager}", "005Dn0000000004IAA")
        .replace("{inactive}", "005Dn0000000005IAA");
    let path = dir.join("leadbridge.toml");
    std::fs::write(&path, text).unwrap();
    path
}

fn check_online(path: &Path) -> (Option<i32>, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_leadbridge"))
        .args(["check", "--online", "--config"])
        .arg(path)
        .current_dir(path.parent().unwrap())
        .output()
        .expect("run leadbridge");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code(), text)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_base_fits_the_tools() {
    let sims = sims().await;
    let dir = tempfile::tempdir().unwrap();
    let template = std::fs::read_to_string(online_dir().join("base.toml")).unwrap();
    let path = materialise(&sims, &template, dir.path());
    let (code, out) = check_online(&path);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("checked online: 3 objects"), "{out}");
    assert!(!out.contains("error:"), "{out}");
    // Offline, the same file says the tools were not contacted.
    let offline = Command::new(env!("CARGO_BIN_EXE_leadbridge"))
        .args(["check", "--config"])
        .arg(&path)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&offline.stdout);
    assert!(offline.status.success(), "{text}");
    assert!(
        text.lines()
            .last()
            .is_some_and(|l| l.starts_with("the tools were not contacted")),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_mistake_is_refused_at_its_place() {
    let sims = sims().await;
    let mut files: Vec<PathBuf> = std::fs::read_dir(online_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().is_some_and(|n| n != "base.toml"))
        .collect();
    files.sort();
    assert!(files.len() >= 14, "only {} cases", files.len());
    let mut failures = Vec::new();
    for file in &files {
        let template = std::fs::read_to_string(file).unwrap();
        let expect = template
            .lines()
            .next()
            .and_then(|l| l.strip_prefix("# expect: "))
            .unwrap_or_else(|| panic!("{}: first line must be `# expect: …`", file.display()));
        let (position, substring) = expect.split_once(' ').unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = materialise(&sims, &template, dir.path());
        let (code, out) = check_online(&path);
        let located = format!("{}:{position}:", path.display());
        let found = out
            .lines()
            .any(|l| l.starts_with(&located) && l.contains(substring));
        if code != Some(2) || !found {
            failures.push(format!(
                "{}: expected exit 2 and `{located} … {substring}`, got {code:?}:\n{out}",
                file.display()
            ));
        }
        assert!(
            !out.contains(HS_TOKEN) && !out.contains("pat-revoked-long-ago"),
            "a secret in the output of {}",
            file.display()
        );
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
