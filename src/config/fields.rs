//! Canonical fields: what each side calls a field, who owns it, how its
//! values translate, and how a vendor's raw value becomes the canonical one.
//!
//! **Where coercion happens.** A vendor's raw JSON value becomes a canonical
//! value in [`FieldMapping::to_canonical`], and only there: whitespace is
//! trimmed (unless `trim = false`), blank becomes `null`, a CRM value is
//! translated through the value map into the marketing vocabulary, and the
//! result is coerced to the field's `type` (HubSpot's `"42"` becomes `42`
//! for a `type = "number"` field). Rules ([`crate::rules`]) then see
//! canonical values only and coerce nothing.

use std::collections::BTreeMap;

use serde_json::Value;

pub use crate::side::Side;

/// How a conflict is decided when both sides changed a field owned by both.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConflictPolicy {
    /// The value changed most recently wins.
    Newest,
    /// Marketing's value wins.
    PreferMarketing,
    /// The CRM's value wins.
    PreferCrm,
    /// Marketing's value wins unless it is blank.
    PreferMarketingUnlessBlank,
    /// The CRM's value wins unless it is blank.
    PreferCrmUnlessBlank,
}

impl ConflictPolicy {
    /// The names ops write, in the order they are listed in messages.
    pub const NAMES: &'static [&'static str] = &[
        "newest",
        "prefer_marketing",
        "prefer_crm",
        "prefer_marketing_unless_blank",
        "prefer_crm_unless_blank",
    ];

    /// Reads a policy name.
    pub fn parse(name: &str) -> Option<Self> {
        Some(match name {
            "newest" => Self::Newest,
            "prefer_marketing" => Self::PreferMarketing,
            "prefer_crm" => Self::PreferCrm,
            "prefer_marketing_unless_blank" => Self::PreferMarketingUnlessBlank,
            "prefer_crm_unless_blank" => Self::PreferCrmUnlessBlank,
            _ => return None,
        })
    }
}

/// Which side's changes are synced to the other.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldOwner {
    /// Marketing → CRM only.
    Marketing,
    /// CRM → marketing only (sales feedback).
    Crm,
    /// Both ways; the policy decides conflicts.
    Both(ConflictPolicy),
}

/// The type a canonical value is coerced to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FieldType {
    /// Text (the default).
    #[default]
    String,
    /// A JSON number; numeric strings (HubSpot) are converted.
    Number,
    /// A JSON bool; `"true"`/`"false"` strings are converted.
    Bool,
    /// An RFC 3339 UTC string (`2026-01-02T03:04:05Z`); epoch milliseconds
    /// (HubSpot) and plain dates (`2026-01-02`) are converted.
    Datetime,
}

impl FieldType {
    /// Reads a type name.
    pub fn parse(name: &str) -> Option<Self> {
        Some(match name {
            "string" => Self::String,
            "number" => Self::Number,
            "bool" => Self::Bool,
            "datetime" => Self::Datetime,
            _ => return None,
        })
    }
}

/// `values = { "CRM value" = "marketing value" }`: the two vocabularies of
/// one field. Canonical values are in the marketing vocabulary; a value
/// with no entry passes through unchanged.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ValueMap {
    crm_to_marketing: BTreeMap<String, String>,
    marketing_to_crm: BTreeMap<String, String>,
}

impl ValueMap {
    /// A map from `(crm value, marketing value)` pairs. When two CRM values
    /// map to one marketing value, marketing → CRM uses the first; config
    /// validation refuses that for fields that flow to the CRM.
    pub fn new(pairs: impl IntoIterator<Item = (String, String)>) -> Self {
        let mut map = Self::default();
        for (crm, marketing) in pairs {
            map.marketing_to_crm
                .entry(marketing.clone())
                .or_insert_with(|| crm.clone());
            map.crm_to_marketing.insert(crm, marketing);
        }
        map
    }

    /// Whether the map is empty.
    pub fn is_empty(&self) -> bool {
        self.crm_to_marketing.is_empty()
    }

    /// The canonical (marketing) value of a CRM value.
    pub fn crm_to_marketing(&self, crm: &str) -> Option<&str> {
        self.crm_to_marketing.get(crm).map(String::as_str)
    }

    /// Every CRM value the map names.
    pub fn crm_values(&self) -> impl Iterator<Item = &str> {
        self.crm_to_marketing.keys().map(String::as_str)
    }

