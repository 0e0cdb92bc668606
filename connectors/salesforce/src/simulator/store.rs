//! The simulated org's records: compact, immutable record versions shared
//! by `Arc` (a query cursor holds a snapshot for the price of a pointer per
//! row), an ordered index on `(SystemModstamp, Id)`, and unique indexes
//! for External ID fields. Writes are planned (validated) first and
//! committed after, which gives `allOrNone` for free.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use jiff::Timestamp;
use serde_json::{Map, Value};

use super::schema::{self, FieldDef, Kind, ObjectDef, Sys};
use crate::soql::format_timestamp;

mod derive;
pub mod duplicates;
pub mod lifecycle;

/// A field value, compact: text as `Box<str>`, numbers as `f64`.
#[derive(Debug, Clone, PartialEq)]
pub enum V {
    /// No value.
    Null,
    /// A boolean.
    Bool(bool),
    /// A number.
    Num(f64),
    /// Text, an id, a picklist value or a `YYYY-MM-DD` date.
    Str(Box<str>),
    /// A timestamp in milliseconds (system dates).
    Ts(i64),
}

impl V {
    /// The value as the REST API writes it.
    pub fn to_json(&self, kind: Kind) -> Value {
        match self {
            V::Null => Value::Null,
            V::Bool(b) => Value::Bool(*b),
            V::Num(n) => {
                if kind == Kind::Int {
                    Value::from(*n as i64)
                } else {
                    serde_json::Number::from_f64(*n)
                        .map(Value::Number)
                        .unwrap_or(Value::Null)
                }
            }
            V::Str(s) => Value::String(s.to_string()),
            V::Ts(ms) => Value::String(ts_text(*ms)),
        }
    }

    /// The value as plain text (for control-surface look-ups).
    pub fn text(&self) -> Option<String> {
        match self {
            V::Null => None,
            V::Bool(b) => Some(b.to_string()),
            V::Num(n) => Some(if n.fract() == 0.0 && n.abs() < 1e15 {
                format!("{}", *n as i64)
            } else {
                n.to_string()
            }),
            V::Str(s) => Some(s.to_string()),
            V::Ts(ms) => Some(ts_text(*ms)),
        }
    }
}

/// Milliseconds as Salesforce's `2013-05-20T20:49:32.000+0000`.
pub fn ts_text(ms: i64) -> String {
    Timestamp::from_millisecond(ms)
        .map(format_timestamp)
        .unwrap_or_default()
}

/// One version of one record. Never changed in place: an update makes a
/// new version, so snapshots stay consistent.
#[derive(Debug, Clone)]
pub struct Rec {
    /// The 18-character id.
    pub id: Box<str>,
    /// `CreatedDate`, ms.
    pub created: i64,
    /// `LastModifiedDate`, ms.
    pub modified: i64,
    /// `SystemModstamp`, ms.
    pub stamp: i64,
    /// When this version becomes visible to change queries (index lag).
    pub visible_at: i64,
    /// In the recycle bin.
    pub deleted: bool,
    /// One slot per field of the object (system slots stay `Null`).
    pub values: Box<[V]>,
}

impl Rec {
    /// A field's value, system fields included.
    pub fn get(&self, def: &ObjectDef, idx: usize) -> V {
        let Some(field) = def.fields.get(idx) else {
            return V::Null;
        };
        match field.sys {
            None => self.values.get(idx).cloned().unwrap_or(V::Null),
            Some(Sys::Id) => V::Str(self.id.clone()),
            Some(Sys::IsDeleted) => V::Bool(self.deleted),
            Some(Sys::CreatedDate) => V::Ts(self.created),
            Some(Sys::LastModifiedDate) => V::Ts(self.modified),
            Some(Sys::SystemModstamp) => V::Ts(self.stamp),
            Some(Sys::FullName) => {
                let part = |name: &str| match def.field(name).and_then(|i| self.values.get(i)) {
                    Some(V::Str(s)) => Some(s.to_string()),
                    _ => None,
                };
                let full: Vec<String> = [
                    part("FirstName"),
                    part("MiddleName"),
                    part("LastName"),
                    part("Suffix"),
                ]
                .into_iter()
                .flatten()
                .collect();
                if full.is_empty() {
                    V::Null
                } else {
                    V::Str(full.join(" ").into())
                }
            }
        }
    }

    /// The record as the REST API returns it: `attributes` first, then the
    /// chosen fields in order.
    pub fn to_json(&self, def: &ObjectDef, columns: &[usize], version: &str) -> Value {
        let mut map = Map::new();
        map.insert(
            "attributes".into(),
            serde_json::json!({
                "type": def.name,
                "url": format!("/services/data/v{version}/sobjects/{}/{}", def.name, self.id),
            }),
        );
        for &c in columns {
            if let Some(field) = def.fields.get(c) {
                map.insert(field.name.into(), self.get(def, c).to_json(field.kind));
            }
        }
        Value::Object(map)
    }
}

