//! The embedded default backend: one sled database in the state directory.
//!
//! Layout: `<state_dir>/lock` (an advisory lock held while open, so a second
//! daemon is refused with a clear message), `<state_dir>/db/` (sled), and
//! `<state_dir>/tokens/` (the [`TokenVault`]). Trees and key layout are in
//! `keys`. A commit is one sled transaction over every tree it touches,
//! followed by `flush_async`: sled only flushes on its own every few hundred
//! milliseconds, and a step counts as committed only once it is on disk.
//!
//! Links live in buckets (`bucket`), which a transaction cannot search: a
//! commit is planned first (the buckets its links fall in, its events
//! encoded as chunks), then applied; a plan another commit made stale is
//! made again.

use std::collections::{BTreeMap, HashMap};
use std::fs::{File, OpenOptions};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use async_trait::async_trait;
use jiff::Timestamp;
use leadbridge_core::Cursor;
use sled::transaction::{TransactionError, TransactionalTree};
use sled::{Db, IVec, Transactional, Tree};

use super::bucket::{abort, Abort, BucketMap, Fences, TxMap, TxResult};
use super::codec::{decode_link, from_json, to_json};
use super::dlq::DlqEntry;
use super::duplicates::{Duplicate, DuplicateChange};
use super::error::{StateError, StateResult};
use super::events::Event;
use super::files::private_dir;
use super::intents::{Intent, IntentId};
use super::keys;
use super::links::{Link, LinkChange, LinkState};
use super::outcomes::OutcomeLink;
use super::pack::{self, IdCodec, LinkCodec};
use super::sla::SlaLead;
use super::status::{CursorEntry, PipelineCounts, PipelineStatus};
use super::store::{Commit, StateStore};
use super::vault::TokenVault;
use crate::side::Side;

/// sled's segment size for a new database (it is fixed at creation; one
/// created with another keeps its own, read from sled's `conf` file).
///
/// sled's default is 512 KiB. Smaller segments are cleaned at a finer grain
/// and leave less unused at the file's end: measured with the sync
/// benchmark, see `mod.rs` ("Bytes per link").
pub(crate) const NEW_SEGMENT_SIZE: usize = 128 * 1024;

/// sled's own default segment size, for a database whose `conf` does not say.
const SLED_DEFAULT_SEGMENT_SIZE: usize = 512 * 1024;

/// An event chunk is closed once it passes this many bytes (the same bound
/// as a bucket, for the same reasons).
const MAX_EVENT_CHUNK: usize = super::bucket::MAX_BUCKET;

/// The longest a chunk of events spans: a read of events from `from` on
/// starts this much earlier, since a chunk is stored under its first time.
const EVENT_CHUNK_SPAN: jiff::SignedDuration = jiff::SignedDuration::from_secs(60);

/// Plans retried when a bucket split by another commit made one stale.
const COMMIT_TRIES: usize = 8;

/// Counter names in the `counters` tree.
const LINKS: &[u8] = b"links";
const DEAD_LETTERS: &[u8] = b"dlq";
const INTENTS: &[u8] = b"intents";
const DUPLICATES: &[u8] = b"duplicates";

/// Tuning of the sled backend.
#[derive(Debug, Clone)]
pub struct SledOptions {
    /// Bytes of page cache sled may keep in memory. sled's own default is
    /// 1 GiB, far above the daemon's memory budget (≤ 150 MB at a million
    /// links), so ours is small: the working set of a cycle is one page.
    pub cache_capacity: u64,
}

impl Default for SledOptions {
    fn default() -> Self {
        Self {
            cache_capacity: 32 * 1024 * 1024,
        }
    }
}

/// The trees of the database, one per kind of entry.
#[derive(Clone)]
struct Trees {
    links: BucketMap<LinkCodec>,
    crm_links: BucketMap<IdCodec>,
    cursors: Tree,
    intents: Tree,
    dlq: Tree,
    rr: Tree,
    status: Tree,
    events: Tree,
    counters: Tree,
    pipelines: Tree,
    sla: Tree,
    timers: Tree,
    outcomes: Tree,
    duplicates: Tree,
}

/// The state store on sled: the embedded default.
pub struct SledStore {
    db: Db,
    trees: Trees,
    dir: PathBuf,
    /// Held (locked) for as long as the store is open.
    _lock: File,
}

impl std::fmt::Debug for SledStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SledStore").field("dir", &self.dir).finish()
    }
}

impl SledStore {
    /// Opens (or creates, owner-only) the state directory with default tuning.
    ///
    /// Fails with [`StateError::Locked`] when another process has it open.
    pub fn open(dir: impl AsRef<Path>) -> StateResult<Self> {
        Self::open_with(dir, &SledOptions::default())
    }

    /// Opens (or creates, owner-only) the state directory.
    pub fn open_with(dir: impl AsRef<Path>, options: &SledOptions) -> StateResult<Self> {
        let dir = dir.as_ref().to_path_buf();
        private_dir(&dir)?;
        let lock = lock_dir(&dir)?;
        let db_dir = dir.join("db");
        let config = sled::Config::new()
            .segment_size(segment_size(&db_dir))
            .path(&db_dir)
            .cache_capacity(options.cache_capacity);
        let db = open_sled(&config, &dir, &db_dir)?;
        let tree = |name: &str| db.open_tree(name).map_err(backend);
        let trees = Trees {
            links: BucketMap::new(tree("links")?, "link"),
            crm_links: BucketMap::new(tree("crm_links")?, "link"),
            cursors: tree("cursors")?,
            intents: tree("intents")?,
            dlq: tree("dlq")?,
            rr: tree("rr")?,
            status: tree("status")?,
            events: tree("events")?,
            counters: tree("counters")?,
            pipelines: tree("pipelines")?,
            sla: tree("sla")?,
            timers: tree("timers")?,
            outcomes: tree("outcomes")?,
            duplicates: tree("duplicates")?,
        };
        let store = Self {
            db,
            trees,
            dir,
            _lock: lock,
        };
        store.migrate_links()?;
        Ok(store)
    }

