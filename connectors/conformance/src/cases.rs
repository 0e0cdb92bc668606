//! The cases. Each starts its own simulator through [`Target::setup`], so
//! cases are independent and run in parallel.

use std::collections::{BTreeSet, HashSet};
use std::time::{Duration, Instant};

use leadbridge_core::sim::{FaultKind, SeedSpec};
use leadbridge_core::{
    Activity, ActivityKind, ChangesRequest, Connector, ConnectorError, Cursor, Record, WriteBatch,
    WriteOutcome, WriteRecord,
};

use crate::{AuthMode, Setup, SetupOptions, Target};

/// The records of one whole pass and the checkpoints it offered.
struct Pass {
    records: Vec<Record>,
    checkpoints: Vec<Cursor>,
}

impl Pass {
    fn ids(&self) -> Vec<String> {
        self.records.iter().map(|r| r.id.clone()).collect()
    }

    fn last_checkpoint(&self) -> Cursor {
        self.checkpoints
            .last()
            .cloned()
            .expect("a pass that read records offers a checkpoint")
    }
}

fn request(t: &dyn Target, since: Option<Cursor>, overlap: Duration) -> ChangesRequest {
    ChangesRequest {
        object: t.object().to_owned(),
        since,
        overlap,
        fields: t.fields(),
        include_archived: false,
    }
}

async fn try_pass(c: &dyn Connector, req: &ChangesRequest) -> Result<Pass, ConnectorError> {
    let mut pass = Pass {
        records: Vec::new(),
        checkpoints: Vec::new(),
    };
    let mut token = None;
    loop {
        let page = c.changes(req, token.as_ref()).await?;
        pass.records.extend(page.records);
        if let Some(cp) = page.checkpoint {
            if let Some(prev) = pass.checkpoints.last() {
                assert!(
                    &cp >= prev,
                    "checkpoints must never go backwards: {prev:?} then {cp:?}"
                );
            }
            pass.checkpoints.push(cp);
        }
        match page.next {
            Some(next) => token = Some(next),
            None => return Ok(pass),
        }
    }
}

async fn pass(c: &dyn Connector, req: &ChangesRequest) -> Pass {
    try_pass(c, req).await.expect("change pass")
}

fn assert_each_once(pass: &Pass, expected: &BTreeSet<String>) {
    let mut seen = HashSet::new();
    for id in pass.ids() {
        assert!(
            seen.insert(id.clone()),
            "record {id} returned twice in one pass"
        );
    }
    let seen: BTreeSet<String> = seen.into_iter().collect();
    let missing: Vec<_> = expected.difference(&seen).take(5).collect();
    let extra: Vec<_> = seen.difference(expected).take(5).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "missing {missing:?}, unexpected {extra:?}"
    );
}

fn seed(s: &Setup, t: &dyn Target, count: u64, first_index: u64) -> Vec<String> {
    s.control
        .seed(&SeedSpec {
            object: t.object().to_owned(),
            count,
            seed: 11,
            first_index,
        })
        .expect("seed")
}

/// 25,000 records of which 12,000 share one modified timestamp (more than a
/// HubSpot search can page through): 13,000 written over time, then 12,000
/// at one frozen instant. The tie sits in the middle so the pass must page
/// into it and out of it again.
fn seed_with_tie(s: &Setup, t: &dyn Target) -> BTreeSet<String> {
    let clock = s.control.clock();
    let start = clock.now();
    let mut ids = seed(s, t, 6_500, 0);
    clock.freeze_at(
        start
            .checked_add(jiff::SignedDuration::from_secs(60))
            .unwrap(),
    );
    ids.extend(seed(s, t, 12_000, 6_500));
    clock.advance(Duration::from_secs(60));
    clock.resume();
    ids.extend(seed(s, t, 6_500, 18_500));
    clock.advance(Duration::from_secs(600));
    assert_eq!(ids.len(), 25_000);
    ids.into_iter().collect()
}

