//! Medians of repeated runs, the printed table and its JSON twin.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;

use crate::budget::{Minimum, Projection};
use crate::micro::Micro;
use crate::scenario::{CycleFigures, ScaleRun};

/// Everything the benchmark measured.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// `nproc`, memory, kernel.
    pub machine: String,
    /// Per scale and engine: medians, and how many runs they are of.
    pub scales: Vec<(usize, ScaleRun)>,
    /// Projections under vendor limits, per scale.
    pub projections: Vec<Projection>,
    /// Engine micro-benchmarks.
    pub micro: Option<Micro>,
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn median_cycle(cycles: &[&CycleFigures]) -> CycleFigures {
    let pick = |f: &dyn Fn(&CycleFigures) -> f64| median(cycles.iter().map(|c| f(c)).collect());
    let mut out = cycles[0].clone();
    out.wall_s = pick(&|c| c.wall_s);
    out.daemon_cpu_s = pick(&|c| c.daemon_cpu_s);
    out.sim_cpu_s = (pick(&|c| c.sim_cpu_s.0), pick(&|c| c.sim_cpu_s.1));
    out.max_rss_mib = pick(&|c| c.max_rss_mib);
    out
}

/// Per-figure medians of runs of the same scenario (call counts are the
/// first run's; they are deterministic).
pub fn median_run(runs: &[ScaleRun]) -> ScaleRun {
    let mut out = runs[0].clone();
    let rounds = runs.iter().map(|r| r.backfill.len()).min().unwrap_or(0);
    out.backfill.truncate(rounds);
    for (i, c) in out.backfill.iter_mut().enumerate() {
        *c = median_cycle(&runs.iter().map(|r| &r.backfill[i]).collect::<Vec<_>>());
    }
    out.incremental = median_cycle(&runs.iter().map(|r| &r.incremental).collect::<Vec<_>>());
    out.settle = median_cycle(&runs.iter().map(|r| &r.settle).collect::<Vec<_>>());
    out.idle = median_cycle(&runs.iter().map(|r| &r.idle).collect::<Vec<_>>());
    out.seed_s = median(runs.iter().map(|r| r.seed_s).collect());
    out.sled_bytes = median(runs.iter().map(|r| r.sled_bytes as f64).collect()) as u64;
    out
}

fn calls_line(calls: &BTreeMap<String, u64>) -> String {
    calls
        .iter()
        .map(|(k, v)| format!("{k} ×{v}"))
        .collect::<Vec<_>>()
        .join("; ")
}

fn row(out: &mut String, name: &str, c: &CycleFigures) {
    let s = &c.summary;
    let records = s.read_marketing + s.read_crm;
    let min = Minimum::of(c);
    let (hs, sf) = (
        CycleFigures::calls(&c.hubspot),
        CycleFigures::calls(&c.salesforce),
    );
    let _ = writeln!(
        out,
        "| {name} | {:.2} | {} | {:.0} | {:.2} | {:.1} | {:.2} / {:.2} | {hs} ({}) w{} | {sf} ({}) w{} s{} | {:.2} | {:.1} |",
        c.wall_s,
        records,
        records as f64 / c.wall_s.max(1e-9),
        c.daemon_cpu_s,
        c.daemon_cpu_s * 1e6 / records.max(1) as f64,
        c.sim_cpu_s.0,
        c.sim_cpu_s.1,
        min.hubspot,
        CycleFigures::writes(&c.hubspot),
        min.salesforce,
        CycleFigures::writes(&c.salesforce),
        crate::scenario::startup_calls(&c.salesforce),
        (hs + sf) as f64 / (min.hubspot + min.salesforce).max(1) as f64,
        c.max_rss_mib,
    );
}

