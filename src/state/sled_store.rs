//! The embedded default backend: one sled database in the state directory.
//!
//! Layout: `<state_dir>/lock` (an advisory lock held while open, so a second
//! daemon is refused with a clear message), `<state_dir>/db/` (sled), and
//! `<state_dir>/tokens/` (the [`TokenVault`]). Trees and key layout are in
//! `keys`. A commit is one sled transaction over every tree it touches,
//! followed by `flush_async`: sled only flushes on its own every few hundred
//! milliseconds, and a step counts as committed only once it is on disk.

use std::collections::{BTreeMap, HashMap};
use std::fs::{File, OpenOptions};
use std::ops::Bound;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use async_trait::async_trait;
use jiff::Timestamp;
use leadbridge_core::Cursor;
use sled::transaction::{
    ConflictableTransactionError, ConflictableTransactionResult, TransactionError,
    TransactionalTree,
};
use sled::{Db, IVec, Transactional, Tree};

use super::codec::{decode_link, encode_link, from_json, to_json};
use super::dlq::DlqEntry;
use super::error::{StateError, StateResult};
use super::events::Event;
use super::files::private_dir;
use super::intents::{Intent, IntentId};
use super::keys;
use super::links::{Link, LinkChange};
use super::outcomes::OutcomeLink;
use super::sla::SlaLead;
use super::status::{CursorEntry, PipelineCounts, PipelineStatus};
use super::store::{Commit, StateStore};
use super::vault::TokenVault;
use crate::side::Side;

/// Counter names in the `counters` tree.
const LINKS: &[u8] = b"links";
const DEAD_LETTERS: &[u8] = b"dlq";
const INTENTS: &[u8] = b"intents";

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
    links_m: Tree,
    links_c: Tree,
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
        let config = sled::Config::new()
            .path(dir.join("db"))
            .cache_capacity(options.cache_capacity)
            .mode(sled::Mode::LowSpace);
        let db = open_sled(&config, &dir)?;
        let tree = |name: &str| db.open_tree(name).map_err(backend);
        let trees = Trees {
            links_m: tree("links_m")?,
            links_c: tree("links_c")?,
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
        };
        Ok(Self {
            db,
            trees,
            dir,
            _lock: lock,
        })
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
fn open_sled(config: &sled::Config, dir: &Path) -> StateResult<Db> {
    const WAIT: std::time::Duration = std::time::Duration::from_secs(2);
    let started = std::time::Instant::now();
    loop {
        match config.open() {
            Ok(db) => return Ok(db),
            // After the wait, only something other than leadbridge can hold
            // sled's own lock: say the same as for another instance.
            Err(sled::Error::Io(io)) if io.to_string().contains("could not acquire lock") => {
                if started.elapsed() >= WAIT {
                    return Err(StateError::Locked {
                        dir: dir.to_path_buf(),
                    });
                }
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            Err(other) => return Err(backend(other)),
        }
    }
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

/// A failed transaction: our own abort reason, or sled's.
fn tx_error(e: TransactionError<StateError>) -> StateError {
    match e {
        TransactionError::Abort(e) => e,
        TransactionError::Storage(e) => backend(e),
    }
}

/// Aborts a transaction with a state error.
fn abort<T>(e: StateError) -> ConflictableTransactionResult<T, StateError> {
    Err(ConflictableTransactionError::Abort(e))
}

/// A commit with every key and value that does not depend on the stored
/// state computed up front, so the transaction body (which sled may run
/// more than once on conflict) does little and cannot fail on encoding.
struct Plan<'a> {
    commit: &'a Commit,
    prefix: Vec<u8>,
    links: Vec<PlannedLink<'a>>,
    dlq_removed: Vec<Vec<u8>>,
    intents: Vec<Vec<u8>>,
    cursors: Vec<(Vec<u8>, Option<Vec<u8>>)>,
    events: Vec<(Vec<u8>, Vec<u8>)>,
    rr: Vec<(Vec<u8>, [u8; 8])>,
    status: Option<Vec<u8>>,
    counter_keys: [Vec<u8>; 3],
    sla: Vec<PlannedSla<'a>>,
    outcomes: Vec<(Vec<u8>, Vec<u8>)>,
}

/// One SLA state to store: its key, value and new timer key.
struct PlannedSla<'a> {
    lead: &'a SlaLead,
    key: Vec<u8>,
    value: Vec<u8>,
    timer: Option<Vec<u8>>,
}

