//! The change pass: how HubSpot's search API is walked so that every record
//! changed since a cursor comes back exactly once, however many share one
//! timestamp, in about one call per 200 records.
//!
//! # Why not plain `after` paging
//!
//! The obvious pass (`lastmodifieddate GTE since`, sorted ascending, paged
//! with `after`) has three problems:
//!
//! 1. a query stops at 10,000 results (`after` ≥ 10000 is an HTTP 400), so a
//!    long pass must start new queries anyway;
//! 2. `after` is an offset into a result set that moves while we read it: a
//!    record edited mid-pass jumps to the end and shifts every later record
//!    one place down, so the record just after the page edge is skipped —
//!    and lost for good once the cursor passes its timestamp;
//! 3. HubSpot sorts on one property only, so records sharing a timestamp come
//!    back in no stated order, and a new query cannot say "after this record".
//!
//! # Seek paging
//!
//! So every page is a fresh query that starts where the previous one ended
//! (*seek* paging): the state remembers the highest timestamp delivered, `T`,
//! and the ids already delivered at `T`, and the next query asks for
//!
//! ```text
//! (modified EQ T AND hs_object_id NOT_IN delivered-at-T) OR (modified GT T)
//! ```
//!
//! sorted by the modified property. Nothing is skipped when records move (a
//! moved record has a later timestamp and is met again), no offset ever
//! reaches the 10,000 cap (each query reads one page from its start), and the
//! exclusion list makes a page re-read nothing, so a pass over N records
//! costs `ceil(N / 200)` calls. The response's `total` says whether the query
//! had more than the page, so no empty last call is needed.
//!
//! # Tie drain
//!
//! The exclusion list is kept under [`TIE_LIST_MAX`] ids. When more records
//! than that share `T` (a bulk import, a workflow touching 12,000 contacts in
//! one millisecond), the pass switches to a *tie drain*: `modified EQ T AND
//! hs_object_id GT last`, sorted by `hs_object_id` — a total order, so it
//! seeks exactly. Ids already delivered at `T` before the switch are skipped
//! as they come by. When the tie is drained, the pass resumes with
//! `modified GT T`.
//!
//! # Window and checkpoints
//!
//! A pass starts at `since.modified_at - overlap` (`GTE`), so records that
//! reached the search index late are read again; with a zero overlap it
//! starts exactly after `since` (`EQ since.time AND id GT since.id`, or
//! later). Each page's checkpoint is safe to commit: while the pass runs it is
//! "everything before `T`" (records at `T` came in no id order), inside a tie
//! drain `(T, last id)`, and at the end the last record delivered — or, when
//! the overlap is non-zero, "everything before the pass's start minus the
//! overlap" if that is later (read from HubSpot's own `Date` header, so the
//! daemon's clock skew does not matter): the overlap is the caller's bound
//! on index lag, so every change older than that was visible and delivered.
//!
//! # Archived records
//!
//! Search never returns archived records. With `include_archived`, the pass
//! ends by listing `GET /crm/v3/objects/{object}?archived=true` (100 a page;
//! the list holds only archived records, each with `archivedAt`) and
//! returning those archived at or after the window start, flagged
//! `archived`, with `archivedAt` as their modified time. The cursor rule
//! holds because archived records never move the checkpoint: it comes from
//! the search part alone, so the next pass starts no later than this one's
//! window ended and lists, again, every record archived since its own
//! window start. A record archived while a pass runs is therefore
//! delivered by this pass or the next, never lost; one may come in two
//! passes, which the engine's fingerprints drop like any overlap re-read. HubSpot's list
//! is ordered by id, not by archive time, so there is no early stop: this
//! costs `ceil(A / 100)` calls per pass for `A` records in the recycle bin
//! (HubSpot keeps them 90 days). Passes that must stay cheap on accounts with
//! many deletions should use HubSpot's `contact.deletion` webhooks instead.

use std::collections::BTreeSet;

use leadbridge_core::{ChangesRequest, ConnectorError, ConnectorResult, Cursor, Record};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::time::{from_ms, parse_ms};
use crate::wire::ApiObject;

/// The property listing the ids merged into a record (R2.7), requested on
/// every change pass over contacts so `Record::merged_from` is filled.
pub(crate) fn merged_property(object: &str) -> Option<&'static str> {
    crate::is_contacts(object).then_some("hs_merged_object_ids")
}

