//! The state of one change pass and the cursor rule over Pipedrive's lists.
//!
//! Pipedrive stamps `update_time` in whole seconds, so many records share
//! one value. Every list this connector reads is ordered by `update_time`
//! ascending (v2 `sort_by=update_time&sort_direction=asc`, v1 leads
//! `sort=update_time ASC,id ASC`, v1 recents by change time), but the order
//! *within* one second is not documented. So a page's checkpoint never
//! points into the second its last record sits in, unless the pass is over:
//! it is the furthest delivered cursor strictly before that second. A page
//! made entirely of one second offers no new checkpoint; the tie is drained
//! by the vendor's own paging (the v2 `cursor`, or the v1 offset counted
//! from the tie's start), never skipped.
//!
//! The window starts at `since.modified_at - overlap` (`updated_since` is
//! inclusive, SEMANTICS.md §3 Updated-since); at `since.modified_at` itself
//! only ids after `since.id` are delivered, so a quiet pass returns nothing.

use std::cmp::Ordering;

use jiff::{SignedDuration, Timestamp};
use leadbridge_core::cursor::compare_ids;
use leadbridge_core::{ChangePage, ChangesRequest, ConnectorError, Cursor, PageToken, Record};
use serde::{Deserialize, Serialize};

use crate::time::whole_seconds;

/// What the next page of a pass needs; travels in the opaque [`PageToken`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PassState {
    /// v2: the vendor's `next_cursor`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vendor_cursor: Option<String>,
    /// v1 offset lists: the `updated_since` (or `since_timestamp`) of the
    /// next query, in Unix seconds; `None` before the first page of a full pass.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub anchor: Option<i64>,
    /// v1 offset lists: results at exactly `anchor` already seen (the `start`).
    #[serde(default)]
    pub skip: u64,
    /// The furthest cursor delivered so far.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub held: Option<Cursor>,
    /// The checkpoint offered last.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checkpoint: Option<Cursor>,
    /// Pipedrive's clock (its `Date` header) at the first page, Unix ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_start_ms: Option<i64>,
}

impl PassState {
    /// The state a page token carries; a fresh pass without one.
    pub fn from_token(token: Option<&PageToken>) -> Result<Self, ConnectorError> {
        match token {
            None => Ok(Self::default()),
            Some(t) => serde_json::from_str(&t.0)
                .map_err(|e| ConnectorError::fatal(format!("not a Pipedrive page token: {e}"))),
        }
    }

    fn token(&self) -> PageToken {
        PageToken(serde_json::to_string(self).unwrap_or_default())
    }
}

/// Where the window of a pass starts: `since - overlap`, in whole seconds
/// (floored), or `None` for a full pass.
pub fn lower_bound(request: &ChangesRequest) -> Option<Timestamp> {
    let since = request.since.as_ref()?;
    let overlap = SignedDuration::try_from(request.overlap).unwrap_or(SignedDuration::ZERO);
    let start = since
        .modified_at
        .checked_sub(overlap)
        .unwrap_or(Timestamp::UNIX_EPOCH);
    Some(whole_seconds(start))
}

/// False for a record at `since.modified_at` with an id at or before
/// `since.id`: the last committed pass delivered it.
pub fn after_since(request: &ChangesRequest, record: &Record) -> bool {
    match &request.since {
        Some(since) if record.modified_at == since.modified_at => {
            compare_ids(&record.id, &since.id) == Ordering::Greater
        }
        Some(since) => record.modified_at > since.modified_at || !request.overlap.is_zero(),
        None => true,
    }
}

fn max_cursor(a: Option<Cursor>, b: Option<Cursor>) -> Option<Cursor> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    }
}

/// One page as read from the vendor, in its order.
pub struct RawPage {
    /// The vendor's clock when it answered (its `Date` header).
    pub server_time: Option<Timestamp>,
    /// Every record the vendor returned, before the cursor filter.
    pub records: Vec<Record>,
    /// v2: the next cursor; v1: ignored.
    pub next_cursor: Option<String>,
    /// Whether more pages follow.
    pub more: bool,
}

