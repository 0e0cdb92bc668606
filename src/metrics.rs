//! Every metric leadbridge exports, and the events that record them.
//!
//! One place names each metric, so the Grafana dashboard
//! (`config/grafana-dashboard.json`), the alert rules ops write and the code
//! agree. As in vector's `internal_events`, an outcome that is both logged
//! and counted is one struct here whose `emit()` writes the log line and
//! records the metric together, so the two never drift; state that is only
//! sampled (DLQ size, API calls so far) has a plain `record_*` function.
//!
//! Recording goes through the `metrics` facade: without an installed
//! recorder (the CLI's one-shot commands, most tests) every call is a cheap
//! no-op. The daemon's admin server installs the Prometheus recorder once
//! per process with [`prometheus`] and renders it on `GET /metrics`.
//!
//! Labels are bounded: pipeline, connector, side and endpoint names from
//! the config, outcome words from this file. Record ids, owners, emails or
//! error texts never become labels (one series per value would grow
//! without end, and could carry personal data).
//!
//! For the follow-up SLA work: call [`SlaBreached::emit`],
//! [`LeadAccepted::emit`], [`record_open_timers`], [`SlaEscalated::emit`]
//! and [`LeadRecycled::emit`] where those events happen; the dashboard
//! already has their panels.

use std::sync::OnceLock;
use std::time::Duration;

use metrics::{counter, gauge, histogram, Unit};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use tracing::{info, warn};

use crate::side::Side;
use crate::state::CycleCounts;
use leadbridge_core::http::UsageSnapshot;
use leadbridge_core::ConnectorError;

/// The metric names, all prefixed `leadbridge_`.
pub mod names {
    /// Counter: leads handed to sales, by pipeline.
    pub const HANDOFFS: &str = "leadbridge_handoffs_total";
    /// Counter: records read, by pipeline and side.
    pub const RECORDS_READ: &str = "leadbridge_records_read_total";
    /// Counter: records written, by pipeline and the side written to.
    pub const RECORDS_WRITTEN: &str = "leadbridge_records_written_total";
    /// Counter: changes dropped as echoes of our own writes, by pipeline.
    pub const ECHOES: &str = "leadbridge_echoes_total";
    /// Counter: records sent to the dead letter queue, by pipeline and the
    /// side they were read from.
    pub const DEAD_LETTERED: &str = "leadbridge_dead_lettered_total";
    /// Gauge: entries in the dead letter queue, by pipeline.
    pub const DLQ_SIZE: &str = "leadbridge_dlq_size";
    /// Histogram: wall time of one cycle in seconds, by pipeline.
    pub const CYCLE_DURATION: &str = "leadbridge_cycle_duration_seconds";
    /// Counter: cycles run, by pipeline and outcome (`ok`, `failed`).
    pub const CYCLES: &str = "leadbridge_cycles_total";
    /// Counter: failed cycles, by pipeline and reason (`retryable`,
    /// `unauthorized`, `quota`, `rejected`, `fatal`, `state`).
    pub const CYCLE_FAILURES: &str = "leadbridge_cycle_failures_total";
    /// Gauge: Unix time of the last successful cycle, by pipeline (alert
    /// when `time() - it` grows).
    pub const LAST_SUCCESS: &str = "leadbridge_last_success_timestamp_seconds";
    /// Gauge: 1 when a pipeline is halted (needs a person), by pipeline.
    pub const PIPELINE_HALTED: &str = "leadbridge_pipeline_halted";
    /// Gauge: 1 when a pipeline is paused from the admin server, by pipeline.
    pub const PIPELINE_PAUSED: &str = "leadbridge_pipeline_paused";
    /// Counter: HTTP calls made to a tool, by connector and endpoint label.
    pub const API_CALLS: &str = "leadbridge_api_calls_total";
    /// Counter: calls that were retries, by connector.
    pub const API_RETRIES: &str = "leadbridge_api_retries_total";
    /// Gauge: calls taken from today's budget, by connector.
    pub const API_CALLS_TODAY: &str = "leadbridge_api_calls_today";
    /// Gauge: the configured daily cap, by connector (absent when uncapped).
    pub const API_DAILY_CAP: &str = "leadbridge_api_daily_cap";
    /// Counter: webhook deliveries, by source and outcome (`accepted`,
    /// `duplicate`, `bad_signature`, `stale`, `malformed`).
    pub const WEBHOOKS: &str = "leadbridge_webhook_deliveries_total";
    /// Counter: admin actions, by action and outcome (`ok`, `unauthorized`,
    /// `not_found`, `failed`).
    pub const ADMIN_ACTIONS: &str = "leadbridge_admin_actions_total";
    /// Counter (SLA): first-touch deadlines missed, by pipeline.
    pub const SLA_BREACHES: &str = "leadbridge_sla_breaches_total";
    /// Counter (SLA): escalation steps fired, by pipeline.
    pub const SLA_ESCALATIONS: &str = "leadbridge_sla_escalations_total";
    /// Counter (SLA): leads sent back to marketing nurture, by pipeline.
    pub const LEADS_RECYCLED: &str = "leadbridge_leads_recycled_total";
    /// Histogram (SLA): business time from handoff to first touch, in
    /// seconds, by pipeline.
    pub const TIME_TO_FIRST_TOUCH: &str = "leadbridge_time_to_first_touch_seconds";
    /// Counter (SLA): leads touched, by pipeline and whether within the SLA
    /// (`within_sla` = `true` / `false`).
    pub const LEADS_ACCEPTED: &str = "leadbridge_leads_accepted_total";
    /// Gauge (SLA): first-touch timers running, by pipeline.
    pub const SLA_OPEN_TIMERS: &str = "leadbridge_sla_open_timers";