    /// Every (CRM value, marketing value) pair.
    pub fn pairs(&self) -> impl Iterator<Item = (&str, &str)> {
        self.crm_to_marketing
            .iter()
            .map(|(c, m)| (c.as_str(), m.as_str()))
    }

    /// The CRM value of a canonical (marketing) value.
    pub fn marketing_to_crm(&self, marketing: &str) -> Option<&str> {
        self.marketing_to_crm.get(marketing).map(String::as_str)
    }
}

/// A raw value that cannot become its field's canonical type; the engine
/// dead-letters the record with this as the reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("field `{field}` ({side} `{vendor_field}`): {problem}")]
pub struct CoerceError {
    /// The canonical field.
    pub field: String,
    /// The side the value came from.
    pub side: Side,
    /// The vendor's field name.
    pub vendor_field: String,
    /// What was wrong with the value.
    pub problem: String,
}

/// One canonical field of a pipeline, validated.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldMapping {
    /// The canonical name rules and logs use.
    pub name: String,
    /// The marketing tool's field, if it lives there.
    pub marketing: Option<String>,
    /// The CRM's field, if it lives there.
    pub crm: Option<String>,
    /// Whether records are matched and deduplicated by this field (exactly
    /// one per pipeline, living on both sides).
    pub key: bool,
    /// Which side's changes are synced.
    pub owner: FieldOwner,
    /// CRM value ↔ marketing value.
    pub values: ValueMap,
    /// Whether surrounding whitespace is removed before anything else.
    pub trim: bool,
    /// The canonical type values are coerced to.
    pub value_type: FieldType,
}

impl FieldMapping {
    /// The field's name on `side`, if it lives there.
    pub fn vendor_field(&self, side: Side) -> Option<&str> {
        match side {
            Side::Marketing => self.marketing.as_deref(),
            Side::Crm => self.crm.as_deref(),
        }
    }

    /// Whether changes on `from` are synced to the other side.
    pub fn flows_from(&self, from: Side) -> bool {
        let both_sides = self.marketing.is_some() && self.crm.is_some();
        both_sides
            && matches!(
                (self.owner, from),
                (FieldOwner::Both(_), _)
                    | (FieldOwner::Marketing, Side::Marketing)
                    | (FieldOwner::Crm, Side::Crm)
            )
    }

    /// The canonical value of a raw value read from `side`: trimmed, blank
    /// as `null`, translated through the value map (CRM side), coerced to
    /// the field's type.
    pub fn to_canonical(&self, side: Side, raw: &Value) -> Result<Value, CoerceError> {
        let fail = |problem: String| CoerceError {
            field: self.name.clone(),
            side,
            vendor_field: self.vendor_field(side).unwrap_or_default().to_string(),
            problem,
        };
        let value = match raw {
            Value::String(s) => {
                let s = if self.trim { s.trim() } else { s.as_str() };
                if s.is_empty() {
                    return Ok(Value::Null);
                }
                let s = match side {
                    Side::Crm => self.values.crm_to_marketing(s).unwrap_or(s),
                    Side::Marketing => s,
                };
                Value::String(s.to_string())
            }
            other => other.clone(),
        };
        coerce(self.value_type, value).map_err(fail)
    }

    /// The value to write to `side` for a canonical value: translated
    /// through the value map when writing to the CRM.
    pub fn from_canonical(&self, side: Side, canonical: &Value) -> Value {
        match (side, canonical) {
            (Side::Crm, Value::String(s)) => {
                Value::String(self.values.marketing_to_crm(s).unwrap_or(s).to_string())
            }
            _ => canonical.clone(),
        }
    }
}

