//! The change pass: how Marketo's activity log is walked so that every lead
//! changed since a cursor comes back, with checkpoints that are safe to
//! commit.
//!
//! # Why the activity log
//!
//! Marketo has no "leads modified since" query: Get Leads by Filter Type
//! needs the values it filters on, and Bulk Lead Extract is an
//! asynchronous export job with its own daily limit. What Marketo does
//! offer is the activity log, read through date-based paging tokens
//! (experienceleague.adobe.com/en/docs/marketo-developer/marketo/rest/paging-tokens):
//!
//! 1. `GET /rest/v1/activities/pagingtoken.json?sinceDatetime=…` turns the
//!    window start into a token;
//! 2. `GET /rest/v1/activities/leadchanges.json?nextPageToken=…&fields=…`
//!    returns "Data Value Change and New Lead activities after a given
//!    datetime" (Swagger, `getLeadChangesUsingGET`) for the listed fields
//!    only, 300 a page, with `nextPageToken` and `moreResult`;
//! 3. the leads those activities name are then read by id,
//!    `GET /rest/v1/leads.json?filterType=id&filterValues=…&fields=…`
//!    (up to 300 ids a call), so the engine gets each lead's current
//!    values, not the log's.
//!
//! A page of the pass is one page of the log plus one read of its leads:
//! two calls per up to 300 changed leads.
//!
//! # Merges and deletions
//!
//! Before that main feed, the same window is read from two side feeds:
//! `GET /rest/v1/activities.json?activityTypeIds=32` ("Merge Leads",
//! logged on the winner; its "Merge IDs" attribute names the losers, whose
//! records are gone) delivers each winner with `merged_from`, and — only
//! with `include_archived` — `GET /rest/v1/activities/deletedleads.json`
//! ("Delete Lead", type 37; Marketo may prune deletions older than 14 days)
//! delivers each deleted lead flagged `archived`. One paging token serves
//! all three feeds (the docs name the three endpoints as its users).
//!
//! A pass without a cursor (a first sync, or after `leadbridge resync`)
//! skips the merge feed: over the whole log it would cost a call per few
//! thousand activities (Marketo answers sparse pages, even empty ones, with
//! `moreResult: true`) to report merges whose winners the pass reads anyway
//! as they are now; a link to a merged-away lead that a resync leaves
//! behind is closed when a write to it answers 1004 "Lead not found".
//!
//! # How the pass maps onto [`Cursor`]
//!
//! A record's cursor is `(activity date, lead id)`: the date of the latest
//! activity that put the lead on its page (Marketo dates activities to the
//! second), and the lead's numeric id. The Marketo paging tokens live only
//! inside this pass's [`leadbridge_core::PageToken`] (with the pass state,
//! as JSON) and are never persisted: a new pass always asks for a fresh
//! token from its cursor's date.
//!
//! - **Window.** A pass from `since` asks for a token at
//!   `since.modified_at − overlap` (floored to the second), so activities
//!   logged late are read again; activities at exactly `since.modified_at`
//!   are dropped for lead ids at or before `since.id` (the compound rule),
//!   so with a zero overlap a quiet pass returns nothing. A pass without a
//!   cursor starts at [`PASS_ORIGIN`]; activities Marketo has purged under
//!   its retention policy ("most activities will be purged after some
//!   period of time") are not seen, so a first sync of an old instance
//!   misses leads with no activity left in the log.
//! - **Ties.** Many activities can share one second (an import, a
//!   campaign). The log pages by position, not by date, so a tie is read
//!   through like anything else; no re-anchoring is needed.
//! - **Checkpoints.** Side feeds offer none. On a main-feed page with more
//!   to come the checkpoint is "everything before the latest second read"
//!   (`Cursor::before`): the log is in date order but within one second it
//!   is in activity order, not lead-id order. The last page offers the
//!   highest cursor delivered — or, when the overlap is non-zero, "before
//!   the pass's start minus the overlap" if that is later (the start read
//!   from Marketo's own `Date` header): the overlap is the caller's bound
//!   on logging lag, so every older change was visible and delivered. Every
//!   checkpoint is capped at "before the moment the side feeds were read to
//!   their end" (again their `Date` header), so a merge or deletion logged
//!   while the main feed was read is met by the next pass, not skipped;
//!   and none falls below `since`.
//! - **Once per pass.** A lead with several activities on a page is
//!   delivered once, at its latest. A winner delivered by the merge feed is
//!   not delivered again by the main feed (its state was read after every
//!   change the checkpoint can pass). A lead whose mapped fields change
//!   again on a later page of the same pass (a lead created and then edited
//!   within one window) is delivered again there, with its state re-read;
//!   the engine's fingerprints make that a no-op. Keeping every delivered
//!   id in the token to avoid it would make a backfill's token grow with
//!   the instance.

