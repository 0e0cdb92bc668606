//! Calls received per endpoint.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

/// Counts requests by endpoint label (e.g. `POST /crm/v3/objects/{type}/search`).
/// Clones share the counts.
#[derive(Debug, Clone, Default)]
pub struct RequestCounter {
    inner: Arc<Mutex<BTreeMap<String, u64>>>,
    limited: Arc<Mutex<BTreeMap<String, u64>>>,
}

impl RequestCounter {
    /// Counts one request.
    pub fn hit(&self, endpoint: &str) {
        *self
            .inner
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(endpoint.to_owned())
            .or_default() += 1;
    }

    /// Every endpoint's count.
    pub fn counts(&self) -> BTreeMap<String, u64> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// One endpoint's count.
    pub fn get(&self, endpoint: &str) -> u64 {
        self.counts().get(endpoint).copied().unwrap_or(0)
    }

    /// All requests, every endpoint.
    pub fn total(&self) -> u64 {
        self.counts().values().sum()
    }

    /// Starts counting again from zero.
    pub fn reset(&self) {
        self.inner.lock().unwrap_or_else(|e| e.into_inner()).clear();
        self.limited
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
    }

    /// Counts one request the vendor's own rate limit refused (a 429 the
    /// simulator's limits sent, not an injected fault), so tests can prove
    /// a client paced itself.
    pub fn rate_limited(&self, endpoint: &str) {
        *self
            .limited
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(endpoint.to_owned())
            .or_default() += 1;
    }

    /// Requests refused by the rate limits, by endpoint.
    pub fn rate_limited_counts(&self) -> BTreeMap<String, u64> {
        self.limited
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}