    /// The state directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The token vault in this state directory (covered by the same lock).
    pub fn vault(&self) -> StateResult<TokenVault> {
        TokenVault::open(&self.dir)
    }

    /// Bytes the database takes on disk (for the benchmark's bytes per link).
    pub fn size_on_disk(&self) -> StateResult<u64> {
        self.db.size_on_disk().map_err(backend)
    }

    /// Makes every write so far durable.
    pub async fn flush(&self) -> StateResult<()> {
        self.db.flush_async().await.map_err(backend)?;
        Ok(())
    }

    fn get(&self, tree: &Tree, key: &[u8]) -> StateResult<Option<IVec>> {
        tree.get(key).map_err(backend)
    }

    /// Decodes every entry under a pipeline's prefix.
    fn scan<T>(
        &self,
        tree: &Tree,
        pipeline: &str,
        mut decode: impl FnMut(&[u8], &[u8]) -> StateResult<T>,
    ) -> StateResult<Vec<T>> {
        let prefix = keys::prefix(pipeline)?;
        let mut out = Vec::new();
        for item in tree.scan_prefix(&prefix) {
            let (key, value) = item.map_err(backend)?;
            out.push(decode(&key[prefix.len()..], &value)?);
        }
        Ok(out)
    }

    fn counter(&self, pipeline: &str, name: &[u8]) -> StateResult<u64> {
        match self.get(&self.trees.counters, &keys::with(pipeline, name)?)? {
            Some(v) => keys::read_u64("counter", &v),
            None => Ok(0),
        }
    }
}

/// Opens sled, waiting a moment for its own lock on the database file.
///
/// We hold the directory's lock, so no other leadbridge has the database;
/// but a store this process has just dropped can hold sled's lock for a
/// few milliseconds more (sled's background threads let go of the file
/// after the `Db`), which made a reopen fail as `Locked` now and then.
fn open_sled(config: &sled::Config, dir: &Path, sled_dir: &Path) -> StateResult<Db> {
    const WAIT: std::time::Duration = std::time::Duration::from_secs(2);
    let started = std::time::Instant::now();
    // sled locks `<its dir>/db` with flock and reports a held lock only as
    // text; probe the same lock first, where the error has a kind.
    let probe = sled_dir.join("db");
    // No database yet (or unreadable): sled will say what is wrong.
    while let Ok(file) = OpenOptions::new().read(true).open(&probe) {
        use fs2::FileExt;
        match file.try_lock_exclusive() {
            Ok(()) => break,
            Err(e)
                if e.kind() == std::io::ErrorKind::WouldBlock
                    || e.raw_os_error() == fs2::lock_contended_error().raw_os_error() =>
            {
                // After the wait, only something other than leadbridge can
                // hold sled's own lock: say the same as for another instance.
                if started.elapsed() >= WAIT {
                    return Err(StateError::Locked {
                        dir: dir.to_path_buf(),
                    });
                }
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            Err(_) => break,
        }
    }
    config.open().map_err(backend)
}

/// Takes the state directory's advisory lock, or says who has it.
fn lock_dir(dir: &Path) -> StateResult<File> {
    use fs2::FileExt;
    let path = dir.join("lock");
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(&path)
        .map_err(|e| StateError::io(format!("cannot open {}", path.display()), e))?;
    match file.try_lock_exclusive() {
        Ok(()) => Ok(file),
        Err(e)
            if e.kind() == std::io::ErrorKind::WouldBlock
                || e.raw_os_error() == fs2::lock_contended_error().raw_os_error() =>
        {
            Err(StateError::Locked {
                dir: dir.to_path_buf(),
            })
        }
        Err(e) => Err(StateError::io(format!("cannot lock {}", path.display()), e)),
    }
}

/// sled's error, kept as the source.
fn backend(e: sled::Error) -> StateError {
    StateError::Backend(Box::new(e))
}

/// A failed transaction: our own abort reason, or sled's. (A stale plan is
/// retried by the caller before it gets here.)
fn tx_error(e: TransactionError<Abort>) -> StateError {
    match e {
        TransactionError::Abort(Abort::State(e)) => e,
        TransactionError::Abort(Abort::Stale) => StateError::Backend(
            "the link buckets kept changing under the commit (concurrent commits to one pipeline?)"
                .into(),
        ),
        TransactionError::Storage(e) => backend(e),
    }
}

/// True when a transaction failed only because its plan went stale.
fn is_stale<T>(result: &Result<T, TransactionError<Abort>>) -> bool {
    matches!(result, Err(TransactionError::Abort(Abort::Stale)))
}

/// The segment size to open `db_dir` with: the one it was created with
/// (sled refuses any other), or [`NEW_SEGMENT_SIZE`] for a new database.
fn segment_size(db_dir: &Path) -> usize {
    match std::fs::read(db_dir.join("conf")) {
        Ok(conf) => String::from_utf8_lossy(&conf)
            .lines()
            .find_map(|line| line.strip_prefix("segment_size: ")?.trim().parse().ok())
            .unwrap_or(SLED_DEFAULT_SEGMENT_SIZE),
        Err(_) => NEW_SEGMENT_SIZE,
    }
}

/// Which entry a pending intent's value is, by its first byte: the older
/// JSON form, or the compact one.
fn decode_intent(value: &[u8], pipeline: &str, key_rest: &[u8]) -> StateResult<Intent> {
    if value.first() == Some(&b'{') {
        return from_json("intent", value);
    }
    let id = IntentId(keys::read_u64("intent key", key_rest)?);
    pack::decode_intent(value, pipeline, id).map_err(|e| StateError::corrupt("intent", e))
}

/// The events of one `events` entry: one JSON event (older form) or a
/// chunk of events stored under the key's time.
fn decode_events(key: &[u8], prefix_len: usize, value: &[u8]) -> StateResult<Vec<Event>> {
    if value.first() == Some(&b'{') {
        return Ok(vec![from_json("event", value)?]);
    }
    let at = keys::time_of(&key[prefix_len..])?;
    pack::decode_events(value, at).map_err(|e| StateError::corrupt("event", e))
}

/// Encodes a commit's events as chunks: in time order (commit order among
/// equal times), each closed once past [`MAX_EVENT_CHUNK`] bytes, spanning
/// at most [`EVENT_CHUNK_SPAN`] from its first event, whose time is the
/// chunk's key.
fn event_chunks(events: &[Event]) -> StateResult<Vec<pack::EventChunk>> {
    let mut sorted: Vec<&Event> = events.iter().collect();
    sorted.sort_by_key(|e| e.at);
    let mut chunks: Vec<pack::EventChunk> = Vec::new();
    for event in sorted {
        let fits = chunks.last().is_some_and(|chunk| {
            chunk.size() < MAX_EVENT_CHUNK
                && event.at.duration_since(chunk.at()) <= EVENT_CHUNK_SPAN
        });
        if !fits {
            chunks.push(pack::EventChunk::new(event.at));
        }
        if let Some(chunk) = chunks.last_mut() {
            chunk
                .push(event)
                .map_err(|e| StateError::corrupt("event", e))?;
        }
    }
    Ok(chunks)
}

/// A commit with every key and value that does not depend on the stored
/// state computed up front, so the transaction body (which sled may run
/// more than once on conflict) does little and cannot fail on encoding.
///
/// It also holds the fences of the link buckets the commit touches, found
/// before the transaction (which cannot search); a plan whose buckets moved
/// meanwhile is stale and made again.
struct Plan<'a> {
    commit: &'a Commit,
    prefix: Vec<u8>,
    link_fences: Fences,
    crm_fences: Fences,
    dlq_removed: Vec<Vec<u8>>,
    intents: Vec<Vec<u8>>,
    cursors: Vec<(Vec<u8>, Option<Vec<u8>>)>,
    events: Vec<(Vec<u8>, Vec<u8>)>,
    rr: Vec<(Vec<u8>, [u8; 8])>,
    status: Option<Vec<u8>>,
    counter_keys: [Vec<u8>; 4],
    sla: Vec<PlannedSla<'a>>,
    outcomes: Vec<(Vec<u8>, Vec<u8>)>,
    duplicates: Vec<PlannedDuplicate>,
}