/// The most records one search page returns.
pub const PAGE_LIMIT: usize = 200;
/// The most records one list page (archived records) returns.
pub const LIST_LIMIT: usize = 100;
/// The most ids a seek query excludes with `NOT_IN`; past it the pass
/// drains the tie by id instead.
pub const TIE_LIST_MAX: usize = 100;

/// Where the pass is. Serialized (JSON) into the [`leadbridge_core::PageToken`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct PassState {
    /// The object the pass reads, so a token is never used for another.
    pub object: String,
    /// The window start in epoch ms.
    pub floor_ms: i64,
    /// With a zero overlap: the id at `floor_ms` already delivered before
    /// this pass, so only larger ids at that instant are read.
    pub floor_id: Option<u64>,
    /// The highest modified time delivered by search so far.
    pub tie_ms: Option<i64>,
    /// Ids delivered at `tie_ms` (excluded from the next seek query).
    pub tie_ids: BTreeSet<u64>,
    /// Every record at `tie_ms` has been delivered.
    pub tie_complete: bool,
    /// Reading phase.
    pub phase: Phase,
    /// The highest record delivered by search (the final checkpoint).
    pub last: Option<(i64, u64)>,
    /// The best checkpoint so far.
    pub checkpoint: Option<(i64, Option<u64>)>,
    /// The cursor the pass started from (checkpoints never go below it).
    pub since: Option<Cursor>,
    /// HubSpot's clock (the `Date` header) when the pass's first search ran.
    #[serde(default)]
    pub server_ms: Option<i64>,
    /// The overlap the pass was asked for, in ms.
    #[serde(default)]
    pub overlap_ms: i64,
}

/// The phases of a pass.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) enum Phase {
    /// Seek paging on the modified property.
    Range,
    /// Draining the records sharing `ts`, by id, after `after_id`.
    Tie {
        /// The shared timestamp.
        ts: i64,
        /// The last id read.
        after_id: u64,
    },
    /// Listing archived records.
    Archived {
        /// HubSpot's `after` of the list endpoint.
        after: Option<String>,
    },
}

/// What the connector must call next.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Call {
    /// `POST /crm/v3/objects/{object}/search` with this body.
    Search(Value),
    /// `GET /crm/v3/objects/{object}?archived=true&limit=100&after=…`.
    ListArchived(Option<String>),
}

fn id_of(object: &ApiObject) -> ConnectorResult<u64> {
    object.id.parse().map_err(|_| ConnectorError::Retryable {
        message: format!("HubSpot returned a non-numeric object id {:?}", object.id),
        retry_after: None,
    })
}

fn filter(prop: &str, op: &str, value: impl ToString) -> Value {
    json!({"propertyName": prop, "operator": op, "value": value.to_string()})
}

impl PassState {
    /// The state at the start of a pass.
    pub fn start(request: &ChangesRequest) -> Self {
        let (floor_ms, floor_id) = match &request.since {
            None => (0, None),
            Some(since) => {
                let overlap = i64::try_from(request.overlap.as_millis()).unwrap_or(i64::MAX);
                let ms = since.modified_at.as_millisecond();
                if overlap == 0 {
                    (ms, since.id.parse().ok())
                } else {
                    (ms.saturating_sub(overlap), None)
                }
            }
        };
        Self {
            object: request.object.clone(),
            floor_ms,
            floor_id,
            tie_ms: None,
            tie_ids: BTreeSet::new(),
            tie_complete: false,
            phase: Phase::Range,
            last: None,
            checkpoint: None,
            since: request.since.clone(),
            server_ms: None,
            overlap_ms: i64::try_from(request.overlap.as_millis()).unwrap_or(i64::MAX),
        }
    }

    fn properties(request: &ChangesRequest, prop: &str) -> Vec<String> {
        let mut props: Vec<String> = request.fields.clone();
        for extra in [Some(prop), merged_property(&request.object)]
            .into_iter()
            .flatten()
        {
            if !props.iter().any(|p| p == extra) {
                props.push(extra.to_owned());
            }
        }
        props
    }