/// A full pass returns each of 25,000 records exactly once even though
/// 12,000 of them share one modified timestamp.
pub async fn full_pass_returns_each_record_once_across_ties(t: &dyn Target) {
    let s = t.setup(SetupOptions::default()).await;
    let expected = seed_with_tie(&s, t);
    let p = pass(&*s.connector, &request(t, None, Duration::ZERO)).await;
    assert_each_once(&p, &expected);
    let max = p.records.iter().map(Record::cursor).max().unwrap();
    assert_eq!(
        p.last_checkpoint(),
        max,
        "the last checkpoint covers the whole pass"
    );
}

/// A full pass costs no more than `ceil(N / page max)` pages (at the
/// target's calls per page, plus its once-per-pass calls) and the queries
/// that re-anchor the window before a result cap.
pub async fn full_pass_makes_the_minimum_calls(t: &dyn Target) {
    let s = t.setup(SetupOptions::default()).await;
    let expected = seed_with_tie(&s, t);
    s.control.requests().reset();
    let p = pass(&*s.connector, &request(t, None, Duration::ZERO)).await;
    assert_each_once(&p, &expected);
    let n = expected.len();
    let cost = t.change_calls();
    let pages = n.div_ceil(t.page_max()) * cost.per_page + cost.per_pass;
    // One re-anchoring query per 10,000 results (the strictest cap of any
    // vendor's search), one to leave the tie, one to find the end.
    let reanchors = n.div_ceil(10_000) + 2;
    let calls = s.control.requests().total() as usize;
    assert!(
        calls <= pages + reanchors,
        "{calls} calls for {n} records; at most {pages} for pages + {reanchors} re-anchors expected: {:?}",
        s.control.requests().counts()
    );
}

/// After a full pass, an incremental pass from its checkpoint returns only
/// the records changed since, in at most two pages' calls (plus the
/// target's once-per-pass calls).
pub async fn incremental_pass_returns_only_changed_records(t: &dyn Target) {
    let s = t.setup(SetupOptions::default()).await;
    let ids = seed(&s, t, 25_000, 0);
    s.control.clock().advance(Duration::from_secs(600));
    let overlap = Duration::from_secs(30);
    let first = pass(&*s.connector, &request(t, None, overlap)).await;
    assert_eq!(first.records.len(), 25_000);

    s.control.clock().advance(Duration::from_secs(600));
    let (field, value) = t.update();
    let changed: BTreeSet<String> = ids.iter().step_by(2_500).cloned().collect();
    assert_eq!(changed.len(), 10);
    for id in &changed {
        let mut fields = leadbridge_core::Fields::new();
        fields.insert(field.clone(), value.clone());
        s.control.update(t.object(), id, fields).expect("update");
    }
    s.control.clock().advance(Duration::from_secs(1));
    s.control.requests().reset();
    let second = pass(
        &*s.connector,
        &request(t, Some(first.last_checkpoint()), overlap),
    )
    .await;
    assert_each_once(&second, &changed);
    for r in &second.records {
        let got = r
            .fields
            .get(&field)
            .map(|v| v.to_string().trim_matches('"').to_owned());
        let want = value.to_string().trim_matches('"').to_owned();
        assert_eq!(
            got.as_deref(),
            Some(want.as_str()),
            "changed value of {} not returned",
            r.id
        );
    }
    let calls = s.control.requests().total() as usize;
    let cost = t.change_calls();
    let most = 2 * cost.per_page + cost.per_pass;
    assert!(
        calls <= most,
        "{calls} calls for 10 changes (at most {most}): {:?}",
        s.control.requests().counts()
    );
}

