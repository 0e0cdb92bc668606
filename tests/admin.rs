//! The admin server over real HTTP on loopback, against the daemon's real
//! state after real cycles against both simulators: every endpoint, the
//! bearer token on every POST (401 and nothing changed), HubSpot webhook
//! signatures (accepted, rejected, stale, duplicate), metric names after a
//! cycle, `/api/status` against the store, and the page in headless
//! Chromium.

mod support;

use std::sync::Arc;

use jiff::{SignedDuration, Timestamp};
use leadbridge::admin::webhook::WebhookEndpoint;
use leadbridge::admin::{AdminCommand, AdminParts, AdminState};
use leadbridge::daemon::{Daemon, Input};
use leadbridge::engine::runner::{AfterFailure, CycleFailure, PipelineCommand, PipelineEvent};
use leadbridge::state::{Commit, DeadLetter, Event, EventKind, Side, StateStore};
use leadbridge_hubspot::webhook::{signature_v3, V3Verifier, SIGNATURE_HEADER, TIMESTAMP_HEADER};
use secrecy::SecretString;
use serde_json::Value;
use support::{contact, World, WorldOptions, HS_TOKEN, SF_CLIENT_SECRET, SF_REFRESH_TOKEN};
use tokio::sync::{mpsc, oneshot};

const ADMIN_TOKEN: &str = "admin-token-for-tests-7f3a";
const WEBHOOK_SECRET: &str = "hubspot-app-secret-for-tests-91c2";

/// A running admin server over a daemon.
struct Admin {
    url: String,
    state: AdminState,
    commands: mpsc::Receiver<AdminCommand>,
    _stop: oneshot::Sender<()>,
    http: reqwest::Client,
}