/// One object's records. `Clone` so a composite call with `allOrNone`
/// can put the org back as it was when one of its subrequests fails.
#[derive(Clone)]
pub struct Table {
    /// The object.
    pub def: &'static ObjectDef,
    /// Every record, live or deleted, by id.
    pub rows: HashMap<Box<str>, Arc<Rec>>,
    /// `(SystemModstamp, Id)` of every record: change queries walk it
    /// from their lower bound instead of scanning and sorting.
    pub order: BTreeSet<(i64, Box<str>)>,
    /// For each unique field: lower-cased value → id of the live record.
    pub unique: HashMap<usize, HashMap<String, Box<str>>>,
    /// For each non-unique Email field (an `idLookup` field, which is how
    /// integrations find a lead by key): lower-cased value → ids of the live
    /// records holding it, so a look-up by email does not scan every lead.
    pub lookup: HashMap<usize, HashMap<String, Vec<Box<str>>>>,
    /// Live records.
    pub live: usize,
}

impl Table {
    /// Points the table at a newer definition of its object (a custom
    /// field was added at the end) and indexes the new field if it is
    /// unique; no record holds a value for it yet.
    pub fn redefine(&mut self, def: &'static ObjectDef) {
        for (i, f) in def.fields.iter().enumerate().skip(self.def.fields.len()) {
            if f.unique {
                self.unique.insert(i, HashMap::new());
            } else if f.kind == schema::Kind::Email {
                self.lookup.insert(i, HashMap::new());
            }
        }
        self.def = def;
    }

    fn new(def: &'static ObjectDef) -> Self {
        let unique = def
            .fields
            .iter()
            .enumerate()
            .filter(|(_, f)| f.unique)
            .map(|(i, _)| (i, HashMap::new()))
            .collect();
        let lookup = def
            .fields
            .iter()
            .enumerate()
            .filter(|(_, f)| !f.unique && f.kind == schema::Kind::Email)
            .map(|(i, _)| (i, HashMap::new()))
            .collect();
        Self {
            def,
            rows: HashMap::new(),
            order: BTreeSet::new(),
            unique,
            lookup,
            live: 0,
        }
    }

    /// A live record.
    pub fn live(&self, id: &str) -> Option<&Arc<Rec>> {
        self.rows.get(id).filter(|r| !r.deleted)
    }

    /// A record by 15- or 18-character id.
    pub fn find_id(&self, id: &str) -> Option<&Arc<Rec>> {
        if id.len() == 18 {
            return self.rows.get(id);
        }
        if id.len() == 15 {
            return self.rows.get(full_id(id).as_str());
        }
        None
    }

    fn unindex(&mut self, rec: &Rec) {
        self.order.remove(&(rec.stamp, rec.id.clone()));
        if !rec.deleted {
            self.live -= 1;
            for (idx, index) in self.unique.iter_mut() {
                if let Some(V::Str(s)) = rec.values.get(*idx) {
                    index.remove(&s.to_lowercase());
                }
            }
            for (idx, index) in self.lookup.iter_mut() {
                if let Some(V::Str(s)) = rec.values.get(*idx) {
                    let key = s.to_lowercase();
                    if let Some(ids) = index.get_mut(&key) {
                        ids.retain(|id| *id != rec.id);
                        if ids.is_empty() {
                            index.remove(&key);
                        }
                    }
                }
            }
        }
    }

    fn index(&mut self, rec: &Arc<Rec>) {
        self.order.insert((rec.stamp, rec.id.clone()));
        if !rec.deleted {
            self.live += 1;
            for (idx, index) in self.unique.iter_mut() {
                if let Some(V::Str(s)) = rec.values.get(*idx) {
                    index.insert(s.to_lowercase(), rec.id.clone());
                }
            }
            for (idx, index) in self.lookup.iter_mut() {
                if let Some(V::Str(s)) = rec.values.get(*idx) {
                    index
                        .entry(s.to_lowercase())
                        .or_default()
                        .push(rec.id.clone());
                }
            }
        }
        self.rows.insert(rec.id.clone(), rec.clone());
    }

    /// Replaces (or adds) a record version, keeping the indexes right.
    pub fn put(&mut self, rec: Rec) -> Arc<Rec> {
        if let Some(old) = self.rows.get(&rec.id).cloned() {
            self.unindex(&old);
        }
        let rec = Arc::new(rec);
        self.index(&rec);
        rec
    }

