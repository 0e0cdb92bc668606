//! The shared funnel and SLA compliance, counted from the state's event log.
//!
//! The stages and their names are `leadbridge report`'s
//! ([`crate::report::STAGES`]): qualified (MQL) → handed off → accepted →
//! converted → won. The page counts *leads* (one marketing id in one
//! pipeline) where `report` counts events, so the bars never grow down
//! the funnel: a lead counts in every stage up to the furthest one it
//! reached in the window, so a lead handed off without a separate
//! "qualified" event still counts as an MQL. Events that are not stages
//! imply one (a breach, an escalation, a reassignment or a recycle imply a
//! handoff; a lost opportunity implies a conversion). Events of kinds this
//! build does not know count nowhere.
//!
//! Grouped (by source, campaign or owner, as `report --by`), an event
//! counts in the group of its own value, as in `report`: a lead reassigned
//! from one owner to another reaches its stages in each owner's funnel.
//!
//! The event log records what leadbridge did (qualify, hand off, SLA,
//! outcomes), not every contact it read, so there is no "seen in
//! marketing" stage: the first bar is the MQLs, by `report`'s definition.
//!
//! SLA compliance: of the leads whose first-touch deadline is decided (they
//! were touched, or breached), the share touched without a breach. With no
//! `accepted` or `sla_breached` event in the window there is no figure
//! (the page says "no SLA data yet"), rather than a misleading 100 %.

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;

use crate::report::{GroupBy, STAGES};
use crate::state::{Event, EventKind};

/// One stage's count.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Stage {
    /// Its key, as in `report`'s JSON (`qualified`, `handed_off`,
    /// `accepted`, `converted`, `won`).
    pub key: &'static str,
    /// Its name, as in `report`'s text.
    pub label: &'static str,
    /// Leads that reached it (or a later one).
    pub count: u64,
}

/// SLA compliance over the window.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SlaCompliance {
    /// Leads touched with no breach.
    pub met: u64,
    /// Leads whose first-touch deadline passed.
    pub breached: u64,
    /// `met / (met + breached)`, in percent.
    pub compliance_pct: f64,
}

/// The funnel over some events.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Funnel {
    /// The stages, in order.
    pub stages: Vec<Stage>,
    /// `None` when there is no SLA event yet.
    pub sla: Option<SlaCompliance>,
}

/// One group's funnel.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GroupFunnel {
    /// The group's value (`(none)` for events without one).
    pub group: String,
    /// Its funnel.
    #[serde(flatten)]
    pub funnel: Funnel,
}

/// The furthest stage an event shows (index into [`STAGES`]).
fn stage_of(kind: EventKind) -> Option<usize> {
    match kind {
        EventKind::Qualified => Some(0),
        EventKind::HandedOff
        | EventKind::SlaBreached
        | EventKind::Escalated
        | EventKind::Reassigned
        | EventKind::Recycled => Some(1),
        EventKind::Accepted => Some(2),
        EventKind::Converted | EventKind::Lost => Some(3),
        EventKind::Won => Some(4),
        _ => None,
    }
}

#[derive(Default)]
struct Lead {
    stage: Option<usize>,
    accepted: bool,
    breached: bool,
}

/// Counts `events` (of any pipelines, each tagged with its pipeline).
pub fn count<'a>(events: impl IntoIterator<Item = (&'a str, &'a Event)>) -> Funnel {
    let mut leads: HashMap<(&str, &str), Lead> = HashMap::new();
    for (pipeline, e) in events {
        let Some(stage) = stage_of(e.kind) else {
            continue;
        };
        let lead = leads
            .entry((pipeline, e.marketing_id.as_str()))
            .or_default();
        lead.stage = Some(lead.stage.map_or(stage, |s| s.max(stage)));
        match e.kind {
            EventKind::Accepted => {
                lead.accepted = true;
                // An acceptance the SLA engine marks late counts as a breach.
                if e.detail.get("within_sla").and_then(|v| v.as_bool()) == Some(false) {
                    lead.breached = true;
                }
            }
            EventKind::SlaBreached => lead.breached = true,
            _ => {}
        }
    }
    let stages = STAGES
        .iter()
        .enumerate()
        .map(|(i, (key, label))| Stage {
            key,
            label,
            count: leads.values().filter(|l| l.stage >= Some(i)).count() as u64,
        })
        .collect();
    let met = leads.values().filter(|l| l.accepted && !l.breached).count() as u64;
    let breached = leads.values().filter(|l| l.breached).count() as u64;
    let sla = (met + breached > 0).then(|| SlaCompliance {
        met,
        breached,
        compliance_pct: 100.0 * met as f64 / (met + breached) as f64,
    });
    Funnel { stages, sla }
}

