//! HubSpot's JSON shapes as the connector reads them. Every field HubSpot may
//! leave out is optional here: its error-handling guide asks clients to treat
//! every error field as optional, and responses differ between objects.

use serde::Deserialize;
use serde_json::{Map, Value};

/// One CRM object (`SimplePublicObject` and its upsert/with-associations variants).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ApiObject {
    pub id: String,
    #[serde(default, deserialize_with = "properties")]
    pub properties: Map<String, Value>,
    #[serde(default)]
    pub updated_at: Option<String>,
    #[serde(default)]
    pub archived: bool,
    #[serde(default)]
    pub archived_at: Option<String>,
    /// Upsert only: whether the record was created by this call.
    #[serde(default)]
    pub new: Option<bool>,
    #[serde(default)]
    pub object_write_trace_id: Option<String>,
}

/// Typical number of properties an object comes back with: the ones a
/// pipeline maps plus HubSpot's three defaults.
const PROPERTIES_HINT: usize = 16;

/// An object's properties into a map sized for them up front: a change
/// pass decodes 200 objects a page, and growing each map from empty was a
/// measurable share of the daemon's CPU.
fn properties<'de, D>(deserializer: D) -> Result<Map<String, Value>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    struct Visitor;
    impl<'de> serde::de::Visitor<'de> for Visitor {
        type Value = Map<String, Value>;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("an object of properties")
        }
        fn visit_unit<E>(self) -> Result<Self::Value, E> {
            Ok(Map::new())
        }
        fn visit_map<A>(self, mut access: A) -> Result<Self::Value, A::Error>
        where
            A: serde::de::MapAccess<'de>,
        {
            let hint = access.size_hint().unwrap_or(PROPERTIES_HINT);
            let mut map = Map::with_capacity(hint);
            while let Some((name, value)) = access.next_entry::<String, Value>()? {
                map.insert(name, value);
            }
            Ok(map)
        }
    }
    deserializer.deserialize_any(Visitor)
}

/// `paging.next` of a list or search response.
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct Paging {
    #[serde(default)]
    pub next: Option<NextPage>,
}

/// The cursor of the next page; a string since SDK v11, accepted as a number too.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct NextPage {
    pub after: Value,
}

impl Paging {
    /// The `after` token of the next page, as text.
    pub fn after(this: &Option<Paging>) -> Option<String> {
        match &this.as_ref()?.next.as_ref()?.after {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        }
    }
}

/// A search or list page.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct PageResponse {
    /// Search only: how many records match the query in all.
    #[serde(default)]
    pub total: Option<u64>,
    #[serde(default)]
    pub results: Vec<ApiObject>,
    #[serde(default)]
    pub paging: Option<Paging>,
}

/// A batch response, complete (200/201) or multi-status (207).
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct BatchResponse {
    #[serde(default)]
    pub results: Vec<ApiObject>,
    #[serde(default)]
    pub errors: Vec<StandardError>,
}

/// HubSpot's error body, top-level or one entry of a batch's `errors`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct StandardError {
    #[serde(default)]
    pub category: Option<String>,
    #[serde(default)]
    pub message: Option<String>,
    #[serde(default)]
    pub context: Option<Map<String, Value>>,
    #[serde(default)]
    pub errors: Vec<ErrorDetail>,
    #[serde(default)]
    pub object_write_trace_id: Option<String>,
    #[serde(default)]
    pub policy_name: Option<String>,
}

impl StandardError {
    /// The values of one `context` key (`objectWriteTraceId`, `ids`, `propertyName`).
    pub fn context_values(&self, key: &str) -> Vec<String> {
        context_values(self.context.as_ref(), key)
    }
}

/// One `errors[]` detail.
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct ErrorDetail {
    #[serde(default)]
    pub code: Option<String>,
    #[serde(default, rename = "in")]
    pub in_field: Option<String>,
    #[serde(default)]
    pub context: Option<Map<String, Value>>,
}

pub(crate) fn context_values(context: Option<&Map<String, Value>>, key: &str) -> Vec<String> {
    match context.and_then(|c| c.get(key)) {
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(|v| match v {
                Value::String(s) => Some(s.clone()),
                Value::Number(n) => Some(n.to_string()),
                _ => None,
            })
            .collect(),
        Some(Value::String(s)) => vec![s.clone()],
        _ => Vec::new(),
    }
}

/// `GET /crm/v3/properties/{object}`.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct PropertiesResponse {
    #[serde(default)]
    pub results: Vec<PropertyDef>,
}

/// One property definition.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct PropertyDef {
    pub name: String,
    #[serde(default, rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub options: Vec<PropertyOption>,
    #[serde(default)]
    pub field_type: String,
    #[serde(default)]
    pub external_options: bool,
    #[serde(default)]
    pub has_unique_value: bool,
    #[serde(default)]
    pub calculated: bool,
    #[serde(default)]
    pub modification_metadata: Option<ModificationMetadata>,
}

/// One enumeration option.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct PropertyOption {
    pub value: String,
}

/// Whether the property's value can be written.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ModificationMetadata {
    #[serde(default)]
    pub read_only_value: bool,
}

/// `GET /crm/v3/owners`.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct OwnersPage {
    #[serde(default)]
    pub results: Vec<Owner>,
    #[serde(default)]
    pub paging: Option<Paging>,
}

/// One owner: a user who can own records.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Owner {
    pub id: String,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub first_name: Option<String>,
    #[serde(default)]
    pub last_name: Option<String>,
    #[serde(default)]
    pub archived: bool,
}