use std::collections::{BTreeMap, BTreeSet};

use leadbridge_core::cursor::compare_ids;
use leadbridge_core::{ChangesRequest, ConnectorError, ConnectorResult, Cursor};
use serde::{Deserialize, Serialize};

use crate::time::{floor_second_ms, from_ms, iso_seconds};
use crate::wire::{merge_ids, Activity};

/// The most activities one page of the log returns (its default and
/// maximum `batchSize`).
pub const PAGE_LIMIT: usize = 300;
/// "New Lead": a lead was created.
pub const NEW_LEAD: i64 = 12;
/// "Change Data Value": a field of a lead changed.
pub const CHANGE_DATA_VALUE: i64 = 13;
/// "Merge Leads": losers were merged into the lead the activity is on.
pub const MERGE_LEADS: i64 = 32;
/// "Delete Lead": a lead was deleted.
pub const DELETE_LEAD: i64 = 37;
/// Where a pass without a cursor starts: Marketo was founded in 2006, no
/// activity is older.
pub const PASS_ORIGIN: &str = "2006-01-01T00:00:00Z";

/// Which feed the pass reads, with its Marketo paging token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum Phase {
    /// No token yet: ask for one.
    Start,
    /// Merge Leads activities.
    Merges(String),
    /// Deleted leads (only with `include_archived`).
    Deleted(String),
    /// Data value changes and new leads of the requested fields.
    Main(String),
}

/// Where the pass is. Serialized (JSON) into the
/// [`leadbridge_core::PageToken`]; lives for one pass only.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct PassState {
    /// The object the pass reads, so a token is never used for another.
    pub object: String,
    /// Whether deleted leads are read, so a token is not reused otherwise.
    pub include_archived: bool,
    /// The cursor the pass started from.
    pub since: Option<Cursor>,
    /// The overlap asked for, in ms.
    pub overlap_ms: i64,
    /// The window start in epoch ms (`None`: from [`PASS_ORIGIN`]).
    pub window_ms: Option<i64>,
    /// The token for the window start, shared by the three feeds.
    pub start_token: Option<String>,
    /// The feed being read.
    pub phase: Phase,
    /// Marketo's clock when the token was issued.
    pub server_start_ms: Option<i64>,
    /// Marketo's clock when the side feeds were read to their end.
    pub side_done_ms: Option<i64>,
    /// The latest activity date met in the main feed.
    pub max_main_ms: Option<i64>,
    /// The highest record cursor delivered so far.
    pub last: Option<Cursor>,
    /// The best checkpoint offered so far.
    pub best: Option<Cursor>,
    /// Winners delivered by the merge feed in this pass.
    pub winners: BTreeSet<u64>,
}

/// What a main-feed page asks the connector to read: lead id → the date
/// (ms) of its latest activity on the page.
pub(crate) type ToRead = BTreeMap<u64, i64>;

/// The winners of a merge-feed page: lead id → (latest merge date, losers).
pub(crate) type Winners = BTreeMap<u64, (i64, BTreeSet<u64>)>;

impl PassState {
    /// The state at the start of a pass.
    pub fn start(request: &ChangesRequest) -> Self {
        let overlap_ms = i64::try_from(request.overlap.as_millis()).unwrap_or(i64::MAX);
        let window_ms = request
            .since
            .as_ref()
            .map(|s| s.modified_at.as_millisecond().saturating_sub(overlap_ms));
        Self {
            object: request.object.clone(),
            include_archived: request.include_archived,
            since: request.since.clone(),
            overlap_ms,
            window_ms,
            start_token: None,
            phase: Phase::Start,
            server_start_ms: None,
            side_done_ms: None,
            max_main_ms: None,
            last: None,
            best: None,
            winners: BTreeSet::new(),
        }
    }

