//! Client-side pacing, so we stay under a vendor's published limit instead
//! of discovering it through 429s that count against our error budget.
//!
//! Vendors meter with **rolling windows**: HubSpot allows 100 calls in any
//! 10 seconds, and 5 searches in any one second. A token bucket (GCRA) of
//! the same rate is not the same thing: it lets a burst of 5 through, then
//! one call every 200 ms, and the sixth call lands 200 ms after the first,
//! inside the vendor's window, so a steady pass meets a 429 every second.
//! [`Limiter`] keeps the send times of the last `requests` calls and lets a
//! call go only when the oldest of them has left the window (plus a small
//! margin for the time a request travels), which is exactly the vendor's
//! rule.
//!
//! It also adapts: another app on the same account shares the vendor's
//! budget, so 429s can come anyway. Each one ([`Limiter::penalize`]) lowers
//! the calls allowed per window by a quarter (to one at least); each full
//! window without one gives one back, up to the published limit.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

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

#[derive(Debug)]
struct Window {
    /// Send times of the latest calls, oldest first.
    sent: VecDeque<Instant>,
    /// Calls allowed per window now (lowered by 429s).
    allowed: u32,
    /// When the allowance last changed (a 429, or a step of recovery).
    changed: Instant,
}

/// A rolling-window limiter shared by every request of one connector or of
/// one endpoint family; `None` inside means unlimited (benchmarks).
#[derive(Debug)]
pub struct Limiter {
    limit: Option<(u32, Duration)>,
    window: Mutex<Window>,
}

impl Limiter {
    /// A limiter for `limit`; `None` never waits.
    pub fn new(limit: Option<RateLimit>) -> Self {
        let limit = limit.filter(|l| l.requests > 0 && l.per_ms > 0).map(|l| {
            let span = Duration::from_millis(l.per_ms);
            // Travel time: a call sent at the window's edge may arrive
            // a little later than the one it follows did.
            let margin = (span / 50).max(Duration::from_millis(20));
            (l.requests, span + margin)
        });
        Self {
            window: Mutex::new(Window {
                sent: VecDeque::new(),
                allowed: limit.map(|l| l.0).unwrap_or(0),
                changed: Instant::now(),
            }),
            limit,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Window> {
        self.window.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Waits until one more request is allowed, and counts it as sent.
    pub async fn wait(&self) {
        let Some((max, span)) = self.limit else {
            return;
        };
        loop {
            let delay = {
                let mut w = self.lock();
                let now = Instant::now();
                // Recovery: a whole window without a 429 gives a call back.
                while w.allowed < max && now.duration_since(w.changed) >= span {
                    w.allowed += 1;
                    w.changed += span;
                }
                while w
                    .sent
                    .front()
                    .is_some_and(|t| now.duration_since(*t) >= span)
                {
                    w.sent.pop_front();
                }
                if (w.sent.len() as u32) < w.allowed {
                    w.sent.push_back(now);
                    return;
                }
                // The call that must leave the window before this one may go.
                let excess = w.sent.len() + 1 - w.allowed as usize;
                let gate = w.sent[excess - 1];
                span.saturating_sub(now.duration_since(gate))
            };
            tokio::time::sleep(delay.max(Duration::from_millis(1))).await;
        }
    }

    /// The vendor answered 429 although we paced to its published limit:
    /// someone else shares the budget. Allow a quarter fewer calls per
    /// window from now on (recovering one per quiet window).
    pub fn penalize(&self) {
        let Some((max, _)) = self.limit else {
            return;
        };
        let mut w = self.lock();
        w.allowed = (w.allowed.min(max) * 3 / 4).max(1);
        w.changed = Instant::now();
    }

    /// Calls allowed per window now, `None` when unlimited.
    pub fn allowed(&self) -> Option<u32> {
        self.limit.map(|_| self.lock().allowed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Five per second, rolling: the sixth call waits until the first has
    /// left the window, not 200 ms as a token bucket would let it.
    #[tokio::test(start_paused = true)]
    async fn no_window_ever_holds_more_than_the_limit() {
        let limiter = Limiter::new(Some(RateLimit::new(5, Duration::from_secs(1))));
        let start = tokio::time::Instant::now();
        let mut times = Vec::new();
        for _ in 0..23 {
            limiter.wait().await;
            times.push(tokio::time::Instant::now() - start);
        }
        for (i, t) in times.iter().enumerate().skip(5) {
            assert!(
                *t - times[i - 5] >= Duration::from_secs(1),
                "calls {} and {i} share a second: {times:?}",
                i - 5
            );
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_429_lowers_the_allowance_and_quiet_windows_restore_it() {
        let limiter = Limiter::new(Some(RateLimit::new(100, Duration::from_secs(10))));
        limiter.penalize();
        assert_eq!(limiter.allowed(), Some(75));
        limiter.penalize();
        assert_eq!(limiter.allowed(), Some(56));
        tokio::time::advance(Duration::from_secs(21)).await;
        limiter.wait().await;
        assert_eq!(limiter.allowed(), Some(58));
    }
}
