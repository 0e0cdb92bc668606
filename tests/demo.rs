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
    let idle = text
        .split("an idle cycle writes nothing")
        .nth(1)
        .expect("an idle cycle");
    assert!(
        idle.lines()
            .next()
            .unwrap_or_default()
            .contains("wrote 0 to Salesforce and 0 to HubSpot"),
        "the idle cycle writes nothing:\n{text}"
    );
    // The follow-up SLA on an accelerated clock: a breach, an escalation, a recycle.
    let count = |marker: &str| -> usize {
        let line = text
            .lines()
            .find(|l| l.contains(marker))
            .unwrap_or_else(|| panic!("no line with {marker:?}:\n{text}"));
        line.split_whitespace()
            .next()
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("no count in {line:?}"))
    };
    assert!(
        count("untouched leads breached the first-touch SLA") > 0,
        "{text}"
    );
    assert!(count("leads escalated to") > 0, "{text}");
    assert!(count("leads went back to marketing nurture") > 0, "{text}");
    assert!(
        text.contains("#sales-alerts") && text.contains("SLA breached:"),
        "breach notices reached the webhook:\n{text}"
    );
    assert!(
        text.contains("lifecyclestage = lead, disqualify_reason = SLA_EXPIRED"),
        "{text}"
    );
    assert!(
        text.contains("funnel:") && text.contains("SLA:"),
        "the report is shown:\n{text}"
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
