//! The follow-up SLA's steps fire once each, in order, at their time, and
//! across a restart: the context note and follow-up task at the handoff,
//! the breach and escalation step 1 at the deadline, the reassignment and
//! the manager's task four hours later, the recycle five days after the
//! handoff; a lead touched in time stops its timer.

use std::collections::BTreeMap;

use jiff::{SignedDuration, Timestamp};
use leadbridge_core::ActivityKind;
use serde_json::json;

use super::harness::*;
use crate::sla::schedule::Timeline;
use crate::state::{EventKind, SlaStep, StateStore};

const SLA: &str = r#"
[pipelines.sla]
first_touch = { within = "8h", touched_when = "status == 'Working'" }
manager = "mgr"
on_breach = [
  { after = "0h", task = { for = "owner", subject = "SLA breached: {name}" } },
  { after = "4h", reassign = "round_robin", task = { for = "manager", subject = "Escalated: {name}" } },
]
recycle = { after = "5d", set = { lifecycle = "lead" } }
"#;

fn person(email: &str, last_name: &str) -> leadbridge_core::Fields {
    let mut c = contact(email, 80);
    c.insert("lastname".into(), json!(last_name));
    c
}

/// (kind, subject, owner) of each activity on a lead, in creation order.
fn activities_on(h: &Harness, lead_id: &str) -> Vec<(ActivityKind, String, Option<String>)> {
    h.world
        .activities()
        .into_iter()
        .map(|(_, a)| a)
        .filter(|a| a.parent_object == LEADS && a.parent_id == lead_id)
        .map(|a| (a.kind, a.subject, a.owner))
        .collect()
}

/// The kinds of a lead's funnel events, in time order.
async fn story(h: &Harness, marketing_id: &str) -> Vec<EventKind> {
    h.all_events()
        .await
        .into_iter()
        .filter(|e| e.marketing_id == marketing_id)
        .map(|e| e.kind)
        .collect()
}

/// One cycle at `at`; then the call log and commits are of that cycle only.
async fn cycle_at(h: &Harness, at: Timestamp) {
    h.set_time(at);
    h.clear_log();
    h.ok().await;
}

