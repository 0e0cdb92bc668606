//! The store's behaviour, as plain async functions over `&dyn StateStore`
//! (a conformance suite any backend can run), plus what only sled has
//! (reopening, the directory lock, bytes on disk).

use std::os::unix::fs::PermissionsExt;

use jiff::Timestamp;
use leadbridge_core::{Cursor, Fields, WriteRecord};
use secrecy::SecretString;

use super::*;

const P: &str = "inbound";

fn ts(s: &str) -> Timestamp {
    s.parse().unwrap()
}

/// A link as a real pipeline has it: HubSpot id (11 digits), Salesforce
/// ids (18 characters), every hash and time set, times spread over a month
/// and owners over 25 reps (so nothing compresses unrealistically well).
fn realistic(n: u64) -> (String, LinkState) {
    let base = ts("2026-03-04T00:00:00Z");
    let mix = |k: u64| n.wrapping_mul(k).rotate_left(17) ^ n;
    let month_ms = 30 * 86_400_000;
    let at = |k: u64| Some(base + jiff::SignedDuration::from_millis((mix(k) % month_ms) as i64));
    let marketing_id = format!("{}", 10_000_000_000u64 + n * 7919);
    let state = LinkState {
        crm_id: format!("00Q5g0000{:09}", mix(3) % 1_000_000_000).replace('7', "x"),
        marketing: SideSync::default(),
        crm: SideSync {
            written: None,
            read: None,
            modified_at: at(7),
        },
        handed_off_at: at(11),
        owner: Some(format!("0055g00000XyZa{:04}", mix(13) % 25)),
        // Eight synced fields, as the engine stores them.
        agreed: crate::state::Fingerprints(
            (0..8u64)
                .map(|i| ((mix(17 + i) & 0xffff) as u16, mix(31 + i) as u32))
                .collect(),
        ),
    };
    (marketing_id, state)
}

fn letter(id: &str, reason: &str, at: &str) -> DeadLetter {
    let mut fields = Fields::new();
    fields.insert("email".into(), format!("{id}@example.com").into());
    DeadLetter {
        side: Side::Marketing,
        object: "contacts".into(),
        record_id: id.into(),
        fields,
        reason: reason.into(),
        code: Some("REQUIRED_FIELD_MISSING".into()),
        at: ts(at),
    }
}

fn intent(id: IntentId, marketing_id: &str) -> Intent {
    let mut fields = Fields::new();
    fields.insert("LastName".into(), "Tanaka".into());
    Intent {
        id,
        pipeline: P.into(),
        side: Side::Crm,
        object: "Lead".into(),
        marketing_id: marketing_id.into(),
        action: IntentAction::Write {
            key_field: Some("Email".into()),
            record: WriteRecord {
                id: None,
                key: Some(format!("{marketing_id}@example.com")),
                fields,
            },
        },
        canonical_hash: Some(42),
        recorded_at: ts("2026-03-04T05:06:07Z"),
    }
}

async fn commit(store: &dyn StateStore, f: impl FnOnce(&mut Commit)) {
    let mut c = Commit::new(P);
    f(&mut c);
    store.commit(&c).await.unwrap();
}

// ---- the conformance suite: any backend ----

