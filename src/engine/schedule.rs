//! When each pipeline runs: on its cron schedule, never two runs of the same
//! pipeline at once, and a tick missed while a cycle overran (or the host
//! slept) runs once, not once per missed tick.

use std::str::FromStr;

use jiff::Timestamp;

/// A parsed cron schedule (with seconds, as the `cron` crate reads it).
#[derive(Debug, Clone)]
pub struct Schedule {
    inner: cron::Schedule,
    source: String,
}

impl Schedule {
    /// Parses `expr` (`sec min hour day-of-month month day-of-week [year]`).
    pub fn parse(expr: &str) -> Result<Self, String> {
        cron::Schedule::from_str(expr)
            .map(|inner| Self {
                inner,
                source: expr.to_owned(),
            })
            .map_err(|e| e.to_string())
    }

    /// Wraps a schedule the config layer already parsed.
    pub fn from_cron(inner: cron::Schedule) -> Self {
        let source = inner.to_string();
        Self { inner, source }
    }

    /// The expression as written.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// The first tick strictly after `t`.
    pub fn next_after(&self, t: Timestamp) -> Option<Timestamp> {
        let secs = t.as_second();
        let nanos = t.subsec_nanosecond().max(0) as u32;
        let after = chrono::DateTime::<chrono::Utc>::from_timestamp(secs, nanos)?;
        let next = self.inner.after(&after).next()?;
        Timestamp::new(next.timestamp(), next.timestamp_subsec_nanos() as i32).ok()
    }

    /// The tick to wait for after a cycle that was due at `due` finished at
    /// `now`: the next tick after `due` if it is still ahead; if ticks were
    /// missed meanwhile, one run right away (the earliest missed tick) and
    /// no more.
    pub fn next_run(&self, due: Timestamp, now: Timestamp) -> Option<Timestamp> {
        let next = self.next_after(due)?;
        if next > now {
            Some(next)
        } else {
            Some(now)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn ticks_follow_the_expression() {
        let s = Schedule::parse("0 */2 * * * *").unwrap();
        assert_eq!(
            s.next_after(ts("2026-01-01T10:00:30Z")),
            Some(ts("2026-01-01T10:02:00Z"))
        );
        assert_eq!(
            s.next_after(ts("2026-01-01T10:02:00Z")),
            Some(ts("2026-01-01T10:04:00Z"))
        );
    }

    #[test]
    fn missed_ticks_run_once_not_n_times() {
        let s = Schedule::parse("0 * * * * *").unwrap();
        // The cycle due at 10:00 overran until 10:05:30: five ticks missed.
        let due = ts("2026-01-01T10:00:00Z");
        let now = ts("2026-01-01T10:05:30Z");
        let catch_up = s.next_run(due, now).unwrap();
        assert_eq!(catch_up, now, "one catch-up run now");
        // After the catch-up, the next run is the next real tick.
        assert_eq!(
            s.next_run(catch_up, catch_up).unwrap(),
            ts("2026-01-01T10:06:00Z")
        );
    }

    #[test]
    fn bad_expressions_are_refused() {
        assert!(Schedule::parse("every minute").is_err());
    }
}
