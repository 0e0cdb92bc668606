//! The end-to-end scenario at one scale: backfill to convergence, then 100
//! marketing and 50 CRM changes and one cycle, the cycle after it (the new
//! leads' CRM defaults flow back), then one idle cycle. Every
//! cycle is its own child process; the simulated clocks move 10 minutes
//! before each cycle (past both vendors' default overlaps), as between two
//! scheduled cycles once a backfill has settled.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use anyhow::Context;
use leadbridge_core::sim::seed;
use serde::Serialize;
use serde_json::json;

use crate::procs::{self, disk_usage};
use crate::world::{World, SEED, SF_SESSION};

/// Which program runs a cycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Engine {
    /// `leadbridge run --once`: the daemon binary, vendor client limits on.
    Daemon,
    /// This binary's `--cycle-child`: the same daemon code, client limits off.
    Unthrottled,
}

/// Minutes the clocks move before each cycle.
const GAP: Duration = Duration::from_secs(600);

/// The counts a cycle's summary line reports.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct Summary {
    /// Marketing records read.
    pub read_marketing: u64,
    /// CRM records read.
    pub read_crm: u64,
    /// Leads handed off.
    pub handoffs: u64,
    /// Records written to the CRM.
    pub written_crm: u64,
    /// Records written to marketing.
    pub written_marketing: u64,
    /// Echoes dropped.
    pub echoes: u64,
    /// Dead letters.
    pub dead_lettered: u64,
}

impl Summary {
    fn parse(stdout: &str) -> anyhow::Result<Self> {
        let line = stdout
            .lines()
            .find(|l| l.starts_with("inbound: read"))
            .with_context(|| format!("no summary line in {stdout:?}"))?;
        let n: Vec<u64> = line
            .split(|c: char| !c.is_ascii_digit())
            .filter_map(|s| s.parse().ok())
            .collect();
        anyhow::ensure!(n.len() >= 7, "unexpected summary {line:?}");
        Ok(Self {
            read_marketing: n[0],
            read_crm: n[1],
            handoffs: n[2],
            written_crm: n[3],
            written_marketing: n[4],
            echoes: n[5],
            dead_lettered: n[6],
        })
    }
}

/// What one cycle cost.
#[derive(Debug, Clone, Serialize)]
pub struct CycleFigures {
    /// Wall time of the child, start to exit (startup and state open included).
    pub wall_s: f64,
    /// CPU time of the daemon child.
    pub daemon_cpu_s: f64,
    /// CPU time of the simulators during the cycle (HubSpot, Salesforce).
    pub sim_cpu_s: (f64, f64),
    /// Peak RSS of the daemon child.
    pub max_rss_mib: f64,
    /// What it did.
    pub summary: Summary,
    /// HubSpot calls by endpoint.
    pub hubspot: BTreeMap<String, u64>,
    /// Salesforce calls by endpoint.
    pub salesforce: BTreeMap<String, u64>,
}

impl CycleFigures {
    /// Calls to one side, all endpoints.
    pub fn calls(side: &BTreeMap<String, u64>) -> u64 {
        side.values().sum()
    }

    /// Writes among those calls (anything not a read, search, query or token call).
    pub fn writes(side: &BTreeMap<String, u64>) -> u64 {
        side.iter()
            .filter(|(k, _)| !is_read(k))
            .map(|(_, v)| v)
            .sum()
    }
}

/// Calls a fresh process makes once before its first cycle (an OAuth2
/// token, an object's describe); a long-running daemon does not repeat
/// them each cycle.
pub fn startup_calls(side: &BTreeMap<String, u64>) -> u64 {
    side.iter()
        .filter(|(k, _)| k.contains("/token") || k.ends_with("/describe"))
        .map(|(_, v)| v)
        .sum()
}

/// Whether an endpoint label is a read (search, query, describe, GET, token).
pub fn is_read(label: &str) -> bool {
    label.starts_with("GET ")
        || label.ends_with("/search")
        || label.contains("/batch/read")
        || label.contains("/query")
        || label.contains("oauth")
        || label.contains("/token")
}

/// Everything measured at one scale.
#[derive(Debug, Clone, Serialize)]
pub struct ScaleRun {
    /// Seeded marketing contacts.
    pub contacts: u64,
    /// How many of them satisfy the handoff rule (computed from the seed).
    pub qualify: u64,
    /// Who ran the cycles.
    pub engine: Engine,
    /// HubSpot simulator start-up, seeding included.
    pub seed_s: f64,
    /// HubSpot simulator RSS after seeding.
    pub hubspot_sim_rss_mib: f64,
    /// Backfill cycles, the last of which wrote nothing (convergence).
    pub backfill: Vec<CycleFigures>,
    /// The cycle after 100 marketing and 50 CRM changes.
    pub incremental: CycleFigures,
    /// The next one: the CRM's defaults on the leads just handed off
    /// (their status) flow back to marketing, as in the backfill's second cycle.
    pub settle: CycleFigures,
    /// One more cycle, nothing changed.
    pub idle: CycleFigures,
    /// The state directory on disk after the idle cycle.
    pub sled_bytes: u64,
    /// Links (leads handed off) at the end.
    pub links: u64,
    /// Simulator RSS at the end (HubSpot, Salesforce).
    pub sim_rss_end_mib: (f64, f64),
}