    /// Live records whose unique or other field equals `value`.
    pub fn find_by(&self, idx: usize, value: &str) -> Vec<Arc<Rec>> {
        if let Some(index) = self.unique.get(&idx) {
            return index
                .get(&value.to_lowercase())
                .and_then(|id| self.rows.get(id))
                .cloned()
                .into_iter()
                .collect();
        }
        let kind = self.def.fields.get(idx).map(|f| f.kind);
        self.rows
            .values()
            .filter(|r| !r.deleted)
            .filter(|r| match (&r.get(self.def, idx), kind) {
                (V::Str(s), Some(k)) if k.is_text() => s.eq_ignore_ascii_case(value),
                (v, _) => v.text().as_deref() == Some(value),
            })
            .cloned()
            .collect()
    }
}

/// The 3-character suffix that makes a 15-character id case-insensitive,
/// computed as Salesforce does: one bit per upper-case letter, five
/// characters per suffix character.
pub fn id_suffix(id15: &str) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ012345";
    let bytes = id15.as_bytes();
    (0..3)
        .map(|chunk| {
            let mut n = 0usize;
            for bit in 0..5 {
                if bytes
                    .get(chunk * 5 + bit)
                    .is_some_and(|b| b.is_ascii_uppercase())
                {
                    n |= 1 << bit;
                }
            }
            ALPHABET[n] as char
        })
        .collect()
}

/// A 15-character id made 18.
pub fn full_id(id15: &str) -> String {
    format!("{id15}{}", id_suffix(id15))
}

/// The id number `n` of an object: prefix, a pod `Dn`, and a base-62
/// counter. Fixed width and an ASCII-ordered alphabet make text order equal
/// creation order, so ties on `SystemModstamp` order by creation.
pub fn make_id(prefix: &str, n: u64) -> Box<str> {
    const DIGITS: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let mut digits = [b'0'; 9];
    let mut rest = n;
    for d in digits.iter_mut().rev() {
        *d = DIGITS[(rest % 62) as usize];
        rest /= 62;
    }
    let id15 = format!("{prefix}Dn0{}", String::from_utf8_lossy(&digits));
    full_id(&id15).into()
}

/// Why one record was refused: Salesforce's `{statusCode, message, fields}`.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordError {
    /// The error code.
    pub code: &'static str,
    /// The message.
    pub message: String,
    /// The fields it names.
    pub fields: Vec<String>,
    /// What a duplicate rule found, for `DUPLICATES_DETECTED` (single
    /// saves answer it as `duplicateResut`; collections leave it out).
    pub duplicate: Option<Box<duplicates::Hit>>,
}

impl RecordError {
    /// An error with this code and message.
    pub fn new(code: &'static str, message: impl Into<String>, fields: Vec<String>) -> Self {
        Self {
            code,
            message: message.into(),
            fields,
            duplicate: None,
        }
    }

    /// The collections shape `{statusCode, message, fields}`.
    pub fn collection_json(&self) -> Value {
        serde_json::json!({ "statusCode": self.code, "message": self.message, "fields": self.fields })
    }
}

/// How one save runs: when, and with whose rights.
#[derive(Debug, Clone, Default)]
pub struct Save {
    /// The record stamps of this save (`SystemModstamp`, `LastModifiedDate`,
    /// `CreatedDate`), in whole seconds as a real org stamps them.
    pub now: i64,
    /// When the change becomes visible to change queries (index lag).
    pub visible_at: i64,
    /// The org itself (the control surface, Lead Convert, merge): read-only
    /// fields may be set, converted leads edited, duplicate rules skip it.
    pub system: bool,
    /// The request's `Sforce-Duplicate-Rule-Header` (R2.2).
    pub duplicates: duplicates::Header,
}

impl Save {
    /// A save through the API at `now`, visible at `visible_at`.
    pub fn api(now: i64, visible_at: i64) -> Self {
        Self {
            now,
            visible_at,
            ..Self::default()
        }
    }

    /// A save by the org itself (see [`Save::system`]).
    pub fn system(now: i64, visible_at: i64) -> Self {
        Self {
            now,
            visible_at,
            system: true,
            ..Self::default()
        }
    }
}

/// Every table of the org (`Clone`: see [`Table`]), and the org's settings
/// that decide how saves go (duplicate rules, permissions).
#[derive(Clone)]
pub struct Db {
    tables: HashMap<&'static str, Table>,
    next_id: u64,
    /// The user new records are owned by when no owner is given, and the
    /// user every API session runs as.
    pub default_user: Box<str>,
    /// Users with the "View and Edit Converted Leads" permission (R2.1).
    pub converted_lead_editors: std::collections::HashSet<Box<str>>,
    /// Active duplicate rules (R2.2).
    pub duplicate_rules: Vec<duplicates::Rule>,
}

/// What one planned write will do when committed.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The new version.
    pub rec: Rec,
    /// True when it creates the record.
    pub created: bool,
}

/// The simulated org's one profile (System Administrator), which every
/// user has.
pub fn admin_profile() -> Box<str> {
    make_id("00e", 1)
}