impl Report {
    /// The table, as Markdown.
    pub fn table(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "machine: {}\n", self.machine);
        for (runs, r) in &self.scales {
            let _ = writeln!(
                out,
                "### {} contacts, {} qualify ({:.2}%), {:?} engine, median of {runs} run(s)\n",
                r.contacts,
                r.qualify,
                r.qualify as f64 * 100.0 / r.contacts.max(1) as f64,
                r.engine,
            );
            let _ = writeln!(
                out,
                "HubSpot simulator: started and seeded in {:.1} s, RSS {:.0} MiB after seeding; at the end HubSpot {:.0} MiB, Salesforce {:.0} MiB\n",
                r.seed_s, r.hubspot_sim_rss_mib, r.sim_rss_end_mib.0, r.sim_rss_end_mib.1
            );
            let _ = writeln!(out, "| cycle | wall s | records read | records/s | daemon CPU s | CPU µs/record | sim CPU s HS / SF | HubSpot calls (min) writes | Salesforce calls (min) writes, start-up | calls / min | daemon peak RSS MiB |");
            let _ = writeln!(out, "|---|---|---|---|---|---|---|---|---|---|---|");
            for (i, c) in r.backfill.iter().enumerate() {
                row(&mut out, &format!("backfill {}", i + 1), c);
            }
            row(&mut out, "incremental", &r.incremental);
            row(&mut out, "incremental + 1", &r.settle);
            row(&mut out, "idle", &r.idle);
            let _ = writeln!(
                out,
                "\nsled on disk: {} bytes for {} links = {:.0} bytes/link\n",
                r.sled_bytes,
                r.links,
                r.sled_bytes as f64 / r.links.max(1) as f64
            );
            let mut cycles: Vec<(String, &CycleFigures)> = r
                .backfill
                .iter()
                .enumerate()
                .map(|(i, c)| (format!("backfill {}", i + 1), c))
                .collect();
            cycles.push(("incremental".into(), &r.incremental));
            cycles.push(("incremental + 1".into(), &r.settle));
            cycles.push(("idle".into(), &r.idle));
            for (name, c) in cycles {
                let s = &c.summary;
                let _ = writeln!(
                    out,
                    "- {name}: handed off {}, wrote {} crm / {} marketing, {} echoes, {} dead-lettered\n  - HubSpot: {}\n  - Salesforce: {}",
                    s.handoffs, s.written_crm, s.written_marketing, s.echoes, s.dead_lettered,
                    calls_line(&c.hubspot), calls_line(&c.salesforce)
                );
            }
            let _ = writeln!(out);
        }
        for p in &self.projections {
            let _ = writeln!(
                out,
                "projection at {} contacts under HubSpot's published limits (search 5/s; burst 100/10 s Starter – 190/10 s Enterprise): backfill {:.0} s – {:.0} s; incremental cycle {:.1} s – {:.1} s; a day of 2-minute cycles: idle {} HubSpot / {} Salesforce calls, busy (each like the incremental) {} / {} = {:.2}% (250k) – {:.2}% (1M) of HubSpot's daily limit, {:.2}% of a 100k Salesforce org limit",
                p.contacts,
                p.backfill_s.0,
                p.backfill_s.1,
                p.incremental_limited_s.0,
                p.incremental_limited_s.1,
                p.idle_day_calls.0,
                p.idle_day_calls.1,
                p.busy_day_calls.0,
                p.busy_day_calls.1,
                p.busy_day_hubspot_share.0 * 100.0,
                p.busy_day_hubspot_share.1 * 100.0,
                p.busy_day_salesforce_share * 100.0,
            );
        }
        if let Some(m) = &self.micro {
            let _ = writeln!(
                out,
                "\nengine micro-benchmarks (medians): qualify (map + require + CEL rule) {:.0} ns/record; echo check (map + fingerprints) {:.0} ns/record; sled commit of 200 links + cursor {:.2} ms ({:.1} µs/link); link read per 200-id page {:.0} µs; sled size_on_disk {:.0} bytes/link (10,000 links)",
                m.qualify_ns_per_record,
                m.echo_check_ns_per_record,
                m.sled_commit_ms_per_batch,
                m.sled_commit_us_per_link,
                m.sled_links_read_us_per_page,
                m.sled_bytes_per_link,
            );
        }
        out
    }
}
