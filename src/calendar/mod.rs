//! The business calendar the SLA counts in: a time zone, working days,
//! working hours and holidays. All time-zone math is jiff's, so daylight
//! saving changes and odd offsets are handled the way the zone's rules say.
//!
//! A room of its own at the bottom: the config validates calendars and
//! business durations, the SLA schedules by them, and neither needs the
//! other to do so.

use std::collections::BTreeSet;
use std::fmt;

use jiff::civil::{Date, Time, Weekday};
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp, Zoned};

mod duration;

pub use duration::BusinessDuration;

/// How far the calendar looks for a working day before giving up (a
/// calendar whose holidays cover years is a config mistake, not a loop).
const MAX_DAYS: u32 = 3_700;

/// Why a calendar could not be built or used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CalendarError {
    /// The time zone is not in the tz database.
    #[error("unknown time zone `{0}` (an IANA name such as \"Asia/Tokyo\")")]
    TimeZone(String),
    /// `days` could not be read.
    #[error("{0}")]
    Days(String),
    /// `hours` could not be read.
    #[error("{0}")]
    Hours(String),
    /// A holiday is not a date.
    #[error("holiday `{0}` is not a date such as \"2026-12-31\"")]
    Holiday(String),
    /// No working day within ten years of an instant.
    #[error("no working day within ten years after {0}")]
    NoWorkingDay(Timestamp),
}

/// When sales is expected to work: the SLA's clock only runs inside it.
#[derive(Clone, PartialEq)]
pub struct Calendar {
    zone_name: String,
    zone: TimeZone,
    /// Working weekdays, by Monday-zero offset.
    days: [bool; 7],
    open: Time,
    close: Time,
    holidays: BTreeSet<Date>,
}

impl fmt::Debug for Calendar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Calendar({self})")
    }
}

impl fmt::Display for Calendar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const NAMES: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
        let days: Vec<&str> = (0..7).filter(|i| self.days[*i]).map(|i| NAMES[i]).collect();
        write!(
            f,
            "{} {} {}-{}, {} holiday(s)",
            self.zone_name,
            days.join(","),
            self.open.strftime("%H:%M"),
            self.close.strftime("%H:%M"),
            self.holidays.len()
        )
    }
}

fn weekday(name: &str) -> Option<Weekday> {
    Some(match name.trim().to_ascii_lowercase().as_str() {
        "mon" | "monday" => Weekday::Monday,
        "tue" | "tuesday" => Weekday::Tuesday,
        "wed" | "wednesday" => Weekday::Wednesday,
        "thu" | "thursday" => Weekday::Thursday,
        "fri" | "friday" => Weekday::Friday,
        "sat" | "saturday" => Weekday::Saturday,
        "sun" | "sunday" => Weekday::Sunday,
        _ => return None,
    })
}

fn offset(day: Weekday) -> usize {
    day.to_monday_zero_offset() as usize
}

/// Reads `"Mon-Fri"`, `"Mon,Wed,Fri"`, `"Sun-Thu"` (ranges wrap the week).
pub fn parse_days(text: &str) -> Result<[bool; 7], CalendarError> {
    let bad = |part: &str| {
        CalendarError::Days(format!(
            "`{part}` is not a day or range of days (such as \"Mon-Fri\" or \"Mon,Wed,Fri\")"
        ))
    };
    let mut days = [false; 7];
    for part in text.split(',') {
        match part.split_once('-') {
            Some((from, to)) => {
                let (from, to) = (
                    weekday(from).ok_or_else(|| bad(part))?,
                    weekday(to).ok_or_else(|| bad(part))?,
                );
                let mut d = from;
                loop {
                    days[offset(d)] = true;
                    if d == to {
                        break;
                    }
                    d = d.next();
                }
            }
            None => days[offset(weekday(part).ok_or_else(|| bad(part))?)] = true,
        }
    }
    Ok(days)
}

/// Reads `"09:00-18:00"` (opening before closing, same day).
pub fn parse_hours(text: &str) -> Result<(Time, Time), CalendarError> {
    let bad = || {
        CalendarError::Hours(format!(
            "`{text}` is not working hours such as \"09:00-18:00\" (opening before closing, same day)"
        ))
    };
    let (open, close) = text.split_once('-').ok_or_else(bad)?;
    let time = |t: &str| Time::strptime("%H:%M", t.trim()).map_err(|_| bad());
    let (open, close) = (time(open)?, time(close)?);
    if open >= close {
        return Err(bad());
    }
    Ok((open, close))
}

