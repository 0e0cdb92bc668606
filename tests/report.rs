//! `leadbridge report` against a hand-computed scenario of 60 leads: the
//! numbers below were worked out on paper from the scenario, not by the
//! code under test.
//!
//! Lead i (0..60): qualified and handed off; source web/event/ads by i % 3,
//! owner u1/u2 by i % 2. i < 40 accepted after (i + 1) × 10 minutes,
//! within the SLA when i < 30; i ≥ 30 breached (30..40 touched late,
//! 40..60 never); 40..60 escalated, 40..50 reassigned, 40..60 recycled
//! (SLA_EXPIRED for 40..55, NO_RESPONSE for 55..60); i < 20 converted,
//! i < 8 won, 8..12 lost.

use std::process::Command;

use jiff::{SignedDuration, Timestamp};
use leadbridge::report::{report, GroupBy};
use leadbridge::state::{Commit, Event, EventKind, SledStore, StateStore};
use serde_json::{json, Value};

fn scenario(start: Timestamp) -> Vec<Event> {
    let mut out = Vec::new();
    for i in 0..60u32 {
        let at = start + SignedDuration::from_mins(i64::from(i));
        let event = |kind: EventKind, minutes: i64| {
            let mut e = Event::new(
                at + SignedDuration::from_mins(minutes),
                kind,
                format!("m{i}"),
            );
            e.crm_id = Some(format!("c{i}"));
            e.owner = Some(["u1", "u2"][i as usize % 2].to_string());
            e.source = Some(["web", "event", "ads"][i as usize % 3].to_string());
            e.campaign = Some("winter".to_string());
            e
        };
        out.push(event(EventKind::Qualified, 0));
        out.push(event(EventKind::HandedOff, 0));
        if i < 40 {
            let mut e = event(EventKind::Accepted, 10 * i64::from(i + 1));
            e.detail.insert("within_sla".into(), json!(i < 30));
            e.detail
                .insert("time_to_first_touch_s".into(), json!(600 * (i + 1)));
            out.push(e);
        }
        if i >= 30 {
            out.push(event(EventKind::SlaBreached, 480));
        }
        if i >= 40 {
            out.push(event(EventKind::Escalated, 480));
            let mut e = event(EventKind::Recycled, 3000);
            e.detail.insert(
                "reason".into(),
                json!(if i < 55 { "SLA_EXPIRED" } else { "NO_RESPONSE" }),
            );
            out.push(e);
        }
        if (40..50).contains(&i) {
            out.push(event(EventKind::Reassigned, 720));
        }
        if i < 20 {
            out.push(event(EventKind::Converted, 4000));
        }
        if i < 8 {
            out.push(event(EventKind::Won, 9000));
        }
        if (8..12).contains(&i) {
            out.push(event(EventKind::Lost, 9000));
        }
    }
    out
}

#[tokio::test]
async fn report_matches_the_hand_computed_funnel() {
    let dir = tempfile::tempdir().unwrap();
    let store = SledStore::open(dir.path().join("state")).unwrap();
    let start = Timestamp::now() - SignedDuration::from_hours(24 * 10);
    let mut commit = Commit::new("inbound");
    for e in scenario(start) {
        commit.event(e);
    }
    store.commit(&commit).await.unwrap();
    let events = store
        .events("inbound", Timestamp::MIN, Timestamp::MAX)
        .await
        .unwrap();

    let r = report(&events, Some(GroupBy::Source));
    let t = &r.total;
    let c = &t.counts;
    assert_eq!(
        (
            c.qualified,
            c.handed_off,
            c.accepted,
            c.accepted_in_time,
            c.breached
        ),
        (60, 60, 40, 30, 30)
    );
    assert_eq!(
        (
            c.escalated,
            c.reassigned,
            c.recycled,
            c.converted,
            c.won,
            c.lost
        ),
        (20, 10, 20, 20, 8, 4)
    );
    assert_eq!(t.conversion.qualified_to_handed_off, Some(1.0));
    assert_eq!(t.conversion.handed_off_to_accepted, Some(40.0 / 60.0));
    assert_eq!(t.conversion.accepted_to_converted, Some(0.5));
    assert_eq!(t.conversion.converted_to_won, Some(0.4));
    // 40 times, 600 s apart: rank 20 is 12,000 s, rank 36 is 21,600 s.
    assert_eq!(t.median_time_to_first_touch_s, Some(12_000));
    assert_eq!(t.p90_time_to_first_touch_s, Some(21_600));
    assert_eq!(t.sla_compliance_pct, Some(50.0));
    assert_eq!(t.breaches_per_owner["u1"], 15);
    assert_eq!(t.breaches_per_owner["u2"], 15);
    assert_eq!(t.recycled_reasons["SLA_EXPIRED"], 15);
    assert_eq!(t.recycled_reasons["NO_RESPONSE"], 5);

    // web: i = 0, 3, …, 57 (20 leads); accepted i ≤ 39: 14 (10 in time);
    // breached i ≥ 30: 10; times (i + 1) × 600 for i = 0, 3, …, 39.
    let web = r.groups.iter().find(|g| g.group == "web").unwrap();
    assert_eq!(web.counts.handed_off, 20);
    assert_eq!(web.counts.accepted, 14);
    assert_eq!(web.counts.accepted_in_time, 10);
    assert_eq!(web.counts.breached, 10);
    assert_eq!(web.sla_compliance_pct, Some(50.0));
    // Sorted: 600, 2400, …, 24,000 (step 1,800); rank 7 → 11,400; rank 13 → 22,200.
    assert_eq!(web.median_time_to_first_touch_s, Some(11_400));
    assert_eq!(web.p90_time_to_first_touch_s, Some(22_200));
    assert_eq!(r.groups.len(), 3);
    drop(store);

    // The command line reads the same numbers from the state directory.
    let base = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/configs/base.toml"),
    )
    .unwrap();
    let config = dir.path().join("leadbridge.toml");
    std::fs::write(&config, base).unwrap();
    let run = |extra: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_leadbridge"))
            .args(["report", "--config"])
            .arg(&config)
            .args(extra)
            .env("LB_TEST_HUBSPOT_TOKEN", "t")
            .env("LB_TEST_SF_SECRET", "s")
            .env("LB_TEST_SF_REFRESH", "r")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let json: Value = serde_json::from_str(&run(&["--json", "--by", "owner"])).unwrap();
    assert_eq!(json["total"]["counts"]["handed_off"], 60);
    assert_eq!(json["total"]["sla_compliance_pct"], 50.0);
    assert_eq!(json["groups"].as_array().unwrap().len(), 2);
    let csv = run(&["--csv", "--since", "30d"]);
    let row = csv.lines().nth(1).unwrap();
    assert!(
        row.starts_with("all,60,60,40,30,30,20,10,20,20,8,4,"),
        "{row}"
    );
    assert!(run(&[]).contains("time to first touch: median 3h20m, p90 6h00m"));
    // Outside the window, nothing.
    let old: Value = serde_json::from_str(&run(&["--json", "--since", "1d"])).unwrap();
    assert_eq!(old["total"]["counts"]["handed_off"], 0);
}