async fn links_are_found_from_both_sides(store: &dyn StateStore) {
    let (m, state) = realistic(1);
    commit(store, |c| {
        c.upsert_link(&m, state.clone());
    })
    .await;
    let by_m = store.link(P, Side::Marketing, &m).await.unwrap().unwrap();
    let by_c = store
        .link(P, Side::Crm, &state.crm_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(by_m, by_c);
    assert_eq!(by_m.state, state);
    assert_eq!(by_m.id(Side::Crm), state.crm_id);
    assert!(store
        .link("other", Side::Marketing, &m)
        .await
        .unwrap()
        .is_none());

    // The CRM record changed id (a merge): the reverse entry moves.
    let mut moved = state.clone();
    moved.crm_id = "00Q5g00000MOVED0001".into();
    commit(store, |c| {
        c.upsert_link(&m, moved.clone());
    })
    .await;
    assert!(store
        .link(P, Side::Crm, &state.crm_id)
        .await
        .unwrap()
        .is_none());
    let ids = vec![moved.crm_id.clone(), "nope".to_owned()];
    let found = store.links(P, Side::Crm, &ids).await.unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[&moved.crm_id].marketing_id, m);
    assert_eq!(store.counts(P).await.unwrap().links, 1);

    commit(store, |c| {
        c.remove_link(&m);
    })
    .await;
    assert!(store.link(P, Side::Marketing, &m).await.unwrap().is_none());
    assert!(store
        .link(P, Side::Crm, &moved.crm_id)
        .await
        .unwrap()
        .is_none());
    assert_eq!(store.counts(P).await.unwrap().links, 0);
}

async fn links_page_in_order(store: &dyn StateStore) {
    commit(store, |c| {
        for n in 0..25 {
            let (m, s) = realistic(n);
            c.upsert_link(m, s);
        }
    })
    .await;
    // Another pipeline whose name extends this one's must not leak in.
    let mut other = Commit::new(format!("{P}2"));
    other.upsert_link("1", LinkState::new("x"));
    store.commit(&other).await.unwrap();

    let mut seen = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let page = store.scan_links(P, after.as_deref(), 10).await.unwrap();
        if page.is_empty() {
            break;
        }
        after = page.last().map(|l| l.marketing_id.clone());
        seen.extend(page.into_iter().map(|l| l.marketing_id));
    }
    let mut expected: Vec<_> = (0..25).map(|n| realistic(n).0).collect();
    expected.sort();
    assert_eq!(seen, expected);
    assert_eq!(store.counts(P).await.unwrap().links, 25);
    assert_eq!(
        store.pipelines().await.unwrap(),
        vec![P.to_owned(), format!("{P}2")]
    );
}

async fn a_failed_commit_applies_nothing(store: &dyn StateStore) {
    let (m1, s1) = realistic(1);
    let id = store.new_intent_id().await.unwrap();
    store.record_intents(&[intent(id, &m1)]).await.unwrap();
    commit(store, |c| {
        c.upsert_link(&m1, s1.clone());
    })
    .await;
    let before = store.dump(&DumpOptions::default()).await.unwrap();

    // Everything a page commits, then a link that would steal m1's CRM
    // record: the whole commit must be refused.
    let mut c = Commit::new(P);
    let (m2, mut s2) = realistic(2);
    c.upsert_link(&m2, s2.clone())
        .dead_letter(letter("77", "bad", "2026-03-04T00:00:00Z"))
        .resolve_intent(id)
        .set_cursor(
            Side::Marketing,
            "contacts",
            Cursor::new(ts("2026-03-04T00:00:00Z"), "5"),
        )
        .event(Event::new(
            ts("2026-03-04T00:00:00Z"),
            EventKind::HandedOff,
            &m2,
        ))
        .set_round_robin("", 3)
        .set_status(PipelineStatus::default());
    s2.crm_id = s1.crm_id.clone();
    c.upsert_link("another", s2);
    let err = store.commit(&c).await.unwrap_err();
    assert!(matches!(err, StateError::LinkConflict { .. }), "{err}");
    assert!(err.to_string().contains(&m1), "{err}");

    let after = store.dump(&DumpOptions::default()).await.unwrap();
    assert_eq!(
        serde_json::to_value(&before).unwrap(),
        serde_json::to_value(&after).unwrap()
    );
    assert!(store.link(P, Side::Marketing, &m2).await.unwrap().is_none());
    assert_eq!(store.pending_intents(P).await.unwrap().len(), 1);
}

