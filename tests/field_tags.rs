//! Field fingerprints never collide: `city` and `crm_language` (like
//! `channel` and `prev_company`) hash to the same 16 bits, and used to
//! overwrite each other's agreed value. With tags kept in the state, both
//! fields of each pair sync both ways and an idle cycle writes nothing.
//!
//! Runs on the memory connector (registered as a kind in this test), so it
//! is about the engine's fingerprints, not a vendor.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use leadbridge::config::Config;
use leadbridge::daemon::Daemon;
use leadbridge_core::memory::{CallKind, MemoryFactory, MemoryWorld};
use leadbridge_core::sim::SimControl;
use leadbridge_core::Fields;
use serde_json::json;

const CONFIG: &str = r#"[daemon]
state_dir = "state"

[connectors.marketing]
kind = "mem"
auth = { type = "static_token", token = "env:T" }

[connectors.crm]
kind = "mem"
auth = { type = "static_token", token = "env:T" }

[[pipelines]]
name = "inbound"
schedule = "0 */5 * * * *"
marketing = { connector = "marketing", object = "contacts" }
crm = { connector = "crm", object = "leads" }

[pipelines.fields]
email = { marketing = "email", crm = "Email", key = true }
city = { marketing = "city", crm = "City", owner = "both", conflict = "newest" }
crm_language = { marketing = "lang", crm = "Language", owner = "both", conflict = "newest" }
channel = { marketing = "channel", crm = "Channel", owner = "both", conflict = "newest" }
prev_company = { marketing = "prev", crm = "PrevCompany", owner = "both", conflict = "newest" }

[pipelines.handoff]
require = ["email"]
"#;

fn fields(v: serde_json::Value) -> Fields {
    let serde_json::Value::Object(f) = v else {
        unreachable!()
    };
    f
}

async fn cycle(daemon: &Daemon) -> leadbridge::engine::cycle::CycleReport {
    let mut results = daemon.run_once(false).await;
    results.remove(0).1.expect("the cycle runs")
}

fn text(world: &MemoryWorld, object: &str, id: &str, field: &str) -> Option<String> {
    world.get(object, id).and_then(|r| r.text(field))
}

#[tokio::test]
async fn colliding_fields_sync_both_ways_and_rest_quietly() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("leadbridge.toml");
    std::fs::write(&path, CONFIG).unwrap();
    let world = MemoryWorld::new();
    let registry =
        leadbridge::registry::builtin().with(Arc::new(MemoryFactory::new("mem", world.clone())));
    let secrets = BTreeMap::from([("T".to_string(), "x".to_string())]);
    let contact = world
        .insert(
            "contacts",
            vec![fields(json!({
                "email": "ann@example.com", "city": "Osaka", "lang": "ja",
                "channel": "webinar", "prev": "Acme"
            }))],
        )
        .unwrap()
        .remove(0);
    world.clock().advance(Duration::from_secs(600));
    let daemon = Daemon::open(Config::load_from(&path, &secrets, &registry).unwrap()).unwrap();
    cycle(&daemon).await;
    let lead = world.find("leads", "Email", "ann@example.com").remove(0).id;
    assert_eq!(
        text(&world, "leads", &lead, "City").as_deref(),
        Some("Osaka")
    );
    assert_eq!(
        text(&world, "leads", &lead, "Language").as_deref(),
        Some("ja")
    );

    // Marketing changes one field of each pair, sales the other.
    world.clock().advance(Duration::from_secs(120));
    world
        .update(
            "contacts",
            &contact,
            fields(json!({"city": "Kyoto", "channel": "ads"})),
        )
        .unwrap();
    world
        .update(
            "leads",
            &lead,
            fields(json!({"Language": "en", "PrevCompany": "Globex"})),
        )
        .unwrap();
    world.clock().advance(Duration::from_secs(120));
    cycle(&daemon).await;
    assert_eq!(
        text(&world, "leads", &lead, "City").as_deref(),
        Some("Kyoto")
    );
    assert_eq!(
        text(&world, "leads", &lead, "Channel").as_deref(),
        Some("ads")
    );
    assert_eq!(
        text(&world, "contacts", &contact, "lang").as_deref(),
        Some("en")
    );
    assert_eq!(
        text(&world, "contacts", &contact, "prev").as_deref(),
        Some("Globex")
    );

    // The echoes of those writes, then quiet: nothing is written.
    for _ in 0..2 {
        world.clock().advance(Duration::from_secs(600));
        cycle(&daemon).await;
    }
    world.clear_calls();
    world.clock().advance(Duration::from_secs(600));
    let idle = cycle(&daemon).await;
    assert_eq!(
        idle.counts.written_crm + idle.counts.written_marketing,
        0,
        "{idle:?}"
    );
    assert_eq!(world.count_calls(CallKind::Write), 0, "{:?}", world.calls());
    let tags = daemon.store.field_tags("inbound").await.unwrap();
    assert_ne!(tags["city"], tags["crm_language"]);
    assert_ne!(tags["channel"], tags["prev_company"]);
}
