//! Client-side pacing, so we stay under a vendor's published limit instead
//! of discovering it through 429s that count against our error budget.

use std::num::NonZeroU32;
use std::time::Duration;

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use serde::{Deserialize, Serialize};

/// A limit as vendors publish it: so many requests per window.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct RateLimit {
    /// Requests allowed per window (also the burst).
    pub requests: u32,
    /// The window length in milliseconds.
    pub per_ms: u64,
}

impl RateLimit {
    /// `requests` per `per`.
    pub fn new(requests: u32, per: Duration) -> Self {
        Self {
            requests,
            per_ms: per.as_millis() as u64,
        }
    }

    /// The sustained rate in requests per second.
    pub fn per_second(&self) -> f64 {
        self.requests as f64 * 1000.0 / self.per_ms.max(1) as f64
    }
}

/// A token bucket (governor's GCRA) shared by every request of one connector
/// or of one endpoint class; `None` inside means unlimited (benchmarks).
#[derive(Debug)]
pub struct Limiter {
    inner: Option<DefaultDirectRateLimiter>,
}

impl Limiter {
    /// A limiter for `limit`; `None` never waits.
    pub fn new(limit: Option<RateLimit>) -> Self {
        let inner = limit.and_then(|l| {
            let burst = NonZeroU32::new(l.requests)?;
            let period = Duration::from_millis(l.per_ms.max(1)) / l.requests;
            Quota::with_period(period).map(|q| RateLimiter::direct(q.allow_burst(burst)))
        });
        Self { inner }
    }

    /// Waits until one more request is allowed.
    pub async fn wait(&self) {
        if let Some(l) = &self.inner {
            l.until_ready().await;
        }
    }
}
