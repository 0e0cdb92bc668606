//! Compact encodings of the entries there are many of: links and their
//! reverse entries (inside buckets, see `bucket`), funnel events (in
//! chunks) and intents.
//!
//! Why this much care: sled 0.34 writes an entry several times over before
//! it settles (as a delta, again in every rewrite of its 16-entry leaf,
//! again when a segment is cleaned) and reclaims a segment only once half
//! of it is dead, so every byte stored costs two to three on disk, and the
//! benchmark allows 300 bytes of disk per link.
//!
//! Inside a bucket or a chunk an entry is encoded against the ones before
//! it: ids front-coded against the previous id, strings that repeat
//! (owners, campaigns, sets of fingerprint tags) as an index into a table of
//! those already seen in the same bucket, times as a difference to the time
//! before. So an entry can only be read after the ones before it; buckets
//! and chunks are small (about 1.5 KB) and walking one skips entries
//! without allocating. Everything else in the store stays JSON (see
//! `codec`).

use jiff::Timestamp;
use leadbridge_core::{Fields, WriteRecord};
use serde_json::Value;

use super::bucket::EntryCodec;
use super::codec::{put_bytes, put_varint, Reader};
use super::events::{Event, EventKind};
use super::intents::{Intent, IntentAction, IntentId};
use super::links::{Fingerprints, LinkState, SideSync};
use crate::side::Side;

/// First byte of a binary event chunk or intent; their older JSON form
/// starts with `{`, so both forms can be told apart and still be read.
const PACK_VERSION: u8 = 1;

/// At most this many strings per table: a lookup is a linear search.
const TABLE_MAX: usize = 64;

/// Front coding: how many bytes `cur` shares with `prev`, then the rest.
pub(crate) fn put_front(out: &mut Vec<u8>, prev: &[u8], cur: &[u8]) {
    let shared = prev.iter().zip(cur).take_while(|(a, b)| a == b).count();
    put_varint(out, shared as u64);
    put_bytes(out, &cur[shared..]);
}

/// Reads a front-coded value into `buf`, which holds the previous one.
pub(crate) fn read_front(r: &mut Reader<'_>, buf: &mut Vec<u8>) -> Result<(), String> {
    let shared = r.len()?;
    if shared > buf.len() {
        return Err(format!(
            "front coding shares {shared} bytes of a {}-byte value",
            buf.len()
        ));
    }
    buf.truncate(shared);
    buf.extend_from_slice(r.bytes()?);
    Ok(())
}

/// A time as a difference to `reference`, which then becomes this time.
///
/// `0` is the same instant (one byte for the many times stamped by one
/// commit); otherwise `1 + (zigzag(Δ milliseconds) << 1 | has sub-ms)`,
/// then the sub-millisecond nanoseconds when there are any (vendors send
/// milliseconds, our own clock nanoseconds; neither loses precision).
fn put_rel_time(out: &mut Vec<u8>, t: Timestamp, reference: &mut i128) {
    let nanos = t.as_nanosecond();
    if nanos == *reference {
        out.push(0);
        return;
    }
    let sub = nanos.rem_euclid(1_000_000) as u64;
    // Both ends are inside jiff's range (years -9999..=9999), so the
    // difference in milliseconds is far inside i64 and the tag inside u64.
    let delta = (nanos.div_euclid(1_000_000) - reference.div_euclid(1_000_000)) as i64;
    let zigzag = ((delta << 1) ^ (delta >> 63)) as u64;
    put_varint(out, ((zigzag << 1) | u64::from(sub != 0)) + 1);
    if sub != 0 {
        put_varint(out, sub);
    }
    *reference = nanos;
}

/// Reads a time written by [`put_rel_time`].
fn read_rel_time(r: &mut Reader<'_>, reference: &mut i128) -> Result<Timestamp, String> {
    let tag = r.varint()?;
    if tag != 0 {
        let tag = tag - 1;
        let zigzag = tag >> 1;
        let delta = ((zigzag >> 1) as i64) ^ -((zigzag & 1) as i64);
        let sub = if tag & 1 == 1 {
            match r.varint()? {
                s @ 1..=999_999 => s,
                s => return Err(format!("sub-millisecond part {s} out of range")),
            }
        } else {
            0
        };
        let millis = reference.div_euclid(1_000_000) + i128::from(delta);
        *reference = millis * 1_000_000 + i128::from(sub);
    }
    Timestamp::from_nanosecond(*reference).map_err(|e| e.to_string())
}