/// One duplicate change: its entry's key, and for a mark its value and
/// the survivor's list prefix.
struct PlannedDuplicate {
    key: Vec<u8>,
    mark: Option<(Vec<u8>, Vec<u8>)>,
}

/// One SLA state to store: its key, value and new timer key.
struct PlannedSla<'a> {
    lead: &'a SlaLead,
    key: Vec<u8>,
    value: Vec<u8>,
    timer: Option<Vec<u8>>,
}

/// The transaction's view of the trees a commit writes.
struct Tx<'t> {
    links: &'t TransactionalTree,
    crm_links: &'t TransactionalTree,
    cursors: &'t TransactionalTree,
    intents: &'t TransactionalTree,
    dlq: &'t TransactionalTree,
    rr: &'t TransactionalTree,
    status: &'t TransactionalTree,
    events: &'t TransactionalTree,
    counters: &'t TransactionalTree,
    pipelines: &'t TransactionalTree,
    sla: &'t TransactionalTree,
    timers: &'t TransactionalTree,
    outcomes: &'t TransactionalTree,
    duplicates: &'t TransactionalTree,
}

impl<'a> Plan<'a> {
    fn new(commit: &'a Commit, store: &SledStore) -> StateResult<Self> {
        let db = &store.db;
        let p = commit.pipeline.as_str();
        let prefix = keys::prefix(p)?;
        let (link_fences, crm_fences) = store.link_fences(&prefix, &commit.links)?;
        let mut events = Vec::with_capacity(commit.events.len());
        for chunk in event_chunks(&commit.events)? {
            // Ids from sled are unique and increasing, so chunks at the same
            // instant keep their order and never overwrite each other.
            let seq = db.generate_id().map_err(backend)?;
            events.push((keys::timed(p, chunk.at(), seq)?, chunk.finish()));
        }
        let mut sla = Vec::with_capacity(commit.sla.len());
        for lead in &commit.sla {
            sla.push(PlannedSla {
                lead,
                key: keys::with(p, lead.marketing_id.as_bytes())?,
                value: to_json("sla lead", lead)?,
                timer: lead
                    .due
                    .map(|due| keys::timer(p, due, &lead.marketing_id))
                    .transpose()?,
            });
        }
        let mut outcomes = Vec::with_capacity(commit.outcomes.len());
        for outcome in &commit.outcomes {
            outcomes.push((
                keys::with(p, outcome.outcome_id.as_bytes())?,
                to_json("outcome", outcome)?,
            ));
        }
        let mut duplicates = Vec::with_capacity(commit.duplicates.len());
        for change in &commit.duplicates {
            duplicates.push(match change {
                DuplicateChange::Mark(d) => PlannedDuplicate {
                    key: keys::duplicate(p, &d.marketing_id)?,
                    mark: Some((
                        to_json("duplicate", d)?,
                        keys::duplicates_of(p, &d.survivor)?,
                    )),
                },
                DuplicateChange::Clear(id) => PlannedDuplicate {
                    key: keys::duplicate(p, id)?,
                    mark: None,
                },
            });
        }
        let mut cursors = Vec::with_capacity(commit.cursors.len());
        for (side, object, cursor) in &commit.cursors {
            let value = cursor.as_ref().map(|c| to_json("cursor", c)).transpose()?;
            cursors.push((keys::sided(p, *side, object)?, value));
        }
        Ok(Self {
            commit,
            link_fences,
            crm_fences,
            dlq_removed: commit
                .dead_letters_removed
                .iter()
                .map(|(side, id)| keys::sided(p, *side, id))
                .collect::<StateResult<_>>()?,
            intents: commit
                .intents_resolved
                .iter()
                .map(|id| keys::numbered(p, id.0))
                .collect::<StateResult<_>>()?,
            cursors,
            events,
            rr: commit
                .round_robin
                .iter()
                .map(|(group, pos)| Ok((keys::with(p, group.as_bytes())?, pos.to_be_bytes())))
                .collect::<StateResult<_>>()?,
            status: commit
                .status
                .as_ref()
                .map(|s| to_json("status", s))
                .transpose()?,
            counter_keys: [
                keys::with(p, LINKS)?,
                keys::with(p, DEAD_LETTERS)?,
                keys::with(p, INTENTS)?,
                keys::with(p, DUPLICATES)?,
            ],
            prefix,
            sla,
            outcomes,
            duplicates,
        })
    }

