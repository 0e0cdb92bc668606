//! [`MarketoConnector`]: the [`Connector`] contract over Marketo's REST API.

use std::sync::Arc;

use async_trait::async_trait;
use jiff::Timestamp;
use leadbridge_core::auth::{AuthConfig, RefreshTokenSink};
use leadbridge_core::http::{ApiClient, ApiResponse, UsageSnapshot};
use leadbridge_core::{
    Activity, ActivityKind, ActivityOutcome, ChangePage, ChangesRequest, Connector, ConnectorError,
    ConnectorResult, FieldSchema, Limits, ObjectSchema, PageToken, Record, ValueType, WriteBatch,
    WriteOutcome,
};
use serde::de::DeserializeOwned;
use serde_json::{json, Value};
use tokio::sync::Semaphore;
use url::Url;

use crate::changes::{cursor, server_ms, PassState, Phase, ToRead, Winners, PAGE_LIMIT};
use crate::classify::MarketoClassify;
use crate::config::{MarketoConfig, NoteActivity, BATCH_LIMIT};
use crate::time::{iso_seconds, parse, quota_zone};
use crate::wire::{
    id_text, Activity as LogActivity, CustomActivityResult, Describe2, Lead, Page, SyncResult,
    TokenAnswer,
};
use crate::write::{outcome, plan};

/// The object a Marketo connector reads and writes: leads (Marketo calls
/// them persons in its UI).
pub const OBJECT: &str = "leads";

/// The longest URI sent as a GET: Marketo answers 414 past 8 KB, so a
/// longer query goes as a POST with `_method=GET` and the query in a form
/// body, as its error-code page says to.
pub const MAX_GET_URI: usize = 8_000;

/// Marketo's Lead Database as a [`Connector`]. Cheap to share: the engine
/// holds it as `Arc<dyn Connector>`; every call goes through one
/// [`ApiClient`] (one rate limiter at 100 calls per 20 s, one daily budget
/// counted in Marketo's day) and at most
/// [`MarketoConfig::max_concurrent`] calls are in flight at once.
pub struct MarketoConnector {
    config: MarketoConfig,
    client: ApiClient,
    slots: Semaphore,
}

fn is_leads(object: &str) -> bool {
    object.eq_ignore_ascii_case("leads") || object.eq_ignore_ascii_case("lead")
}

fn check_object(object: &str) -> ConnectorResult<()> {
    if is_leads(object) {
        Ok(())
    } else {
        Err(ConnectorError::fatal(format!(
            "the Marketo connector reads and writes `{OBJECT}` only, not `{object}`"
        )))
    }
}

fn lead_id(value: &str) -> ConnectorResult<u64> {
    value.parse().map_err(|_| ConnectorError::Rejected {
        message: format!("{value:?} is not a Marketo lead id (a number)"),
        code: None,
    })
}

/// The value type of a Marketo `dataType`
/// (experienceleague.adobe.com/en/docs/marketo-developer/marketo/rest/lead-database/field-types).
pub fn value_type(data_type: &str) -> ValueType {
    match data_type.to_ascii_lowercase().as_str() {
        "string" | "email" | "phone" | "url" | "text" | "textarea" => ValueType::Text,
        "integer" | "float" | "currency" | "percent" | "score" => ValueType::Number,
        "boolean" => ValueType::Bool,
        "date" => ValueType::Date,
        "datetime" => ValueType::DateTime,
        "reference" => ValueType::Reference,
        _ => ValueType::Other,
    }
}

impl MarketoConnector {
    /// A connector for `config`; `sink` receives refresh tokens a token
    /// endpoint rotates (Marketo's client-credentials grant issues none, so
    /// it is only used with other grants).
    pub fn new(
        config: MarketoConfig,
        sink: Option<Arc<dyn RefreshTokenSink>>,
    ) -> ConnectorResult<Self> {
        if matches!(config.auth, AuthConfig::OAuth2Refresh { .. }) {
            // swagger-identity.json: `grant_type` is `client_credentials` only.
            return Err(ConnectorError::fatal(
                "Marketo's identity endpoint has no refresh-token grant: configure the custom service's client id and secret (client credentials)",
            ));
        }
        let auth = config.auth.token_source(&config.token_defaults(), sink)?;
        let classify = Arc::new(MarketoClassify {
            rate_limit_wait: config.rate_limit_wait,
        });
        let client = ApiClient::new(&config.http, auth, classify, quota_zone())?;
        Ok(Self {
            slots: Semaphore::new(config.max_concurrent.max(1)),
            config,
            client,
        })
    }

