//! The shared funnel, computed from the event log: what `leadbridge report`
//! prints (text, JSON or CSV) so marketing and sales read the same numbers.
//!
//! Everything is derived from [`Event`]s in a time window, never from the
//! tools, so a report is cheap (one range scan) and reproducible. Stages
//! ([`STAGES`], the status page's too): MQL (`qualified`) → handed off →
//! accepted (first touch) → SQL/opportunity (`converted`) → won. The log
//! holds what leadbridge did, not every contact it read, so there is no
//! stage before the MQL. Definitions:
//!
//! - *conversion* between two stages is `later / earlier` of the counts in
//!   the window (not a cohort: a lead handed off last month and accepted
//!   this month counts in this month's accepted only);
//! - *time to first touch* is wall-clock seconds from handoff to the touch,
//!   from the `accepted` events; median and p90 use the nearest-rank method
//!   (the value at rank ⌈p·n⌉ of the sorted list), so they are always
//!   observed values;
//! - *SLA compliance* is `met / (met + breached)`: leads accepted within
//!   the SLA, against leads whose deadline passed untouched (a lead
//!   touched late counts once, as breached);
//! - *breaches per owner* are by the owner at the time of the breach;
//!   *recycled reasons* by the reason recycling recorded.

mod render;

use std::collections::BTreeMap;

use serde::Serialize;

use crate::state::{Event, EventKind};

pub use render::{to_csv, to_text};

/// What a report is grouped by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum GroupBy {
    /// The lead's source.
    Source,
    /// The lead's campaign.
    Campaign,
    /// The owner at the time of each event.
    Owner,
}

/// The funnel's stages, in order, as `report` names them: the key (as in
/// [`Counts`] and the JSON) and the words of its text line. The status
/// page draws the same stages with the same names.
pub const STAGES: [(&str, &str); 5] = [
    ("qualified", "qualified"),
    ("handed_off", "handed off"),
    ("accepted", "accepted"),
    ("converted", "converted"),
    ("won", "won"),
];

impl GroupBy {
    /// The flag value: `source`, `campaign` or `owner`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Source => "source",
            Self::Campaign => "campaign",
            Self::Owner => "owner",
        }
    }

    /// Reads `source`, `campaign` or `owner`.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "source" => Some(Self::Source),
            "campaign" => Some(Self::Campaign),
            "owner" => Some(Self::Owner),
            _ => None,
        }
    }

    /// The group an event counts in (`(none)` when it has no value).
    pub fn key(self, event: &Event) -> String {
        let value = match self {
            Self::Source => &event.source,
            Self::Campaign => &event.campaign,
            Self::Owner => &event.owner,
        };
        value.clone().unwrap_or_else(|| "(none)".to_string())
    }
}

/// Counts per funnel stage and SLA event.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    /// Marketing qualified (MQL).
    pub qualified: u64,
    /// Handed to sales.
    pub handed_off: u64,
    /// First touch by sales.
    pub accepted: u64,
    /// Accepted within the SLA.
    pub accepted_in_time: u64,
    /// Deadline passed untouched.
    pub breached: u64,
    /// Escalation steps fired.
    pub escalated: u64,
    /// Reassignments.
    pub reassigned: u64,
    /// Given back to marketing.
    pub recycled: u64,
    /// Converted (SQL / opportunity).
    pub converted: u64,
    /// Won.
    pub won: u64,
    /// Lost.
    pub lost: u64,
}

/// Conversion between consecutive stages (`None` when the earlier stage is empty).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Conversion {
    /// handed off / qualified.
    pub qualified_to_handed_off: Option<f64>,
    /// accepted / handed off.
    pub handed_off_to_accepted: Option<f64>,
    /// converted / accepted.
    pub accepted_to_converted: Option<f64>,
    /// won / converted.
    pub converted_to_won: Option<f64>,
}

/// The funnel of one group (or of everything).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Funnel {
    /// The group's key (`all` when not grouped).
    pub group: String,
    /// Counts.
    pub counts: Counts,
    /// Conversion between stages.
    pub conversion: Conversion,
    /// Median time to first touch, seconds.
    pub median_time_to_first_touch_s: Option<i64>,
    /// 90th percentile time to first touch, seconds.
    pub p90_time_to_first_touch_s: Option<i64>,
    /// `met / (met + breached)` as a percentage.
    pub sla_compliance_pct: Option<f64>,
    /// Breaches by the owner at the time.
    pub breaches_per_owner: BTreeMap<String, u64>,
    /// Recycled leads by reason.
    pub recycled_reasons: BTreeMap<String, u64>,
}