/// Strings already seen in one bucket or chunk: a repeat is stored as its
/// index (`1 + i`), a new one as `0` and its bytes.
#[derive(Debug, Default)]
pub(crate) struct Table {
    items: Vec<Vec<u8>>,
    scratch: Vec<u8>,
}

impl Table {
    fn put(&mut self, out: &mut Vec<u8>, s: &[u8]) {
        match self.items.iter().position(|x| x == s) {
            Some(i) => put_varint(out, i as u64 + 1),
            None => {
                out.push(0);
                put_bytes(out, s);
                if self.items.len() < TABLE_MAX {
                    self.items.push(s.to_vec());
                }
            }
        }
    }

    fn read<'t>(&'t mut self, r: &mut Reader<'_>) -> Result<&'t [u8], String> {
        match r.len()? {
            0 => {
                let bytes = r.bytes()?;
                if self.items.len() < TABLE_MAX {
                    self.items.push(bytes.to_vec());
                    Ok(self.items.last().map(Vec::as_slice).unwrap_or_default())
                } else {
                    // A full table keeps what it has; the writer did the same.
                    self.scratch.clear();
                    self.scratch.extend_from_slice(bytes);
                    Ok(&self.scratch)
                }
            }
            i => self
                .items
                .get(i - 1)
                .map(Vec::as_slice)
                .ok_or_else(|| format!("string table index {i} of {}", self.items.len())),
        }
    }
}

fn utf8(bytes: &[u8]) -> Result<String, String> {
    String::from_utf8(bytes.to_vec()).map_err(|e| e.to_string())
}

/// An optional string: `0` for none, `1 + len` and the bytes otherwise.
fn put_opt(out: &mut Vec<u8>, s: Option<&str>) {
    match s {
        None => out.push(0),
        Some(s) => {
            put_varint(out, s.len() as u64 + 1);
            out.extend_from_slice(s.as_bytes());
        }
    }
}

fn read_opt(r: &mut Reader<'_>) -> Result<Option<String>, String> {
    match r.len()? {
        0 => Ok(None),
        n => utf8(r.take(n - 1)?).map(Some),
    }
}

// ---- links (in buckets under the marketing id) ----

/// The link encoding inside a bucket (see the module docs).
///
/// Two flag bytes (which hashes and times are present, owner, fingerprints),
/// the CRM id front-coded against the previous link's, hashes as 8 raw
/// bytes (uniformly random), times relative to the previous time, the owner
/// and the set of fingerprint tags through tables, then 4 bytes per
/// fingerprint. About 40 bytes for a handed-off lead with six synced fields,
/// where the stand-alone form (`codec::encode_link`) takes 86 plus its key.
pub(crate) struct LinkCodec;

/// What a link is encoded against: the links before it in its bucket.
#[derive(Debug, Default)]
pub(crate) struct LinkCtx {
    crm: Vec<u8>,
    owners: Table,
    tags: Table,
    objects: Table,
    time: i128,
}

const F_HANDED_OFF: u16 = 1 << 6;
const F_OWNER: u16 = 1 << 7;
const F_AGREED: u16 = 1 << 8;
const F_OBJECT: u16 = 1 << 9;
const F_KNOWN: u16 = (1 << 10) - 1;