    /// The state a page token holds, checked against the request.
    pub fn from_token(token: &str, request: &ChangesRequest) -> ConnectorResult<Self> {
        let state: Self = serde_json::from_str(token).map_err(|e| {
            ConnectorError::fatal(format!("not a page token of a Marketo change pass: {e}"))
        })?;
        if state.object != request.object || state.include_archived != request.include_archived {
            return Err(ConnectorError::fatal(
                "page token belongs to another change pass (object or include_archived differ)",
            ));
        }
        Ok(state)
    }

    /// The page token that continues this pass.
    pub fn token(&self) -> ConnectorResult<String> {
        serde_json::to_string(self)
            .map_err(|e| ConnectorError::fatal(format!("cannot encode the page token: {e}")))
    }

    /// `sinceDatetime` for the paging token.
    pub fn since_datetime(&self) -> String {
        match self.window_ms {
            Some(ms) => iso_seconds(from_ms(floor_second_ms(ms))),
            None => PASS_ORIGIN.to_owned(),
        }
    }

    /// Records the window's token; the side feeds come first. A pass
    /// without a cursor skips the merge feed (see the module docs).
    pub fn on_paging_token(&mut self, token: String, server_ms: Option<i64>) {
        self.start_token = Some(token.clone());
        self.server_start_ms = server_ms;
        self.phase = Phase::Merges(token);
        if self.since.is_none() {
            self.side_feed_done(server_ms);
        }
    }

    /// Whether an activity at `date_ms` on `lead` belongs to the window.
    pub fn keep(&self, date_ms: i64, lead: u64) -> bool {
        if self.window_ms.is_some_and(|w| date_ms < w) {
            return false;
        }
        match &self.since {
            Some(since) if date_ms == since.modified_at.as_millisecond() => {
                compare_ids(&lead.to_string(), &since.id).is_gt()
            }
            _ => true,
        }
    }

    /// The activity's date in ms, or a passing error for a garbled one.
    fn date_ms(activity: &Activity) -> ConnectorResult<i64> {
        crate::time::parse(&activity.activity_date)
            .map(|t| t.as_millisecond())
            .ok_or_else(|| ConnectorError::Retryable {
                message: format!(
                    "Marketo sent an unreadable activityDate {:?}",
                    activity.activity_date
                ),
                retry_after: None,
            })
    }

    /// The winners of a merge-feed page and the losers merged into them.
    pub fn merges(&self, activities: &[Activity]) -> ConnectorResult<Winners> {
        let mut winners = Winners::new();
        for a in activities {
            if a.activity_type_id != MERGE_LEADS {
                continue;
            }
            let date = Self::date_ms(a)?;
            if !self.keep(date, a.lead_id) {
                continue;
            }
            let losers = a.attribute("Merge IDs").map(merge_ids).unwrap_or_default();
            let entry = winners
                .entry(a.lead_id)
                .or_insert_with(|| (date, BTreeSet::new()));
            entry.0 = entry.0.max(date);
            entry
                .1
                .extend(losers.into_iter().filter(|l| *l != a.lead_id));
        }
        Ok(winners)
    }

    /// The deleted leads of a page of `deletedleads.json`: id → date.
    pub fn deletions(&self, activities: &[Activity]) -> ConnectorResult<ToRead> {
        let mut out = ToRead::new();
        for a in activities {
            let date = Self::date_ms(a)?;
            if a.activity_type_id != DELETE_LEAD || !self.keep(date, a.lead_id) {
                continue;
            }
            let e = out.entry(a.lead_id).or_insert(date);
            *e = (*e).max(date);
        }
        Ok(out)
    }

    /// The leads a main-feed page names (minus this pass's merge winners),
    /// each at its latest activity; notes the latest date the page reached.
    pub fn changed(&mut self, activities: &[Activity]) -> ConnectorResult<ToRead> {
        let mut out = ToRead::new();
        for a in activities {
            let date = Self::date_ms(a)?;
            self.max_main_ms = Some(self.max_main_ms.map_or(date, |m| m.max(date)));
            if !matches!(a.activity_type_id, NEW_LEAD | CHANGE_DATA_VALUE)
                || !self.keep(date, a.lead_id)
                || self.winners.contains(&a.lead_id)
            {
                continue;
            }
            let e = out.entry(a.lead_id).or_insert(date);
            *e = (*e).max(date);
        }
        Ok(out)
    }

