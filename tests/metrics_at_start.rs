//! `/metrics` before the first cycle: every series of the configured
//! pipelines and connectors is there at zero (dashboards show 0, not "No
//! data"), and a cycle then moves them. Its own test binary: the
//! Prometheus recorder is one per process, so no other test's cycle can
//! have counted anything first.

mod support;

use leadbridge::admin::{AdminParts, AdminState};
use support::{cycle, World, WorldOptions};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_are_zero_before_the_first_cycle_and_move_after_it() {
    let world = World::start(WorldOptions {
        contacts: 30,
        ..WorldOptions::default()
    })
    .await;
    let daemon = world.daemon();
    let (tx, _commands) = leadbridge::admin::command_channel();
    let state = AdminState::new(AdminParts {
        store: daemon.store.clone(),
        clock: daemon.clock.clone(),
        connectors: daemon.built.connectors.clone(),
        pipelines: daemon.built.pipelines.clone(),
        commands: tx,
        admin_token: None,
        webhooks: Vec::new(),
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/metrics", listener.local_addr().unwrap());
    tokio::spawn(leadbridge::admin::serve(
        listener,
        state,
        std::future::pending(),
    ));
    let scrape = || async { reqwest::get(&url).await.unwrap().text().await.unwrap() };

    let before = scrape().await;
    let value = |text: &str, series: &str| -> Option<f64> {
        text.lines()
            .find_map(|l| l.strip_prefix(series)?.trim().parse().ok())
    };
    for series in [
        r#"leadbridge_handoffs_total{pipeline="inbound"}"#,
        r#"leadbridge_records_read_total{pipeline="inbound",side="marketing"}"#,
        r#"leadbridge_records_written_total{pipeline="inbound",side="crm"}"#,
        r#"leadbridge_dead_lettered_total{pipeline="inbound",side="marketing"}"#,
        r#"leadbridge_echoes_total{pipeline="inbound"}"#,
        r#"leadbridge_cycles_total{pipeline="inbound",outcome="ok"}"#,
        r#"leadbridge_cycles_total{pipeline="inbound",outcome="failed"}"#,
        r#"leadbridge_cycle_failures_total{pipeline="inbound",reason="retryable"}"#,
        r#"leadbridge_cycle_duration_seconds_count{pipeline="inbound"}"#,
        r#"leadbridge_dlq_size{pipeline="inbound"}"#,
        r#"leadbridge_pipeline_halted{pipeline="inbound"}"#,
        r#"leadbridge_sla_breaches_total{pipeline="inbound"}"#,
        r#"leadbridge_api_retries_total{connector="hubspot"}"#,
        r#"leadbridge_api_retries_total{connector="salesforce"}"#,
    ] {
        assert_eq!(value(&before, series), Some(0.0), "{series}:\n{before}");
    }

    cycle(&daemon).await;
    let after = scrape().await;
    let handoffs = value(&after, r#"leadbridge_handoffs_total{pipeline="inbound"}"#);
    assert!(handoffs.is_some_and(|n| n > 0.0), "{after}");
    assert_eq!(
        value(
            &after,
            r#"leadbridge_cycles_total{pipeline="inbound",outcome="ok"}"#
        ),
        Some(1.0),
        "{after}"
    );
    // Endpoint labels: one form, no record ids.
    for line in after
        .lines()
        .filter(|l| l.starts_with("leadbridge_api_calls_total{"))
    {
        let endpoint = line
            .split("endpoint=\"")
            .nth(1)
            .and_then(|r| r.split('"').next())
            .unwrap_or_else(|| panic!("{line}"));
        assert!(!endpoint.contains('?'), "{line}");
        assert!(
            endpoint.contains(" /") || !endpoint.contains(' '),
            "METHOD /path or a snake_case name: {line}"
        );
    }
}
