//! Decisions queue across pages: with marketing pages of 4 and CRM batches
//! of 3, handoffs go out in full batches whatever page they came from, one
//! CRM look-up per batch, and a page's checkpoint is committed only once
//! every decision of it and of the pages before it is written.

use leadbridge_core::memory::CallKind;
use leadbridge_core::Cursor;

use super::harness::*;
use crate::state::Side;

#[tokio::test]
async fn handoffs_go_out_in_full_batches_across_pages() {
    let h = Harness::new(Options {
        page_size: 4,
        batch_size: 3,
        ..Options::default()
    });
    // 14 contacts, one second apart so the pages are known: pages of
    // 4, 4, 4, 2 holding 2, 2, 2 and 1 qualified contacts.
    let qualifies = [
        true, false, true, false, // page 1
        false, true, true, false, // page 2
        true, false, false, true, // page 3
        false, true, // page 4
    ];
    let mut ids = Vec::new();
    for (i, q) in qualifies.iter().enumerate() {
        let score = if *q { 80 } else { 10 };
        ids.extend(h.contacts(vec![contact(&format!("p{i:02}@example.com"), score)]));
        h.advance(1);
    }
    let cursor_of = |i: usize| {
        let r = h.get(CONTACTS, &ids[i]);
        Cursor::new(r.modified_at, r.id.clone())
    };
    h.clear_log();
    let report = h.ok().await;
    assert_eq!(report.handoffs, 7, "{report:?}");

    // Four pages read, three writes of 3, 3 and 1, each after one look-up
    // of its own keys.
    assert_eq!(h.calls(CallKind::Changes, CONTACTS).len(), 4);
    assert_eq!(h.write_sizes(LEADS), [3, 3, 1]);
    assert_eq!(h.calls(CallKind::Lookup, LEADS), [3, 3, 1]);
    let emails: Vec<Vec<String>> = h
        .crm_sent()
        .iter()
        .map(|b| b.records.iter().filter_map(|r| r.key.clone()).collect())
        .collect();
    let want: Vec<String> = qualifies
        .iter()
        .enumerate()
        .filter(|(_, q)| **q)
        .map(|(i, _)| format!("p{i:02}@example.com"))
        .collect();
    assert_eq!(
        emails,
        [
            want[0..3].to_vec(),
            want[3..6].to_vec(),
            want[6..7].to_vec()
        ],
        "in read order, across pages"
    );

    // One commit per batch, each with its batch's links and the checkpoint
    // of the last page fully written: after the first batch page 1 (page
    // 2's second handoff still waits), after the second page 3, then page 4.
    let commits: Vec<(usize, Option<Cursor>)> = h
        .store
        .commits()
        .into_iter()
        .filter(|c| !c.links.is_empty())
        .map(|c| {
            let cursor = c
                .cursors
                .iter()
                .find(|(s, o, _)| *s == Side::Marketing && o == CONTACTS)
                .and_then(|(_, _, c)| c.clone());
            (c.links.len(), cursor)
        })
        .collect();
    assert_eq!(
        commits,
        [
            (3, Some(cursor_of(3))),
            (3, Some(cursor_of(11))),
            (1, Some(cursor_of(13))),
        ]
    );
    assert_eq!(
        h.committed_cursors(Side::Marketing, CONTACTS),
        [cursor_of(3), cursor_of(11), cursor_of(13)],
        "no other marketing checkpoint was committed"
    );
    for (i, q) in qualifies.iter().enumerate() {
        assert_eq!(h.link(&ids[i]).await.is_some(), *q, "contact {i}");
    }
    assert_eq!(h.world.count(LEADS), 7);
}