impl LinkCodec {
    /// Reads one link, or only steps over it (`build` false), keeping the
    /// context right either way.
    fn read(
        r: &mut Reader<'_>,
        ctx: &mut LinkCtx,
        build: bool,
    ) -> Result<Option<LinkState>, String> {
        let flags = r.u16_le()?;
        if flags & !F_KNOWN != 0 {
            return Err(format!("unknown link flags {flags:#x}"));
        }
        read_front(r, &mut ctx.crm)?;
        let mut sides = [SideSync::default(); 2];
        for (i, s) in sides.iter_mut().enumerate() {
            let base = i * 3;
            if flags & (1 << base) != 0 {
                s.written = Some(r.u64_le()?);
            }
            if flags & (1 << (base + 1)) != 0 {
                s.read = Some(r.u64_le()?);
            }
            if flags & (1 << (base + 2)) != 0 {
                s.modified_at = Some(read_rel_time(r, &mut ctx.time)?);
            }
        }
        let handed_off_at = if flags & F_HANDED_OFF != 0 {
            Some(read_rel_time(r, &mut ctx.time)?)
        } else {
            None
        };
        let owner = if flags & F_OWNER != 0 {
            let owner = ctx.owners.read(r)?;
            build.then(|| utf8(owner)).transpose()?
        } else {
            None
        };
        let mut agreed = Fingerprints::default();
        if flags & F_AGREED != 0 {
            let tags = ctx.tags.read(r)?;
            if tags.len() % 2 != 0 || tags.is_empty() {
                return Err(format!("fingerprint tags of {} bytes", tags.len()));
            }
            if build {
                for tag in tags.chunks_exact(2) {
                    agreed
                        .0
                        .insert(u16::from_le_bytes([tag[0], tag[1]]), r.u32_le()?);
                }
            } else {
                r.take(tags.len() * 2)?;
            }
        }
        let crm_object = if flags & F_OBJECT != 0 {
            let object = ctx.objects.read(r)?;
            build.then(|| utf8(object)).transpose()?
        } else {
            None
        };
        if !build {
            return Ok(None);
        }
        let [marketing, crm] = sides;
        Ok(Some(LinkState {
            crm_id: utf8(&ctx.crm)?,
            marketing,
            crm,
            handed_off_at,
            owner,
            agreed,
            crm_object,
        }))
    }
}

impl EntryCodec for LinkCodec {
    type Value = LinkState;
    type Ctx = LinkCtx;

    fn encode(state: &LinkState, ctx: &mut LinkCtx, out: &mut Vec<u8>) {
        let sides = [&state.marketing, &state.crm];
        let mut flags: u16 = 0;
        for (i, s) in sides.iter().enumerate() {
            let base = i * 3;
            flags |= u16::from(s.written.is_some()) << base;
            flags |= u16::from(s.read.is_some()) << (base + 1);
            flags |= u16::from(s.modified_at.is_some()) << (base + 2);
        }
        if state.handed_off_at.is_some() {
            flags |= F_HANDED_OFF;
        }
        if state.owner.is_some() {
            flags |= F_OWNER;
        }
        if !state.agreed.0.is_empty() {
            flags |= F_AGREED;
        }
        if state.crm_object.is_some() {
            flags |= F_OBJECT;
        }
        out.extend_from_slice(&flags.to_le_bytes());
        put_front(out, &ctx.crm, state.crm_id.as_bytes());
        ctx.crm.clear();
        ctx.crm.extend_from_slice(state.crm_id.as_bytes());
        for s in sides {
            if let Some(h) = s.written {
                out.extend_from_slice(&h.to_le_bytes());
            }
            if let Some(h) = s.read {
                out.extend_from_slice(&h.to_le_bytes());
            }
            if let Some(t) = s.modified_at {
                put_rel_time(out, t, &mut ctx.time);
            }
        }
        if let Some(t) = state.handed_off_at {
            put_rel_time(out, t, &mut ctx.time);
        }
        if let Some(owner) = &state.owner {
            ctx.owners.put(out, owner.as_bytes());
        }
        if !state.agreed.0.is_empty() {
            let tags: Vec<u8> = state
                .agreed
                .0
                .keys()
                .flat_map(|t| t.to_le_bytes())
                .collect();
            ctx.tags.put(out, &tags);
            for fp in state.agreed.0.values() {
                out.extend_from_slice(&fp.to_le_bytes());
            }
        }
        if let Some(object) = &state.crm_object {
            ctx.objects.put(out, object.as_bytes());
        }
    }

    fn skip(r: &mut Reader<'_>, ctx: &mut LinkCtx) -> Result<(), String> {
        Self::read(r, ctx, false).map(|_| ())
    }

    fn decode(r: &mut Reader<'_>, ctx: &mut LinkCtx) -> Result<LinkState, String> {
        Self::read(r, ctx, true)?.ok_or_else(|| "link not built".to_owned())
    }
}

/// The reverse entries' value (a marketing id), front-coded against the
/// previous entry's: in CRM-id order, marketing ids mostly grow too.
pub(crate) struct IdCodec;