fn ratio(num: u64, den: u64) -> Option<f64> {
    (den > 0).then(|| num as f64 / den as f64)
}

/// The value at nearest rank ⌈p·n⌉ of a sorted list.
pub fn nearest_rank(sorted: &[i64], p: f64) -> Option<i64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (p * sorted.len() as f64).ceil().max(1.0) as usize;
    sorted.get(rank.min(sorted.len()) - 1).copied()
}

impl Funnel {
    /// The funnel of `events`.
    pub fn of(group: impl Into<String>, events: &[&Event]) -> Self {
        let mut f = Funnel {
            group: group.into(),
            ..Funnel::default()
        };
        let mut times = Vec::new();
        for e in events {
            let c = &mut f.counts;
            match e.kind {
                EventKind::Qualified => c.qualified += 1,
                EventKind::HandedOff => c.handed_off += 1,
                EventKind::Accepted => {
                    c.accepted += 1;
                    if e.detail.get("within_sla").and_then(|v| v.as_bool()) == Some(true) {
                        c.accepted_in_time += 1;
                    }
                    if let Some(t) = e
                        .detail
                        .get("time_to_first_touch_s")
                        .and_then(|v| v.as_i64())
                    {
                        times.push(t);
                    }
                }
                EventKind::SlaBreached => {
                    c.breached += 1;
                    let owner = e.owner.clone().unwrap_or_else(|| "(none)".into());
                    *f.breaches_per_owner.entry(owner).or_default() += 1;
                }
                EventKind::Escalated => c.escalated += 1,
                EventKind::Reassigned => c.reassigned += 1,
                EventKind::Recycled => {
                    c.recycled += 1;
                    let reason = e
                        .detail
                        .get("reason")
                        .and_then(|v| v.as_str())
                        .unwrap_or("(none)")
                        .to_string();
                    *f.recycled_reasons.entry(reason).or_default() += 1;
                }
                EventKind::Converted => c.converted += 1,
                EventKind::Won => c.won += 1,
                EventKind::Lost => c.lost += 1,
                _ => {}
            }
        }
        times.sort_unstable();
        f.median_time_to_first_touch_s = nearest_rank(&times, 0.5);
        f.p90_time_to_first_touch_s = nearest_rank(&times, 0.9);
        let c = &f.counts;
        f.conversion = Conversion {
            qualified_to_handed_off: ratio(c.handed_off, c.qualified),
            handed_off_to_accepted: ratio(c.accepted, c.handed_off),
            accepted_to_converted: ratio(c.converted, c.accepted),
            converted_to_won: ratio(c.won, c.converted),
        };
        f.sla_compliance_pct =
            ratio(c.accepted_in_time, c.accepted_in_time + c.breached).map(|r| r * 100.0);
        f
    }
}

/// A report: the whole funnel, then one per group when grouped.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Report {
    /// What it is grouped by.
    pub by: Option<GroupBy>,
    /// Everything in the window.
    pub total: Funnel,
    /// Per group, by key.
    pub groups: Vec<Funnel>,
}

/// Builds the report of `events`.
pub fn report(events: &[Event], by: Option<GroupBy>) -> Report {
    let all: Vec<&Event> = events.iter().collect();
    let mut groups = Vec::new();
    if let Some(by) = by {
        let mut grouped: BTreeMap<String, Vec<&Event>> = BTreeMap::new();
        for e in events {
            grouped.entry(by.key(e)).or_default().push(e);
        }
        groups = grouped
            .into_iter()
            .map(|(k, v)| Funnel::of(k, &v))
            .collect();
    }
    Report {
        by,
        total: Funnel::of("all", &all),
        groups,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_is_an_observed_value() {
        let v = [10, 20, 30, 40, 50, 60, 70, 80, 90, 100];
        assert_eq!(nearest_rank(&v, 0.5), Some(50));
        assert_eq!(nearest_rank(&v, 0.9), Some(90));
        assert_eq!(nearest_rank(&[7], 0.9), Some(7));
        assert_eq!(nearest_rank(&[], 0.5), None);
    }
}