    /// The transaction body: applies the plan, in the order of `Commit`'s
    /// fields (links, dead letters added then removed, intents, cursors,
    /// events, round robin, status), then the counters.
    fn apply(&self, tx: &Tx<'_>) -> TxResult<()> {
        let pipeline = &self.commit.pipeline;
        if tx.pipelines.get(pipeline.as_bytes())?.is_none() {
            tx.pipelines.insert(pipeline.as_bytes(), &[][..])?;
        }
        if !self.commit.field_tags.is_empty() {
            // The pipeline's entry holds its table of field tags.
            let mut tags = match tx.pipelines.get(pipeline.as_bytes())? {
                Some(v) if !v.is_empty() => {
                    from_json::<BTreeMap<String, u16>>("field tags", &v).or_else(abort)?
                }
                _ => BTreeMap::new(),
            };
            tags.extend(self.commit.field_tags.iter().map(|(k, v)| (k.clone(), *v)));
            tx.pipelines.insert(
                pipeline.as_bytes(),
                to_json("field tags", &tags).or_else(abort)?,
            )?;
        }
        let link_delta = self.apply_links(tx)?;

        let mut dlq_delta: i64 = 0;
        for letter in &self.commit.dead_letters {
            let key = keys::sided(pipeline, letter.side, &letter.record_id).or_else(abort)?;
            let previous = match tx.dlq.get(&key)? {
                Some(bytes) => Some(from_json::<DlqEntry>("dead letter", &bytes).or_else(abort)?),
                None => None,
            };
            if previous.is_none() {
                dlq_delta += 1;
            }
            let entry = DlqEntry::after(pipeline, letter, previous.as_ref());
            tx.dlq
                .insert(key, to_json("dead letter", &entry).or_else(abort)?)?;
        }
        for key in &self.dlq_removed {
            if tx.dlq.remove(key.as_slice())?.is_some() {
                dlq_delta -= 1;
            }
        }

        let mut intent_delta: i64 = 0;
        for key in &self.intents {
            if tx.intents.remove(key.as_slice())?.is_some() {
                intent_delta -= 1;
            }
        }
        for (key, value) in &self.cursors {
            match value {
                Some(v) => tx.cursors.insert(key.as_slice(), v.as_slice())?,
                None => tx.cursors.remove(key.as_slice())?,
            };
        }
        for (key, value) in &self.events {
            tx.events.insert(key.as_slice(), value.as_slice())?;
        }
        for (key, value) in &self.rr {
            tx.rr.insert(key.as_slice(), &value[..])?;
        }
        if let Some(status) = &self.status {
            tx.status
                .insert(self.prefix.as_slice(), status.as_slice())?;
        }
        for planned in &self.sla {
            // One live timer per lead: drop the old one, arm the new one.
            if let Some(old) = tx
                .sla
                .insert(planned.key.as_slice(), planned.value.as_slice())?
            {
                let old: SlaLead = from_json("sla lead", &old).or_else(abort)?;
                if let Some(due) = old.due {
                    let key = keys::timer(pipeline, due, &old.marketing_id).or_else(abort)?;
                    tx.timers.remove(key)?;
                }
            }
            if let Some(timer) = &planned.timer {
                tx.timers
                    .insert(timer.as_slice(), planned.lead.marketing_id.as_bytes())?;
            }
        }

        for (key, value) in &self.outcomes {
            tx.outcomes.insert(key.as_slice(), value.as_slice())?;
        }
        let duplicate_delta = self.apply_duplicates(tx)?;

        let [links, dlq, intents, duplicates] = &self.counter_keys;
        add_to_counter(tx.counters, links, link_delta)?;
        add_to_counter(tx.counters, dlq, dlq_delta)?;
        add_to_counter(tx.counters, intents, intent_delta)?;
        add_to_counter(tx.counters, duplicates, duplicate_delta)?;
        Ok(())
    }