    /// The call that reads the next page.
    pub fn next_call(&self, request: &ChangesRequest, prop: &str) -> Call {
        let properties = Self::properties(request, prop);
        let sort_by = |p: &str| json!([{"propertyName": p, "direction": "ASCENDING"}]);
        match &self.phase {
            Phase::Archived { after } => Call::ListArchived(after.clone()),
            Phase::Tie { ts, after_id } => Call::Search(json!({
                "filterGroups": [{"filters": [
                    filter(prop, "EQ", ts),
                    filter("hs_object_id", "GT", after_id),
                ]}],
                "sorts": sort_by("hs_object_id"),
                "properties": properties,
                "limit": PAGE_LIMIT,
            })),
            Phase::Range => {
                let groups = match self.tie_ms {
                    None => match self.floor_id {
                        None => json!([{"filters": [filter(prop, "GTE", self.floor_ms)]}]),
                        Some(id) => json!([
                            {"filters": [filter(prop, "EQ", self.floor_ms), filter("hs_object_id", "GT", id)]},
                            {"filters": [filter(prop, "GT", self.floor_ms)]},
                        ]),
                    },
                    Some(t) if self.tie_complete => json!([{"filters": [filter(prop, "GT", t)]}]),
                    Some(t) => {
                        let mut at_t = vec![filter(prop, "EQ", t)];
                        if let (Some(id), true) = (self.floor_id, t == self.floor_ms) {
                            at_t.push(filter("hs_object_id", "GT", id));
                        }
                        if !self.tie_ids.is_empty() {
                            let values: Vec<String> =
                                self.tie_ids.iter().map(u64::to_string).collect();
                            at_t.push(json!({"propertyName": "hs_object_id", "operator": "NOT_IN", "values": values}));
                        }
                        json!([{"filters": at_t}, {"filters": [filter(prop, "GT", t)]}])
                    }
                };
                Call::Search(json!({
                    "filterGroups": groups,
                    "sorts": sort_by(prop),
                    "properties": properties,
                    "limit": PAGE_LIMIT,
                }))
            }
        }
    }

