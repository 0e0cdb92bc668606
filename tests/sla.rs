//! End to end: the follow-up SLA against both simulators, on controlled
//! clocks (the daemon's `ManualClock`, the simulators' frozen `SimClock`s
//! moved together), so nothing sleeps.
//!
//! One story, in business time (Asia/Tokyo, Mon-Fri 09:00-18:00, 8-hour
//! first touch): leads handed off Friday 17:00 get a context note and a
//! follow-up task; one is touched Monday morning (accepted, no breach); the
//! rest breach Monday 16:00 (not Saturday), notify a local webhook once
//! each, get a breach task; four business hours later (Tuesday 11:00) they
//! are reassigned round-robin, their tasks moving too — across a restart —
//! and five business days after the handoff they go back to marketing.

mod support;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use jiff::Timestamp;
use leadbridge::engine::clock::ManualClock;
use leadbridge::state::{EventKind, StateStore};
use serde_json::{json, Value};
use support::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

const SLA: &str = r#"
[pipelines.sla]
calendar = { timezone = "Asia/Tokyo", days = "Mon-Fri", hours = "09:00-18:00", holidays = ["2026-12-31", "2027-01-01"] }
first_touch = { within = "8h", touched_when = "status != 'NEW'" }
manager = "{owner0}"
on_breach = [
  { after = "0h", notify = "webhook:file:secrets/webhook", task = { for = "owner", subject = "SLA breached: {name}" } },
  { after = "4h", reassign = "round_robin", task = { for = "manager", subject = "Escalated: {name}" } },
]
recycle = { after = "5d", set = { lifecycle = "lead", disqualify_reason = "SLA_EXPIRED" } }
tasks = { object = "Task", subject = "Subject", parent = "WhoId", owner = "OwnerId" }
"#;

