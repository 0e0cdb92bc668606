//! [`PipedriveConnector`]: the [`Connector`] contract over Pipedrive's API
//! (v2 where it exists, v1 otherwise).

use std::collections::BTreeSet;
use std::sync::Arc;

use async_trait::async_trait;
use futures::stream::{self, StreamExt};
use jiff::tz::TimeZone;
use leadbridge_core::auth::{AuthConfig, ClientAuth, RefreshTokenSink};
use leadbridge_core::http::{ApiClient, ApiResponse, Limiter, UsageSnapshot};
use leadbridge_core::{
    Activity, ActivityKind, ChangePage, ChangesRequest, Connector, ConnectorError, ConnectorResult,
    Limits, ObjectSchema, PageToken, Record, ToolUser, WriteBatch, WriteOutcome, WriteRecord,
};
use reqwest::header::HeaderName;
use reqwest::Method;
use serde_json::{json, Value};

use crate::classify::PipedriveClassify;
use crate::config::{PipedriveConfig, API_TOKEN_HEADER};
use crate::fields::{self, id_text, is_custom_key, Object, Shape};
use crate::pass::{self, PassState, RawPage};
use crate::schema;
use crate::time;
use crate::wire::{Envelope, SearchData};

/// The most entities one list page returns (v2 `limit` max 500; the same
/// is asked of v1 lists).
pub const PAGE_LIMIT: usize = 500;
/// The most ids `GET /api/v2/persons?ids=` takes.
const IDS_LIMIT: usize = 100;
/// The most custom-field keys v2's `custom_fields` filter takes; with more
/// requested, all custom fields are returned instead.
const CUSTOM_FIELDS_FILTER_MAX: usize = 15;

/// Pipedrive as a [`Connector`]. Persons, leads and deals; every call goes
/// through one [`ApiClient`] (general burst limit, daily cap) plus a second
/// limiter for search, which Pipedrive meters separately.
pub struct PipedriveConnector {
    config: PipedriveConfig,
    client: ApiClient,
    search_limiter: Limiter,
}

/// What one write does.
enum WriteKind {
    Update(String),
    Create,
}

impl PipedriveConnector {
    /// A connector for `config`; `sink` receives refresh tokens the OAuth
    /// server rotates, so the engine can persist them. An API token is sent
    /// as `x-api-token`, an OAuth access token as `Authorization: Bearer`;
    /// the token endpoint gets the client credentials as HTTP Basic.
    pub fn new(
        config: PipedriveConfig,
        sink: Option<Arc<dyn RefreshTokenSink>>,
    ) -> ConnectorResult<Self> {
        let header = matches!(config.auth, AuthConfig::StaticToken { .. })
            .then(|| HeaderName::from_static(API_TOKEN_HEADER));
        let auth = config.auth.token_source_with(
            &config.token_defaults(),
            ClientAuth::BasicHeader,
            sink,
        )?;
        let client = ApiClient::with_token_header(
            &config.http,
            auth,
            Arc::new(PipedriveClassify),
            TimeZone::UTC,
            header,
        )?;
        Ok(Self {
            search_limiter: Limiter::new(config.search_rate_limit),
            config,
            client,
        })
    }

    /// The configuration it runs with.
    pub fn config(&self) -> &PipedriveConfig {
        &self.config
    }

    fn label(url: &str, method: &Method) -> String {
        let path = url::Url::parse(url)
            .map(|u| u.path().to_owned())
            .unwrap_or_default();
        // Ids out of labels, so counts group by endpoint.
        let path: Vec<&str> = path
            .split('/')
            .map(|s| {
                if s.bytes().all(|b| b.is_ascii_digit()) && !s.is_empty() || s.len() == 36 {
                    "{id}"
                } else {
                    s
                }
            })
            .collect();
        format!("{method} {}", path.join("/"))
    }

