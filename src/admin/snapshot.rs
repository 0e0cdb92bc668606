//! The status as data: what `/api/status` returns and `/status` draws.
//!
//! Built on each request from the state store (cheap reads: status,
//! counters, the dead letter queue's first entries, the funnel window of
//! the event log), the connectors' request counters and what the daemon
//! reported. Holds no secret: errors are stored already redacted, and no
//! config value other than names and schedules is included. Dead letter
//! entries are listed without the record's fields (they hold personal
//! data; `leadbridge dlq show` prints them for whoever runs it).

use std::collections::BTreeSet;

use jiff::{SignedDuration, Timestamp};
use serde::Serialize;

use super::funnel::{self, Funnel, GroupFunnel};
use super::health::{ConnectorAuth, PipelineState};
use super::state::{AdminState, RuleChanged};
use crate::report::GroupBy;
use crate::state::{CycleCounts, Side, StateError};

/// How far back the funnel counts unless the page asks otherwise.
pub const FUNNEL_WINDOW_DAYS: i64 = 30;

/// The windows the page offers, in days.
pub const FUNNEL_WINDOWS: [i64; 3] = [7, 30, 90];

/// What the funnel counts: the window and an optional grouping, as the
/// page's `?days=7|30|90&by=source|campaign|owner` asks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FunnelQuery {
    /// Days back from now.
    pub days: i64,
    /// Group by source, campaign or owner, as `report --by`.
    pub by: Option<GroupBy>,
}

impl Default for FunnelQuery {
    fn default() -> Self {
        Self {
            days: FUNNEL_WINDOW_DAYS,
            by: None,
        }
    }
}

impl FunnelQuery {
    /// Reads `days` and `by` from a query string's values; `Err` says
    /// what is accepted.
    pub fn parse(days: Option<&str>, by: Option<&str>) -> Result<Self, String> {
        let days = match days.filter(|d| !d.is_empty()) {
            None => FUNNEL_WINDOW_DAYS,
            Some(d) => d
                .parse::<i64>()
                .ok()
                .filter(|d| FUNNEL_WINDOWS.contains(d))
                .ok_or_else(|| format!("days must be 7, 30 or 90, not {d:?}"))?,
        };
        let by = match by.filter(|b| !b.is_empty() && *b != "none") {
            None => None,
            Some(b) => Some(
                GroupBy::parse(b)
                    .ok_or_else(|| format!("by must be source, campaign or owner, not {b:?}"))?,
            ),
        };
        Ok(Self { days, by })
    }
}

/// How many dead letters a pipeline lists (the size is always exact).
pub const DLQ_LISTED: usize = 20;

/// Everything on the status page.
#[derive(Debug, Clone, Serialize)]
pub struct StatusSnapshot {
    /// When it was taken.
    pub generated_at: Timestamp,
    /// What `/readyz` would answer.
    pub ready: bool,
    /// Why not, when not.
    pub not_ready: Vec<String>,
    /// Per pipeline, in config order.
    pub pipelines: Vec<PipelineSnapshot>,
    /// Per connector, by name.
    pub connectors: Vec<ConnectorSnapshot>,
    /// The funnel over every pipeline.
    pub funnel: FunnelSnapshot,
}

/// One pipeline.
#[derive(Debug, Clone, Serialize)]
pub struct PipelineSnapshot {
    /// Its name.
    pub name: String,
    /// Its cron schedule.
    pub schedule: String,
    /// The marketing connector and object.
    pub marketing: EndpointSnapshot,
    /// The CRM connector and object.
    pub crm: EndpointSnapshot,
    /// Running, paused or halted.
    pub state: PipelineState,
    /// Why it is halted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub halted_reason: Option<String>,
    /// When the last cycle started.
    pub last_cycle_started: Option<Timestamp>,
    /// When the last cycle finished.
    pub last_cycle_finished: Option<Timestamp>,
    /// The next scheduled tick (none while paused or halted).
    pub next_cycle: Option<Timestamp>,
    /// What the last finished cycle moved.
    pub last_cycle: CycleCounts,
    /// What all cycles moved.
    pub totals: CycleCounts,
    /// The last error that failed a cycle.
    pub last_error: Option<String>,
    /// When.
    pub last_error_at: Option<Timestamp>,
    /// Linked pairs.
    pub links: u64,
    /// Dead letter queue size.
    pub dead_letters: u64,
    /// Writes recorded and not yet confirmed.
    pub pending_intents: u64,
    /// The first dead letters.
    pub dead_letter_entries: Vec<DeadLetterSummary>,
    /// Leads handed off in the funnel window.
    pub handoffs_in_window: u64,
    /// After a reload changed this pipeline's handoff rule: what that
    /// means for contacts the new rule would qualify.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rule_changed: Option<RuleChanged>,
    /// Follow-up SLA timers running (0 without an SLA).
    pub open_sla_timers: u64,
}