    /// Applies the duplicate changes in order: an entry per duplicate and
    /// one under its survivor's list (moved when the survivor changes);
    /// returns how many duplicates there are more.
    fn apply_duplicates(&self, tx: &Tx<'_>) -> TxResult<i64> {
        let pipeline = &self.commit.pipeline;
        let mut delta = 0;
        for planned in &self.duplicates {
            let old = match tx.duplicates.get(planned.key.as_slice())? {
                Some(bytes) => Some(from_json::<Duplicate>("duplicate", &bytes).or_else(abort)?),
                None => None,
            };
            if let Some(old) = &old {
                let mut list = keys::duplicates_of(pipeline, &old.survivor).or_else(abort)?;
                list.extend_from_slice(old.marketing_id.as_bytes());
                tx.duplicates.remove(list)?;
            }
            match &planned.mark {
                Some((value, list)) => {
                    if old.is_none() {
                        delta += 1;
                    }
                    tx.duplicates
                        .insert(planned.key.as_slice(), value.as_slice())?;
                    let mut list = list.clone();
                    let id = &planned.key[self.prefix.len() + 1..];
                    list.extend_from_slice(id);
                    tx.duplicates.insert(list, &[][..])?;
                }
                None => {
                    if old.is_some() {
                        delta -= 1;
                        tx.duplicates.remove(planned.key.as_slice())?;
                    }
                }
            }
        }
        Ok(delta)
    }

    /// Applies the link changes in order to the loaded buckets (forward by
    /// marketing id, reverse by CRM id) and writes back the changed ones;
    /// returns how many links there are more.
    fn apply_links(&self, tx: &Tx<'_>) -> TxResult<i64> {
        if self.commit.links.is_empty() {
            return Ok(0);
        }
        let pipeline = &self.commit.pipeline;
        let mut forward =
            TxMap::<LinkCodec>::load(tx.links, &self.prefix, "link", &self.link_fences)?;
        let mut reverse =
            TxMap::<IdCodec>::load(tx.crm_links, &self.prefix, "link", &self.crm_fences)?;
        let mut delta: i64 = 0;
        for change in &self.commit.links {
            match change {
                LinkChange::Upsert {
                    marketing_id,
                    state,
                } => {
                    let m_id = marketing_id.as_bytes();
                    let crm_id = state.crm_id.as_bytes();
                    match forward.get(m_id)? {
                        // Unchanged: nothing to write (re-reads commit these).
                        Some(old) if old == state => continue,
                        Some(old) if old.crm_id != state.crm_id => {
                            let old_crm = old.crm_id.clone();
                            if reverse.get(old_crm.as_bytes())? == Some(marketing_id) {
                                reverse.remove(old_crm.as_bytes())?;
                            }
                        }
                        Some(_) => {}
                        None => delta += 1,
                    }
                    if let Some(owner) = reverse.get(crm_id)? {
                        if owner != marketing_id {
                            return abort(StateError::LinkConflict {
                                pipeline: pipeline.clone(),
                                crm_id: state.crm_id.clone(),
                                linked_to: owner.clone(),
                                marketing_id: marketing_id.clone(),
                            });
                        }
                    } else {
                        reverse.insert(crm_id, marketing_id.clone())?;
                    }
                    forward.insert(m_id, state.clone())?;
                }
                LinkChange::Remove { marketing_id } => {
                    if let Some(old) = forward.remove(marketing_id.as_bytes())? {
                        let old_crm = old.crm_id.as_bytes();
                        if reverse.get(old_crm)? == Some(marketing_id) {
                            reverse.remove(old_crm)?;
                        }
                        delta -= 1;
                    }
                }
            }
        }
        forward.store()?;
        reverse.store()?;
        Ok(delta)
    }
}

/// Adds a signed amount to a u64 counter inside a transaction, never below zero.
fn add_to_counter(counters: &TransactionalTree, key: &[u8], delta: i64) -> TxResult<()> {
    if delta == 0 {
        return Ok(());
    }
    let current = match counters.get(key)? {
        Some(v) => keys::read_u64("counter", &v).or_else(abort)?,
        None => 0,
    };
    let next = current.saturating_add_signed(delta);
    counters.insert(key, &next.to_be_bytes()[..])?;
    Ok(())
}

#[async_trait]
impl StateStore for SledStore {
    async fn link(&self, pipeline: &str, side: Side, id: &str) -> StateResult<Option<Link>> {
        let mut found = self.links(pipeline, side, &[id.to_owned()]).await?;
        Ok(found.remove(id))
    }

