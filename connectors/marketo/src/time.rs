//! Marketo's time formats and its day.
//!
//! Marketo writes datetimes in ISO 8601 with a `Z` (`2023-01-16T23:32:19Z`,
//! leads and newer activity pages) or with an offset without a colon
//! (`2014-09-17T22:31:49+0000`, the activity examples of the REST docs:
//! experienceleague.adobe.com/en/docs/marketo-developer/marketo/rest/lead-database/activities),
//! to the second. Its daily API quota "resets daily at 12:00AM CST"
//! (experienceleague.adobe.com/en/docs/marketo-developer/marketo/rest/error-codes,
//! code 607).

use jiff::tz::{Offset, TimeZone};
use jiff::{Timestamp, ToSpan};

/// Parses a Marketo datetime: RFC 3339, or an offset written `+hhmm`.
pub fn parse(text: &str) -> Option<Timestamp> {
    let text = text.trim();
    if let Ok(ts) = text.parse::<Timestamp>() {
        return Some(ts);
    }
    // `…+0000`: put the colon RFC 3339 wants into the offset.
    let bytes = text.as_bytes();
    let n = bytes.len();
    if n > 5 && matches!(bytes[n - 5], b'+' | b'-') && bytes[n - 4..].iter().all(u8::is_ascii_digit)
    {
        let fixed = format!("{}:{}", &text[..n - 2], &text[n - 2..]);
        return fixed.parse::<Timestamp>().ok();
    }
    None
}

/// A timestamp as Marketo writes it: UTC, to the second, with `Z`.
pub fn iso_seconds(ts: Timestamp) -> String {
    let secs = ts.as_second();
    Timestamp::from_second(secs)
        .unwrap_or(ts)
        .strftime("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

/// The timestamp at the start of the second holding `ms` (epoch ms).
pub fn floor_second_ms(ms: i64) -> i64 {
    ms.div_euclid(1000) * 1000
}

/// A timestamp from epoch milliseconds (clamped into jiff's range).
pub fn from_ms(ms: i64) -> Timestamp {
    Timestamp::from_millisecond(ms).unwrap_or(if ms < 0 {
        Timestamp::MIN
    } else {
        Timestamp::MAX
    })
}

/// The zone Marketo's day is counted in: "12:00AM CST", read as the fixed
/// offset UTC−6. Should Marketo follow US Central daylight time, its day
/// turns an hour earlier in summer and a reset computed here is an hour
/// late, never early: waiting too long costs nothing, calling too early
/// only meets another 607.
pub fn quota_zone() -> TimeZone {
    TimeZone::fixed(Offset::constant(-6))
}

/// When Marketo's daily quota next resets after `now`.
pub fn next_quota_reset(now: Timestamp) -> Option<Timestamp> {
    let zone = quota_zone();
    let today = now.to_zoned(zone.clone()).date();
    let tomorrow = today.checked_add(1.day()).ok()?;
    tomorrow.to_zoned(zone).ok().map(|z| z.timestamp())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_offset_spellings_parse() {
        let a = parse("2014-09-17T22:31:49+0000").unwrap();
        let b = parse("2014-09-17T22:31:49Z").unwrap();
        let c = parse("2014-09-17T15:31:49-07:00").unwrap();
        assert_eq!(a, b);
        assert_eq!(b, c);
        assert!(parse("yesterday").is_none());
    }

    #[test]
    fn seconds_are_written_with_z() {
        let t: Timestamp = "2026-03-01T09:00:00.750Z".parse().unwrap();
        assert_eq!(iso_seconds(t), "2026-03-01T09:00:00Z");
        assert_eq!(floor_second_ms(1_500), 1_000);
        assert_eq!(floor_second_ms(-1), -1_000);
    }

    #[test]
    fn the_quota_resets_at_midnight_utc_minus_six() {
        let now: Timestamp = "2026-03-01T05:59:59Z".parse().unwrap();
        assert_eq!(
            next_quota_reset(now).unwrap(),
            "2026-03-01T06:00:00Z".parse::<Timestamp>().unwrap()
        );
        let now: Timestamp = "2026-03-01T06:00:00Z".parse().unwrap();
        assert_eq!(
            next_quota_reset(now).unwrap(),
            "2026-03-02T06:00:00Z".parse::<Timestamp>().unwrap()
        );
    }
}
