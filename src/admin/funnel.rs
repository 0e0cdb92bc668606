//! The shared funnel and SLA compliance, counted from the state's event log.
//!
//! Stages are cumulative: a lead counts in every stage up to the furthest
//! one it reached, so a lead handed off without a separate "qualified"
//! event still counts as an MQL, and the bars never grow down the funnel.
//! Events that are not stages imply one (a breach, an escalation, a
//! reassignment or a recycle imply a handoff; a lost opportunity implies
//! an opportunity). A lead is one marketing id in one pipeline.
//!
//! SLA compliance: of the leads whose first-touch deadline is decided (they
//! were touched, or breached), the share touched without a breach. With no
//! `accepted` or `sla_breached` event in the window there is no figure
//! (the page says "no SLA data yet"), rather than a misleading 100 %.

use std::collections::HashMap;

use serde::Serialize;

use crate::state::{Event, EventKind};

/// The stages, in funnel order: key and label.
pub const STAGES: [(&str, &str); 6] = [
    ("lead", "Lead"),
    ("mql", "MQL"),
    ("handed_off", "Handed off"),
    ("accepted", "Accepted"),
    ("opportunity", "SQL / opportunity"),
    ("won", "Won"),
];

/// One stage's count.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Stage {
    /// Its key (`lead`, `mql`, `handed_off`, `accepted`, `opportunity`, `won`).
    pub key: &'static str,
    /// Its label on the page.
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
    /// The six stages, in order.
    pub stages: Vec<Stage>,
    /// `None` when there is no SLA event yet.
    pub sla: Option<SlaCompliance>,
}

/// The furthest stage an event shows (index into [`STAGES`]).
fn stage_of(kind: EventKind) -> usize {
    match kind {
        EventKind::Qualified => 1,
        EventKind::HandedOff
        | EventKind::SlaBreached
        | EventKind::Escalated
        | EventKind::Reassigned
        | EventKind::Recycled => 2,
        EventKind::Accepted => 3,
        EventKind::Converted | EventKind::Lost => 4,
        EventKind::Won => 5,
        _ => 0,
    }
}

#[derive(Default)]
struct Lead {
    stage: usize,
    accepted: bool,
    breached: bool,
}

/// Counts `events` (of any pipelines, each tagged with its pipeline).
pub fn count<'a>(events: impl IntoIterator<Item = (&'a str, &'a Event)>) -> Funnel {
    let mut leads: HashMap<(&str, &str), Lead> = HashMap::new();
    for (pipeline, e) in events {
        let lead = leads
            .entry((pipeline, e.marketing_id.as_str()))
            .or_default();
        lead.stage = lead.stage.max(stage_of(e.kind));
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
            count: leads.values().filter(|l| l.stage >= i).count() as u64,
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

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::Timestamp;

    fn ev(kind: EventKind, id: &str) -> Event {
        Event::new(Timestamp::UNIX_EPOCH, kind, id)
    }

    #[test]
    fn stages_are_cumulative_and_sla_needs_data() {
        let events = [
            ev(EventKind::HandedOff, "1"),
            ev(EventKind::HandedOff, "2"),
            ev(EventKind::Qualified, "3"),
        ];
        let f = count(events.iter().map(|e| ("p", e)));
        let counts: Vec<u64> = f.stages.iter().map(|s| s.count).collect();
        assert_eq!(counts, [3, 3, 2, 0, 0, 0]);
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
        let counts: Vec<u64> = f.stages.iter().map(|s| s.count).collect();
        assert_eq!(counts, [3, 3, 3, 3, 1, 1]);
        let sla = f.sla.unwrap();
        assert_eq!((sla.met, sla.breached), (2, 1));
        assert!((sla.compliance_pct - 66.666).abs() < 0.01);
    }
}