    /// The configuration it runs with.
    pub fn config(&self) -> &MarketoConfig {
        &self.config
    }

    fn url(&self, path: &str) -> ConnectorResult<Url> {
        Url::parse(&format!("{}{path}", self.config.base_url)).map_err(|e| {
            ConnectorError::fatal(format!(
                "invalid Marketo base URL {}: {e}",
                self.config.base_url
            ))
        })
    }

    /// A GET with its query; past [`MAX_GET_URI`] it goes as a POST with
    /// `_method=GET` and the query as a form body. Answers the decoded body
    /// and Marketo's clock (its `Date` header) in epoch ms.
    async fn get<T: DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, String)],
    ) -> ConnectorResult<(T, Option<i64>)> {
        self.get_within(path, query, None).await
    }

    /// [`Self::get`] with its own timeout (`None`: the client's).
    async fn get_within<T: DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, String)],
        timeout: Option<std::time::Duration>,
    ) -> ConnectorResult<(T, Option<i64>)> {
        let mut url = self.url(path)?;
        url.query_pairs_mut()
            .extend_pairs(query.iter().map(|(k, v)| (*k, v.as_str())));
        let long = url.as_str().len() > MAX_GET_URI;
        let mut post_url = self.url(path)?;
        post_url.query_pairs_mut().append_pair("_method", "GET");
        let label = format!("GET {path}");
        let _slot = self
            .slots
            .acquire()
            .await
            .map_err(|_| ConnectorError::fatal("the connector is shutting down"))?;
        self.client
            .execute(
                &label,
                None,
                |http| {
                    let request = if long {
                        http.post(post_url.clone()).form(query)
                    } else {
                        http.get(url.clone())
                    };
                    match timeout {
                        Some(t) => request.timeout(t),
                        None => request,
                    }
                },
                |response: ApiResponse| {
                    let date = server_ms(response.header("date"));
                    Ok((response.json::<T>()?, date))
                },
            )
            .await
    }

    /// A POST with a JSON body.
    async fn post<T: DeserializeOwned>(&self, path: &str, body: &Value) -> ConnectorResult<T> {
        let url = self.url(path)?;
        let label = format!("POST {path}");
        let _slot = self
            .slots
            .acquire()
            .await
            .map_err(|_| ConnectorError::fatal("the connector is shutting down"))?;
        self.client
            .execute(
                &label,
                None,
                |http| http.post(url.clone()).json(body),
                |response: ApiResponse| response.json::<T>(),
            )
            .await
    }

    /// Leads whose `filter_type` is one of `values`, every page of the
    /// answer, with `fields` (and `id`, which Marketo always sends).
    async fn read_leads(
        &self,
        filter_type: &str,
        values: &[String],
        fields: &[String],
    ) -> ConnectorResult<Vec<Lead>> {
        let mut out = Vec::new();
        for chunk in values.chunks(BATCH_LIMIT) {
            let mut next: Option<String> = None;
            loop {
                let mut query = vec![
                    ("filterType", filter_type.to_owned()),
                    ("filterValues", chunk.join(",")),
                    ("batchSize", BATCH_LIMIT.to_string()),
                ];
                if !fields.is_empty() {
                    query.push(("fields", fields.join(",")));
                }
                if let Some(token) = &next {
                    query.push(("nextPageToken", token.clone()));
                }
                let (page, _): (Page<Lead>, _) = self.get("/rest/v1/leads.json", &query).await?;
                out.extend(page.result);
                match (page.more_result, page.next_page_token) {
                    (true, Some(token)) => next = Some(token),
                    _ => break,
                }
            }
        }
        Ok(out)
    }

    /// The leads `to_read` names, as records at their activity dates with
    /// the requested fields; leads Marketo no longer has are left out.
    async fn records(
        &self,
        to_read: &ToRead,
        fields: &[String],
        merged: Option<&Winners>,
    ) -> ConnectorResult<Vec<Record>> {
        if to_read.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<String> = to_read.keys().map(u64::to_string).collect();
        let leads = self.read_leads("id", &ids, fields).await?;
        let mut records: Vec<Record> = leads
            .into_iter()
            .filter_map(|lead| {
                let id: u64 = lead.get("id").and_then(id_text)?.parse().ok()?;
                let at = *to_read.get(&id)?;
                let mut record = Record::new(id.to_string(), cursor(at, id).modified_at);
                for f in fields {
                    let v = lead.get(f).cloned().unwrap_or(Value::Null);
                    record.fields.insert(f.clone(), v);
                }
                if let Some((_, losers)) = merged.and_then(|m| m.get(&id)) {
                    record.merged_from = losers.iter().map(u64::to_string).collect();
                }
                Some(record)
            })
            .collect();
        records.sort_by_key(Record::cursor);
        Ok(records)
    }

    /// One page of an activity feed with the pass's token.
    async fn feed(
        &self,
        path: &str,
        extra: &[(&str, String)],
        token: &str,
    ) -> ConnectorResult<(Page<LogActivity>, Option<i64>)> {
        let mut query: Vec<(&str, String)> = vec![
            ("nextPageToken", token.to_owned()),
            ("batchSize", PAGE_LIMIT.to_string()),
        ];
        query.extend(extra.iter().cloned());
        self.get(path, &query).await
    }

    fn next_token(page: &Page<LogActivity>) -> ConnectorResult<String> {
        page.next_page_token
            .clone()
            .filter(|t| !t.is_empty())
            .ok_or_else(|| ConnectorError::Retryable {
                message: "Marketo said moreResult without a nextPageToken".into(),
                retry_after: None,
            })
    }

    fn note_activity(&self, kind: ActivityKind) -> ConnectorResult<&NoteActivity> {
        match (kind, &self.config.note_activity) {
            (ActivityKind::Task, _) => Err(ConnectorError::fatal(
                "Marketo has no tasks (no owner, due date or completion on a lead); route tasks to the CRM",
            )),
            (ActivityKind::Note, None) => Err(ConnectorError::fatal(
                "Marketo has no notes: an admin must create and approve a custom activity type for them and name it in the Marketo connector's note_activity (type id and body attribute)",
            )),
            (ActivityKind::Note, Some(n)) => Ok(n),
        }
    }

    /// One Add Custom Activities input for a note.
    fn note_input(note: &NoteActivity, activity: &Activity) -> ConnectorResult<Value> {
        check_object(&activity.parent_object)?;
        let lead = lead_id(&activity.parent_id)?;
        let subject = if activity.subject.trim().is_empty() {
            "Note".to_owned()
        } else {
            activity.subject.clone()
        };
        Ok(json!({
            "leadId": lead,
            "activityDate": iso_seconds(Timestamp::now()),
            "activityTypeId": note.activity_type_id,
            "primaryAttributeValue": subject,
            "attributes": [{"apiName": note.body_attribute, "value": activity.body}],
        }))
    }

    fn activity_outcome(result: &CustomActivityResult) -> ActivityOutcome {
        let id = result
            .marketo_guid
            .clone()
            .or_else(|| result.id.as_ref().and_then(id_text));
        match (result.status.as_deref(), id) {
            (Some("added" | "created"), Some(id)) => ActivityOutcome::Created { id },
            _ => {
                let e = result
                    .errors
                    .first()
                    .or(result.reasons.first())
                    .cloned()
                    .unwrap_or_default();
                ActivityOutcome::Rejected {
                    message: if e.message.is_empty() {
                        "Marketo did not add the activity".into()
                    } else {
                        e.message
                    },
                    code: (!e.code.is_empty()).then_some(e.code),
                }
            }
        }
    }
}