async fn cursors_move_and_reset(store: &dyn StateStore) {
    assert!(store.cursor(P, Side::Crm, "Lead").await.unwrap().is_none());
    let c1 = Cursor::new(ts("2026-03-04T05:06:07.123Z"), "00Q1");
    let c2 = Cursor::new(ts("2026-03-04T05:06:08Z"), "17");
    commit(store, |c| {
        c.set_cursor(Side::Crm, "Lead", c1.clone()).set_cursor(
            Side::Marketing,
            "contacts",
            c2.clone(),
        );
    })
    .await;
    assert_eq!(store.cursor(P, Side::Crm, "Lead").await.unwrap(), Some(c1));
    assert_eq!(
        store.cursor(P, Side::Marketing, "contacts").await.unwrap(),
        Some(c2)
    );
    assert!(store
        .cursor(P, Side::Marketing, "Lead")
        .await
        .unwrap()
        .is_none());
    assert_eq!(store.cursors(P).await.unwrap().len(), 2);
    commit(store, |c| {
        c.reset_cursor(Side::Crm, "Lead");
    })
    .await;
    assert!(store.cursor(P, Side::Crm, "Lead").await.unwrap().is_none());
}

async fn dead_letters_count_attempts(store: &dyn StateStore) {
    commit(store, |c| {
        c.dead_letter(letter(
            "501",
            "Required fields are missing: [LastName]",
            "2026-03-04T01:00:00Z",
        ))
        .dead_letter(letter("502", "other", "2026-03-04T01:00:00Z"));
    })
    .await;
    commit(store, |c| {
        c.dead_letter(letter("501", "still missing", "2026-03-04T02:00:00Z"));
    })
    .await;
    let e = store
        .dead_letter(P, Side::Marketing, "501")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(e.attempts, 2);
    assert_eq!(e.first_seen, ts("2026-03-04T01:00:00Z"));
    assert_eq!(e.last_seen, ts("2026-03-04T02:00:00Z"));
    assert_eq!(e.reason, "still missing");
    assert_eq!(e.code.as_deref(), Some("REQUIRED_FIELD_MISSING"));
    assert_eq!(e.fields["email"], "501@example.com");
    assert!(store
        .dead_letter(P, Side::Crm, "501")
        .await
        .unwrap()
        .is_none());
    let all = store.dead_letters(P).await.unwrap();
    assert_eq!(
        all.iter().map(|e| e.record_id.as_str()).collect::<Vec<_>>(),
        ["501", "502"]
    );
    assert_eq!(store.counts(P).await.unwrap().dead_letters, 2);

    commit(store, |c| {
        c.remove_dead_letter(Side::Marketing, "501")
            .remove_dead_letter(Side::Marketing, "never-there");
    })
    .await;
    assert!(store
        .dead_letter(P, Side::Marketing, "501")
        .await
        .unwrap()
        .is_none());
    assert_eq!(store.counts(P).await.unwrap().dead_letters, 1);
}

async fn intents_wait_until_resolved(store: &dyn StateStore) {
    let a = store.new_intent_id().await.unwrap();
    let b = store.new_intent_id().await.unwrap();
    assert!(b > a);
    store
        .record_intents(&[intent(a, "100"), intent(b, "200")])
        .await
        .unwrap();
    // Recording again (a retry) replaces, it does not add.
    store.record_intents(&[intent(b, "200")]).await.unwrap();
    let pending = store.pending_intents(P).await.unwrap();
    assert_eq!(pending, vec![intent(a, "100"), intent(b, "200")]);
    assert_eq!(store.counts(P).await.unwrap().pending_intents, 2);
    assert!(store.pending_intents("other").await.unwrap().is_empty());

    let (m, s) = realistic(100);
    commit(store, |c| {
        c.upsert_link(m, s).resolve_intent(a);
    })
    .await;
    assert_eq!(
        store.pending_intents(P).await.unwrap(),
        vec![intent(b, "200")]
    );
    assert_eq!(store.counts(P).await.unwrap().pending_intents, 1);
    // Resolving twice (a replay after the commit) is harmless.
    commit(store, |c| {
        c.resolve_intent(a).resolve_intent(b);
    })
    .await;
    assert!(store.pending_intents(P).await.unwrap().is_empty());
    assert_eq!(store.counts(P).await.unwrap().pending_intents, 0);
}