/// A pipeline side.
#[derive(Debug, Clone, Serialize)]
pub struct EndpointSnapshot {
    /// The connector's config name.
    pub connector: String,
    /// The object synced.
    pub object: String,
}

/// A dead letter, without the record's fields.
#[derive(Debug, Clone, Serialize)]
pub struct DeadLetterSummary {
    /// The side it was read from.
    pub side: Side,
    /// Its id there.
    pub record_id: String,
    /// The object.
    pub object: String,
    /// Why it failed last.
    pub reason: String,
    /// Failures so far.
    pub attempts: u32,
    /// The last failure.
    pub last_seen: Timestamp,
}

/// One connector.
#[derive(Debug, Clone, Serialize)]
pub struct ConnectorSnapshot {
    /// Its config name.
    pub name: String,
    /// The tool (`hubspot`, `salesforce`).
    pub kind: String,
    /// Its credentials, as far as the daemon has seen.
    pub auth: ConnectorAuth,
    /// Calls taken from today's budget.
    pub calls_today: u64,
    /// The configured daily cap.
    pub daily_cap: Option<u64>,
    /// The vendor's own `(used, max)` for the day, when it says.
    pub vendor_usage: Option<(u64, u64)>,
    /// Calls since start.
    pub total_calls: u64,
    /// Of which retries.
    pub retries: u64,
}

/// The funnel and its window.
#[derive(Debug, Clone, Serialize)]
pub struct FunnelSnapshot {
    /// Days counted.
    pub window_days: i64,
    /// From when.
    pub since: Timestamp,
    /// What the groups are by, when grouped.
    pub by: Option<GroupBy>,
    /// Stages and SLA compliance, over everything.
    #[serde(flatten)]
    pub funnel: Funnel,
    /// One funnel per group (empty when not grouped).
    pub groups: Vec<GroupFunnel>,
}

/// Takes the snapshot with the default funnel window.
pub async fn take(state: &AdminState) -> Result<StatusSnapshot, StateError> {
    take_with(state, FunnelQuery::default()).await
}

/// Takes the snapshot, the funnel counted as `query` asks.
pub async fn take_with(
    state: &AdminState,
    query: FunnelQuery,
) -> Result<StatusSnapshot, StateError> {
    let topology = state.topology();
    let store = &*state.inner.store;
    let now = state.inner.clock.now();
    let since = now
        .checked_sub(SignedDuration::from_hours(24 * query.days))
        .unwrap_or(Timestamp::MIN);
    let until = now
        .checked_add(SignedDuration::from_secs(1))
        .unwrap_or(Timestamp::MAX);
    let mut pipelines = Vec::new();
    let mut all_events = Vec::new();
    for s in &topology.pipelines {
        let p = &s.pipeline;
        let status = store.status(&p.name).await?.unwrap_or_default();
        let counts = store.counts(&p.name).await?;
        let dead_letter_entries = if counts.dead_letters > 0 {
            store
                .dead_letters(&p.name)
                .await?
                .into_iter()
                .take(DLQ_LISTED)
                .map(|e| DeadLetterSummary {
                    side: e.side,
                    record_id: e.record_id,
                    object: e.object,
                    reason: e.reason,
                    attempts: e.attempts,
                    last_seen: e.last_seen,
                })
                .collect()
        } else {
            Vec::new()
        };
        let events = store.events(&p.name, since, until).await?;
        let handoffs_in_window = events
            .iter()
            .filter(|e| e.kind == crate::state::EventKind::HandedOff)
            .count() as u64;
        all_events.push((p.name.clone(), events));
        let (pipeline_state, halted_reason) = state.pipeline_state(&p.name);
        let next_cycle = match pipeline_state {
            PipelineState::Running => s.schedule.next_after(now),
            _ => None,
        };
        let open_sla_timers = store.open_sla_timers(&p.name).await?;
        crate::metrics::record_dlq_size(&p.name, counts.dead_letters);
        crate::metrics::record_open_timers(&p.name, open_sla_timers);
        crate::metrics::record_pipeline_state(
            &p.name,
            pipeline_state == PipelineState::Halted,
            pipeline_state == PipelineState::Paused,
        );
        pipelines.push(PipelineSnapshot {
            name: p.name.clone(),
            schedule: s.schedule.source().to_owned(),
            marketing: EndpointSnapshot {
                connector: p.marketing.connector_name.clone(),
                object: p.marketing.object.clone(),
            },
            crm: EndpointSnapshot {
                connector: p.crm.connector_name.clone(),
                object: p.crm.object.clone(),
            },
            state: pipeline_state,
            halted_reason,
            last_cycle_started: status.last_cycle_started,
            last_cycle_finished: status.last_cycle_finished,
            next_cycle,
            last_cycle: status.last_cycle,
            totals: status.totals,
            last_error: status.last_error,
            last_error_at: status.last_error_at,
            links: counts.links,
            dead_letters: counts.dead_letters,
            pending_intents: counts.pending_intents,
            dead_letter_entries,
            handoffs_in_window,
            rule_changed: state.rule_changed(&p.name),
            open_sla_timers,
        });
    }
    let proven = proven_by_store(state).await;
    let connectors = topology
        .connectors
        .iter()
        .map(|(name, c)| {
            let usage = c.usage();
            crate::metrics::record_connector_usage(name, &usage);
            ConnectorSnapshot {
                name: name.clone(),
                kind: c.kind().to_owned(),
                auth: effective_auth(state, name, &proven),
                calls_today: usage.calls_today,
                daily_cap: usage.daily_cap,
                vendor_usage: usage.vendor_usage,
                total_calls: usage.total_calls(),
                retries: usage.retries,
            }
        })
        .collect();
    let tagged = || {
        all_events
            .iter()
            .flat_map(|(p, events)| events.iter().map(move |e| (p.as_str(), e)))
    };
    let funnel = funnel::count(tagged());
    let groups = match query.by {
        Some(by) => funnel::count_by(tagged(), by),
        None => Vec::new(),
    };
    let not_ready = readiness(state).await;
    Ok(StatusSnapshot {
        generated_at: now,
        ready: not_ready.is_empty(),
        not_ready,
        pipelines,
        connectors,
        funnel: FunnelSnapshot {
            window_days: query.days,
            since,
            by: query.by,
            funnel,
            groups,
        },
    })
}

