//! Buckets: many small entries of one pipeline in one sled value.
//!
//! Why: sled 0.34 costs about 300 bytes of disk per entry however small the
//! entry is (each is written as a delta, again in every rewrite of its
//! 16-entry leaf and in every split, and a segment is reclaimed only once
//! half of it is dead); one entry per link and one per reverse link came to
//! some 450 bytes of disk per link before anything else was stored. A
//! bucket holds some 30 links (or 110 reverse links) in one value of at
//! most [`MAX_BUCKET`] bytes, encoded against each other (see `pack`), so
//! sled sees a thirtieth of the entries and under half the bytes.
//!
//! # Layout
//!
//! A bucket map is a sorted map `id → value` of one pipeline, cut into
//! ranges of ids. Each range is one sled entry: key `pipeline \0 fence`,
//! where the fence is the smallest id the range may hold (the first range's
//! fence is empty); value: a version byte, the range's upper end `hi`
//! (exclusive; none for the last range), the entry count, then the entries
//! in id order, each id front-coded against the previous one and each value
//! encoded by an [`EntryCodec`] against the values before it.
//!
//! Invariants: the ranges of a pipeline partition all ids, so the bucket of
//! an id is the one with the greatest fence at or below it, and its `hi` is
//! above the id. The first bucket (empty fence) exists as soon as any does
//! and is never removed; a bucket that grows past [`MAX_BUCKET`] is split
//! into ranges inside its own; buckets are never merged (an emptied one
//! stays, about ten bytes, and takes the next id of its range).
//!
//! # Concurrency
//!
//! A read outside a transaction takes one reverse range step to the bucket
//! and checks `hi`: a split that happened between finding the key and
//! reading the value shows as an id at or above `hi`, and the step is taken
//! again. A commit finds the fences of every id it touches before its
//! transaction (sled transactions can only `get`); inside, it re-reads each
//! bucket and checks every id it touches lies in a loaded bucket's range,
//! else it aborts as [`Abort::Stale`] and the commit is planned again. sled
//! 0.34 runs transactions one at a time, so what a transaction reads does
//! not change under it.

use std::collections::{BTreeMap, BTreeSet};
use std::marker::PhantomData;

use sled::transaction::{ConflictableTransactionError, TransactionalTree};
use sled::{IVec, Tree};

use super::codec::{put_varint, Reader};
use super::error::{StateError, StateResult};
use super::pack::{put_front, read_front};

/// A bucket is split once its encoding passes this many bytes.
///
/// Small enough that rewriting one for a single changed link is cheap (a
/// few microseconds, 1.5 KB to write) and that a sled leaf of 16 of them
/// stays far below the size sled moves out of its log into a separate blob
/// file (a quarter of a segment); large enough for ~30 links, so sled's
/// per-entry cost is spread thin. (Measured with the sync benchmark: 1 KiB
/// buckets came out larger on disk, 2 and 3 KiB no smaller.)
pub(crate) const MAX_BUCKET: usize = 1536;

/// A split cuts a bucket into pieces of about this many bytes, so pieces
/// left behind by appends (ids that only grow) are three quarters full.
const SPLIT_TARGET: usize = MAX_BUCKET * 3 / 4;

/// Reads retried when a split races them; more means the ranges are broken.
const LOCATE_TRIES: usize = 32;

/// The bucket encoding version this build writes and reads.
const BUCKET_VERSION: u8 = 1;