impl EntryCodec for IdCodec {
    type Value = String;
    type Ctx = Vec<u8>;

    fn encode(id: &String, prev: &mut Vec<u8>, out: &mut Vec<u8>) {
        put_front(out, prev, id.as_bytes());
        prev.clear();
        prev.extend_from_slice(id.as_bytes());
    }

    fn skip(r: &mut Reader<'_>, prev: &mut Vec<u8>) -> Result<(), String> {
        read_front(r, prev)
    }

    fn decode(r: &mut Reader<'_>, prev: &mut Vec<u8>) -> Result<String, String> {
        read_front(r, prev)?;
        utf8(prev)
    }
}

// ---- funnel events (chunks of one commit's events) ----

/// The stable code of an event kind in a chunk (`0` for a kind this build
/// does not know, read back as [`EventKind::Other`]).
fn kind_code(kind: EventKind) -> u8 {
    match kind {
        EventKind::Other => 0,
        EventKind::Qualified => 1,
        EventKind::HandedOff => 2,
        EventKind::Accepted => 3,
        EventKind::SlaBreached => 4,
        EventKind::Escalated => 5,
        EventKind::Reassigned => 6,
        EventKind::Recycled => 7,
        EventKind::Converted => 8,
        EventKind::Won => 9,
        EventKind::Lost => 10,
        EventKind::Relinked => 11,
        EventKind::Unlinked => 12,
        EventKind::Duplicate => 13,
    }
}

fn kind_of(code: u8) -> EventKind {
    match code {
        1 => EventKind::Qualified,
        2 => EventKind::HandedOff,
        3 => EventKind::Accepted,
        4 => EventKind::SlaBreached,
        5 => EventKind::Escalated,
        6 => EventKind::Reassigned,
        7 => EventKind::Recycled,
        8 => EventKind::Converted,
        11 => EventKind::Relinked,
        12 => EventKind::Unlinked,
        13 => EventKind::Duplicate,
        9 => EventKind::Won,
        10 => EventKind::Lost,
        _ => EventKind::Other,
    }
}

/// What an event chunk is encoded against: the events before it.
#[derive(Debug, Default)]
struct EventCtx {
    time: i128,
    marketing_id: Vec<u8>,
    crm_id: Vec<u8>,
    strings: Table,
}

const E_CRM: u8 = 1;
const E_OWNER: u8 = 1 << 1;
const E_SOURCE: u8 = 1 << 2;
const E_CAMPAIGN: u8 = 1 << 3;
const E_DETAIL: u8 = 1 << 4;

/// Appends one event to a chunk, its time relative to the event before
/// (the first one's to the chunk's key).
///
/// A handoff's `Qualified` and `HandedOff` events differ only in kind: the
/// second costs about six bytes.
fn put_event(out: &mut Vec<u8>, e: &Event, ctx: &mut EventCtx) -> Result<(), String> {
    let mut flags = 0;
    for (bit, present) in [
        (E_CRM, e.crm_id.is_some()),
        (E_OWNER, e.owner.is_some()),
        (E_SOURCE, e.source.is_some()),
        (E_CAMPAIGN, e.campaign.is_some()),
        (E_DETAIL, !e.detail.is_empty()),
    ] {
        if present {
            flags |= bit;
        }
    }
    out.push(kind_code(e.kind));
    out.push(flags);
    put_rel_time(out, e.at, &mut ctx.time);
    put_front(out, &ctx.marketing_id, e.marketing_id.as_bytes());
    ctx.marketing_id.clear();
    ctx.marketing_id
        .extend_from_slice(e.marketing_id.as_bytes());
    if let Some(crm) = &e.crm_id {
        put_front(out, &ctx.crm_id, crm.as_bytes());
        ctx.crm_id.clear();
        ctx.crm_id.extend_from_slice(crm.as_bytes());
    }
    for s in [&e.owner, &e.source, &e.campaign].into_iter().flatten() {
        ctx.strings.put(out, s.as_bytes());
    }
    if !e.detail.is_empty() {
        put_bytes(
            out,
            &serde_json::to_vec(&e.detail).map_err(|e| e.to_string())?,
        );
    }
    Ok(())
}

/// A chunk of events being encoded, stored under the time of its first
/// (and earliest) event.
pub(crate) struct EventChunk {
    at: Timestamp,
    count: u64,
    body: Vec<u8>,
    ctx: EventCtx,
}