impl Db {
    /// An org with a few users to own records (the last one inactive).
    pub fn new(now: i64) -> Self {
        let mut db = Self {
            tables: schema::OBJECTS
                .iter()
                .map(|o| (o.name, Table::new(o)))
                .collect(),
            next_id: 1,
            default_user: "".into(),
            converted_lead_editors: Default::default(),
            duplicate_rules: Vec::new(),
        };
        let users = [
            ("Ada", "Admin", true),
            ("Sam", "Seller", true),
            ("Rita", "Rep", true),
            ("Mo", "Manager", true),
            ("Ina", "Inactive", false),
        ];
        for (first, last, active) in users {
            let mut fields = Map::new();
            fields.insert("FirstName".into(), first.into());
            fields.insert("LastName".into(), last.into());
            let login = format!("{}.{}@leadbridge-sim.example", first, last).to_lowercase();
            fields.insert("Username".into(), login.clone().into());
            fields.insert("Email".into(), login.into());
            let alias: String = format!("{}{}", &first[..1], last)
                .to_lowercase()
                .chars()
                .take(8)
                .collect();
            fields.insert("Alias".into(), alias.into());
            fields.insert(
                "CommunityNickname".into(),
                format!("{}.{}", first, last).to_lowercase().into(),
            );
            fields.insert("TimeZoneSidKey".into(), "Europe/London".into());
            fields.insert("LocaleSidKey".into(), "en_GB".into());
            fields.insert("EmailEncodingKey".into(), "UTF-8".into());
            fields.insert("LanguageLocaleKey".into(), "en_US".into());
            fields.insert("ProfileId".into(), admin_profile().as_ref().into());
            fields.insert("IsActive".into(), active.into());
            let save = Save::system(now, 0);
            if let Ok(plan) = db.plan_create("User", &fields, &save, &mut HashMap::new()) {
                let id = plan.rec.id.clone();
                db.commit(vec![plan]);
                if db.default_user.is_empty() {
                    db.default_user = id;
                }
            }
        }
        db
    }

    /// A table by canonical object name.
    pub fn table(&self, object: &str) -> Option<&Table> {
        self.tables.get(object)
    }

    fn table_mut(&mut self, object: &str) -> Option<&mut Table> {
        self.tables.get_mut(object)
    }

