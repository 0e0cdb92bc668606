//! Nothing lost: the CRM checkpoint is held back while feedback read from
//! the CRM waits to be written to marketing. A cycle that stops before the
//! feedback is written leaves the CRM cursor where it was, and the next
//! cycle delivers the feedback.

use leadbridge_core::memory::{CallKind, Fault};
use leadbridge_core::{ConnectorError, Cursor};
use serde_json::json;

use super::harness::*;
use crate::engine::cycle::CycleError;
use crate::state::Side;

fn unavailable() -> Fault {
    Fault::Fail(ConnectorError::Retryable {
        message: "503".into(),
        retry_after: None,
    })
}

/// Ann handed off and settled; returns her contact id, her lead id and
/// the CRM cursor as it stands.
async fn settled(h: &Harness) -> (String, String, Cursor) {
    let id = h
        .handed_off(vec![contact("ann@example.com", 80)])
        .await
        .remove(0);
    let lead_id = h.link(&id).await.expect("linked").state.crm_id;
    let cursor = h.cursor(Side::Crm, LEADS).await.expect("a CRM cursor");
    (id, lead_id, cursor)
}

#[tokio::test]
async fn feedback_not_yet_written_holds_the_crm_cursor_and_is_read_again() {
    let h = Harness::new(Options::default());
    let (id, lead_id, before) = settled(&h).await;

    // Sales works the lead; in the same cycle a new contact qualifies and
    // its CRM look-up fails, so the cycle stops before any feedback is
    // written (and before any intent for it exists).
    h.advance(120);
    h.edit(LEADS, &lead_id, json!({"Status": "Working"}));
    h.contacts(vec![contact("bob@example.com", 90)]);
    h.advance(1);
    h.world.script(CallKind::Lookup, unavailable(), 1);
    h.clear_log();
    let err = h.cycle().await.expect_err("the look-up fails");
    assert!(
        matches!(
            err,
            CycleError::Connector {
                side: Side::Crm,
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(h.world.count_calls(CallKind::Write), 0);
    assert!(h.pending().await.is_empty(), "no write was attempted");
    assert_eq!(
        h.cursor(Side::Crm, LEADS).await,
        Some(before.clone()),
        "the CRM cursor is held back"
    );
    assert!(
        h.committed_cursors(Side::Crm, LEADS).is_empty(),
        "no CRM checkpoint was committed"
    );
    assert_eq!(h.get(CONTACTS, &id).text("status"), None);

    // The next cycle reads the lead again and delivers the status, once.
    h.advance(60);
    h.clear_log();
    let report = h.ok().await;
    assert_eq!(report.counts.written_marketing, 1, "{report:?}");
    assert_eq!(h.write_sizes(CONTACTS), [1]);
    assert_eq!(
        h.get(CONTACTS, &id).text("status").as_deref(),
        Some("Working")
    );
    let lead = h.get(LEADS, &lead_id);
    let after = h.cursor(Side::Crm, LEADS).await.expect("committed");
    assert!(
        after >= Cursor::new(lead.modified_at, lead.id.clone()),
        "the cursor moved past the lead once its feedback was written: {after:?}"
    );
    h.idle_cycles("after the delivery").await;
}

#[tokio::test]
async fn a_failed_feedback_write_holds_the_crm_cursor_and_is_delivered_next_cycle() {
    let h = Harness::new(Options::default());
    let (id, lead_id, before) = settled(&h).await;

    // Sales works the lead; the write to marketing fails.
    h.advance(120);
    h.edit(LEADS, &lead_id, json!({"Status": "Working"}));
    h.advance(1);
    h.world.script(CallKind::Write, unavailable(), 1);
    h.clear_log();
    let err = h.cycle().await.expect_err("the feedback write fails");
    assert!(
        matches!(
            err,
            CycleError::Connector {
                side: Side::Marketing,
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(h.write_sizes(CONTACTS), [1], "the write was attempted");
    assert_eq!(h.cursor(Side::Crm, LEADS).await, Some(before));
    assert!(h.committed_cursors(Side::Crm, LEADS).is_empty());
    let pending = h.pending().await;
    assert_eq!(pending.len(), 1);
    assert_eq!(
        (pending[0].side, pending[0].marketing_id.as_str()),
        (Side::Marketing, id.as_str())
    );
    assert_eq!(h.get(CONTACTS, &id).text("status"), None);

    // The next cycle delivers it once and moves the cursor past the lead.
    h.advance(60);
    h.clear_log();
    h.ok().await;
    assert_eq!(h.write_sizes(CONTACTS), [1], "delivered once");
    assert_eq!(
        h.get(CONTACTS, &id).text("status").as_deref(),
        Some("Working")
    );
    assert!(h.pending().await.is_empty());
    let lead = h.get(LEADS, &lead_id);
    let after = h.cursor(Side::Crm, LEADS).await.expect("committed");
    assert!(
        after >= Cursor::new(lead.modified_at, lead.id.clone()),
        "{after:?}"
    );
    h.idle_cycles("after the delivery").await;
}