/// Why the daemon is not ready (empty when it is): the state store does
/// not answer, a connector some pipeline uses is not proven authenticated,
/// or a pipeline is halted.
pub async fn readiness(state: &AdminState) -> Vec<String> {
    let mut problems = Vec::new();
    if let Err(e) = state.inner.store.pipelines().await {
        problems.push(format!("state store: {e}"));
    }
    let topology = state.topology();
    let mut used: Vec<&str> = topology
        .pipelines
        .iter()
        .flat_map(|s| {
            [
                s.pipeline.marketing.connector_name.as_str(),
                s.pipeline.crm.connector_name.as_str(),
            ]
        })
        .collect();
    used.sort_unstable();
    used.dedup();
    let proven = proven_by_store(state).await;
    for name in used {
        match effective_auth(state, name, &proven) {
            ConnectorAuth::Authenticated => {}
            ConnectorAuth::Unproven => {
                problems.push(format!("connector {name}: no cycle has finished yet"))
            }
            ConnectorAuth::Failing(e) => problems.push(format!("connector {name}: {e}")),
        }
    }
    for s in &topology.pipelines {
        if let (PipelineState::Halted, reason) = state.pipeline_state(&s.pipeline.name) {
            problems.push(format!(
                "pipeline {} is halted: {}",
                s.pipeline.name,
                reason.unwrap_or_default()
            ));
        }
    }
    problems
}

/// Connectors of pipelines whose last cycle finished since the admin state
/// was made: proven even when the daemon forwards no reports.
async fn proven_by_store(state: &AdminState) -> BTreeSet<String> {
    let topology = state.topology();
    let mut proven = BTreeSet::new();
    for s in &topology.pipelines {
        let p = &s.pipeline;
        let finished = match state.inner.store.status(&p.name).await {
            Ok(Some(status)) => status.last_cycle_finished,
            _ => None,
        };
        if finished.is_some_and(|f| f >= state.inner.started_at) {
            proven.insert(p.marketing.connector_name.clone());
            proven.insert(p.crm.connector_name.clone());
        }
    }
    proven
}

/// A connector's credentials: what the daemon reported, else what the
/// store proves.
fn effective_auth(state: &AdminState, name: &str, proven: &BTreeSet<String>) -> ConnectorAuth {
    match state.connector_auth(name) {
        ConnectorAuth::Unproven if proven.contains(name) => ConnectorAuth::Authenticated,
        other => other,
    }
}
