//! Paging tokens and the activity feeds.
//!
//! A date-based token is the base32 (RFC 4648, padded) of
//! `"<datetime>,<last activity id>"`, the layout of the tokens in Marketo's
//! docs: `GIYDAOBNGEYS2MBWKQYDAORQGA5DAMBOGAYDAKZQGAYDALBQ` decodes to
//! `2008-11-06T00:00:00.000+0000,0`, and the leadchanges example's next
//! token to `…,1078`, the id of the last activity returned
//! (experienceleague.adobe.com/en/docs/marketo-developer/marketo/rest/paging-tokens,
//! …/lead-database/activities). Clients must treat tokens as opaque (newer
//! instances send other layouts); this one makes the simulator's pages
//! reproducible.
//!
//! A feed call returns the visible activities after the token's position
//! whose date is at or after its datetime, up to `batchSize` (300), and a
//! new token after the last activity it examined. It examines at most
//! [`SCAN_WINDOW`] log entries per call, so when few activities match (a
//! leadchanges call for fields that rarely change) it can answer fewer than
//! 300 — even none — with `moreResult: true`, as the docs warn ("this API
//! may respond with fewer than 300 activity items, but also have the
//! moreResult attribute set to true"). The window's size is the
//! simulator's choice (unverified; Marketo does not publish its own).
//! Activities not yet visible (index lag) are passed over: a later pass
//! from an earlier date meets them, as with a log written asynchronously.

use super::store::{Db, Deletion, Entry};
use crate::time::{floor_second_ms, from_ms, parse};

/// The most log entries one feed call examines.
pub const SCAN_WINDOW: usize = 3_000;

/// How long Get Deleted Leads keeps a deletion: "Deletions greater than 14
/// days old may be pruned" (Swagger, `getDeletedLeadsUsingGET`).
pub const DELETION_RETENTION_MS: i64 = 14 * 24 * 3600 * 1000;

const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/// RFC 4648 base32 with `=` padding.
pub(crate) fn base32(bytes: &[u8]) -> String {
    let mut out = String::new();
    for chunk in bytes.chunks(5) {
        let mut buf = [0u8; 5];
        buf[..chunk.len()].copy_from_slice(chunk);
        let n = u64::from_be_bytes([0, 0, 0, buf[0], buf[1], buf[2], buf[3], buf[4]]);
        let chars = (chunk.len() * 8).div_ceil(5);
        for i in 0..8 {
            if i < chars {
                let idx = ((n >> (35 - i * 5)) & 31) as usize;
                out.push(ALPHABET[idx] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Decodes [`base32`], with or without padding.
pub(crate) fn unbase32(text: &str) -> Option<Vec<u8>> {
    let mut bits: u64 = 0;
    let mut n = 0;
    let mut out = Vec::new();
    for c in text.trim_end_matches('=').bytes() {
        let v = ALPHABET.iter().position(|a| *a == c)? as u64;
        bits = (bits << 5) | v;
        n += 5;
        if n >= 8 {
            n -= 8;
            out.push((bits >> n) as u8);
            bits &= (1 << n) - 1;
        }
    }
    Some(out)
}

/// A position in the activity log: activities dated at or after `since_ms`
/// with an id after `after_id`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Position {
    pub since_ms: i64,
    pub after_id: u64,
}

impl Position {
    /// The token for this position.
    pub fn token(&self) -> String {
        let date = from_ms(self.since_ms)
            .strftime("%Y-%m-%dT%H:%M:%S%.3f+0000")
            .to_string();
        base32(format!("{date},{}", self.after_id).as_bytes())
    }

    /// The position a token names.
    pub fn parse(token: &str) -> Option<Self> {
        let text = String::from_utf8(unbase32(token.trim())?).ok()?;
        let (date, id) = text.rsplit_once(',')?;
        Some(Self {
            since_ms: parse(date)?.as_millisecond(),
            after_id: id.trim().parse().ok()?,
        })
    }
}

/// One call's answer: the activities and where the next call starts.
pub(crate) struct Scan<'a, T> {
    pub items: Vec<&'a T>,
    pub next: Position,
    pub more: bool,
}

/// Something a feed pages through.
pub(crate) trait Logged {
    fn id(&self) -> u64;
    fn logged_ms(&self) -> i64;
}

impl Logged for Entry {
    fn id(&self) -> u64 {
        self.id
    }
    fn logged_ms(&self) -> i64 {
        self.logged_ms
    }
}

impl Logged for Deletion {
    fn id(&self) -> u64 {
        self.id
    }
    fn logged_ms(&self) -> i64 {
        self.logged_ms
    }
}

/// Pages `list` (in id and log-time order) from `at`: up to `limit` items
/// passing `keep`, examining at most [`SCAN_WINDOW`] entries.
pub(crate) fn scan<'a, T: Logged>(
    list: &'a [T],
    at: Position,
    limit: usize,
    keep: impl Fn(&T) -> bool,
) -> Scan<'a, T> {
    let since = floor_second_ms(at.since_ms);
    let start = list
        .partition_point(|e| e.logged_ms() < since)
        .max(list.partition_point(|e| e.id() <= at.after_id));
    let mut items = Vec::new();
    let mut last = at.after_id;
    let mut i = start;
    while i < list.len() && i - start < SCAN_WINDOW && items.len() < limit {
        let e = &list[i];
        last = e.id();
        if keep(e) {
            items.push(e);
        }
        i += 1;
    }
    Scan {
        items,
        next: Position {
            since_ms: at.since_ms,
            after_id: last,
        },
        more: i < list.len(),
    }
}

/// Whether a log entry shows in the feeds at `now_ms` for `since_ms`.
pub(crate) fn shown(db: &Db, e: &Entry, since_ms: i64, now_ms: i64) -> bool {
    e.visible_ms <= now_ms
        && e.date_ms >= floor_second_ms(since_ms)
        && db.leads.contains_key(&e.lead)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_have_the_documented_layout() {
        let docs = "GIYDAOBNGEYS2MBWKQYDAORQGA5DAMBOGAYDAKZQGAYDALBQ";
        let p = Position::parse(docs).unwrap();
        assert_eq!(
            p.since_ms,
            "2008-11-06T00:00:00Z"
                .parse::<jiff::Timestamp>()
                .unwrap()
                .as_millisecond()
        );
        assert_eq!(p.after_id, 0);
        assert_eq!(
            String::from_utf8(unbase32(&p.token()).unwrap()).unwrap(),
            "2008-11-06T00:00:00.000+0000,0"
        );
        let next =
            Position::parse("GIYDAOBNGEYS2MBWKQYDAORQGA5DAMBOGAYDAKZQGAYDALBRGA3TQ===").unwrap();
        assert_eq!(next.after_id, 1078);
        assert!(Position::parse("not a token!").is_none());
    }

    #[test]
    fn base32_round_trips() {
        for s in ["", "f", "fo", "foo", "foob", "fooba", "foobar"] {
            assert_eq!(unbase32(&base32(s.as_bytes())).unwrap(), s.as_bytes());
        }
        assert_eq!(base32(b"foobar"), "MZXW6YTBOI======");
    }
}
