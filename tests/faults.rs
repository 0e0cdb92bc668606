//! End to end: with a tenth of both simulators' calls failing — 429 with
//! Retry-After, 503, timeouts, garbled JSON, dropped connections, expired
//! tokens — the sync reaches the same end state as without faults: every
//! qualified lead once in the CRM, every feedback change in marketing,
//! nothing in the dead letter queue.

mod support;

use std::collections::BTreeSet;

use leadbridge_core::sim::FaultKind;
use serde_json::json;
use support::*;

fn inject(world: &World) {
    for (sim, oauth) in [(world.hs(), false), (world.sf(), true)] {
        let f = sim.faults();
        f.reseed(20261127);
        f.add(
            FaultKind::RateLimited { retry_after_s: 0 },
            None,
            Some(0.02),
            None,
        );
        f.add(
            FaultKind::ServerError { status: 503 },
            None,
            Some(0.02),
            None,
        );
        f.add(FaultKind::Slow { delay_ms: 1_500 }, None, Some(0.02), None);
        f.add(FaultKind::MalformedJson, None, Some(0.02), None);
        // A private-app token never expires; an OAuth session does.
        let last = if oauth {
            FaultKind::ExpiredToken
        } else {
            FaultKind::DropConnection
        };
        f.add(last, None, Some(0.02), None);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenth_of_calls_failing_reaches_the_same_end_state() {
    let world = World::start(WorldOptions {
        contacts: 1_000,
        connector_extra: "timeout = \"1s\"\nretry = { max_attempts = 10, base_delay = \"5ms\", max_delay = \"1s\", max_total_wait = \"20s\" }",
        ..WorldOptions::default()
    })
    .await;
    let expected: BTreeSet<String> = contacts(&world, 1_000)
        .iter()
        .filter(|c| qualifies(c))
        .map(|c| c.text("email").unwrap().to_lowercase())
        .collect();
    inject(&world);
    let daemon = world.daemon();

    // Cycles that outlive their retries fail as a whole and are simply run
    // again, as the scheduler would; nothing committed is lost.
    let converge = |label: &'static str| {
        let daemon = &daemon;
        async move {
            let mut failures = 0;
            let mut quiet = 0;
            for _ in 0..30 {
                match daemon.run_once(false).await.remove(0).1 {
                    Ok(r)
                        if r.counts.written_crm + r.counts.written_marketing == 0
                            && r.counts.dead_lettered == 0 =>
                    {
                        quiet += 1;
                        if quiet == 2 {
                            return failures;
                        }
                    }
                    Ok(_) => quiet = 0,
                    Err(e) => {
                        assert!(
                            e.connector_error().is_some_and(|c| c.is_retryable()),
                            "{label}: only passing failures: {e}"
                        );
                        failures += 1;
                    }
                }
            }
            panic!("{label}: did not converge in 30 cycles");
        }
    };
    converge("handoff").await;

    let leads = leads(&world).await;
    let emails: Vec<String> = leads
        .iter()
        .map(|l| l["Email"].as_str().unwrap().to_lowercase())
        .collect();
    assert_eq!(emails.len(), expected.len(), "no lead missing or twice");
    assert_eq!(emails.iter().cloned().collect::<BTreeSet<_>>(), expected);

    // Feedback under the same faults.
    let worked: Vec<&serde_json::Value> = leads.iter().step_by(7).collect();
    for lead in &worked {
        world
            .sf()
            .update(
                "Lead",
                lead["Id"].as_str().unwrap(),
                fields(&[("Status", json!("Working - Contacted"))]),
            )
            .unwrap();
    }
    converge("feedback").await;
    for lead in &worked {
        let id = lead["Leadbridge_Id__c"]
            .as_str()
            .unwrap()
            .trim_start_matches("inbound:");
        assert_eq!(
            contact(&world, id).text("hs_lead_status").as_deref(),
            Some("IN_PROGRESS"),
            "feedback for contact {id}"
        );
    }
    assert_eq!(
        daemon.store.counts("inbound").await.unwrap().dead_letters,
        0
    );
    assert_eq!(
        daemon
            .store
            .counts("inbound")
            .await
            .unwrap()
            .pending_intents,
        0
    );
    let hs_usage = daemon.built.connectors["hubspot"].usage();
    let sf_usage = daemon.built.connectors["salesforce"].usage();
    assert!(
        hs_usage.retries > 0 && sf_usage.retries > 0,
        "faults were really met: {hs_usage:?} {sf_usage:?}"
    );
}
