//! No duplicates: a handoff write is recorded as an intent before it is
//! sent; when its answer is lost (applied, then `OutcomeUnknown`) or it
//! fails before applying, the next cycle replays the intent first, and
//! ends with exactly one CRM record per qualifying contact, linked.
//!
//! The CRM here upserts only on the External ID ([`Harness::with_plain_creates`]):
//! without `upsert_key`, a create keyed on the email creates again, so the
//! replay must look the email up before creating.

use leadbridge_core::memory::{CallKind, Fault};
use leadbridge_core::ConnectorError;

use super::harness::*;
use crate::engine::cycle::external_id;
use crate::state::{EventKind, IntentAction, Side};

const EMAILS: [&str; 4] = [
    "ann@example.com",
    "bob@example.com",
    "cy@example.com",
    "dee@example.com",
];

/// Which contacts qualify (score ≥ 50).
const SCORES: [u32; 4] = [80, 90, 10, 70];

async fn run(upsert_key: bool, fault: Fault) {
    let applied = fault == Fault::ApplyThenLose;
    let what = format!("upsert_key: {upsert_key}, fault: {fault:?}");
    let h = Harness::with_plain_creates(Options {
        upsert_key,
        ..Options::default()
    });
    let ids = h.contacts(
        EMAILS
            .iter()
            .zip(SCORES)
            .map(|(e, s)| contact(e, s))
            .collect(),
    );
    let qualified: Vec<usize> = vec![0, 1, 3];
    h.advance(1);

    // The handoff write fails: the cycle stops, its intents stay pending,
    // and nothing of the page is committed.
    h.world.script(CallKind::Write, fault.clone(), 1);
    let err = h.cycle().await.expect_err("the write fails");
    match (applied, err.connector_error()) {
        (true, Some(ConnectorError::OutcomeUnknown { .. }))
        | (false, Some(ConnectorError::Retryable { .. })) => {}
        (_, other) => panic!("{what}: unexpected {other:?}"),
    }
    assert_eq!(
        h.world.count(LEADS),
        if applied { 3 } else { 0 },
        "{what}: the CRM applied the write or not"
    );
    let pending = h.pending().await;
    let mut pending_ids: Vec<&str> = pending.iter().map(|i| i.marketing_id.as_str()).collect();
    pending_ids.sort();
    let mut want: Vec<&str> = qualified.iter().map(|&i| ids[i].as_str()).collect();
    want.sort();
    assert_eq!(pending_ids, want, "{what}: one intent per handoff");
    assert!(pending.iter().all(|i| i.side == Side::Crm));
    for i in &pending {
        let IntentAction::Write { key_field, record } = &i.action else {
            panic!("{what}: not a write: {i:?}");
        };
        assert_eq!(record.id, None, "{what}: a create");
        if upsert_key {
            assert_eq!(key_field.as_deref(), Some("LeadbridgeId"));
            assert_eq!(record.key, Some(external_id(PIPELINE, &i.marketing_id)));
        } else {
            assert_eq!(key_field.as_deref(), Some("Email"));
        }
    }
    for &i in &qualified {
        assert!(h.link(&ids[i]).await.is_none(), "{what}: no link yet");
    }
    assert_eq!(h.cursor(Side::Marketing, CONTACTS).await, None, "{what}");
    assert!(h.events(EventKind::HandedOff).await.is_empty(), "{what}");

    // The next cycle replays the three writes, once, and the marketing
    // pass finds the contacts linked.
    h.advance(60);
    h.clear_log();
    let report = h.ok().await;
    assert!(h.pending().await.is_empty(), "{what}: replayed");
    assert_eq!(report.handoffs, 3, "{what}: {report:?}");
    for (i, email) in EMAILS.iter().enumerate() {
        let leads = h.leads_with(email);
        let link = h.link(&ids[i]).await;
        if qualified.contains(&i) {
            assert_eq!(leads.len(), 1, "{what}: exactly one lead for {email}");
            let link = link.unwrap_or_else(|| panic!("{what}: {email} linked"));
            assert_eq!(link.state.crm_id, leads[0].id, "{what}: {email}");
            assert_eq!(leads[0].text("LastName").as_deref(), Some("Kato"));
        } else {
            assert!(leads.is_empty() && link.is_none(), "{what}: {email}");
        }
    }
    assert_eq!(
        h.write_sizes(LEADS),
        [3],
        "{what}: only the replay writes: {:?}",
        h.crm_sent()
    );
    let sent = h.crm_sent();
    if upsert_key {
        assert!(
            h.calls(CallKind::Lookup, LEADS).is_empty(),
            "{what}: an upsert needs no look-up"
        );
        assert_eq!(sent[0].key_field.as_deref(), Some("LeadbridgeId"));
        assert!(sent[0].records.iter().all(|r| r.id.is_none()));
    } else {
        assert_eq!(
            h.calls(CallKind::Lookup, LEADS),
            [1, 1, 1],
            "{what}: each create by email is looked up first"
        );
        assert!(
            sent[0].records.iter().all(|r| r.id.is_some() == applied),
            "{what}: found records are updated by id, the rest created: {sent:?}"
        );
    }
    assert_eq!(h.world.count(LEADS), 3, "{what}");
    assert_eq!(h.events(EventKind::HandedOff).await.len(), 3, "{what}");
    assert!(
        h.cursor(Side::Marketing, CONTACTS).await.is_some(),
        "{what}: the page is committed now"
    );

    h.idle_cycles(&what).await;
    assert_eq!(h.world.count(LEADS), 3, "{what}");
}

fn unavailable() -> Fault {
    Fault::Fail(ConnectorError::Retryable {
        message: "503".into(),
        retry_after: None,
    })
}

#[tokio::test]
async fn a_handoff_applied_but_unanswered_is_replayed_by_upsert() {
    run(true, Fault::ApplyThenLose).await;
}

#[tokio::test]
async fn a_handoff_applied_but_unanswered_is_looked_up_before_creating() {
    run(false, Fault::ApplyThenLose).await;
}

#[tokio::test]
async fn a_handoff_that_failed_before_applying_is_created_once_by_upsert() {
    run(true, unavailable()).await;
}

#[tokio::test]
async fn a_handoff_that_failed_before_applying_is_created_once_after_a_look_up() {
    run(false, unavailable()).await;
}