/// A Slack-compatible webhook receiver on 127.0.0.1:0 that keeps each body.
async fn webhook_receiver() -> (String, Arc<Mutex<Vec<Value>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let bodies = Arc::new(Mutex::new(Vec::new()));
    let kept = bodies.clone();
    tokio::spawn(async move {
        loop {
            let Ok((mut socket, _)) = listener.accept().await else {
                return;
            };
            let kept = kept.clone();
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                loop {
                    // One request: headers, then Content-Length bytes.
                    let (head_end, length) = loop {
                        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                            let head = String::from_utf8_lossy(&buf[..i]).to_lowercase();
                            let length = head
                                .lines()
                                .find_map(|l| l.strip_prefix("content-length:"))
                                .and_then(|v| v.trim().parse::<usize>().ok())
                                .unwrap_or(0);
                            break (i + 4, length);
                        }
                        match socket.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buf.extend_from_slice(&chunk[..n]),
                        }
                    };
                    while buf.len() < head_end + length {
                        match socket.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buf.extend_from_slice(&chunk[..n]),
                        }
                    }
                    let body: Value = serde_json::from_slice(&buf[head_end..head_end + length])
                        .unwrap_or(Value::Null);
                    kept.lock().unwrap().push(body);
                    buf.drain(..head_end + length);
                    let reply = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok";
                    if socket.write_all(reply).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    (url, bodies)
}

fn ts(s: &str) -> Timestamp {
    s.parse().unwrap()
}

/// Moves every clock (daemon and both simulators) to `at`.
fn set_time(world: &World, clock: &ManualClock, at: &str) {
    let at = ts(at);
    clock.set(at);
    world.hs().clock().freeze_at(at);
    world.sf().clock().freeze_at(at);
}

fn daemon_on(world: &World, clock: &ManualClock) -> leadbridge::daemon::Daemon {
    let mut daemon = world.daemon();
    daemon.clock = Arc::new(clock.clone());
    daemon
}

async fn count(store: &dyn StateStore, kind: EventKind) -> usize {
    store
        .events("inbound", Timestamp::MIN, Timestamp::MAX)
        .await
        .unwrap()
        .iter()
        .filter(|e| e.kind == kind)
        .count()
}

async fn tasks(world: &World) -> Vec<Value> {
    sf_query(
        &world.salesforce.url(),
        "SELECT Id, Subject, OwnerId, WhoId, Status FROM Task ORDER BY Id",
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn untouched_leads_breach_in_business_time_escalate_once_and_recycle() {
    let world = World::start(WorldOptions {
        contacts: 40,
        sla: SLA.to_string(),
        ..WorldOptions::default()
    })
    .await;
    let (hook_url, hooks) = webhook_receiver().await;
    std::fs::write(world.path().join("secrets/webhook"), &hook_url).unwrap();
    let clock = ManualClock::new(ts("2026-12-04T08:00:00Z"));
    // Friday 4 December 2026, 17:00 in Tokyo.
    set_time(&world, &clock, "2026-12-04T17:00:00+09:00");
    let daemon = daemon_on(&world, &clock);
    let store = daemon.store.clone();

    // Handoff: each lead gets a context note and a follow-up task for its owner.
    let report = cycle(&daemon).await;
    let n = report.handoffs as usize;
    assert!(n >= 6, "enough leads handed off: {n}");
    let handed = leads(&world).await;
    assert_eq!(handed.len(), n);
    let all = tasks(&world).await;
    let notes: Vec<&Value> = all.iter().filter(|t| t["Status"] == "Completed").collect();
    let follow_ups: Vec<&Value> = all
        .iter()
        .filter(|t| t["Subject"].as_str().unwrap().starts_with("Follow up: "))
        .collect();
    assert_eq!(notes.len(), n, "one context note per lead");
    assert_eq!(follow_ups.len(), n, "one follow-up task per lead");
    for lead in &handed {
        let task = follow_ups
            .iter()
            .find(|t| t["WhoId"] == lead["Id"])
            .unwrap();
        assert_eq!(task["OwnerId"], lead["OwnerId"], "the task is the owner's");
    }

    // Saturday and Monday morning: nothing breaches (the clock only runs in business hours).
    set_time(&world, &clock, "2026-12-05T12:00:00+09:00");
    cycle(&daemon).await;
    assert_eq!(
        count(&*store, EventKind::SlaBreached).await,
        0,
        "not Saturday"
    );

    // Monday 10:00: sales touches the first lead.
    set_time(&world, &clock, "2026-12-07T10:00:00+09:00");
    let touched = handed[0]["Id"].as_str().unwrap().to_owned();
    world
        .sf()
        .update(
            "Lead",
            &touched,
            fields(&[("Status", json!("Working - Contacted"))]),
        )
        .unwrap();
    cycle(&daemon).await;
    let events = store
        .events("inbound", Timestamp::MIN, Timestamp::MAX)
        .await
        .unwrap();
    let accepted: Vec<_> = events
        .iter()
        .filter(|e| e.kind == EventKind::Accepted)
        .collect();
    assert_eq!(accepted.len(), 1);
    assert_eq!(accepted[0].crm_id.as_deref(), Some(touched.as_str()));
    assert_eq!(accepted[0].detail["within_sla"], json!(true));
    // Friday 17:00 → Monday 10:00: 65 hours on the wall, 2 in business time.
    assert_eq!(
        accepted[0].detail["time_to_first_touch_s"],
        json!(65 * 3600)
    );
    assert_eq!(
        accepted[0].detail["business_time_to_first_touch_s"],
        json!(2 * 3600)
    );

    // Monday 15:59: still in time.
    set_time(&world, &clock, "2026-12-07T15:59:00+09:00");
    cycle(&daemon).await;
    assert_eq!(count(&*store, EventKind::SlaBreached).await, 0);

    // Monday 16:00: eight business hours after Friday 17:00, every untouched lead breaches.
    set_time(&world, &clock, "2026-12-07T16:00:00+09:00");
    cycle(&daemon).await;
    let untouched = n - 1;
    assert_eq!(count(&*store, EventKind::SlaBreached).await, untouched);
    assert_eq!(
        count(&*store, EventKind::Escalated).await,
        untouched,
        "step 1 fired"
    );
    assert_eq!(
        hooks.lock().unwrap().len(),
        untouched,
        "one notice per breach"
    );
    let notice = hooks.lock().unwrap()[0].clone();
    assert!(
        notice["text"]
            .as_str()
            .unwrap()
            .starts_with("SLA breached: "),
        "{notice}"
    );
    let breach_tasks = tasks(&world)
        .await
        .into_iter()
        .filter(|t| t["Subject"].as_str().unwrap().starts_with("SLA breached: "))
        .count();
    assert_eq!(breach_tasks, untouched);

    // Later the same day: nothing fires twice.
    set_time(&world, &clock, "2026-12-07T17:30:00+09:00");
    cycle(&daemon).await;
    assert_eq!(count(&*store, EventKind::SlaBreached).await, untouched);
    assert_eq!(count(&*store, EventKind::Escalated).await, untouched);
    assert_eq!(hooks.lock().unwrap().len(), untouched);

    // The daemon stops; step 2 (Tuesday 11:00) falls due while it is down.
    let owners_before: BTreeMap<String, String> = leads(&world)
        .await
        .iter()
        .map(|l| {
            (
                l["Id"].as_str().unwrap().to_owned(),
                l["OwnerId"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    drop(store);
    drop(daemon);
    set_time(&world, &clock, "2026-12-08T12:00:00+09:00");
    let daemon = daemon_on(&world, &clock);
    let store = daemon.store.clone();
    cycle(&daemon).await;
    cycle(&daemon).await;
    assert_eq!(
        count(&*store, EventKind::Reassigned).await,
        untouched,
        "once each, after the restart"
    );
    assert_eq!(count(&*store, EventKind::Escalated).await, 2 * untouched);
    assert_eq!(
        hooks.lock().unwrap().len(),
        untouched,
        "step 2 does not notify"
    );
    let after = leads(&world).await;
    let tasks_now = tasks(&world).await;
    let mut per_owner: BTreeMap<String, usize> = BTreeMap::new();
    for lead in &after {
        let id = lead["Id"].as_str().unwrap();
        let owner = lead["OwnerId"].as_str().unwrap();
        if id == touched {
            assert_eq!(owner, owners_before[id], "the touched lead keeps its owner");
            continue;
        }
        assert_ne!(owner, owners_before[id], "reassigned to someone else");
        *per_owner.entry(owner.to_owned()).or_default() += 1;
        for task in tasks_now.iter().filter(|t| t["WhoId"] == lead["Id"]) {
            let subject = task["Subject"].as_str().unwrap();
            if subject.starts_with("Follow up: ") || subject.starts_with("SLA breached: ") {
                assert_eq!(
                    task["OwnerId"].as_str(),
                    Some(owner),
                    "the old owner's task moved: {subject}"
                );
            }
        }
    }
    let (min, max) = (
        per_owner.values().min().copied().unwrap_or(0),
        per_owner.values().max().copied().unwrap_or(0),
    );
    assert!(max - min <= 1, "reassignment spreads evenly: {per_owner:?}");
    let manager_tasks = tasks_now
        .iter()
        .filter(|t| t["Subject"].as_str().unwrap().starts_with("Escalated: "))
        .filter(|t| t["OwnerId"].as_str() == Some(world.owners[0].as_str()))
        .count();
    assert_eq!(
        manager_tasks, untouched,
        "one task for the manager per lead"
    );

    // Friday 11 December 17:00: five business days after the handoff, back to nurture.
    set_time(&world, &clock, "2026-12-11T16:59:00+09:00");
    cycle(&daemon).await;
    assert_eq!(count(&*store, EventKind::Recycled).await, 0);
    set_time(&world, &clock, "2026-12-11T17:00:00+09:00");
    cycle(&daemon).await;
    cycle(&daemon).await;
    assert_eq!(count(&*store, EventKind::Recycled).await, untouched);
    let links = store.scan_links("inbound", None, 1_000).await.unwrap();
    for link in links {
        let contact = contact(&world, &link.marketing_id);
        if link.state.crm_id == touched {
            assert_ne!(contact.text("lifecyclestage").as_deref(), Some("lead"));
            continue;
        }
        assert_eq!(contact.text("lifecyclestage").as_deref(), Some("lead"));
        assert_eq!(
            contact.text("disqualify_reason").as_deref(),
            Some("SLA_EXPIRED")
        );
    }
    assert_eq!(
        store.open_sla_timers("inbound").await.unwrap(),
        0,
        "every SLA closed"
    );
}

#[test]
fn sla_preview_prints_the_timeline_in_the_calendar_zone() {
    let dir = tempfile::tempdir().unwrap();
    let base = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/configs/base.toml"),
    )
    .unwrap();
    let sla = SLA
        .replace("{owner0}", "0051")
        .replace("notify = \"webhook:file:secrets/webhook\", ", "")
        .replace(", disqualify_reason = \"SLA_EXPIRED\"", "");
    let config = dir.path().join("leadbridge.toml");
    std::fs::write(&config, format!("{base}\n{sla}")).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_leadbridge"))
        .args(["sla", "preview", "--pipeline", "inbound", "--config"])
        .arg(&config)
        .args(["--handed-off-at", "2026-12-30T17:00:00+09:00"])
        .env("LB_TEST_HUBSPOT_TOKEN", "t")
        .env("LB_TEST_SF_SECRET", "s")
        .env("LB_TEST_SF_REFRESH", "r")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Wed 30 Dec 17:00 + 8h: 1h on Wednesday; 31 Dec and 1 Jan are
    // holidays, then the weekend; 7h on Monday 4 January → 16:00.
    assert!(
        text.contains("first touch due:    Mon 2027-01-04 16:00 JST (+09:00)"),
        "{text}"
    );
    assert!(
        text.contains("escalation step 1:  Mon 2027-01-04 16:00 JST"),
        "{text}"
    );
    // + 4 business hours: 2h on Monday, 2h on Tuesday.
    assert!(
        text.contains("escalation step 2:  Tue 2027-01-05 11:00 JST"),
        "{text}"
    );
    // Five working days after Wed 30 Dec: Mon 4 … Fri 8 January, 17:00.
    assert!(
        text.contains("recycle:            Fri 2027-01-08 17:00 JST"),
        "{text}"
    );
}
