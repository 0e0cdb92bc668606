//! The README's first command works: `leadbridge demo` tells its story
//! against the simulators (here with --no-wait so it ends by itself).

use std::process::Command;

#[test]
fn the_demo_hands_off_leads_and_carries_feedback_back() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_leadbridge"))
        .args(["demo", "--no-wait", "--contacts", "200", "--dir"])
        .arg(dir.path().join("demo"))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains("contacts qualified and are now Salesforce leads"),
        "{text}"
    );
    assert!(
        text.contains("hs_lead_status = IN_PROGRESS"),
        "feedback reached marketing:\n{text}"
    );
    assert!(
        text.contains("disqualify_reason = \"No budget this year\""),
        "{text}"
    );
    let idle = text.split("Cycle 4").nth(1).expect("a fourth cycle");
    assert!(
        idle.contains("wrote 0 to Salesforce and 0 to HubSpot"),
        "the idle cycle writes nothing:\n{text}"
    );
    // The demo leaves a real config behind that `check` accepts.
    let check = Command::new(env!("CARGO_BIN_EXE_leadbridge"))
        .args(["check", "--config"])
        .arg(dir.path().join("demo/leadbridge.toml"))
        .output()
        .unwrap();
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stderr)
    );
}