async fn round_robin_and_status_are_kept(store: &dyn StateStore) {
    assert_eq!(store.round_robin(P, "").await.unwrap(), 0);
    let status = PipelineStatus {
        last_cycle_started: Some(ts("2026-03-04T00:00:00Z")),
        last_cycle_finished: Some(ts("2026-03-04T00:00:05Z")),
        last_cycle: CycleCounts {
            read_marketing: 10,
            written_crm: 3,
            ..CycleCounts::default()
        },
        totals: CycleCounts {
            read_marketing: 100,
            ..CycleCounts::default()
        },
        last_error: Some("HubSpot answered 503".into()),
        last_error_at: Some(ts("2026-03-03T00:00:00Z")),
    };
    commit(store, |c| {
        c.set_round_robin("", 7)
            .set_round_robin("managers", 2)
            .set_status(status.clone());
    })
    .await;
    assert_eq!(store.round_robin(P, "").await.unwrap(), 7);
    assert_eq!(store.round_robin(P, "managers").await.unwrap(), 2);
    assert_eq!(store.round_robins(P).await.unwrap().len(), 2);
    assert_eq!(store.status(P).await.unwrap(), Some(status));
    assert!(store.status("other").await.unwrap().is_none());
}

async fn events_scan_by_time(store: &dyn StateStore) {
    let at = |s: &str, kind, id: &str| Event::new(ts(s), kind, id);
    let mut accepted = at("2026-03-04T10:00:00Z", EventKind::Accepted, "2");
    accepted.owner = Some("0051".into());
    accepted.detail.insert("minutes".into(), 42.into());
    commit(store, |c| {
        // Out of order, and two at the same instant.
        c.event(at("2026-03-05T00:00:00Z", EventKind::Won, "1"))
            .event(at("2026-03-04T09:00:00Z", EventKind::HandedOff, "1"))
            .event(at("2026-03-04T09:00:00Z", EventKind::HandedOff, "2"))
            .event(accepted.clone());
    })
    .await;
    let all = store
        .events(P, Timestamp::MIN, Timestamp::MAX)
        .await
        .unwrap();
    let ids: Vec<_> = all
        .iter()
        .map(|e| (e.kind, e.marketing_id.as_str()))
        .collect();
    assert_eq!(
        ids,
        [
            (EventKind::HandedOff, "1"),
            (EventKind::HandedOff, "2"),
            (EventKind::Accepted, "2"),
            (EventKind::Won, "1"),
        ]
    );
    assert_eq!(all[2], accepted);
    // From is inclusive, until exclusive.
    let window = store
        .events(P, ts("2026-03-04T09:00:00Z"), ts("2026-03-04T10:00:00Z"))
        .await
        .unwrap();
    assert_eq!(window.len(), 2);
    assert!(store
        .events("other", Timestamp::MIN, Timestamp::MAX)
        .await
        .unwrap()
        .is_empty());
}

async fn bad_pipeline_names_are_refused(store: &dyn StateStore) {
    assert!(matches!(
        store
            .commit(&Commit::new("a\0b").set_round_robin("", 1).clone())
            .await,
        Err(StateError::InvalidName { .. })
    ));
    assert!(store.link("", Side::Marketing, "1").await.is_err());
}