/// How the values of a bucket map are encoded, each against the ones before
/// it in the same bucket (the context).
pub(crate) trait EntryCodec {
    /// The stored value.
    type Value: Clone;
    /// What a value is encoded against; starts empty in each bucket.
    type Ctx: Default;
    /// Appends `value`, updating the context.
    fn encode(value: &Self::Value, ctx: &mut Self::Ctx, out: &mut Vec<u8>);
    /// Steps over one value, updating the context (cheaply: no value built).
    fn skip(r: &mut Reader<'_>, ctx: &mut Self::Ctx) -> Result<(), String>;
    /// Reads one value, updating the context.
    fn decode(r: &mut Reader<'_>, ctx: &mut Self::Ctx) -> Result<Self::Value, String>;
}

/// Why a transaction gave up.
#[derive(Debug)]
pub(crate) enum Abort {
    /// The commit cannot be applied (a link conflict, a corrupt entry).
    State(StateError),
    /// A bucket found before the transaction is no longer where the ids it
    /// touches live (another commit split it): plan again.
    Stale,
}

/// The fences of the buckets a commit touches (ids, without the pipeline).
pub(crate) type Fences = BTreeSet<Vec<u8>>;

/// A transaction step's result.
pub(crate) type TxResult<T> = Result<T, ConflictableTransactionError<Abort>>;

/// Aborts a transaction with a state error.
pub(crate) fn abort<T>(e: StateError) -> TxResult<T> {
    Err(ConflictableTransactionError::Abort(Abort::State(e)))
}

fn stale<T>() -> TxResult<T> {
    Err(ConflictableTransactionError::Abort(Abort::Stale))
}

fn backend(e: sled::Error) -> StateError {
    StateError::Backend(Box::new(e))
}

/// Walks the entries of an encoded bucket in id order.
struct Walk<'a, C: EntryCodec> {
    r: Reader<'a>,
    hi: Option<&'a [u8]>,
    left: usize,
    id: Vec<u8>,
    ctx: C::Ctx,
}

impl<'a, C: EntryCodec> Walk<'a, C> {
    fn new(bytes: &'a [u8]) -> Result<Self, String> {
        let mut r = Reader::new(bytes);
        let version = r.byte()?;
        if version != BUCKET_VERSION {
            return Err(format!(
                "bucket version {version}, this build reads {BUCKET_VERSION} (written by a newer leadbridge?)"
            ));
        }
        let hi = match r.len()? {
            0 => None,
            n => Some(r.take(n - 1)?),
        };
        let left = r.len()?;
        Ok(Self {
            r,
            hi,
            left,
            id: Vec::new(),
            ctx: C::Ctx::default(),
        })
    }

    /// Moves to the next entry; its id is then in `self.id`, and its value
    /// must be read with `skip` or `value` before the next call.
    fn next(&mut self) -> Result<bool, String> {
        if self.left == 0 {
            if !self.r.is_empty() {
                return Err(format!("{} trailing bytes", self.r.buf.len()));
            }
            return Ok(false);
        }
        self.left -= 1;
        read_front(&mut self.r, &mut self.id)?;
        Ok(true)
    }

    fn skip(&mut self) -> Result<(), String> {
        C::skip(&mut self.r, &mut self.ctx)
    }

    fn value(&mut self) -> Result<C::Value, String> {
        C::decode(&mut self.r, &mut self.ctx)
    }
}

/// A decoded bucket: its upper end and its entries.
#[derive(Debug)]
struct Bucket<V> {
    hi: Option<Vec<u8>>,
    entries: BTreeMap<Vec<u8>, V>,
}

fn decode<C: EntryCodec>(bytes: &[u8]) -> Result<Bucket<C::Value>, String> {
    let mut walk = Walk::<C>::new(bytes)?;
    let mut entries = BTreeMap::new();
    while walk.next()? {
        let value = walk.value()?;
        entries.insert(walk.id.clone(), value);
    }
    Ok(Bucket {
        hi: walk.hi.map(<[u8]>::to_vec),
        entries,
    })
}

fn encode<'v, C: EntryCodec + 'v>(
    hi: Option<&[u8]>,
    entries: impl ExactSizeIterator<Item = (&'v Vec<u8>, &'v C::Value)>,
) -> Vec<u8> {
    let mut out = Vec::with_capacity(MAX_BUCKET + 256);
    out.push(BUCKET_VERSION);
    match hi {
        None => out.push(0),
        Some(hi) => {
            put_varint(&mut out, hi.len() as u64 + 1);
            out.extend_from_slice(hi);
        }
    }
    put_varint(&mut out, entries.len() as u64);
    let mut ctx = C::Ctx::default();
    let mut prev: &[u8] = &[];
    for (id, value) in entries {
        put_front(&mut out, prev, id);
        C::encode(value, &mut ctx, &mut out);
        prev = id;
    }
    out
}

/// The upper end of an encoded bucket.
fn hi_of(bytes: &[u8]) -> Result<Option<&[u8]>, String> {
    let mut r = Reader::new(bytes);
    r.byte()?;
    Ok(match r.len()? {
        0 => None,
        n => Some(r.take(n - 1)?),
    })
}

/// One sorted map of ids per pipeline, in buckets of a sled tree.
pub(crate) struct BucketMap<C> {
    tree: Tree,
    what: &'static str,
    codec: PhantomData<C>,
}

impl<C> Clone for BucketMap<C> {
    fn clone(&self) -> Self {
        Self {
            tree: self.tree.clone(),
            what: self.what,
            codec: PhantomData,
        }
    }
}

impl<C: EntryCodec> BucketMap<C> {
    /// A map over `tree`; `what` names its entries in errors.
    pub(crate) fn new(tree: Tree, what: &'static str) -> Self {
        Self {
            tree,
            what,
            codec: PhantomData,
        }
    }