enum PlannedLink<'a> {
    Upsert {
        marketing_id: &'a str,
        crm_id: &'a str,
        m_key: Vec<u8>,
        c_key: Vec<u8>,
        value: Vec<u8>,
    },
    Remove {
        m_key: Vec<u8>,
    },
}

/// The transaction's view of the trees a commit writes.
struct Tx<'t> {
    links_m: &'t TransactionalTree,
    links_c: &'t TransactionalTree,
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
}

impl<'a> Plan<'a> {
    fn new(commit: &'a Commit, db: &Db) -> StateResult<Self> {
        let p = commit.pipeline.as_str();
        let prefix = keys::prefix(p)?;
        let mut links = Vec::with_capacity(commit.links.len());
        for change in &commit.links {
            links.push(match change {
                LinkChange::Upsert {
                    marketing_id,
                    state,
                } => PlannedLink::Upsert {
                    marketing_id,
                    crm_id: &state.crm_id,
                    m_key: keys::with(p, marketing_id.as_bytes())?,
                    c_key: keys::with(p, state.crm_id.as_bytes())?,
                    value: encode_link(state),
                },
                LinkChange::Remove { marketing_id } => PlannedLink::Remove {
                    m_key: keys::with(p, marketing_id.as_bytes())?,
                },
            });
        }
        let mut events = Vec::with_capacity(commit.events.len());
        for event in &commit.events {
            // Ids from sled are unique and increasing, so events at the same
            // instant keep their order and never overwrite each other.
            let seq = db.generate_id().map_err(backend)?;
            events.push((keys::timed(p, event.at, seq)?, to_json("event", event)?));
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
        let mut cursors = Vec::with_capacity(commit.cursors.len());
        for (side, object, cursor) in &commit.cursors {
            let value = cursor.as_ref().map(|c| to_json("cursor", c)).transpose()?;
            cursors.push((keys::sided(p, *side, object)?, value));
        }
        Ok(Self {
            commit,
            links,
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
            ],
            prefix,
            sla,
            outcomes,
        })
    }

    /// The transaction body: applies the plan, in the order of `Commit`'s
    /// fields (links, dead letters added then removed, intents, cursors,
    /// events, round robin, status), then the counters.
    fn apply(&self, tx: &Tx<'_>) -> ConflictableTransactionResult<(), StateError> {
        let pipeline = &self.commit.pipeline;
        tx.pipelines.insert(pipeline.as_bytes(), &[][..])?;
        let mut link_delta: i64 = 0;
        for link in &self.links {
            match link {
                PlannedLink::Upsert {
                    marketing_id,
                    crm_id,
                    m_key,
                    c_key,
                    value,
                } => {
                    match tx.links_m.get(m_key)? {
                        Some(old) => {
                            let old = decode_link(&old).or_else(abort)?;
                            if old.crm_id != *crm_id {
                                tx.links_c.remove(self.key(old.crm_id.as_bytes()))?;
                            }
                        }
                        None => link_delta += 1,
                    }
                    if let Some(owner) = tx.links_c.get(c_key)? {
                        if owner.as_ref() != marketing_id.as_bytes() {
                            return abort(StateError::LinkConflict {
                                pipeline: pipeline.clone(),
                                crm_id: (*crm_id).to_owned(),
                                linked_to: String::from_utf8_lossy(&owner).into_owned(),
                                marketing_id: (*marketing_id).to_owned(),
                            });
                        }
                    }
                    tx.links_m.insert(m_key.as_slice(), value.as_slice())?;
                    tx.links_c
                        .insert(c_key.as_slice(), marketing_id.as_bytes())?;
                }
                PlannedLink::Remove { m_key } => {
                    if let Some(old) = tx.links_m.remove(m_key.as_slice())? {
                        let old = decode_link(&old).or_else(abort)?;
                        let c_key = self.key(old.crm_id.as_bytes());
                        let m_id = &m_key[self.prefix.len()..];
                        if tx.links_c.get(&c_key)?.is_some_and(|v| v.as_ref() == m_id) {
                            tx.links_c.remove(c_key)?;
                        }
                        link_delta -= 1;
                    }
                }
            }
        }

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

        let [links, dlq, intents] = &self.counter_keys;
        add_to_counter(tx.counters, links, link_delta)?;
        add_to_counter(tx.counters, dlq, dlq_delta)?;
        add_to_counter(tx.counters, intents, intent_delta)?;
        Ok(())
    }