    async fn get(
        &self,
        url: String,
        query: Vec<(&str, String)>,
        search: bool,
    ) -> ConnectorResult<Envelope<Value>> {
        Ok(self.get_dated(url, query, search).await?.0)
    }

    /// A GET, with Pipedrive's clock from the `Date` header.
    async fn get_dated(
        &self,
        url: String,
        query: Vec<(&str, String)>,
        search: bool,
    ) -> ConnectorResult<(Envelope<Value>, Option<jiff::Timestamp>)> {
        let label = Self::label(&url, &Method::GET);
        let extra = search.then_some(&self.search_limiter);
        self.client
            .execute(
                &label,
                extra,
                |http| http.get(&url).query(&query),
                |response: ApiResponse| {
                    let date = response.header("date").and_then(|d| {
                        jiff::fmt::strtime::parse("%a, %d %b %Y %H:%M:%S GMT", d)
                            .ok()?
                            .to_datetime()
                            .ok()?
                            .to_zoned(TimeZone::UTC)
                            .ok()
                            .map(|z| z.timestamp())
                    });
                    Ok((response.json::<Envelope<Value>>()?, date))
                },
            )
            .await
    }

    /// A data-changing call; `once` for creates (never re-sent blind).
    async fn send(
        &self,
        method: Method,
        url: String,
        body: &Value,
        once: bool,
    ) -> ConnectorResult<Value> {
        let label = Self::label(&url, &method);
        let build = |http: &reqwest::Client| http.request(method.clone(), &url).json(body);
        let decode = |response: ApiResponse| response.json::<Envelope<Value>>().map(|e| e.data);
        if once {
            self.client.execute_once(&label, None, build, decode).await
        } else {
            self.client.execute(&label, None, build, decode).await
        }
    }

    fn object(name: &str) -> ConnectorResult<Object> {
        Object::parse(name).ok_or_else(|| {
            ConnectorError::fatal(format!(
                "Pipedrive has no object {name:?} here (persons, leads, deals)"
            ))
        })
    }

    /// A v2 list page ordered by `update_time` (persons, deals).
    async fn v2_page(
        &self,
        object: Object,
        request: &ChangesRequest,
        state: &PassState,
    ) -> ConnectorResult<RawPage> {
        let mut query = vec![
            ("sort_by", "update_time".to_owned()),
            ("sort_direction", "asc".to_owned()),
            ("limit", PAGE_LIMIT.to_string()),
        ];
        if let Some(start) = pass::lower_bound(request) {
            query.push(("updated_since", time::rfc3339(start)));
        }
        if let Some(cursor) = &state.vendor_cursor {
            query.push(("cursor", cursor.clone()));
        }
        let custom: Vec<&String> = request.fields.iter().filter(|f| is_custom_key(f)).collect();
        if !custom.is_empty() && custom.len() <= CUSTOM_FIELDS_FILTER_MAX {
            let keys: Vec<&str> = custom.iter().map(|s| s.as_str()).collect();
            query.push(("custom_fields", keys.join(",")));
        }
        if object == Object::Deals && request.include_archived {
            // Deleted deals stay readable for 30 days through `status=deleted`
            // (developers.pipedrive.com/docs/api/v1/Deals, changelog
            // "permanent deletion logic for 6 core entities").
            query.push(("status", "open,won,lost,deleted".to_owned()));
        }
        let (envelope, server_time) = self
            .get_dated(self.config.v2(&format!("/{}", object.name())), query, false)
            .await?;
        let records = entities(&envelope.data)
            .iter()
            .filter_map(|e| fields::record(Shape::V2, e, &request.fields))
            .collect();
        let next_cursor = envelope.additional_data.and_then(|a| a.next_cursor);
        Ok(RawPage {
            server_time,
            records,
            more: next_cursor.is_some(),
            next_cursor,
        })
    }