    /// A side feed has been read to its end at Marketo time `server_ms`:
    /// moves to the next feed.
    pub fn side_feed_done(&mut self, server_ms: Option<i64>) {
        let start = self.start_token.clone().unwrap_or_default();
        self.side_done_ms = server_ms.or(self.side_done_ms);
        self.phase = match self.phase {
            Phase::Merges(_) if self.include_archived => Phase::Deleted(start),
            _ => Phase::Main(start),
        };
    }

    /// Notes records delivered (for the final checkpoint).
    pub fn delivered(&mut self, cursors: impl IntoIterator<Item = Cursor>) {
        for c in cursors {
            if self.last.as_ref().is_none_or(|l| &c > l) {
                self.last = Some(c);
            }
        }
    }

    /// Never past the moment the side feeds ended.
    fn capped(&self, c: Cursor) -> Cursor {
        match self.side_done_ms {
            Some(done) => {
                let cap = Cursor::before(from_ms(floor_second_ms(done)));
                c.min(cap)
            }
            None => c,
        }
    }

    /// Raises the best checkpoint to `candidate` when that is later than
    /// both it and `since`.
    fn offer(&mut self, candidate: Cursor) {
        let candidate = self.capped(candidate);
        if self.since.as_ref().is_some_and(|s| &candidate <= s) {
            return;
        }
        if self.best.as_ref().is_none_or(|b| &candidate > b) {
            self.best = Some(candidate);
        }
    }

    /// The checkpoint of a page that has more to come.
    pub fn checkpoint(&mut self) -> Option<Cursor> {
        if matches!(self.phase, Phase::Main(_)) {
            if let Some(ms) = self.max_main_ms {
                self.offer(Cursor::before(from_ms(floor_second_ms(ms))));
            }
        }
        self.best.clone()
    }

    /// The checkpoint of the last page.
    pub fn final_checkpoint(&mut self) -> Option<Cursor> {
        if let Some(last) = self.last.clone() {
            self.offer(last);
        }
        if self.overlap_ms > 0 {
            if let Some(start) = self.server_start_ms {
                let t = floor_second_ms(start.saturating_sub(self.overlap_ms));
                self.offer(Cursor::before(from_ms(t)));
            }
        }
        self.best.clone().or_else(|| self.since.clone())
    }
}

/// A cursor at epoch ms `ms` on lead `id`.
pub(crate) fn cursor(ms: i64, id: u64) -> Cursor {
    Cursor::new(from_ms(ms), id.to_string())
}