/// One funnel per group of `by`, sorted by group value.
pub fn count_by<'a>(
    events: impl IntoIterator<Item = (&'a str, &'a Event)>,
    by: GroupBy,
) -> Vec<GroupFunnel> {
    let mut groups: BTreeMap<String, Vec<(&'a str, &'a Event)>> = BTreeMap::new();
    for (pipeline, e) in events {
        if stage_of(e.kind).is_some() {
            groups.entry(by.key(e)).or_default().push((pipeline, e));
        }
    }
    groups
        .into_iter()
        .map(|(group, events)| GroupFunnel {
            group,
            funnel: count(events),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::Timestamp;

    fn ev(kind: EventKind, id: &str) -> Event {
        Event::new(Timestamp::UNIX_EPOCH, kind, id)
    }

    fn counts(f: &Funnel) -> Vec<u64> {
        f.stages.iter().map(|s| s.count).collect()
    }

    #[test]
    fn stages_are_cumulative_and_sla_needs_data() {
        let events = [
            ev(EventKind::HandedOff, "1"),
            ev(EventKind::HandedOff, "2"),
            ev(EventKind::Qualified, "3"),
            ev(EventKind::Other, "4"),
        ];
        let f = count(events.iter().map(|e| ("p", e)));
        assert_eq!(counts(&f), [3, 2, 0, 0, 0]);
        assert_eq!(f.sla, None);

        let events = [
            ev(EventKind::HandedOff, "1"),
            ev(EventKind::Accepted, "1"),
            ev(EventKind::Won, "1"),
            ev(EventKind::HandedOff, "2"),
            ev(EventKind::SlaBreached, "2"),
            ev(EventKind::Accepted, "2"),
            ev(EventKind::HandedOff, "3"),
            ev(EventKind::Accepted, "3"),
            ev(EventKind::Accepted, "3"),
        ];
        let f = count(events.iter().map(|e| ("p", e)));
        assert_eq!(counts(&f), [3, 3, 3, 1, 1]);
        let sla = f.sla.unwrap();
        assert_eq!((sla.met, sla.breached), (2, 1));
        assert!((sla.compliance_pct - 66.666).abs() < 0.01);
    }

    #[test]
    fn the_stages_are_named_as_report_names_them() {
        let f = count(std::iter::empty());
        let keys: Vec<&str> = f.stages.iter().map(|s| s.key).collect();
        assert_eq!(
            keys,
            ["qualified", "handed_off", "accepted", "converted", "won"]
        );
        // The same words `report` prints on its funnel line.
        let text = crate::report::to_text(&crate::report::report(&[], None));
        for s in &f.stages {
            assert!(
                text.contains(&format!(" {}", s.label)),
                "{} in {text}",
                s.label
            );
        }
    }

    #[test]
    fn groups_count_each_event_under_its_own_value() {
        let mut events = Vec::new();
        for (id, source, accepted) in [("1", "web", true), ("2", "web", false), ("3", "ads", true)]
        {
            for kind in [EventKind::Qualified, EventKind::HandedOff] {
                let mut e = ev(kind, id);
                e.source = Some(source.into());
                events.push(e);
            }
            if accepted {
                let mut e = ev(EventKind::Accepted, id);
                e.source = Some(source.into());
                events.push(e);
            }
        }
        events.push(ev(EventKind::Won, "3"));
        let groups = count_by(events.iter().map(|e| ("p", e)), GroupBy::Source);
        let got: Vec<(&str, Vec<u64>)> = groups
            .iter()
            .map(|g| (g.group.as_str(), counts(&g.funnel)))
            .collect();
        assert_eq!(
            got,
            [
                ("(none)", vec![1, 1, 1, 1, 1]),
                ("ads", vec![1, 1, 1, 0, 0]),
                ("web", vec![2, 2, 1, 0, 0]),
            ]
        );
    }
}