    /// Every name above: what the dashboard and the alert rules may use.
    pub const ALL: &[&str] = &[
        HANDOFFS,
        RECORDS_READ,
        RECORDS_WRITTEN,
        ECHOES,
        DEAD_LETTERED,
        DLQ_SIZE,
        CYCLE_DURATION,
        CYCLES,
        CYCLE_FAILURES,
        LAST_SUCCESS,
        PIPELINE_HALTED,
        PIPELINE_PAUSED,
        API_CALLS,
        API_RETRIES,
        API_CALLS_TODAY,
        API_DAILY_CAP,
        WEBHOOKS,
        ADMIN_ACTIONS,
        SLA_BREACHES,
        SLA_ESCALATIONS,
        LEADS_RECYCLED,
        TIME_TO_FIRST_TOUCH,
        LEADS_ACCEPTED,
        SLA_OPEN_TIMERS,
    ];
}

/// Why the Prometheus recorder is not available.
#[derive(Debug, Clone, thiserror::Error)]
#[error("the Prometheus recorder could not be installed: {0}")]
pub struct MetricsError(String);

/// Cycle durations: from a quiet poll (tens of ms) to a backfill (minutes).
const CYCLE_BUCKETS: &[f64] = &[
    0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 900.0,
];

/// Time to first touch: 5 minutes to 5 days (business time).
const FIRST_TOUCH_BUCKETS: &[f64] = &[
    300.0, 900.0, 1800.0, 3600.0, 7200.0, 14400.0, 28800.0, 57600.0, 86400.0, 172800.0, 432000.0,
];

/// The process's Prometheus recorder, installed on first call.
///
/// The `metrics` facade has one global recorder per process, so this is
/// idempotent: tests (and a daemon that rebuilds its admin server on
/// reload) may call it any number of times and get the same handle. If
/// another recorder was installed first, every call returns the error.
pub fn prometheus() -> Result<&'static PrometheusHandle, MetricsError> {
    static HANDLE: OnceLock<Result<PrometheusHandle, MetricsError>> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let builder = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Full(names::CYCLE_DURATION.into()), CYCLE_BUCKETS)
                .and_then(|b| {
                    b.set_buckets_for_metric(
                        Matcher::Full(names::TIME_TO_FIRST_TOUCH.into()),
                        FIRST_TOUCH_BUCKETS,
                    )
                })
                .map_err(|e| MetricsError(e.to_string()))?;
            let handle = builder
                .install_recorder()
                .map_err(|e| MetricsError(e.to_string()))?;
            describe();
            Ok(handle)
        })
        .as_ref()
        .map_err(Clone::clone)
}