/// Marketo's `Date` header in epoch ms.
pub(crate) fn server_ms(date: Option<&str>) -> Option<i64> {
    let z = jiff::fmt::rfc2822::parse(date?).ok()?;
    Some(z.timestamp().as_millisecond())
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::Timestamp;
    use std::time::Duration;

    fn request(since: Option<Cursor>, overlap_s: u64) -> ChangesRequest {
        ChangesRequest {
            object: "leads".into(),
            since,
            overlap: Duration::from_secs(overlap_s),
            fields: vec!["email".into()],
            include_archived: false,
        }
    }

    fn activity(lead: u64, date: &str, type_id: i64) -> Activity {
        Activity {
            lead_id: lead,
            activity_date: date.into(),
            activity_type_id: type_id,
            attributes: Vec::new(),
        }
    }

    fn ms(s: &str) -> i64 {
        s.parse::<Timestamp>().unwrap().as_millisecond()
    }

    #[test]
    fn the_compound_rule_drops_what_the_cursor_covers() {
        let since = cursor(ms("2026-01-01T00:00:10Z"), 50);
        let s = PassState::start(&request(Some(since), 0));
        assert_eq!(s.since_datetime(), "2026-01-01T00:00:10Z");
        assert!(!s.keep(ms("2026-01-01T00:00:10Z"), 50));
        assert!(!s.keep(ms("2026-01-01T00:00:10Z"), 9));
        assert!(s.keep(ms("2026-01-01T00:00:10Z"), 51));
        assert!(s.keep(ms("2026-01-01T00:00:11Z"), 1));
        assert!(!s.keep(ms("2026-01-01T00:00:09Z"), 99));
        let s = PassState::start(&request(Some(cursor(ms("2026-01-01T00:00:10Z"), 50)), 30));
        assert_eq!(s.since_datetime(), "2025-12-31T23:59:40Z");
        assert!(s.keep(ms("2026-01-01T00:00:09Z"), 99), "overlap re-read");
    }

    #[test]
    fn a_page_delivers_each_lead_once_at_its_latest_activity() {
        let mut s = PassState::start(&request(None, 0));
        let page = vec![
            activity(7, "2026-01-01T00:00:01Z", NEW_LEAD),
            activity(3, "2026-01-01T00:00:02+0000", CHANGE_DATA_VALUE),
            activity(7, "2026-01-01T00:00:05Z", CHANGE_DATA_VALUE),
            activity(9, "2026-01-01T00:00:06Z", 1),
        ];
        let read = s.changed(&page).unwrap();
        assert_eq!(read.len(), 2);
        assert_eq!(read[&7], ms("2026-01-01T00:00:05Z"));
        assert_eq!(s.max_main_ms, Some(ms("2026-01-01T00:00:06Z")));
    }

    #[test]
    fn checkpoints_stay_before_the_open_second_and_the_side_feeds_end() {
        let since = cursor(ms("2025-12-31T00:00:00Z"), 1);
        let mut s = PassState::start(&request(Some(since), 0));
        s.on_paging_token("t".into(), Some(ms("2026-01-01T00:10:00Z")));
        assert_eq!(s.phase, Phase::Merges("t".into()));
        s.side_feed_done(Some(ms("2026-01-01T00:10:00.400Z")));
        assert_eq!(s.phase, Phase::Main("t".into()));
        s.changed(&[activity(4, "2026-01-01T00:00:05Z", NEW_LEAD)])
            .unwrap();
        assert_eq!(
            s.checkpoint(),
            Some(Cursor::before(from_ms(ms("2026-01-01T00:00:05Z"))))
        );
        // An activity logged after the side feeds ended caps the checkpoint.
        s.changed(&[activity(5, "2026-01-01T00:10:03Z", NEW_LEAD)])
            .unwrap();
        s.delivered([cursor(ms("2026-01-01T00:10:03Z"), 5)]);
        assert_eq!(
            s.final_checkpoint(),
            Some(Cursor::before(from_ms(ms("2026-01-01T00:10:00Z"))))
        );
    }

    #[test]
    fn the_final_checkpoint_is_the_last_record_or_the_start_minus_overlap() {
        let mut s = PassState::start(&request(None, 0));
        s.on_paging_token("t".into(), Some(ms("2026-01-01T01:00:00Z")));
        assert_eq!(
            s.phase,
            Phase::Main("t".into()),
            "no merge feed without a cursor"
        );
        s.delivered([cursor(ms("2026-01-01T00:00:05Z"), 4)]);
        assert_eq!(
            s.final_checkpoint(),
            Some(cursor(ms("2026-01-01T00:00:05Z"), 4))
        );
        let since = cursor(ms("2026-01-01T00:00:05Z"), 4);
        let mut s = PassState::start(&request(Some(since.clone()), 60));
        s.on_paging_token("t".into(), Some(ms("2026-01-01T01:00:00Z")));
        s.side_feed_done(Some(ms("2026-01-01T01:00:00Z")));
        assert_eq!(
            s.final_checkpoint(),
            Some(Cursor::before(from_ms(ms("2026-01-01T00:59:00Z"))))
        );
        // Never below since.
        let mut s = PassState::start(&request(Some(since.clone()), 0));
        assert_eq!(s.final_checkpoint(), Some(since));
    }

    #[test]
    fn merge_winners_gather_their_losers_and_skip_the_main_feed() {
        let mut s = PassState::start(&request(None, 0));
        let mut merge = activity(10, "2026-01-01T00:00:05Z", MERGE_LEADS);
        merge.attributes.push(crate::wire::Attribute {
            name: "Merge IDs".into(),
            value: serde_json::json!("[11,12]"),
        });
        let w = s.merges(&[merge]).unwrap();
        assert_eq!(w[&10].1, BTreeSet::from([11, 12]));
        s.winners.insert(10);
        let read = s
            .changed(&[activity(10, "2026-01-01T00:00:06Z", CHANGE_DATA_VALUE)])
            .unwrap();
        assert!(read.is_empty());
    }

    #[test]
    fn a_token_is_refused_for_another_pass() {
        let s = PassState::start(&request(None, 0));
        let token = s.token().unwrap();
        assert!(PassState::from_token(&token, &request(None, 0)).is_ok());
        let mut other = request(None, 0);
        other.include_archived = true;
        assert!(PassState::from_token(&token, &other).is_err());
        assert!(PassState::from_token("garbage", &request(None, 0)).is_err());
    }
}