impl EventChunk {
    /// An empty chunk to be stored under `at`.
    pub(crate) fn new(at: Timestamp) -> Self {
        Self {
            at,
            count: 0,
            body: Vec::with_capacity(1024),
            ctx: EventCtx {
                time: at.as_nanosecond(),
                ..EventCtx::default()
            },
        }
    }

    /// The time it is stored under.
    pub(crate) fn at(&self) -> Timestamp {
        self.at
    }

    /// Bytes encoded so far.
    pub(crate) fn size(&self) -> usize {
        self.body.len()
    }

    /// Appends an event at or after [`Self::at`].
    pub(crate) fn push(&mut self, e: &Event) -> Result<(), String> {
        self.count += 1;
        put_event(&mut self.body, e, &mut self.ctx)
    }

    /// The stored form: [`PACK_VERSION`], the count, the events.
    pub(crate) fn finish(self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.body.len() + 12);
        out.push(PACK_VERSION);
        put_varint(&mut out, self.count);
        out.extend_from_slice(&self.body);
        out
    }
}

/// Decodes a chunk of events stored under the time `at`.
pub(crate) fn decode_events(bytes: &[u8], at: Timestamp) -> Result<Vec<Event>, String> {
    let mut r = Reader::new(bytes);
    let version = r.byte()?;
    if version != PACK_VERSION {
        return Err(format!(
            "event chunk version {version}, this build reads {PACK_VERSION} (written by a newer leadbridge?)"
        ));
    }
    let count = r.len()?;
    let mut ctx = EventCtx {
        time: at.as_nanosecond(),
        ..EventCtx::default()
    };
    let mut out = Vec::with_capacity(count.min(4096));
    for _ in 0..count {
        let kind = kind_of(r.byte()?);
        let flags = r.byte()?;
        if flags & !(E_CRM | E_OWNER | E_SOURCE | E_CAMPAIGN | E_DETAIL) != 0 {
            return Err(format!("unknown event flags {flags:#x}"));
        }
        let at = read_rel_time(&mut r, &mut ctx.time)?;
        read_front(&mut r, &mut ctx.marketing_id)?;
        let mut e = Event::new(at, kind, utf8(&ctx.marketing_id)?);
        if flags & E_CRM != 0 {
            read_front(&mut r, &mut ctx.crm_id)?;
            e.crm_id = Some(utf8(&ctx.crm_id)?);
        }
        for (bit, slot) in [
            (E_OWNER, &mut e.owner),
            (E_SOURCE, &mut e.source),
            (E_CAMPAIGN, &mut e.campaign),
        ] {
            if flags & bit != 0 {
                *slot = Some(utf8(ctx.strings.read(&mut r)?)?);
            }
        }
        if flags & E_DETAIL != 0 {
            e.detail = serde_json::from_slice(r.bytes()?).map_err(|e| e.to_string())?;
        }
        out.push(e);
    }
    if !r.is_empty() {
        return Err(format!("{} trailing bytes", r.buf.len()));
    }
    Ok(out)
}

// ---- intents ----

/// Encodes an intent; its id and pipeline are in the key, not stored.
///
/// Intents live for one write (recorded, then resolved by the next commit)
/// but there is one per record written, so their bytes are a good part of
/// what sled must write and later clean: about 150 bytes here against 350
/// as JSON. Record fields are kept as JSON values, strings unquoted.
pub(crate) fn encode_intent(intent: &Intent) -> Result<Vec<u8>, String> {
    let mut out = Vec::with_capacity(160);
    out.push(PACK_VERSION);
    out.push(intent.side.tag());
    put_bytes(&mut out, intent.object.as_bytes());
    put_bytes(&mut out, intent.marketing_id.as_bytes());
    match intent.canonical_hash {
        None => out.push(0),
        Some(h) => {
            out.push(1);
            out.extend_from_slice(&h.to_le_bytes());
        }
    }
    put_rel_time(&mut out, intent.recorded_at, &mut 0);
    match &intent.action {
        IntentAction::Write { key_field, record } => {
            out.push(0);
            put_opt(&mut out, key_field.as_deref());
            put_opt(&mut out, record.id.as_deref());
            put_opt(&mut out, record.key.as_deref());
            put_varint(&mut out, record.fields.len() as u64);
            for (name, value) in &record.fields {
                put_bytes(&mut out, name.as_bytes());
                match value {
                    Value::String(s) => {
                        out.push(0);
                        put_bytes(&mut out, s.as_bytes());
                    }
                    other => {
                        out.push(1);
                        put_bytes(
                            &mut out,
                            &serde_json::to_vec(other).map_err(|e| e.to_string())?,
                        );
                    }
                }
            }
        }
        IntentAction::Activity { activity } => {
            out.push(1);
            put_bytes(
                &mut out,
                &serde_json::to_vec(activity).map_err(|e| e.to_string())?,
            );
        }
    }
    Ok(out)
}