/// Coerces a trimmed, mapped, non-blank value to `ty`.
fn coerce(ty: FieldType, value: Value) -> Result<Value, String> {
    match (ty, value) {
        (_, Value::Null) => Ok(Value::Null),
        (FieldType::String, Value::String(s)) => Ok(Value::String(s)),
        (FieldType::String, Value::Number(n)) => Ok(Value::String(n.to_string())),
        (FieldType::String, Value::Bool(b)) => Ok(Value::String(b.to_string())),
        (FieldType::Number, Value::Number(n)) => Ok(Value::Number(n)),
        (FieldType::Number, Value::String(s)) => {
            number(&s).ok_or_else(|| format!("`{s}` is not a number"))
        }
        (FieldType::Bool, Value::Bool(b)) => Ok(Value::Bool(b)),
        (FieldType::Bool, Value::String(s)) => match s.to_ascii_lowercase().as_str() {
            "true" | "1" => Ok(Value::Bool(true)),
            "false" | "0" => Ok(Value::Bool(false)),
            _ => Err(format!("`{s}` is not true or false")),
        },
        (FieldType::Datetime, Value::String(s)) => datetime(&s)
            .map(Value::String)
            .ok_or_else(|| format!("`{s}` is not a date-time")),
        (FieldType::Datetime, Value::Number(n)) => n
            .as_i64()
            .and_then(|ms| jiff::Timestamp::from_millisecond(ms).ok())
            .map(|t| Value::String(t.to_string()))
            .ok_or_else(|| format!("`{n}` is not a date-time in epoch milliseconds")),
        (ty, other) => Err(format!("{other} cannot be read as {ty:?}").to_lowercase()),
    }
}

/// A numeric string as a JSON number: an integer when it is one.
fn number(s: &str) -> Option<Value> {
    if let Ok(i) = s.parse::<i64>() {
        return Some(Value::from(i));
    }
    let f: f64 = s.parse().ok()?;
    serde_json::Number::from_f64(f).map(Value::Number)
}

/// RFC 3339, epoch milliseconds or a plain date, as an RFC 3339 UTC string.
fn datetime(s: &str) -> Option<String> {
    if let Ok(t) = s.parse::<jiff::Timestamp>() {
        return Some(t.to_string());
    }
    if !s.is_empty() && s.chars().all(|c| c.is_ascii_digit()) {
        let ms: i64 = s.parse().ok()?;
        return jiff::Timestamp::from_millisecond(ms)
            .ok()
            .map(|t| t.to_string());
    }
    let date: jiff::civil::Date = s.parse().ok()?;
    date.to_zoned(jiff::tz::TimeZone::UTC)
        .ok()
        .map(|z| z.timestamp().to_string())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn mapping(value_type: FieldType) -> FieldMapping {
        FieldMapping {
            name: "status".into(),
            marketing: Some("hs_lead_status".into()),
            crm: Some("Status".into()),
            key: false,
            owner: FieldOwner::Crm,
            values: ValueMap::new([("Open - Not Contacted".to_string(), "NEW".to_string())]),
            trim: true,
            value_type,
        }
    }

    #[test]
    fn crm_values_are_translated_into_the_marketing_vocabulary() {
        let m = mapping(FieldType::String);
        assert_eq!(
            m.to_canonical(Side::Crm, &json!(" Open - Not Contacted ")),
            Ok(json!("NEW"))
        );
        assert_eq!(
            m.to_canonical(Side::Crm, &json!("Other")),
            Ok(json!("Other"))
        );
        assert_eq!(
            m.to_canonical(Side::Marketing, &json!("  ")),
            Ok(json!(null))
        );
        assert_eq!(
            m.from_canonical(Side::Crm, &json!("NEW")),
            json!("Open - Not Contacted")
        );
    }

    #[test]
    fn hubspot_numbers_become_numbers() {
        let m = mapping(FieldType::Number);
        assert_eq!(m.to_canonical(Side::Marketing, &json!("42")), Ok(json!(42)));
        assert_eq!(
            m.to_canonical(Side::Marketing, &json!("4.5")),
            Ok(json!(4.5))
        );
        assert_eq!(m.to_canonical(Side::Marketing, &json!(7)), Ok(json!(7)));
        let err = m.to_canonical(Side::Marketing, &json!("many")).unwrap_err();
        assert!(err.to_string().contains("`many` is not a number"), "{err}");
    }

    #[test]
    fn bools_and_datetimes_are_coerced() {
        let b = mapping(FieldType::Bool);
        assert_eq!(
            b.to_canonical(Side::Marketing, &json!("true")),
            Ok(json!(true))
        );
        let d = mapping(FieldType::Datetime);
        assert_eq!(
            d.to_canonical(Side::Marketing, &json!("1767225600000")),
            Ok(json!("2026-01-01T00:00:00Z"))
        );
        assert_eq!(
            d.to_canonical(Side::Crm, &json!("2026-01-01T09:00:00+09:00")),
            Ok(json!("2026-01-01T00:00:00Z"))
        );
        assert_eq!(
            d.to_canonical(Side::Crm, &json!("2026-01-01")),
            Ok(json!("2026-01-01T00:00:00Z"))
        );
    }
}