/// A record that becomes visible to change queries only after a later
/// record did is still returned by the next pass, thanks to the overlap.
pub async fn late_visible_record_is_picked_up(t: &dyn Target) {
    let s = t.setup(SetupOptions::default()).await;
    let ids = seed(&s, t, 100, 0);
    let clock = s.control.clock();
    clock.advance(Duration::from_secs(600));
    let overlap = Duration::from_secs(120);
    let first = pass(&*s.connector, &request(t, None, overlap)).await;
    assert_eq!(first.records.len(), 100);

    clock.advance(Duration::from_secs(600));
    let (field, value) = t.update();
    let mut fields = leadbridge_core::Fields::new();
    fields.insert(field, value);
    // X is changed while the index lags a minute behind...
    s.control.set_index_lag(Duration::from_secs(60));
    s.control
        .update(t.object(), &ids[10], fields.clone())
        .unwrap();
    // ...then Y, later, with no lag: Y is visible before X.
    s.control.set_index_lag(Duration::ZERO);
    clock.advance(Duration::from_secs(2));
    s.control.update(t.object(), &ids[20], fields).unwrap();
    clock.advance(Duration::from_secs(1));

    let second = pass(
        &*s.connector,
        &request(t, Some(first.last_checkpoint()), overlap),
    )
    .await;
    let seen: BTreeSet<String> = second.ids().into_iter().collect();
    assert!(seen.contains(&ids[20]), "the visible change is returned");
    assert!(
        !seen.contains(&ids[10]),
        "the lagging change is not visible yet"
    );

    clock.advance(Duration::from_secs(90));
    let third = pass(
        &*s.connector,
        &request(t, Some(second.last_checkpoint()), overlap),
    )
    .await;
    assert!(
        third.ids().contains(&ids[10]),
        "a change that became visible after a later one was missed"
    );
}

/// Deleted records come back flagged `archived` when asked for.
pub async fn archived_records_are_flagged(t: &dyn Target) {
    let s = t.setup(SetupOptions::default()).await;
    let ids = seed(&s, t, 50, 0);
    s.control.clock().advance(Duration::from_secs(600));
    let overlap = Duration::from_secs(30);
    let mut req = request(t, None, overlap);
    req.include_archived = true;
    let first = pass(&*s.connector, &req).await;
    assert!(first.records.iter().all(|r| !r.archived));

    s.control.clock().advance(Duration::from_secs(600));
    s.control.delete(t.object(), &ids[7]).unwrap();
    s.control.clock().advance(Duration::from_secs(1));
    req.since = Some(first.last_checkpoint());
    let second = pass(&*s.connector, &req).await;
    let deleted: Vec<&Record> = second.records.iter().filter(|r| r.id == ids[7]).collect();
    assert_eq!(deleted.len(), 1, "the deleted record is returned once");
    assert!(deleted[0].archived, "and flagged archived");
}

fn key_of(t: &dyn Target, fields: &leadbridge_core::Fields) -> String {
    let v = fields
        .get(t.key_field())
        .expect("valid_record sets the key field");
    v.as_str()
        .map(str::to_owned)
        .unwrap_or_else(|| v.to_string())
}

fn upsert_batch(
    t: &dyn Target,
    records: impl Iterator<Item = leadbridge_core::Fields>,
) -> WriteBatch {
    WriteBatch {
        object: t.object().to_owned(),
        key_field: Some(t.key_field().to_owned()),
        records: records
            .map(|mut fields| {
                let key = key_of(t, &fields);
                fields.remove(t.key_field());
                WriteRecord {
                    id: None,
                    key: Some(key),
                    fields,
                }
            })
            .collect(),
    }
}

/// Look-up by the key field finds exactly the records that have those keys.
pub async fn lookup_finds_records_by_key(t: &dyn Target) {
    let s = t.setup(SetupOptions::default()).await;
    let records: Vec<_> = (0..5).map(|i| t.valid_record(i)).collect();
    let outcomes = s
        .connector
        .write(&upsert_batch(t, records.clone().into_iter()))
        .await
        .unwrap();
    assert!(outcomes.iter().all(|o| o.id().is_some()), "{outcomes:?}");
    let mut keys: Vec<String> = records.iter().take(3).map(|f| key_of(t, f)).collect();
    keys.push("nobody-at-all@nowhere.example".to_owned());
    let found = s
        .connector
        .lookup(t.object(), t.key_field(), &keys, &t.fields())
        .await
        .unwrap();
    let found_keys: BTreeSet<String> = found
        .iter()
        .filter_map(|r| r.text(t.key_field()))
        .map(|k| k.to_lowercase())
        .collect();
    let want: BTreeSet<String> = keys[..3].iter().map(|k| k.to_lowercase()).collect();
    assert_eq!(found_keys, want);
    assert_eq!(found.len(), 3);
}