    /// The sled tree, for transactions.
    pub(crate) fn tree(&self) -> &Tree {
        &self.tree
    }

    fn corrupt(&self, detail: String) -> StateError {
        StateError::corrupt(self.what, detail)
    }

    /// The bucket that holds `id` (its sled key and value), if the
    /// pipeline has any bucket.
    fn locate(&self, prefix: &[u8], id: &[u8]) -> StateResult<Option<(IVec, IVec)>> {
        let mut key = prefix.to_vec();
        key.extend_from_slice(id);
        for _ in 0..LOCATE_TRIES {
            let Some(item) = self.tree.range(prefix..=key.as_slice()).next_back() else {
                return Ok(None);
            };
            let (k, v) = item.map_err(backend)?;
            let hi = hi_of(&v).map_err(|e| self.corrupt(e))?;
            if hi.is_some_and(|hi| id >= hi) {
                // Split since the key was found: look again.
                continue;
            }
            return Ok(Some((k, v)));
        }
        Err(self.corrupt(format!(
            "no bucket's range holds {:?}",
            String::from_utf8_lossy(id)
        )))
    }

    /// The fences of the buckets holding `ids` now (the empty fence when
    /// the pipeline has no bucket yet: the first one will be created); one
    /// search per bucket, not per id.
    pub(crate) fn fences(&self, prefix: &[u8], ids: &[&[u8]]) -> StateResult<Fences> {
        let mut sorted = ids.to_vec();
        sorted.sort_unstable();
        let mut out = BTreeSet::new();
        let mut i = 0;
        while i < sorted.len() {
            let Some((key, bytes)) = self.locate(prefix, sorted[i])? else {
                out.insert(Vec::new());
                break;
            };
            let hi = hi_of(&bytes).map_err(|e| self.corrupt(e))?;
            while i < sorted.len() && hi.is_none_or(|hi| sorted[i] < hi) {
                i += 1;
            }
            out.insert(key[prefix.len()..].to_vec());
        }
        Ok(out)
    }

    /// The value stored under `id`.
    #[cfg(test)]
    pub(crate) fn get(&self, prefix: &[u8], id: &[u8]) -> StateResult<Option<C::Value>> {
        Ok(self.get_many(prefix, &[id])?.pop().flatten())
    }

    /// The values stored under `ids` (in the same order; any order in),
    /// each bucket walked once for all its ids.
    pub(crate) fn get_many(
        &self,
        prefix: &[u8],
        ids: &[&[u8]],
    ) -> StateResult<Vec<Option<C::Value>>> {
        let mut order: Vec<usize> = (0..ids.len()).collect();
        order.sort_by(|&a, &b| ids[a].cmp(ids[b]));
        let mut out = vec![None; ids.len()];
        let mut i = 0;
        while i < order.len() {
            let Some((key, bytes)) = self.locate(prefix, ids[order[i]])? else {
                break;
            };
            let fence = &key[prefix.len()..];
            let hi = hi_of(&bytes).map_err(|e| self.corrupt(e))?;
            // Every sorted id from i on that this bucket's range holds.
            let mut end = i;
            while end < order.len()
                && ids[order[end]] >= fence
                && hi.is_none_or(|hi| ids[order[end]] < hi)
            {
                end += 1;
            }
            self.find_sorted(&bytes, ids, &order[i..end], &mut out)
                .map_err(|e| self.corrupt(e))?;
            i = end;
        }
        Ok(out)
    }

    /// One walk of a bucket for the ids `group` (indices into `ids`, sorted
    /// by id), decoding only the entries asked for.
    fn find_sorted(
        &self,
        bytes: &[u8],
        ids: &[&[u8]],
        group: &[usize],
        out: &mut [Option<C::Value>],
    ) -> Result<(), String> {
        let mut walk = Walk::<C>::new(bytes)?;
        let mut g = 0;
        while g < group.len() && walk.next()? {
            while g < group.len() && ids[group[g]] < walk.id.as_slice() {
                g += 1;
            }
            if g < group.len() && ids[group[g]] == walk.id.as_slice() {
                let value = walk.value()?;
                while g < group.len() && ids[group[g]] == walk.id.as_slice() {
                    out[group[g]] = Some(value.clone());
                    g += 1;
                }
            } else {
                walk.skip()?;
            }
        }
        Ok(())
    }