    async fn links(
        &self,
        pipeline: &str,
        side: Side,
        ids: &[String],
    ) -> StateResult<HashMap<String, Link>> {
        let prefix = keys::prefix(pipeline)?;
        let marketing_ids: Vec<Option<String>> = match side {
            Side::Marketing => ids.iter().cloned().map(Some).collect(),
            Side::Crm => {
                let asked: Vec<&[u8]> = ids.iter().map(|id| id.as_bytes()).collect();
                self.trees.crm_links.get_many(&prefix, &asked)?
            }
        };
        let asked: Vec<&[u8]> = marketing_ids
            .iter()
            .flatten()
            .map(|m| m.as_bytes())
            .collect();
        let mut states = self.trees.links.get_many(&prefix, &asked)?.into_iter();
        let mut out = HashMap::with_capacity(ids.len());
        for (id, marketing_id) in ids.iter().zip(marketing_ids) {
            let Some(marketing_id) = marketing_id else {
                continue;
            };
            match states.next().flatten() {
                Some(state) => {
                    out.insert(
                        id.clone(),
                        Link {
                            marketing_id,
                            state,
                        },
                    );
                }
                None if side == Side::Crm => {
                    return Err(StateError::corrupt(
                        "link",
                        format!(
                            "CRM record {id} points to marketing record {marketing_id}, which has no link"
                        ),
                    ))
                }
                None => {}
            }
        }
        Ok(out)
    }

    async fn scan_links(
        &self,
        pipeline: &str,
        after: Option<&str>,
        limit: usize,
    ) -> StateResult<Vec<Link>> {
        let prefix = keys::prefix(pipeline)?;
        self.trees
            .links
            .scan(&prefix, after.map(str::as_bytes), limit)?
            .into_iter()
            .map(|(id, state)| {
                Ok(Link {
                    marketing_id: keys::text(&id)?,
                    state,
                })
            })
            .collect()
    }

    async fn cursor(
        &self,
        pipeline: &str,
        side: Side,
        object: &str,
    ) -> StateResult<Option<Cursor>> {
        self.get(&self.trees.cursors, &keys::sided(pipeline, side, object)?)?
            .map(|v| from_json("cursor", &v))
            .transpose()
    }

    async fn cursors(&self, pipeline: &str) -> StateResult<Vec<CursorEntry>> {
        self.scan(&self.trees.cursors, pipeline, |rest, value| {
            let (side, object) = keys::split_sided(rest)?;
            Ok(CursorEntry {
                side,
                object,
                cursor: from_json("cursor", value)?,
            })
        })
    }

    async fn new_intent_id(&self) -> StateResult<IntentId> {
        self.db.generate_id().map(IntentId).map_err(backend)
    }

    async fn record_intents(&self, intents: &[Intent]) -> StateResult<()> {
        if intents.is_empty() {
            return Ok(());
        }
        let mut planned = Vec::with_capacity(intents.len());
        for intent in intents {
            planned.push((
                keys::numbered(&intent.pipeline, intent.id.0)?,
                pack::encode_intent(intent).map_err(|e| StateError::corrupt("intent", e))?,
                keys::with(&intent.pipeline, INTENTS)?,
                intent.pipeline.as_bytes(),
            ));
        }
        let t = &self.trees;
        (&t.intents, &t.counters, &t.pipelines)
            .transaction(|(tx_intents, tx_counters, tx_pipelines)| {
                for (key, value, counter, pipeline) in &planned {
                    if tx_pipelines.get(*pipeline)?.is_none() {
                        tx_pipelines.insert(*pipeline, &[][..])?;
                    }
                    if tx_intents
                        .insert(key.as_slice(), value.as_slice())?
                        .is_none()
                    {
                        add_to_counter(tx_counters, counter, 1)?;
                    }
                }
                Ok(())
            })
            .map_err(tx_error)?;
        self.flush().await
    }

    async fn pending_intents(&self, pipeline: &str) -> StateResult<Vec<Intent>> {
        self.scan(&self.trees.intents, pipeline, |rest, value| {
            decode_intent(value, pipeline, rest)
        })
    }

    async fn dead_letter(
        &self,
        pipeline: &str,
        side: Side,
        record_id: &str,
    ) -> StateResult<Option<DlqEntry>> {
        self.get(&self.trees.dlq, &keys::sided(pipeline, side, record_id)?)?
            .map(|v| from_json("dead letter", &v))
            .transpose()
    }

    async fn dead_letters(&self, pipeline: &str) -> StateResult<Vec<DlqEntry>> {
        self.scan(&self.trees.dlq, pipeline, |_, value| {
            from_json("dead letter", value)
        })
    }

    async fn round_robin(&self, pipeline: &str, group: &str) -> StateResult<u64> {
        match self.get(&self.trees.rr, &keys::with(pipeline, group.as_bytes())?)? {
            Some(v) => keys::read_u64("round robin", &v),
            None => Ok(0),
        }
    }

    async fn round_robins(&self, pipeline: &str) -> StateResult<BTreeMap<String, u64>> {
        Ok(self
            .scan(&self.trees.rr, pipeline, |rest, value| {
                Ok((keys::text(rest)?, keys::read_u64("round robin", value)?))
            })?
            .into_iter()
            .collect())
    }

    async fn status(&self, pipeline: &str) -> StateResult<Option<PipelineStatus>> {
        self.get(&self.trees.status, &keys::prefix(pipeline)?)?
            .map(|v| from_json("status", &v))
            .transpose()
    }

    async fn counts(&self, pipeline: &str) -> StateResult<PipelineCounts> {
        Ok(PipelineCounts {
            links: self.counter(pipeline, LINKS)?,
            dead_letters: self.counter(pipeline, DEAD_LETTERS)?,
            pending_intents: self.counter(pipeline, INTENTS)?,
            duplicates: self.counter(pipeline, DUPLICATES)?,
        })
    }

