//! The report as text for people and CSV for spreadsheets (JSON is the
//! serde form of [`Report`]).

use std::fmt::Write;

use super::{Funnel, Report};

fn pct(r: Option<f64>) -> String {
    r.map_or("-".into(), |r| format!("{:.1}%", r * 100.0))
}

fn duration(s: Option<i64>) -> String {
    match s {
        None => "-".into(),
        Some(s) => format!("{}h{:02}m", s / 3600, s % 3600 / 60),
    }
}

fn funnel_text(out: &mut String, f: &Funnel) {
    let c = &f.counts;
    let _ = writeln!(out, "{}", f.group);
    let _ = writeln!(
        out,
        "  funnel: {} qualified → {} handed off ({}) → {} accepted ({}) → {} converted ({}) → {} won ({}); {} lost",
        c.qualified,
        c.handed_off,
        pct(f.conversion.qualified_to_handed_off),
        c.accepted,
        pct(f.conversion.handed_off_to_accepted),
        c.converted,
        pct(f.conversion.accepted_to_converted),
        c.won,
        pct(f.conversion.converted_to_won),
        c.lost
    );
    let _ = writeln!(
        out,
        "  time to first touch: median {}, p90 {}",
        duration(f.median_time_to_first_touch_s),
        duration(f.p90_time_to_first_touch_s)
    );
    let _ = writeln!(
        out,
        "  SLA: {} compliance ({} met, {} breached); {} escalations, {} reassignments, {} recycled",
        f.sla_compliance_pct
            .map_or("-".into(), |p| format!("{p:.1}%")),
        c.accepted_in_time,
        c.breached,
        c.escalated,
        c.reassigned,
        c.recycled
    );
    for (owner, n) in &f.breaches_per_owner {
        let _ = writeln!(out, "  breaches by {owner}: {n}");
    }
    for (reason, n) in &f.recycled_reasons {
        let _ = writeln!(out, "  recycled for {reason}: {n}");
    }
}

/// The report for a terminal.
pub fn to_text(report: &Report) -> String {
    let mut out = String::new();
    funnel_text(&mut out, &report.total);
    for g in &report.groups {
        funnel_text(&mut out, g);
    }
    out
}

/// A cell a spreadsheet would not run as a formula. Group keys come from
/// the tools (a campaign named in HubSpot, a source): a value starting
/// with `=`, `+`, `-`, `@`, a tab or a carriage return is prefixed with a
/// single quote, as OWASP's "CSV Injection" page advises, so Excel,
/// LibreOffice and Google Sheets show it as text instead of evaluating it.
/// Numbers are written by us and never pass through here.
pub fn csv_text(value: &str) -> std::borrow::Cow<'_, str> {
    if value.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{value}").into()
    } else {
        value.into()
    }
}

/// The CSV header: every rate is a percentage (`_pct`, 0–100), never a
/// 0–1 ratio, so one file holds one kind of number.
pub const CSV_HEADER: [&str; 19] = [
    "group",
    "qualified",
    "handed_off",
    "accepted",
    "accepted_in_time",
    "breached",
    "escalated",
    "reassigned",
    "recycled",
    "converted",
    "won",
    "lost",
    "qualified_to_handed_off_pct",
    "handed_off_to_accepted_pct",
    "accepted_to_converted_pct",
    "converted_to_won_pct",
    "median_time_to_first_touch_s",
    "p90_time_to_first_touch_s",
    "sla_compliance_pct",
];

/// One row per group (the total first), one column per number, through
/// the `csv` crate (quoting of commas, quotes and line breaks) with group
/// keys guarded by [`csv_text`]. An empty cell is "no figure" (nothing to
/// divide by).
pub fn to_csv(report: &Report) -> String {
    let mut w = csv::Writer::from_writer(Vec::new());
    let pct = |r: Option<f64>| r.map_or(String::new(), |r| format!("{:.2}", r * 100.0));
    let int = |v: Option<i64>| v.map_or(String::new(), |v| v.to_string());
    // Writing to a Vec cannot fail; a row that did would only be missing.
    let _ = w.write_record(CSV_HEADER);
    for f in std::iter::once(&report.total).chain(&report.groups) {
        let c = &f.counts;
        let k = &f.conversion;
        let mut row = vec![csv_text(&f.group).into_owned()];
        row.extend(
            [
                c.qualified,
                c.handed_off,
                c.accepted,
                c.accepted_in_time,
                c.breached,
                c.escalated,
                c.reassigned,
                c.recycled,
                c.converted,
                c.won,
                c.lost,
            ]
            .map(|n| n.to_string()),
        );
        row.extend([
            pct(k.qualified_to_handed_off),
            pct(k.handed_off_to_accepted),
            pct(k.accepted_to_converted),
            pct(k.converted_to_won),
            int(f.median_time_to_first_touch_s),
            int(f.p90_time_to_first_touch_s),
            f.sla_compliance_pct
                .map_or(String::new(), |p| format!("{p:.2}")),
        ]);
        let _ = w.write_record(&row);
    }
    w.into_inner()
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{Counts, Funnel};

    #[test]
    fn csv_guards_formulas_quotes_separators_and_uses_one_unit() {
        let group = |name: &str| Funnel {
            group: name.into(),
            counts: Counts {
                qualified: 4,
                handed_off: 2,
                ..Counts::default()
            },
            conversion: crate::report::Conversion {
                qualified_to_handed_off: Some(0.5),
                ..Default::default()
            },
            sla_compliance_pct: Some(75.0),
            ..Funnel::default()
        };
        let report = Report {
            by: Some(crate::report::GroupBy::Campaign),
            total: group("all"),
            groups: [
                "=HYPERLINK(\"http://evil\",\"x\")",
                "+1",
                "-2",
                "@SUM(A1)",
                "\tTab",
                "\rCR",
                "Spring, \"VIP\"\nlaunch",
                "plain",
            ]
            .into_iter()
            .map(group)
            .collect(),
        };
        let text = to_csv(&report);
        let mut r = csv::Reader::from_reader(text.as_bytes());
        assert_eq!(
            r.headers().unwrap(),
            &csv::StringRecord::from(CSV_HEADER.to_vec())
        );
        let rows: Vec<csv::StringRecord> = r.records().map(Result::unwrap).collect();
        let groups: Vec<&str> = rows.iter().map(|r| &r[0]).collect();
        assert_eq!(
            groups,
            [
                "all",
                "'=HYPERLINK(\"http://evil\",\"x\")",
                "'+1",
                "'-2",
                "'@SUM(A1)",
                "'\tTab",
                "'\rCR",
                "Spring, \"VIP\"\nlaunch",
                "plain",
            ]
        );
        for row in &rows {
            assert_eq!(row.len(), CSV_HEADER.len());
            // Both rates are percentages: 50 (not 0.5) and 75.
            assert_eq!(&row[12], "50.00");
            assert_eq!(&row[18], "75.00");
            assert_eq!(&row[13], "", "no figure where nothing was handed off");
        }
        // No raw line starts with a formula character.
        for line in text.lines() {
            assert!(!line.starts_with(['=', '+', '-', '@']), "{line}");
        }
    }
}