    /// A v1 offset page: leads by `update_time`, or persons (live and
    /// deleted) from `/v1/recents`.
    async fn v1_page(
        &self,
        object: Object,
        request: &ChangesRequest,
        state: &PassState,
    ) -> ConnectorResult<RawPage> {
        let anchor = state
            .anchor
            .and_then(|s| jiff::Timestamp::from_second(s).ok())
            .or_else(|| pass::lower_bound(request));
        let (url, mut query) = if object == Object::Leads {
            let mut q = vec![("sort", "update_time ASC,id ASC".to_owned())];
            if let Some(a) = anchor {
                q.push(("updated_since", time::rfc3339(a)));
            }
            (self.config.v1("/leads"), q)
        } else {
            let since = anchor.unwrap_or(jiff::Timestamp::UNIX_EPOCH);
            (
                self.config.v1("/recents"),
                vec![
                    ("since_timestamp", time::v1(since)),
                    ("items", "person".to_owned()),
                ],
            )
        };
        query.push(("start", state.skip.to_string()));
        query.push(("limit", PAGE_LIMIT.to_string()));
        let (envelope, server_time) = self.get_dated(url, query, false).await?;
        let (shape, items): (Shape, Vec<Value>) = if object == Object::Leads {
            (Shape::Lead, entities(&envelope.data).to_vec())
        } else {
            (
                Shape::V1Person,
                entities(&envelope.data)
                    .iter()
                    .filter(|i| i.get("item").and_then(Value::as_str) == Some("person"))
                    .filter_map(|i| i.get("data").cloned())
                    .collect(),
            )
        };
        let records = items
            .iter()
            .filter_map(|e| fields::record(shape, e, &request.fields))
            .collect();
        Ok(RawPage {
            server_time,
            records,
            next_cursor: None,
            more: envelope.additional_data.is_some_and(|a| a.more_v1()),
        })
    }

    /// Ids of live persons whose `field` matches `term` exactly (one search call).
    async fn search_persons(&self, field: &str, term: &str) -> ConnectorResult<Vec<String>> {
        let search_field = match field {
            "email" | "phone" | "name" | "notes" => field,
            key if is_custom_key(key) => "custom_fields",
            other => {
                return Err(ConnectorError::fatal(format!(
                    "Pipedrive cannot look persons up by {other:?} (email, phone, name or a custom field)"
                )))
            }
        };
        let envelope = self
            .get(
                self.config.v2("/persons/search"),
                vec![
                    ("term", term.to_owned()),
                    ("fields", search_field.to_owned()),
                    ("exact_match", "true".to_owned()),
                    ("limit", "100".to_owned()),
                ],
                true,
            )
            .await?;
        let data: SearchData = serde_json::from_value(envelope.data).unwrap_or_default();
        Ok(data
            .items
            .iter()
            .filter_map(|i| i.item.get("id").and_then(id_text))
            .collect())
    }

    /// Live persons by id, 100 a call.
    async fn persons_by_id(
        &self,
        ids: &[String],
        fields: &[String],
    ) -> ConnectorResult<Vec<Record>> {
        let mut out = Vec::new();
        for chunk in ids.chunks(IDS_LIMIT) {
            let envelope = self
                .get(
                    self.config.v2("/persons"),
                    vec![("ids", chunk.join(",")), ("limit", IDS_LIMIT.to_string())],
                    false,
                )
                .await?;
            out.extend(
                entities(&envelope.data)
                    .iter()
                    .filter_map(|e| fields::record(Shape::V2, e, fields)),
            );
        }
        Ok(out)
    }