impl Admin {
    async fn start(daemon: &Daemon) -> Admin {
        let (tx, commands) = leadbridge::admin::command_channel();
        let state = AdminState::new(AdminParts {
            store: daemon.store.clone(),
            clock: daemon.clock.clone(),
            connectors: daemon.built.connectors.clone(),
            pipelines: daemon.built.pipelines.clone(),
            commands: tx,
            admin_token: Some(SecretString::from(ADMIN_TOKEN)),
            webhooks: vec![WebhookEndpoint {
                kind: "hubspot",
                connector: "hubspot".into(),
                verifier: Arc::new(V3Verifier::new(SecretString::from(WEBHOOK_SECRET))),
            }],
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let (stop, stopped) = oneshot::channel::<()>();
        tokio::spawn(leadbridge::admin::serve(
            listener,
            state.clone(),
            async move {
                let _ = stopped.await;
            },
        ));
        Admin {
            url,
            state,
            commands,
            _stop: stop,
            http: reqwest::Client::new(),
        }
    }

    async fn get(&self, path: &str) -> (u16, String) {
        let r = self
            .http
            .get(format!("{}{path}", self.url))
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.text().await.unwrap())
    }

    async fn post(&self, path: &str, token: Option<&str>) -> (u16, Value) {
        let mut req = self.http.post(format!("{}{path}", self.url));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let r = req.send().await.unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    async fn status_json(&self) -> Value {
        let (code, body) = self.get("/api/status").await;
        assert_eq!(code, 200, "{body}");
        serde_json::from_str(&body).unwrap()
    }
}

/// One cycle of every pipeline, reported to the admin state as the daemon does.
async fn cycle_and_report(daemon: &Daemon, admin: &AdminState) {
    for (name, result) in daemon.run_once(false).await {
        admin.observe_cycle(&name, &result);
        result.unwrap_or_else(|e| panic!("cycle of {name} failed: {e}"));
    }
}

fn secrets() -> [&'static str; 5] {
    [
        HS_TOKEN,
        SF_CLIENT_SECRET,
        SF_REFRESH_TOKEN,
        ADMIN_TOKEN,
        WEBHOOK_SECRET,
    ]
}

async fn small_world() -> World {
    World::start(WorldOptions {
        contacts: 60,
        ..WorldOptions::default()
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_endpoints_show_the_store_and_no_secret() {
    let world = small_world().await;
    let daemon = world.daemon();
    let admin = Admin::start(&daemon).await;

    assert_eq!(admin.get("/healthz").await, (200, "ok\n".to_owned()));
    let (code, body) = admin.get("/readyz").await;
    assert_eq!(code, 503, "not ready before any cycle: {body}");
    assert!(body.contains("no cycle has finished yet"), "{body}");

    cycle_and_report(&daemon, &admin.state).await;
    let (code, body) = admin.get("/readyz").await;
    assert_eq!(code, 200, "{body}");

    // /api/status matches the store.
    let json = admin.status_json().await;
    let store = &*daemon.store;
    let status = store.status("inbound").await.unwrap().unwrap();
    let counts = store.counts("inbound").await.unwrap();
    let p = &json["pipelines"][0];
    assert_eq!(p["name"], "inbound");
    assert_eq!(p["state"], "running");
    assert_eq!(p["links"], counts.links);
    assert_eq!(p["dead_letters"], counts.dead_letters);
    assert_eq!(p["pending_intents"], counts.pending_intents);
    assert_eq!(p["totals"], serde_json::to_value(status.totals).unwrap());
    assert_eq!(
        p["last_cycle"],
        serde_json::to_value(status.last_cycle).unwrap()
    );
    assert_eq!(
        p["last_cycle_finished"],
        serde_json::to_value(status.last_cycle_finished).unwrap()
    );
    assert!(
        p["next_cycle"].is_string(),
        "a running pipeline has a next tick"
    );
    assert!(counts.links > 0, "the cycle handed leads off");
    let events = store
        .events("inbound", Timestamp::MIN, Timestamp::MAX)
        .await
        .unwrap();
    let handed_off = events
        .iter()
        .filter(|e| e.kind == EventKind::HandedOff)
        .count() as u64;
    assert_eq!(p["handoffs_in_window"], handed_off);
    let stages = json["funnel"]["stages"].as_array().unwrap();
    assert_eq!(stages[1]["key"], "handed_off");
    assert_eq!(stages[1]["count"], handed_off);
    assert!(json["funnel"]["sla"].is_null(), "no SLA events yet");
    let connectors = json["connectors"].as_array().unwrap();
    let names: Vec<&str> = connectors
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["hubspot", "salesforce"]);
    for c in connectors {
        assert_eq!(c["auth"]["state"], "authenticated", "{c}");
        let usage = daemon.built.connectors[c["name"].as_str().unwrap()].usage();
        assert!(usage.total_calls() > 0);
        assert_eq!(c["calls_today"], usage.calls_today);
    }
    assert_eq!(json["ready"], true);

    // The page shows the same things.
    let (code, page) = admin.get("/status").await;
    assert_eq!(code, 200);
    assert!(page.contains("inbound") && page.contains("<svg"), "{page}");
    assert!(page.contains("no SLA data yet"));
    assert!(!page.contains("<script"), "no JavaScript");

    // Metric names after a cycle.
    let (code, metrics) = admin.get("/metrics").await;
    assert_eq!(code, 200);
    for name in [
        "leadbridge_handoffs_total",
        "leadbridge_records_read_total",
        "leadbridge_records_written_total",
        "leadbridge_echoes_total",
        "leadbridge_dlq_size",
        "leadbridge_cycle_duration_seconds_bucket",
        "leadbridge_cycles_total",
        "leadbridge_last_success_timestamp_seconds",
        "leadbridge_api_calls_total",
        "leadbridge_api_calls_today",
        "leadbridge_pipeline_halted",
    ] {
        assert!(
            metrics.contains(name),
            "{name} missing from /metrics:\n{metrics}"
        );
    }
    assert!(metrics.contains(r#"leadbridge_handoffs_total{pipeline="inbound"}"#));

    // A halt reported by the supervisor: not ready, shown, counted; a resume lifts it.
    let halt = PipelineEvent::CycleFailed {
        pipeline: "inbound".into(),
        failure: CycleFailure {
            message: "crm connector salesforce: credentials refused".into(),
            connector: Some("salesforce".into()),
            reason: "unauthorized",
        },
        after: AfterFailure::Halt,
    };
    admin.state.observe(&halt);
    let (code, body) = admin.get("/readyz").await;
    assert_eq!(code, 503);
    assert!(body.contains("pipeline inbound is halted"), "{body}");
    assert!(body.contains("connector salesforce"), "{body}");
    let json = admin.status_json().await;
    assert_eq!(json["pipelines"][0]["state"], "halted");
    assert_eq!(json["connectors"][1]["auth"]["state"], "failing");
    assert!(admin
        .get("/metrics")
        .await
        .1
        .contains(r#"leadbridge_pipeline_halted{pipeline="inbound"} 1"#));
    assert!(admin.get("/status").await.1.contains("Halted:"));
    admin.state.observe(&PipelineEvent::Resumed {
        pipeline: "inbound".into(),
    });
    admin.state.observe(&PipelineEvent::CycleFinished {
        pipeline: "inbound".into(),
        report: Default::default(),
    });
    assert_eq!(admin.get("/readyz").await.0, 200);

    // No secret anywhere.
    let json_text = admin.get("/api/status").await.1;
    for secret in secrets() {
        for (what, text) in [
            ("/status", &page),
            ("/api/status", &json_text),
            ("/metrics", &metrics),
        ] {
            assert!(!text.contains(secret), "a secret leaked into {what}");
        }
    }
}

fn dead_letter(record_id: &str, fields: leadbridge_core::Fields) -> DeadLetter {
    DeadLetter {
        side: Side::Marketing,
        object: "contacts".into(),
        record_id: record_id.into(),
        fields,
        reason: "REQUIRED_FIELD_MISSING: Company".into(),
        code: Some("REQUIRED_FIELD_MISSING".into()),
        at: Timestamp::now(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn posts_need_the_token_and_change_nothing_without_it() {
    let world = small_world().await;
    let daemon = world.daemon();
    let mut admin = Admin::start(&daemon).await;
    cycle_and_report(&daemon, &admin.state).await;
    let store = daemon.store.clone();
    let real = contact(&world, "1001");
    let mut commit = Commit::new("inbound");
    commit.dead_letter(dead_letter("1001", real.fields.clone()));
    commit.dead_letter(dead_letter("999999", Default::default()));
    store.commit(&commit).await.unwrap();

    let cursors_before = store.cursors("inbound").await.unwrap();
    assert!(!cursors_before.is_empty(), "the cycle committed a cursor");
    let actions = [
        "/api/pipelines/inbound/run",
        "/api/pipelines/inbound/pause",
        "/api/pipelines/inbound/resume",
        "/api/pipelines/inbound/resync",
        "/api/dlq/inbound/marketing/1001/retry",
        "/api/dlq/inbound/marketing/999999/drop",
        "/api/pipelines/nope/run",
    ];
    for path in actions {
        for token in [None, Some("wrong-token"), Some("")] {
            let (code, body) = admin.post(path, token).await;
            assert_eq!(code, 401, "{path} with {token:?}: {body}");
        }
    }
    // Nothing changed: no command queued, cursors and dead letters as they were.
    assert!(admin.commands.try_recv().is_err(), "no command was queued");
    assert_eq!(store.cursors("inbound").await.unwrap(), cursors_before);
    assert_eq!(store.counts("inbound").await.unwrap().dead_letters, 2);
    assert_eq!(
        admin.status_json().await["pipelines"][0]["state"],
        "running"
    );

    // With the token.
    let t = Some(ADMIN_TOKEN);
    assert_eq!(admin.post("/api/pipelines/nope/run", t).await.0, 404);
    assert_eq!(admin.post("/api/pipelines/inbound/run", t).await.0, 202);
    assert_eq!(
        admin.commands.recv().await,
        Some(AdminCommand::RunNow {
            pipeline: "inbound".into(),
            reason: "admin"
        })
    );
    assert_eq!(admin.post("/api/pipelines/inbound/pause", t).await.0, 200);
    assert_eq!(
        admin.commands.recv().await,
        Some(AdminCommand::Pause {
            pipeline: "inbound".into()
        })
    );
    let json = admin.status_json().await;
    assert_eq!(json["pipelines"][0]["state"], "paused");
    assert!(json["pipelines"][0]["next_cycle"].is_null());
    assert_eq!(admin.post("/api/pipelines/inbound/resume", t).await.0, 200);
    assert_eq!(
        admin.commands.recv().await,
        Some(AdminCommand::Resume {
            pipeline: "inbound".into()
        })
    );
    assert_eq!(
        admin.status_json().await["pipelines"][0]["state"],
        "running"
    );

    // Drop: the entry is gone; a second drop is a 404.
    let (code, body) = admin
        .post("/api/dlq/inbound/marketing/999999/drop", t)
        .await;
    assert_eq!(
        (code, &body["dropped"]),
        (200, &Value::Bool(true)),
        "{body}"
    );
    assert!(store
        .dead_letter("inbound", Side::Marketing, "999999")
        .await
        .unwrap()
        .is_none());
    assert_eq!(
        admin
            .post("/api/dlq/inbound/marketing/999999/drop", t)
            .await
            .0,
        404
    );

    // Retry: the record is read again and applied (or found in sync); the entry goes.
    let (code, body) = admin.post("/api/dlq/inbound/marketing/1001/retry", t).await;
    assert_eq!(code, 200, "{body}");
    assert_ne!(body["outcome"], "still_failing", "{body}");
    assert!(store
        .dead_letter("inbound", Side::Marketing, "1001")
        .await
        .unwrap()
        .is_none());

    // Resync: both cursors reset, and a run queued.
    let (code, body) = admin.post("/api/pipelines/inbound/resync", t).await;
    assert_eq!(code, 202, "{body}");
    assert!(store.cursors("inbound").await.unwrap().is_empty());
    assert_eq!(
        admin.commands.recv().await,
        Some(AdminCommand::RunNow {
            pipeline: "inbound".into(),
            reason: "resync"
        })
    );
}

/// Posts a HubSpot delivery signed with `secret` for `timestamp`.
async fn deliver(admin: &Admin, body: &str, secret: &str, timestamp: i64) -> (u16, Value) {
    let url = format!("{}/webhooks/hubspot", admin.url);
    let ts = timestamp.to_string();
    let signature = signature_v3(secret, "POST", &url, body.as_bytes(), &ts);
    let r = admin
        .http
        .post(&url)
        .header("content-type", "application/json")
        .header(SIGNATURE_HEADER, signature)
        .header(TIMESTAMP_HEADER, ts)
        .body(body.to_owned())
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hubspot_webhooks_are_verified_deduplicated_and_trigger_a_cycle() {
    let world = small_world().await;
    let daemon = world.daemon();
    let mut admin = Admin::start(&daemon).await;
    let body = r#"[{"eventId":101,"subscriptionId":1,"portalId":62515,"appId":54321,"occurredAt":1564113600000,"subscriptionType":"contact.propertyChange","attemptNumber":0,"objectId":1001,"changeSource":"CRM","propertyName":"lifecyclestage","propertyValue":"marketingqualifiedlead"},{"eventId":102,"subscriptionId":1,"portalId":62515,"appId":54321,"occurredAt":1564113600000,"subscriptionType":"contact.creation","attemptNumber":0,"objectId":1002,"changeSource":"CRM"}]"#;
    let now = Timestamp::now().as_millisecond();

    // A bad signature, a stale one, and one from the future: 401, nothing queued.
    assert_eq!(deliver(&admin, body, "not-the-secret", now).await.0, 401);
    let stale = now - 6 * 60 * 1000;
    assert_eq!(deliver(&admin, body, WEBHOOK_SECRET, stale).await.0, 401);
    let future = now + 6 * 60 * 1000;
    assert_eq!(deliver(&admin, body, WEBHOOK_SECRET, future).await.0, 401);
    assert!(admin.commands.try_recv().is_err());

    // A valid one: 200, and a cycle is asked for the HubSpot pipeline.
    let (code, json) = deliver(&admin, body, WEBHOOK_SECRET, now).await;
    assert_eq!(code, 200, "{json}");
    assert_eq!(json["new"], 2);
    let command = admin.commands.recv().await.unwrap();
    assert_eq!(
        command,
        AdminCommand::RunNow {
            pipeline: "inbound".into(),
            reason: "webhook"
        }
    );

    // The daemon's form of the command.
    match Input::from(command.clone()) {
        Input::Command {
            pipeline, command, ..
        } => {
            assert_eq!(pipeline.as_deref(), Some("inbound"));
            assert_eq!(command, PipelineCommand::RunNow);
        }
        other => panic!("{other:?}"),
    }

    // The daemon's side: the requested cycle runs and the page sees it.
    let scheduled = &daemon.built.pipelines[0];
    assert_eq!(scheduled.pipeline.name, command.pipeline());
    let result = leadbridge::engine::runner::run_cycle(
        &scheduled.pipeline,
        &*daemon.store,
        &*daemon.clock,
        false,
    )
    .await;
    admin.state.observe_cycle("inbound", &result);
    assert!(result.unwrap().handoffs > 0);
    assert_eq!(admin.get("/readyz").await.0, 200);

    // The same events again (HubSpot retries): 200, nothing new, nothing queued.
    let (code, json) = deliver(&admin, body, WEBHOOK_SECRET, now + 1000).await;
    assert_eq!((code, &json["new"]), (200, &Value::from(0)), "{json}");
    assert!(admin.commands.try_recv().is_err());

    // A verified body that is not an array of events: 400 (HubSpot does not retry it).
    assert_eq!(
        deliver(&admin, r#"{"not":"an array"}"#, WEBHOOK_SECRET, now)
            .await
            .0,
        400
    );
    let (_, metrics) = admin.get("/metrics").await;
    for outcome in [
        "accepted",
        "duplicate",
        "bad_signature",
        "stale",
        "malformed",
    ] {
        assert!(
            metrics.contains(&format!(
                r#"leadbridge_webhook_deliveries_total{{source="hubspot",outcome="{outcome}"}}"#
            )),
            "{outcome}:\n{metrics}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_non_loopback_admin_address_needs_the_setting() {
    let world = small_world().await;
    let mut config = world.config().daemon;
    config.admin_listen = "0.0.0.0:0".parse().unwrap();
    let err = leadbridge::admin::bind(&config).await.unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::PermissionDenied);
    assert!(err.to_string().contains("admin_allow_non_loopback"));
    config.admin_allow_non_loopback = true;
    let listener = leadbridge::admin::bind(&config).await.unwrap();
    assert!(listener.local_addr().unwrap().port() > 0);
    config.admin_listen = "127.0.0.1:0".parse().unwrap();
    config.admin_allow_non_loopback = false;
    assert!(leadbridge::admin::bind(&config).await.is_ok());
}

/// Sales-side funnel events as the SLA work records them, so the page's
/// funnel and SLA parts are drawn with data (the engine itself only
/// records handoffs).
async fn add_sales_events(store: &Arc<dyn StateStore>) {
    let handed: Vec<Event> = store
        .events("inbound", Timestamp::MIN, Timestamp::MAX)
        .await
        .unwrap();
    let now = Timestamp::now();
    let mut commit = Commit::new("inbound");
    for (i, e) in handed.iter().enumerate() {
        let at = now - SignedDuration::from_mins(30 - (i as i64 % 30));
        let id = e.marketing_id.clone();
        if i % 5 == 4 {
            commit.event(Event::new(at, EventKind::SlaBreached, id.clone()));
        }
        if i % 5 != 4 || i % 10 == 9 {
            commit.event(Event::new(at, EventKind::Accepted, id.clone()));
        }
        if i % 3 == 0 {
            commit.event(Event::new(at, EventKind::Converted, id.clone()));
        }
        if i % 9 == 0 {
            commit.event(Event::new(at, EventKind::Won, id));
        }
    }
    store.commit(&commit).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_status_page_renders_in_headless_chromium() {
    let world = World::start(WorldOptions::default()).await;
    let daemon = world.daemon();
    let admin = Admin::start(&daemon).await;
    cycle_and_report(&daemon, &admin.state).await;
    add_sales_events(&daemon.store).await;
    let mut commit = Commit::new("inbound");
    commit.dead_letter(dead_letter("1017", Default::default()));
    daemon.store.commit(&commit).await.unwrap();

    let tmp = tempfile::tempdir().unwrap();
    let png = tmp.path().join("status.png");
    let url = format!("{}/status", admin.url);
    let chromium = |extra: Vec<String>| {
        let mut cmd = tokio::process::Command::new("chromium");
        cmd.args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
        ])
        .arg(format!(
            "--user-data-dir={}",
            tmp.path().join("profile").display()
        ))
        .args(extra)
        .arg(&url)
        .kill_on_drop(true);
        cmd
    };
    let shot = chromium(vec![
        format!("--screenshot={}", png.display()),
        "--window-size=1280,1000".into(),
    ])
    .output()
    .await
    .expect("chromium runs (Debian's `chromium`, installed by .ci/run)");
    assert!(
        png.exists(),
        "no screenshot: {}",
        String::from_utf8_lossy(&shot.stderr)
    );
    let bytes = std::fs::read(&png).unwrap();
    assert_eq!(&bytes[1..4], b"PNG");
    assert!(
        bytes.len() > 20_000,
        "a blank page is a few KB; got {}",
        bytes.len()
    );
    if let Ok(out) = std::env::var("LEADBRIDGE_STATUS_SCREENSHOT") {
        std::fs::copy(&png, out).unwrap();
    }

    let dom = chromium(vec!["--dump-dom".into()]).output().await.unwrap();
    let dom = String::from_utf8_lossy(&dom.stdout);
    assert!(dom.contains("inbound"), "{dom}");
    assert!(dom.contains("<svg") && dom.contains("Handed off"), "{dom}");
    assert!(dom.contains("SLA compliance") && !dom.contains("no SLA data yet"));
}

/// Events of one lead: qualified and handed off at `at`, with a source,
/// campaign and owner; `accepted` adds a first touch.
fn lead_events(id: &str, at: Timestamp, source: &str, owner: &str, accepted: bool) -> Vec<Event> {
    let mut kinds = vec![EventKind::Qualified, EventKind::HandedOff];
    if accepted {
        kinds.push(EventKind::Accepted);
    }
    kinds
        .into_iter()
        .map(|kind| {
            let mut e = Event::new(at, kind, id);
            e.source = Some(source.into());
            e.campaign = Some("=cmd|' /C calc'!A0".into());
            e.owner = Some(owner.into());
            e
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_funnel_uses_reports_stages_and_the_chosen_window_and_grouping() {
    let world = World::start(WorldOptions {
        contacts: 0,
        ..WorldOptions::default()
    })
    .await;
    let daemon = world.daemon();
    let admin = Admin::start(&daemon).await;
    let now = daemon.clock.now();
    let mut commit = Commit::new("inbound");
    // 3 leads this week (2 from web, one accepted), 2 a month and a half ago (ads).
    for (id, days, source, owner, accepted) in [
        ("m1", 1, "web", "u1", true),
        ("m2", 2, "web", "u2", false),
        ("m3", 3, "event", "u1", false),
        ("m4", 45, "ads", "u2", true),
        ("m5", 50, "ads", "u2", false),
    ] {
        let at = now - SignedDuration::from_hours(24 * days);
        for e in lead_events(id, at, source, owner, accepted) {
            commit.event(e);
        }
    }
    daemon.store.commit(&commit).await.unwrap();

    let counts = |json: &Value| -> Vec<(String, u64)> {
        json["funnel"]["stages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| {
                (
                    s["key"].as_str().unwrap().to_owned(),
                    s["count"].as_u64().unwrap(),
                )
            })
            .collect()
    };
    // The stages are report's, in report's order; the first bar is the MQLs.
    let json = admin.status_json().await;
    let keys: Vec<String> = counts(&json).into_iter().map(|(k, _)| k).collect();
    let report_keys: Vec<&str> = leadbridge::report::STAGES.iter().map(|(k, _)| *k).collect();
    assert_eq!(keys, report_keys);
    assert_eq!(json["funnel"]["window_days"], 30);
    assert_eq!(
        counts(&json).iter().map(|(_, n)| *n).collect::<Vec<_>>(),
        [3, 3, 1, 0, 0],
        "30 days: m1..m3"
    );
    // report agrees on the same window: 3 qualified, 3 handed off, 1 accepted.
    let events = daemon
        .store
        .events(
            "inbound",
            now - SignedDuration::from_hours(24 * 30),
            now + SignedDuration::from_secs(1),
        )
        .await
        .unwrap();
    let r = leadbridge::report::report(&events, None);
    assert_eq!(
        (
            r.total.counts.qualified,
            r.total.counts.handed_off,
            r.total.counts.accepted
        ),
        (3, 3, 1)
    );

    let (code, body) = admin.get("/api/status?days=90").await;
    assert_eq!(code, 200, "{body}");
    let json: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(json["funnel"]["window_days"], 90);
    assert_eq!(counts(&json)[0].1, 5, "90 days: all five");
    let (_, body) = admin.get("/api/status?days=7&by=source").await;
    let json: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(json["funnel"]["by"], "source");
    let groups: Vec<(String, Vec<u64>)> = json["funnel"]["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| {
            (
                g["group"].as_str().unwrap().to_owned(),
                g["stages"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|s| s["count"].as_u64().unwrap())
                    .collect(),
            )
        })
        .collect();
    assert_eq!(
        groups,
        [
            ("event".to_owned(), vec![1, 1, 0, 0, 0]),
            ("web".to_owned(), vec![2, 2, 1, 0, 0]),
        ]
    );
    let (_, body) = admin.get("/api/status?days=90&by=owner").await;
    let json: Value = serde_json::from_str(&body).unwrap();
    let owners: Vec<&str> = json["funnel"]["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["group"].as_str().unwrap())
        .collect();
    assert_eq!(owners, ["u1", "u2"]);
    for bad in ["/api/status?days=14", "/status?by=color", "/status?days=x"] {
        assert_eq!(admin.get(bad).await.0, 400, "{bad}");
    }
    // The page: the choices as links, the grouped table, the campaign escaped.
    let (code, page) = admin.get("/status?days=90&by=campaign").await;
    assert_eq!(code, 200);
    assert!(page.contains("last 90 days"), "{page}");
    for link in [
        "/status?days=7&amp;by=campaign",
        "/status?days=30&amp;by=campaign",
        "/status?days=90",
    ] {
        assert!(page.contains(link), "{link}");
    }
    assert!(page.contains(">Qualified (MQL)<") && page.contains(">Handed off<"));
    assert!(
        page.contains("=cmd|&#39; /C calc&#39;!A0")
            || page.contains("=cmd|&#x27; /C calc&#x27;!A0"),
        "{page}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reload_that_changes_the_handoff_rule_says_how_new_leads_are_picked_up() {
    let world = small_world().await;
    let daemon = world.daemon();
    let admin = Admin::start(&daemon).await;
    // A reload with the same config: no notice.
    admin.state.set_topology(
        daemon.built.connectors.clone(),
        daemon.built.pipelines.clone(),
        Vec::new(),
    );
    assert!(admin.status_json().await["pipelines"][0]
        .get("rule_changed")
        .is_none());
    // The rule changes, as a reload of an edited config builds it.
    let text = std::fs::read_to_string(&world.config_path).unwrap();
    let edited = text.replace("score >= 60", "score >= 40");
    assert_ne!(text, edited);
    std::fs::write(&world.config_path, edited).unwrap();
    let config = world.config();
    let pipeline = leadbridge::engine::build::pipeline(
        &config,
        &config.pipelines[0],
        &daemon.built.connectors,
    )
    .unwrap();
    let mut pipelines = daemon.built.pipelines.clone();
    pipelines[0].pipeline = pipeline;
    admin
        .state
        .set_topology(daemon.built.connectors.clone(), pipelines, Vec::new());
    let json = admin.status_json().await;
    let change = &json["pipelines"][0]["rule_changed"];
    assert!(
        change["before"].as_str().unwrap().contains("score >= 60"),
        "{change}"
    );
    assert!(
        change["now"].as_str().unwrap().contains("score >= 40"),
        "{change}"
    );
    assert!(
        change["advice"]
            .as_str()
            .unwrap()
            .contains("resync --only-unlinked --pipeline inbound"),
        "{change}"
    );
    let page = admin.get("/status").await.1;
    assert!(page.contains("Handoff rule changed"), "{page}");
    assert!(page.contains("leadbridge resync --only-unlinked --pipeline inbound"));
    // The admin resync (marketing only) clears it and keeps the CRM cursor.
    cycle_and_report(&daemon, &admin.state).await;
    let before = daemon.store.cursors("inbound").await.unwrap();
    assert!(
        before.iter().any(|c| c.side == Side::Marketing),
        "{before:?}"
    );
    let (code, body) = admin
        .post(
            "/api/pipelines/inbound/resync?only_unlinked=true",
            Some(ADMIN_TOKEN),
        )
        .await;
    assert_eq!(code, 202, "{body}");
    assert_eq!(body["cursors"], "marketing reset");
    let after = daemon.store.cursors("inbound").await.unwrap();
    assert!(after.iter().all(|c| c.side != Side::Marketing), "{after:?}");
    let crm_before: Vec<_> = before.iter().filter(|c| c.side == Side::Crm).collect();
    let crm_after: Vec<_> = after.iter().filter(|c| c.side == Side::Crm).collect();
    assert_eq!(crm_before, crm_after, "the CRM cursor stays");
    assert!(admin.status_json().await["pipelines"][0]
        .get("rule_changed")
        .is_none());
}
