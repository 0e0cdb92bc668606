//! [`HubSpotConnector`]: the [`Connector`] contract over HubSpot's CRM v3 API.

use std::sync::Arc;

use async_trait::async_trait;
use jiff::tz::TimeZone;
use leadbridge_core::auth::RefreshTokenSink;
use leadbridge_core::http::{ApiClient, ApiResponse, Limiter, UsageSnapshot};
use leadbridge_core::{
    Activity, ActivityOutcome, ChangePage, ChangesRequest, Connector, ConnectorError,
    ConnectorResult, FieldSchema, Limits, ObjectSchema, PageToken, Record, ToolUser, ValueType,
    WriteBatch, WriteOutcome,
};
use serde::de::DeserializeOwned;
use serde_json::{json, Value};

use tokio::sync::OnceCell;
use tracing::{debug, warn};

use crate::changes::{Call, PassState, Phase, LIST_LIMIT, PAGE_LIMIT};
use crate::classify::HubSpotClassify;
use crate::config::HubSpotConfig;
use crate::page::PageSeed;
use crate::time::{from_ms, parse_ms};
use crate::wire::{
    ApiObject, BatchResponse, OwnersPage, PageResponse, Paging, PropertiesResponse, PropertyDef,
};
use crate::{is_contacts, modified_property};

/// The most inputs one batch call takes (HubSpot's documented batch limit).
pub const BATCH_LIMIT: usize = 100;

/// HubSpot CRM v3 as a [`Connector`]. Cheap to share: the engine holds it as
/// `Arc<dyn Connector>`; every call goes through one [`ApiClient`] (one rate
/// limiter, one daily budget) plus a second limiter for the search endpoints,
/// which HubSpot meters separately (5 requests per second per account).
pub struct HubSpotConnector {
    pub(crate) base_url: String,
    pub(crate) config: HubSpotConfig,
    pub(crate) client: ApiClient,
    pub(crate) search_limiter: Limiter,
    classify: HubSpotClassify,
    /// Set once the account's settings were read (at first use).
    account: OnceCell<()>,
}

/// `GET /account-info/v3/details`, the part the connector uses.
#[derive(Debug, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct AccountDetails {
    time_zone: String,
}