    /// Live leads or deals of one person or organization.
    async fn linked(
        &self,
        object: Object,
        key_field: &str,
        value: &str,
        fields: &[String],
    ) -> ConnectorResult<Vec<Record>> {
        let (url, param, shape) = match (object, key_field) {
            (Object::Leads, "person_id" | "organization_id") => {
                (self.config.v1("/leads"), key_field, Shape::Lead)
            }
            (Object::Deals, "person_id") => (self.config.v2("/deals"), "person_id", Shape::V2),
            (Object::Deals, "org_id" | "organization_id") => {
                (self.config.v2("/deals"), "org_id", Shape::V2)
            }
            _ => {
                return Err(ConnectorError::fatal(format!(
                    "Pipedrive cannot look {} up by {key_field:?}",
                    object.name()
                )))
            }
        };
        let envelope = self
            .get(
                url,
                vec![(param, value.to_owned()), ("limit", PAGE_LIMIT.to_string())],
                false,
            )
            .await?;
        Ok(entities(&envelope.data)
            .iter()
            .filter_map(|e| fields::record(shape, e, fields))
            .collect())
    }

    /// The id an existing record with this key has, if any.
    async fn find_by_key(
        &self,
        object: Object,
        key_field: &str,
        key: &str,
    ) -> ConnectorResult<Option<String>> {
        match object {
            Object::Persons => Ok(self
                .search_persons(key_field, key)
                .await?
                .into_iter()
                .next()),
            _ => Ok(self
                .linked(object, key_field, key, &[])
                .await?
                .into_iter()
                .find(|r| !r.archived)
                .map(|r| r.id)),
        }
    }

    async fn write_one(
        &self,
        object: Object,
        batch: &WriteBatch,
        record: &WriteRecord,
    ) -> ConnectorResult<WriteOutcome> {
        let mut fields = record.fields.clone();
        let kind = match (&record.id, &record.key, &batch.key_field) {
            (Some(id), _, _) => WriteKind::Update(id.clone()),
            (None, Some(key), Some(key_field)) => {
                match self.find_by_key(object, key_field, key).await? {
                    Some(id) => WriteKind::Update(id),
                    None => {
                        let value = if key_field.ends_with("_id") {
                            key.parse::<i64>()
                                .map(Value::from)
                                .unwrap_or_else(|_| json!(key))
                        } else {
                            json!(key)
                        };
                        fields.insert(key_field.clone(), value);
                        WriteKind::Create
                    }
                }
            }
            _ => WriteKind::Create,
        };
        let body = match object {
            Object::Persons => fields::person_body(&fields),
            _ => fields::lead_body(&fields),
        };
        let (method, url, once) = match (&kind, object) {
            (WriteKind::Update(id), Object::Persons) => (
                Method::PATCH,
                self.config.v2(&format!("/persons/{id}")),
                false,
            ),
            (WriteKind::Update(id), _) => (
                Method::PATCH,
                self.config.v1(&format!("/leads/{id}")),
                false,
            ),
            (WriteKind::Create, Object::Persons) => {
                (Method::POST, self.config.v2("/persons"), true)
            }
            (WriteKind::Create, _) => (Method::POST, self.config.v1("/leads"), true),
        };
        match self.send(method, url, &body, once).await {
            Ok(data) => {
                let id =
                    data.get("id")
                        .and_then(id_text)
                        .ok_or_else(|| ConnectorError::Retryable {
                            message: "Pipedrive answered a write without the record's id".into(),
                            retry_after: None,
                        })?;
                Ok(match kind {
                    WriteKind::Update(_) => WriteOutcome::Updated { id },
                    WriteKind::Create => WriteOutcome::Created { id },
                })
            }
            Err(ConnectorError::Rejected { message, code }) => Ok(match (&kind, code.as_deref()) {
                // A record deleted (or merged away: the loser is deleted, and
                // the API shows no survivor) answers 404 to an update.
                (WriteKind::Update(_), Some("not_found")) => WriteOutcome::Deleted { message },
                _ => WriteOutcome::Rejected {
                    message,
                    code,
                    fields: Vec::new(),
                },
            }),
            Err(e) => Err(e),
        }
    }
}

/// The entity list of a `data` (null on an empty v1 list).
fn entities(data: &Value) -> &[Value] {
    data.as_array().map(Vec::as_slice).unwrap_or(&[])
}