/// Decodes an intent stored under `pipeline` and `id`.
pub(crate) fn decode_intent(bytes: &[u8], pipeline: &str, id: IntentId) -> Result<Intent, String> {
    let mut r = Reader::new(bytes);
    let version = r.byte()?;
    if version != PACK_VERSION {
        return Err(format!(
            "intent version {version}, this build reads {PACK_VERSION} (written by a newer leadbridge?)"
        ));
    }
    let side = Side::from_tag(r.byte()?).ok_or("unknown side")?;
    let object = utf8(r.bytes()?)?;
    let marketing_id = utf8(r.bytes()?)?;
    let canonical_hash = match r.byte()? {
        0 => None,
        1 => Some(r.u64_le()?),
        b => return Err(format!("hash flag {b}")),
    };
    let recorded_at = read_rel_time(&mut r, &mut 0)?;
    let action = match r.byte()? {
        0 => {
            let key_field = read_opt(&mut r)?;
            let id = read_opt(&mut r)?;
            let key = read_opt(&mut r)?;
            let mut fields = Fields::new();
            for _ in 0..r.len()? {
                let name = utf8(r.bytes()?)?;
                let value = match r.byte()? {
                    0 => Value::String(utf8(r.bytes()?)?),
                    1 => serde_json::from_slice(r.bytes()?).map_err(|e| e.to_string())?,
                    b => return Err(format!("field value tag {b}")),
                };
                fields.insert(name, value);
            }
            IntentAction::Write {
                key_field,
                record: WriteRecord { id, key, fields },
            }
        }
        1 => IntentAction::Activity {
            activity: serde_json::from_slice(r.bytes()?).map_err(|e| e.to_string())?,
        },
        b => return Err(format!("intent action {b}")),
    };
    if !r.is_empty() {
        return Err(format!("{} trailing bytes", r.buf.len()));
    }
    Ok(Intent {
        id,
        pipeline: pipeline.to_owned(),
        side,
        object,
        marketing_id,
        action,
        canonical_hash,
        recorded_at,
    })
}

#[cfg(test)]
mod tests {
    use leadbridge_core::{Activity, ActivityKind};

    use super::*;

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    /// Links that vary in every field a bucket encodes against the one
    /// before: ids, hashes present or not, times far apart, equal and
    /// before the epoch, owners (more than a table holds), tag sets.
    fn links() -> Vec<LinkState> {
        let base = ts("2026-03-04T05:06:07.123456789Z");
        (0..200u64)
            .map(|n| {
                let at = |k: u64| {
                    Some(match (n + k) % 4 {
                        0 => base,
                        1 => base + jiff::SignedDuration::from_millis((n * k) as i64),
                        2 => ts("1969-12-31T23:59:59.999999999Z"),
                        _ => Timestamp::MAX,
                    })
                };
                let side = |k: u64| SideSync {
                    written: (n % 3 == k % 3).then_some(n.wrapping_mul(0x9e37_79b9_7f4a_7c15)),
                    read: (n % 2 == 0).then_some(u64::MAX - n),
                    modified_at: if n % 5 == k { None } else { at(k) },
                };
                LinkState {
                    crm_id: format!("00Q5g0000{:09}", n * n * 31),
                    marketing: side(1),
                    crm: side(2),
                    handed_off_at: if n % 7 == 0 { None } else { at(3) },
                    owner: (n % 9 != 0).then(|| format!("005{:03}", n % 90)),
                    agreed: Fingerprints(
                        (0..(n % 9) as u16)
                            .map(|i| (i * 4099 + (n % 2) as u16, (n as u32) ^ u32::from(i)))
                            .collect(),
                    ),
                    crm_object: None,
                }
            })
            .collect()
    }