    async fn events(
        &self,
        pipeline: &str,
        from: Timestamp,
        until: Timestamp,
    ) -> StateResult<Vec<Event>> {
        // A chunk is stored under its first event's time and spans at most
        // EVENT_CHUNK_SPAN: start that much earlier, keep what is in range.
        let start = keys::timed(
            pipeline,
            from.checked_sub(EVENT_CHUNK_SPAN).unwrap_or(Timestamp::MIN),
            0,
        )?;
        let end = keys::timed(pipeline, until, 0)?;
        let prefix_len = keys::prefix(pipeline)?.len();
        let mut out = Vec::new();
        for item in self.trees.events.range(start..end) {
            let (key, value) = item.map_err(backend)?;
            let seq = keys::seq_of(&key[prefix_len..])?;
            for (i, event) in decode_events(&key, prefix_len, &value)?
                .into_iter()
                .enumerate()
            {
                if event.at >= from && event.at < until {
                    out.push(((event.at, seq, i), event));
                }
            }
        }
        // Time order; at one instant, commit order (chunks by sequence).
        out.sort_by_key(|(order, _)| *order);
        Ok(out.into_iter().map(|(_, e)| e).collect())
    }

    async fn pipelines(&self) -> StateResult<Vec<String>> {
        let mut out = Vec::new();
        for item in self.trees.pipelines.iter() {
            let (key, _) = item.map_err(backend)?;
            out.push(keys::text(&key)?);
        }
        Ok(out)
    }

    async fn sla_lead(&self, pipeline: &str, marketing_id: &str) -> StateResult<Option<SlaLead>> {
        self.get(
            &self.trees.sla,
            &keys::with(pipeline, marketing_id.as_bytes())?,
        )?
        .map(|v| from_json("sla lead", &v))
        .transpose()
    }

    async fn due_sla_leads(
        &self,
        pipeline: &str,
        until: Timestamp,
        limit: usize,
    ) -> StateResult<Vec<SlaLead>> {
        let start = keys::prefix(pipeline)?;
        // Every key of a timer due at `until` sorts below `until`'s next nanosecond.
        let end = keys::timer(
            pipeline,
            until
                .saturating_add(jiff::SignedDuration::from_nanos(1))
                .unwrap_or(until),
            "",
        )?;
        let mut out = Vec::new();
        for item in self.trees.timers.range(start..end) {
            if out.len() >= limit {
                break;
            }
            let (_, marketing_id) = item.map_err(backend)?;
            let marketing_id = keys::text(&marketing_id)?;
            if let Some(lead) = self.sla_lead(pipeline, &marketing_id).await? {
                out.push(lead);
            }
        }
        Ok(out)
    }

    async fn open_sla_timers(&self, pipeline: &str) -> StateResult<u64> {
        let mut n = 0;
        for item in self.trees.timers.scan_prefix(keys::prefix(pipeline)?) {
            item.map_err(backend)?;
            n += 1;
        }
        Ok(n)
    }

    async fn outcome(&self, pipeline: &str, outcome_id: &str) -> StateResult<Option<OutcomeLink>> {
        self.get(
            &self.trees.outcomes,
            &keys::with(pipeline, outcome_id.as_bytes())?,
        )?
        .map(|v| from_json("outcome", &v))
        .transpose()
    }

    async fn duplicates(
        &self,
        pipeline: &str,
        ids: &[String],
    ) -> StateResult<HashMap<String, Duplicate>> {
        let mut out = HashMap::new();
        for id in ids {
            if let Some(v) = self.get(&self.trees.duplicates, &keys::duplicate(pipeline, id)?)? {
                out.insert(id.clone(), from_json("duplicate", &v)?);
            }
        }
        Ok(out)
    }

    async fn duplicates_of(&self, pipeline: &str, survivor: &str) -> StateResult<Vec<Duplicate>> {
        let list = keys::duplicates_of(pipeline, survivor)?;
        let mut out = Vec::new();
        for item in self.trees.duplicates.scan_prefix(&list) {
            let (key, _) = item.map_err(backend)?;
            let id = keys::text(&key[list.len()..])?;
            if let Some(v) = self.get(&self.trees.duplicates, &keys::duplicate(pipeline, &id)?)? {
                out.push(from_json("duplicate", &v)?);
            }
        }
        Ok(out)
    }

    async fn scan_duplicates(&self, pipeline: &str, limit: usize) -> StateResult<Vec<Duplicate>> {
        let entries = keys::duplicate(pipeline, "")?;
        let mut out = Vec::new();
        for item in self.trees.duplicates.scan_prefix(&entries).take(limit) {
            let (_, v) = item.map_err(backend)?;
            out.push(from_json("duplicate", &v)?);
        }
        Ok(out)
    }

    async fn field_tags(&self, pipeline: &str) -> StateResult<BTreeMap<String, u16>> {
        keys::check_pipeline(pipeline)?;
        match self
            .trees
            .pipelines
            .get(pipeline.as_bytes())
            .map_err(backend)?
        {
            Some(v) if !v.is_empty() => from_json("field tags", &v),
            _ => Ok(BTreeMap::new()),
        }
    }

    async fn commit(&self, commit: &Commit) -> StateResult<()> {
        if commit.is_empty() {
            return Ok(());
        }
        let mut tries = 0;
        loop {
            tries += 1;
            let plan = Plan::new(commit, self)?;
            let result = self.apply(&plan);
            if tries < COMMIT_TRIES && is_stale(&result) {
                continue;
            }
            result.map_err(tx_error)?;
            break;
        }
        self.flush().await
    }
}

