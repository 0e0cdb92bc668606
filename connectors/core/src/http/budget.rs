//! A configurable daily cap on API calls, so leadbridge never spends the
//! quota other integrations of the same account depend on.

use std::sync::Mutex;

use jiff::civil::Date;
use jiff::{tz::TimeZone, Timestamp, ToSpan};

use crate::error::ConnectorError;

/// Counts calls per day (in the account's time zone) against an optional cap.
#[derive(Debug)]
pub struct DailyBudget {
    cap: Option<u64>,
    tz: Mutex<TimeZone>,
    state: Mutex<(Date, u64)>,
}

impl DailyBudget {
    /// A budget of `cap` calls a day (`None`: count only), resetting at
    /// midnight in `tz`.
    pub fn new(cap: Option<u64>, tz: TimeZone) -> Self {
        let today = Timestamp::now().to_zoned(tz.clone()).date();
        Self {
            cap,
            tz: Mutex::new(tz),
            state: Mutex::new((today, 0)),
        }
    }

    /// Moves the day boundary to midnight in `tz`, once the connector
    /// learns the account's zone (HubSpot's daily limit resets at midnight
    /// in the account's time zone, which only its account-info API says).
    /// Calls taken today stay counted unless the day in `tz` differs.
    pub fn set_time_zone(&self, tz: TimeZone) {
        let today = Timestamp::now().to_zoned(tz.clone()).date();
        *self.tz.lock().unwrap_or_else(|e| e.into_inner()) = tz;
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if state.0 != today {
            *state = (today, 0);
        }
    }

    /// The zone whose midnight resets the budget.
    pub fn time_zone(&self) -> TimeZone {
        self.tz.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Takes one call from today's budget, or says when it resets.
    pub fn take(&self) -> Result<(), ConnectorError> {
        let tz = self.time_zone();
        let now = Timestamp::now().to_zoned(tz.clone());
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if state.0 != now.date() {
            *state = (now.date(), 0);
        }
        if let Some(cap) = self.cap {
            if state.1 >= cap {
                let resets_at = now
                    .date()
                    .checked_add(1.day())
                    .ok()
                    .and_then(|d| d.to_zoned(tz.clone()).ok())
                    .map(|z| z.timestamp());
                return Err(ConnectorError::QuotaExhausted {
                    message: format!("configured daily cap of {cap} API calls reached"),
                    resets_at,
                });
            }
        }
        state.1 += 1;
        Ok(())
    }

    /// Calls taken today.
    pub fn used_today(&self) -> u64 {
        self.state.lock().unwrap_or_else(|e| e.into_inner()).1
    }

    /// The configured cap.
    pub fn cap(&self) -> Option<u64> {
        self.cap
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stops_at_the_cap_and_says_when_it_resets() {
        let b = DailyBudget::new(Some(2), TimeZone::UTC);
        assert!(b.take().is_ok());
        assert!(b.take().is_ok());
        match b.take() {
            Err(ConnectorError::QuotaExhausted { resets_at, .. }) => {
                assert!(resets_at.unwrap() > Timestamp::now())
            }
            other => panic!("expected quota exhausted, got {other:?}"),
        }
        assert_eq!(b.used_today(), 2);
    }

    #[test]
    fn the_reset_follows_the_zone_set_later() {
        let b = DailyBudget::new(Some(1), TimeZone::UTC);
        let tz = TimeZone::fixed(jiff::tz::offset(-5));
        b.set_time_zone(tz.clone());
        b.take().unwrap();
        let Err(ConnectorError::QuotaExhausted {
            resets_at: Some(at),
            ..
        }) = b.take()
        else {
            panic!("the cap holds")
        };
        let local = at.to_zoned(tz);
        assert_eq!((local.hour(), local.minute()), (0, 0), "midnight at -05:00");
    }
}