#[async_trait]
impl Connector for MarketoConnector {
    fn kind(&self) -> &'static str {
        "marketo"
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
        check_object(object)?;
        let (page, _): (Page<Describe2>, _) =
            self.get("/rest/v1/leads/describe2.json", &[]).await?;
        let described =
            page.result
                .into_iter()
                .next()
                .ok_or_else(|| ConnectorError::Retryable {
                    message: "Describe Lead2 answered no description".into(),
                    retry_after: None,
                })?;
        let fields = described
            .fields
            .into_iter()
            .map(|f| FieldSchema {
                value_type: value_type(&f.data_type),
                // Marketo's only unique lead field is its id; email is its
                // usual dedupe key but may repeat.
                unique: f.name == "id",
                createable: f.updateable,
                updateable: f.updateable,
                length: f.length,
                kind: f.data_type,
                name: f.name,
                ..FieldSchema::default()
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
        check_object(&request.object)?;
        let mut state = match page {
            None => PassState::start(request),
            Some(token) => PassState::from_token(&token.0, request)?,
        };
        let fields = &request.fields;
        loop {
            match state.phase.clone() {
                Phase::Start => {
                    let (answer, date): (TokenAnswer, _) = self
                        .get_within(
                            "/rest/v1/activities/pagingtoken.json",
                            &[("sinceDatetime", state.since_datetime())],
                            Some(self.config.paging_token_timeout),
                        )
                        .await?;
                    let token =
                        answer
                            .next_page_token
                            .ok_or_else(|| ConnectorError::Retryable {
                                message: "Get Paging Token answered no token".into(),
                                retry_after: None,
                            })?;
                    state.on_paging_token(token, date);
                }
                Phase::Merges(token) => {
                    let (page, date) = self
                        .feed(
                            "/rest/v1/activities.json",
                            &[("activityTypeIds", crate::changes::MERGE_LEADS.to_string())],
                            &token,
                        )
                        .await?;
                    let winners = state.merges(&page.result)?;
                    let to_read: ToRead = winners.iter().map(|(id, (at, _))| (*id, *at)).collect();
                    let records = self.records(&to_read, fields, Some(&winners)).await?;
                    state
                        .winners
                        .extend(records.iter().filter_map(|r| r.id.parse::<u64>().ok()));
                    state.delivered(records.iter().map(Record::cursor));
                    if page.more_result {
                        state.phase = Phase::Merges(Self::next_token(&page)?);
                    } else {
                        state.side_feed_done(date);
                    }
                    if !records.is_empty() || matches!(state.phase, Phase::Merges(_)) {
                        return Ok(ChangePage {
                            checkpoint: state.checkpoint(),
                            next: Some(PageToken(state.token()?)),
                            records,
                        });
                    }
                }
                Phase::Deleted(token) => {
                    let (page, date) = self
                        .feed("/rest/v1/activities/deletedleads.json", &[], &token)
                        .await?;
                    let deleted = state.deletions(&page.result)?;
                    let records: Vec<Record> = deleted
                        .iter()
                        .map(|(id, at)| {
                            let mut r = Record::new(id.to_string(), cursor(*at, *id).modified_at);
                            r.archived = true;
                            r
                        })
                        .collect();
                    state.delivered(records.iter().map(Record::cursor));
                    if page.more_result {
                        state.phase = Phase::Deleted(Self::next_token(&page)?);
                    } else {
                        state.side_feed_done(date);
                    }
                    if !records.is_empty() || matches!(state.phase, Phase::Deleted(_)) {
                        return Ok(ChangePage {
                            checkpoint: state.checkpoint(),
                            next: Some(PageToken(state.token()?)),
                            records,
                        });
                    }
                }
                Phase::Main(token) => {
                    let watched = if fields.is_empty() {
                        "email".to_owned()
                    } else {
                        fields.join(",")
                    };
                    let (page, _) = self
                        .feed(
                            "/rest/v1/activities/leadchanges.json",
                            &[("fields", watched)],
                            &token,
                        )
                        .await?;
                    let to_read = state.changed(&page.result)?;
                    let records = self.records(&to_read, fields, None).await?;
                    state.delivered(records.iter().map(Record::cursor));
                    if page.more_result {
                        state.phase = Phase::Main(Self::next_token(&page)?);
                        return Ok(ChangePage {
                            checkpoint: state.checkpoint(),
                            next: Some(PageToken(state.token()?)),
                            records,
                        });
                    }
                    return Ok(ChangePage {
                        checkpoint: state.final_checkpoint(),
                        next: None,
                        records,
                    });
                }
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
        check_object(object)?;
        // Marketo's filterValues is comma-separated: a value holding a
        // comma cannot be asked for (and no email or id holds one).
        let values: Vec<String> = values
            .iter()
            .filter(|v| !v.is_empty() && !v.contains(','))
            .cloned()
            .collect();
        if values.is_empty() {
            return Ok(Vec::new());
        }
        let mut wanted: Vec<String> = fields.to_vec();
        for extra in [key_field, "updatedAt"] {
            if !wanted.iter().any(|f| f == extra) {
                wanted.push(extra.to_owned());
            }
        }
        let leads = self.read_leads(key_field, &values, &wanted).await?;
        Ok(leads
            .into_iter()
            .filter_map(|lead| {
                let id = lead.get("id").and_then(id_text)?;
                let modified = lead
                    .get("updatedAt")
                    .and_then(Value::as_str)
                    .and_then(parse)
                    .unwrap_or(Timestamp::UNIX_EPOCH);
                let mut record = Record::new(id, modified);
                for f in fields.iter().map(String::as_str).chain([key_field]) {
                    let v = lead.get(f).cloned().unwrap_or(Value::Null);
                    record.fields.insert(f.to_owned(), v);
                }
                Some(record)
            })
            .collect())
    }

    async fn write(&self, batch: &WriteBatch) -> ConnectorResult<Vec<WriteOutcome>> {
        check_object(&batch.object)?;
        let mut outcomes: Vec<Option<WriteOutcome>> = vec![None; batch.records.len()];
        let (requests, refused) = plan(batch);
        for (i, o) in refused {
            outcomes[i] = Some(o);
        }
        for request in requests {
            let page: Page<SyncResult> = self.post("/rest/v1/leads.json", &request.body).await?;
            // Results come back in input order.
            for (n, i) in request.indexes.iter().enumerate() {
                outcomes[*i] = Some(match page.result.get(n) {
                    Some(result) => outcome(request.kind, &batch.records[*i], result),
                    None => WriteOutcome::Rejected {
                        message: "Marketo returned no result for this record".into(),
                        code: None,
                        fields: Vec::new(),
                    },
                });
            }
        }
        Ok(outcomes
            .into_iter()
            .map(|o| {
                o.unwrap_or_else(|| WriteOutcome::Rejected {
                    message: "no outcome from Marketo".into(),
                    code: None,
                    fields: Vec::new(),
                })
            })
            .collect())
    }

    async fn create_activity(&self, activity: &Activity) -> ConnectorResult<String> {
        let mut outcomes = self
            .create_activities(std::slice::from_ref(activity))
            .await?;
        match outcomes.pop() {
            Some(ActivityOutcome::Created { id }) => Ok(id),
            Some(ActivityOutcome::Rejected { message, code }) => {
                Err(ConnectorError::Rejected { message, code })
            }
            None => Err(ConnectorError::Retryable {
                message: "Marketo answered no result for the activity".into(),
                retry_after: None,
            }),
        }
    }

    async fn create_activities(
        &self,
        activities: &[Activity],
    ) -> ConnectorResult<Vec<ActivityOutcome>> {
        let mut inputs = Vec::with_capacity(activities.len());
        for a in activities {
            let note = self.note_activity(a.kind)?;
            inputs.push(Self::note_input(note, a)?);
        }
        let mut out = Vec::with_capacity(inputs.len());
        for chunk in inputs.chunks(BATCH_LIMIT) {
            let page: Page<CustomActivityResult> = self
                .post(
                    "/rest/v1/activities/external.json",
                    &json!({ "input": chunk }),
                )
                .await?;
            for n in 0..chunk.len() {
                out.push(match page.result.get(n) {
                    Some(r) => Self::activity_outcome(r),
                    None => ActivityOutcome::Rejected {
                        message: "Marketo returned no result for this activity".into(),
                        code: None,
                    },
                });
            }
        }
        Ok(out)
    }

    fn usage(&self) -> UsageSnapshot {
        self.client.usage()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refresh_token_grant_is_refused_as_misconfiguration() {
        let auth = AuthConfig::OAuth2Refresh {
            client_id: "id".into(),
            client_secret: "s".to_owned().into(),
            refresh_token: "r".to_owned().into(),
            token_url: None,
        };
        let err = MarketoConnector::new(MarketoConfig::new("https://x.mktorest.com", auth), None)
            .err()
            .expect("refused");
        assert!(matches!(err, ConnectorError::Fatal { .. }), "{err:?}");
    }

    #[test]
    fn marketo_data_types_map_to_value_types() {
        assert_eq!(value_type("email"), ValueType::Text);
        assert_eq!(value_type("currency"), ValueType::Number);
        assert_eq!(value_type("boolean"), ValueType::Bool);
        assert_eq!(value_type("datetime"), ValueType::DateTime);
        assert_eq!(value_type("reference"), ValueType::Reference);
        assert_eq!(value_type("formula"), ValueType::Other);
    }
}
