//! [`SalesforceConnector`]: the core's [`Connector`] over the Salesforce REST API.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};
use leadbridge_core::auth::RefreshTokenSink;
use leadbridge_core::http::{ApiClient, ApiResponse, Classify, UsageSnapshot, Verdict};
use leadbridge_core::{
    Activity, ActivityOutcome, ChangePage, ChangesRequest, Connector, ConnectorError,
    ConnectorResult, Cursor, FieldSchema, Limits, ObjectSchema, PageToken, Record, Successor,
    SuccessorReason, ToolUser, ValueType, WriteBatch, WriteOutcome,
};
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use reqwest::StatusCode;
use serde::Deserialize;
use serde_json::{json, Map, Value};

use crate::classify::{SalesforceClassify, SfError};
use crate::config::SalesforceConfig;
use crate::soql;

mod activities;
mod duplicates;
mod replaced;
mod transient;
mod write;

/// The most records one query batch returns (Salesforce's default and maximum).
pub const QUERY_BATCH: usize = 2000;
/// The most records one sObject Collections call takes.
pub const COLLECTION_MAX: usize = 200;
/// The most key values one look-up query carries. SOQL allows ~100,000
/// characters, but the query travels in a GET URL and Salesforce caps URIs
/// at 16,384 bytes, so the URL length (see [`LOOKUP_MAX_URL_CHARS`]) is the
/// real bound; this count only keeps each query modest.
pub const LOOKUP_MAX_VALUES: usize = 200;
/// The most percent-encoded characters of `IN (...)` values per look-up
/// query, leaving room for the rest of the URL under the 16 KiB URI limit.
pub const LOOKUP_MAX_URL_CHARS: usize = 12_000;
/// The most sObject Collections and query subrequests, together, that one
/// Composite call (`POST /composite`) takes. Composite takes 25
/// subrequests, but "up to 5 of these subrequests can be sObject
/// Collections or query operations" (Salesforce's REST guide, "Send
/// Multiple Requests Using Composite"; collections are allowed there from
/// API 43.0), so five is what bounds a batched call.
pub const COMPOSITE_MAX_HEAVY: usize = 5;

/// What one object's describe told us, cached for the connector's lifetime
/// (a write needs to know whether its key is an External ID field).
struct Described {
    schema: ObjectSchema,
    /// External ID fields, lower-cased (Salesforce field names are case-insensitive).
    external_ids: HashSet<String>,
}

/// The Salesforce connector: one org, one API client, no sync state of its
/// own (the engine owns cursors).
pub struct SalesforceConnector {
    config: SalesforceConfig,
    client: ApiClient,
    described: Mutex<HashMap<String, Arc<Described>>>,
}

impl SalesforceConnector {
    /// A connector for `config`; `sink` receives refresh tokens the org
    /// rotates (connected apps with refresh-token rotation), so the engine
    /// can persist them before the old one stops working.
    pub fn new(
        config: SalesforceConfig,
        sink: Option<Arc<dyn RefreshTokenSink>>,
    ) -> ConnectorResult<Self> {
        url::Url::parse(&config.instance_url).map_err(|e| {
            ConnectorError::fatal(format!(
                "invalid Salesforce instance_url {}: {e}",
                config.instance_url
            ))
        })?;
        let tokens = config.auth.token_source(&config.token_defaults(), sink)?;
        let client = ApiClient::new(
            &config.http,
            tokens,
            Arc::new(SalesforceClassify),
            // The org's API limit is a rolling 24 h window; a UTC day is
            // the closest fixed day for our own configured cap.
            TimeZone::UTC,
        )?;
        Ok(Self {
            config,
            client,
            described: Mutex::new(HashMap::new()),
        })
    }

    /// The settings it runs with.
    pub fn config(&self) -> &SalesforceConfig {
        &self.config
    }

    /// Runs one SOQL GET (first page, or a `nextRecordsUrl` continuation).
    async fn query_page(&self, endpoint: &str, url: String) -> ConnectorResult<QueryResponse> {
        self.client
            .execute(
                endpoint,
                None,
                |http| http.get(&url),
                |response| {
                    let mut page = response.json::<QueryResponse>()?;
                    page.server_time = response
                        .header("date")
                        .and_then(|d| jiff::fmt::rfc2822::parse(d).ok())
                        .map(|z| z.timestamp());
                    Ok(page)
                },
            )
            .await
    }

    /// The first page of `soql` through `/query` or `/queryAll`.
    async fn query(&self, soql: &str, all: bool) -> ConnectorResult<QueryResponse> {
        let resource = if all { "queryAll" } else { "query" };
        let mut url = url::Url::parse(&format!("{}/{resource}", self.config.data_url()))
            .map_err(|e| ConnectorError::fatal(format!("bad query URL: {e}")))?;
        url.query_pairs_mut().append_pair("q", soql);
        self.query_page(resource, url.to_string()).await
    }

    /// The next page of a query, from its `nextRecordsUrl`.
    async fn query_more(&self, next: &str) -> ConnectorResult<QueryResponse> {
        if !next.starts_with("/services/data/") {
            return Err(ConnectorError::fatal(
                "page token is not a Salesforce nextRecordsUrl",
            ));
        }
        self.query_page(
            "query more",
            format!("{}{}", self.config.instance_url, next),
        )
        .await
    }

