//! How values are turned into bytes: the primitives (varints, length-
//! prefixed bytes, a checked [`Reader`]), JSON for the entries there are a
//! handful of per pipeline (cursors, dead letters, status, outcomes, SLA
//! state: they hold record fields that are JSON already, and stay readable
//! in a dump), and the stand-alone link form older builds stored one per
//! link, still read when such a store is opened (its links are moved into
//! buckets, see `pack` for the forms used now).
//!
//! No new crate: `postcard`/`bincode` would save little code here and
//! neither can carry the `serde_json` values the other entries hold.

use jiff::Timestamp;
use serde::de::DeserializeOwned;
use serde::Serialize;

use super::error::{StateError, StateResult};
use super::links::{Fingerprints, LinkState, SideSync};

/// The version of the stand-alone link form (read when moving links of an
/// older store into buckets).
const LINK_VERSION: u8 = 1;

/// Encodes a value as JSON.
pub(crate) fn to_json<T: Serialize>(what: &'static str, value: &T) -> StateResult<Vec<u8>> {
    serde_json::to_vec(value).map_err(|e| StateError::corrupt(what, e))
}

/// Decodes a JSON value.
pub(crate) fn from_json<T: DeserializeOwned>(what: &'static str, bytes: &[u8]) -> StateResult<T> {
    serde_json::from_slice(bytes).map_err(|e| StateError::corrupt(what, e))
}

/// Encodes a link's state in the stand-alone binary form (one sled entry
/// per link, as older builds stored them; links now live in buckets, see
/// `pack::LinkCodec`): kept to build such a store in tests.
#[cfg(test)]
pub(crate) fn encode_link(state: &LinkState) -> Vec<u8> {
    let mut out = Vec::with_capacity(96);
    out.push(LINK_VERSION);
    let sides = [&state.marketing, &state.crm];
    let mut flags: u8 = 0;
    for (i, s) in sides.iter().enumerate() {
        let base = i * 3;
        flags |= u8::from(s.written.is_some()) << base;
        flags |= u8::from(s.read.is_some()) << (base + 1);
        flags |= u8::from(s.modified_at.is_some()) << (base + 2);
    }
    flags |= u8::from(state.handed_off_at.is_some()) << 6;
    flags |= u8::from(state.owner.is_some()) << 7;
    out.push(flags);
    put_str(&mut out, &state.crm_id);
    for s in sides {
        if let Some(h) = s.written {
            out.extend_from_slice(&h.to_le_bytes());
        }
        if let Some(h) = s.read {
            out.extend_from_slice(&h.to_le_bytes());
        }
        if let Some(t) = s.modified_at {
            put_time(&mut out, t);
        }
    }
    if let Some(t) = state.handed_off_at {
        put_time(&mut out, t);
    }
    if let Some(owner) = &state.owner {
        put_str(&mut out, owner);
    }
    // Fingerprints last: a count (always, so a cut is detected), then
    // (tag, fingerprint) pairs.
    put_varint(&mut out, state.agreed.0.len() as u64);
    for (tag, fp) in &state.agreed.0 {
        out.extend_from_slice(&tag.to_le_bytes());
        out.extend_from_slice(&fp.to_le_bytes());
    }
    out
}

/// Decodes a link's state in the stand-alone form (a version byte, a
/// presence bitmap, length-prefixed ids, hashes as 8 bytes, times as a
/// zig-zag varint of milliseconds and a varint of the nanoseconds left).
pub(crate) fn decode_link(bytes: &[u8]) -> StateResult<LinkState> {
    decode_link_inner(bytes).map_err(|detail| StateError::corrupt("link", detail))
}