#[async_trait]
impl Connector for PipedriveConnector {
    fn kind(&self) -> &'static str {
        "pipedrive"
    }

    fn limits(&self) -> Limits {
        Limits {
            page_size: PAGE_LIMIT,
            // No batch endpoint: a batch is one call per record, so the
            // engine's batches are only as large as one cycle should hold.
            batch_size: 100,
            lookup_batch_size: 100,
            requests_per_second: self
                .config
                .http
                .rate_limit
                .map(|r| r.per_second())
                .unwrap_or(f64::INFINITY),
            daily_cap: self.config.http.daily_cap,
            default_overlap: self.config.overlap,
        }
    }

    async fn describe(&self, object: &str) -> ConnectorResult<ObjectSchema> {
        let object = Self::object(object)?;
        let path = match object {
            Object::Persons => "/personFields",
            // Leads inherit the deal fields' custom fields (addLead spec).
            Object::Leads | Object::Deals => "/dealFields",
        };
        let envelope = self
            .get(
                self.config.v1(path),
                vec![("start", "0".into()), ("limit", PAGE_LIMIT.to_string())],
                false,
            )
            .await?;
        Ok(schema::object_schema(object, entities(&envelope.data)))
    }

    async fn changes(
        &self,
        request: &ChangesRequest,
        page: Option<&PageToken>,
    ) -> ConnectorResult<ChangePage> {
        let object = Self::object(&request.object)?;
        let state = PassState::from_token(page)?;
        let (raw, offset) = match object {
            Object::Persons if request.include_archived => {
                (self.v1_page(object, request, &state).await?, true)
            }
            Object::Leads => (self.v1_page(object, request, &state).await?, true),
            _ => (self.v2_page(object, request, &state).await?, false),
        };
        Ok(pass::advance(request, &state, raw, offset))
    }

    async fn lookup(
        &self,
        object: &str,
        key_field: &str,
        values: &[String],
        fields: &[String],
    ) -> ConnectorResult<Vec<Record>> {
        let object = Self::object(object)?;
        let mut wanted: Vec<String> = fields.to_vec();
        if !wanted.iter().any(|f| f == key_field) {
            wanted.push(key_field.to_owned());
        }
        let values: Vec<&String> = values.iter().collect::<BTreeSet<_>>().into_iter().collect();
        match object {
            Object::Persons => {
                // Pipedrive has no batch read by e-mail: one exact search per value.
                let owned: Vec<String> = values.iter().map(|v| v.to_string()).collect();
                let found: Vec<ConnectorResult<Vec<String>>> = stream::iter(owned)
                    .map(|v| async move { self.search_persons(key_field, &v).await })
                    .buffered(self.config.write_concurrency.max(1))
                    .collect()
                    .await;
                let mut ids = BTreeSet::new();
                for f in found {
                    ids.extend(f?);
                }
                if ids.is_empty() {
                    return Ok(Vec::new());
                }
                let ids: Vec<String> = ids.into_iter().collect();
                let keys: BTreeSet<String> = values.iter().map(|v| v.to_lowercase()).collect();
                let records = self.persons_by_id(&ids, &wanted).await?;
                // Search matches any of a person's addresses; keep those whose
                // key field (the primary address) is one asked for.
                Ok(records
                    .into_iter()
                    .filter(|r| {
                        r.text(key_field)
                            .is_some_and(|k| keys.contains(&k.to_lowercase()))
                    })
                    .collect())
            }
            _ => {
                let mut out = Vec::new();
                for v in values {
                    out.extend(
                        self.linked(object, key_field, v, &wanted)
                            .await?
                            .into_iter()
                            .filter(|r| !r.archived),
                    );
                }
                Ok(out)
            }
        }
    }

    async fn write(&self, batch: &WriteBatch) -> ConnectorResult<Vec<WriteOutcome>> {
        let object = Self::object(&batch.object)?;
        if object == Object::Deals {
            return Err(ConnectorError::fatal(
                "deals are read for outcomes only; write persons or leads",
            ));
        }
        let results: Vec<ConnectorResult<WriteOutcome>> = stream::iter(0..batch.records.len())
            .map(|i| self.write_one(object, batch, &batch.records[i]))
            .buffered(self.config.write_concurrency.max(1))
            .collect()
            .await;
        // Every write ran to its end; one whose answer was lost makes the
        // whole batch unknown (the engine replays it looking keys up first).
        if let Some(unknown) = results
            .iter()
            .find(|r| matches!(r, Err(ConnectorError::OutcomeUnknown { .. })))
        {
            return Err(unknown
                .clone()
                .err()
                .unwrap_or_else(|| ConnectorError::fatal("unreachable")));
        }
        results.into_iter().collect()
    }

    async fn create_activity(&self, activity: &Activity) -> ConnectorResult<String> {
        let object = Self::object(&activity.parent_object)?;
        let parent = &activity.parent_id;
        let numeric = || {
            parent.parse::<i64>().map_err(|_| {
                ConnectorError::rejected(format!(
                    "{parent:?} is not a Pipedrive {} id",
                    object.name()
                ))
            })
        };
        let data = match activity.kind {
            ActivityKind::Note => {
                let mut body = json!({
                    "content": format!("<b>{}</b><br>{}", activity.subject, activity.body),
                });
                match object {
                    Object::Persons => body["person_id"] = json!(numeric()?),
                    Object::Deals => body["deal_id"] = json!(numeric()?),
                    Object::Leads => body["lead_id"] = json!(parent),
                }
                self.send(Method::POST, self.config.v1("/notes"), &body, true)
                    .await?
            }
            ActivityKind::Task => {
                let mut body = json!({
                    "subject": activity.subject,
                    "type": "task",
                    "note": activity.body,
                    "done": false,
                });
                if let Some(owner) = &activity.owner {
                    body["owner_id"] = json!(owner.parse::<i64>().map_err(|_| {
                        ConnectorError::rejected(format!("{owner:?} is not a Pipedrive user id"))
                    })?);
                }
                if let Some(due) = activity.due {
                    let utc = due.to_zoned(TimeZone::UTC);
                    body["due_date"] = json!(utc.strftime("%Y-%m-%d").to_string());
                    body["due_time"] = json!(utc.strftime("%H:%M").to_string());
                }
                match object {
                    Object::Persons => {
                        body["participants"] = json!([{ "person_id": numeric()?, "primary": true }])
                    }
                    Object::Deals => body["deal_id"] = json!(numeric()?),
                    Object::Leads => body["lead_id"] = json!(parent),
                }
                self.send(Method::POST, self.config.v2("/activities"), &body, true)
                    .await?
            }
        };
        data.get("id")
            .and_then(id_text)
            .ok_or_else(|| ConnectorError::Retryable {
                message: "Pipedrive answered an activity without its id".into(),
                retry_after: None,
            })
    }

    async fn users(&self) -> ConnectorResult<Option<Vec<ToolUser>>> {
        let envelope = self
            .get(self.config.v1("/users"), Vec::new(), false)
            .await?;
        Ok(Some(
            entities(&envelope.data)
                .iter()
                .filter_map(|u| {
                    Some(ToolUser {
                        id: id_text(u.get("id")?)?,
                        name: u
                            .get("name")
                            .and_then(Value::as_str)
                            .unwrap_or_default()
                            .to_owned(),
                        email: u.get("email").and_then(Value::as_str).map(str::to_owned),
                        active: u
                            .get("active_flag")
                            .and_then(Value::as_bool)
                            .unwrap_or(false),
                    })
                })
                .collect(),
        ))
    }

    fn usage(&self) -> UsageSnapshot {
        self.client.usage()
    }
}
