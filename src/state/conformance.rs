//! The state store's conformance suite: plain async functions over
//! `&dyn StateStore`, one per behaviour of the contract, that every backend
//! runs as is ([`run_all`]): the sled store and the memory store today, a
//! PostgreSQL backend tomorrow. A test suite shipped in the library (as
//! `leadbridge_conformance` is for connectors) so a backend in another
//! crate can run it; it panics on the first broken expectation.

use jiff::Timestamp;
use leadbridge_core::{Cursor, Fields, WriteRecord};

use super::*;

/// The pipeline the cases write to.
pub const P: &str = "inbound";

/// A timestamp from RFC 3339 text (the cases write times as text).
pub fn ts(s: &str) -> Timestamp {
    s.parse().unwrap()
}

/// A link as a real pipeline has it: HubSpot id (11 digits), Salesforce
/// ids (18 characters), every hash and time set, times spread over a month
/// and owners over 25 reps (so nothing compresses unrealistically well).
pub fn realistic(n: u64) -> (String, LinkState) {
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
        // One link in fifty follows a converted lead's contact.
        crm_object: (n % 50 == 7).then(|| "Contact".to_string()),
        agreed: crate::state::Fingerprints(
            (0..8u64)
                .map(|i| ((mix(17 + i) & 0xffff) as u16, mix(31 + i) as u32))
                .collect(),
        ),
    };
    (marketing_id, state)
}