    /// Up to `limit` entries in id order, after `after` (or from the first).
    pub(crate) fn scan(
        &self,
        prefix: &[u8],
        after: Option<&[u8]>,
        limit: usize,
    ) -> StateResult<Vec<(Vec<u8>, C::Value)>> {
        let start = match after {
            Some(after) => match self.locate(prefix, after)? {
                Some((key, _)) => key.to_vec(),
                None => return Ok(Vec::new()),
            },
            None => prefix.to_vec(),
        };
        let mut out = Vec::new();
        for item in self.tree.range(start..) {
            let (key, bytes) = item.map_err(backend)?;
            if !key.starts_with(prefix) {
                break;
            }
            let bucket = decode::<C>(&bytes).map_err(|e| self.corrupt(e))?;
            for (id, value) in bucket.entries {
                if after.is_some_and(|after| id.as_slice() <= after) {
                    continue;
                }
                if out.len() >= limit {
                    return Ok(out);
                }
                out.push((id, value));
            }
        }
        Ok(out)
    }
}

/// A bucket loaded in a transaction.
struct TxBucket<V> {
    fence: Vec<u8>,
    hi: Option<Vec<u8>>,
    entries: BTreeMap<Vec<u8>, V>,
    dirty: bool,
}

/// The buckets of one pipeline a transaction touches, changed in memory
/// and written back (split where they grew too large) by [`TxMap::store`].
pub(crate) struct TxMap<'t, C: EntryCodec> {
    tree: &'t TransactionalTree,
    prefix: &'t [u8],
    /// Sorted by fence.
    buckets: Vec<TxBucket<C::Value>>,
}

impl<'t, C: EntryCodec> TxMap<'t, C> {
    /// Reads the buckets with these fences (found before the transaction);
    /// a missing one means a stale plan, except the first of an empty map.
    pub(crate) fn load(
        tree: &'t TransactionalTree,
        prefix: &'t [u8],
        what: &'static str,
        fences: &Fences,
    ) -> TxResult<Self> {
        let mut buckets = Vec::with_capacity(fences.len());
        for fence in fences {
            let mut key = prefix.to_vec();
            key.extend_from_slice(fence);
            match tree.get(&key)? {
                Some(bytes) => match decode::<C>(&bytes) {
                    Ok(b) => buckets.push(TxBucket {
                        fence: fence.clone(),
                        hi: b.hi,
                        entries: b.entries,
                        dirty: false,
                    }),
                    Err(e) => return abort(StateError::corrupt(what, e)),
                },
                None if fence.is_empty() => buckets.push(TxBucket {
                    fence: Vec::new(),
                    hi: None,
                    entries: BTreeMap::new(),
                    dirty: false,
                }),
                None => return stale(),
            }
        }
        Ok(Self {
            tree,
            prefix,
            buckets,
        })
    }

    /// The loaded bucket whose range holds `id`.
    fn slot(&mut self, id: &[u8]) -> TxResult<&mut TxBucket<C::Value>> {
        let i = self.buckets.partition_point(|b| b.fence.as_slice() <= id);
        if i == 0 {
            return stale();
        }
        let bucket = &mut self.buckets[i - 1];
        if bucket.hi.as_deref().is_some_and(|hi| id >= hi) {
            return stale();
        }
        Ok(bucket)
    }

    /// The value under `id`.
    pub(crate) fn get(&mut self, id: &[u8]) -> TxResult<Option<&C::Value>> {
        Ok(self.slot(id)?.entries.get(id))
    }

    /// Stores `value` under `id`; returns what was there.
    pub(crate) fn insert(&mut self, id: &[u8], value: C::Value) -> TxResult<Option<C::Value>> {
        let bucket = self.slot(id)?;
        bucket.dirty = true;
        Ok(bucket.entries.insert(id.to_vec(), value))
    }

    /// Removes what is under `id`.
    pub(crate) fn remove(&mut self, id: &[u8]) -> TxResult<Option<C::Value>> {
        let bucket = self.slot(id)?;
        let old = bucket.entries.remove(id);
        bucket.dirty |= old.is_some();
        Ok(old)
    }

