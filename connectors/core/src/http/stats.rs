//! Request counting, for metrics, the status page and the benchmarks.

use std::collections::BTreeMap;
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

/// Counts of calls made, by endpoint label, plus what the vendor last said
/// about our usage.
#[derive(Debug, Default)]
pub struct RequestStats {
    inner: Mutex<StatsInner>,
}

#[derive(Debug, Default, Clone)]
struct StatsInner {
    calls: BTreeMap<String, u64>,
    retries: u64,
    vendor_usage: Option<(u64, u64)>,
}

/// A copy of the counters at one instant.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct UsageSnapshot {
    /// HTTP calls sent, by endpoint label (`search contacts`, `query`…).
    pub calls_by_endpoint: BTreeMap<String, u64>,
    /// Calls that were retries of an earlier failed attempt.
    pub retries: u64,
    /// Calls taken from today's budget.
    pub calls_today: u64,
    /// The configured daily cap.
    pub daily_cap: Option<u64>,
    /// The vendor's own `(used, max)` for the day, when its headers say it.
    pub vendor_usage: Option<(u64, u64)>,
}

impl UsageSnapshot {
    /// All calls, whatever the endpoint.
    pub fn total_calls(&self) -> u64 {
        self.calls_by_endpoint.values().sum()
    }
}

impl RequestStats {
    fn lock(&self) -> std::sync::MutexGuard<'_, StatsInner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Counts one call to `endpoint`.
    pub fn count(&self, endpoint: &str, is_retry: bool) {
        let mut inner = self.lock();
        *inner.calls.entry(endpoint.to_owned()).or_default() += 1;
        if is_retry {
            inner.retries += 1;
        }
    }

    /// Records the vendor's reported `(used, max)` daily usage.
    pub fn vendor_usage(&self, used: u64, max: u64) {
        self.lock().vendor_usage = Some((used, max));
    }

    /// The counters now.
    pub fn snapshot(&self, calls_today: u64, daily_cap: Option<u64>) -> UsageSnapshot {
        let inner = self.lock().clone();
        UsageSnapshot {
            calls_by_endpoint: inner.calls,
            retries: inner.retries,
            calls_today,
            daily_cap,
            vendor_usage: inner.vendor_usage,
        }
    }
}
