//! `/status`: the snapshot as one self-contained HTML page (inline CSS and
//! SVG, no script), refreshed by the browser every 30 seconds. Every value
//! from the store or a tool is escaped.

use std::fmt::Write;

use jiff::Timestamp;

use super::chart::{funnel_svg, stage_title};
use super::health::{ConnectorAuth, PipelineState};
use super::html::{esc, num, relative, utc};
use super::snapshot::{ConnectorSnapshot, PipelineSnapshot, StatusSnapshot, FUNNEL_WINDOWS};
use crate::report::GroupBy;

const STYLE: &str = r#"
:root{--ink:#0f172a;--muted:#64748b;--line:#e2e8f0;--bg:#f1f5f9;--card:#fff;--ok:#059669;--warn:#d97706;--bad:#dc2626;--accent:#4f46e5}
*{box-sizing:border-box}
body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Noto Sans",sans-serif;color:var(--ink);background:var(--bg)}
header{background:#0f172a;color:#fff;padding:14px 28px;display:flex;align-items:center;gap:16px}
header h1{font-size:20px;margin:0;font-weight:650;letter-spacing:.2px}
header h1 span{color:#a5b4fc;font-weight:500}
header .meta{margin-left:auto;color:#cbd5e1;font-size:13px;text-align:right}
main{padding:22px 28px;max-width:1280px;margin:0 auto}
h2{font-size:13px;text-transform:uppercase;letter-spacing:.08em;color:var(--muted);margin:22px 0 10px}
.grid{display:grid;grid-template-columns:2fr 1fr;gap:16px}
.card{background:var(--card);border:1px solid var(--line);border-radius:10px;padding:16px 18px;box-shadow:0 1px 2px rgba(15,23,42,.04)}
.card h3{margin:0 0 4px;font-size:16px}
.sub{color:var(--muted);font-size:13px}
.pill{display:inline-block;padding:2px 10px;border-radius:999px;font-size:12px;font-weight:600;vertical-align:middle}
.pill.ok{background:#d1fae5;color:#065f46}.pill.warn{background:#fef3c7;color:#92400e}.pill.bad{background:#fee2e2;color:#991b1b}.pill.idle{background:#e2e8f0;color:#334155}
.ready-list{margin:4px 0 0;padding-left:18px;color:#fde68a;font-size:12px;text-align:left}
.funnel .stage{font-size:14px;fill:#334155;font-weight:600}
.funnel .count{font-size:14px;font-weight:700;fill:#1e1b4b}.funnel .count.on-dark{fill:#fff}
.funnel .rate{font-size:13px;fill:#64748b}
.choose{margin-left:10px;font-size:12px;text-transform:none;letter-spacing:0}.choose a{color:var(--accent);text-decoration:none;padding:1px 6px;border-radius:6px}.choose a.on{background:var(--accent);color:#fff}
.groups{margin-top:12px}.groups td.n,.groups th.n{text-align:right;font-variant-numeric:tabular-nums}
.notice{margin-top:12px;background:#eef2ff;border:1px solid #c7d2fe;border-radius:8px;padding:8px 12px;font-size:13px;color:#3730a3;word-break:break-word}.funnel .rate-h{font-size:11px;fill:#94a3b8;text-transform:uppercase;letter-spacing:.06em}
.sla{display:flex;flex-direction:column;justify-content:center;align-items:center;text-align:center;min-height:180px}
.sla .big{font-size:56px;font-weight:750;line-height:1.1}
.sla .none{font-size:18px;color:var(--muted);margin:18px 0 6px}
.stats{display:grid;grid-template-columns:repeat(6,1fr);gap:10px;margin-top:14px}
.stat{background:#f8fafc;border:1px solid var(--line);border-radius:8px;padding:8px 10px}
.stat .k{font-size:11px;text-transform:uppercase;letter-spacing:.06em;color:var(--muted)}
.stat .v{font-size:18px;font-weight:650;margin-top:2px}
.stat .v small{font-size:12px;font-weight:500;color:var(--muted)}
.stat.alert{background:#fef2f2;border-color:#fecaca}.stat.alert .v{color:var(--bad)}
.err{margin-top:12px;background:#fff7ed;border:1px solid #fed7aa;border-radius:8px;padding:8px 12px;font-size:13px;color:#9a3412;word-break:break-word}
table{width:100%;border-collapse:collapse;font-size:13px}
th{text-align:left;color:var(--muted);font-weight:600;font-size:12px;text-transform:uppercase;letter-spacing:.05em;border-bottom:1px solid var(--line);padding:6px 8px}
td{border-bottom:1px solid var(--line);padding:7px 8px;vertical-align:middle}
tr:last-child td{border-bottom:0}
.bar{height:8px;background:#e2e8f0;border-radius:4px;overflow:hidden;min-width:160px}
.bar i{display:block;height:100%;background:var(--accent)}
.bar i.hot{background:var(--warn)}.bar i.full{background:var(--bad)}
.mono{font-family:ui-monospace,SFMono-Regular,Menlo,monospace;font-size:12px}
.flow{font-size:13px;color:#334155;margin-top:2px}
.flow b{font-weight:600}
.dlq{margin-top:12px}
footer{color:var(--muted);font-size:12px;padding:10px 28px 28px;max-width:1280px;margin:0 auto}
"#;

/// The page for `snapshot`.
pub(crate) fn render(s: &StatusSnapshot) -> String {
    let mut out = String::with_capacity(16 * 1024);
    let _ = write!(
        out,
        r#"<!doctype html><html lang="en"><head><meta charset="utf-8"><meta http-equiv="refresh" content="30"><meta name="viewport" content="width=device-width,initial-scale=1"><title>leadbridge status</title><style>{STYLE}</style></head><body>"#
    );
    header(&mut out, s);
    out.push_str("<main>");
    funnel_row(&mut out, s);
    out.push_str("<h2>Pipelines</h2>");
    for p in &s.pipelines {
        pipeline(&mut out, p, s.generated_at);
    }
    out.push_str("<h2>Connectors</h2>");
    connectors(&mut out, &s.connectors);
    out.push_str("</main>");
    let _ = write!(
        out,
        r#"<footer>JSON of this page: <a href="/api/status">/api/status</a> · Prometheus: <a href="/metrics">/metrics</a> · funnel counts leads by the furthest stage reached in the last {} days, with the stages of <code>leadbridge report</code>.</footer></body></html>"#,
        s.funnel.window_days
    );
    out
}

fn header(out: &mut String, s: &StatusSnapshot) {
    let (pill, text) = if s.ready {
        ("ok", "Ready")
    } else {
        ("warn", "Not ready")
    };
    let _ = write!(
        out,
        r#"<header><h1>leadbridge <span>status</span></h1><span class="pill {pill}">{text}</span><div class="meta">updated {} · refreshes every 30 s"#,
        esc(&utc(s.generated_at))
    );
    if !s.not_ready.is_empty() {
        out.push_str(r#"<ul class="ready-list">"#);
        for reason in &s.not_ready {
            let _ = write!(out, "<li>{}</li>", esc(reason));
        }
        out.push_str("</ul>");
    }
    out.push_str("</div></header>");
}

/// The link to this page with another window or grouping.
fn funnel_link(days: i64, by: Option<GroupBy>) -> String {
    match by {
        Some(by) => format!("/status?days={days}&amp;by={}", by.as_str()),
        None => format!("/status?days={days}"),
    }
}

/// The window and grouping choices (links: the page has no script).
fn funnel_choices(out: &mut String, days: i64, by: Option<GroupBy>) {
    out.push_str(r#"<span class="choose">"#);
    for d in FUNNEL_WINDOWS {
        let _ = write!(
            out,
            r#"<a href="{}"{}>{d} days</a>"#,
            funnel_link(d, by),
            if d == days { r#" class="on""# } else { "" }
        );
    }
    out.push_str(" · by ");
    for (label, choice) in [
        ("all", None),
        ("source", Some(GroupBy::Source)),
        ("campaign", Some(GroupBy::Campaign)),
        ("owner", Some(GroupBy::Owner)),
    ] {
        let _ = write!(
            out,
            r#"<a href="{}"{}>{label}</a>"#,
            funnel_link(days, choice),
            if choice == by { r#" class="on""# } else { "" }
        );
    }
    out.push_str("</span>");
}

/// One row per group: each stage's count, as `report --by` groups.
fn funnel_groups(out: &mut String, f: &super::snapshot::FunnelSnapshot) {
    let (Some(by), Some(first)) = (f.by, f.groups.first()) else {
        if f.by.is_some() {
            out.push_str(r#"<div class="sub groups">no events in the window</div>"#);
        }
        return;
    };
    let _ = write!(
        out,
        r#"<table class="groups"><tr><th>{}</th>"#,
        esc(by.as_str())
    );
    for stage in &first.funnel.stages {
        let _ = write!(out, r#"<th class="n">{}</th>"#, esc(&stage_title(stage)));
    }
    out.push_str(r#"<th class="n">SLA</th></tr>"#);
    for g in &f.groups {
        let _ = write!(out, "<tr><td>{}</td>", esc(&g.group));
        for stage in &g.funnel.stages {
            let _ = write!(out, r#"<td class="n">{}</td>"#, num(stage.count));
        }
        let sla = g.funnel.sla.as_ref().map_or("–".to_owned(), |s| {
            format!("{:.0}&#8239;%", s.compliance_pct)
        });
        let _ = write!(out, r#"<td class="n">{sla}</td></tr>"#);
    }
    out.push_str("</table>");
}

fn funnel_row(out: &mut String, s: &StatusSnapshot) {
    let f = &s.funnel;
    let _ = write!(out, "<h2>Shared funnel · last {} days", f.window_days);
    funnel_choices(out, f.window_days, f.by);
    let _ = write!(
        out,
        r#"</h2><div class="grid"><div class="card">{}"#,
        funnel_svg(&f.funnel.stages)
    );
    funnel_groups(out, f);
    out.push_str("</div>");
    out.push_str(r#"<div class="card sla"><div class="sub">SLA compliance (first touch)</div>"#);
    match &f.funnel.sla {
        Some(sla) => {
            let color = if sla.compliance_pct >= 90.0 {
                "var(--ok)"
            } else if sla.compliance_pct >= 70.0 {
                "var(--warn)"
            } else {
                "var(--bad)"
            };
            let _ = write!(
                out,
                r#"<div class="big" style="color:{color}">{:.0}&#8239;%</div><div class="sub">{} met · {} breached</div>"#,
                sla.compliance_pct,
                num(sla.met),
                num(sla.breached)
            );
        }
        None => out.push_str(
            r#"<div class="none">no SLA data yet</div><div class="sub">appears once leads are touched or breach their first-touch deadline</div>"#,
        ),
    }
    out.push_str("</div></div>");
}

fn state_pill(state: &PipelineState) -> (&'static str, &'static str) {
    match state {
        PipelineState::Running => ("ok", "running"),
        PipelineState::Paused => ("idle", "paused"),
        PipelineState::Halted => ("bad", "halted"),
    }
}

fn when(at: Option<Timestamp>, now: Timestamp, none: &str) -> String {
    match at {
        Some(t) => format!(
            r#"<span title="{}">{}</span>"#,
            esc(&utc(t)),
            esc(&relative(t, now))
        ),
        None => esc(none),
    }
}

fn stat(out: &mut String, key: &str, value: &str, alert: bool) {
    let _ = write!(
        out,
        r#"<div class="stat{}"><div class="k">{}</div><div class="v">{}</div></div>"#,
        if alert { " alert" } else { "" },
        esc(key),
        value
    );
}

fn pipeline(out: &mut String, p: &PipelineSnapshot, now: Timestamp) {
    let (cls, label) = state_pill(&p.state);
    let _ = write!(
        out,
        r#"<div class="card" style="margin-bottom:14px"><h3>{name} <span class="pill {cls}">{label}</span></h3><div class="flow"><b>{mc}</b> {mo} → <b>{cc}</b> {co} <span class="sub">· schedule <span class="mono">{sched}</span></span></div>"#,
        name = esc(&p.name),
        mc = esc(&p.marketing.connector),
        mo = esc(&p.marketing.object),
        cc = esc(&p.crm.connector),
        co = esc(&p.crm.object),
        sched = esc(&p.schedule),
    );
    out.push_str(r#"<div class="stats">"#);
    let last = match (p.last_cycle_finished, p.last_cycle_started) {
        (Some(f), _) => when(Some(f), now, ""),
        (None, Some(s)) => format!("started {}", when(Some(s), now, "")),
        (None, None) => "never".to_owned(),
    };
    stat(out, "Last cycle", &last, false);
    let next = match p.state {
        PipelineState::Running => when(p.next_cycle, now, "—"),
        PipelineState::Paused => "paused".to_owned(),
        PipelineState::Halted => "halted".to_owned(),
    };
    stat(out, "Next cycle", &next, p.state == PipelineState::Halted);
    let c = &p.last_cycle;
    stat(
        out,
        "Last cycle moved",
        &format!(
            "{} <small>read</small> · {} <small>written</small>",
            num(c.read_marketing + c.read_crm),
            num(c.written_crm + c.written_marketing)
        ),
        false,
    );
    let t = &p.totals;
    stat(
        out,
        "Written in all",
        &format!(
            "{} <small>crm</small> · {} <small>mkt</small>",
            num(t.written_crm),
            num(t.written_marketing)
        ),
        false,
    );
    stat(
        out,
        "Handed off (window)",
        &format!(
            "{} <small>· {} linked</small>",
            num(p.handoffs_in_window),
            num(p.links)
        ),
        false,
    );
    stat(
        out,
        "Dead letters",
        &num(p.dead_letters),
        p.dead_letters > 0,
    );
    out.push_str("</div>");
    if let Some(change) = &p.rule_changed {
        let _ = write!(
            out,
            r#"<div class="notice"><b>Handoff rule changed</b> {when}: <span class="mono">{before}</span> → <span class="mono">{now_rule}</span>. Contacts it now qualifies are handed off only when they next change in marketing, or after <span class="mono">leadbridge resync --only-unlinked --pipeline {name}</span> (re-reads marketing from the beginning; linked records cause no writes).</div>"#,
            when = when(Some(change.at), now, ""),
            before = esc(&change.before),
            now_rule = esc(&change.now),
            name = esc(&p.name),
        );
    }
    if let Some(reason) = &p.halted_reason {
        let _ = write!(
            out,
            r#"<div class="err"><b>Halted:</b> {}</div>"#,
            esc(reason)
        );
    }
    if let (Some(e), Some(at)) = (&p.last_error, p.last_error_at) {
        let recovered = p.last_cycle_finished.is_some_and(|f| f > at);
        let _ = write!(
            out,
            r#"<div class="err"{style}><b>Last error</b> {when}{rec}: {e}</div>"#,
            style = if recovered {
                r#" style="background:#f8fafc;border-color:#e2e8f0;color:#475569""#
            } else {
                ""
            },
            when = when(Some(at), now, ""),
            rec = if recovered { " (recovered since)" } else { "" },
            e = esc(e)
        );
    }
    if !p.dead_letter_entries.is_empty() {
        out.push_str(r#"<table class="dlq"><tr><th>Side</th><th>Record</th><th>Attempts</th><th>Last failure</th><th>Reason</th></tr>"#);
        for d in &p.dead_letter_entries {
            let _ = write!(
                out,
                r#"<tr><td>{}</td><td class="mono">{} {}</td><td>{}</td><td>{}</td><td>{}</td></tr>"#,
                d.side,
                esc(&d.object),
                esc(&d.record_id),
                d.attempts,
                when(Some(d.last_seen), now, ""),
                esc(&d.reason)
            );
        }
        out.push_str("</table>");
    }
    out.push_str("</div>");
}

fn connectors(out: &mut String, list: &[ConnectorSnapshot]) {
    out.push_str(r#"<div class="card"><table><tr><th>Connector</th><th>Tool</th><th>Credentials</th><th>API calls today</th><th>Daily cap</th><th style="width:26%">Used today</th><th>Since start</th><th>Retries</th></tr>"#);
    for c in list {
        let (cls, auth) = match &c.auth {
            ConnectorAuth::Authenticated => ("ok", "authenticated"),
            ConnectorAuth::Unproven => ("idle", "not yet used"),
            ConnectorAuth::Failing(_) => ("bad", "refused"),
        };
        let (cap, bar) = match c.daily_cap {
            Some(cap) if cap > 0 => {
                let pct = (100.0 * c.calls_today as f64 / cap as f64).min(100.0);
                let hot = if pct >= 90.0 {
                    " full"
                } else if pct >= 70.0 {
                    " hot"
                } else {
                    ""
                };
                (
                    num(cap),
                    format!(
                        r#"<div class="bar"><i class="{hot}" style="width:{pct:.1}%"></i></div><span class="sub">{pct:.1} %</span>"#
                    ),
                )
            }
            _ => (
                "no cap".to_owned(),
                r#"<span class="sub">—</span>"#.to_owned(),
            ),
        };
        let vendor = match c.vendor_usage {
            Some((used, max)) => format!(
                r#"<div class="sub">vendor: {} / {}</div>"#,
                num(used),
                num(max)
            ),
            None => String::new(),
        };
        let _ = write!(
            out,
            r#"<tr><td><b>{name}</b></td><td>{kind}</td><td><span class="pill {cls}">{auth}</span></td><td>{today}{vendor}</td><td>{cap}</td><td>{bar}</td><td>{total}</td><td>{retries}</td></tr>"#,
            name = esc(&c.name),
            kind = esc(&c.kind),
            today = num(c.calls_today),
            total = num(c.total_calls),
            retries = num(c.retries),
        );
    }
    out.push_str("</table></div>");
}
