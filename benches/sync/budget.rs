//! What a cycle could have cost at best, and what the measured calls would
//! cost under the vendors' published limits.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::scenario::CycleFigures;

/// HubSpot search results per page.
pub const HS_PAGE: u64 = 200;
/// HubSpot batch write size.
pub const HS_BATCH: u64 = 100;
/// Salesforce query batch (records per `query`/`queryMore` call).
pub const SF_PAGE: u64 = 2000;
/// Records per Salesforce write call and keys per look-up call, as the
/// engine batches them (one Composite call of five sObject Collections or
/// five queries).
pub const SF_BATCH: u64 = 1_000;

/// HubSpot search: 5 requests per second.
pub const HS_SEARCH_PER_S: f64 = 5.0;
/// HubSpot general burst: 100 per 10 s (Free/Starter) …
pub const HS_BURST_LOW_PER_S: f64 = 10.0;
/// … to 190 per 10 s (Professional/Enterprise).
pub const HS_BURST_HIGH_PER_S: f64 = 19.0;
/// HubSpot daily limits: 250,000 (Free/Starter) to 1,000,000 (Enterprise).
pub const HS_DAILY: (u64, u64) = (250_000, 1_000_000);
/// Salesforce Enterprise Edition: 100,000 a day plus 1,000 per user licence.
pub const SF_DAILY_BASE: u64 = 100_000;
/// 2-minute cycles in a day.
pub const CYCLES_PER_DAY: u64 = 720;

fn ceil(a: u64, b: u64) -> u64 {
    a.div_ceil(b)
}

/// The fewest calls a cycle that read and wrote what this one did could
/// make, per side: every change pass at least one read; a fresh process
/// authenticates once with OAuth2 (Salesforce); every handoff is looked
/// up by key, then created.
#[derive(Debug, Clone, Copy, Serialize, Default)]
pub struct Minimum {
    /// HubSpot.
    pub hubspot: u64,
    /// Salesforce.
    pub salesforce: u64,
}

impl Minimum {
    /// The minimum for a measured cycle.
    pub fn of(c: &CycleFigures) -> Self {
        let s = &c.summary;
        let hubspot = ceil(s.read_marketing, HS_PAGE).max(1) + ceil(s.written_marketing, HS_BATCH);
        // Creates (upsert by External ID) and updates (by Id) of one batch
        // go out together, as collections of one Composite call.
        let salesforce = 1
            + ceil(s.read_crm, SF_PAGE).max(1)
            + ceil(s.handoffs, SF_BATCH)
            + ceil(s.written_crm, SF_BATCH);
        Self {
            hubspot,
            salesforce,
        }
    }
}

/// Searches and other calls to HubSpot.
fn hubspot_split(calls: &BTreeMap<String, u64>) -> (u64, u64) {
    let search: u64 = calls
        .iter()
        .filter(|(k, _)| k.ends_with("/search"))
        .map(|(_, v)| v)
        .sum();
    (search, CycleFigures::calls(calls) - search)
}

/// Seconds HubSpot's limits alone impose on these calls, made one after
/// another as the engine makes them: (Starter burst, Enterprise burst).
pub fn hubspot_limited_s(calls: &BTreeMap<String, u64>) -> (f64, f64) {
    let (search, other) = hubspot_split(calls);
    let s = search as f64 / HS_SEARCH_PER_S;
    (
        s + other as f64 / HS_BURST_LOW_PER_S,
        s + other as f64 / HS_BURST_HIGH_PER_S,
    )
}

/// Projections under the published limits.
#[derive(Debug, Clone, Serialize)]
pub struct Projection {
    /// Contacts in the account.
    pub contacts: u64,
    /// Backfill (all its cycles): seconds HubSpot's limits impose, plus the
    /// measured unthrottled wall time (Starter, Enterprise).
    pub backfill_s: (f64, f64),
    /// A day of idle 2-minute cycles: calls per side.
    pub idle_day_calls: (u64, u64),
    /// A day of 2-minute cycles each like the incremental one: calls per side.
    pub busy_day_calls: (u64, u64),
    /// HubSpot daily quota share of the busy day (Starter 250k, Enterprise 1M).
    pub busy_day_hubspot_share: (f64, f64),
    /// Salesforce daily quota share of the busy day (100k base).
    pub busy_day_salesforce_share: f64,
    /// Seconds per incremental cycle under HubSpot's limits (Starter, Enterprise).
    pub incremental_limited_s: (f64, f64),
}

impl Projection {
    /// From a scale's backfill, incremental and idle cycles.
    pub fn new(
        contacts: u64,
        backfill: &[CycleFigures],
        incremental: &CycleFigures,
        idle: &CycleFigures,
    ) -> Self {
        let mut low = 0.0;
        let mut high = 0.0;
        for c in backfill {
            let (l, h) = hubspot_limited_s(&c.hubspot);
            low += l + c.wall_s;
            high += h + c.wall_s;
        }
        let per_day = |c: &CycleFigures| {
            (
                CycleFigures::calls(&c.hubspot) * CYCLES_PER_DAY,
                CycleFigures::calls(&c.salesforce) * CYCLES_PER_DAY,
            )
        };
        let busy = per_day(incremental);
        let (il, ih) = hubspot_limited_s(&incremental.hubspot);
        Self {
            contacts,
            backfill_s: (low, high),
            idle_day_calls: per_day(idle),
            busy_day_calls: busy,
            busy_day_hubspot_share: (
                busy.0 as f64 / HS_DAILY.0 as f64,
                busy.0 as f64 / HS_DAILY.1 as f64,
            ),
            busy_day_salesforce_share: busy.1 as f64 / SF_DAILY_BASE as f64,
            incremental_limited_s: (il + incremental.wall_s, ih + incremental.wall_s),
        }
    }
}
