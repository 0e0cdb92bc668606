//! Pipedrive's two timestamp forms: RFC 3339 in API v2 (and v1 leads),
//! `YYYY-MM-DD HH:MM:SS` in UTC in the rest of v1 (SEMANTICS.md §3
//! Timestamps). Both are whole seconds.

use jiff::{civil::DateTime, tz::TimeZone, Timestamp};

/// Parses either form; `None` for anything else (Pipedrive's
/// `0000-00-00 00:00:00` "never" included).
pub fn parse(text: &str) -> Option<Timestamp> {
    if let Ok(t) = text.parse::<Timestamp>() {
        return Some(t);
    }
    let civil: DateTime = text.trim().replace(' ', "T").parse().ok()?;
    civil.to_zoned(TimeZone::UTC).ok().map(|z| z.timestamp())
}

/// RFC 3339 in whole seconds, as v2 writes it: `2026-01-01T10:20:00Z`.
pub fn rfc3339(t: Timestamp) -> String {
    t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// The v1 form: `2026-01-01 10:20:00` (UTC).
pub fn v1(t: Timestamp) -> String {
    t.strftime("%Y-%m-%d %H:%M:%S").to_string()
}

/// Truncates to whole seconds (Pipedrive keeps no fraction).
pub fn whole_seconds(t: Timestamp) -> Timestamp {
    Timestamp::from_second(t.as_second()).unwrap_or(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_forms_parse_to_the_same_instant() {
        let a = parse("2022-01-04T10:44:11Z").unwrap();
        let b = parse("2022-01-04 10:44:11").unwrap();
        assert_eq!(a, b);
        assert_eq!(rfc3339(a), "2022-01-04T10:44:11Z");
        assert_eq!(v1(a), "2022-01-04 10:44:11");
        assert!(parse("0000-00-00 00:00:00").is_none());
    }
}