async fn outcomes_are_kept_by_outcome_id_with_their_events(store: &dyn StateStore) {
    let mut outcome = OutcomeLink {
        outcome_id: "006A".into(),
        marketing_id: "1001".into(),
        lead_id: "00QA".into(),
        converted_at: ts("2026-03-04T09:00:00Z"),
        agreed: Fingerprints::default(),
        closed: None,
        owner: Some("0051".into()),
        source: Some("web".into()),
        campaign: None,
    };
    let converted = Event::new(outcome.converted_at, EventKind::Converted, "1001");
    commit(store, |c| {
        c.set_outcome(outcome.clone()).event(converted.clone());
    })
    .await;
    assert_eq!(
        store.outcome(P, "006A").await.unwrap(),
        Some(outcome.clone())
    );
    assert_eq!(store.outcome(P, "006B").await.unwrap(), None);
    assert_eq!(store.outcome("other", "006A").await.unwrap(), None);
    outcome.closed = Some(EventKind::Won);
    outcome.agreed.0.insert(7, 42);
    commit(store, |c| {
        c.set_outcome(outcome.clone());
    })
    .await;
    let found = store
        .outcomes(P, &["006A".to_owned(), "006B".to_owned()])
        .await
        .unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found["006A"], outcome);
    let events = store
        .events(P, Timestamp::MIN, Timestamp::MAX)
        .await
        .unwrap();
    assert_eq!(events, [converted]);
}

/// Runs every conformance case, each on a fresh store from `fresh`.
async fn conformance<S: StateStore>(fresh: impl Fn() -> S) {
    links_are_found_from_both_sides(&fresh()).await;
    links_page_in_order(&fresh()).await;
    a_failed_commit_applies_nothing(&fresh()).await;
    cursors_move_and_reset(&fresh()).await;
    dead_letters_count_attempts(&fresh()).await;
    intents_wait_until_resolved(&fresh()).await;
    round_robin_and_status_are_kept(&fresh()).await;
    events_scan_by_time(&fresh()).await;
    bad_pipeline_names_are_refused(&fresh()).await;
    outcomes_are_kept_by_outcome_id_with_their_events(&fresh()).await;
}

// ---- sled ----

#[tokio::test]
async fn sled_store_passes_the_conformance_suite() {
    let root = tempfile::tempdir().unwrap();
    let n = std::sync::atomic::AtomicUsize::new(0);
    conformance(|| {
        let i = n.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        SledStore::open(root.path().join(i.to_string())).unwrap()
    })
    .await;
}

#[tokio::test]
async fn everything_survives_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let (m, s) = realistic(9);
    let cursor = Cursor::new(ts("2026-03-04T05:06:07Z"), "9");
    let pending;
    {
        let store = SledStore::open(dir.path()).unwrap();
        let id = store.new_intent_id().await.unwrap();
        pending = intent(id, &m);
        store
            .record_intents(std::slice::from_ref(&pending))
            .await
            .unwrap();
        commit(&store, |c| {
            c.upsert_link(&m, s.clone())
                .set_cursor(Side::Marketing, "contacts", cursor.clone())
                .dead_letter(letter("13", "bad", "2026-03-04T00:00:00Z"))
                .event(Event::new(
                    ts("2026-03-04T00:00:00Z"),
                    EventKind::HandedOff,
                    &m,
                ))
                .set_round_robin("", 5);
        })
        .await;
    }
    let store = SledStore::open(dir.path()).unwrap();
    assert_eq!(
        store
            .link(P, Side::Crm, &s.crm_id)
            .await
            .unwrap()
            .unwrap()
            .state,
        s
    );
    assert_eq!(
        store.cursor(P, Side::Marketing, "contacts").await.unwrap(),
        Some(cursor)
    );
    assert_eq!(
        store.pending_intents(P).await.unwrap(),
        vec![pending.clone()]
    );
    assert_eq!(store.dead_letters(P).await.unwrap().len(), 1);
    assert_eq!(
        store
            .events(P, Timestamp::MIN, Timestamp::MAX)
            .await
            .unwrap()
            .len(),
        1
    );
    assert_eq!(store.round_robin(P, "").await.unwrap(), 5);
    assert_eq!(
        store.counts(P).await.unwrap(),
        PipelineCounts {
            links: 1,
            dead_letters: 1,
            pending_intents: 1
        }
    );
    // Intent ids keep growing across restarts: a replayed id is never reused.
    assert!(store.new_intent_id().await.unwrap() > pending.id);
}