/// HELP lines for `/metrics`.
fn describe() {
    use metrics::{describe_counter, describe_gauge, describe_histogram};
    describe_counter!(names::HANDOFFS, "Leads handed to sales.");
    describe_counter!(names::RECORDS_READ, "Records read, by side.");
    describe_counter!(names::RECORDS_WRITTEN, "Records written, by side.");
    describe_counter!(
        names::ECHOES,
        "Changes dropped as echoes of our own writes."
    );
    describe_counter!(
        names::DEAD_LETTERED,
        "Records sent to the dead letter queue."
    );
    describe_gauge!(names::DLQ_SIZE, "Entries in the dead letter queue.");
    describe_histogram!(
        names::CYCLE_DURATION,
        Unit::Seconds,
        "Wall time of one cycle."
    );
    describe_counter!(names::CYCLES, "Cycles run, by outcome.");
    describe_counter!(names::CYCLE_FAILURES, "Failed cycles, by reason.");
    describe_gauge!(
        names::LAST_SUCCESS,
        Unit::Seconds,
        "Unix time of the last successful cycle."
    );
    describe_gauge!(
        names::PIPELINE_HALTED,
        "1 when the pipeline is halted until a person acts."
    );
    describe_gauge!(
        names::PIPELINE_PAUSED,
        "1 when the pipeline is paused from the admin server."
    );
    describe_counter!(names::API_CALLS, "HTTP calls made to a tool, by endpoint.");
    describe_counter!(names::API_RETRIES, "HTTP calls that were retries.");
    describe_gauge!(names::API_CALLS_TODAY, "Calls taken from today's budget.");
    describe_gauge!(
        names::API_DAILY_CAP,
        "The configured daily cap of API calls."
    );
    describe_counter!(names::WEBHOOKS, "Webhook deliveries, by outcome.");
    describe_counter!(names::ADMIN_ACTIONS, "Admin actions, by outcome.");
    describe_counter!(names::SLA_BREACHES, "First-touch deadlines missed.");
    describe_counter!(names::SLA_ESCALATIONS, "SLA escalation steps fired.");
    describe_counter!(
        names::LEADS_RECYCLED,
        "Leads sent back to marketing nurture."
    );
    describe_histogram!(
        names::TIME_TO_FIRST_TOUCH,
        Unit::Seconds,
        "Business time from handoff to first touch."
    );
    describe_counter!(
        names::LEADS_ACCEPTED,
        "Leads touched by sales, by whether within the SLA."
    );
    describe_gauge!(names::SLA_OPEN_TIMERS, "First-touch timers running.");
}

/// Every failure reason word of [`names::CYCLE_FAILURES`].
const FAILURE_REASONS: [&str; 7] = [
    "retryable",
    "unauthorized",
    "quota",
    "rejected",
    "fatal",
    "state",
    "other",
];

