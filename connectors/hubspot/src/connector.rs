//! [`HubSpotConnector`]: the [`Connector`] contract over HubSpot's CRM v3 API.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use async_trait::async_trait;
use jiff::{tz::TimeZone, Timestamp};
use leadbridge_core::auth::RefreshTokenSink;
use leadbridge_core::http::{ApiClient, ApiResponse, Limiter, UsageSnapshot};
use leadbridge_core::{
    Activity, ActivityKind, ChangePage, ChangesRequest, Connector, ConnectorError, ConnectorResult,
    FieldSchema, Limits, ObjectSchema, PageToken, Record, WriteBatch, WriteOutcome, WriteRecord,
};
use serde::de::DeserializeOwned;
use serde_json::{json, Map, Value};
use tracing::debug;

use crate::changes::{Call, PassState, Phase, LIST_LIMIT, PAGE_LIMIT};
use crate::classify::HubSpotClassify;
use crate::config::HubSpotConfig;
use crate::page::PageSeed;
use crate::time::{from_ms, iso_ms, parse_ms};
use crate::wire::{
    ApiObject, BatchResponse, PageResponse, Paging, PropertiesResponse, StandardError,
};
use crate::{is_contacts, modified_property};

/// The most inputs one batch call takes (HubSpot's documented batch limit).
pub const BATCH_LIMIT: usize = 100;

/// HubSpot CRM v3 as a [`Connector`]. Cheap to share: the engine holds it as
/// `Arc<dyn Connector>`; every call goes through one [`ApiClient`] (one rate
/// limiter, one daily budget) plus a second limiter for the search endpoints,
/// which HubSpot meters separately (5 requests per second per account).
pub struct HubSpotConnector {
    base_url: String,
    config: HubSpotConfig,
    client: ApiClient,
    search_limiter: Limiter,
}

/// Which batch endpoint a write goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum WriteOp {
    Create,
    Update,
    Upsert,
}

impl WriteOp {
    fn path(self) -> &'static str {
        match self {
            Self::Create => "create",
            Self::Update => "update",
            Self::Upsert => "upsert",
        }
    }
}

type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

impl HubSpotConnector {
    /// A connector for `config`; `sink` receives refresh tokens the token
    /// endpoint rotates, so the engine can persist them.
    pub fn new(
        config: HubSpotConfig,
        sink: Option<Arc<dyn RefreshTokenSink>>,
    ) -> ConnectorResult<Self> {
        let auth = config.auth.token_source(&config.token_defaults(), sink)?;
        let client = ApiClient::new(&config.http, auth, Arc::new(HubSpotClassify), TimeZone::UTC)?;
        Ok(Self {
            base_url: config.base_url.clone(),
            search_limiter: Limiter::new(config.search_rate_limit),
            config,
            client,
        })
    }