    /// This org's definition of an object, by case-insensitive name
    /// (custom fields added to it included).
    pub fn def(&self, name: &str) -> Option<&'static ObjectDef> {
        self.tables
            .values()
            .find(|t| t.def.name.eq_ignore_ascii_case(name))
            .map(|t| t.def)
    }

    /// This org's definition of the object whose ids start like `id`.
    pub fn def_of_id(&self, id: &str) -> Option<&'static ObjectDef> {
        let prefix = id.get(..3)?;
        self.tables
            .values()
            .find(|t| t.def.key_prefix == prefix)
            .map(|t| t.def)
    }

    /// Every object of the org, in a stable order.
    pub fn defs(&self) -> Vec<&'static ObjectDef> {
        schema::OBJECTS
            .iter()
            .filter_map(|o| self.def(o.name))
            .collect()
    }

    /// Adds a custom field to an object, as an admin does in Setup.
    pub fn add_custom_field(&mut self, object: &str, field: FieldDef) -> Result<(), String> {
        let def = self
            .def(object)
            .ok_or_else(|| format!("INVALID_TYPE: no object {object}"))?;
        let new: &'static ObjectDef = Box::leak(Box::new(def.with_custom_field(field)?));
        if let Some(table) = self.table_mut(def.name) {
            table.redefine(new);
        }
        Ok(())
    }

    /// The ids of the org's users, in creation order.
    pub fn users(&self) -> Vec<Box<str>> {
        let mut ids: Vec<Box<str>> = self
            .tables
            .get("User")
            .map(|t| t.rows.keys().cloned().collect())
            .unwrap_or_default();
        ids.sort();
        ids
    }

    /// A live record by id, of whatever object its prefix names.
    pub fn live_record(&self, id: &str) -> Option<(&'static ObjectDef, &Arc<Rec>)> {
        let def = self.def_of_id(id)?;
        let rec = self.tables.get(def.name)?.find_id(id)?;
        (!rec.deleted).then_some((def, rec))
    }

    /// Whether a live record with this id exists in one of `objects`.
    fn reference_ok(&self, objects: &[&str], id: &str) -> Result<(), &'static str> {
        let prefix = id.get(..3).unwrap_or("");
        if let Some((name, _)) = schema::UNSIMULATED.iter().find(|(_, p)| *p == prefix) {
            return if objects.contains(name) {
                Ok(())
            } else {
                Err("FIELD_INTEGRITY_EXCEPTION")
            };
        }
        let Some(def) = self.def_of_id(id) else {
            return Err("FIELD_INTEGRITY_EXCEPTION");
        };
        if !objects.contains(&def.name) {
            return Err("FIELD_INTEGRITY_EXCEPTION");
        }
        match self
            .tables
            .get(def.name)
            .and_then(|t| t.find_id(id))
            .filter(|r| !r.deleted)
        {
            Some(_) => Ok(()),
            None => Err("INVALID_CROSS_REFERENCE_KEY"),
        }
    }

    /// Converts and checks one input value for `field`.
    fn convert(&self, field: &FieldDef, value: &Value, save: &Save) -> Result<V, RecordError> {
        let label = field.label;
        let parse_err = |what: &str| {
            RecordError::new(
                "JSON_PARSER_ERROR",
                format!(
                    "Cannot deserialize instance of {} from {what} value {value} or request may be missing a required field",
                    field.kind.api_name()
                ),
                vec![field.name.to_owned()],
            )
        };
        let text = match value {
            Value::Null => return Ok(V::Null),
            Value::String(s) if s.is_empty() => return Ok(V::Null),
            Value::String(s) => s.clone(),
            Value::Number(n) => n.to_string(),
            Value::Bool(b) => b.to_string(),
            Value::Array(_) => return Err(parse_err("START_ARRAY")),
            Value::Object(_) => return Err(parse_err("START_OBJECT")),
        };
        let v = match field.kind {
            Kind::Boolean => match value {
                Value::Bool(b) => V::Bool(*b),
                _ if text.eq_ignore_ascii_case("true") => V::Bool(true),
                _ if text.eq_ignore_ascii_case("false") => V::Bool(false),
                _ => return Err(parse_err("VALUE_STRING")),
            },
            Kind::Int | Kind::Double | Kind::Currency | Kind::Percent => {
                let n: f64 = text.trim().parse().map_err(|_| parse_err("VALUE_STRING"))?;
                if !n.is_finite() || (field.kind == Kind::Int && n.fract() != 0.0) {
                    return Err(parse_err("VALUE_NUMBER_FLOAT"));
                }
                let whole_digits = if field.kind == Kind::Int {
                    field.digits
                } else {
                    field.precision.saturating_sub(field.scale)
                };
                if whole_digits > 0 && n.abs() >= 10f64.powi(whole_digits as i32) {
                    return Err(RecordError::new(
                        "NUMBER_OUTSIDE_VALID_RANGE",
                        format!("{label}: value outside of valid range on numeric field: {text}"),
                        vec![field.name.to_owned()],
                    ));
                }
                V::Num(n)
            }
            Kind::Date => {
                let date: jiff::civil::Date = text
                    .get(..10)
                    .unwrap_or("")
                    .parse()
                    .map_err(|_| parse_err("VALUE_STRING"))?;
                V::Str(date.to_string().into())
            }
            Kind::DateTime => {
                let ts =
                    crate::soql::parse_timestamp(&text).ok_or_else(|| parse_err("VALUE_STRING"))?;
                V::Ts(ts.as_millisecond())
            }
            Kind::Id | Kind::Reference => {
                let ok_shape = (text.len() == 15 || text.len() == 18)
                    && text.bytes().all(|b| b.is_ascii_alphanumeric());
                if !ok_shape {
                    return Err(RecordError::new(
                        "MALFORMED_ID",
                        format!("{label}: id value of incorrect type: {text}"),
                        vec![field.name.to_owned()],
                    ));
                }
                let id = if text.len() == 15 {
                    full_id(&text)
                } else {
                    text
                };
                if let Err(code) = self.reference_ok(field.reference_to, &id) {
                    let message = if code == "INVALID_CROSS_REFERENCE_KEY" {
                        format!("{label}: invalid cross reference id")
                    } else {
                        format!("{label}: id value of incorrect type: {id}")
                    };
                    return Err(RecordError::new(code, message, vec![field.name.to_owned()]));
                }
                if !save.system && self.is_converted_lead(&id) {
                    return Err(converted_lead_error());
                }
                V::Str(id.into())
            }
            _ => {
                if text.chars().count() > field.length as usize {
                    return Err(RecordError::new(
                        "STRING_TOO_LONG",
                        format!(
                            "{label}: data value too large: {text} (max length={})",
                            field.length
                        ),
                        vec![field.name.to_owned()],
                    ));
                }
                if field.kind == Kind::Email && !valid_email(&text) {
                    return Err(RecordError::new(
                        "INVALID_EMAIL_ADDRESS",
                        format!("{label}: invalid email address: {text}"),
                        vec![field.name.to_owned()],
                    ));
                }
                let bad_value = || {
                    RecordError::new(
                        "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
                        format!("{label}: bad value for restricted picklist field: {text}"),
                        vec![field.name.to_owned()],
                    )
                };
                if field.kind == Kind::Picklist && field.restricted {
                    return match field
                        .picklist
                        .iter()
                        .find(|p| p.eq_ignore_ascii_case(&text))
                    {
                        Some(p) => Ok(V::Str((*p).into())),
                        None => Err(bad_value()),
                    };
                }
                if field.kind == Kind::MultiPicklist {
                    let mut chosen: Vec<String> = Vec::new();
                    for part in text.split(';').map(str::trim).filter(|p| !p.is_empty()) {
                        let value =
                            match field.picklist.iter().find(|p| p.eq_ignore_ascii_case(part)) {
                                Some(p) => (*p).to_owned(),
                                None if field.restricted => return Err(bad_value()),
                                None => part.to_owned(),
                            };
                        if !chosen.contains(&value) {
                            chosen.push(value);
                        }
                    }
                    return Ok(if chosen.is_empty() {
                        V::Null
                    } else {
                        V::Str(chosen.join(";").into())
                    });
                }
                V::Str(text.into())
            }
        };
        Ok(v)
    }

    /// Applies input fields onto `values`; the first error of the record.
    fn apply(
        &self,
        def: &ObjectDef,
        values: &mut [V],
        input: &Map<String, Value>,
        creating: bool,
        save: &Save,
    ) -> Result<(), RecordError> {
        for (name, value) in input {
            if name == "attributes" || name.eq_ignore_ascii_case("id") {
                continue;
            }
            let Some(idx) = def.field(name) else {
                return Err(RecordError::new(
                    "INVALID_FIELD",
                    format!("No such column '{name}' on sobject of type {}", def.name),
                    vec![name.clone()],
                ));
            };
            let field = &def.fields[idx];
            let settable = if creating {
                field.createable
            } else {
                field.updateable
            };
            // The org itself sets read-only fields (not the system slots).
            let org_sets = save.system && field.sys.is_none();
            if !(settable || org_sets) {
                return Err(RecordError::new(
                    "INVALID_FIELD_FOR_INSERT_UPDATE",
                    format!(
                        "Unable to {} fields: {}. Please check the security settings of this field and verify that it is read/write for your profile or permission set.",
                        if creating { "create" } else { "update" },
                        field.name
                    ),
                    vec![field.name.to_owned()],
                ));
            }
            values[idx] = self.convert(field, value, save)?;
        }
        Ok(())
    }

    /// Fills defaults (on create) and derived fields, then checks required
    /// fields. `old` is the record's current values on update; `input` the
    /// fields the caller sent.
    fn finish(
        &self,
        def: &ObjectDef,
        values: &mut [V],
        old: Option<&[V]>,
        input: &Map<String, Value>,
        save: &Save,
    ) -> Result<(), RecordError> {
        let creating = old.is_none();
        for (i, field) in def.fields.iter().enumerate() {
            if !creating || field.sys.is_some() || values[i] != V::Null || !field.defaulted {
                continue;
            }
            values[i] = match (field.kind, field.name) {
                (Kind::Boolean, _) => V::Bool(field.default_value == Some("true")),
                (Kind::Reference, "OwnerId" | "CreatedById" | "LastModifiedById") => {
                    V::Str(self.default_user.clone())
                }
                (Kind::Picklist, _) => field
                    .default_value
                    .map(|p| V::Str(p.into()))
                    .unwrap_or(V::Null),
                _ => V::Null,
            };
        }
        if let Some(i) = def.field("LastModifiedById") {
            // The last modifier is the simulated API user.
            values[i] = V::Str(self.default_user.clone());
        }
        if creating {
            if let Some(i) = def.field("CreatedById") {
                values[i] = V::Str(self.default_user.clone());
            }
        }
        derive::fields(self, def, values, old, input, save.now);
        let missing: Vec<String> = def
            .fields
            .iter()
            .enumerate()
            .filter(|(i, f)| {
                f.sys.is_none()
                    && !f.nillable
                    && f.createable
                    && !f.defaulted
                    && values[*i] == V::Null
            })
            .map(|(_, f)| f.name.to_owned())
            .collect();
        if !missing.is_empty() {
            return Err(RecordError::new(
                "REQUIRED_FIELD_MISSING",
                format!("Required fields are missing: [{}]", missing.join(", ")),
                missing,
            ));
        }
        Ok(())
    }

    /// Checks unique fields against live records and the rest of the batch
    /// (`pending`: field, lower-cased value → id planned in this batch).
    fn check_unique(
        &self,
        table: &Table,
        rec: &Rec,
        pending: &mut HashMap<(usize, String), Box<str>>,
    ) -> Result<(), RecordError> {
        for (idx, index) in &table.unique {
            if let Some(V::Str(s)) = rec.values.get(*idx) {
                let key = s.to_lowercase();
                let holder = index.get(&key).filter(|id| **id != rec.id).or_else(|| {
                    pending
                        .get(&(*idx, key.clone()))
                        .filter(|id| **id != rec.id)
                });
                if let Some(other) = holder {
                    let name = table.def.fields[*idx].name;
                    return Err(RecordError::new(
                        "DUPLICATE_VALUE",
                        format!("duplicate value found: {name} duplicates value on record with id: {other}"),
                        Vec::new(),
                    ));
                }
            }
        }
        for idx in table.unique.keys() {
            if let Some(V::Str(s)) = rec.values.get(*idx) {
                pending.insert((*idx, s.to_lowercase()), rec.id.clone());
            }
        }
        Ok(())
    }

    fn unknown_type(object: &str) -> RecordError {
        RecordError::new(
            "INVALID_TYPE",
            format!("sObject type '{object}' is not supported."),
            Vec::new(),
        )
    }

    /// Plans the creation of a record from API input.
    pub fn plan_create(
        &mut self,
        object: &str,
        input: &Map<String, Value>,
        save: &Save,
        pending: &mut HashMap<(usize, String), Box<str>>,
    ) -> Result<Plan, RecordError> {
        let Some(table) = self.tables.get(object) else {
            return Err(Self::unknown_type(object));
        };
        let def = table.def;
        let mut values = vec![V::Null; def.fields.len()];
        self.apply(def, &mut values, input, true, save)?;
        self.finish(def, &mut values, None, input, save)?;
        let id = make_id(def.key_prefix, self.next_id);
        let rec = Rec {
            id,
            created: save.now,
            modified: save.now,
            stamp: save.now,
            visible_at: save.visible_at,
            deleted: false,
            values: values.into_boxed_slice(),
        };
        let table = &self.tables[def.name];
        self.check_unique(table, &rec, pending)?;
        self.check_duplicates(def, &rec, save)?;
        self.next_id += 1;
        Ok(Plan { rec, created: true })
    }

    /// Plans an update of a live record from API input (or, with
    /// `save.system`, as the org itself: read-only fields such as
    /// `IsConverted` may be set, converted leads edited).
    pub fn plan_update(
        &self,
        object: &str,
        id: &str,
        input: &Map<String, Value>,
        save: &Save,
        pending: &mut HashMap<(usize, String), Box<str>>,
    ) -> Result<Plan, RecordError> {
        let Some(table) = self.tables.get(object) else {
            return Err(Self::unknown_type(object));
        };
        let old = match table.find_id(id) {
            Some(r) if r.deleted => return Err(entity_is_deleted()),
            Some(r) => r.clone(),
            None => {
                return Err(RecordError::new(
                    "INVALID_CROSS_REFERENCE_KEY",
                    format!("invalid cross reference id: {id}"),
                    Vec::new(),
                ))
            }
        };
        let def = table.def;
        if def.name == "Lead"
            && !save.system
            && old.get(def, def.idx("IsConverted")) == V::Bool(true)
            && !self.converted_lead_editors.contains(&self.default_user)
        {
            return Err(converted_lead_error());
        }
        let mut values = old.values.to_vec();
        values.resize(def.fields.len(), V::Null);
        self.apply(def, &mut values, input, false, save)?;
        let old_values: Vec<V> = (0..def.fields.len())
            .map(|i| old.values.get(i).cloned().unwrap_or(V::Null))
            .collect();
        self.finish(def, &mut values, Some(&old_values), input, save)?;
        let rec = Rec {
            id: old.id.clone(),
            created: old.created,
            modified: save.now,
            stamp: save.now,
            visible_at: save.visible_at,
            deleted: false,
            values: values.into_boxed_slice(),
        };
        self.check_unique(table, &rec, pending)?;
        self.check_duplicates(def, &rec, save)?;
        Ok(Plan {
            rec,
            created: false,
        })
    }

    /// Commits planned writes.
    pub fn commit(&mut self, plans: Vec<Plan>) {
        for plan in plans {
            let Some(def) = self.def_of_id(&plan.rec.id) else {
                continue;
            };
            if let Some(table) = self.table_mut(def.name) {
                table.put(plan.rec);
            }
        }
    }

    /// Whether `id` is a lead sales converted.
    pub fn is_converted_lead(&self, id: &str) -> bool {
        let Some(table) = self.tables.get("Lead") else {
            return false;
        };
        table
            .find_id(id)
            .is_some_and(|r| r.get(table.def, table.def.idx("IsConverted")) == V::Bool(true))
    }

    /// Moves a record to the recycle bin (its stamp moves, so change
    /// queries through `queryAll` see the deletion).
    pub fn delete(&mut self, object: &str, id: &str, save: &Save) -> Result<(), RecordError> {
        let table = self
            .table_mut(object)
            .ok_or_else(|| Self::unknown_type(object))?;
        let old = match table.find_id(id) {
            Some(r) if r.deleted => return Err(entity_is_deleted()),
            Some(r) => r.clone(),
            None => {
                return Err(RecordError::new(
                    "INVALID_CROSS_REFERENCE_KEY",
                    "invalid cross reference id",
                    Vec::new(),
                ))
            }
        };
        let mut rec = (*old).clone();
        rec.deleted = true;
        rec.stamp = save.now;
        rec.modified = save.now;
        rec.visible_at = save.visible_at;
        table.put(rec);
        Ok(())
    }
}

