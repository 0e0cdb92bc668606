//! The engine's view of a pipeline's canonical fields: whole records mapped
//! to canonical values and back, on top of the per-field rules of
//! [`crate::config::FieldMapping`] (trimming, value maps, types).
//!
//! A canonical record holds every mapped field of its side, blanks as
//! `null` (rules see `null`, not a missing name), the key lower-cased so
//! `Ann@X.com` and `ann@x.com` match, and integral numbers as integers so
//! Salesforce's `80.0` and HubSpot's `"80"` are the same value.

use std::collections::BTreeMap;

use serde_json::Value;

pub use crate::config::{CoerceError, ConflictPolicy, FieldMapping, FieldOwner, Side};

/// Canonical values of one record, by canonical field name.
pub type Canonical = BTreeMap<String, Value>;

/// Integral numbers as integers, so a value hashes the same from any side.
pub fn normalise(value: Value) -> Value {
    match &value {
        Value::Number(n) if n.as_i64().is_none() && n.as_u64().is_none() => match n.as_f64() {
            Some(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => Value::from(f as i64),
            _ => value,
        },
        _ => value,
    }
}

/// The field mappings of one pipeline, with the look-ups the engine needs.
#[derive(Debug, Clone)]
pub struct FieldMap {
    mappings: Vec<FieldMapping>,
    key: usize,
    /// What each vendor field holds, from the tools' own metadata (set
    /// after the live check): a value written there is given that type.
    vendor_types: VendorTypes,
}

/// The value types of each side's vendor fields, shared by a pipeline's
/// clones (set once the live check has read the tools' metadata).
#[derive(Debug, Clone, Default)]
pub struct VendorTypes(
    std::sync::Arc<std::sync::RwLock<BTreeMap<(Side, String), leadbridge_core::ValueType>>>,
);

impl VendorTypes {
    fn get(&self, side: Side, field: &str) -> Option<leadbridge_core::ValueType> {
        self.0
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(&(side, field.to_owned()))
            .copied()
    }
}

/// A value as the target field holds it: the text a value map produced
/// (`"25"` for the range `"5-25"`) becomes a number for a number field, a
/// boolean for a checkbox; anything else is written as it is.
fn as_vendor_type(value: Value, target: Option<leadbridge_core::ValueType>) -> Value {
    use leadbridge_core::ValueType;
    match (target, &value) {
        (Some(ValueType::Number), Value::String(s)) => s
            .trim()
            .parse::<i64>()
            .map(Value::from)
            .ok()
            .or_else(|| {
                s.trim()
                    .parse::<f64>()
                    .ok()
                    .and_then(serde_json::Number::from_f64)
                    .map(Value::Number)
            })
            .unwrap_or(value),
        (Some(ValueType::Bool), Value::String(s)) => match s.trim().to_ascii_lowercase().as_str() {
            "true" => Value::Bool(true),
            "false" => Value::Bool(false),
            _ => value,
        },
        _ => value,
    }
}

impl FieldMap {
    /// Wraps mappings; exactly one must be the key (the config layer checked it).
    pub fn new(mappings: Vec<FieldMapping>) -> Result<Self, String> {
        let keys: Vec<usize> = mappings
            .iter()
            .enumerate()
            .filter(|(_, m)| m.key)
            .map(|(i, _)| i)
            .collect();
        match keys.as_slice() {
            [key] => Ok(Self {
                mappings,
                key: *key,
                vendor_types: VendorTypes::default(),
            }),
            _ => Err(format!(
                "expected exactly one key field, found {}",
                keys.len()
            )),
        }
    }

    /// Records what `side`'s fields hold, from its object's metadata, so
    /// values are written as the fields expect them.
    pub fn set_vendor_types(&self, side: Side, schema: &leadbridge_core::ObjectSchema) {
        let mut types = self
            .vendor_types
            .0
            .write()
            .unwrap_or_else(|e| e.into_inner());
        for f in &schema.fields {
            types.insert((side, f.name.clone()), f.value_type);
        }
    }

    /// Every mapping.
    pub fn mappings(&self) -> &[FieldMapping] {
        &self.mappings
    }

    /// The key field.
    pub fn key(&self) -> &FieldMapping {
        &self.mappings[self.key]
    }

    /// A field by canonical name.
    pub fn get(&self, name: &str) -> Option<&FieldMapping> {
        self.mappings.iter().find(|m| m.name == name)
    }

    /// The vendor fields to request from `side`.
    pub fn vendor_fields(&self, side: Side) -> Vec<String> {
        let mut fields: Vec<String> = self
            .mappings
            .iter()
            .filter_map(|m| m.vendor_field(side).map(str::to_owned))
            .collect();
        fields.sort();
        fields.dedup();
        fields
    }

    /// A record's canonical values, read from `side`'s vendor fields. Every
    /// field mapped on that side is present; blanks and absent ones as `null`.
    pub fn to_canonical(
        &self,
        side: Side,
        fields: &leadbridge_core::Fields,
    ) -> Result<Canonical, CoerceError> {
        self.to_canonical_where(side, fields, |_| true)
    }

    /// [`FieldMap::to_canonical`] for the mappings `wanted` picks only: a
    /// decision that reads three fields need not map ten.
    pub fn to_canonical_where(
        &self,
        side: Side,
        fields: &leadbridge_core::Fields,
        wanted: impl Fn(&FieldMapping) -> bool,
    ) -> Result<Canonical, CoerceError> {
        let mut out = Canonical::new();
        for m in &self.mappings {
            let Some(vendor) = m.vendor_field(side) else {
                continue;
            };
            if !wanted(m) {
                continue;
            }
            let raw = fields.get(vendor).unwrap_or(&Value::Null);
            let mut value = normalise(m.to_canonical(side, raw)?);
            if m.key {
                if let Value::String(s) = &value {
                    value = Value::String(super::key::fold(s));
                }
            }
            out.insert(m.name.clone(), value);
        }
        Ok(out)
    }

    /// Vendor fields for `side` carrying these canonical values (mapped back
    /// to the CRM's vocabulary where a value map applies).
    pub fn to_vendor(&self, side: Side, values: &Canonical) -> leadbridge_core::Fields {
        let mut out = leadbridge_core::Fields::new();
        for m in &self.mappings {
            let (Some(vendor), Some(value)) = (m.vendor_field(side), values.get(&m.name)) else {
                continue;
            };
            let written = m.from_canonical(side, value);
            out.insert(
                vendor.to_owned(),
                as_vendor_type(written, self.vendor_types.get(side, vendor)),
            );
        }
        out
    }

    /// The canonical key of a record, if it has one.
    pub fn key_of(&self, values: &Canonical) -> Option<String> {
        values
            .get(&self.key().name)
            .and_then(|v| v.as_str().map(str::to_owned))
    }

    /// Every canonical field, `null` where `values` has none: what a rule
    /// evaluates against.
    pub fn complete(&self, values: &Canonical) -> Canonical {
        let mut out = values.clone();
        for m in &self.mappings {
            out.entry(m.name.clone()).or_insert(Value::Null);
        }
        out
    }
}