/// Applies the cursor rule to one page and says where the pass goes on.
/// `offset` selects v1 offset paging (anchor + skip) over the v2 cursor.
pub fn advance(
    request: &ChangesRequest,
    state: &PassState,
    raw: RawPage,
    offset: bool,
) -> ChangePage {
    let last_second = raw.records.iter().map(|r| r.modified_at).max();
    let held_before = state.held.clone();
    let delivered: Vec<Record> = raw
        .records
        .iter()
        .filter(|r| after_since(request, r))
        // Offset paging can shift by a record that changed mid-pass: never deliver twice.
        .filter(|r| !offset || held_before.as_ref().is_none_or(|h| r.cursor() > *h))
        .cloned()
        .collect();
    let page_max = delivered.iter().map(Record::cursor).max();
    let held = max_cursor(held_before.clone(), page_max.clone());
    let more = raw.more && !raw.records.is_empty();
    let server_start_ms = state
        .server_start_ms
        .or(raw.server_time.map(|t| t.as_millisecond()));
    let checkpoint = if !more {
        // With a non-zero overlap the caller bounds how late a change can
        // become visible: everything changed more than `overlap` before the
        // pass began was visible to it, so delivered. Committing that point
        // keeps the next window small instead of re-reading the tail.
        let settled = server_start_ms
            .filter(|_| !request.overlap.is_zero())
            .and_then(|ms| Timestamp::from_millisecond(ms).ok())
            .and_then(|t| {
                t.checked_sub(SignedDuration::try_from(request.overlap).ok()?)
                    .ok()
            })
            .map(Cursor::before);
        max_cursor(state.checkpoint.clone(), max_cursor(held.clone(), settled))
    } else {
        let Some(last) = last_second else {
            unreachable!("a page with more after it has records")
        };
        let before_last = |c: &Option<Cursor>| c.clone().filter(|c| c.modified_at < last);
        let page_before = delivered
            .iter()
            .filter(|r| r.modified_at < last)
            .map(Record::cursor)
            .max();
        max_cursor(
            state.checkpoint.clone(),
            max_cursor(before_last(&held_before), page_before),
        )
    };
    let next = more.then(|| {
        let mut next = PassState {
            held,
            checkpoint: checkpoint.clone(),
            server_start_ms,
            ..PassState::default()
        };
        if offset {
            let last = last_second.unwrap_or(Timestamp::UNIX_EPOCH);
            let at_last = raw.records.iter().filter(|r| r.modified_at == last).count() as u64;
            let continuing = state.anchor == Some(last.as_second());
            next.anchor = Some(last.as_second());
            next.skip = if continuing { state.skip } else { 0 } + at_last;
        } else {
            next.vendor_cursor = raw.next_cursor;
        }
        next.token()
    });
    ChangePage {
        records: delivered,
        checkpoint,
        next,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn ts(s: i64) -> Timestamp {
        Timestamp::from_second(1_767_000_000 + s).unwrap()
    }

    fn rec(id: u32, s: i64) -> Record {
        Record::new(id.to_string(), ts(s))
    }

    fn req(since: Option<Cursor>, overlap: u64) -> ChangesRequest {
        ChangesRequest {
            object: "persons".into(),
            since,
            overlap: Duration::from_secs(overlap),
            fields: vec![],
            include_archived: false,
        }
    }

    #[test]
    fn a_checkpoint_never_points_into_the_last_second_until_the_end() {
        let r = req(None, 0);
        let page = advance(
            &r,
            &PassState::default(),
            RawPage {
                server_time: None,
                records: vec![rec(1, 0), rec(2, 1), rec(3, 1)],
                next_cursor: Some("c".into()),
                more: true,
            },
            false,
        );
        assert_eq!(page.checkpoint, Some(Cursor::new(ts(0), "1")));
        let state = PassState::from_token(page.next.as_ref()).unwrap();
        assert_eq!(state.vendor_cursor.as_deref(), Some("c"));
        // The tie goes on alone: no new checkpoint.
        let page = advance(
            &r,
            &state,
            RawPage {
                server_time: None,
                records: vec![rec(4, 1)],
                next_cursor: Some("d".into()),
                more: true,
            },
            false,
        );
        assert_eq!(page.checkpoint, Some(Cursor::new(ts(0), "1")));
        let state = PassState::from_token(page.next.as_ref()).unwrap();
        let page = advance(
            &r,
            &state,
            RawPage {
                server_time: None,
                records: vec![rec(5, 2)],
                next_cursor: None,
                more: false,
            },
            false,
        );
        assert_eq!(page.checkpoint, Some(Cursor::new(ts(2), "5")));
        assert!(page.next.is_none());
    }

    #[test]
    fn the_since_boundary_keeps_only_later_ids_and_the_overlap() {
        let since = Cursor::new(ts(10), "5");
        let quiet = req(Some(since.clone()), 0);
        assert!(!after_since(&quiet, &rec(5, 10)));
        assert!(!after_since(&quiet, &rec(4, 10)));
        assert!(after_since(&quiet, &rec(6, 10)));
        let overlapping = req(Some(since), 30);
        assert!(after_since(&overlapping, &rec(1, 0)));
        assert_eq!(lower_bound(&overlapping), Some(ts(-20)));
    }

    #[test]
    fn offset_paging_counts_the_tie_it_is_in() {
        let r = req(None, 0);
        let page = advance(
            &r,
            &PassState::default(),
            RawPage {
                server_time: None,
                records: vec![rec(1, 0), rec(2, 3), rec(3, 3)],
                next_cursor: None,
                more: true,
            },
            true,
        );
        let state = PassState::from_token(page.next.as_ref()).unwrap();
        assert_eq!((state.anchor, state.skip), (Some(ts(3).as_second()), 2));
        let page = advance(
            &r,
            &state,
            RawPage {
                server_time: None,
                // The vendor repeats record 3 (an offset shift): it is dropped.
                records: vec![rec(3, 3), rec(4, 3)],
                next_cursor: None,
                more: true,
            },
            true,
        );
        assert_eq!(page.records.len(), 1);
        let state = PassState::from_token(page.next.as_ref()).unwrap();
        assert_eq!(state.skip, 4);
    }
}
