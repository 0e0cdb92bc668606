//! Durations as ops write them: `"250ms"`, `"30s"`, `"2m"`, `"8h"`, `"5d"`,
//! or several parts together (`"1h30m"`). A day is 24 hours here; calendar
//! days and business hours belong to the SLA calendar, not to this parser.

use std::time::Duration;

/// Splits `"1h30m"` into `[(1, "h"), (30, "m")]`: the grammar both this
/// parser and the SLA's business durations share. Each part is a number
/// then a unit; the error says what is wrong, for the config error.
pub fn parts(text: &str) -> Result<Vec<(u64, &str)>, String> {
    let text = text.trim();
    if text.is_empty() {
        return Err("the duration is empty".into());
    }
    let mut out = Vec::new();
    let mut rest = text;
    while !rest.is_empty() {
        let digits = rest.len() - rest.trim_start_matches(|c: char| c.is_ascii_digit()).len();
        if digits == 0 {
            return Err(format!(
                "`{text}` is not a duration: a number must come before each unit"
            ));
        }
        let number: u64 = rest[..digits]
            .parse()
            .map_err(|_| format!("`{text}` is too large"))?;
        rest = &rest[digits..];
        let unit_len = rest.len()
            - rest
                .trim_start_matches(|c: char| c.is_ascii_alphabetic())
                .len();
        if unit_len == 0 {
            return Err(format!("`{text}` has a number without a unit"));
        }
        out.push((number, &rest[..unit_len]));
        rest = &rest[unit_len..];
    }
    Ok(out)
}

/// Parses a duration; the error says what was wrong, for the config error.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let mut total = Duration::ZERO;
    for (number, unit) in parts(text)? {
        let part = match unit {
            "ms" => Duration::from_millis(number),
            "s" => Duration::from_secs(number),
            "m" => Duration::from_secs(number.saturating_mul(60)),
            "h" => Duration::from_secs(number.saturating_mul(3_600)),
            "d" => Duration::from_secs(number.saturating_mul(86_400)),
            other => return Err(format!("`{}` has an unknown unit `{other}`", text.trim())),
        };
        total = total.saturating_add(part);
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_units_and_combinations() {
        assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("8h"), Ok(Duration::from_secs(8 * 3600)));
        assert_eq!(parse_duration("5d"), Ok(Duration::from_secs(5 * 86_400)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("1h30m"), Ok(Duration::from_secs(5_400)));
    }

    #[test]
    fn refuses_what_is_not_a_duration() {
        assert!(parse_duration("30").is_err());
        assert!(parse_duration("30 seconds").is_err());
        assert!(parse_duration("s").is_err());
        assert!(parse_duration("").is_err());
        assert!(parse_duration("3w").is_err());
    }
}