#[tokio::test]
async fn sla_steps_fire_once_each_in_order_across_a_restart() {
    let h = Harness::new(Options {
        extra: SLA.to_string(),
        ..Options::default()
    });
    let ids = h.contacts(vec![
        person("ann@example.com", "Abe"),
        person("bob@example.com", "Baba"),
        person("cy@example.com", "Chiba"),
    ]);
    h.advance(1);
    let t0 = h.clock.0.now();
    let hours = |n: i64| t0 + SignedDuration::from_hours(n);

    // The handoff: each lead gets the context note and its owner's
    // follow-up task in the same cycle; its timer waits for the deadline.
    let report = h.ok().await;
    assert_eq!(report.handoffs, 3);
    let mut lead = BTreeMap::new();
    let mut owner = BTreeMap::new();
    for (id, name, first_owner) in [
        (&ids[0], "Abe", "u1"),
        (&ids[1], "Baba", "u2"),
        (&ids[2], "Chiba", "u1"),
    ] {
        let link = h.link(id).await.expect("linked");
        assert_eq!(link.state.owner.as_deref(), Some(first_owner));
        assert_eq!(
            activities_on(&h, &link.state.crm_id),
            [
                (
                    ActivityKind::Note,
                    format!("Marketing context: {name}"),
                    None
                ),
                (
                    ActivityKind::Task,
                    format!("Follow up: {name}"),
                    Some(first_owner.to_string())
                ),
            ]
        );
        let sla = h
            .store
            .sla_lead(PIPELINE, id)
            .await
            .unwrap()
            .expect("an SLA");
        assert_eq!((sla.next, sla.due), (Some(SlaStep::Breach), Some(hours(8))));
        lead.insert(id.clone(), link.state.crm_id);
        owner.insert(id.clone(), first_owner.to_string());
    }
    assert_eq!(h.world.activities().len(), 6);
    assert!(h.pending().await.is_empty(), "activity intents resolved");

    // An hour later sales touches Ann's lead: accepted, her timer stops.
    h.set_time(hours(1));
    h.edit(LEADS, &lead[&ids[0]], json!({"Status": "Working"}));
    cycle_at(&h, hours(1) + SignedDuration::from_secs(1)).await;
    let accepted = h.events(EventKind::Accepted).await;
    assert_eq!(accepted.len(), 1);
    assert_eq!(accepted[0].marketing_id, ids[0]);
    assert_eq!(accepted[0].detail["within_sla"], json!(true));
    let ann = h.store.sla_lead(PIPELINE, &ids[0]).await.unwrap().unwrap();
    assert_eq!((ann.next, ann.due), (None, None));

    // A second before the deadline nothing fires; at it, Bob and Cy breach
    // and escalation step 1 gives each owner a task.
    cycle_at(&h, hours(8) - SignedDuration::from_secs(1)).await;
    assert!(h.events(EventKind::SlaBreached).await.is_empty());
    assert!(h
        .world
        .calls()
        .iter()
        .all(|c| c.kind != leadbridge_core::memory::CallKind::Activity));
    cycle_at(&h, hours(8)).await;
    assert_eq!(h.events(EventKind::SlaBreached).await.len(), 2);
    assert_eq!(h.events(EventKind::Escalated).await.len(), 2);
    for (id, name) in [(&ids[1], "Baba"), (&ids[2], "Chiba")] {
        let on_lead = activities_on(&h, &lead[id]);
        assert_eq!(on_lead.len(), 3);
        assert_eq!(
            on_lead[2],
            (
                ActivityKind::Task,
                format!("SLA breached: {name}"),
                Some(owner[id].clone())
            )
        );
    }
    assert_eq!(h.world.activities().len(), 8);

    // Later that day nothing fires twice.
    cycle_at(&h, hours(8) + SignedDuration::from_mins(30)).await;
    h.assert_quiet("between two escalation steps");

    // The daemon restarts; step 2 fell due while it was down.
    let h = h.restart();
    cycle_at(&h, hours(12) + SignedDuration::from_mins(1)).await;
    let reassigned = h.events(EventKind::Reassigned).await;
    assert_eq!(reassigned.len(), 2);
    assert_eq!(h.events(EventKind::Escalated).await.len(), 4);
    for (id, name) in [(&ids[1], "Baba"), (&ids[2], "Chiba")] {
        let now_owner = h.get(LEADS, &lead[id]).text("OwnerId").expect("an owner");
        assert_ne!(now_owner, owner[id], "reassigned to someone else");
        let event = reassigned.iter().find(|e| &e.marketing_id == id).unwrap();
        assert_eq!(event.detail["from"], json!(owner[id]));
        assert_eq!(event.detail["to"], json!(now_owner));
        let link = h.link(id).await.unwrap();
        assert_eq!(link.state.owner.as_deref(), Some(now_owner.as_str()));
        assert_eq!(
            activities_on(&h, &lead[id]).last(),
            Some(&(
                ActivityKind::Task,
                format!("Escalated: {name}"),
                Some("mgr".to_string())
            ))
        );
    }
    assert_eq!(h.world.activities().len(), 10);
    assert_eq!(
        h.get(LEADS, &lead[&ids[0]]).text("OwnerId").as_deref(),
        Some("u1")
    );
    cycle_at(&h, hours(12) + SignedDuration::from_mins(2)).await;
    h.assert_quiet("after step 2 (the owner change is read back as an echo)");

    // Five days after the handoff the untouched leads go back to marketing.
    let sla = h.pipeline.sla.as_deref().expect("an SLA");
    let recycle = Timeline::new(sla, t0)
        .unwrap()
        .recycle
        .expect("a recycle time");
    assert!(recycle >= hours(5 * 24), "{recycle}");
    cycle_at(&h, recycle - SignedDuration::from_secs(1)).await;
    assert!(h.events(EventKind::Recycled).await.is_empty());
    let h = h.restart();
    cycle_at(&h, recycle).await;
    assert_eq!(h.events(EventKind::Recycled).await.len(), 2);
    for id in &ids[1..] {
        assert_eq!(
            h.get(CONTACTS, id).text("lifecycle").as_deref(),
            Some("lead")
        );
    }
    assert_eq!(h.get(CONTACTS, &ids[0]).text("lifecycle"), None);
    assert_eq!(h.store.open_sla_timers(PIPELINE).await.unwrap(), 0);
    h.idle_cycles("after the recycle").await;

    // Each step once, in order.
    use EventKind::*;
    assert_eq!(story(&h, &ids[0]).await, [Qualified, HandedOff, Accepted]);
    for id in &ids[1..] {
        assert_eq!(
            story(&h, id).await,
            [
                Qualified,
                HandedOff,
                SlaBreached,
                Escalated,
                Reassigned,
                Escalated,
                Recycled
            ],
            "{id}"
        );
    }
    let steps: Vec<_> = h
        .events(Escalated)
        .await
        .iter()
        .map(|e| (e.marketing_id.clone(), e.detail["step"].clone()))
        .collect();
    assert_eq!(
        steps,
        [
            (ids[1].clone(), json!(1)),
            (ids[2].clone(), json!(1)),
            (ids[1].clone(), json!(2)),
            (ids[2].clone(), json!(2)),
        ]
    );
    assert_eq!(h.world.activities().len(), 10);
    assert!(h.pending().await.is_empty());
}