/// Registers every series the daemon exports for these pipelines,
/// connectors and webhook sources, at zero, before the first cycle: a
/// dashboard then shows 0 instead of "No data", and `rate()`/`increase()`
/// see the series start at 0 rather than at its first value. Counters and
/// gauges are touched with `increment(0)`, so a value already recorded is
/// never reset (safe to call again after a reload). Not registered: the
/// last-success time (0 would read as "1970") and the daily cap of an
/// uncapped connector (there is none).
pub fn register(pipelines: &[String], connectors: &[String], webhook_sources: &[&'static str]) {
    for p in pipelines {
        let p = p.clone();
        counter!(names::HANDOFFS, "pipeline" => p.clone()).increment(0);
        counter!(names::ECHOES, "pipeline" => p.clone()).increment(0);
        for side in [Side::Marketing, Side::Crm].map(side_label) {
            counter!(names::RECORDS_READ, "pipeline" => p.clone(), "side" => side).increment(0);
            counter!(names::RECORDS_WRITTEN, "pipeline" => p.clone(), "side" => side).increment(0);
            counter!(names::DEAD_LETTERED, "pipeline" => p.clone(), "side" => side).increment(0);
        }
        for outcome in ["ok", "failed"] {
            counter!(names::CYCLES, "pipeline" => p.clone(), "outcome" => outcome).increment(0);
        }
        for reason in FAILURE_REASONS {
            counter!(names::CYCLE_FAILURES, "pipeline" => p.clone(), "reason" => reason)
                .increment(0);
        }
        // Registered only: an empty histogram renders its zero buckets.
        let _ = histogram!(names::CYCLE_DURATION, "pipeline" => p.clone());
        let _ = histogram!(names::TIME_TO_FIRST_TOUCH, "pipeline" => p.clone());
        for name in [
            names::DLQ_SIZE,
            names::PIPELINE_HALTED,
            names::PIPELINE_PAUSED,
            names::SLA_OPEN_TIMERS,
        ] {
            gauge!(name, "pipeline" => p.clone()).increment(0.0);
        }
        for name in [
            names::SLA_BREACHES,
            names::SLA_ESCALATIONS,
            names::LEADS_RECYCLED,
        ] {
            counter!(name, "pipeline" => p.clone()).increment(0);
        }
        for within in ["true", "false"] {
            counter!(names::LEADS_ACCEPTED, "pipeline" => p.clone(), "within_sla" => within)
                .increment(0);
        }
    }
    for c in connectors {
        counter!(names::API_RETRIES, "connector" => c.clone()).increment(0);
        gauge!(names::API_CALLS_TODAY, "connector" => c.clone()).increment(0.0);
    }
    for source in webhook_sources {
        for outcome in [
            WebhookOutcome::Accepted,
            WebhookOutcome::Duplicate,
            WebhookOutcome::BadSignature,
            WebhookOutcome::Stale,
            WebhookOutcome::Malformed,
        ] {
            counter!(names::WEBHOOKS, "source" => *source, "outcome" => outcome.label())
                .increment(0);
        }
    }
}

fn side_label(side: Side) -> &'static str {
    side.as_str()
}

/// A cycle ran to its end: the info line with what it moved, and the
/// record counters. A dry run is logged but not counted (it moved nothing).
#[derive(Debug)]
pub struct CycleFinished<'a> {
    /// The pipeline.
    pub pipeline: &'a str,
    /// What it moved.
    pub counts: CycleCounts,
    /// Leads handed off to the CRM.
    pub handoffs: u64,
    /// Whether it only planned.
    pub dry_run: bool,
}

impl CycleFinished<'_> {
    /// Logs and counts.
    pub fn emit(&self) {
        let c = &self.counts;
        info!(
            read_marketing = c.read_marketing,
            read_crm = c.read_crm,
            handed_off = self.handoffs,
            written_crm = c.written_crm,
            written_marketing = c.written_marketing,
            echoes = c.echoes,
            dead_lettered = c.dead_lettered,
            "cycle finished"
        );
        if self.dry_run {
            return;
        }
        let p = self.pipeline.to_owned();
        counter!(names::HANDOFFS, "pipeline" => p.clone()).increment(self.handoffs);
        for (side, read, written) in [
            (Side::Marketing, c.read_marketing, c.written_marketing),
            (Side::Crm, c.read_crm, c.written_crm),
        ] {
            let side = side_label(side);
            counter!(names::RECORDS_READ, "pipeline" => p.clone(), "side" => side).increment(read);
            counter!(names::RECORDS_WRITTEN, "pipeline" => p.clone(), "side" => side)
                .increment(written);
        }
        counter!(names::ECHOES, "pipeline" => p).increment(c.echoes);
    }
}

/// A record went to the dead letter queue: the warning with why, and the
/// counter by the side it was read from.
#[derive(Debug)]
pub struct DeadLettered<'a> {
    /// The pipeline.
    pub pipeline: &'a str,
    /// The side the record was read from.
    pub side: Side,
    /// Its id there (logged, never a label).
    pub record_id: &'a str,
    /// Why.
    pub reason: &'a str,
    /// The side that refused the write, when a write was refused (as
    /// opposed to a rule or mapping failing before any write).
    pub rejected_by: Option<Side>,
}

