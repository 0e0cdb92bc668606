//! The byte layout of storage keys.
//!
//! Every key starts with the pipeline name and a NUL byte, so one pipeline's
//! entries are one contiguous range (a prefix scan lists them, and a backend
//! that leases pipelines can map a lease onto a range). What follows is
//! chosen so that byte order is the order the engine reads in:
//!
//! | tree        | key after `pipeline \0`             | value                           |
//! |-------------|--------------------------------------|---------------------------------|
//! | `links`     | fence (the bucket's lowest marketing id) | bucket of [`LinkState`]s (`pack`) |
//! | `crm_links` | fence (the bucket's lowest CRM id)   | bucket of marketing ids (`pack`) |
//! | `cursors`   | side tag, object                     | [`Cursor`] (JSON)               |
//! | `intents`   | intent id (u64 big-endian)           | [`Intent`] (`pack`; older: JSON) |
//! | `dlq`       | side tag, record id                  | [`DlqEntry`] (JSON)             |
//! | `rr`        | assignment group                     | position (u64 big-endian)       |
//! | `status`    | (nothing)                            | [`PipelineStatus`] (JSON)       |
//! | `events`    | time (12 bytes), sequence (u64 BE)   | chunk of [`Event`]s from that time on (`pack`; older: one, JSON) |
//! | `counters`  | counter name                         | count (u64 big-endian)          |
//! | `sla`       | marketing id                         | [`SlaLead`] (JSON)              |
//! | `timers`    | due time (12 bytes), marketing id    | marketing id                    |
//! | `outcomes`  | outcome record's CRM id              | [`OutcomeLink`] (JSON)          |
//! | `duplicates`| `d`, duplicate's marketing id        | [`Duplicate`] (JSON)            |
//! | `duplicates`| `s`, survivor's id, NUL, duplicate's id | (empty): the survivor's list |
//!
//! Buckets are described in `bucket`; an older store's `links_m` (marketing
//! id → link) and `links_c` (CRM id → marketing id) are moved into them
//! when it is opened.
//!
//! Times in keys are [`time_key`]: seconds since the epoch with the sign bit
//! flipped, then the nanoseconds, both big-endian, so byte order is time
//! order across the whole range `jiff` supports.
//!
//! [`LinkState`]: super::LinkState
//! [`Cursor`]: leadbridge_core::Cursor
//! [`Intent`]: super::Intent
//! [`DlqEntry`]: super::DlqEntry
//! [`PipelineStatus`]: super::PipelineStatus
//! [`Event`]: super::Event
//! [`SlaLead`]: super::SlaLead
//! [`OutcomeLink`]: super::OutcomeLink
//! [`Duplicate`]: super::Duplicate

use jiff::Timestamp;

use super::error::{StateError, StateResult};
use crate::side::Side;

/// The separator after the pipeline name.
const SEP: u8 = 0;

/// Length of a [`time_key`].
pub(crate) const TIME_KEY_LEN: usize = 12;

/// Checks a pipeline name can prefix keys: not empty, no NUL (the separator).
pub(crate) fn check_pipeline(pipeline: &str) -> StateResult<()> {
    let why = if pipeline.is_empty() {
        "it is empty"
    } else if pipeline.as_bytes().contains(&SEP) {
        "it contains a NUL byte"
    } else {
        return Ok(());
    };
    Err(StateError::InvalidName {
        what: "pipeline",
        name: pipeline.to_owned(),
        why,
    })
}

/// `pipeline \0`: the prefix of every key of a pipeline.
pub(crate) fn prefix(pipeline: &str) -> StateResult<Vec<u8>> {
    check_pipeline(pipeline)?;
    let mut key = Vec::with_capacity(pipeline.len() + 24);
    key.extend_from_slice(pipeline.as_bytes());
    key.push(SEP);
    Ok(key)
}

/// `pipeline \0 rest`.
pub(crate) fn with(pipeline: &str, rest: &[u8]) -> StateResult<Vec<u8>> {
    let mut key = prefix(pipeline)?;
    key.extend_from_slice(rest);
    Ok(key)
}

/// `pipeline \0 side object`: a cursor or dead letter key.
pub(crate) fn sided(pipeline: &str, side: Side, rest: &str) -> StateResult<Vec<u8>> {
    let mut key = prefix(pipeline)?;
    key.push(side.tag());
    key.extend_from_slice(rest.as_bytes());
    Ok(key)
}

/// `pipeline \0 id`: an intent key.
pub(crate) fn numbered(pipeline: &str, id: u64) -> StateResult<Vec<u8>> {
    with(pipeline, &id.to_be_bytes())
}

/// `pipeline \0 d id`: a marketing duplicate's entry.
pub(crate) fn duplicate(pipeline: &str, marketing_id: &str) -> StateResult<Vec<u8>> {
    let mut key = prefix(pipeline)?;
    key.push(b'd');
    key.extend_from_slice(marketing_id.as_bytes());
    Ok(key)
}