    /// Writes every changed bucket back, splitting those grown too large.
    pub(crate) fn store(self) -> TxResult<()> {
        for bucket in self.buckets.iter().filter(|b| b.dirty) {
            let bytes = encode::<C>(bucket.hi.as_deref(), bucket.entries.iter());
            if bytes.len() <= MAX_BUCKET || bucket.entries.len() < 2 {
                self.put(&bucket.fence, bytes)?;
                continue;
            }
            // Pieces of about SPLIT_TARGET bytes, each with the same number
            // of entries (entries of one map are about the same size).
            let pieces = bytes
                .len()
                .div_ceil(SPLIT_TARGET)
                .clamp(2, bucket.entries.len());
            let per = bucket.entries.len().div_ceil(pieces);
            let entries: Vec<(&Vec<u8>, &C::Value)> = bucket.entries.iter().collect();
            let chunks: Vec<_> = entries.chunks(per).collect();
            for (i, chunk) in chunks.iter().enumerate() {
                let fence = if i == 0 {
                    bucket.fence.as_slice()
                } else {
                    chunk[0].0.as_slice()
                };
                let hi = match chunks.get(i + 1) {
                    Some(next) => Some(next[0].0.as_slice()),
                    None => bucket.hi.as_deref(),
                };
                let bytes = encode::<C>(hi, chunk.iter().copied());
                self.put(fence, bytes)?;
            }
        }
        Ok(())
    }