/// Indexes of the seeded people who qualify, and of some who do not.
fn population(contacts: u64) -> (Vec<u64>, Vec<u64>) {
    let mut yes = Vec::new();
    let mut no = Vec::new();
    for i in 0..contacts {
        let p = seed::person(SEED, i);
        if p.score >= 70 && p.lifecycle_stage == "marketingqualifiedlead" {
            yes.push(i);
        } else if no.len() < 1000 {
            no.push(i);
        }
    }
    (yes, no)
}

/// HubSpot numbers seeded contacts from 1001, in seeding order.
fn contact_id(index: u64) -> String {
    (1001 + index).to_string()
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

/// Runs one cycle with `engine`, measured, with fresh request counts.
async fn cycle(
    world: &World,
    engine: Engine,
    bin: &Path,
    label: &str,
) -> anyhow::Result<CycleFigures> {
    world.advance(GAP.as_millis() as u64).await?;
    world.reset_requests().await?;
    let mut command = match engine {
        Engine::Daemon => {
            let mut c = Command::new(bin);
            c.args(["run", "--once", "--config"]).arg(&world.config);
            c
        }
        Engine::Unthrottled => {
            // Profiling: LEADBRIDGE_BENCH_WRAP is a command line the engine
            // child runs under, `{label}` replaced by the cycle's name, e.g.
            // `perf record -g -o /tmp/{label}.data --` or `valgrind
            // --tool=callgrind --callgrind-out-file=/tmp/{label}.cg`. CPU
            // figures then include the wrapper's cost: for profiles only.
            let wrap = std::env::var("LEADBRIDGE_BENCH_WRAP").unwrap_or_default();
            let mut words = wrap.split_whitespace().map(|w| w.replace("{label}", label));
            let mut c = match words.next() {
                Some(program) => {
                    let mut c = Command::new(program);
                    c.args(words).arg(std::env::current_exe()?);
                    c
                }
                None => Command::new(std::env::current_exe()?),
            };
            c.arg("--cycle-child").arg(&world.config);
            c
        }
    };
    command.current_dir(world.dir.path());
    let cpu_before = (world.hubspot.cpu(), world.salesforce.cpu());
    let log = world.dir.path().join(format!("{label}.log"));
    let m = procs::measure(command, &log)?;
    let cpu_after = (world.hubspot.cpu(), world.salesforce.cpu());
    Ok(CycleFigures {
        wall_s: m.wall.as_secs_f64(),
        daemon_cpu_s: m.cpu.as_secs_f64(),
        sim_cpu_s: (
            (cpu_after.0 - cpu_before.0).as_secs_f64(),
            (cpu_after.1 - cpu_before.1).as_secs_f64(),
        ),
        max_rss_mib: mib(m.max_rss_kib),
        summary: Summary::parse(&m.stdout)?,
        hubspot: world.hs.requests().await?,
        salesforce: world.sf.requests().await?,
    })
}

/// The whole scenario at `contacts` seeded people.
pub async fn run(bin: &Path, contacts: u64, engine: Engine) -> anyhow::Result<ScaleRun> {
    let (qualifying, others) = population(contacts);
    let world = World::start(bin, contacts).await?;
    let seed_s = world.hubspot.startup.as_secs_f64();
    let hubspot_sim_rss_mib = mib(world.hubspot.rss_kib());
    let mut backfill = Vec::new();
    for round in 1..=4 {
        let c = cycle(&world, engine, bin, &format!("backfill-{round}")).await?;
        let wrote = c.summary.written_crm + c.summary.written_marketing > 0;
        backfill.push(c);
        if !wrote {
            break;
        }
    }
    // 100 marketing changes: 50 linked people renamed (→ CRM updates), 50
    // unqualified people now qualifying (→ handoffs); 50 CRM changes: sales
    // works 50 leads (→ feedback to marketing).
    for &i in qualifying.iter().rev().take(50) {
        let id = contact_id(i);
        world
            .hs
            .update(
                "contacts",
                &id,
                json!({ "firstname": format!("Renamed{i}") }),
            )
            .await?;
    }
    for &i in others.iter().take(50) {
        world
            .hs
            .update(
                "contacts",
                &contact_id(i),
                json!({ "hubspotscore": "95", "lifecyclestage": "marketingqualifiedlead" }),
            )
            .await?;
    }
    let leads = world
        .sf
        .soql_ids(SF_SESSION, "SELECT Id FROM Lead ORDER BY Id LIMIT 50")
        .await?;
    anyhow::ensure!(leads.len() == 50, "only {} leads in the CRM", leads.len());
    for id in &leads {
        world
            .sf
            .update("Lead", id, json!({ "Status": "Working - Contacted" }))
            .await?;
    }
    let incremental = cycle(&world, engine, bin, "incremental").await?;
    let settle = cycle(&world, engine, bin, "settle").await?;
    let idle = cycle(&world, engine, bin, "idle").await?;
    let links = backfill.iter().map(|c| c.summary.handoffs).sum::<u64>()
        + incremental.summary.handoffs
        + settle.summary.handoffs
        + idle.summary.handoffs;
    Ok(ScaleRun {
        contacts,
        qualify: qualifying.len() as u64,
        engine,
        seed_s,
        hubspot_sim_rss_mib,
        backfill,
        incremental,
        settle,
        idle,
        sled_bytes: disk_usage(&world.state_dir()),
        links,
        sim_rss_end_mib: (
            mib(world.hubspot.rss_kib()),
            mib(world.salesforce.rss_kib()),
        ),
    })
}