impl DeadLettered<'_> {
    /// Logs and counts.
    pub fn emit(&self) {
        match self.rejected_by {
            Some(by) => warn!(
                side = %self.side,
                record = %self.record_id,
                reason = %self.reason,
                "rejected by {by}; dead-lettered"
            ),
            None => warn!(
                side = %self.side,
                record = %self.record_id,
                reason = %self.reason,
                "dead-lettered"
            ),
        }
        counter!(
            names::DEAD_LETTERED,
            "pipeline" => self.pipeline.to_owned(),
            "side" => side_label(self.side)
        )
        .increment(1);
    }
}

/// Records one cycle's wall time and outcome. Not logged here: the
/// scheduler logs a failure together with what it does about it.
/// `failure` is the reason word (see [`names::CYCLE_FAILURES`]).
pub fn record_cycle(pipeline: &str, elapsed: Duration, failure: Option<&'static str>) {
    let p = pipeline.to_owned();
    histogram!(names::CYCLE_DURATION, "pipeline" => p.clone()).record(elapsed.as_secs_f64());
    match failure {
        None => {
            counter!(names::CYCLES, "pipeline" => p.clone(), "outcome" => "ok").increment(1);
            gauge!(names::LAST_SUCCESS, "pipeline" => p).set(unix_now());
        }
        Some(reason) => {
            counter!(names::CYCLES, "pipeline" => p.clone(), "outcome" => "failed").increment(1);
            counter!(names::CYCLE_FAILURES, "pipeline" => p, "reason" => reason).increment(1);
        }
    }
}

/// The reason word of a failed cycle, for [`names::CYCLE_FAILURES`]: the
/// connector error that failed it, or `None` for the state store.
pub fn failure_reason(err: Option<&ConnectorError>) -> &'static str {
    match err {
        None => "state",
        Some(ConnectorError::Retryable { .. }) => "retryable",
        Some(ConnectorError::Unauthorized { .. }) => "unauthorized",
        Some(ConnectorError::QuotaExhausted { .. }) => "quota",
        Some(ConnectorError::Rejected { .. }) => "rejected",
        Some(ConnectorError::Fatal { .. }) => "fatal",
        Some(_) => "other",
    }
}

fn unix_now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// Sets the dead letter queue size of a pipeline.
pub fn record_dlq_size(pipeline: &str, size: u64) {
    gauge!(names::DLQ_SIZE, "pipeline" => pipeline.to_owned()).set(size as f64);
}

/// Sets whether a pipeline is halted and whether it is paused.
pub fn record_pipeline_state(pipeline: &str, halted: bool, paused: bool) {
    let flag = |b: bool| if b { 1.0 } else { 0.0 };
    gauge!(names::PIPELINE_HALTED, "pipeline" => pipeline.to_owned()).set(flag(halted));
    gauge!(names::PIPELINE_PAUSED, "pipeline" => pipeline.to_owned()).set(flag(paused));
}

/// The `endpoint` label of a connector's call label, in one form for
/// every connector: `METHOD /path` with ids replaced by `{id}` and no
/// query string when the connector labels by request line (so one
/// endpoint is one series, whatever record it touched), else the call's
/// name in snake case (`query more` → `query_more`). Always bounded.
pub fn endpoint_label(raw: &str) -> String {
    const METHODS: [&str; 5] = ["GET", "POST", "PUT", "PATCH", "DELETE"];
    let raw = raw.trim();
    if let Some((method, rest)) = raw.split_once(' ') {
        let method = method.to_ascii_uppercase();
        let rest = rest.trim();
        if METHODS.contains(&method.as_str()) && rest.starts_with('/') {
            let path = rest.split(['?', '#']).next().unwrap_or_default();
            let path: Vec<&str> = path
                .split('/')
                .map(|s| if looks_like_id(s) { "{id}" } else { s })
                .collect();
            return format!("{method} {}", path.join("/"));
        }
    }
    raw.split_whitespace()
        .map(str::to_ascii_lowercase)
        .collect::<Vec<_>>()
        .join("_")
}