impl Calendar {
    /// A calendar from its config parts.
    pub fn new(
        zone: &str,
        days: &str,
        hours: &str,
        holidays: &[String],
    ) -> Result<Self, CalendarError> {
        let tz = TimeZone::get(zone).map_err(|_| CalendarError::TimeZone(zone.to_owned()))?;
        let days = parse_days(days)?;
        let (open, close) = parse_hours(hours)?;
        let mut set = BTreeSet::new();
        for h in holidays {
            set.insert(
                h.parse::<Date>()
                    .map_err(|_| CalendarError::Holiday(h.clone()))?,
            );
        }
        Ok(Self {
            zone_name: zone.to_owned(),
            zone: tz,
            days,
            open,
            close,
            holidays: set,
        })
    }

    /// Every day, all day, in UTC: for pipelines that want wall-clock SLAs.
    pub fn always() -> Self {
        Self {
            zone_name: "UTC".into(),
            zone: TimeZone::UTC,
            days: [true; 7],
            open: Time::midnight(),
            close: Time::MAX,
            holidays: BTreeSet::new(),
        }
    }

    /// The calendar's time zone (times are shown in it).
    pub fn zone(&self) -> &TimeZone {
        &self.zone
    }

    /// An instant in the calendar's time zone.
    pub fn local(&self, at: Timestamp) -> Zoned {
        at.to_zoned(self.zone.clone())
    }

    /// Whether sales works on `date` (a working weekday and no holiday).
    pub fn is_working_day(&self, date: Date) -> bool {
        self.days[offset(date.weekday())] && !self.holidays.contains(&date)
    }

    fn at(&self, date: Date, time: Time) -> Timestamp {
        // A wall-clock time a DST change skips resolves as most people
        // expect ("compatible"): later, by the gap.
        match self
            .zone
            .to_ambiguous_zoned(date.to_datetime(time))
            .compatible()
        {
            Ok(z) => z.timestamp(),
            Err(_) => date
                .to_datetime(time)
                .to_zoned(TimeZone::UTC)
                .map(|z| z.timestamp())
                .unwrap_or(Timestamp::MAX),
        }
    }

    fn next_working_day(&self, mut date: Date) -> Result<Date, CalendarError> {
        for _ in 0..MAX_DAYS {
            date = date
                .tomorrow()
                .map_err(|_| CalendarError::NoWorkingDay(Timestamp::MAX))?;
            if self.is_working_day(date) {
                return Ok(date);
            }
        }
        Err(CalendarError::NoWorkingDay(self.at(date, self.open)))
    }

    /// The first instant at or after `at` inside working hours.
    pub fn next_open(&self, at: Timestamp) -> Result<Timestamp, CalendarError> {
        let local = self.local(at);
        let date = local.date();
        if self.is_working_day(date) {
            let (open, close) = (self.at(date, self.open), self.at(date, self.close));
            if at < open {
                return Ok(open);
            }
            if at < close {
                return Ok(at);
            }
        }
        let next = self.next_working_day(date)?;
        Ok(self.at(next, self.open))
    }

    /// `start` plus `span` in business time: whole working days first (the
    /// same time of day, on the n-th working day after), then working hours
    /// only. A start outside working hours counts from the next opening.
    pub fn add(
        &self,
        start: Timestamp,
        span: BusinessDuration,
    ) -> Result<Timestamp, CalendarError> {
        let mut t = self.next_open(start)?;
        if span.days > 0 {
            let local = self.local(t);
            let mut date = local.date();
            for _ in 0..span.days {
                date = self.next_working_day(date)?;
            }
            t = self.at(date, local.time());
        }
        let mut remaining = span.time;
        for _ in 0..MAX_DAYS {
            t = self.next_open(t)?;
            if remaining <= SignedDuration::ZERO {
                return Ok(t);
            }
            let date = self.local(t).date();
            let close = self.at(date, self.close);
            let available = close.duration_since(t);
            if remaining <= available {
                return t
                    .checked_add(remaining)
                    .map_err(|_| CalendarError::NoWorkingDay(t));
            }
            remaining -= available;
            t = close;
        }
        Err(CalendarError::NoWorkingDay(start))
    }