impl SledStore {
    /// Runs a commit's plan as one transaction over every tree.
    fn apply(&self, plan: &Plan<'_>) -> Result<(), TransactionError<Abort>> {
        let t = &self.trees;
        (
            t.links.tree(),
            t.crm_links.tree(),
            &t.cursors,
            &t.intents,
            &t.dlq,
            &t.rr,
            &t.status,
            &t.events,
            &t.counters,
            &t.pipelines,
            &t.sla,
            &t.timers,
            &t.outcomes,
            &t.duplicates,
        )
            .transaction(
                |(
                    links,
                    crm_links,
                    cursors,
                    intents,
                    dlq,
                    rr,
                    status,
                    events,
                    counters,
                    pipelines,
                    sla,
                    timers,
                    outcomes,
                    duplicates,
                )| {
                    plan.apply(&Tx {
                        links,
                        crm_links,
                        cursors,
                        intents,
                        dlq,
                        rr,
                        status,
                        events,
                        counters,
                        pipelines,
                        sla,
                        timers,
                        outcomes,
                        duplicates,
                    })
                },
            )
    }

    /// The fences of the link buckets `changes` touch: forward ones by
    /// marketing id, reverse ones by the new and the current CRM ids.
    fn link_fences(&self, prefix: &[u8], changes: &[LinkChange]) -> StateResult<(Fences, Fences)> {
        if changes.is_empty() {
            return Ok((Fences::new(), Fences::new()));
        }
        let marketing_ids: Vec<&[u8]> = changes
            .iter()
            .map(|c| match c {
                LinkChange::Upsert { marketing_id, .. } | LinkChange::Remove { marketing_id } => {
                    marketing_id.as_bytes()
                }
            })
            .collect();
        let links = &self.trees.links;
        let forward = links.fences(prefix, &marketing_ids)?;
        let current = links.get_many(prefix, &marketing_ids)?;
        let mut crm_ids: Vec<&[u8]> = current
            .iter()
            .flatten()
            .map(|old| old.crm_id.as_bytes())
            .collect();
        for change in changes {
            if let LinkChange::Upsert { state, .. } = change {
                crm_ids.push(state.crm_id.as_bytes());
            }
        }
        let reverse = self.trees.crm_links.fences(prefix, &crm_ids)?;
        Ok((forward, reverse))
    }

    /// Moves links stored by an older leadbridge, one entry per link in
    /// `links_m` (and one per reverse link in `links_c`), into buckets: a
    /// few thousand per transaction, so a crash midway leaves the rest for
    /// the next start; the emptied trees are dropped.
    fn migrate_links(&self) -> StateResult<()> {
        const CHUNK: usize = 2_000;
        let names = self.db.tree_names();
        if !names.iter().any(|n| n.as_ref() == b"links_m") {
            return Ok(());
        }
        let old_m = self.db.open_tree("links_m").map_err(backend)?;
        let old_c = self.db.open_tree("links_c").map_err(backend)?;
        loop {
            // The next chunk of one pipeline's links.
            let mut prefix: Option<Vec<u8>> = None;
            let mut chunk: Vec<(IVec, String, LinkState)> = Vec::new();
            for item in old_m.iter() {
                let (key, value) = item.map_err(backend)?;
                let sep = key
                    .iter()
                    .position(|&b| b == 0)
                    .ok_or_else(|| StateError::corrupt("link", "key without a pipeline"))?;
                let p = &key[..=sep];
                if prefix.as_deref().is_some_and(|q| q != p) || chunk.len() >= CHUNK {
                    break;
                }
                prefix.get_or_insert_with(|| p.to_vec());
                let marketing_id = keys::text(&key[sep + 1..])?;
                chunk.push((key.clone(), marketing_id, decode_link(&value)?));
            }
            let Some(prefix) = prefix else { break };
            let changes: Vec<LinkChange> = chunk
                .iter()
                .map(|(_, marketing_id, state)| LinkChange::Upsert {
                    marketing_id: marketing_id.clone(),
                    state: state.clone(),
                })
                .collect();
            let mut tries = 0;
            loop {
                tries += 1;
                let (link_fences, crm_fences) = self.link_fences(&prefix, &changes)?;
                let result = (
                    self.trees.links.tree(),
                    self.trees.crm_links.tree(),
                    &old_m,
                    &old_c,
                )
                    .transaction(|(links, crm_links, tx_m, tx_c)| {
                        let mut forward =
                            TxMap::<LinkCodec>::load(links, &prefix, "link", &link_fences)?;
                        let mut reverse =
                            TxMap::<IdCodec>::load(crm_links, &prefix, "link", &crm_fences)?;
                        for (key, marketing_id, state) in &chunk {
                            let crm = state.crm_id.as_bytes();
                            if reverse.get(crm)?.is_none() {
                                reverse.insert(crm, marketing_id.clone())?;
                            }
                            forward.insert(marketing_id.as_bytes(), state.clone())?;
                            tx_m.remove(key)?;
                            let mut c_key = prefix.clone();
                            c_key.extend_from_slice(crm);
                            tx_c.remove(c_key)?;
                        }
                        forward.store()?;
                        reverse.store()?;
                        Ok(())
                    });
                if tries < COMMIT_TRIES && is_stale(&result) {
                    continue;
                }
                result.map_err(tx_error)?;
                break;
            }
        }
        self.db.drop_tree("links_m").map_err(backend)?;
        self.db.drop_tree("links_c").map_err(backend)?;
        self.db.flush().map_err(backend)?;
        Ok(())
    }
}