/// A path segment that names one record: a number, a UUID, or a 15/18
/// character alphanumeric id with digits in it.
fn looks_like_id(segment: &str) -> bool {
    let b = segment.as_bytes();
    let digits = b.iter().filter(|c| c.is_ascii_digit()).count();
    (!b.is_empty() && digits == b.len())
        || (b.len() == 36 && b.iter().all(|c| c.is_ascii_hexdigit() || *c == b'-'))
        || (matches!(b.len(), 15 | 18) && digits >= 3 && b.iter().all(u8::is_ascii_alphanumeric))
}

/// Copies a connector's request counters into the metrics: calls by
/// endpoint and retries as counters (the snapshot's totals only grow),
/// today's calls and the cap as gauges.
pub fn record_connector_usage(connector: &str, usage: &UsageSnapshot) {
    let c = connector.to_owned();
    let mut by_label: std::collections::BTreeMap<String, u64> = Default::default();
    for (endpoint, calls) in &usage.calls_by_endpoint {
        *by_label.entry(endpoint_label(endpoint)).or_default() += *calls;
    }
    for (endpoint, calls) in by_label {
        counter!(names::API_CALLS, "connector" => c.clone(), "endpoint" => endpoint)
            .absolute(calls);
    }
    counter!(names::API_RETRIES, "connector" => c.clone()).absolute(usage.retries);
    gauge!(names::API_CALLS_TODAY, "connector" => c.clone()).set(usage.calls_today as f64);
    if let Some(cap) = usage.daily_cap {
        gauge!(names::API_DAILY_CAP, "connector" => c).set(cap as f64);
    }
}

/// How a webhook delivery ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WebhookOutcome {
    /// Verified and (at least partly) new: cycles were triggered.
    Accepted,
    /// Verified, but every event was seen before.
    Duplicate,
    /// The signature did not match (or was missing).
    BadSignature,
    /// The timestamp was too old (or missing).
    Stale,
    /// Verified, but the body was not a JSON array of events.
    Malformed,
}

impl WebhookOutcome {
    fn label(self) -> &'static str {
        match self {
            Self::Accepted => "accepted",
            Self::Duplicate => "duplicate",
            Self::BadSignature => "bad_signature",
            Self::Stale => "stale",
            Self::Malformed => "malformed",
        }
    }
}

/// A webhook delivery was handled: one log line per delivery (not per
/// event) and the counter.
#[derive(Debug)]
pub struct WebhookReceived<'a> {
    /// The tool that posted (`hubspot`).
    pub source: &'static str,
    /// How it ended.
    pub outcome: WebhookOutcome,
    /// Events in the body (0 when it was not read).
    pub events: usize,
    /// Events not seen before.
    pub new_events: usize,
    /// The pipelines a cycle was asked for.
    pub triggered: &'a [String],
}

impl WebhookReceived<'_> {
    /// Logs and counts.
    pub fn emit(&self) {
        let outcome = self.outcome.label();
        match self.outcome {
            WebhookOutcome::Accepted | WebhookOutcome::Duplicate => info!(
                source = self.source,
                outcome,
                events = self.events,
                new_events = self.new_events,
                triggered = ?self.triggered,
                "webhook received"
            ),
            _ => warn!(source = self.source, outcome, "webhook refused"),
        }
        counter!(names::WEBHOOKS, "source" => self.source, "outcome" => outcome).increment(1);
    }
}

/// An admin action was asked for: logged at info (who changes what is an
/// audit question) and counted.
#[derive(Debug)]
pub struct AdminAction<'a> {
    /// The action (`run`, `pause`, `resume`, `resync`, `dlq_retry`, `dlq_drop`).
    pub action: &'static str,
    /// The pipeline it targets.
    pub pipeline: &'a str,
    /// `ok`, `unauthorized`, `not_found` or `failed`.
    pub outcome: &'static str,
    /// A short detail (the record id, a refusal's reason); never a secret.
    pub detail: &'a str,
}