    /// Business time between two instants (zero when `to` is not after
    /// `from`): how long a lead waited in working hours.
    pub fn business_time_between(&self, from: Timestamp, to: Timestamp) -> SignedDuration {
        let mut total = SignedDuration::ZERO;
        let Ok(mut t) = self.next_open(from) else {
            return total;
        };
        for _ in 0..MAX_DAYS {
            if t >= to {
                break;
            }
            let close = self.at(self.local(t).date(), self.close);
            total += close.min(to).duration_since(t);
            match self.next_open(close) {
                Ok(next) => t = next,
                Err(_) => break,
            }
        }
        total
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokyo() -> Calendar {
        Calendar::new(
            "Asia/Tokyo",
            "Mon-Fri",
            "09:00-18:00",
            &["2026-12-31".into(), "2027-01-01".into()],
        )
        .unwrap()
    }

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    fn h(n: i64) -> BusinessDuration {
        BusinessDuration {
            days: 0,
            time: SignedDuration::from_hours(n),
        }
    }

    #[test]
    fn friday_evening_plus_eight_hours_is_monday_afternoon() {
        // 2026-12-04 is a Friday.
        let due = tokyo().add(ts("2026-12-04T17:00:00+09:00"), h(8)).unwrap();
        assert_eq!(due, ts("2026-12-07T16:00:00+09:00"));
    }

    #[test]
    fn holidays_and_weekends_are_skipped() {
        // Wed 30 Dec 17:00 + 8h: 1h on Wed, Thu 31 and Fri 1 are holidays,
        // then the weekend: Mon 4 Jan 16:00.
        let due = tokyo().add(ts("2026-12-30T17:00:00+09:00"), h(8)).unwrap();
        assert_eq!(due, ts("2027-01-04T16:00:00+09:00"));
        let five_days = BusinessDuration {
            days: 5,
            time: SignedDuration::ZERO,
        };
        let recycle = tokyo()
            .add(ts("2026-12-30T17:00:00+09:00"), five_days)
            .unwrap();
        assert_eq!(recycle, ts("2027-01-08T17:00:00+09:00"));
    }

    #[test]
    fn starts_outside_hours_count_from_the_next_opening() {
        let c = tokyo();
        assert_eq!(
            c.add(ts("2026-12-05T10:00:00+09:00"), h(1)).unwrap(),
            ts("2026-12-07T10:00:00+09:00")
        );
        assert_eq!(
            c.add(ts("2026-12-07T07:00:00+09:00"), BusinessDuration::ZERO)
                .unwrap(),
            ts("2026-12-07T09:00:00+09:00")
        );
        assert_eq!(
            c.business_time_between(
                ts("2026-12-04T17:00:00+09:00"),
                ts("2026-12-07T10:30:00+09:00")
            ),
            SignedDuration::from_mins(150)
        );
    }

    #[test]
    fn daylight_saving_is_the_zone_s_business() {
        // New York springs forward on Sun 8 Mar 2026; working hours are
        // wall-clock hours, so Fri 17:00 + 2h is Mon 10:00 local.
        let ny = Calendar::new("America/New_York", "Mon-Fri", "09:00-18:00", &[]).unwrap();
        let due = ny.add(ts("2026-03-06T17:00:00-05:00"), h(2)).unwrap();
        assert_eq!(due, ts("2026-03-09T10:00:00-04:00"));
    }

    #[test]
    fn bad_parts_are_refused() {
        assert!(Calendar::new("Asia/Tokio", "Mon-Fri", "09:00-18:00", &[]).is_err());
        assert!(Calendar::new("UTC", "Mon-Fry", "09:00-18:00", &[]).is_err());
        assert!(Calendar::new("UTC", "Mon-Fri", "18:00-09:00", &[]).is_err());
        assert!(Calendar::new("UTC", "Mon-Fri", "09:00-18:00", &["31/12".into()]).is_err());
        assert_eq!(
            parse_days("Sat-Mon").unwrap(),
            [true, false, false, false, false, true, true]
        );
    }
}
