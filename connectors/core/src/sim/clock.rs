//! The simulated "now".

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use jiff::{SignedDuration, Timestamp};

/// A clock that runs with real time from a settable origin, or stands still.
/// Cheap to clone; clones share the same time.
#[derive(Debug, Clone)]
pub struct SimClock {
    inner: Arc<Mutex<ClockState>>,
}

#[derive(Debug)]
struct ClockState {
    origin: Timestamp,
    since: Instant,
    frozen: bool,
}

impl Default for SimClock {
    fn default() -> Self {
        Self::running_from(Timestamp::now())
    }
}

impl SimClock {
    /// A clock running with real time, starting at `origin`.
    pub fn running_from(origin: Timestamp) -> Self {
        Self {
            inner: Arc::new(Mutex::new(ClockState {
                origin,
                since: Instant::now(),
                frozen: false,
            })),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, ClockState> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The simulated now, truncated to milliseconds as the vendors store it.
    pub fn now(&self) -> Timestamp {
        let s = self.lock();
        let now = if s.frozen {
            s.origin
        } else {
            let elapsed =
                SignedDuration::try_from(s.since.elapsed()).unwrap_or(SignedDuration::ZERO);
            s.origin.saturating_add(elapsed).unwrap_or(s.origin)
        };
        Timestamp::from_millisecond(now.as_millisecond()).unwrap_or(now)
    }

    /// Stops the clock at `at`: every write until the next change shares that time.
    pub fn freeze_at(&self, at: Timestamp) {
        let mut s = self.lock();
        s.origin = at;
        s.since = Instant::now();
        s.frozen = true;
    }

    /// Moves the clock forward by `by`, frozen or running.
    pub fn advance(&self, by: Duration) {
        let now = self.now();
        let mut s = self.lock();
        let by = SignedDuration::try_from(by).unwrap_or(SignedDuration::MAX);
        s.origin = now.saturating_add(by).unwrap_or(now);
        s.since = Instant::now();
    }

    /// Lets a frozen clock run again from where it stands.
    pub fn resume(&self) {
        let now = self.now();
        let mut s = self.lock();
        s.origin = now;
        s.since = Instant::now();
        s.frozen = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frozen_clock_stands_still_until_advanced() {
        let c = SimClock::default();
        let t: Timestamp = "2026-03-01T09:00:00Z".parse().unwrap();
        c.freeze_at(t);
        assert_eq!(c.now(), t);
        c.advance(Duration::from_secs(90));
        assert_eq!(
            c.now(),
            "2026-03-01T09:01:30Z".parse::<Timestamp>().unwrap()
        );
    }
}
