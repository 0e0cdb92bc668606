//! Small helpers for writing HTML by hand: escaping and human times.

use jiff::Timestamp;

/// Escapes text for HTML content and attribute values.
pub(crate) fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// "3 s ago", "in 2 min", "1 h 5 min ago", "4 d ago".
pub(crate) fn relative(at: Timestamp, now: Timestamp) -> String {
    let secs = at.as_second() - now.as_second();
    let span = secs.unsigned_abs();
    let text = if span < 60 {
        format!("{span} s")
    } else if span < 3600 {
        format!("{} min", span / 60)
    } else if span < 86_400 {
        match (span % 3600) / 60 {
            0 => format!("{} h", span / 3600),
            m => format!("{} h {m} min", span / 3600),
        }
    } else {
        format!("{} d", span / 86_400)
    };
    if secs <= 0 {
        if span < 2 {
            "just now".to_owned()
        } else {
            format!("{text} ago")
        }
    } else {
        format!("in {text}")
    }
}

/// A time as `2026-11-27 12:03:04 UTC`.
pub(crate) fn utc(at: Timestamp) -> String {
    at.strftime("%Y-%m-%d %H:%M:%S UTC").to_string()
}

/// A number with thin grouping: `12 345`.
pub(crate) fn num(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push('\u{202f}');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_and_formats() {
        assert_eq!(
            esc("<a href='x'>&\"</a>"),
            "&lt;a href=&#39;x&#39;&gt;&amp;&quot;&lt;/a&gt;"
        );
        let now: Timestamp = "2026-01-01T12:00:00Z".parse().unwrap();
        let t = |s: &str| s.parse::<Timestamp>().unwrap();
        assert_eq!(relative(t("2026-01-01T11:59:30Z"), now), "30 s ago");
        assert_eq!(relative(t("2026-01-01T12:02:00Z"), now), "in 2 min");
        assert_eq!(relative(t("2026-01-01T10:55:00Z"), now), "1 h 5 min ago");
        assert_eq!(relative(now, now), "just now");
        assert_eq!(num(1234567), "1\u{202f}234\u{202f}567");
        assert_eq!(num(12), "12");
    }
}