/// `ENTITY_IS_DELETED`: a PATCH or a second DELETE of a record in the
/// recycle bin (R2.3).
pub fn entity_is_deleted() -> RecordError {
    RecordError::new("ENTITY_IS_DELETED", "entity is deleted", Vec::new())
}

/// `CANNOT_UPDATE_CONVERTED_LEAD`, "cannot reference converted lead": an
/// update of a converted lead, or a record pointing at one (R2.1).
pub fn converted_lead_error() -> RecordError {
    RecordError::new(
        "CANNOT_UPDATE_CONVERTED_LEAD",
        "cannot reference converted lead",
        Vec::new(),
    )
}

/// An address Salesforce would accept: one `@`, a non-empty local part, a
/// dotted domain, no spaces.
fn valid_email(s: &str) -> bool {
    let Some((local, domain)) = s.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && !domain.contains('@')
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !s.chars().any(char::is_whitespace)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_18_chars_ordered_and_checksummed() {
        let a = make_id("00Q", 61);
        let b = make_id("00Q", 62);
        assert_eq!(a.len(), 18);
        assert!(a < b, "{a} < {b}");
        assert!(a.starts_with("00QDn0"));
        // Salesforce's documented example: 001A0000006Vm9r → 001A0000006Vm9rIAC.
        assert_eq!(full_id("001A0000006Vm9r"), "001A0000006Vm9rIAC");
    }

    #[test]
    fn required_fields_and_bad_values_are_refused() {
        let mut db = Db::new(0);
        let mut pending = HashMap::new();
        let input: Map<String, Value> = serde_json::from_str(r#"{"FirstName":"Ann"}"#).unwrap();
        let err = db
            .plan_create("Lead", &input, &Save::api(1, 1), &mut pending)
            .unwrap_err();
        assert_eq!(err.code, "REQUIRED_FIELD_MISSING");
        assert_eq!(err.fields, vec!["LastName", "Company"]);
        let input: Map<String, Value> =
            serde_json::from_str(r#"{"LastName":"A","Company":"C","Email":"nope"}"#).unwrap();
        assert_eq!(
            db.plan_create("Lead", &input, &Save::api(1, 1), &mut pending)
                .unwrap_err()
                .code,
            "INVALID_EMAIL_ADDRESS"
        );
        let input: Map<String, Value> =
            serde_json::from_str(r#"{"LastName":"A","Company":"C","Status":"Hot"}"#).unwrap();
        assert_eq!(
            db.plan_create("Lead", &input, &Save::api(1, 1), &mut pending)
                .unwrap_err()
                .code,
            "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"
        );
        let input: Map<String, Value> =
            serde_json::from_str(r#"{"LastName":"A","Company":"C","Leadbridge_Id__c":"k1"}"#)
                .unwrap();
        let plan = db
            .plan_create("Lead", &input, &Save::api(1, 1), &mut pending)
            .unwrap();
        db.commit(vec![plan]);
        let err = db
            .plan_create("Lead", &input, &Save::api(2, 2), &mut HashMap::new())
            .unwrap_err();
        assert_eq!(err.code, "DUPLICATE_VALUE");
    }

    #[test]
    fn the_email_lookup_index_follows_creates_edits_and_deletes() {
        let mut db = Db::new(0);
        let mut pending = HashMap::new();
        let mut create = |db: &mut Db, body: &str| {
            let input: Map<String, Value> = serde_json::from_str(body).unwrap();
            let plan = db
                .plan_create("Lead", &input, &Save::api(1, 1), &mut pending)
                .unwrap();
            db.commit(vec![plan]);
        };
        create(
            &mut db,
            r#"{"LastName":"A","Company":"C","Email":"Ann@x.example"}"#,
        );
        create(
            &mut db,
            r#"{"LastName":"B","Company":"C","Email":"ann@X.example"}"#,
        );
        let table = &db.tables["Lead"];
        let email = table.def.idx("Email");
        let ids = table.lookup[&email]["ann@x.example"].clone();
        assert_eq!(ids.len(), 2, "duplicates both indexed");
        let mut rec = (*table.rows[&ids[0]]).clone();
        rec.values[email] = V::Str("bob@x.example".into());
        db.tables.get_mut("Lead").unwrap().put(rec.clone());
        let table = &db.tables["Lead"];
        assert_eq!(table.lookup[&email]["ann@x.example"], vec![ids[1].clone()]);
        assert_eq!(table.lookup[&email]["bob@x.example"], vec![ids[0].clone()]);
        rec.deleted = true;
        db.tables.get_mut("Lead").unwrap().put(rec);
        assert!(!db.tables["Lead"].lookup[&email].contains_key("bob@x.example"));
    }
}