fn decode_link_inner(bytes: &[u8]) -> Result<LinkState, String> {
    let mut r = Reader { buf: bytes };
    let version = r.byte()?;
    if version != LINK_VERSION {
        return Err(format!(
            "encoding version {version}, this build reads {LINK_VERSION} (written by a newer leadbridge?)"
        ));
    }
    let flags = r.byte()?;
    let bit = |n: u32| flags & (1 << n) != 0;
    let crm_id = r.string()?;
    let mut sides = [SideSync::default(); 2];
    for (i, s) in sides.iter_mut().enumerate() {
        let base = (i * 3) as u32;
        if bit(base) {
            s.written = Some(r.u64_le()?);
        }
        if bit(base + 1) {
            s.read = Some(r.u64_le()?);
        }
        if bit(base + 2) {
            s.modified_at = Some(r.time()?);
        }
    }
    let handed_off_at = if bit(6) { Some(r.time()?) } else { None };
    let owner = if bit(7) { Some(r.string()?) } else { None };
    let mut agreed = Fingerprints::default();
    {
        let count = r.varint()?;
        for _ in 0..count {
            let tag =
                u16::from_le_bytes(r.take(2)?.try_into().map_err(|_| "short tag".to_owned())?);
            let fp = u32::from_le_bytes(
                r.take(4)?
                    .try_into()
                    .map_err(|_| "short fingerprint".to_owned())?,
            );
            agreed.0.insert(tag, fp);
        }
    }
    if !r.buf.is_empty() {
        return Err(format!("{} trailing bytes", r.buf.len()));
    }
    let [marketing, crm] = sides;
    Ok(LinkState {
        crm_id,
        marketing,
        crm,
        handed_off_at,
        owner,
        agreed,
        crm_object: None,
    })
}

pub(crate) fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

#[cfg(test)]
fn put_str(out: &mut Vec<u8>, s: &str) {
    put_bytes(out, s.as_bytes());
}

/// A length-prefixed byte string.
pub(crate) fn put_bytes(out: &mut Vec<u8>, b: &[u8]) {
    put_varint(out, b.len() as u64);
    out.extend_from_slice(b);
}

#[cfg(test)]
fn put_time(out: &mut Vec<u8>, t: Timestamp) {
    let nanos = t.as_nanosecond();
    // jiff's range (years -9999..=9999) is far inside i64 milliseconds.
    let millis = nanos.div_euclid(1_000_000) as i64;
    let sub = nanos.rem_euclid(1_000_000) as u64;
    put_varint(out, ((millis << 1) ^ (millis >> 63)) as u64);
    put_varint(out, sub);
}

/// A cursor over bytes being decoded; every read checks the length.
pub(crate) struct Reader<'a> {
    pub(crate) buf: &'a [u8],
}

impl<'a> Reader<'a> {
    /// Reads from the start of `buf`.
    pub(crate) fn new(buf: &'a [u8]) -> Self {
        Self { buf }
    }

