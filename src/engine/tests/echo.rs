//! No echo loops: once a handoff is written and the CRM's answer carried
//! back, re-reading either side's records (our own writes, overlap
//! re-reads) finds nothing to do, because every read value equals the
//! fingerprint both sides agreed on.

use leadbridge_core::memory::CallKind;
use serde_json::json;

use super::harness::*;
use crate::state::Side;

#[tokio::test]
async fn after_a_handoff_and_the_crms_answer_idle_cycles_write_nothing() {
    let h = Harness::new(Options::default());
    let ids = h.contacts(vec![
        contact("ann@example.com", 80),
        contact("bob@example.com", 20),
        contact("cy@example.com", 90),
    ]);
    h.advance(1);

    // The handoff: the two qualified contacts become leads, in one write.
    let first = h.ok().await;
    assert_eq!(first.handoffs, 2, "{first:?}");
    assert_eq!(h.write_sizes(LEADS), [2]);
    assert!(h.write_sizes(CONTACTS).is_empty());
    let ann = h.link(&ids[0]).await.expect("Ann is linked");
    assert!(h.link(&ids[1]).await.is_none(), "Bob does not qualify");
    assert!(h.link(&ids[2]).await.is_some());
    let lead = h.get(LEADS, &ann.state.crm_id);
    assert_eq!(lead.text("Email").as_deref(), Some("ann@example.com"));
    assert_eq!(lead.text("LastName").as_deref(), Some("Kato"));
    assert_eq!(lead.text("OwnerId").as_deref(), Some("u1"));
    let last = h.get(CONTACTS, &ids[2]);
    assert_eq!(
        h.cursor(Side::Marketing, CONTACTS).await,
        Some(leadbridge_core::Cursor::new(
            last.modified_at,
            last.id.clone()
        )),
        "the marketing cursor is the pass's checkpoint"
    );

    // The next cycle re-reads the two leads the handoff created: echoes.
    let [settle, _] = h.idle_cycles("re-reading the handoff's own leads").await;
    assert_eq!(settle.counts.read_crm, 2);
    assert_eq!(settle.counts.echoes, 2, "{settle:?}");

    // The CRM answers: sales works Ann's lead; the status reaches marketing.
    h.advance(30);
    h.edit(LEADS, &ann.state.crm_id, json!({"Status": "Working"}));
    h.advance(1);
    h.clear_log();
    let answer = h.ok().await;
    assert_eq!(
        (answer.counts.written_crm, answer.counts.written_marketing),
        (0, 1),
        "{answer:?}"
    );
    let sent = h.marketing_sent();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].records.len(), 1);
    assert_eq!(sent[0].records[0].id.as_deref(), Some(ids[0].as_str()));
    assert_eq!(
        serde_json::Value::Object(sent[0].records[0].fields.clone()),
        json!({"status": "Working"}),
        "only the changed field"
    );
    assert_eq!(
        h.get(CONTACTS, &ids[0]).text("status").as_deref(),
        Some("Working")
    );
    assert_eq!(h.calls(CallKind::Write, LEADS), Vec::<usize>::new());

    // Idle: our write to Ann's contact is read back (twice: once as a
    // change, once in the overlap), and so are the leads; nothing moves.
    let [a, b] = h.idle_cycles("after the CRM's answer").await;
    assert!(a.counts.echoes >= 1 && b.counts.echoes >= 1, "{a:?} {b:?}");
    assert!(
        a.counts.read_marketing >= 1 && b.counts.read_marketing >= 1,
        "the contact written to is re-read: {a:?} {b:?}"
    );
    assert_eq!(h.world.count(LEADS), 2);
    assert_eq!(h.world.count(CONTACTS), 3);
}