#[tokio::test]
async fn a_second_opener_is_told_another_instance_has_the_directory() {
    let dir = tempfile::tempdir().unwrap();
    let first = SledStore::open(dir.path()).unwrap();
    let err = SledStore::open(dir.path()).unwrap_err();
    assert!(matches!(err, StateError::Locked { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(msg.contains("another leadbridge instance"), "{msg}");
    assert!(msg.contains(&dir.path().display().to_string()), "{msg}");
    drop(first);
    // Released with the store: a restart gets it.
    SledStore::open(dir.path()).unwrap();
}

#[tokio::test]
async fn the_state_directory_is_owner_only() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("state");
    let store = SledStore::open(&dir).unwrap();
    let mode = std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o700);
    store.vault().unwrap();
    let mode = std::fs::metadata(dir.join("tokens"))
        .unwrap()
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o700);
}

#[tokio::test]
async fn a_dump_shows_state_and_no_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let store = SledStore::open(dir.path()).unwrap();
    let configured = SecretString::from("configured-refresh-secret");
    store
        .vault()
        .unwrap()
        .store(
            "sf",
            &configured,
            &SecretString::from("rotated-refresh-secret"),
        )
        .unwrap();
    let (m, s) = realistic(3);
    commit(&store, |c| {
        c.upsert_link(&m, s.clone())
            .dead_letter(letter("13", "bad", "2026-03-04T00:00:00Z"));
    })
    .await;
    let dump = store.dump(&DumpOptions::default()).await.unwrap();
    let json = serde_json::to_string_pretty(&dump).unwrap();
    assert!(json.contains(&s.crm_id), "{json}");
    assert!(json.contains("\"dead_letters\": 1"), "{json}");
    assert!(!json.contains("refresh-secret"), "{json}");
}

/// Bytes of sled per link, measured on disk after flushing 20,000
/// realistic links committed 100 per page, as the engine does.
///
/// The benchmark's target is 300 bytes; sled 0.34 does not reach it with two
/// entries per link (forward and reverse). Measured: about 150 bytes of keys
/// and values per link, 450-600 on disk, because sled costs roughly 150 bytes
/// per entry (16-item leaves rewritten every 10 updates, segments cleaned
/// only below 50% live, and the file never shrinks) plus 1.5 bytes per byte
/// stored. This test pins the measured figure so a regression shows; the
/// ways to reach 300 are in the module docs ("Bytes per link").
#[tokio::test]
async fn bytes_of_sled_per_link_are_measured() {
    const LINKS: u64 = 20_000;
    let dir = tempfile::tempdir().unwrap();
    let store = SledStore::open(dir.path()).unwrap();
    store.flush().await.unwrap();
    let empty = store.size_on_disk().unwrap();
    for page in 0..LINKS / 100 {
        let mut c = Commit::new(P);
        for n in page * 100..(page + 1) * 100 {
            let (m, s) = realistic(n);
            c.upsert_link(m, s);
        }
        store.commit(&c).await.unwrap();
    }
    let full = store.size_on_disk().unwrap();
    let per_link = (full - empty) as f64 / LINKS as f64;
    let (m, s) = realistic(1);
    let logical = P.len() + 1 + m.len() + codec::encode_link(&s).len() // forward
        + P.len() + 1 + s.crm_id.len() + m.len(); // reverse
    println!(
        "sled bytes per link: {per_link:.0} on disk ({full} - {empty} bytes for {LINKS} links); \
         {logical} bytes of keys and values"
    );
    assert_eq!(store.counts(P).await.unwrap().links, LINKS);
    assert!(
        logical <= 160,
        "{logical} bytes of keys and values per link"
    );
    assert!(per_link <= 650.0, "{per_link:.0} bytes per link on disk");
}
