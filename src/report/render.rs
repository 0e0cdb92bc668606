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

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// One row per group (the total first), one column per number.
pub fn to_csv(report: &Report) -> String {
    let mut out = String::from("group,qualified,handed_off,accepted,accepted_in_time,breached,escalated,reassigned,recycled,converted,won,lost,handed_off_to_accepted,median_time_to_first_touch_s,p90_time_to_first_touch_s,sla_compliance_pct\n");
    let opt = |v: Option<f64>| v.map_or(String::new(), |v| format!("{v:.4}"));
    let int = |v: Option<i64>| v.map_or(String::new(), |v| v.to_string());
    for f in std::iter::once(&report.total).chain(&report.groups) {
        let c = &f.counts;
        let _ = writeln!(
            out,
            "{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{}",
            csv_field(&f.group),
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
            opt(f.conversion.handed_off_to_accepted),
            int(f.median_time_to_first_touch_s),
            int(f.p90_time_to_first_touch_s),
            opt(f.sla_compliance_pct)
        );
    }
    out
}