    fn put(&self, fence: &[u8], bytes: Vec<u8>) -> TxResult<()> {
        let mut key = self.prefix.to_vec();
        key.extend_from_slice(fence);
        self.tree.insert(key, bytes)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;
    use crate::state::pack::IdCodec;

    const P: &[u8] = b"p\0";

    fn map() -> (tempfile::TempDir, BucketMap<IdCodec>) {
        let dir = tempfile::tempdir().unwrap();
        let db = sled::Config::new().path(dir.path()).open().unwrap();
        let tree = db.open_tree("t").unwrap();
        (dir, BucketMap::new(tree, "test"))
    }

    /// Applies changes (`Some` to store, `None` to remove) in one
    /// transaction, planning fences first and again when stale.
    fn apply(map: &BucketMap<IdCodec>, prefix: &[u8], changes: &[(String, Option<String>)]) {
        loop {
            let ids: Vec<&[u8]> = changes.iter().map(|(id, _)| id.as_bytes()).collect();
            let fences = map.fences(prefix, &ids).unwrap();
            let result = map.tree().transaction(|tx| {
                let mut m = TxMap::<IdCodec>::load(tx, prefix, "test", &fences)?;
                for (id, value) in changes {
                    match value {
                        Some(v) => m.insert(id.as_bytes(), v.clone())?,
                        None => m.remove(id.as_bytes())?,
                    };
                }
                m.store()
            });
            match result {
                Ok(()) => return,
                Err(sled::transaction::TransactionError::Abort(Abort::Stale)) => continue,
                Err(e) => panic!("{e:?}"),
            }
        }
    }

    fn id(n: u64) -> String {
        // Ids of uneven length and shared prefixes, as vendors' are.
        format!("{}", n * 7919 % 1_000_003)
    }

    #[test]
    fn a_map_agrees_with_a_model_through_splits_and_removals() {
        let (_dir, map) = map();
        let mut model: BTreeMap<String, String> = BTreeMap::new();
        // Sorted appends (a backfill), then random updates and removals.
        for page in 0..20u64 {
            let mut changes = Vec::new();
            for n in page * 100..(page + 1) * 100 {
                let k = format!("{:08}", n);
                changes.push((k, Some(id(n))));
            }
            for (k, v) in &changes {
                model.insert(k.clone(), v.clone().unwrap());
            }
            apply(&map, P, &changes);
        }
        for round in 0..30u64 {
            let mut changes = Vec::new();
            for j in 0..40u64 {
                let n = (round * 131 + j * 977) % 2_500;
                let k = format!("{:08}", n);
                let v = if (round + j) % 5 == 0 {
                    None
                } else {
                    Some(format!("x{}", id(n + round)))
                };
                changes.push((k, v));
            }
            for (k, v) in &changes {
                match v {
                    Some(v) => model.insert(k.clone(), v.clone()),
                    None => model.remove(k),
                };
            }
            apply(&map, P, &changes);
        }
        // Several buckets, each within bounds.
        let buckets: Vec<_> = map.tree().scan_prefix(P).map(Result::unwrap).collect();
        assert!(buckets.len() > 10, "{} buckets", buckets.len());
        assert!(buckets
            .iter()
            .all(|(_, v)| v.len() <= MAX_BUCKET + 64
                || decode::<IdCodec>(v).unwrap().entries.len() == 1));
        // Point reads, batched reads (with misses and a repeat), and a scan.
        for (k, v) in &model {
            assert_eq!(map.get(P, k.as_bytes()).unwrap().as_ref(), Some(v));
        }
        let asked = ["00000007", "nope", "00002499", "00000007", "00000000"];
        let asked_bytes: Vec<&[u8]> = asked.iter().map(|a| a.as_bytes()).collect();
        let got = map.get_many(P, &asked_bytes).unwrap();
        for (a, g) in asked.iter().zip(&got) {
            assert_eq!(g.as_ref(), model.get(*a), "{a}");
        }
        let mut seen = Vec::new();
        let mut after: Option<Vec<u8>> = None;
        loop {
            let page = map.scan(P, after.as_deref(), 37).unwrap();
            if page.is_empty() {
                break;
            }
            after = page.last().map(|(k, _)| k.clone());
            seen.extend(page);
        }
        let expected: Vec<_> = model
            .iter()
            .map(|(k, v)| (k.as_bytes().to_vec(), v.clone()))
            .collect();
        assert_eq!(seen, expected);
    }

    #[test]
    fn pipelines_do_not_see_each_other() {
        let (_dir, map) = map();
        apply(&map, b"a\0", &[("1".into(), Some("a1".into()))]);
        apply(&map, b"ab\0", &[("1".into(), Some("ab1".into()))]);
        assert_eq!(map.get(b"a\0", b"1").unwrap().as_deref(), Some("a1"));
        assert_eq!(map.get(b"ab\0", b"1").unwrap().as_deref(), Some("ab1"));
        assert_eq!(map.get(b"b\0", b"1").unwrap(), None);
        assert_eq!(map.scan(b"a\0", None, 10).unwrap().len(), 1);
        assert!(map.scan(b"b\0", None, 10).unwrap().is_empty());
        assert!(map.scan(b"b\0", Some(b"1"), 10).unwrap().is_empty());
    }

    #[test]
    fn a_plan_made_before_a_split_is_refused_as_stale() {
        let (_dir, map) = map();
        let early: Vec<(String, Option<String>)> = vec![("00000999".into(), Some("v".into()))];
        let fences = map.fences(P, &[b"00000999"]).unwrap();
        assert_eq!(
            fences,
            BTreeSet::from([Vec::new()]),
            "no bucket yet: the first one"
        );
        // Another commit fills and splits the map meanwhile.
        let changes: Vec<_> = (0..1000u64)
            .map(|n| (format!("{:08}", n), Some(id(n))))
            .collect();
        apply(&map, P, &changes);
        let result = map.tree().transaction(|tx| {
            let mut m = TxMap::<IdCodec>::load(tx, P, "test", &fences)?;
            m.insert(b"00000999", "v".into())?;
            m.store()
        });
        assert!(
            matches!(
                result,
                Err(sled::transaction::TransactionError::Abort(Abort::Stale))
            ),
            "{result:?}"
        );
        // Planned again, it applies.
        apply(&map, P, &early);
        assert_eq!(map.get(P, b"00000999").unwrap().as_deref(), Some("v"));
        let all: HashMap<_, _> = map.scan(P, None, usize::MAX).unwrap().into_iter().collect();
        assert_eq!(all.len(), 1000);
    }

    #[test]
    fn damaged_or_newer_buckets_are_refused_not_misread() {
        let model: BTreeMap<Vec<u8>, String> = (0..30u64)
            .map(|n| (id(n).into_bytes(), id(n + 1)))
            .collect();
        let bytes = encode::<IdCodec>(Some(b"zz"), model.iter());
        let back = decode::<IdCodec>(&bytes).unwrap();
        assert_eq!(back.hi.as_deref(), Some(&b"zz"[..]));
        assert_eq!(back.entries, model);
        for cut in 0..bytes.len() {
            assert!(decode::<IdCodec>(&bytes[..cut]).is_err(), "cut at {cut}");
        }
        let mut newer = bytes.clone();
        newer[0] = BUCKET_VERSION + 1;
        assert!(decode::<IdCodec>(&newer).unwrap_err().contains("newer"));
        let mut longer = bytes;
        longer.push(0);
        assert!(decode::<IdCodec>(&longer).is_err());
    }
}