    /// The configuration it runs with.
    pub fn config(&self) -> &HubSpotConfig {
        &self.config
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    async fn post<T: DeserializeOwned>(
        &self,
        path: &str,
        body: &Value,
        extra: Option<&Limiter>,
    ) -> ConnectorResult<T> {
        let url = self.url(path);
        let label = format!("POST {path}");
        self.client
            .execute(
                &label,
                extra,
                |http| http.post(&url).json(body),
                |response: ApiResponse| response.json::<T>(),
            )
            .await
    }

    async fn get<T: DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, String)],
    ) -> ConnectorResult<T> {
        let url = self.url(path);
        let label = format!("GET {path}");
        self.client
            .execute(
                &label,
                None,
                |http| http.get(&url).query(query),
                |response: ApiResponse| response.json::<T>(),
            )
            .await
    }

    fn record_from(object: &str, api: &ApiObject, fields: &[String]) -> Record {
        let prop = modified_property(object);
        let modified = api
            .properties
            .get(prop)
            .and_then(Value::as_str)
            .and_then(parse_ms)
            .or_else(|| api.updated_at.as_deref().and_then(parse_ms))
            .unwrap_or(0);
        let mut record = Record::new(api.id.clone(), from_ms(modified));
        record.archived = api.archived;
        for field in fields {
            let value = api.properties.get(field).cloned().unwrap_or(Value::Null);
            record.fields.insert(field.clone(), value);
        }
        record
    }

    /// One batch call for `items` (index in the caller's batch, record),
    /// answering an outcome for each index. A whole-batch refusal (HubSpot
    /// sometimes answers 400 for a batch when one input is invalid) is split
    /// in halves and retried, so one bad record never fails the others; a
    /// single refused record becomes its own rejection.
    fn write_chunk<'a>(
        &'a self,
        op: WriteOp,
        batch: &'a WriteBatch,
        items: Vec<(usize, &'a WriteRecord)>,
    ) -> BoxFuture<'a, ConnectorResult<Vec<(usize, WriteOutcome)>>> {
        Box::pin(async move {
            let inputs: Vec<Value> = items
                .iter()
                .map(|(idx, record)| {
                    let properties = string_properties(&record.fields);
                    let trace = idx.to_string();
                    match op {
                        WriteOp::Create => json!({
                            "properties": properties,
                            "objectWriteTraceId": trace,
                            "associations": [],
                        }),
                        WriteOp::Update => json!({
                            "id": record.id.clone().unwrap_or_default(),
                            "properties": properties,
                            "objectWriteTraceId": trace,
                        }),
                        WriteOp::Upsert => json!({
                            "id": record.key.clone().unwrap_or_default(),
                            "idProperty": batch.key_field.clone().unwrap_or_default(),
                            "properties": properties,
                            "objectWriteTraceId": trace,
                        }),
                    }
                })
                .collect();
            let path = format!("/crm/v3/objects/{}/batch/{}", batch.object, op.path());
            let response: BatchResponse =
                match self.post(&path, &json!({ "inputs": inputs }), None).await {
                    Ok(r) => r,
                    Err(ConnectorError::Rejected { message, code }) => {
                        if items.len() == 1 {
                            let fields = fields_from_message(&message);
                            return Ok(vec![(
                                items[0].0,
                                WriteOutcome::Rejected {
                                    message,
                                    code,
                                    fields,
                                },
                            )]);
                        }
                        debug!(size = items.len(), "batch refused as a whole; splitting it");
                        let mut left = items;
                        let right = left.split_off(left.len() / 2);
                        let mut out = self.write_chunk(op, batch, left).await?;
                        out.extend(self.write_chunk(op, batch, right).await?);
                        return Ok(out);
                    }
                    Err(e) => return Err(e),
                };
            let (mut done, unmapped) = map_batch_response(op, batch, &items, response);
            if !unmapped.is_empty() {
                if items.len() == 1 {
                    done.push((
                        items[0].0,
                        WriteOutcome::Rejected {
                            message:
                                "HubSpot returned neither a result nor an error for this record"
                                    .into(),
                            code: None,
                            fields: Vec::new(),
                        },
                    ));
                } else {
                    // Outcomes we cannot attribute: ask again one by one.
                    for item in unmapped {
                        done.extend(self.write_chunk(op, batch, vec![item]).await?);
                    }
                }
            }
            Ok(done)
        })
    }
}

/// HubSpot properties are strings on the wire: numbers and booleans are sent
/// in their text form, null clears the value (an empty string).
fn string_properties(fields: &Map<String, Value>) -> Map<String, Value> {
    fields
        .iter()
        .map(|(k, v)| {
            let text = match v {
                Value::Null => String::new(),
                Value::String(s) => s.clone(),
                Value::Array(items) => items
                    .iter()
                    .map(|i| match i {
                        Value::String(s) => s.clone(),
                        other => other.to_string(),
                    })
                    .collect::<Vec<_>>()
                    .join(";"),
                other => other.to_string(),
            };
            (k.clone(), Value::String(text))
        })
        .collect()
}