impl AdminAction<'_> {
    /// Logs and counts.
    pub fn emit(&self) {
        if self.outcome == "ok" {
            info!(action = self.action, pipeline = %self.pipeline, detail = %self.detail, "admin action");
        } else {
            warn!(action = self.action, pipeline = %self.pipeline, outcome = self.outcome, detail = %self.detail, "admin action refused");
        }
        counter!(names::ADMIN_ACTIONS, "action" => self.action, "outcome" => self.outcome)
            .increment(1);
    }
}

/// SLA: a first-touch deadline passed untouched (for the SLA engine).
#[derive(Debug)]
pub struct SlaBreached<'a> {
    /// The pipeline.
    pub pipeline: &'a str,
    /// The lead, by marketing id (logged, never a label).
    pub marketing_id: &'a str,
    /// Its owner (logged, never a label).
    pub owner: Option<&'a str>,
}

impl SlaBreached<'_> {
    /// Logs and counts.
    pub fn emit(&self) {
        warn!(pipeline = %self.pipeline, lead = %self.marketing_id, owner = ?self.owner, "SLA breached: first touch overdue");
        counter!(names::SLA_BREACHES, "pipeline" => self.pipeline.to_owned()).increment(1);
    }
}

/// SLA: an escalation step fired (for the SLA engine).
#[derive(Debug)]
pub struct SlaEscalated<'a> {
    /// The pipeline.
    pub pipeline: &'a str,
    /// The lead, by marketing id.
    pub marketing_id: &'a str,
    /// The step's position in `on_breach` (0-based).
    pub step: usize,
}

impl SlaEscalated<'_> {
    /// Logs and counts.
    pub fn emit(&self) {
        info!(pipeline = %self.pipeline, lead = %self.marketing_id, step = self.step, "SLA escalation step fired");
        counter!(names::SLA_ESCALATIONS, "pipeline" => self.pipeline.to_owned()).increment(1);
    }
}

/// SLA: a lead went back to marketing nurture (for the SLA engine).
#[derive(Debug)]
pub struct LeadRecycled<'a> {
    /// The pipeline.
    pub pipeline: &'a str,
    /// The lead, by marketing id.
    pub marketing_id: &'a str,
    /// Why (the configured reason).
    pub reason: &'a str,
}

impl LeadRecycled<'_> {
    /// Logs and counts.
    pub fn emit(&self) {
        info!(pipeline = %self.pipeline, lead = %self.marketing_id, reason = %self.reason, "lead recycled to marketing");
        counter!(names::LEADS_RECYCLED, "pipeline" => self.pipeline.to_owned()).increment(1);
    }
}

/// SLA: sales touched a lead for the first time (for the SLA engine).
#[derive(Debug)]
pub struct LeadAccepted<'a> {
    /// The pipeline.
    pub pipeline: &'a str,
    /// The lead, by marketing id.
    pub marketing_id: &'a str,
    /// Business time from handoff to first touch.
    pub time_to_first_touch: Duration,
    /// Whether it was within the SLA.
    pub within_sla: bool,
}

impl LeadAccepted<'_> {
    /// Logs and records the time-to-first-touch histogram.
    pub fn emit(&self) {
        info!(
            pipeline = %self.pipeline,
            lead = %self.marketing_id,
            time_to_first_touch_s = self.time_to_first_touch.as_secs(),
            within_sla = self.within_sla,
            "lead accepted (first touch)"
        );
        let p = self.pipeline.to_owned();
        histogram!(names::TIME_TO_FIRST_TOUCH, "pipeline" => p.clone())
            .record(self.time_to_first_touch.as_secs_f64());
        let within = if self.within_sla { "true" } else { "false" };
        counter!(names::LEADS_ACCEPTED, "pipeline" => p, "within_sla" => within).increment(1);
    }
}