    /// Builds the record from a search result, moving its values: a page
    /// holds 200 of them and this runs for every record of every pass, so
    /// nothing is cloned. Only the requested fields are kept, `null` where
    /// HubSpot sent none.
    fn to_record(request: &ChangesRequest, prop: &str, object: ApiObject) -> (i64, Record) {
        let ApiObject {
            id,
            mut properties,
            updated_at,
            ..
        } = object;
        let modified = properties
            .get(prop)
            .and_then(Value::as_str)
            .and_then(parse_ms)
            .or_else(|| updated_at.as_deref().and_then(parse_ms))
            .unwrap_or(0);
        let merged_from: Vec<String> = merged_property(&request.object)
            .and_then(|p| properties.get(p))
            .and_then(Value::as_str)
            .map(|ids| {
                ids.split(';')
                    .map(str::trim)
                    .filter(|i| !i.is_empty() && *i != id)
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default();
        properties.retain(|name, _| request.fields.iter().any(|f| f == name));
        if properties.len() < request.fields.len() {
            for field in &request.fields {
                if !properties.contains_key(field) {
                    properties.insert(field.clone(), Value::Null);
                }
            }
        }
        let mut record = Record::new(id, from_ms(modified));
        record.fields = properties;
        record.merged_from = merged_from;
        (modified, record)
    }

    fn deliver(&mut self, ts: i64, id: u64) {
        match self.tie_ms {
            Some(t) if ts == t => {
                self.tie_ids.insert(id);
            }
            Some(t) if ts < t => {}
            _ => {
                self.tie_ms = Some(ts);
                self.tie_ids = BTreeSet::from([id]);
                self.tie_complete = false;
            }
        }
        if self.last.is_none_or(|l| (ts, id) > l) {
            self.last = Some((ts, id));
        }
    }

    fn raise_checkpoint(&mut self, candidate: (i64, Option<u64>)) {
        // `None` as the id means "before every id at that time"; it sorts first.
        if self.checkpoint.is_none_or(|c| candidate > c) {
            self.checkpoint = Some(candidate);
        }
    }

    /// Applies one search page: returns the records to deliver and whether
    /// the live (search) part of the pass is over.
    pub fn on_search_page(
        &mut self,
        request: &ChangesRequest,
        prop: &str,
        results: Vec<ApiObject>,
        total: Option<u64>,
        has_next: bool,
    ) -> ConnectorResult<(Vec<Record>, bool)> {
        let more = match total {
            Some(total) => total > results.len() as u64,
            None => has_next,
        };
        let mut out = Vec::with_capacity(results.len());
        match self.phase.clone() {
            Phase::Range => {
                for object in results {
                    let id = id_of(&object)?;
                    let (ts, record) = Self::to_record(request, prop, object);
                    let seen_at_tie = self.tie_ms == Some(ts) && self.tie_ids.contains(&id);
                    let before_floor = ts < self.floor_ms
                        || (ts == self.floor_ms && self.floor_id.is_some_and(|f| id <= f));
                    if seen_at_tie || before_floor {
                        continue;
                    }
                    self.deliver(ts, id);
                    out.push(record);
                }
                if !more {
                    self.finish_live();
                    return Ok((out, true));
                }
                if let Some(t) = self.tie_ms {
                    self.raise_checkpoint((t, None));
                    if self.tie_ids.len() >= TIE_LIST_MAX {
                        let after_id = match self.floor_id {
                            Some(f) if t == self.floor_ms => f,
                            _ => 0,
                        };
                        self.phase = Phase::Tie { ts: t, after_id };
                    }
                }
                Ok((out, false))
            }
            Phase::Tie { ts, after_id } => {
                let mut last = after_id;
                for object in results {
                    let id = id_of(&object)?;
                    last = last.max(id);
                    if self.tie_ids.contains(&id) {
                        continue;
                    }
                    let (_, record) = Self::to_record(request, prop, object);
                    // Records read by id at `ts` all carry `ts`, whatever the copy says.
                    let mut record = record;
                    record.modified_at = from_ms(ts);
                    self.deliver(ts, id);
                    out.push(record);
                }
                // Ids at or below `last` can never come again in this drain.
                self.tie_ids = self.tie_ids.split_off(&last.saturating_add(1));
                self.raise_checkpoint((ts, Some(last)));
                if more {
                    self.phase = Phase::Tie { ts, after_id: last };
                } else {
                    self.tie_ms = Some(ts);
                    self.tie_complete = true;
                    self.tie_ids.clear();
                    self.phase = Phase::Range;
                }
                Ok((out, false))
            }
            Phase::Archived { .. } => Ok((out, true)),
        }
    }

    /// Records the server's clock at the first search of the pass.
    pub fn observe_server_time(&mut self, server_ms: Option<i64>) {
        if self.server_ms.is_none() {
            self.server_ms = server_ms;
        }
    }

    /// The end of the live part: everything delivered, and — when the caller
    /// bounds the index lag with a non-zero overlap — everything changed
    /// more than `overlap` before the pass began was visible to it and so
    /// delivered too. Committing that point keeps the next pass's re-read
    /// window small instead of re-reading the last records every time.
    fn finish_live(&mut self) {
        if let Some((ts, id)) = self.last {
            self.raise_checkpoint((ts, Some(id)));
        }
        if let (Some(server), true) = (self.server_ms, self.overlap_ms > 0) {
            self.raise_checkpoint((server.saturating_sub(self.overlap_ms), None));
        }
    }

    /// Applies one page of archived records.
    pub fn on_archived_page(
        &mut self,
        request: &ChangesRequest,
        prop: &str,
        results: Vec<ApiObject>,
        next: Option<String>,
    ) -> Vec<Record> {
        let mut out = Vec::new();
        for object in results {
            let archived_ms = object
                .archived_at
                .as_deref()
                .and_then(parse_ms)
                .or_else(|| object.updated_at.as_deref().and_then(parse_ms))
                .unwrap_or(0);
            if archived_ms < self.floor_ms {
                continue;
            }
            let (_, mut record) = Self::to_record(request, prop, object);
            record.modified_at = from_ms(archived_ms);
            record.archived = true;
            out.push(record);
        }
        self.phase = Phase::Archived { after: next };
        out
    }

    /// The checkpoint to report: the best so far, when it is past `since`.
    pub fn checkpoint(&self) -> Option<Cursor> {
        let (ts, id) = self.checkpoint?;
        let cursor = match id {
            Some(id) => Cursor::new(from_ms(ts), id.to_string()),
            None => Cursor::before(from_ms(ts)),
        };
        match &self.since {
            Some(since) if cursor <= *since => None,
            _ => Some(cursor),
        }
    }

    /// Serializes the state into a page token.
    pub fn token(&self) -> ConnectorResult<String> {
        serde_json::to_string(self)
            .map_err(|e| ConnectorError::fatal(format!("cannot encode the page token: {e}")))
    }

    /// Reads a page token made by [`PassState::token`] for the same object.
    pub fn from_token(token: &str, request: &ChangesRequest) -> ConnectorResult<Self> {
        let state: Self = serde_json::from_str(token).map_err(|_| {
            ConnectorError::fatal("page token was not made by the HubSpot connector")
        })?;
        if state.object != request.object {
            return Err(ConnectorError::fatal(format!(
                "page token belongs to a pass over {}, not {}",
                state.object, request.object
            )));
        }
        Ok(state)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn request(since: Option<Cursor>, overlap: u64) -> ChangesRequest {
        ChangesRequest {
            object: "contacts".into(),
            since,
            overlap: Duration::from_millis(overlap),
            fields: vec!["email".into()],
            include_archived: false,
        }
    }

    fn obj(id: u64, ms: i64) -> ApiObject {
        serde_json::from_value(json!({
            "id": id.to_string(),
            "properties": {"email": format!("p{id}@x.example"), "lastmodifieddate": crate::time::iso_ms(ms)},
            "updatedAt": crate::time::iso_ms(ms),
        }))
        .unwrap()
    }

    #[test]
    fn zero_overlap_starts_exactly_after_the_cursor() {
        let r = request(Some(Cursor::new(from_ms(5000), "42")), 0);
        let s = PassState::start(&r);
        let Call::Search(body) = s.next_call(&r, "lastmodifieddate") else {
            panic!()
        };
        let groups = body["filterGroups"].as_array().unwrap();
        assert_eq!(groups.len(), 2);
        assert_eq!(groups[0]["filters"][1]["operator"], "GT");
        assert_eq!(groups[0]["filters"][1]["value"], "42");
    }

    #[test]
    fn many_ties_switch_to_an_id_ordered_drain_and_skip_what_was_seen() {
        let r = request(None, 0);
        let mut s = PassState::start(&r);
        // A page of 150 records at t=10 (in no id order), with more to come.
        let page: Vec<ApiObject> = (0..150).map(|i| obj(1000 - i * 3, 10)).collect();
        let (out, done) = s
            .on_search_page(&r, "lastmodifieddate", page, Some(500), true)
            .unwrap();
        assert_eq!((out.len(), done), (150, false));
        assert!(matches!(
            s.phase,
            Phase::Tie {
                ts: 10,
                after_id: 0
            }
        ));
        assert_eq!(s.checkpoint(), Some(Cursor::before(from_ms(10))));
        // The drain returns ids in order, including those already delivered.
        let drain: Vec<ApiObject> = (1..=200).map(|id| obj(id, 10)).collect();
        let (out, _) = s
            .on_search_page(&r, "lastmodifieddate", drain, Some(1000), true)
            .unwrap();
        let seen_before = (1..=200)
            .filter(|id| (1000 - id) % 3 == 0 && *id > 550)
            .count();
        assert_eq!(out.len(), 200 - seen_before);
        assert_eq!(s.checkpoint(), Some(Cursor::new(from_ms(10), "200")));
        assert!(matches!(
            s.phase,
            Phase::Tie {
                ts: 10,
                after_id: 200
            }
        ));
    }

    #[test]
    fn seek_query_excludes_ids_already_delivered_at_the_last_time() {
        let r = request(None, 0);
        let mut s = PassState::start(&r);
        let page = vec![obj(1, 5), obj(2, 7), obj(3, 7)];
        s.on_search_page(&r, "lastmodifieddate", page, Some(10), true)
            .unwrap();
        let Call::Search(body) = s.next_call(&r, "lastmodifieddate") else {
            panic!()
        };
        let at_t = &body["filterGroups"][0]["filters"];
        assert_eq!(at_t[0]["value"], "7");
        assert_eq!(at_t[1]["operator"], "NOT_IN");
        assert_eq!(at_t[1]["values"], json!(["2", "3"]));
        // A repeated record is dropped, a new one at the same time delivered.
        let (out, done) = s
            .on_search_page(
                &r,
                "lastmodifieddate",
                vec![obj(3, 7), obj(4, 7)],
                Some(2),
                false,
            )
            .unwrap();
        assert_eq!(out.len(), 1);
        assert!(done);
        assert_eq!(s.checkpoint(), Some(Cursor::new(from_ms(7), "4")));
    }
}