/// Writing the same batch twice (a retry after a crash) creates nothing new.
pub async fn upserting_twice_creates_nothing_new(t: &dyn Target) {
    let s = t.setup(SetupOptions::default()).await;
    // More than one vendor batch, so splitting is exercised too.
    let batch = upsert_batch(t, (0..250).map(|i| t.valid_record(i)));
    let first = s.connector.write(&batch).await.unwrap();
    assert_eq!(first.len(), 250);
    assert!(
        first
            .iter()
            .all(|o| matches!(o, WriteOutcome::Created { .. })),
        "{:?}",
        &first[..3]
    );
    assert_eq!(s.control.count(t.object()), 250);
    let second = s.connector.write(&batch).await.unwrap();
    assert!(
        second
            .iter()
            .all(|o| matches!(o, WriteOutcome::Updated { .. })),
        "{:?}",
        &second[..3]
    );
    assert_eq!(
        s.control.count(t.object()),
        250,
        "the second write created records"
    );
    let first_ids: Vec<_> = first.iter().map(|o| o.id().unwrap().to_owned()).collect();
    let second_ids: Vec<_> = second.iter().map(|o| o.id().unwrap().to_owned()).collect();
    assert_eq!(first_ids, second_ids, "outcomes come back in input order");
}

/// Invalid records of a batch are rejected one by one with the vendor's
/// reason; the valid ones are written.
pub async fn partial_batch_rejects_some_and_writes_the_rest(t: &dyn Target) {
    let s = t.setup(SetupOptions::default()).await;
    let bad = [1u64, 4, 7];
    let records = (0..10).map(|i| {
        if bad.contains(&i) {
            t.invalid_record(i)
        } else {
            t.valid_record(i)
        }
    });
    let outcomes = s.connector.write(&upsert_batch(t, records)).await.unwrap();
    assert_eq!(outcomes.len(), 10);
    for (i, o) in outcomes.iter().enumerate() {
        if bad.contains(&(i as u64)) {
            match o {
                WriteOutcome::Rejected { message, .. } => assert!(!message.is_empty()),
                other => panic!("record {i} should be rejected, got {other:?}"),
            }
        } else {
            assert!(
                matches!(o, WriteOutcome::Created { .. }),
                "record {i}: {o:?}"
            );
        }
    }
    assert_eq!(s.control.count(t.object()), 7);
}

/// Notes and tasks are created linked to a record; a kind the tool cannot
/// hold (Marketo has no tasks) is refused with an error, not faked.
pub async fn activities_attach_to_a_record(t: &dyn Target) {
    let s = t.setup(SetupOptions::default()).await;
    let outcomes = s
        .connector
        .write(&upsert_batch(t, std::iter::once(t.valid_record(1))))
        .await
        .unwrap();
    let parent = outcomes[0].id().expect("created").to_owned();
    let supported = t.activity_kinds();
    let mut ids = BTreeSet::new();
    for kind in [ActivityKind::Note, ActivityKind::Task] {
        let created = s
            .connector
            .create_activity(&Activity {
                kind,
                parent_object: t.object().to_owned(),
                parent_id: parent.clone(),
                subject: "Handed off by marketing".into(),
                body: "Source: webinar-2026-q4, score 91".into(),
                owner: None,
                due: Some(s.control.clock().now()),
            })
            .await;
        if supported.contains(&kind) {
            let id = created.unwrap();
            assert!(!id.is_empty());
            // Ids are unique per kind: Pipedrive numbers notes and
            // activities in separate sequences, so a note and a task may
            // share an id.
            ids.insert((format!("{kind:?}"), id));
        } else {
            assert!(
                created.is_err(),
                "{kind:?} is not supported by this tool and must be refused: {created:?}"
            );
        }
    }
    assert_eq!(ids.len(), supported.len());
    let Some(kind) = supported.first().copied() else {
        return;
    };
    let bad_parent = s
        .connector
        .create_activity(&Activity {
            kind,
            parent_object: t.object().to_owned(),
            parent_id: "999999999999999999".into(),
            subject: "x".into(),
            body: String::new(),
            owner: None,
            due: None,
        })
        .await;
    assert!(
        bad_parent.is_err(),
        "an activity on a record that does not exist is refused"
    );
}