    #[test]
    fn links_round_trip_against_the_ones_before() {
        let all = links();
        let mut out = Vec::new();
        let mut ctx = LinkCtx::default();
        for l in &all {
            LinkCodec::encode(l, &mut ctx, &mut out);
        }
        let mut r = Reader::new(&out);
        let mut ctx = LinkCtx::default();
        for (i, l) in all.iter().enumerate() {
            // Every third one only stepped over: the context must stay right.
            if i % 3 == 1 {
                LinkCodec::skip(&mut r, &mut ctx).unwrap();
            } else {
                assert_eq!(&LinkCodec::decode(&mut r, &mut ctx).unwrap(), l, "link {i}");
            }
        }
        assert!(r.is_empty());
        let empty = LinkState::default();
        let mut out = Vec::new();
        LinkCodec::encode(&empty, &mut LinkCtx::default(), &mut out);
        let got = LinkCodec::decode(&mut Reader::new(&out), &mut LinkCtx::default()).unwrap();
        assert_eq!(got, empty);
    }

    #[test]
    fn a_handed_off_link_takes_about_forty_bytes_in_a_bucket() {
        // As a backfill stores them: the same owner rota, the same fields,
        // handed off microseconds apart, Salesforce ids in sequence.
        let base = ts("2026-03-04T05:06:07.123456789Z");
        let all: Vec<LinkState> = (0..40u64)
            .map(|n| LinkState {
                crm_id: format!("00QDn00000001{:02}MAY", n),
                handed_off_at: Some(base + jiff::SignedDuration::from_micros(n as i64 * 37)),
                owner: Some(format!("005Dn000000000{}IAA", n % 3)),
                agreed: Fingerprints((0..6u16).map(|i| (i * 7, (n as u32) << i)).collect()),
                ..LinkState::default()
            })
            .collect();
        let mut out = Vec::new();
        let mut ctx = LinkCtx::default();
        for l in &all {
            LinkCodec::encode(l, &mut ctx, &mut out);
        }
        let per_link = out.len() / all.len();
        assert!(per_link <= 42, "{per_link} bytes per link");
    }

    #[test]
    fn damaged_links_are_refused_not_misread() {
        let mut out = Vec::new();
        LinkCodec::encode(&links()[5], &mut LinkCtx::default(), &mut out);
        for cut in 0..out.len() {
            let mut r = Reader::new(&out[..cut]);
            assert!(
                LinkCodec::decode(&mut r, &mut LinkCtx::default()).is_err(),
                "cut at {cut}"
            );
        }
        let mut unknown = out.clone();
        unknown[1] |= 0x80;
        assert!(LinkCodec::decode(&mut Reader::new(&unknown), &mut LinkCtx::default()).is_err());
    }

    fn event(at: Timestamp, kind: EventKind, n: u64) -> Event {
        let mut e = Event::new(at, kind, format!("{}", 1000 + n));
        if n % 2 == 0 {
            e.crm_id = Some(format!("00Q{n:015}"));
        }
        if n % 3 != 0 {
            e.owner = Some(format!("005{}", n % 4));
        }
        e.source = (n % 5 == 0).then(|| "web".to_owned());
        e.campaign = (n % 4 != 1).then(|| format!("spring-{}", n % 2));
        if n % 6 == 0 {
            e.detail.insert("minutes".into(), (n as i64).into());
            e.detail.insert("step".into(), "escalate".into());
        }
        e
    }

    #[test]
    fn event_chunks_round_trip_every_kind() {
        let at = ts("2026-03-04T05:06:07.000000001Z");
        let kinds = [
            EventKind::Qualified,
            EventKind::HandedOff,
            EventKind::Accepted,
            EventKind::SlaBreached,
            EventKind::Escalated,
            EventKind::Reassigned,
            EventKind::Recycled,
            EventKind::Converted,
            EventKind::Won,
            EventKind::Lost,
            EventKind::Other,
        ];
        let events: Vec<Event> = (0..100u64)
            .map(|n| {
                let t = at + jiff::SignedDuration::from_nanos((n * n * 999_983) as i64);
                event(t, kinds[n as usize % kinds.len()], n)
            })
            .collect();
        let mut chunk = EventChunk::new(at);
        for e in &events {
            chunk.push(e).unwrap();
        }
        let bytes = chunk.finish();
        assert_eq!(decode_events(&bytes, at).unwrap(), events);
        for cut in 0..bytes.len() {
            assert!(decode_events(&bytes[..cut], at).is_err(), "cut at {cut}");
        }
        let mut newer = bytes.clone();
        newer[0] = PACK_VERSION + 1;
        assert!(decode_events(&newer, at).unwrap_err().contains("newer"));
    }

