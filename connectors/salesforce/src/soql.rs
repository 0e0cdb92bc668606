//! Building SOQL text safely: string literals, datetime literals, and the
//! Salesforce wire format of timestamps. Shared by the connector (which
//! writes queries) and the simulator (which answers them), so both sides
//! agree on one format.

use jiff::Timestamp;

/// A SOQL string literal for `value`, quotes included.
///
/// SOQL string literals use backslash escapes; a quote or backslash left
/// unescaped would end the literal early and change the query's meaning (an
/// email like `o'brien@example.com` is ordinary data, not an injection).
pub fn quote(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('\'');
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("\\'"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c => out.push(c),
        }
    }
    out.push('\'');
    out
}

/// An unquoted SOQL datetime literal with milliseconds, in UTC
/// (`2024-01-01T00:00:00.000Z`). Milliseconds matter: `SystemModstamp` has
/// millisecond precision, and a cursor truncated to the second would make
/// `SystemModstamp = <cursor>` never match its own record.
pub fn datetime_literal(ts: Timestamp) -> String {
    ts.strftime("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

/// A timestamp as Salesforce writes it in JSON: UTC, milliseconds, and a
/// `+0000` offset without a colon (`2013-05-20T20:49:32.000+0000`).
pub fn format_timestamp(ts: Timestamp) -> String {
    ts.strftime("%Y-%m-%dT%H:%M:%S%.3f+0000").to_string()
}

/// Parses a Salesforce timestamp in any of the shapes the API and SOQL use:
/// `…+0000`, `…+00:00`, `…Z`, with or without fractional seconds.
pub fn parse_timestamp(text: &str) -> Option<Timestamp> {
    let text = text.trim();
    if let Ok(ts) = text.parse::<Timestamp>() {
        return Some(ts);
    }
    // `+hhmm` / `-hhmm` without a colon: insert one for RFC 3339.
    let bytes = text.as_bytes();
    if bytes.len() > 5 {
        let sign = bytes[bytes.len() - 5];
        let tail = &text[text.len() - 4..];
        if (sign == b'+' || sign == b'-') && tail.bytes().all(|b| b.is_ascii_digit()) {
            let fixed = format!("{}{}:{}", &text[..text.len() - 4], &tail[..2], &tail[2..]);
            return fixed.parse::<Timestamp>().ok();
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_and_backslashes_are_escaped() {
        assert_eq!(quote("o'brien@x.com"), r"'o\'brien@x.com'");
        assert_eq!(quote(r"a\b"), r"'a\\b'");
        assert_eq!(quote("line\nbreak"), r"'line\nbreak'");
    }

    #[test]
    fn timestamps_round_trip_in_every_shape() {
        let t: Timestamp = "2013-05-20T20:49:32.123Z".parse().unwrap();
        assert_eq!(format_timestamp(t), "2013-05-20T20:49:32.123+0000");
        assert_eq!(datetime_literal(t), "2013-05-20T20:49:32.123Z");
        assert_eq!(parse_timestamp("2013-05-20T20:49:32.123+0000"), Some(t));
        assert_eq!(parse_timestamp("2013-05-20T20:49:32.123+00:00"), Some(t));
        assert_eq!(
            parse_timestamp("2013-05-20T22:49:32.123+0200"),
            Some(t),
            "offsets are applied"
        );
        assert_eq!(parse_timestamp("nonsense"), None);
    }
}