    /// True when every byte was read.
    pub(crate) fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// A length-prefixed byte string, borrowed.
    pub(crate) fn bytes(&mut self) -> Result<&'a [u8], String> {
        let len = usize::try_from(self.varint()?).map_err(|e| e.to_string())?;
        self.take(len)
    }

    /// A varint that must fit a `usize` (a length or an index).
    pub(crate) fn len(&mut self) -> Result<usize, String> {
        usize::try_from(self.varint()?).map_err(|e| e.to_string())
    }

    /// A little-endian u32.
    pub(crate) fn u32_le(&mut self) -> Result<u32, String> {
        let mut arr = [0; 4];
        arr.copy_from_slice(self.take(4)?);
        Ok(u32::from_le_bytes(arr))
    }

    /// A little-endian u16.
    pub(crate) fn u16_le(&mut self) -> Result<u16, String> {
        let mut arr = [0; 2];
        arr.copy_from_slice(self.take(2)?);
        Ok(u16::from_le_bytes(arr))
    }

    pub(crate) fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        if self.buf.len() < n {
            return Err(format!(
                "truncated: want {n} bytes, {} left",
                self.buf.len()
            ));
        }
        let (head, tail) = self.buf.split_at(n);
        self.buf = tail;
        Ok(head)
    }

    pub(crate) fn byte(&mut self) -> Result<u8, String> {
        Ok(self.take(1)?[0])
    }

    pub(crate) fn varint(&mut self) -> Result<u64, String> {
        let mut v: u64 = 0;
        for shift in (0..64).step_by(7) {
            let b = self.byte()?;
            v |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err("varint longer than 10 bytes".to_owned())
    }

    pub(crate) fn u64_le(&mut self) -> Result<u64, String> {
        let mut arr = [0; 8];
        arr.copy_from_slice(self.take(8)?);
        Ok(u64::from_le_bytes(arr))
    }

    pub(crate) fn string(&mut self) -> Result<String, String> {
        let len = usize::try_from(self.varint()?).map_err(|e| e.to_string())?;
        let bytes = self.take(len)?;
        String::from_utf8(bytes.to_vec()).map_err(|e| e.to_string())
    }

    pub(crate) fn time(&mut self) -> Result<Timestamp, String> {
        let z = self.varint()?;
        let millis = ((z >> 1) as i64) ^ -((z & 1) as i64);
        let sub = self.varint()?;
        if sub >= 1_000_000 {
            return Err(format!("sub-millisecond part {sub} out of range"));
        }
        Timestamp::from_nanosecond(i128::from(millis) * 1_000_000 + i128::from(sub))
            .map_err(|e| e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    /// A link as a real pipeline has it: HubSpot id, Salesforce ids.
    fn realistic() -> LinkState {
        // What the engine stores for a handed-off lead: ids, handoff time,
        // owner and fingerprints of eight synced fields.
        LinkState {
            crm_id: "00Q5g00000AbCdEFGH".into(),
            marketing: SideSync::default(),
            crm: SideSync {
                written: None,
                read: None,
                modified_at: Some(ts("2026-03-04T05:06:09Z")),
            },
            handed_off_at: Some(ts("2026-03-04T05:06:08.456Z")),
            owner: Some("0055g00000XyZaBCDE".into()),
            agreed: Fingerprints(
                (0..8u16)
                    .map(|i| (i * 4099, 0x9e37_79b9 ^ u32::from(i)))
                    .collect(),
            ),
            crm_object: None,
        }
    }

    #[test]
    fn links_round_trip_full_and_empty() {
        for state in [realistic(), LinkState::new("1"), LinkState::default()] {
            let bytes = encode_link(&state);
            assert_eq!(decode_link(&bytes).unwrap(), state);
        }
    }

    #[test]
    fn timestamps_keep_nanoseconds_and_negative_times() {
        for t in [
            ts("1969-12-31T23:59:59.999999999Z"),
            ts("2026-01-01T00:00:00.000000001Z"),
            Timestamp::MIN,
            Timestamp::MAX,
        ] {
            let mut state = LinkState::new("x");
            state.handed_off_at = Some(t);
            assert_eq!(decode_link(&encode_link(&state)).unwrap(), state, "{t}");
        }
    }

    #[test]
    fn realistic_link_is_compact() {
        // Ids, two times, the owner, and 8 × 6 bytes of field fingerprints.
        let len = encode_link(&realistic()).len();
        assert!(len <= 110, "{len} bytes");
    }

    #[test]
    fn damaged_or_newer_links_are_refused_not_misread() {
        let bytes = encode_link(&realistic());
        for cut in 0..bytes.len() {
            assert!(decode_link(&bytes[..cut]).is_err(), "cut at {cut}");
        }
        let mut newer = bytes.clone();
        newer[0] = LINK_VERSION + 1;
        let err = decode_link(&newer).unwrap_err().to_string();
        assert!(err.contains("newer"), "{err}");
        let mut longer = bytes;
        longer.push(0);
        assert!(decode_link(&longer).is_err());
    }
}