/// `pipeline \0 s survivor \0`: the prefix of a survivor's duplicates; the
/// duplicate's id follows.
pub(crate) fn duplicates_of(pipeline: &str, survivor: &str) -> StateResult<Vec<u8>> {
    let mut key = prefix(pipeline)?;
    key.push(b's');
    key.extend_from_slice(survivor.as_bytes());
    key.push(SEP);
    Ok(key)
}

/// `pipeline \0 time seq`: an event (or timer) key.
pub(crate) fn timed(pipeline: &str, at: Timestamp, seq: u64) -> StateResult<Vec<u8>> {
    let mut key = prefix(pipeline)?;
    key.extend_from_slice(&time_key(at));
    key.extend_from_slice(&seq.to_be_bytes());
    Ok(key)
}

/// `pipeline \0 time marketing-id`: an SLA timer key (one live timer per lead).
pub(crate) fn timer(pipeline: &str, due: Timestamp, marketing_id: &str) -> StateResult<Vec<u8>> {
    let mut key = prefix(pipeline)?;
    key.extend_from_slice(&time_key(due));
    key.extend_from_slice(marketing_id.as_bytes());
    Ok(key)
}

/// A timestamp as 12 bytes whose byte order is time order.
pub(crate) fn time_key(at: Timestamp) -> [u8; TIME_KEY_LEN] {
    let nanos = at.as_nanosecond();
    // jiff's range (years -9999..=9999) is far inside i64 seconds.
    let secs = nanos.div_euclid(1_000_000_000) as i64;
    let sub = nanos.rem_euclid(1_000_000_000) as u32;
    let mut out = [0; TIME_KEY_LEN];
    out[..8].copy_from_slice(&((secs as u64) ^ (1 << 63)).to_be_bytes());
    out[8..].copy_from_slice(&sub.to_be_bytes());
    out
}

/// The time at the start of a key remainder (`time seq`), as written by
/// [`time_key`].
pub(crate) fn time_of(rest: &[u8]) -> StateResult<Timestamp> {
    let bytes: &[u8; TIME_KEY_LEN] = rest
        .get(..TIME_KEY_LEN)
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| StateError::corrupt("key", "too short for a time"))?;
    let mut secs = [0; 8];
    secs.copy_from_slice(&bytes[..8]);
    let mut sub = [0; 4];
    sub.copy_from_slice(&bytes[8..]);
    let secs = (u64::from_be_bytes(secs) ^ (1 << 63)) as i64;
    let nanos = i128::from(secs) * 1_000_000_000 + i128::from(u32::from_be_bytes(sub));
    Timestamp::from_nanosecond(nanos).map_err(|e| StateError::corrupt("key", e))
}

/// The sequence number after the time in a key remainder (`time seq`).
pub(crate) fn seq_of(rest: &[u8]) -> StateResult<u64> {
    let bytes = rest
        .get(TIME_KEY_LEN..TIME_KEY_LEN + 8)
        .ok_or_else(|| StateError::corrupt("key", "too short for a sequence number"))?;
    read_u64("key", bytes)
}

/// Reads a side-tagged key remainder (`side rest`).
pub(crate) fn split_sided(rest: &[u8]) -> StateResult<(Side, String)> {
    let (&tag, rest) = rest
        .split_first()
        .ok_or_else(|| StateError::corrupt("key", "missing side"))?;
    let side = Side::from_tag(tag).ok_or_else(|| StateError::corrupt("key", "unknown side"))?;
    let text = String::from_utf8(rest.to_vec()).map_err(|e| StateError::corrupt("key", e))?;
    Ok((side, text))
}

/// The text after the pipeline prefix (a record id, a group name).
pub(crate) fn text(rest: &[u8]) -> StateResult<String> {
    String::from_utf8(rest.to_vec()).map_err(|e| StateError::corrupt("key", e))
}

/// A big-endian u64 value (counters, round-robin positions).
pub(crate) fn read_u64(what: &'static str, bytes: &[u8]) -> StateResult<u64> {
    let arr: [u8; 8] = bytes
        .try_into()
        .map_err(|_| StateError::corrupt(what, format!("{} bytes, want 8", bytes.len())))?;
    Ok(u64::from_be_bytes(arr))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_keys_sort_like_times() {
        let times = [
            "1900-01-01T00:00:00Z",
            "1969-12-31T23:59:59.999999999Z",
            "1970-01-01T00:00:00Z",
            "2026-01-01T00:00:00.001Z",
            "2026-01-01T00:00:01Z",
        ];
        let keys: Vec<_> = times.iter().map(|t| time_key(t.parse().unwrap())).collect();
        assert!(keys.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn pipeline_names_are_checked_and_split_back() {
        assert!(prefix("").is_err());
        assert!(prefix("a\0b").is_err());
        let key = sided("inbound", Side::Crm, "Lead").unwrap();
        let rest = key.strip_prefix(b"inbound\0".as_slice()).unwrap();
        assert_eq!(split_sided(rest).unwrap(), (Side::Crm, "Lead".to_owned()));
    }
}