    /// The object's describe, fetched once and cached.
    async fn described(&self, object: &str) -> ConnectorResult<Arc<Described>> {
        check_name(object)?;
        if let Some(d) = self.lock_described().get(object) {
            return Ok(d.clone());
        }
        let url = format!("{}/sobjects/{object}/describe", self.config.data_url());
        let raw: RawDescribe = self
            .client
            .execute(
                "describe",
                None,
                |http| http.get(&url),
                |r: ApiResponse| r.json::<RawDescribe>(),
            )
            .await?;
        let described = Arc::new(raw.into_described(object));
        self.lock_described()
            .insert(object.to_owned(), described.clone());
        Ok(described)
    }

    fn lock_described(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<Described>>> {
        self.described.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Sends `subrequests` (at most [`COMPOSITE_MAX_HEAVY`]: they are
    /// collections or queries) as one Composite call (another only for
    /// those that fail passingly, below) and returns each one's answer, in
    /// order.
    ///
    /// Each subrequest is classified as its status would be on a direct
    /// call ([`SalesforceClassify`] on its `httpStatusCode`, headers and
    /// body):
    ///
    /// - 2xx: [`SubAnswer::Done`] with the resource's body;
    /// - refused (`Rejected`): [`SubAnswer::Refused`]; the caller decides
    ///   what that means for its records or keys;
    /// - passing (`Retry`: 5xx, 408, 429, the concurrent-request limit):
    ///   only the subrequests that failed so are sent again, in a new
    ///   Composite call, so a create that succeeded beside them is never
    ///   repeated. When every pending subrequest failed passingly, nothing
    ///   was applied and the whole call is retried by the HTTP layer, with
    ///   its backoff and budget;
    /// - `Unauthorized`, `QuotaExhausted`, `Fatal`: the call fails with that
    ///   error, as a direct call would (a 401 inside a composite cannot be
    ///   cured by refreshing: the composite itself was authorized).
    ///
    /// A composite refused as a whole (HTTP 200 whose single entry has no
    /// `referenceId`, or a plain error array) fails the call the same way.
    async fn composite(&self, subrequests: &[Subrequest]) -> ConnectorResult<Vec<SubAnswer>> {
        let url = format!("{}/composite", self.config.data_url());
        let mut answers: Vec<Option<SubAnswer>> = subrequests.iter().map(|_| None).collect();
        let mut pending: Vec<usize> = (0..subrequests.len()).collect();
        while !pending.is_empty() {
            let body = json!({
                // Every subrequest stands on its own, as separate calls did.
                "allOrNone": false,
                // In the order sent: upserts, then updates, then creates.
                "collateSubrequests": false,
                "compositeRequest": pending
                    .iter()
                    .map(|&i| subrequests[i].to_json(&reference_id(i)))
                    .collect::<Vec<_>>(),
            });
            let round = self
                .client
                .execute(
                    "composite",
                    None,
                    |http| http.post(&url).json(&body),
                    |r| read_composite(&r, &pending),
                )
                .await?;
            let mut again = Vec::new();
            for (&i, answer) in pending.iter().zip(round) {
                match answer {
                    Some(a) => answers[i] = Some(a),
                    None => again.push(i),
                }
            }
            pending = again;
        }
        answers
            .into_iter()
            .map(|a| a.ok_or_else(|| ConnectorError::fatal("a Composite subrequest got no answer")))
            .collect()
    }
}

/// The `referenceId` of the `i`-th subrequest of a call (letters and digits only).
fn reference_id(i: usize) -> String {
    format!("sub{i}")
}

/// One subrequest of a Composite call.
struct Subrequest {
    /// `GET`, `POST` or `PATCH`.
    method: &'static str,
    /// The resource from `/services/data/vXX.X/` on, with its query string.
    url: String,
    /// The JSON body, if any.
    body: Option<Value>,
    /// Request headers of the subrequest (`httpHeaders`), such as
    /// `Sforce-Duplicate-Rule-Header`.
    headers: Vec<(&'static str, String)>,
}

impl Subrequest {
    fn to_json(&self, reference_id: &str) -> Value {
        let mut r = json!({ "method": self.method, "url": self.url, "referenceId": reference_id });
        if let Some(m) = r.as_object_mut() {
            if let Some(body) = &self.body {
                m.insert("body".into(), body.clone());
            }
            if !self.headers.is_empty() {
                let headers: Map<String, Value> = self
                    .headers
                    .iter()
                    .map(|(k, v)| ((*k).to_owned(), Value::String(v.clone())))
                    .collect();
                m.insert("httpHeaders".into(), Value::Object(headers));
            }
        }
        r
    }
}

/// What one subrequest of a Composite call answered, once classified.
enum SubAnswer {
    /// 2xx: the resource's own answer body.
    Done(Value),
    /// Refused as a whole (a 4xx the classifier calls `Rejected`), with
    /// the classifier's message and code and the body's errors.
    Refused {
        message: String,
        code: Option<String>,
        errors: Vec<SfError>,
        /// The body as sent (a duplicate rule's `duplicateResut` lives there).
        body: Value,
    },
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct CompositeResponse {
    composite_response: Vec<CompositeEntry>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct CompositeEntry {
    #[serde(default)]
    body: Value,
    #[serde(default)]
    http_headers: HashMap<String, Value>,
    http_status_code: u16,
    #[serde(default)]
    reference_id: Option<String>,
}

impl CompositeEntry {
    /// What this answer would mean had the subrequest been a direct call.
    fn verdict(&self) -> Verdict {
        let Ok(status) = StatusCode::from_u16(self.http_status_code) else {
            return Verdict::Fatal {
                message: format!("Composite answered status {}", self.http_status_code),
            };
        };
        let mut headers = HeaderMap::new();
        for (k, v) in &self.http_headers {
            if let (Ok(name), Some(Ok(value))) = (
                HeaderName::from_bytes(k.as_bytes()),
                v.as_str().map(HeaderValue::from_str),
            ) {
                headers.insert(name, value);
            }
        }
        SalesforceClassify.classify(&ApiResponse {
            status,
            headers,
            body: serde_json::to_vec(&self.body).unwrap_or_default(),
        })
    }
}

/// The error a whole call fails with for a verdict.
fn verdict_error(verdict: Verdict) -> ConnectorError {
    match verdict {
        Verdict::Ok => ConnectorError::fatal("Composite refused the request without an error"),
        Verdict::Retry {
            message,
            retry_after,
        } => ConnectorError::Retryable {
            message,
            retry_after,
        },
        Verdict::Unauthorized { message } => ConnectorError::Unauthorized { message },
        Verdict::QuotaExhausted { message, resets_at } => {
            ConnectorError::QuotaExhausted { message, resets_at }
        }
        Verdict::Rejected { message, code } => ConnectorError::Rejected { message, code },
        Verdict::Fatal { message } => ConnectorError::Fatal { message },
    }
}

/// Reads a Composite answer for the subrequests `pending` (indices, whose
/// `referenceId`s were sent): `Some` answer for each one settled, `None`
/// for each that failed passingly and should be sent again. See
/// [`SalesforceConnector::composite`] for what each status means.
fn read_composite(
    response: &ApiResponse,
    pending: &[usize],
) -> ConnectorResult<Vec<Option<SubAnswer>>> {
    let parsed: CompositeResponse = response.json()?;
    // Refused as a whole (too many subrequests, a malformed one): one
    // entry with no referenceId.
    if let Some(whole) = parsed
        .composite_response
        .iter()
        .find(|e| e.reference_id.is_none() && !(200..300).contains(&e.http_status_code))
    {
        return Err(verdict_error(whole.verdict()));
    }
    let by_ref: HashMap<&str, &CompositeEntry> = parsed
        .composite_response
        .iter()
        .filter_map(|e| e.reference_id.as_deref().map(|r| (r, e)))
        .collect();
    let mut out = Vec::with_capacity(pending.len());
    let mut settled_any = false;
    let mut passing = None;
    for &i in pending {
        let reference = reference_id(i);
        let entry = by_ref.get(reference.as_str()).ok_or_else(|| {
            ConnectorError::fatal(format!(
                "Composite answered nothing for subrequest {reference}"
            ))
        })?;
        match entry.verdict() {
            Verdict::Ok => {
                settled_any = true;
                out.push(Some(SubAnswer::Done(entry.body.clone())));
            }
            Verdict::Rejected { message, code } => {
                settled_any = true;
                let errors = serde_json::from_value(entry.body.clone()).unwrap_or_default();
                out.push(Some(SubAnswer::Refused {
                    message,
                    code,
                    errors,
                    body: entry.body.clone(),
                }));
            }
            Verdict::Retry {
                message,
                retry_after,
            } => {
                passing.get_or_insert((message, retry_after));
                out.push(None);
            }
            other => return Err(verdict_error(other)),
        }
    }
    match passing {
        // Nothing was applied: the HTTP layer retries the whole call.
        Some((message, retry_after)) if !settled_any => Err(ConnectorError::Retryable {
            message,
            retry_after,
        }),
        _ => Ok(out),
    }
}

/// Object and field names are spliced into SOQL and URLs, so they must be
/// plain API names (letters, digits, underscores; dots for relationship
/// paths in a select list), never text that could change the query.
fn check_name(name: &str) -> ConnectorResult<()> {
    let ok = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.')
        && !name.starts_with('.');
    if ok {
        Ok(())
    } else {
        Err(ConnectorError::fatal(format!(
            "{name:?} is not a Salesforce API name"
        )))
    }
}

/// `fields` plus the ones the connector itself needs, each once
/// (Salesforce rejects a duplicated field in a select list).
fn select_list(fields: &[String], extra: &[&str]) -> ConnectorResult<String> {
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for f in extra
        .iter()
        .copied()
        .chain(fields.iter().map(String::as_str))
    {
        check_name(f)?;
        if seen.insert(f.to_ascii_lowercase()) {
            out.push(f.to_owned());
        }
    }
    Ok(out.join(", "))
}

/// The `WHERE` clause of a change pass.
///
/// Without overlap it is the compound cursor: everything strictly after
/// `(SystemModstamp, Id)` in the query's own order,
/// `SystemModstamp > t OR (SystemModstamp = t AND Id > 'id')`.
///
/// With an overlap the pass restarts at `t - overlap`, and the cursor's id
/// no longer orders anything there: it ranks records *at `t`*, not at
/// `t - overlap`, so every record stamped in `[t - overlap, t)` is read
/// again. That re-read is the point: `SystemModstamp` is stamped when a
/// transaction starts, so a record can commit (become visible) after
/// records stamped later than it were read and the cursor moved past it;
/// it then sits just before the cursor, inside the window. Records re-read
/// this way were usually delivered already; the engine drops them.
///
/// At the cursor's own instant `t` the compound rule still applies
/// (`SystemModstamp != t OR Id > 'id'`): the records of that instant up
/// to the cursor's id were delivered from one snapshot of the query, and
/// re-sending a whole tie (a bulk import can stamp thousands of records
/// with one millisecond) on every pass would cost pages for nothing.
///
/// ```text
/// SystemModstamp >= t - overlap AND (SystemModstamp != t OR Id > 'id')
/// ```
pub fn changes_filter(request: &ChangesRequest) -> ConnectorResult<Option<String>> {
    let Some(since) = &request.since else {
        return Ok(None);
    };
    let t = soql::datetime_literal(since.modified_at);
    let id = soql::quote(&since.id);
    if request.overlap.is_zero() {
        return Ok(Some(format!(
            "SystemModstamp > {t} OR (SystemModstamp = {t} AND Id > {id})"
        )));
    }
    let overlap = SignedDuration::try_from(request.overlap)
        .map_err(|e| ConnectorError::fatal(format!("overlap out of range: {e}")))?;
    let start = since
        .modified_at
        .checked_sub(overlap)
        .unwrap_or(Timestamp::MIN);
    Ok(Some(format!(
        "SystemModstamp >= {} AND (SystemModstamp != {t} OR Id > {id})",
        soql::datetime_literal(start)
    )))
}

/// The fields the connector reads on every record of `object`, beside
/// those asked for: the cursor (`Id`, `SystemModstamp`); on a Lead whether
/// and into which contact it was converted (R2.1); with deleted records,
/// `IsDeleted`, and `MasterRecordId` on objects whose records merge (R2.3).
fn own_fields(object: &str, include_archived: bool) -> Vec<&'static str> {
    let mut extra = vec!["Id", "SystemModstamp"];
    if object.eq_ignore_ascii_case("Lead") {
        extra.extend(["IsConverted", "ConvertedContactId"]);
    }
    if include_archived {
        extra.push("IsDeleted");
        if replaced::mergeable(object) {
            extra.push("MasterRecordId");
        }
    }
    extra
}

/// The SOQL of a change pass: the fields asked for plus the connector's
/// own ([`own_fields`]), in cursor order.
pub fn changes_soql(request: &ChangesRequest) -> ConnectorResult<String> {
    check_name(&request.object)?;
    let extra = own_fields(&request.object, request.include_archived);
    let mut q = format!(
        "SELECT {} FROM {}",
        select_list(&request.fields, &extra)?,
        request.object
    );
    if let Some(filter) = changes_filter(request)? {
        q.push_str(" WHERE ");
        q.push_str(&filter);
    }
    q.push_str(" ORDER BY SystemModstamp ASC, Id ASC");
    Ok(q)
}

/// Splits look-up values into `IN (...)` lists that each fit one query URL.
pub fn lookup_chunks(values: &[String]) -> Vec<Vec<String>> {
    let mut chunks: Vec<Vec<String>> = Vec::new();
    let mut current: Vec<String> = Vec::new();
    let mut size = 0;
    for v in values {
        let literal = soql::quote(v);
        let encoded: usize = url::form_urlencoded::byte_serialize(literal.as_bytes())
            .map(str::len)
            .sum::<usize>()
            + 3;
        if !current.is_empty()
            && (current.len() >= LOOKUP_MAX_VALUES || size + encoded > LOOKUP_MAX_URL_CHARS)
        {
            chunks.push(std::mem::take(&mut current));
            size = 0;
        }
        size += encoded;
        current.push(literal);
    }
    if !current.is_empty() {
        chunks.push(current);
    }
    chunks
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct QueryResponse {
    #[allow(dead_code)]
    #[serde(default)]
    total_size: u64,
    done: bool,
    #[serde(default)]
    next_records_url: Option<String>,
    #[serde(default)]
    records: Vec<Map<String, Value>>,
    /// The server's clock when it answered (its `Date` header), not from the body.
    #[serde(skip)]
    server_time: Option<jiff::Timestamp>,
}

/// The last checkpoint of a pass: its last record, or — when the pass saw
/// nothing recent — the server's time at the pass's start less the overlap,
/// whichever is later. The overlap is the caller's bound on how late a
/// change becomes visible, so every change older than that was delivered;
/// without this a quiet org would re-read its last overlap window of
/// changes on every pass forever.
fn final_checkpoint(
    last: Option<Cursor>,
    pass_started: Option<jiff::Timestamp>,
    overlap: std::time::Duration,
) -> Option<Cursor> {
    if overlap.is_zero() {
        return last;
    }
    let floor = pass_started
        .and_then(|t| {
            jiff::SignedDuration::try_from(overlap)
                .ok()
                .and_then(|o| t.checked_sub(o).ok())
        })
        .map(Cursor::before);
    match (last, floor) {
        (Some(l), Some(f)) => Some(l.max(f)),
        (l, f) => l.or(f),
    }
}

/// A checkpoint no later than the last second that was over when the pass
/// began. Salesforce stamps `SystemModstamp` in whole seconds, so a
/// second still running when the query ran can gain records afterwards,
/// and an update of an older record gets a *smaller* id than the cursor's:
/// the compound rule (`Id > cursor id` at the cursor's second) would skip
/// it for good. So records of the server's current second (its `Date`
/// header, itself whole seconds, less one more second for a query that
/// began in the second before its answer) are delivered but not
/// committed past: the next pass reads that second again, once it is
/// over, and at most two seconds of records are read twice. Without a
/// `Date` the checkpoint stands as it is.
fn settled(checkpoint: Option<Cursor>, pass_started: Option<jiff::Timestamp>) -> Option<Cursor> {
    let open = pass_started.and_then(|t| t.checked_sub(jiff::SignedDuration::from_secs(1)).ok());
    match (checkpoint, open) {
        (Some(c), Some(open)) if c.modified_at >= open => Some(c.min(Cursor::before(open))),
        (c, _) => c,
    }
}

/// Reads a field by name the way Salesforce matches names: ignoring case.
fn get_ci<'a>(rec: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    rec.get(name).or_else(|| {
        rec.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    })
}

/// Turns one query record of `object` into a [`Record`], keeping the
/// requested fields under the names the caller asked for. A converted
/// lead names its contact as successor (R2.1); a deleted record with a
/// `MasterRecordId` was merged away and names the winner (R2.3).
fn decode_record(
    object: &str,
    rec: &Map<String, Value>,
    fields: &[String],
) -> ConnectorResult<Record> {
    let id =
        get_ci(rec, "Id")
            .and_then(Value::as_str)
            .ok_or_else(|| ConnectorError::Retryable {
                message: "query record without Id".into(),
                retry_after: None,
            })?;
    let modified_at = get_ci(rec, "SystemModstamp")
        .and_then(Value::as_str)
        .and_then(soql::parse_timestamp)
        .ok_or_else(|| ConnectorError::Retryable {
            message: format!("query record {id} without a readable SystemModstamp"),
            retry_after: None,
        })?;
    let mut record = Record::new(id, modified_at);
    record.archived = get_ci(rec, "IsDeleted")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let id_of = |field: &str| {
        get_ci(rec, field)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    };
    if get_ci(rec, "IsConverted").and_then(Value::as_bool) == Some(true) {
        if let Some(contact) = id_of("ConvertedContactId") {
            record.successor = Some(Successor {
                object: "Contact".into(),
                id: contact,
                reason: SuccessorReason::Converted,
            });
        }
    }
    if record.archived {
        if let Some(master) = id_of("MasterRecordId") {
            record.successor = Some(Successor {
                object: object.to_owned(),
                id: master,
                reason: SuccessorReason::Merged,
            });
        }
    }
    for f in fields {
        if let Some(v) = get_ci(rec, f) {
            record.fields.insert(f.clone(), v.clone());
        }
    }
    Ok(record)
}

#[derive(Debug, Deserialize)]
struct CollectionResult {
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    success: bool,
    #[serde(default)]
    errors: Vec<SfError>,
    #[serde(default)]
    created: Option<bool>,
}

impl CollectionResult {
    fn outcome(self, upsert: bool, create: bool) -> WriteOutcome {
        match (self.success, self.id) {
            (true, Some(id)) => {
                let created = if upsert {
                    self.created.unwrap_or(false)
                } else {
                    create
                };
                if created {
                    WriteOutcome::Created { id }
                } else {
                    WriteOutcome::Updated { id }
                }
            }
            _ => {
                let message = if self.errors.is_empty() {
                    "Salesforce refused the record without a reason".to_owned()
                } else {
                    self.errors
                        .iter()
                        .map(|e| e.message.as_str())
                        .collect::<Vec<_>>()
                        .join("; ")
                };
                let code = self.errors.iter().find_map(|e| e.error_code.clone());
                let mut fields: Vec<String> = Vec::new();
                for f in self.errors.iter().flat_map(|e| e.fields.iter()) {
                    if !fields.contains(f) {
                        fields.push(f.clone());
                    }
                }
                WriteOutcome::Rejected {
                    message,
                    code,
                    fields,
                }
            }
        }
    }
}

#[derive(Debug, Deserialize)]
struct RawDescribe {
    #[serde(default)]
    fields: Vec<RawField>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawField {
    name: String,
    #[serde(rename = "type", default)]
    kind: String,
    #[serde(default)]
    nillable: bool,
    #[serde(default)]
    createable: bool,
    #[serde(default)]
    updateable: bool,
    #[serde(default)]
    defaulted_on_create: bool,
    #[serde(default)]
    external_id: bool,
    #[serde(default)]
    unique: bool,
    #[serde(default)]
    length: u32,
    #[serde(default)]
    picklist_values: Vec<RawPicklistValue>,
}

/// Describe's `type` in the engine's terms.
fn value_type(kind: &str) -> ValueType {
    match kind {
        "picklist" => ValueType::Enumeration,
        "multipicklist" => ValueType::MultiEnumeration,
        "double" | "currency" | "percent" | "int" | "long" => ValueType::Number,
        "boolean" => ValueType::Bool,
        "date" => ValueType::Date,
        "datetime" => ValueType::DateTime,
        "reference" | "id" => ValueType::Reference,
        "string" | "textarea" | "email" | "phone" | "url" | "combobox" | "encryptedstring" => {
            ValueType::Text
        }
        _ => ValueType::Other,
    }
}

#[derive(Debug, Deserialize)]
struct RawPicklistValue {
    value: String,
    #[serde(default = "yes")]
    active: bool,
}

fn yes() -> bool {
    true
}

impl RawDescribe {
    fn into_described(self, object: &str) -> Described {
        let mut external_ids = HashSet::new();
        let fields = self
            .fields
            .into_iter()
            .map(|f| {
                if f.external_id {
                    external_ids.insert(f.name.to_ascii_lowercase());
                }
                FieldSchema {
                    // Required on create: Salesforce refuses a create without
                    // it, and fills no default (booleans are non-nillable but defaulted).
                    required: !f.nillable && f.createable && !f.defaulted_on_create,
                    createable: f.createable,
                    updateable: f.updateable,
                    options: f
                        .picklist_values
                        .into_iter()
                        .filter(|p| p.active)
                        .map(|p| p.value)
                        .collect(),
                    unique: f.external_id || f.unique,
                    value_type: value_type(&f.kind),
                    // Text-like types say how many characters they hold;
                    // numbers' `length` is 0 (their size is `precision`).
                    length: (f.length > 0 && value_type(&f.kind) != ValueType::Number)
                        .then_some(f.length),
                    external_id: f.external_id,
                    kind: f.kind,
                    name: f.name,
                }
            })
            .collect();
        Described {
            schema: ObjectSchema {
                object: object.to_owned(),
                fields,
            },
            external_ids,
        }
    }
}

#[async_trait]
impl Connector for SalesforceConnector {
    fn kind(&self) -> &'static str {
        "salesforce"
    }

    /// Query batches of 2000; writes of 1,000 records (five collections of
    /// 200 in one Composite call, one API call) and look-ups of 1,000 keys
    /// (five queries in one Composite call), so the engine hands over that
    /// many at once: a 100,000-contact backfill makes 25 Salesforce calls
    /// instead of 105. (With links stored one entry each, the engine's
    /// memory per record in flight kept this at 200; since links are packed
    /// into buckets the backfill peaks at 41 MiB at 1,000.) The rate is the
    /// configured client-side limit (unlimited shows as infinity).
    fn limits(&self) -> Limits {
        Limits {
            page_size: QUERY_BATCH,
            batch_size: COLLECTION_MAX * COMPOSITE_MAX_HEAVY,
            lookup_batch_size: LOOKUP_MAX_VALUES * COMPOSITE_MAX_HEAVY,
            requests_per_second: self
                .config
                .http
                .rate_limit
                .map(|l| l.per_second())
                .unwrap_or(f64::INFINITY),
            daily_cap: self.config.http.daily_cap,
            default_overlap: self.config.overlap,
        }
    }

    async fn describe(&self, object: &str) -> ConnectorResult<ObjectSchema> {
        Ok(self.described(object).await?.schema.clone())
    }

    /// One query batch of the pass. The first call runs the SOQL of
    /// `changes_soql` (through `queryAll` when deleted records are wanted,
    /// so live and deleted records come in one `(SystemModstamp, Id)` order
    /// and one checkpoint covers both); later calls follow `nextRecordsUrl`,
    /// which reads the server's snapshot of the result, so a record changed
    /// mid-pass is neither skipped nor returned twice in the pass (its new
    /// version comes in the next pass).
    ///
    /// Each page's checkpoint is its last record: the query's order is the
    /// cursor's total order, so everything at or before it has been
    /// delivered once this page and the earlier ones are applied. It never
    /// goes past a second that was still running when the pass began
    /// (`settled`): stamps are whole seconds, and that second can still
    /// gain records.
    async fn changes(
        &self,
        request: &ChangesRequest,
        page: Option<&PageToken>,
    ) -> ConnectorResult<ChangePage> {
        // The token carries the server's time at the pass's first page
        // (`<epoch ms> <nextRecordsUrl>`), for the last page's checkpoint.
        let (response, pass_started) = match page {
            Some(token) => {
                let (started, next) = token
                    .0
                    .split_once(' ')
                    .ok_or_else(|| ConnectorError::fatal("malformed Salesforce page token"))?;
                let started = started
                    .parse::<i64>()
                    .ok()
                    .and_then(|ms| jiff::Timestamp::from_millisecond(ms).ok());
                (self.query_more(next).await?, started)
            }
            None => {
                let soql = changes_soql(request)?;
                let response = self.query(&soql, request.include_archived).await?;
                let started = response.server_time;
                (response, started)
            }
        };
        let records = response
            .records
            .iter()
            .map(|r| decode_record(&request.object, r, &request.fields))
            .collect::<ConnectorResult<Vec<_>>>()?;
        let mut checkpoint = records.last().map(Record::cursor);
        if response.done {
            checkpoint = final_checkpoint(checkpoint, pass_started, request.overlap);
        }
        checkpoint = settled(checkpoint, pass_started);
        let next = if response.done {
            None
        } else {
            let started = pass_started.map(|t| t.as_millisecond()).unwrap_or(i64::MIN);
            response
                .next_records_url
                .map(|url| PageToken(format!("{started} {url}")))
        };
        Ok(ChangePage {
            records,
            checkpoint,
            next,
        })
    }

    /// `SELECT … WHERE key IN (…)` in chunks that fit a query URL
    /// (`lookup_chunks`). One chunk is one plain query; more go five to a
    /// Composite call (one API call for up to five queries of `LOOKUP_MAX_VALUES` keys). A
    /// result of more than one batch is followed through `nextRecordsUrl`.
    /// A query refused as a whole fails the look-up, as a direct query does.
    async fn lookup(
        &self,
        object: &str,
        key_field: &str,
        values: &[String],
        fields: &[String],
    ) -> ConnectorResult<Vec<Record>> {
        check_name(object)?;
        check_name(key_field)?;
        let mut extra = own_fields(object, false);
        extra.push(key_field);
        let select = select_list(fields, &extra)?;
        let mut wanted: Vec<String> = fields.to_vec();
        if !wanted.iter().any(|f| f.eq_ignore_ascii_case(key_field)) {
            wanted.push(key_field.to_owned());
        }
        let queries: Vec<String> = lookup_chunks(values)
            .into_iter()
            .map(|chunk| {
                format!(
                    "SELECT {select} FROM {object} WHERE {key_field} IN ({})",
                    chunk.join(", ")
                )
            })
            .collect();
        let mut first_batches = Vec::with_capacity(queries.len());
        if let [only] = queries.as_slice() {
            first_batches.push(self.query(only, false).await?);
        } else {
            let data = self.config.data_path();
            for group in queries.chunks(COMPOSITE_MAX_HEAVY) {
                let subrequests: Vec<Subrequest> = group
                    .iter()
                    .map(|soql| Subrequest {
                        method: "GET",
                        url: format!(
                            "{data}/query?{}",
                            url::form_urlencoded::Serializer::new(String::new())
                                .append_pair("q", soql)
                                .finish()
                        ),
                        body: None,
                        headers: Vec::new(),
                    })
                    .collect();
                for answer in self.composite(&subrequests).await? {
                    match answer {
                        SubAnswer::Done(body) => first_batches.push(
                            serde_json::from_value::<QueryResponse>(body).map_err(|e| {
                                ConnectorError::fatal(format!(
                                    "Query answered an unexpected body: {e}"
                                ))
                            })?,
                        ),
                        SubAnswer::Refused { message, code, .. } => {
                            return Err(ConnectorError::Rejected { message, code })
                        }
                    }
                }
            }
        }
        let mut out = Vec::new();
        for mut response in first_batches {
            loop {
                for r in &response.records {
                    out.push(decode_record(object, r, &wanted)?);
                }
                match (response.done, response.next_records_url.take()) {
                    (false, Some(next)) => response = self.query_more(&next).await?,
                    _ => break,
                }
            }
        }
        Ok(out)
    }

    /// sObject Collections of 200 inside Composite calls (five to a call):
    /// upserts by an External ID key, updates by id, creates by a plain
    /// key. Then transient per-record failures are sent again in smaller
    /// collections, alert-only duplicates become updates of the matched
    /// record, and writes that hit a converted, merged or deleted record
    /// answer `Superseded` or `Deleted` (details in `connector/write.rs`
    /// and the modules beside it).
    async fn write(&self, batch: &WriteBatch) -> ConnectorResult<Vec<WriteOutcome>> {
        self.write_batch(batch).await
    }

    /// One Task (`POST /sobjects/Task`), linked by `WhoId` to a Lead or
    /// Contact, else by `WhatId`; a task for a converted lead is created on
    /// its contact, about the opportunity or account.
    async fn create_activity(&self, activity: &Activity) -> ConnectorResult<String> {
        self.create_task(activity).await
    }

    /// Tasks as sObject Collections of 200 (several five to a Composite
    /// call), one outcome per activity; passing refusals are sent again
    /// in smaller collections, and tasks for converted leads go to the
    /// contact.
    async fn create_activities(
        &self,
        activities: &[Activity],
    ) -> ConnectorResult<Vec<ActivityOutcome>> {
        if activities.is_empty() {
            return Ok(Vec::new());
        }
        self.create_tasks(activities).await
    }

    /// The org's users, active or not, from one query
    /// (`SELECT Id, Name, Email, IsActive FROM User`), followed through
    /// `nextRecordsUrl` past 2,000 users.
    async fn users(&self) -> ConnectorResult<Option<Vec<ToolUser>>> {
        let mut response = self
            .query(
                "SELECT Id, Name, Email, IsActive FROM User ORDER BY Id",
                false,
            )
            .await?;
        let mut users = Vec::new();
        loop {
            for r in &response.records {
                let text = |f: &str| get_ci(r, f).and_then(Value::as_str).map(str::to_owned);
                let Some(id) = text("Id") else { continue };
                users.push(ToolUser {
                    name: text("Name").unwrap_or_else(|| id.clone()),
                    email: text("Email"),
                    active: get_ci(r, "IsActive")
                        .and_then(Value::as_bool)
                        .unwrap_or(false),
                    id,
                });
            }
            match (response.done, response.next_records_url.take()) {
                (false, Some(next)) => response = self.query_more(&next).await?,
                _ => break,
            }
        }
        Ok(Some(users))
    }

    fn usage(&self) -> UsageSnapshot {
        self.client.usage()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use leadbridge_core::Cursor;
    use std::time::Duration;

    fn request(since: Option<Cursor>, overlap: Duration) -> ChangesRequest {
        ChangesRequest {
            object: "Lead".into(),
            since,
            overlap,
            fields: vec!["Email".into(), "id".into()],
            include_archived: false,
        }
    }

    #[test]
    fn the_compound_cursor_applies_only_without_overlap() {
        let t: Timestamp = "2026-01-01T10:00:00.250Z".parse().unwrap();
        let since = Cursor::new(t, "00QDn0000000001AAA");
        assert_eq!(
            changes_soql(&request(Some(since.clone()), Duration::ZERO)).unwrap(),
            "SELECT Id, SystemModstamp, IsConverted, ConvertedContactId, Email FROM Lead WHERE SystemModstamp > 2026-01-01T10:00:00.250Z \
             OR (SystemModstamp = 2026-01-01T10:00:00.250Z AND Id > '00QDn0000000001AAA') \
             ORDER BY SystemModstamp ASC, Id ASC"
        );
        assert_eq!(
            changes_soql(&request(Some(since), Duration::from_secs(60))).unwrap(),
            "SELECT Id, SystemModstamp, IsConverted, ConvertedContactId, Email FROM Lead WHERE SystemModstamp >= 2026-01-01T09:59:00.250Z \
             AND (SystemModstamp != 2026-01-01T10:00:00.250Z OR Id > '00QDn0000000001AAA') \
             ORDER BY SystemModstamp ASC, Id ASC"
        );
        assert_eq!(
            changes_soql(&request(None, Duration::ZERO)).unwrap(),
            "SELECT Id, SystemModstamp, IsConverted, ConvertedContactId, Email FROM Lead ORDER BY SystemModstamp ASC, Id ASC"
        );
    }

    #[test]
    fn names_that_could_change_a_query_are_refused() {
        let mut r = request(None, Duration::ZERO);
        r.object = "Lead WHERE Id != null".into();
        assert!(matches!(
            changes_soql(&r),
            Err(ConnectorError::Fatal { .. })
        ));
    }

    #[test]
    fn lookups_split_by_count_and_url_length() {
        let values: Vec<String> = (0..450).map(|i| format!("p{i}@example.com")).collect();
        let chunks = lookup_chunks(&values);
        assert_eq!(chunks.iter().map(Vec::len).sum::<usize>(), 450);
        assert!(chunks.iter().all(|c| c.len() <= LOOKUP_MAX_VALUES));
        let long: Vec<String> = (0..100)
            .map(|i| format!("{i}{}", "x".repeat(400)))
            .collect();
        let chunks = lookup_chunks(&long);
        assert!(chunks.len() > 3, "{}", chunks.len());
        assert_eq!(lookup_chunks(&[]).len(), 0);
    }

    #[test]
    fn collection_results_become_outcomes() {
        let raw = r#"[
            {"id":"00Q1","success":true,"errors":[],"created":true},
            {"id":"00Q2","success":true,"errors":[],"created":false},
            {"success":false,"errors":[{"statusCode":"REQUIRED_FIELD_MISSING","message":"Required fields are missing: [LastName]","fields":["LastName"]}]}
        ]"#;
        let results: Vec<CollectionResult> = serde_json::from_str(raw).unwrap();
        let outcomes: Vec<_> = results
            .into_iter()
            .map(|r| r.outcome(true, false))
            .collect();
        assert_eq!(outcomes[0], WriteOutcome::Created { id: "00Q1".into() });
        assert_eq!(outcomes[1], WriteOutcome::Updated { id: "00Q2".into() });
        assert_eq!(
            outcomes[2],
            WriteOutcome::Rejected {
                message: "Required fields are missing: [LastName]".into(),
                code: Some("REQUIRED_FIELD_MISSING".into()),
                fields: vec!["LastName".into()],
            }
        );
    }
}
