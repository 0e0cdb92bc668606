//! Engine micro-benchmarks through the library, no network: the per-record
//! decision (mapping to canonical values, `require` + the CEL rule for an
//! unlinked record, the fingerprint echo check for a linked one) and the
//! sled commit of one page's links with its cursor.

use std::collections::HashMap;
use std::path::Path;
use std::time::Instant;

use anyhow::Context;
use jiff::Timestamp;
use leadbridge::config::{Config, SecretSource};
use leadbridge::engine::fields::FieldMap;
use leadbridge::engine::plan::{HandoffRule, MarketingDecision, Planner};
use leadbridge::state::{Commit, Link, LinkState, Side, SledStore, StateStore};
use leadbridge_core::sim::seed;
use leadbridge_core::{Cursor, Record};
use serde::Serialize;
use serde_json::Value;

use crate::world::{config_text, SEED};

/// Records per decision run.
const RECORDS: u64 = 20_000;
/// Links per sled commit: one marketing page's worth of handoffs at most.
const BATCH: usize = 200;
/// Commits per store.
const COMMITS: usize = 50;

/// The micro-benchmark figures (medians of `runs`).
#[derive(Debug, Clone, Serialize)]
pub struct Micro {
    /// Unlinked record: map, require, CEL rule (most are not handed off).
    pub qualify_ns_per_record: f64,
    /// Linked record read again unchanged: map and fingerprint echo check.
    pub echo_check_ns_per_record: f64,
    /// One sled commit of `BATCH` new links and a cursor, flushed.
    pub sled_commit_ms_per_batch: f64,
    /// The same, per link.
    pub sled_commit_us_per_link: f64,
    /// Reading `BATCH` links by marketing id (the per-page link look-up).
    pub sled_links_read_us_per_page: f64,
    /// sled's own size estimate per link after `BATCH * COMMITS` links.
    pub sled_bytes_per_link: f64,
}

struct NoSecrets;

impl SecretSource for NoSecrets {
    fn var(&self, _name: &str) -> Option<String> {
        Some("unused".into())
    }
    fn read_file(&self, _path: &Path) -> std::io::Result<String> {
        Ok("unused".into())
    }
}

fn planner() -> anyhow::Result<Planner> {
    let owners = ["005000000000001AAA".to_owned()];
    let text = config_text("http://127.0.0.1:1", "http://127.0.0.1:2", &owners);
    let config = Config::parse(&text, Path::new("bench.toml"), &NoSecrets)
        .map_err(|e| anyhow::anyhow!("bench config invalid:\n{e}"))?;
    let p = config.pipelines.first().context("a pipeline")?;
    let handoff = p.handoff.as_ref().context("a handoff")?;
    Ok(Planner {
        fields: FieldMap::new(p.fields.clone()).map_err(anyhow::Error::msg)?,
        handoff: HandoffRule {
            enabled: true,
            when: handoff.when.clone(),
            require: handoff.require.clone(),
        },
        tags: Default::default(),
    })
}

/// A seeded person as the HubSpot connector returns them.
fn record(i: u64) -> Record {
    let p = seed::person(SEED, i);
    let mut r = Record::new((1001 + i).to_string(), Timestamp::UNIX_EPOCH);
    for (k, v) in [
        ("email", p.email),
        ("firstname", p.first_name),
        ("lastname", p.last_name),
        ("company", p.company),
        ("hubspotscore", p.score.to_string()),
        ("lifecyclestage", p.lifecycle_stage),
        ("campaign", p.campaign),
        ("hs_lead_status", "NEW".to_owned()),
    ] {
        r.fields.insert(k.to_owned(), Value::String(v));
    }
    r
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Runs every micro-benchmark `runs` times; medians.
pub async fn run(runs: usize) -> anyhow::Result<Micro> {
    let planner = planner()?;
    let records: Vec<Record> = (0..RECORDS).map(record).collect();
    let links: Vec<Link> = records
        .iter()
        .map(|r| {
            let values = planner
                .fields
                .to_canonical(Side::Marketing, &r.fields)
                .unwrap_or_default();
            let mut state = LinkState::new("00Q000000000000AAA");
            planner.agree_on(&mut state.agreed, &planner.handoff_values(&values));
            Link {
                marketing_id: r.id.clone(),
                state,
            }
        })
        .collect();
    let (mut qualify, mut echo) = (Vec::new(), Vec::new());
    for _ in 0..runs {
        let mut pending = HashMap::new();
        let t = Instant::now();
        let mut handed = 0u64;
        for r in &records {
            if matches!(
                planner.marketing_record(r, None, &mut pending),
                MarketingDecision::Handoff { .. }
            ) {
                handed += 1;
            }
        }
        qualify.push(t.elapsed().as_nanos() as f64 / RECORDS as f64);
        anyhow::ensure!(handed > 0, "the rule hands nothing off");
        let t = Instant::now();
        for (r, link) in records.iter().zip(&links) {
            let decision = planner.marketing_record(r, Some(link.clone()), &mut pending);
            anyhow::ensure!(
                matches!(decision, MarketingDecision::Unchanged),
                "an unchanged record is not an echo: {decision:?}"
            );
        }
        echo.push(t.elapsed().as_nanos() as f64 / RECORDS as f64);
    }
    let (commit_ms, read_us, bytes) = sled(runs, &links).await?;
    Ok(Micro {
        qualify_ns_per_record: median(qualify),
        echo_check_ns_per_record: median(echo),
        sled_commit_ms_per_batch: commit_ms,
        sled_commit_us_per_link: commit_ms * 1000.0 / BATCH as f64,
        sled_links_read_us_per_page: read_us,
        sled_bytes_per_link: bytes,
    })
}

/// Commits `COMMITS` pages of `BATCH` links with a cursor each, `runs`
/// times into fresh stores; medians of the per-commit time and of the
/// per-page link read.
async fn sled(runs: usize, links: &[Link]) -> anyhow::Result<(f64, f64, f64)> {
    let (mut commits, mut reads, mut sizes) = (Vec::new(), Vec::new(), Vec::new());
    let now = Timestamp::now();
    for _ in 0..runs {
        let dir = tempfile::tempdir()?;
        let store = SledStore::open(dir.path().join("state"))?;
        let mut n = 0usize;
        for page in 0..COMMITS {
            let mut commit = Commit::new("inbound");
            for i in 0..BATCH {
                let link = &links[(page * BATCH + i) % links.len()];
                let mut state = link.state.clone();
                state.crm_id = format!("00Q{:015}", page * BATCH + i);
                state.handed_off_at = Some(now);
                state.owner = Some("005000000000001AAA".into());
                commit.upsert_link(format!("{}", 1_000_000 + page * BATCH + i), state);
                n += 1;
            }
            commit.set_cursor(
                Side::Marketing,
                "contacts",
                Cursor::new(now, format!("{}", 1_000_000 + n)),
            );
            let t = Instant::now();
            store.commit(&commit).await?;
            commits.push(t.elapsed().as_secs_f64() * 1000.0);
        }
        for page in 0..COMMITS {
            let ids: Vec<String> = (0..BATCH)
                .map(|i| format!("{}", 1_000_000 + page * BATCH + i))
                .collect();
            let t = Instant::now();
            let found = store.links("inbound", Side::Marketing, &ids).await?;
            reads.push(t.elapsed().as_secs_f64() * 1e6);
            anyhow::ensure!(found.len() == BATCH, "links lost");
        }
        store.flush().await?;
        sizes.push(store.size_on_disk()? as f64 / n as f64);
    }
    Ok((median(commits), median(reads), median(sizes)))
}
