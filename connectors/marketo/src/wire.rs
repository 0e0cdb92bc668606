//! Marketo's JSON bodies, as the connector reads them. Only the fields the
//! connector uses are declared; the rest is skipped while parsing.

use serde::{Deserialize, Deserializer};
use serde_json::{Map, Value};

use crate::classify::ApiError;

/// A code written as a quoted integer (`"601"`, response errors and record
/// reasons) or as a number (warnings): kept as text.
pub(crate) fn code_text<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::String(s) => s,
        Value::Null => String::new(),
        other => other.to_string(),
    })
}

/// The envelope of every Lead Database answer.
#[derive(Debug, Deserialize)]
pub(crate) struct Page<T> {
    #[serde(default = "Vec::new")]
    pub result: Vec<T>,
    #[serde(default, rename = "nextPageToken")]
    pub next_page_token: Option<String>,
    #[serde(default, rename = "moreResult")]
    pub more_result: bool,
}

/// `GET /rest/v1/activities/pagingtoken.json`: only the token.
#[derive(Debug, Deserialize)]
pub(crate) struct TokenAnswer {
    #[serde(default, rename = "nextPageToken")]
    pub next_page_token: Option<String>,
}

/// One activity of `activities.json`, `leadchanges.json` or
/// `deletedleads.json`.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Activity {
    #[serde(rename = "leadId")]
    pub lead_id: u64,
    #[serde(rename = "activityDate")]
    pub activity_date: String,
    #[serde(rename = "activityTypeId")]
    pub activity_type_id: i64,
    #[serde(default)]
    pub attributes: Vec<Attribute>,
}

impl Activity {
    /// The value of the secondary attribute called `name`.
    pub fn attribute(&self, name: &str) -> Option<&Value> {
        self.attributes
            .iter()
            .find(|a| a.name.eq_ignore_ascii_case(name))
            .map(|a| &a.value)
    }
}

/// A name-value pair of an activity.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Attribute {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub value: Value,
}

/// A lead: always `id`, then the requested fields that have values.
pub(crate) type Lead = Map<String, Value>;

/// One entry of a Sync Leads result, in input order.
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct SyncResult {
    #[serde(default)]
    pub id: Option<Value>,
    #[serde(default)]
    pub status: Option<String>,
    /// The docs' spelling (an array)…
    #[serde(default)]
    pub reasons: Vec<ApiError>,
    /// …and the Swagger's (one object); either may come.
    #[serde(default)]
    pub reason: Option<ApiError>,
}

/// One entry of an Add Custom Activities result.
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct CustomActivityResult {
    #[serde(default)]
    pub id: Option<Value>,
    #[serde(default, rename = "marketoGUID")]
    pub marketo_guid: Option<String>,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub errors: Vec<ApiError>,
    #[serde(default)]
    pub reasons: Vec<ApiError>,
}

/// `GET /rest/v1/leads/describe2.json`: one entry, "API Lead".
#[derive(Debug, Deserialize)]
pub(crate) struct Describe2 {
    #[serde(default)]
    pub fields: Vec<Describe2Field>,
}

/// One field of Describe Lead2.
#[derive(Debug, Deserialize)]
pub(crate) struct Describe2Field {
    pub name: String,
    #[serde(default, rename = "dataType")]
    pub data_type: String,
    #[serde(default)]
    pub length: Option<u32>,
    #[serde(default)]
    pub updateable: bool,
}

/// An id written as a number or as text.
pub(crate) fn id_text(value: &Value) -> Option<String> {
    match value {
        Value::Number(n) => Some(n.to_string()),
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        _ => None,
    }
}

/// The lead ids named by a Merge Leads activity's "Merge IDs" attribute:
/// written as a JSON list in text (`"[1234,5678]"`), a bare number, or a
/// comma-separated list; all are read.
pub(crate) fn merge_ids(value: &Value) -> Vec<u64> {
    match value {
        Value::Number(n) => n.as_u64().into_iter().collect(),
        Value::Array(items) => items.iter().flat_map(merge_ids).collect(),
        Value::String(s) => {
            if let Ok(parsed) = serde_json::from_str::<Value>(s) {
                if !parsed.is_string() {
                    return merge_ids(&parsed);
                }
            }
            s.split(|c: char| !c.is_ascii_digit())
                .filter_map(|p| p.parse().ok())
                .collect()
        }
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn merge_ids_are_read_in_every_spelling() {
        assert_eq!(merge_ids(&json!("[12,34]")), vec![12, 34]);
        assert_eq!(merge_ids(&json!(56)), vec![56]);
        assert_eq!(merge_ids(&json!("7, 8")), vec![7, 8]);
        assert_eq!(merge_ids(&json!([9])), vec![9]);
        assert!(merge_ids(&json!(null)).is_empty());
    }

    #[test]
    fn codes_are_text_whatever_their_json_type() {
        let e: ApiError = serde_json::from_value(json!({"code": 1004, "message": "x"})).unwrap();
        assert_eq!(e.code, "1004");
        let e: ApiError = serde_json::from_value(json!({"code": "601", "message": "x"})).unwrap();
        assert_eq!(e.code, "601");
    }
}