    /// `pipeline \0 rest`, from the precomputed prefix.
    fn key(&self, rest: &[u8]) -> Vec<u8> {
        let mut key = self.prefix.clone();
        key.extend_from_slice(rest);
        key
    }
}

/// Adds a signed amount to a u64 counter inside a transaction, never below zero.
fn add_to_counter(
    counters: &TransactionalTree,
    key: &[u8],
    delta: i64,
) -> ConflictableTransactionResult<(), StateError> {
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
        let marketing_id = match side {
            Side::Marketing => id.to_owned(),
            Side::Crm => {
                match self.get(&self.trees.links_c, &keys::with(pipeline, id.as_bytes())?)? {
                    Some(m) => keys::text(&m)?,
                    None => return Ok(None),
                }
            }
        };
        let key = keys::with(pipeline, marketing_id.as_bytes())?;
        match self.get(&self.trees.links_m, &key)? {
            Some(bytes) => Ok(Some(Link {
                marketing_id,
                state: decode_link(&bytes)?,
            })),
            None if side == Side::Crm => Err(StateError::corrupt(
                "link",
                format!(
                    "CRM record {id} points to marketing record {marketing_id}, which has no link"
                ),
            )),
            None => Ok(None),
        }
    }

    async fn links(
        &self,
        pipeline: &str,
        side: Side,
        ids: &[String],
    ) -> StateResult<HashMap<String, Link>> {
        let mut found = HashMap::with_capacity(ids.len());
        for id in ids {
            if let Some(link) = self.link(pipeline, side, id).await? {
                found.insert(id.clone(), link);
            }
        }
        Ok(found)
    }

    async fn scan_links(
        &self,
        pipeline: &str,
        after: Option<&str>,
        limit: usize,
    ) -> StateResult<Vec<Link>> {
        let prefix = keys::prefix(pipeline)?;
        let start = match after {
            Some(after) => Bound::Excluded(keys::with(pipeline, after.as_bytes())?),
            None => Bound::Included(prefix.clone()),
        };
        let mut out = Vec::new();
        for item in self.trees.links_m.range((start, Bound::Unbounded)) {
            if out.len() >= limit {
                break;
            }
            let (key, value) = item.map_err(backend)?;
            let Some(id) = key.strip_prefix(prefix.as_slice()) else {
                break;
            };
            out.push(Link {
                marketing_id: keys::text(id)?,
                state: decode_link(&value)?,
            });
        }
        Ok(out)
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
                to_json("intent", intent)?,
                keys::with(&intent.pipeline, INTENTS)?,
                intent.pipeline.as_bytes(),
            ));
        }
        let t = &self.trees;
        (&t.intents, &t.counters, &t.pipelines)
            .transaction(|(tx_intents, tx_counters, tx_pipelines)| {
                for (key, value, counter, pipeline) in &planned {
                    tx_pipelines.insert(*pipeline, &[][..])?;
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
        self.scan(&self.trees.intents, pipeline, |_, value| {
            from_json("intent", value)
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
        })
    }

    async fn events(
        &self,
        pipeline: &str,
        from: Timestamp,
        until: Timestamp,
    ) -> StateResult<Vec<Event>> {
        let start = keys::timed(pipeline, from, 0)?;
        let end = keys::timed(pipeline, until, 0)?;
        let mut out = Vec::new();
        for item in self.trees.events.range(start..end) {
            let (_, value) = item.map_err(backend)?;
            out.push(from_json("event", &value)?);
        }
        Ok(out)
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

    async fn commit(&self, commit: &Commit) -> StateResult<()> {
        if commit.is_empty() {
            return Ok(());
        }
        let plan = Plan::new(commit, &self.db)?;
        let t = &self.trees;
        (
            &t.links_m,
            &t.links_c,
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
        )
            .transaction(
                |(
                    links_m,
                    links_c,
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
                )| {
                    plan.apply(&Tx {
                        links_m,
                        links_c,
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
                    })
                },
            )
            .map_err(tx_error)?;
        self.flush().await
    }
}