    #[test]
    fn a_handoffs_two_events_take_about_thirty_bytes() {
        let base = ts("2026-03-04T05:06:07.123456789Z");
        let mut chunk = EventChunk::new(base);
        for n in 0..50u64 {
            let at = base + jiff::SignedDuration::from_micros(n as i64 * 41);
            for kind in [EventKind::Qualified, EventKind::HandedOff] {
                let mut e = Event::new(at, kind, format!("{}", 25_353 + n * 9));
                e.crm_id = Some(format!("00QDn00000000{:02}MAQ", n));
                e.owner = Some(format!("005Dn000000000{}IAA", n % 3));
                e.campaign = Some(format!("webinar-2026-q{}", n % 4));
                chunk.push(&e).unwrap();
            }
        }
        let per_handoff = chunk.finish().len() / 50;
        assert!(per_handoff <= 32, "{per_handoff} bytes per handoff");
    }

    fn intent(action: IntentAction) -> Intent {
        Intent {
            id: IntentId(77),
            pipeline: "inbound".into(),
            side: Side::Crm,
            object: "Lead".into(),
            marketing_id: "1002".into(),
            action,
            canonical_hash: Some(0xdead_beef_0bad_f00d),
            recorded_at: ts("2026-11-27T14:29:20.852463804Z"),
        }
    }

    #[test]
    fn intents_round_trip_writes_and_activities() {
        let mut fields = Fields::new();
        fields.insert("Email".into(), "isaac@nimbus.example".into());
        fields.insert("Lead_Score__c".into(), 92.into());
        fields.insert("Unsubscribed".into(), false.into());
        fields.insert("Notes".into(), Value::Null);
        fields.insert("Tags".into(), serde_json::json!(["a", {"b": 1.5}]));
        let write = intent(IntentAction::Write {
            key_field: Some("Leadbridge_Id__c".into()),
            record: WriteRecord {
                id: None,
                key: Some("inbound:1002".into()),
                fields,
            },
        });
        let mut activity = intent(IntentAction::Activity {
            activity: Activity {
                kind: ActivityKind::Task,
                parent_object: "Lead".into(),
                parent_id: "00Q1".into(),
                subject: "Follow up".into(),
                body: "Call them".into(),
                owner: Some("0051".into()),
                due: Some(ts("2026-11-28T09:00:00Z")),
            },
        });
        activity.canonical_hash = None;
        activity.side = Side::Marketing;
        for i in [write, activity] {
            let bytes = encode_intent(&i).unwrap();
            assert_eq!(decode_intent(&bytes, "inbound", IntentId(77)).unwrap(), i);
            for cut in 0..bytes.len() {
                assert!(
                    decode_intent(&bytes[..cut], "inbound", IntentId(77)).is_err(),
                    "cut at {cut}"
                );
            }
        }
    }

    #[test]
    fn times_keep_every_nanosecond_across_the_whole_range() {
        let times = [
            Timestamp::MIN,
            ts("1969-12-31T23:59:59.999999999Z"),
            Timestamp::UNIX_EPOCH,
            ts("2026-01-01T00:00:00.000000001Z"),
            ts("2026-01-01T00:00:00.001Z"),
            ts("2026-01-01T00:00:00.001Z"),
            ts("2026-01-01T00:00:00Z"),
            Timestamp::MAX,
            Timestamp::MIN,
        ];
        let mut out = Vec::new();
        let mut reference = 0;
        for t in times {
            put_rel_time(&mut out, t, &mut reference);
        }
        let mut r = Reader::new(&out);
        let mut reference = 0;
        for t in times {
            assert_eq!(read_rel_time(&mut r, &mut reference).unwrap(), t);
        }
        assert!(r.is_empty());
    }
}