/// The property names a HubSpot validation message names. Its messages embed
/// a JSON list: `Property values were not valid: [{"name":"email",…}]`.
fn fields_from_message(message: &str) -> Vec<String> {
    let Some(start) = message.find('[') else {
        return Vec::new();
    };
    let Some(end) = message.rfind(']') else {
        return Vec::new();
    };
    serde_json::from_str::<Vec<Value>>(&message[start..=end])
        .map(|items| {
            items
                .iter()
                .filter_map(|i| i.get("name").and_then(Value::as_str).map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

fn rejection(error: &StandardError) -> WriteOutcome {
    let message = error
        .message
        .clone()
        .unwrap_or_else(|| "rejected by HubSpot".into());
    let code = error
        .errors
        .iter()
        .find_map(|d| d.code.clone())
        .or_else(|| error.category.clone());
    let mut fields: Vec<String> = Vec::new();
    for detail in &error.errors {
        for name in crate::wire::context_values(detail.context.as_ref(), "propertyName") {
            if !fields.contains(&name) {
                fields.push(name);
            }
        }
        if let Some(name) = &detail.in_field {
            if !fields.contains(name) {
                fields.push(name.clone());
            }
        }
    }
    for name in error.context_values("propertyName") {
        if !fields.contains(&name) {
            fields.push(name);
        }
    }
    if fields.is_empty() {
        fields = fields_from_message(&message);
    }
    WriteOutcome::Rejected {
        message,
        code,
        fields,
    }
}

/// Attributes a batch response's results and errors to the inputs: by
/// `objectWriteTraceId` first, then by id (updates) or key value (upserts);
/// what cannot be attributed is returned for a one-by-one retry.
#[allow(clippy::type_complexity)]
fn map_batch_response<'a>(
    op: WriteOp,
    batch: &WriteBatch,
    items: &[(usize, &'a WriteRecord)],
    response: BatchResponse,
) -> (Vec<(usize, WriteOutcome)>, Vec<(usize, &'a WriteRecord)>) {
    let mut open: HashMap<usize, &WriteRecord> = items.iter().copied().collect();
    let mut out = Vec::new();
    let key_field = batch.key_field.clone().unwrap_or_default();
    let find_by = |open: &HashMap<usize, &WriteRecord>, api: &ApiObject| -> Option<usize> {
        if let Some(idx) = api
            .object_write_trace_id
            .as_deref()
            .and_then(|t| t.parse::<usize>().ok())
            .filter(|i| open.contains_key(i))
        {
            return Some(idx);
        }
        match op {
            WriteOp::Update => open
                .iter()
                .find(|(_, r)| r.id.as_deref() == Some(api.id.as_str()))
                .map(|(i, _)| *i),
            WriteOp::Upsert => {
                let value = api.properties.get(&key_field).and_then(Value::as_str)?;
                open.iter()
                    .find(|(_, r)| {
                        r.key
                            .as_deref()
                            .is_some_and(|k| k.eq_ignore_ascii_case(value))
                    })
                    .map(|(i, _)| *i)
            }
            WriteOp::Create => None,
        }
    };
    let mut unattributed_results = Vec::new();
    for api in &response.results {
        match find_by(&open, api) {
            Some(idx) => {
                open.remove(&idx);
                let outcome = match (op, api.new) {
                    (WriteOp::Update, _) | (WriteOp::Upsert, Some(false)) => {
                        WriteOutcome::Updated { id: api.id.clone() }
                    }
                    _ => WriteOutcome::Created { id: api.id.clone() },
                };
                out.push((idx, outcome));
            }
            None => unattributed_results.push(api),
        }
    }
    let mut unattributed_errors = Vec::new();
    for error in &response.errors {
        let mut keys: Vec<String> = error.object_write_trace_id.iter().cloned().collect();
        keys.extend(error.context_values("objectWriteTraceId"));
        let mut idx = keys
            .iter()
            .filter_map(|k| k.parse::<usize>().ok())
            .find(|i| open.contains_key(i));
        if idx.is_none() {
            let ids: Vec<String> = error
                .context_values("ids")
                .into_iter()
                .chain(error.context_values("id"))
                .collect();
            idx = open
                .iter()
                .find(|(_, r)| {
                    ids.iter().any(|v| {
                        r.id.as_deref() == Some(v.as_str())
                            || r.key.as_deref().is_some_and(|k| k.eq_ignore_ascii_case(v))
                    })
                })
                .map(|(i, _)| *i);
        }
        match idx {
            Some(i) => {
                open.remove(&i);
                out.push((i, rejection(error)));
            }
            None => unattributed_errors.push(error),
        }
    }
    // Creates without trace ids in the answer: HubSpot answers in input order
    // when every input succeeded.
    if unattributed_errors.is_empty() && unattributed_results.len() == open.len() {
        let mut rest: Vec<usize> = open.keys().copied().collect();
        rest.sort_unstable();
        for (idx, api) in rest.into_iter().zip(unattributed_results) {
            open.remove(&idx);
            let outcome = match (op, api.new) {
                (WriteOp::Update, _) | (WriteOp::Upsert, Some(false)) => {
                    WriteOutcome::Updated { id: api.id.clone() }
                }
                _ => WriteOutcome::Created { id: api.id.clone() },
            };
            out.push((idx, outcome));
        }
    } else if open.len() == 1 && unattributed_errors.len() == 1 && unattributed_results.is_empty() {
        if let Some(idx) = open.keys().next().copied() {
            open.remove(&idx);
            out.push((idx, rejection(unattributed_errors[0])));
        }
    }
    let mut rest: Vec<(usize, &WriteRecord)> = open.into_iter().collect();
    rest.sort_by_key(|(i, _)| *i);
    (out, rest)
}

/// The association type of an activity to its parent, per HubSpot's
/// HUBSPOT_DEFINED table (note→contact 202, task→contact 204, …).
fn activity_association(kind: ActivityKind, parent: &str) -> Option<u32> {
    let parent = match parent {
        "contacts" | "contact" | "0-1" => "contacts",
        "companies" | "company" | "0-2" => "companies",
        "deals" | "deal" | "0-3" => "deals",
        other => other,
    };
    Some(match (kind, parent) {
        (ActivityKind::Note, "contacts") => 202,
        (ActivityKind::Task, "contacts") => 204,
        (ActivityKind::Note, "companies") => 190,
        (ActivityKind::Task, "companies") => 192,
        (ActivityKind::Note, "deals") => 214,
        (ActivityKind::Task, "deals") => 216,
        _ => return None,
    })
}

#[async_trait]
impl Connector for HubSpotConnector {
    fn kind(&self) -> &'static str {
        "hubspot"
    }

    fn limits(&self) -> Limits {
        Limits {
            page_size: PAGE_LIMIT,
            batch_size: BATCH_LIMIT,
            lookup_batch_size: BATCH_LIMIT,
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
        let response: PropertiesResponse = self
            .get(&format!("/crm/v3/properties/{object}"), &[])
            .await?;
        let fields = response
            .results
            .into_iter()
            .map(|p| {
                let writable =
                    !p.calculated && !p.modification_metadata.is_some_and(|m| m.read_only_value);
                // HubSpot enforces unique emails on contacts although the
                // property definition does not flag it.
                let unique = p.has_unique_value || (is_contacts(object) && p.name == "email");
                FieldSchema {
                    name: p.name,
                    kind: p.kind,
                    required: false,
                    createable: writable,
                    updateable: writable,
                    options: p.options.into_iter().map(|o| o.value).collect(),
                    unique,
                    ..FieldSchema::default()
                }
            })
            .collect();
        Ok(ObjectSchema {
            object: object.to_owned(),
            fields,
        })
    }

    async fn changes(
        &self,
        request: &ChangesRequest,
        page: Option<&PageToken>,
    ) -> ConnectorResult<ChangePage> {
        let prop = modified_property(&request.object);
        let mut state = match page {
            None => PassState::start(request),
            Some(token) => PassState::from_token(&token.0, request)?,
        };
        match state.next_call(request, prop) {
            Call::Search(body) => {
                let path = format!("/crm/v3/objects/{}/search", request.object);
                let url = self.url(&path);
                let label = format!("POST {path}");
                // The requested fields and the property the pass orders by.
                let mut wanted = request.fields.clone();
                if !wanted.iter().any(|f| f == prop) {
                    wanted.push(prop.to_owned());
                }
                let (response, server_ms): (PageResponse, Option<i64>) = self
                    .client
                    .execute(
                        &label,
                        Some(&self.search_limiter),
                        |http| http.post(&url).json(&body),
                        |response: ApiResponse| {
                            let date = response
                                .header("date")
                                .and_then(|d| jiff::fmt::rfc2822::parse(d).ok())
                                .map(|z| z.timestamp().as_millisecond());
                            let page = response.json_seed(PageSeed { wanted: &wanted })?;
                            Ok((page, date))
                        },
                    )
                    .await?;
                state.observe_server_time(server_ms);
                let has_next = Paging::after(&response.paging).is_some();
                let (records, live_done) = state.on_search_page(
                    request,
                    prop,
                    response.results,
                    response.total,
                    has_next,
                )?;
                let next = if !live_done {
                    Some(PageToken(state.token()?))
                } else if request.include_archived {
                    state.phase = Phase::Archived { after: None };
                    Some(PageToken(state.token()?))
                } else {
                    None
                };
                Ok(ChangePage {
                    records,
                    checkpoint: state.checkpoint(),
                    next,
                })
            }
            Call::ListArchived(after) => {
                let mut query = vec![
                    ("archived", "true".to_owned()),
                    ("limit", LIST_LIMIT.to_string()),
                ];
                if !request.fields.is_empty() {
                    query.push(("properties", request.fields.join(",")));
                }
                if let Some(after) = after {
                    query.push(("after", after));
                }
                let response: PageResponse = self
                    .get(&format!("/crm/v3/objects/{}", request.object), &query)
                    .await?;
                let next_after = Paging::after(&response.paging);
                let records =
                    state.on_archived_page(request, prop, response.results, next_after.clone());
                let next = match next_after {
                    Some(_) => Some(PageToken(state.token()?)),
                    None => None,
                };
                Ok(ChangePage {
                    records,
                    checkpoint: state.checkpoint(),
                    next,
                })
            }
        }
    }

    async fn lookup(
        &self,
        object: &str,
        key_field: &str,
        values: &[String],
        fields: &[String],
    ) -> ConnectorResult<Vec<Record>> {
        let by_id = matches!(key_field, "hs_object_id" | "id");
        let path = format!("/crm/v3/objects/{object}/batch/read");
        let mut records = Vec::new();
        for chunk in values.chunks(BATCH_LIMIT) {
            let inputs: Vec<Value> = chunk.iter().map(|v| json!({ "id": v })).collect();
            let mut body = json!({
                "inputs": inputs,
                "properties": fields,
                "propertiesWithHistory": [],
            });
            if !by_id {
                body["idProperty"] = json!(key_field);
            }
            let response: BatchResponse = self.post(&path, &body, None).await?;
            records.extend(
                response
                    .results
                    .iter()
                    .filter(|o| !o.archived)
                    .map(|o| Self::record_from(object, o, fields)),
            );
        }
        Ok(records)
    }

    async fn write(&self, batch: &WriteBatch) -> ConnectorResult<Vec<WriteOutcome>> {
        let mut outcomes: Vec<Option<WriteOutcome>> = vec![None; batch.records.len()];
        let mut groups: [(WriteOp, Vec<(usize, &WriteRecord)>); 3] = [
            (WriteOp::Update, Vec::new()),
            (WriteOp::Upsert, Vec::new()),
            (WriteOp::Create, Vec::new()),
        ];
        for (idx, record) in batch.records.iter().enumerate() {
            match (&record.id, &record.key, &batch.key_field) {
                (Some(_), _, _) => groups[0].1.push((idx, record)),
                (None, Some(_), Some(_)) => groups[1].1.push((idx, record)),
                (None, Some(_), None) => {
                    outcomes[idx] = Some(WriteOutcome::Rejected {
                        message: "record has a key value but the batch names no key field".into(),
                        code: Some("MISSING_KEY_FIELD".into()),
                        fields: Vec::new(),
                    })
                }
                (None, None, _) => groups[2].1.push((idx, record)),
            }
        }
        for (op, items) in groups {
            let mut items = items.into_iter().peekable();
            while items.peek().is_some() {
                let chunk: Vec<_> = items.by_ref().take(BATCH_LIMIT).collect();
                for (idx, outcome) in self.write_chunk(op, batch, chunk).await? {
                    outcomes[idx] = Some(outcome);
                }
            }
        }
        Ok(outcomes
            .into_iter()
            .map(|o| {
                o.unwrap_or_else(|| WriteOutcome::Rejected {
                    message: "no outcome from HubSpot".into(),
                    code: None,
                    fields: Vec::new(),
                })
            })
            .collect())
    }

    async fn create_activity(&self, activity: &Activity) -> ConnectorResult<String> {
        let type_id =
            activity_association(activity.kind, &activity.parent_object).ok_or_else(|| {
                ConnectorError::fatal(format!(
                    "HubSpot activities cannot be associated with {}",
                    activity.parent_object
                ))
            })?;
        let (object, properties) = match activity.kind {
            ActivityKind::Note => {
                let body = if activity.subject.is_empty() {
                    activity.body.clone()
                } else {
                    format!("{}\n\n{}", activity.subject, activity.body)
                };
                (
                    "notes",
                    json!({
                        "hs_note_body": body,
                        "hs_timestamp": iso_ms(Timestamp::now().as_millisecond()),
                    }),
                )
            }
            ActivityKind::Task => {
                let due = activity.due.unwrap_or_else(Timestamp::now);
                let mut props = json!({
                    "hs_task_subject": activity.subject,
                    "hs_task_body": activity.body,
                    "hs_task_status": "NOT_STARTED",
                    "hs_timestamp": iso_ms(due.as_millisecond()),
                });
                if let Some(owner) = &activity.owner {
                    props["hubspot_owner_id"] = json!(owner);
                }
                ("tasks", props)
            }
        };
        let body = json!({
            "properties": properties,
            "associations": [{
                "to": {"id": activity.parent_id},
                "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": type_id}],
            }],
        });
        let created: ApiObject = self
            .post(&format!("/crm/v3/objects/{object}"), &body, None)
            .await?;
        Ok(created.id)
    }

    fn usage(&self) -> UsageSnapshot {
        self.client.usage()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation_messages_name_their_fields() {
        let m = r#"Property values were not valid: [{"isValid":false,"message":"Email address x is invalid","error":"INVALID_EMAIL","name":"email"}]"#;
        assert_eq!(fields_from_message(m), vec!["email".to_owned()]);
        assert!(fields_from_message("nothing here").is_empty());
    }

    #[test]
    fn properties_go_out_as_strings() {
        let mut f = Map::new();
        f.insert("n".into(), json!(17));
        f.insert("b".into(), json!(false));
        f.insert("m".into(), json!(["a", "b"]));
        f.insert("z".into(), Value::Null);
        let s = string_properties(&f);
        assert_eq!(s["n"], "17");
        assert_eq!(s["b"], "false");
        assert_eq!(s["m"], "a;b");
        assert_eq!(s["z"], "");
    }

    #[test]
    fn errors_map_back_by_trace_id_and_leftovers_pair_up() {
        let records: Vec<WriteRecord> = (0..3)
            .map(|i| WriteRecord {
                key: Some(format!("p{i}@x.example")),
                ..WriteRecord::default()
            })
            .collect();
        let batch = WriteBatch {
            object: "contacts".into(),
            key_field: Some("email".into()),
            records: records.clone(),
        };
        let items: Vec<(usize, &WriteRecord)> = records.iter().enumerate().collect();
        let response: BatchResponse = serde_json::from_value(json!({
            "results": [
                {"id": "1", "properties": {"email": "P0@x.example"}, "new": true},
                {"id": "2", "properties": {}, "new": false, "objectWriteTraceId": "2"},
            ],
            "errors": [{"category": "VALIDATION_ERROR", "message": "bad", "errors": [{"code": "INVALID_OPTION", "context": {"propertyName": ["lifecyclestage"]}}]}],
        }))
        .unwrap();
        let (mut out, rest) = map_batch_response(WriteOp::Upsert, &batch, &items, response);
        out.sort_by_key(|(i, _)| *i);
        assert!(rest.is_empty());
        assert_eq!(out[0].1, WriteOutcome::Created { id: "1".into() });
        assert!(
            matches!(&out[1].1, WriteOutcome::Rejected { code: Some(c), fields, .. } if c == "INVALID_OPTION" && fields == &["lifecyclestage".to_owned()])
        );
        assert_eq!(out[2].1, WriteOutcome::Updated { id: "2".into() });
    }
}
