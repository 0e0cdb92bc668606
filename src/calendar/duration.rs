//! Durations in business time, as the SLA config writes them.
//!
//! `"8h"`, `"30m"`, `"1h30m"` are **business hours**: only time inside the
//! calendar's working hours counts, so 8 hours from Friday 17:00 with
//! 09:00-18:00 working hours is Monday 16:00. `"5d"` is **business days**:
//! the same time of day on the fifth working day after (holidays and days
//! off skipped). Both may be combined (`"1d4h"`: one business day, then four
//! business hours). Unlike the connectors' `parse_duration`, a day here is
//! never 24 hours.

use std::fmt;

use jiff::SignedDuration;

/// A span of business time: whole working days, then working hours.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct BusinessDuration {
    /// Working days to move forward first.
    pub days: u32,
    /// Then this much time inside working hours.
    pub time: SignedDuration,
}

impl BusinessDuration {
    /// Zero: "at once" (an escalation step with `after = "0h"`).
    pub const ZERO: Self = Self {
        days: 0,
        time: SignedDuration::ZERO,
    };

    /// Reads `"8h"`, `"5d"`, `"1d4h"`, `"90m"`; the error says what is wrong.
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        let mut out = Self::ZERO;
        for (n, unit) in leadbridge_core::config::duration_parts(text)? {
            let part = match unit {
                "d" => {
                    let days = u32::try_from(n)
                        .ok()
                        .filter(|d| *d <= 3_660)
                        .ok_or_else(|| {
                            format!("`{text}` is more than ten years of working days")
                        })?;
                    out.days += days;
                    continue;
                }
                "h" => n.checked_mul(3_600),
                "m" => n.checked_mul(60),
                "s" => Some(n),
                other => {
                    return Err(format!(
                        "`{text}` has an unknown unit `{other}` (business time takes d, h, m or s)"
                    ))
                }
            };
            let secs = part
                .and_then(|s| i64::try_from(s).ok())
                .ok_or_else(|| format!("`{text}` is too large"))?;
            out.time = out
                .time
                .checked_add(SignedDuration::from_secs(secs))
                .ok_or_else(|| format!("`{text}` is too large"))?;
        }
        Ok(out)
    }
}

impl fmt::Display for BusinessDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let secs = self.time.as_secs();
        let mut parts = String::new();
        if self.days > 0 {
            parts.push_str(&format!("{}d", self.days));
        }
        let (h, m, s) = (secs / 3_600, secs % 3_600 / 60, secs % 60);
        if h > 0 {
            parts.push_str(&format!("{h}h"));
        }
        if m > 0 {
            parts.push_str(&format!("{m}m"));
        }
        if s > 0 {
            parts.push_str(&format!("{s}s"));
        }
        if parts.is_empty() {
            parts.push_str("0h");
        }
        f.write_str(&parts)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_are_working_days_and_hours_are_business_hours() {
        let d = BusinessDuration::parse("1d4h30m").unwrap();
        assert_eq!(d.days, 1);
        assert_eq!(d.time, SignedDuration::from_secs(4 * 3600 + 1800));
        assert_eq!(d.to_string(), "1d4h30m");
        assert_eq!(
            BusinessDuration::parse("0h").unwrap(),
            BusinessDuration::ZERO
        );
        assert!(BusinessDuration::parse("8").is_err());
        assert!(BusinessDuration::parse("2w").is_err());
        assert!(BusinessDuration::parse("").is_err());
    }
}