/// A dead letter of marketing record `id`, as the engine parks one.
pub fn letter(id: &str, reason: &str, at: &str) -> DeadLetter {
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

/// A pending handoff intent for marketing record `marketing_id`.
pub fn intent(id: IntentId, marketing_id: &str) -> Intent {
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

/// Applies one commit built by `f`, which must succeed.
pub async fn commit(store: &dyn StateStore, f: impl FnOnce(&mut Commit)) {
    let mut c = Commit::new(P);
    f(&mut c);
    store.commit(&c).await.unwrap();
}

// ---- the conformance suite: any backend ----

/// The engine finds a pair by either id: a CRM change must reach its marketing record.
pub async fn links_are_found_from_both_sides(store: &dyn StateStore) {
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

/// Resync and sweeps page through every link in marketing-id order, without gaps.
pub async fn links_page_in_order(store: &dyn StateStore) {
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

/// A refused commit (a link conflict) leaves nothing behind: the invariant a crash-safe page needs.
pub async fn a_failed_commit_applies_nothing(store: &dyn StateStore) {
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

/// Cursors move with commits and reset for a resync.
pub async fn cursors_move_and_reset(store: &dyn StateStore) {
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

/// A record parked again counts its attempts and keeps its first sighting; removal clears it.
pub async fn dead_letters_count_attempts(store: &dyn StateStore) {
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

/// Intents stay pending until a commit resolves them: what replay after a crash reads.
pub async fn intents_wait_until_resolved(store: &dyn StateStore) {
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

/// Round-robin positions and the pipeline status survive between cycles.
pub async fn round_robin_and_status_are_kept(store: &dyn StateStore) {
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
        last_error: Some("the marketing tool answered 503".into()),
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

/// Funnel events come back by time window, in time then commit order.
pub async fn events_scan_by_time(store: &dyn StateStore) {
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

/// A pipeline name that cannot key state is an error, not a silent mix-up.
pub async fn bad_pipeline_names_are_refused(store: &dyn StateStore) {
    assert!(matches!(
        store
            .commit(&Commit::new("a\0b").set_round_robin("", 1).clone())
            .await,
        Err(StateError::InvalidName { .. })
    ));
    assert!(store.link("", Side::Marketing, "1").await.is_err());
}

/// Outcome links are found by the outcome record's id, with their events.
pub async fn outcomes_are_kept_by_outcome_id_with_their_events(store: &dyn StateStore) {
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

/// Any window of time returns exactly the events inside it (report periods cut anywhere).
pub async fn event_windows_cut_anywhere(store: &dyn StateStore) {
    // One commit, events spread over a minute and a half (more than one
    // chunk's span) and many at one instant.
    let base = ts("2026-03-04T09:00:00Z");
    let at = |ms: i64| base + jiff::SignedDuration::from_millis(ms);
    let mut events = Vec::new();
    for n in 0..400i64 {
        let mut e = Event::new(at(n * 237), EventKind::Qualified, n.to_string());
        e.owner = Some(format!("005{}", n % 3));
        events.push(e);
        let mut e = Event::new(at(n * 237), EventKind::HandedOff, n.to_string());
        e.crm_id = Some(format!("00Q{n:05}"));
        events.push(e);
    }
    // And some at one instant, after the others in commit order.
    for n in 0..50 {
        events.push(Event::new(
            at(5_000),
            EventKind::Accepted,
            format!("late{n}"),
        ));
    }
    commit(store, |c| {
        for e in events.iter().rev().take(50).rev() {
            c.event(e.clone());
        }
        for e in events.iter().take(800) {
            c.event(e.clone());
        }
    })
    .await;
    // Expected: time order; at one instant, commit order.
    let mut expected: Vec<(usize, &Event)> = events
        .iter()
        .rev()
        .take(50)
        .rev()
        .chain(events.iter().take(800))
        .enumerate()
        .collect();
    expected.sort_by_key(|(i, e)| (e.at, *i));
    let expected: Vec<Event> = expected.into_iter().map(|(_, e)| e.clone()).collect();
    let all = store
        .events(P, Timestamp::MIN, Timestamp::MAX)
        .await
        .unwrap();
    assert_eq!(all, expected);
    for (from, until) in [
        (0, 1),
        (4_000, 5_000),
        (5_000, 5_001),
        (1, 94_800),
        (60_000, 61_000),
    ] {
        let window = store.events(P, at(from), at(until)).await.unwrap();
        let want: Vec<&Event> = expected
            .iter()
            .filter(|e| e.at >= at(from) && e.at < at(until))
            .collect();
        assert_eq!(window.iter().collect::<Vec<_>>(), want, "{from}..{until}");
    }
}

/// Random upserts, moves and removals agree with a plain map, both ways.
pub async fn links_agree_with_a_model(store: &dyn StateStore) {
    use std::collections::BTreeMap;
    // marketing id -> state; CRM ids unique among live links.
    let mut model: BTreeMap<String, LinkState> = BTreeMap::new();
    for page in 0..30u64 {
        let mut c = Commit::new(P);
        for j in 0..97u64 {
            let n = (page * 7_919 + j * 104_729) % 3_000;
            let (m, mut s) = realistic(n);
            match (page + j) % 7 {
                0 => {
                    c.remove_link(&m);
                    model.remove(&m);
                    continue;
                }
                // The CRM record changed id (merged): the reverse entry moves.
                1 => s.crm_id = format!("00Q-moved-{page}-{n}"),
                _ => {}
            }
            if model.values().any(|o| o.crm_id == s.crm_id)
                && model.get(&m).map(|o| &o.crm_id) != Some(&s.crm_id)
            {
                continue;
            }
            c.upsert_link(&m, s.clone());
            model.insert(m, s);
        }
        store.commit(&c).await.unwrap();
    }
    assert_eq!(store.counts(P).await.unwrap().links, model.len() as u64);
    let ids: Vec<String> = model.keys().cloned().chain(["nope".to_owned()]).collect();
    let by_m = store.links(P, Side::Marketing, &ids).await.unwrap();
    assert_eq!(by_m.len(), model.len());
    let crm_ids: Vec<String> = model.values().map(|s| s.crm_id.clone()).collect();
    let by_c = store.links(P, Side::Crm, &crm_ids).await.unwrap();
    assert_eq!(by_c.len(), model.len());
    for (m, s) in &model {
        assert_eq!(&by_m[m].state, s);
        assert_eq!(&by_c[&s.crm_id].marketing_id, m);
    }
    let scanned = store.scan_links(P, None, usize::MAX).await.unwrap();
    assert_eq!(
        scanned
            .iter()
            .map(|l| l.marketing_id.clone())
            .collect::<Vec<_>>(),
        model.keys().cloned().collect::<Vec<_>>()
    );
}

/// Field tags are kept, merged with later ones, and per pipeline.
pub async fn field_tags_are_kept_per_pipeline(store: &dyn StateStore) {
    assert!(store.field_tags(P).await.unwrap().is_empty());
    commit(store, |c| {
        c.set_field_tag("city", 7).set_field_tag("email", 9);
    })
    .await;
    commit(store, |c| {
        c.set_field_tag("crm_language", 8);
    })
    .await;
    let tags = store.field_tags(P).await.unwrap();
    assert_eq!(
        tags,
        std::collections::BTreeMap::from([
            ("city".to_string(), 7),
            ("crm_language".to_string(), 8),
            ("email".to_string(), 9),
        ])
    );
    assert!(store.field_tags("other").await.unwrap().is_empty());
    assert_eq!(store.pipelines().await.unwrap(), vec![P.to_string()]);
}

/// Marketing duplicates are found by id and by survivor, move with their
/// survivor, are counted, cleared, and scoped to their pipeline.
pub async fn duplicates_are_kept_by_id_and_survivor(store: &dyn StateStore) {
    let dup = |id: &str, survivor: &str| Duplicate {
        marketing_id: id.into(),
        survivor: survivor.into(),
        crm_id: format!("crm-{survivor}"),
        at: ts("2026-12-03T10:00:00Z"),
        reason: "same key".into(),
    };
    commit(store, |c| {
        c.mark_duplicate(dup("11", "1"))
            .mark_duplicate(dup("12", "1"))
            .mark_duplicate(dup("21", "10"));
    })
    .await;
    let ids: Vec<String> = ["11", "12", "21", "1", "99"].map(String::from).to_vec();
    let found = store.duplicates(P, &ids).await.unwrap();
    assert_eq!(found.len(), 3);
    assert_eq!(found["12"], dup("12", "1"));
    let of_1: Vec<String> = store
        .duplicates_of(P, "1")
        .await
        .unwrap()
        .into_iter()
        .map(|d| d.marketing_id)
        .collect();
    assert_eq!(of_1, ["11", "12"], "survivor 1 is not survivor 10's prefix");
    assert_eq!(store.counts(P).await.unwrap().duplicates, 3);

    // A duplicate that moves to another survivor leaves the first's list.
    commit(store, |c| {
        c.mark_duplicate(dup("12", "10")).clear_duplicate("11");
    })
    .await;
    assert!(store.duplicates_of(P, "1").await.unwrap().is_empty());
    let of_10: Vec<String> = store
        .duplicates_of(P, "10")
        .await
        .unwrap()
        .into_iter()
        .map(|d| d.marketing_id)
        .collect();
    assert_eq!(of_10, ["12", "21"]);
    assert_eq!(store.counts(P).await.unwrap().duplicates, 2);
    let all: Vec<String> = store
        .scan_duplicates(P, 10)
        .await
        .unwrap()
        .into_iter()
        .map(|d| d.marketing_id)
        .collect();
    assert_eq!(all, ["12", "21"]);
    assert_eq!(store.scan_duplicates(P, 1).await.unwrap().len(), 1);
    assert!(store.scan_duplicates("other", 10).await.unwrap().is_empty());
    // Clearing what is not there changes nothing.
    commit(store, |c| {
        c.clear_duplicate("nobody");
    })
    .await;
    assert_eq!(store.counts(P).await.unwrap().duplicates, 2);
}

/// Runs every case, each on a fresh store from `fresh`.
pub async fn run_all<S: StateStore>(fresh: impl Fn() -> S) {
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
    event_windows_cut_anywhere(&fresh()).await;
    links_agree_with_a_model(&fresh()).await;
    field_tags_are_kept_per_pipeline(&fresh()).await;
    duplicates_are_kept_by_id_and_survivor(&fresh()).await;
}