/// The object's metadata lists the fields the suite uses.
pub async fn describe_lists_fields(t: &dyn Target) {
    let s = t.setup(SetupOptions::default()).await;
    let schema = s.connector.describe(t.object()).await.unwrap();
    for f in t
        .fields()
        .iter()
        .chain(std::iter::once(&t.key_field().to_owned()))
    {
        assert!(schema.field(f).is_some(), "describe lacks {f}");
    }
    assert!(
        schema.fields.iter().any(|f| !f.updateable),
        "read-only fields are marked"
    );
    assert!(s.connector.describe("NoSuchObject__x").await.is_err());
}

fn small_request(t: &dyn Target) -> ChangesRequest {
    request(t, None, Duration::ZERO)
}

/// A 429 with `Retry-After` is waited out, then the call succeeds.
pub async fn rate_limited_calls_wait_for_retry_after(t: &dyn Target) {
    let s = t.setup(SetupOptions::default()).await;
    let expected: BTreeSet<String> = seed(&s, t, 300, 0).into_iter().collect();
    s.control.clock().advance(Duration::from_secs(60));
    s.control.faults().add(
        FaultKind::RateLimited { retry_after_s: 1 },
        Some(2),
        None,
        None,
    );
    s.control.requests().reset();
    let started = Instant::now();
    let p = pass(&*s.connector, &small_request(t)).await;
    assert_each_once(&p, &expected);
    // Honouring Retry-After is the behaviour under test, not a speed: two
    // refusals asking for one second each cannot be got past in less.
    assert!(
        started.elapsed() >= Duration::from_secs(2),
        "Retry-After was not honoured"
    );
    let usage = s.connector.usage();
    assert!(usage.retries >= 2, "{usage:?}");
}

/// 5xx answers, dropped connections, garbled bodies and timeouts are
/// retried within the budget; the pass completes with every record.
pub async fn server_errors_and_drops_are_retried(t: &dyn Target) {
    let s = t
        .setup(SetupOptions {
            timeout: Duration::from_secs(1),
            ..SetupOptions::default()
        })
        .await;
    let expected: BTreeSet<String> = seed(&s, t, 300, 0).into_iter().collect();
    s.control.clock().advance(Duration::from_secs(60));
    let f = s.control.faults();
    f.add(FaultKind::ServerError { status: 503 }, Some(1), None, None);
    f.add(FaultKind::DropConnection, Some(1), None, None);
    f.add(FaultKind::MalformedJson, Some(1), None, None);
    f.add(FaultKind::ServerError { status: 500 }, Some(1), None, None);
    f.add(FaultKind::Slow { delay_ms: 1_500 }, Some(1), None, None);
    let p = pass(&*s.connector, &small_request(t)).await;
    assert_each_once(&p, &expected);
    assert!(s.connector.usage().retries >= 5);

    // Past the budget it gives up with a retryable error, not a hang or a panic.
    f.add(FaultKind::ServerError { status: 503 }, None, None, None);
    match try_pass(&*s.connector, &small_request(t)).await {
        Err(ConnectorError::Retryable { .. }) => {}
        Err(other) => panic!("expected a retryable error, got {other:?}"),
        Ok(_) => panic!("expected a retryable error, got a pass"),
    }
}

/// An access token that expires mid-pass is refreshed transparently, and
/// every refresh token the server rotates reaches the persistence callback
/// (none, for a grant without refresh tokens).
pub async fn expired_token_is_refreshed_and_rotation_persisted(t: &dyn Target) {
    let s = t
        .setup(SetupOptions {
            auth: AuthMode::OAuthRefresh,
            ..SetupOptions::default()
        })
        .await;
    let rotations = |n: usize| if t.rotates_refresh_tokens() { n } else { 0 };
    let expected: BTreeSet<String> = seed(&s, t, (t.page_max() * 3) as u64, 0)
        .into_iter()
        .collect();
    s.control.clock().advance(Duration::from_secs(60));
    let req = small_request(t);
    let first = s.connector.changes(&req, None).await.unwrap();
    assert_eq!(
        s.rotated.len(),
        rotations(1),
        "the first refresh rotated the refresh token"
    );
    s.control.tokens().expire_all();
    let mut records = first.records;
    let mut token = first.next;
    while let Some(next) = token {
        let page = s.connector.changes(&req, Some(&next)).await.unwrap();
        records.extend(page.records);
        token = page.next;
    }
    let got: BTreeSet<String> = records.iter().map(|r| r.id.clone()).collect();
    assert_eq!(got, expected);
    assert_eq!(
        s.rotated.len(),
        rotations(2),
        "the refresh after expiry rotated again and was persisted"
    );
    // An injected expiry (the vendor revoking a session) is handled the same way.
    s.control
        .faults()
        .add(FaultKind::ExpiredToken, Some(1), None, None);
    s.control.tokens().expire_all();
    assert!(s.connector.changes(&req, None).await.is_ok());
    assert_eq!(s.rotated.len(), rotations(3));
}