/// SLA: sets the number of first-touch timers running in a pipeline.
pub fn record_open_timers(pipeline: &str, open: u64) {
    gauge!(names::SLA_OPEN_TIMERS, "pipeline" => pipeline.to_owned()).set(open as f64);
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: &[&str] = names::ALL;

    #[test]
    fn the_dashboard_uses_only_names_defined_here() {
        let dashboard = include_str!("../config/grafana-dashboard.json");
        let json: serde_json::Value = serde_json::from_str(dashboard).expect("valid JSON");
        assert!(json["panels"].as_array().is_some_and(|p| p.len() > 10));
        let mut used = 0;
        for (i, _) in dashboard.match_indices("leadbridge_") {
            let name: String = dashboard[i..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            let base = ["_bucket", "_sum", "_count"]
                .iter()
                .find_map(|s| name.strip_suffix(s))
                .unwrap_or(&name);
            assert!(ALL.contains(&base), "{name} is not a leadbridge metric");
            used += 1;
        }
        assert!(used > 20);
    }

    #[test]
    fn endpoint_labels_have_one_form_and_no_ids() {
        for (raw, label) in [
            (
                "POST /crm/v3/objects/contacts/search",
                "POST /crm/v3/objects/contacts/search",
            ),
            (
                "GET /api/v2/persons/123?limit=5",
                "GET /api/v2/persons/{id}",
            ),
            (
                "patch /services/data/v62.0/sobjects/Lead/00Q5g00000ABCDeEAF",
                "PATCH /services/data/v62.0/sobjects/Lead/{id}",
            ),
            ("GET /x/3fa85f64-5717-4562-b3fc-2c963f66afa6", "GET /x/{id}"),
            ("query more", "query_more"),
            ("Create  Task", "create_task"),
            ("composite", "composite"),
        ] {
            assert_eq!(endpoint_label(raw), label, "{raw}");
        }
    }

    #[test]
    fn registered_series_render_at_zero_before_anything_happens() {
        let handle = prometheus().expect("installed");
        register(&["zero-p".into()], &["zero-c".into()], &["zero-src"]);
        // A value recorded before a second registration is kept.
        record_dlq_size("zero-p", 7);
        register(&["zero-p".into()], &["zero-c".into()], &["zero-src"]);
        let text = handle.render();
        for line in [
            r#"leadbridge_handoffs_total{pipeline="zero-p"} 0"#,
            r#"leadbridge_records_read_total{pipeline="zero-p",side="marketing"} 0"#,
            r#"leadbridge_dead_lettered_total{pipeline="zero-p",side="crm"} 0"#,
            r#"leadbridge_cycles_total{pipeline="zero-p",outcome="failed"} 0"#,
            r#"leadbridge_cycle_failures_total{pipeline="zero-p",reason="unauthorized"} 0"#,
            r#"leadbridge_pipeline_halted{pipeline="zero-p"} 0"#,
            r#"leadbridge_sla_breaches_total{pipeline="zero-p"} 0"#,
            r#"leadbridge_leads_accepted_total{pipeline="zero-p",within_sla="true"} 0"#,
            r#"leadbridge_api_retries_total{connector="zero-c"} 0"#,
            r#"leadbridge_api_calls_today{connector="zero-c"} 0"#,
            r#"leadbridge_webhook_deliveries_total{source="zero-src",outcome="bad_signature"} 0"#,
            r#"leadbridge_dlq_size{pipeline="zero-p"} 7"#,
            r#"leadbridge_cycle_duration_seconds_count{pipeline="zero-p"} 0"#,
        ] {
            assert!(text.lines().any(|l| l == line), "{line} missing:\n{text}");
        }
        assert!(!text.contains(r#"leadbridge_last_success_timestamp_seconds{pipeline="zero-p"}"#));
    }

    #[test]
    fn the_recorder_installs_once_and_renders_recorded_names() {
        let first = prometheus().expect("installed");
        let again = prometheus().expect("same handle");
        assert!(std::ptr::eq(first, again));
        record_dlq_size("unit-test", 3);
        record_cycle("unit-test", Duration::from_millis(120), None);
        let text = first.render();
        assert!(
            text.contains("leadbridge_dlq_size{pipeline=\"unit-test\"} 3"),
            "{text}"
        );
        assert!(
            text.contains("leadbridge_cycle_duration_seconds_bucket"),
            "{text}"
        );
    }
}
