//! HubSpot's two timestamp spellings: ISO-8601 UTC with milliseconds
//! (`2019-10-30T03:30:17.883Z`, used for `createdAt`, `updatedAt` and datetime
//! properties) and epoch milliseconds as a string (used in search filters and
//! date properties). Both sides of the wire need the same conversions.

use jiff::Timestamp;

/// Formats epoch milliseconds the way HubSpot does: always three fraction
/// digits and a `Z`, so clients that parse strictly (the Node SDK) agree.
pub fn iso_ms(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let frac = ms.rem_euclid(1000);
    let ts = Timestamp::from_second(secs).unwrap_or(Timestamp::UNIX_EPOCH);
    format!("{}.{frac:03}Z", ts.strftime("%Y-%m-%dT%H:%M:%S"))
}

/// Parses either spelling into epoch milliseconds; `None` when it is neither.
pub fn parse_ms(value: &str) -> Option<i64> {
    let v = value.trim();
    if !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit() || b == b'-') {
        return v.parse().ok();
    }
    v.parse::<Timestamp>().ok().map(|t| t.as_millisecond())
}

/// A timestamp from epoch milliseconds, clamped into jiff's range.
pub fn from_ms(ms: i64) -> Timestamp {
    Timestamp::from_millisecond(ms).unwrap_or(Timestamp::UNIX_EPOCH)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_round_trips_with_milliseconds() {
        assert_eq!(iso_ms(1572406217883), "2019-10-30T03:30:17.883Z");
        assert_eq!(iso_ms(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(parse_ms("2019-10-30T03:30:17.883Z"), Some(1572406217883));
        assert_eq!(parse_ms("1572480000000"), Some(1572480000000));
        assert_eq!(parse_ms("soon"), None);
    }
}