/// Refused credentials give an unauthorized error after one refresh
/// attempt, with no retry storm against the token endpoint.
pub async fn bad_credentials_fail_once_without_a_storm(t: &dyn Target) {
    let s = t
        .setup(SetupOptions {
            auth: AuthMode::BadCredentials,
            ..SetupOptions::default()
        })
        .await;
    seed(&s, t, 10, 0);
    s.control.requests().reset();
    match s.connector.changes(&small_request(t), None).await {
        Err(ConnectorError::Unauthorized { message }) => {
            assert!(
                !message.contains("sim-rt-"),
                "the error must not echo a token: {message}"
            )
        }
        other => panic!("expected unauthorized, got {other:?}"),
    }
    let calls = s.control.requests().total();
    assert!(
        calls <= 2,
        "{calls} calls for refused credentials: {:?}",
        s.control.requests().counts()
    );
}

/// The configured daily cap stops work with a clear error that says when it
/// resets, and so does the vendor's own daily limit.
pub async fn daily_cap_stops_work_with_a_clear_error(t: &dyn Target) {
    let s = t
        .setup(SetupOptions {
            daily_cap: Some(3),
            ..SetupOptions::default()
        })
        .await;
    let keys = vec![key_of(t, &t.valid_record(1))];
    for _ in 0..3 {
        s.connector
            .lookup(t.object(), t.key_field(), &keys, &t.fields())
            .await
            .unwrap();
    }
    let before = s.control.requests().total();
    match s
        .connector
        .lookup(t.object(), t.key_field(), &keys, &t.fields())
        .await
    {
        Err(
            e @ ConnectorError::QuotaExhausted {
                resets_at: Some(_), ..
            },
        ) => {
            assert!(e.to_string().contains("resets at"), "{e}")
        }
        other => panic!("expected our cap to stop the call, got {other:?}"),
    }
    assert_eq!(
        s.control.requests().total(),
        before,
        "a capped call must not reach the vendor"
    );

    let s = t.setup(SetupOptions::default()).await;
    s.control.set_daily_limit(Some(0));
    match s
        .connector
        .lookup(t.object(), t.key_field(), &keys, &t.fields())
        .await
    {
        Err(ConnectorError::QuotaExhausted { .. }) => {}
        other => panic!("expected the vendor's limit to stop the call, got {other:?}"),
    }
    assert!(
        s.control.requests().total() <= 1,
        "no hammering after the vendor said stop"
    );
}

/// A record written by its id is updated in place; its neighbours are not.
pub async fn update_by_id_changes_only_that_record(t: &dyn Target) {
    let s = t.setup(SetupOptions::default()).await;
    let created = s
        .connector
        .write(&upsert_batch(t, (0..3).map(|i| t.valid_record(i))))
        .await
        .unwrap();
    let ids: Vec<String> = created
        .iter()
        .map(|o| o.id().expect("created").to_owned())
        .collect();
    let (field, value) = t.update();
    let mut fields = leadbridge_core::Fields::new();
    fields.insert(field.clone(), value.clone());
    let out = s
        .connector
        .write(&WriteBatch {
            object: t.object().to_owned(),
            key_field: None,
            records: vec![WriteRecord {
                id: Some(ids[1].clone()),
                key: None,
                fields,
            }],
        })
        .await
        .unwrap();
    assert_eq!(out, vec![WriteOutcome::Updated { id: ids[1].clone() }]);
    let text = |id: &str| {
        s.control
            .get(t.object(), id)
            .and_then(|r| r.text(&field))
            .unwrap_or_default()
    };
    let want = value.to_string().trim_matches('"').to_owned();
    assert_eq!(text(&ids[1]), want, "the record written by id changed");
    assert_ne!(text(&ids[0]), want, "its neighbour did not");
    assert_eq!(s.control.count(t.object()), 3, "nothing was created");
}