impl HubSpotConnector {
    /// A connector for `config`; `sink` receives refresh tokens the token
    /// endpoint rotates, so the engine can persist them.
    pub fn new(
        config: HubSpotConfig,
        sink: Option<Arc<dyn RefreshTokenSink>>,
    ) -> ConnectorResult<Self> {
        let auth = config.auth.token_source(&config.token_defaults(), sink)?;
        let classify = HubSpotClassify::default();
        let client = ApiClient::new(
            &config.http,
            auth,
            Arc::new(classify.clone()),
            TimeZone::UTC,
        )?;
        Ok(Self {
            classify,
            account: OnceCell::new(),
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

    /// Reads the account's time zone once, so the daily budget (and a daily
    /// 429's reset time) turn over at the account's midnight, as HubSpot's
    /// daily limit does: at `describe` (the daemon's start-up check) and at
    /// the first call of a connector with a daily cap, whose budget depends
    /// on it. A connector without a cap and never described keeps UTC for
    /// a daily 429's reset time, saving the call. An account that cannot say
    /// (a token without the `oauth` scope) keeps UTC, with a warning;
    /// passing failures are returned, and the read is tried again next use.
    pub(crate) async fn account(&self) -> ConnectorResult<()> {
        if self.config.http.daily_cap.is_none() {
            return Ok(());
        }
        self.read_account().await
    }

    /// The one read of `GET /account-info/v3/details` (see [`Self::account`]).
    pub(crate) async fn read_account(&self) -> ConnectorResult<()> {
        self.account
            .get_or_try_init(|| async {
                let url = self.url("/account-info/v3/details");
                let details = self
                    .client
                    .execute_unmetered(
                        "GET /account-info/v3/details",
                        |http| http.get(&url),
                        |response: ApiResponse| response.json::<AccountDetails>(),
                    )
                    .await;
                match details.map(|d| (TimeZone::get(&d.time_zone), d.time_zone)) {
                    Ok((Ok(tz), name)) => {
                        debug!(time_zone = %name, "the daily limit resets at midnight in the account's zone");
                        self.classify.set_time_zone(tz.clone());
                        self.client.set_budget_time_zone(tz);
                    }
                    Ok((Err(_), name)) => {
                        warn!(time_zone = %name, "unknown account time zone; the daily budget resets at midnight UTC")
                    }
                    Err(e @ ConnectorError::Fatal { .. }) | Err(e @ ConnectorError::Rejected { .. }) => {
                        warn!(error = %e, "cannot read the account's time zone; the daily budget resets at midnight UTC")
                    }
                    Err(e) => return Err(e),
                }
                Ok(())
            })
            .await
            .map(|_| ())
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    pub(crate) async fn post<T: DeserializeOwned>(
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
}

/// A HubSpot property's type in the engine's terms: `type` decides, and
/// `fieldType` tells a multi-select (`checkbox`) from a single one; an
/// enumeration whose options live elsewhere (`externalOptions`: owners) is
/// a reference to another record.
fn value_type(p: &PropertyDef) -> ValueType {
    match p.kind.as_str() {
        "enumeration" if p.external_options => ValueType::Reference,
        "enumeration" if p.field_type == "checkbox" => ValueType::MultiEnumeration,
        "enumeration" => ValueType::Enumeration,
        "number" => ValueType::Number,
        "bool" => ValueType::Bool,
        "date" => ValueType::Date,
        "datetime" => ValueType::DateTime,
        "string" | "phone_number" => ValueType::Text,
        _ => ValueType::Other,
    }
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
        self.read_account().await?;
        let response: PropertiesResponse = self
            .get(&format!("/crm/v3/properties/{object}"), &[])
            .await?;
        let fields = response
            .results
            .into_iter()
            .map(|p| {
                let writable = !p.calculated
                    && !p
                        .modification_metadata
                        .as_ref()
                        .is_some_and(|m| m.read_only_value);
                // HubSpot enforces unique emails on contacts although the
                // property definition does not flag it.
                let unique = p.has_unique_value
                    || p.name == "hs_object_id"
                    || (is_contacts(object) && p.name == "email");
                FieldSchema {
                    value_type: value_type(&p),
                    external_id: p.has_unique_value,
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
        self.account().await?;
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
                for extra in [Some(prop), crate::changes::merged_property(&request.object)]
                    .into_iter()
                    .flatten()
                {
                    if !wanted.iter().any(|f| f == extra) {
                        wanted.push(extra.to_owned());
                    }
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
        self.account().await?;
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
        self.account().await?;
        self.write_batch(batch).await
    }

    async fn create_activity(&self, activity: &Activity) -> ConnectorResult<String> {
        self.account().await?;
        let (object, body) = crate::activities::input(activity, None)?;
        let created: ApiObject = self
            .post(&format!("/crm/v3/objects/{object}"), &body, None)
            .await?;
        Ok(created.id)
    }

    async fn create_activities(
        &self,
        activities: &[Activity],
    ) -> ConnectorResult<Vec<ActivityOutcome>> {
        self.account().await?;
        self.create_activities_batched(activities).await
    }

    async fn users(&self) -> ConnectorResult<Option<Vec<ToolUser>>> {
        self.account().await?;
        let mut users = Vec::new();
        for archived in [false, true] {
            let mut after: Option<String> = None;
            loop {
                let mut query = vec![
                    ("limit", "500".to_owned()),
                    ("archived", archived.to_string()),
                ];
                if let Some(a) = &after {
                    query.push(("after", a.clone()));
                }
                let page: OwnersPage = self.get("/crm/v3/owners", &query).await?;
                users.extend(page.results.into_iter().map(|o| {
                    ToolUser {
                        name: [o.first_name, o.last_name]
                            .into_iter()
                            .flatten()
                            .filter(|n| !n.is_empty())
                            .collect::<Vec<_>>()
                            .join(" "),
                        id: o.id,
                        email: o.email,
                        active: !archived && !o.archived,
                    }
                }));
                after = Paging::after(&page.paging);
                if after.is_none() {
                    break;
                }
            }
        }
        Ok(Some(users))
    }

    fn usage(&self) -> UsageSnapshot {
        self.client.usage()
    }
}