/// A batch with no key field creates every record (a pipeline without an
/// upsert key creates after its own look-up).
pub async fn create_without_a_key_creates_each_record(t: &dyn Target) {
    let s = t.setup(SetupOptions::default()).await;
    let out = s
        .connector
        .write(&WriteBatch {
            object: t.object().to_owned(),
            key_field: None,
            records: (0..4)
                .map(|i| WriteRecord {
                    id: None,
                    key: None,
                    fields: t.valid_record(i),
                })
                .collect(),
        })
        .await
        .unwrap();
    assert_eq!(out.len(), 4);
    assert!(
        out.iter()
            .all(|o| matches!(o, WriteOutcome::Created { .. })),
        "{out:?}"
    );
    let ids: BTreeSet<&str> = out.iter().filter_map(|o| o.id()).collect();
    assert_eq!(ids.len(), 4, "four distinct records");
    assert_eq!(s.control.count(t.object()), 4);
}

/// A look-up of more values than one call takes is split, and finds them all.
pub async fn lookups_larger_than_one_call_are_split(t: &dyn Target) {
    let s = t.setup(SetupOptions::default()).await;
    let n = s.connector.limits().lookup_batch_size as u64 + 5;
    let records: Vec<_> = (0..n).map(|i| t.valid_record(i)).collect();
    let written = s
        .connector
        .write(&upsert_batch(t, records.clone().into_iter()))
        .await
        .unwrap();
    assert!(written.iter().all(|o| o.id().is_some()));
    let keys: Vec<String> = records.iter().map(|f| key_of(t, f)).collect();
    s.control.requests().reset();
    let found = s
        .connector
        .lookup(t.object(), t.key_field(), &keys, &t.fields())
        .await
        .unwrap();
    assert_eq!(found.len() as u64, n, "every key was found");
    let calls = s.control.requests().total();
    assert!(calls >= 1, "the look-up reached the vendor");
}

/// Without `include_archived`, a deleted record is not returned at all.
pub async fn archived_records_are_left_out_unless_asked(t: &dyn Target) {
    let s = t.setup(SetupOptions::default()).await;
    let ids = seed(&s, t, 20, 0);
    s.control.clock().advance(Duration::from_secs(600));
    let overlap = Duration::from_secs(30);
    let first = pass(&*s.connector, &request(t, None, overlap)).await;
    s.control.clock().advance(Duration::from_secs(600));
    s.control.delete(t.object(), &ids[3]).unwrap();
    s.control.clock().advance(Duration::from_secs(1));
    let second = pass(
        &*s.connector,
        &request(t, Some(first.last_checkpoint()), overlap),
    )
    .await;
    assert!(
        second.records.iter().all(|r| r.id != ids[3]),
        "a deleted record came back without include_archived"
    );
}

/// A pass after a quiet spell longer than the overlap returns nothing,
/// in the calls of one (empty) page.
pub async fn a_quiet_pass_returns_nothing(t: &dyn Target) {
    let s = t.setup(SetupOptions::default()).await;
    seed(&s, t, 30, 0);
    let overlap = Duration::from_secs(60);
    s.control.clock().advance(Duration::from_secs(600));
    let first = pass(&*s.connector, &request(t, None, overlap)).await;
    assert_eq!(first.records.len(), 30);
    s.control.clock().advance(Duration::from_secs(600));
    s.control.requests().reset();
    let quiet = pass(
        &*s.connector,
        &request(t, Some(first.last_checkpoint()), overlap),
    )
    .await;
    assert!(quiet.records.is_empty(), "{:?}", quiet.ids());
    let cost = t.change_calls();
    assert!(
        s.control.requests().total() as usize <= cost.per_pass + cost.per_page,
        "{:?}",
        s.control.requests().counts()
    );
}
