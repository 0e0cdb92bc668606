//! The simulated org's objects and fields: what describe reports and what
//! writes and SOQL are checked against.
//!
//! The standard objects (Lead, Contact, Account, Opportunity, Task, User)
//! carry the standard fields a fresh Enterprise Edition org describes, with
//! their types, lengths, precision, picklist values and the
//! createable / updateable / nillable / defaultedOnCreate / externalId /
//! unique flags of Salesforce's object reference (developer.salesforce.com
//! "Object Reference for the Salesforce Platform", the Lead, Contact,
//! Account, Opportunity, Task and User pages). Compound fields (`Address`,
//! `MailingAddress`…) are not described: their parts are. The org also has
//! the custom fields leadbridge's own tests use (`Lead_Score__c`,
//! `Disqualified_Reason__c`, `Leadbridge_Id__c`); more are added through
//! the control surface ([`ObjectDef::with_custom_field`]), as an admin adds
//! them in Setup.

use std::collections::HashMap;
use std::sync::LazyLock;

use serde_json::{json, Value};

/// A field's Salesforce type (describe's `type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// The record id.
    Id,
    /// A lookup to another record.
    Reference,
    /// Free text.
    String,
    /// An email address (validated).
    Email,
    /// A phone number.
    Phone,
    /// A URL (not validated, as on Salesforce).
    Url,
    /// One value of a list.
    Picklist,
    /// Several values of a list, joined by `;`.
    MultiPicklist,
    /// Free text with suggested values (Task `Subject`).
    Combobox,
    /// Long text.
    TextArea,
    /// True or false.
    Boolean,
    /// A whole number.
    Int,
    /// A decimal number.
    Double,
    /// Money.
    Currency,
    /// A percentage.
    Percent,
    /// `YYYY-MM-DD`.
    Date,
    /// A timestamp.
    DateTime,
}

impl Kind {
    /// The type name describe reports.
    pub fn api_name(self) -> &'static str {
        match self {
            Kind::Id => "id",
            Kind::Reference => "reference",
            Kind::String => "string",
            Kind::Email => "email",
            Kind::Phone => "phone",
            Kind::Url => "url",
            Kind::Picklist => "picklist",
            Kind::MultiPicklist => "multipicklist",
            Kind::Combobox => "combobox",
            Kind::TextArea => "textarea",
            Kind::Boolean => "boolean",
            Kind::Int => "int",
            Kind::Double => "double",
            Kind::Currency => "currency",
            Kind::Percent => "percent",
            Kind::Date => "date",
            Kind::DateTime => "datetime",
        }
    }

    /// The kind of a describe type name (custom fields come in by it).
    pub fn from_api_name(name: &str) -> Option<Self> {
        Some(match name.to_ascii_lowercase().as_str() {
            "reference" => Kind::Reference,
            "string" | "text" => Kind::String,
            "email" => Kind::Email,
            "phone" => Kind::Phone,
            "url" => Kind::Url,
            "picklist" => Kind::Picklist,
            "multipicklist" => Kind::MultiPicklist,
            "combobox" => Kind::Combobox,
            "textarea" => Kind::TextArea,
            "boolean" | "checkbox" => Kind::Boolean,
            "int" => Kind::Int,
            "double" | "number" => Kind::Double,
            "currency" => Kind::Currency,
            "percent" => Kind::Percent,
            "date" => Kind::Date,
            "datetime" => Kind::DateTime,
            _ => return None,
        })
    }

    /// Compared and sorted as case-insensitive text, as SOQL does.
    pub fn is_text(self) -> bool {
        matches!(
            self,
            Kind::String
                | Kind::Email
                | Kind::Phone
                | Kind::Url
                | Kind::Picklist
                | Kind::MultiPicklist
                | Kind::Combobox
                | Kind::TextArea
        )
    }

    /// Holds a record id.
    pub fn is_id(self) -> bool {
        matches!(self, Kind::Id | Kind::Reference)
    }

    /// Holds a number.
    pub fn is_number(self) -> bool {
        matches!(
            self,
            Kind::Int | Kind::Double | Kind::Currency | Kind::Percent
        )
    }

    fn soap_type(self) -> &'static str {
        match self {
            Kind::Id | Kind::Reference => "tns:ID",
            Kind::Boolean => "xsd:boolean",
            Kind::Int => "xsd:int",
            Kind::Double | Kind::Currency | Kind::Percent => "xsd:double",
            Kind::Date => "xsd:date",
            Kind::DateTime => "xsd:dateTime",
            _ => "xsd:string",
        }
    }
}

/// Fields the store keeps outside the value slots, or computes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sys {
    /// `Id`.
    Id,
    /// `IsDeleted`.
    IsDeleted,
    /// `CreatedDate`.
    CreatedDate,
    /// `LastModifiedDate`.
    LastModifiedDate,
    /// `SystemModstamp`.
    SystemModstamp,
    /// `Name` of a person: `Salutation FirstName MiddleName LastName Suffix`.
    FullName,
}

/// One field of an object.
#[derive(Debug, Clone)]
pub struct FieldDef {
    /// API name.
    pub name: &'static str,
    /// Label, used in error messages as Salesforce does.
    pub label: &'static str,
    /// Type.
    pub kind: Kind,
    /// Maximum length of text.
    pub length: u32,
    /// Total digits of a double, currency or percent field.
    pub precision: u32,
    /// Digits after the point of a double, currency or percent field.
    pub scale: u32,
    /// Digits of an int field.
    pub digits: u32,
    /// May be null.
    pub nillable: bool,
    /// Settable on create.
    pub createable: bool,
    /// Settable on update.
    pub updateable: bool,
    /// Salesforce fills a value on create when none is given.
    pub defaulted: bool,
    /// The value filled on create: a picklist's default value, or `true`
    /// for a checkbox that starts checked.
    pub default_value: Option<&'static str>,
    /// Picklist values.
    pub picklist: &'static [&'static str],
    /// Only picklist values are accepted.
    pub restricted: bool,
    /// An External ID (upsert key).
    pub external_id: bool,
    /// Unique across live records (case-insensitive).
    pub unique: bool,
    /// Objects a reference may point to.
    pub reference_to: &'static [&'static str],
    /// Kept outside the slots.
    pub sys: Option<Sys>,
}

fn f(name: &'static str, label: &'static str, kind: Kind) -> FieldDef {
    FieldDef {
        name,
        label,
        kind,
        length: match kind {
            Kind::TextArea => 32_000,
            Kind::Id | Kind::Reference => 18,
            Kind::MultiPicklist => 4_099,
            Kind::String
            | Kind::Email
            | Kind::Phone
            | Kind::Url
            | Kind::Picklist
            | Kind::Combobox => 255,
            _ => 0,
        },
        precision: match kind {
            Kind::Double | Kind::Currency => 18,
            Kind::Percent => 3,
            _ => 0,
        },
        scale: match kind {
            Kind::Double | Kind::Currency => 2,
            _ => 0,
        },
        digits: if kind == Kind::Int { 9 } else { 0 },
        nillable: true,
        createable: true,
        updateable: true,
        defaulted: false,
        default_value: None,
        picklist: &[],
        restricted: false,
        external_id: false,
        unique: false,
        reference_to: &[],
        sys: None,
    }
}

/// A text field of `len` characters.
fn text(name: &'static str, label: &'static str, len: u32) -> FieldDef {
    f(name, label, Kind::String).len(len)
}

/// A checkbox: never null, false unless set.
fn checkbox(name: &'static str, label: &'static str) -> FieldDef {
    f(name, label, Kind::Boolean).defaulted()
}

/// A read-only date/time the org maintains.
fn ro(name: &'static str, label: &'static str, kind: Kind) -> FieldDef {
    f(name, label, kind).readonly()
}

impl FieldDef {
    fn required(mut self) -> Self {
        self.nillable = false;
        self
    }
    fn defaulted(mut self) -> Self {
        self.nillable = false;
        self.defaulted = true;
        self
    }
    fn default_to(mut self, value: &'static str) -> Self {
        self.default_value = Some(value);
        self.defaulted()
    }
    fn readonly(mut self) -> Self {
        self.createable = false;
        self.updateable = false;
        self
    }
    fn create_only(mut self) -> Self {
        self.updateable = false;
        self
    }
    fn len(mut self, n: u32) -> Self {
        self.length = n;
        self
    }
    fn num(mut self, precision: u32, scale: u32) -> Self {
        self.precision = precision;
        self.scale = scale;
        self
    }
    fn digits(mut self, n: u32) -> Self {
        self.digits = n;
        self
    }
    fn picklist(mut self, values: &'static [&'static str], restricted: bool) -> Self {
        self.picklist = values;
        self.restricted = restricted;
        self
    }
    fn refs(mut self, to: &'static [&'static str]) -> Self {
        self.reference_to = to;
        self
    }
    fn ext_id(mut self) -> Self {
        self.external_id = true;
        self.unique = true;
        self
    }
    fn unique(mut self) -> Self {
        self.unique = true;
        self
    }
    fn sys(mut self, sys: Sys) -> Self {
        self.sys = Some(sys);
        self.readonly().defaulted()
    }

    /// A custom field as an admin adds it in Setup (control surface): the
    /// name ends in `__c`, the type is one describe knows, lengths and
    /// precision default as Setup's do.
    #[allow(clippy::too_many_arguments)]
    pub fn custom(
        name: &str,
        label: &str,
        kind: Kind,
        length: Option<u32>,
        external_id: bool,
        unique: bool,
        picklist: &[String],
        required: bool,
    ) -> Result<Self, String> {
        let valid_name = name.len() > 3
            && name.ends_with("__c")
            && name.as_bytes()[0].is_ascii_alphabetic()
            && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
            && !name[..name.len() - 3].contains("__")
            && !name[..name.len() - 3].ends_with('_');
        if !valid_name {
            return Err(format!(
                "{name}: a custom field's API name is letters, digits and single underscores, ending in __c"
            ));
        }
        if (external_id || unique)
            && !matches!(kind, Kind::String | Kind::Email | Kind::Int | Kind::Double)
        {
            return Err(format!(
                "{name}: only text, email and number fields can be External IDs or unique"
            ));
        }
        if matches!(kind, Kind::Picklist | Kind::MultiPicklist) && picklist.is_empty() {
            return Err(format!("{name}: a picklist needs values"));
        }
        if let (Some(n), Kind::String) = (length, kind) {
            if n == 0 || n > 255 {
                return Err(format!("{name}: a text field holds 1 to 255 characters"));
            }
        }
        let leak = |s: &str| -> &'static str { Box::leak(s.to_owned().into_boxed_str()) };
        let mut field = f(leak(name), leak(label), kind);
        if let Some(n) = length {
            field.length = n;
        }
        if matches!(kind, Kind::Double | Kind::Currency | Kind::Percent) {
            field.precision = 18;
            field.scale = if kind == Kind::Double { 0 } else { 2 };
        }
        if kind == Kind::Boolean {
            field = field.defaulted();
        }
        if required && kind != Kind::Boolean {
            field = field.required();
        }
        field.external_id = external_id;
        field.unique = unique || external_id;
        if !picklist.is_empty() {
            let values: Vec<&'static str> = picklist.iter().map(|v| leak(v)).collect();
            field.picklist = Box::leak(values.into_boxed_slice());
            field.restricted = true;
        }
        Ok(field)
    }

    /// The field as describe reports it.
    pub fn describe(&self) -> Value {
        let picklist: Vec<Value> = self
            .picklist
            .iter()
            .map(|v| {
                json!({
                    "active": true,
                    "defaultValue": self.default_value == Some(*v),
                    "label": v,
                    "validFor": null,
                    "value": v,
                })
            })
            .collect();
        json!({
            "name": self.name,
            "label": self.label,
            "type": self.kind.api_name(),
            "soapType": self.kind.soap_type(),
            "length": self.length,
            "byteLength": self.length * 3,
            "precision": self.precision,
            "scale": self.scale,
            "digits": self.digits,
            "nillable": self.nillable,
            "createable": self.createable,
            "updateable": self.updateable,
            "defaultedOnCreate": self.defaulted,
            "externalId": self.external_id,
            "unique": self.unique,
            "idLookup": self.kind == Kind::Id
                || self.external_id
                || self.kind == Kind::Email
                || matches!(self.name, "Username" | "CommunityNickname"),
            "filterable": self.kind != Kind::TextArea || self.length <= 255,
            "sortable": self.kind != Kind::TextArea && self.kind != Kind::MultiPicklist,
            "groupable": !matches!(self.kind, Kind::TextArea | Kind::MultiPicklist | Kind::Double | Kind::Currency | Kind::Percent | Kind::DateTime),
            "custom": self.name.ends_with("__c"),
            "caseSensitive": false,
            "calculated": matches!(self.name, "ExpectedRevenue" | "Fiscal"),
            "nameField": self.sys == Some(Sys::FullName)
                || (self.name == "Name" && self.kind == Kind::String),
            "restrictedPicklist": self.restricted,
            "dependentPicklist": false,
            "htmlFormatted": false,
            "autoNumber": false,
            "picklistValues": picklist,
            "referenceTo": self.reference_to,
            "relationshipName": relationship_name(self.name),
            "polymorphicForeignKey": self.reference_to.len() > 1,
            "defaultValue": match (self.kind, self.default_value) {
                (Kind::Boolean, Some(v)) => json!(v == "true"),
                (Kind::Boolean, None) if self.defaulted => json!(false),
                _ => Value::Null,
            },
            "inlineHelpText": null,
        })
    }
}

/// The relationship a reference field is followed by in SOQL (`Owner.Name`).
fn relationship_name(field: &str) -> Value {
    if field.ends_with("__c") || !field.ends_with("Id") || field == "Id" {
        return Value::Null;
    }
    match field {
        "WhoId" => json!("Who"),
        "WhatId" => json!("What"),
        "JigsawContactId" | "JigsawCompanyId" => Value::Null,
        other => json!(&other[..other.len() - 2]),
    }
}

/// One object (sObject type).
#[derive(Debug, Clone)]
pub struct ObjectDef {
    /// API name.
    pub name: &'static str,
    /// Singular label.
    pub label: &'static str,
    /// Plural label.
    pub label_plural: &'static str,
    /// The first three characters of its ids.
    pub key_prefix: &'static str,
    /// Its fields, in describe order.
    pub fields: Vec<FieldDef>,
    by_name: HashMap<String, usize>,
}

impl ObjectDef {
    fn new(
        name: &'static str,
        label: &'static str,
        label_plural: &'static str,
        key_prefix: &'static str,
        own: Vec<FieldDef>,
    ) -> Self {
        let mut fields = vec![
            f("Id", "Record ID", Kind::Id).sys(Sys::Id),
            f("IsDeleted", "Deleted", Kind::Boolean).sys(Sys::IsDeleted),
        ];
        fields.extend(own);
        fields.extend([
            f("CreatedDate", "Created Date", Kind::DateTime).sys(Sys::CreatedDate),
            f("CreatedById", "Created By ID", Kind::Reference)
                .refs(&["User"])
                .readonly()
                .defaulted(),
            f("LastModifiedDate", "Last Modified Date", Kind::DateTime).sys(Sys::LastModifiedDate),
            f("LastModifiedById", "Last Modified By ID", Kind::Reference)
                .refs(&["User"])
                .readonly()
                .defaulted(),
            f("SystemModstamp", "System Modstamp", Kind::DateTime).sys(Sys::SystemModstamp),
        ]);
        let mut def = Self {
            name,
            label,
            label_plural,
            key_prefix,
            fields,
            by_name: HashMap::new(),
        };
        def.index_names();
        def
    }

    fn index_names(&mut self) {
        self.by_name = self
            .fields
            .iter()
            .enumerate()
            .map(|(i, f)| (f.name.to_ascii_lowercase(), i))
            .collect();
    }

    /// This object with one more (custom) field at the end, so the slots of
    /// existing records keep their meaning. Refuses a name already taken.
    pub fn with_custom_field(&self, field: FieldDef) -> Result<Self, String> {
        if self.field(field.name).is_some() {
            return Err(format!(
                "DUPLICATE_DEVELOPER_NAME: {} already has a field named {}",
                self.name, field.name
            ));
        }
        let mut def = self.clone();
        def.fields.push(field);
        def.index_names();
        Ok(def)
    }

    /// The index of a field, by case-insensitive name.
    pub fn field(&self, name: &str) -> Option<usize> {
        self.by_name.get(&name.to_ascii_lowercase()).copied()
    }

    /// The index of a field known to exist.
    pub fn idx(&self, name: &str) -> usize {
        self.field(name).unwrap_or(usize::MAX)
    }

    /// Records of this object can be merged (`merge()` takes Lead, Contact
    /// and Account, R2.3), and so carry `MasterRecordId`.
    pub fn mergeable(&self) -> bool {
        matches!(self.name, "Lead" | "Contact" | "Account")
    }

    /// The basic information of `GET /sobjects/{type}` and describe global.
    pub fn summary(&self, version: &str) -> Value {
        let base = format!("/services/data/v{version}/sobjects/{}", self.name);
        json!({
            "name": self.name,
            "label": self.label,
            "labelPlural": self.label_plural,
            "keyPrefix": self.key_prefix,
            "custom": false,
            "createable": true,
            "updateable": true,
            "deletable": self.name != "User",
            "mergeable": self.mergeable(),
            "queryable": true,
            "searchable": true,
            "retrieveable": true,
            "replicateable": true,
            "layoutable": true,
            "undeletable": self.name != "User",
            "triggerable": true,
            "urls": {
                "sobject": base,
                "describe": format!("{base}/describe"),
                "rowTemplate": format!("{base}/{{ID}}"),
            },
        })
    }

    /// The full describe.
    pub fn describe(&self, version: &str) -> Value {
        let mut v = self.summary(version);
        if let Some(map) = v.as_object_mut() {
            map.insert(
                "fields".into(),
                Value::Array(self.fields.iter().map(FieldDef::describe).collect()),
            );
            map.insert("childRelationships".into(), json!([]));
            map.insert("recordTypeInfos".into(), json!([]));
        }
        v
    }
}

/// Lead Status values of a fresh org; `Closed - Converted` is the one
/// `LeadStatus` marks `IsConverted` (what Lead Convert sets).
pub const LEAD_STATUS: &[&str] = &[
    "Open - Not Contacted",
    "Working - Contacted",
    "Closed - Converted",
    "Closed - Not Converted",
];
/// The converted Lead Status of a fresh org.
pub const CONVERTED_STATUS: &str = "Closed - Converted";
const SALUTATION: &[&str] = &["Mr.", "Ms.", "Mrs.", "Dr.", "Prof."];
const RATING: &[&str] = &["Hot", "Warm", "Cold"];
const LEAD_SOURCE: &[&str] = &[
    "Web",
    "Phone Inquiry",
    "Partner Referral",
    "Purchased List",
    "Other",
];
/// Opportunity stages of a fresh org, with their default probability and
/// forecast category (Setup, "Opportunity Stages").
pub const STAGES: &[(&str, f64, &str)] = &[
    ("Prospecting", 10.0, "Pipeline"),
    ("Qualification", 10.0, "Pipeline"),
    ("Needs Analysis", 20.0, "Pipeline"),
    ("Value Proposition", 50.0, "Pipeline"),
    ("Id. Decision Makers", 60.0, "Pipeline"),
    ("Perception Analysis", 70.0, "Pipeline"),
    ("Proposal/Price Quote", 75.0, "Pipeline"),
    ("Negotiation/Review", 90.0, "Pipeline"),
    ("Closed Won", 100.0, "Closed"),
    ("Closed Lost", 0.0, "Omitted"),
];
const STAGE_NAMES: &[&str] = &[
    "Prospecting",
    "Qualification",
    "Needs Analysis",
    "Value Proposition",
    "Id. Decision Makers",
    "Perception Analysis",
    "Proposal/Price Quote",
    "Negotiation/Review",
    "Closed Won",
    "Closed Lost",
];
const FORECAST_CATEGORY: &[&str] = &["Omitted", "Pipeline", "BestCase", "Forecast", "Closed"];
const FORECAST_CATEGORY_NAME: &[&str] = &["Omitted", "Pipeline", "Best Case", "Commit", "Closed"];
const OPPORTUNITY_TYPE: &[&str] = &[
    "Existing Customer - Upgrade",
    "Existing Customer - Replacement",
    "Existing Customer - Downgrade",
    "New Customer",
];
const TASK_STATUS: &[&str] = &[
    "Not Started",
    "In Progress",
    "Completed",
    "Waiting on someone else",
    "Deferred",
];
const PRIORITY: &[&str] = &["High", "Normal", "Low"];
const TASK_SUBJECT: &[&str] = &["Call", "Email", "Send Letter", "Send Quote", "Other"];
const TASK_TYPE: &[&str] = &["Call", "Email", "Meeting", "Other"];
const TASK_SUBTYPE: &[&str] = &["Task", "Email", "ListEmail", "Cadence", "Call", "LinkedIn"];
const CALL_TYPE: &[&str] = &["Internal", "Inbound", "Outbound"];
const ACCOUNT_TYPE: &[&str] = &[
    "Prospect",
    "Customer - Direct",
    "Customer - Channel",
    "Channel Partner / Reseller",
    "Installation Partner",
    "Technology Partner",
    "Other",
];
const OWNERSHIP: &[&str] = &["Public", "Private", "Subsidiary", "Other"];
const GEOCODE_ACCURACY: &[&str] = &[
    "Address",
    "NearAddress",
    "Block",
    "Street",
    "ExtendedZip",
    "Zip",
    "Neighborhood",
    "City",
    "County",
    "State",
    "Unknown",
];
const INDUSTRY: &[&str] = &[
    "Agriculture",
    "Apparel",
    "Banking",
    "Biotechnology",
    "Chemicals",
    "Communications",
    "Construction",
    "Consulting",
    "Education",
    "Electronics",
    "Energy",
    "Engineering",
    "Entertainment",
    "Environmental",
    "Finance",
    "Food & Beverage",
    "Government",
    "Healthcare",
    "Hospitality",
    "Insurance",
    "Machinery",
    "Manufacturing",
    "Media",
    "Not For Profit",
    "Recreation",
    "Retail",
    "Shipping",
    "Technology",
    "Telecommunications",
    "Transportation",
    "Utilities",
    "Other",
];
const TIME_ZONES: &[&str] = &[
    "America/Los_Angeles",
    "America/Denver",
    "America/Chicago",
    "America/New_York",
    "Europe/London",
    "Europe/Paris",
    "Europe/Berlin",
    "Asia/Tokyo",
    "Australia/Sydney",
    "GMT",
];
const LOCALES: &[&str] = &["en_US", "en_GB", "de_DE", "fr_FR", "ja_JP"];
const LANGUAGES: &[&str] = &["en_US", "de", "fr", "ja", "es"];
const ENCODINGS: &[&str] = &["UTF-8", "ISO-8859-1", "Shift_JIS"];
const USER_TYPE: &[&str] = &[
    "Standard",
    "PowerPartner",
    "CSPLitePortal",
    "CustomerSuccess",
    "PowerCustomerSuccess",
    "CsnOnly",
];

/// Objects references may name that the simulator keeps no records of,
/// with their key prefixes: a well-formed id with that prefix is accepted.
pub const UNSIMULATED: &[(&str, &str)] = &[
    ("Profile", "00e"),
    ("UserRole", "00E"),
    ("Group", "00G"),
    ("Campaign", "701"),
];

fn owner() -> FieldDef {
    f("OwnerId", "Owner ID", Kind::Reference)
        .refs(&["Group", "User"])
        .defaulted()
}

fn master_record(object: &'static [&'static str]) -> FieldDef {
    f("MasterRecordId", "Master Record ID", Kind::Reference)
        .refs(object)
        .readonly()
}

fn person_name() -> Vec<FieldDef> {
    vec![
        text("LastName", "Last Name", 80).required(),
        text("FirstName", "First Name", 40),
        f("Salutation", "Salutation", Kind::Picklist)
            .len(40)
            .picklist(SALUTATION, false),
        text("MiddleName", "Middle Name", 40),
        text("Suffix", "Suffix", 40),
        text("Name", "Full Name", 121).sys(Sys::FullName),
    ]
}

/// `Street`, `City`, … of one address, with its prefix (`Mailing`…).
fn address(prefix: &'static str) -> Vec<FieldDef> {
    let name =
        |part: &str| -> &'static str { Box::leak(format!("{prefix}{part}").into_boxed_str()) };
    let label = |part: &str| -> &'static str {
        let p = if prefix.is_empty() {
            String::new()
        } else {
            format!("{prefix} ")
        };
        Box::leak(format!("{p}{part}").into_boxed_str())
    };
    vec![
        f(name("Street"), label("Street"), Kind::TextArea).len(255),
        text(name("City"), label("City"), 40),
        text(name("State"), label("State/Province"), 80),
        text(name("PostalCode"), label("Zip/Postal Code"), 20),
        text(name("Country"), label("Country"), 80),
        f(name("Latitude"), label("Latitude"), Kind::Double).num(18, 15),
        f(name("Longitude"), label("Longitude"), Kind::Double).num(18, 15),
        f(
            name("GeocodeAccuracy"),
            label("Geocode Accuracy"),
            Kind::Picklist,
        )
        .len(40)
        .picklist(GEOCODE_ACCURACY, false),
    ]
}

fn activity_dates() -> Vec<FieldDef> {
    vec![
        ro("LastActivityDate", "Last Activity", Kind::Date),
        ro("LastViewedDate", "Last Viewed Date", Kind::DateTime),
        ro("LastReferencedDate", "Last Referenced Date", Kind::DateTime),
    ]
}

fn lead() -> ObjectDef {
    let mut own = vec![master_record(&["Lead"])];
    own.extend(person_name());
    own.extend([
        text("Title", "Title", 128),
        text("Company", "Company", 255).required(),
    ]);
    own.extend(address(""));
    own.extend([
        f("Phone", "Phone", Kind::Phone).len(40),
        f("MobilePhone", "Mobile Phone", Kind::Phone).len(40),
        f("Fax", "Fax", Kind::Phone).len(40),
        f("Email", "Email", Kind::Email).len(80),
        f("Website", "Website", Kind::Url).len(255),
        f("PhotoUrl", "Photo URL", Kind::Url).len(255).readonly(),
        f("Description", "Description", Kind::TextArea),
        f("LeadSource", "Lead Source", Kind::Picklist).picklist(LEAD_SOURCE, false),
        f("Status", "Lead Status", Kind::Picklist)
            .picklist(LEAD_STATUS, true)
            .default_to("Open - Not Contacted"),
        f("Industry", "Industry", Kind::Picklist).picklist(INDUSTRY, false),
        f("Rating", "Rating", Kind::Picklist).picklist(RATING, false),
        f("AnnualRevenue", "Annual Revenue", Kind::Currency).num(18, 0),
        f("NumberOfEmployees", "Employees", Kind::Int).digits(8),
        owner(),
        checkbox("HasOptedOutOfEmail", "Email Opt Out"),
        checkbox("IsConverted", "Converted").readonly(),
        ro("ConvertedDate", "Converted Date", Kind::Date),
        f(
            "ConvertedAccountId",
            "Converted Account ID",
            Kind::Reference,
        )
        .refs(&["Account"])
        .readonly(),
        f(
            "ConvertedContactId",
            "Converted Contact ID",
            Kind::Reference,
        )
        .refs(&["Contact"])
        .readonly(),
        f(
            "ConvertedOpportunityId",
            "Converted Opportunity ID",
            Kind::Reference,
        )
        .refs(&["Opportunity"])
        .readonly(),
        checkbox("IsUnreadByOwner", "Unread By Owner"),
        checkbox("DoNotCall", "Do Not Call"),
        checkbox("HasOptedOutOfFax", "Fax Opt Out"),
        ro("LastTransferDate", "Last Transfer Date", Kind::Date),
        text("Jigsaw", "Data.com Key", 20),
        text("JigsawContactId", "Jigsaw Contact ID", 20).readonly(),
        text("EmailBouncedReason", "Email Bounced Reason", 255),
        f("EmailBouncedDate", "Email Bounced Date", Kind::DateTime),
    ]);
    own.extend(activity_dates());
    // The org's custom fields (leadbridge's tests and demo map them).
    own.extend([
        f("Lead_Score__c", "Lead Score", Kind::Double).num(18, 0),
        text("Disqualified_Reason__c", "Disqualified Reason", 255),
        text("Leadbridge_Id__c", "Leadbridge Id", 64).ext_id(),
    ]);
    ObjectDef::new("Lead", "Lead", "Leads", "00Q", own)
}

fn contact() -> ObjectDef {
    let mut own = vec![
        master_record(&["Contact"]),
        f("AccountId", "Account ID", Kind::Reference).refs(&["Account"]),
    ];
    own.extend(person_name());
    own.extend(address("Other"));
    own.extend(address("Mailing"));
    own.extend([
        f("Phone", "Business Phone", Kind::Phone).len(40),
        f("Fax", "Business Fax", Kind::Phone).len(40),
        f("MobilePhone", "Mobile Phone", Kind::Phone).len(40),
        f("HomePhone", "Home Phone", Kind::Phone).len(40),
        f("OtherPhone", "Other Phone", Kind::Phone).len(40),
        f("AssistantPhone", "Asst. Phone", Kind::Phone).len(40),
        f("ReportsToId", "Reports To ID", Kind::Reference).refs(&["Contact"]),
        f("Email", "Email", Kind::Email).len(80),
        text("Title", "Title", 128),
        text("Department", "Department", 80),
        text("AssistantName", "Assistant's Name", 40),
        f("LeadSource", "Lead Source", Kind::Picklist).picklist(LEAD_SOURCE, false),
        f("Birthdate", "Birthdate", Kind::Date),
        f("Description", "Contact Description", Kind::TextArea),
        owner(),
        checkbox("HasOptedOutOfEmail", "Email Opt Out"),
        checkbox("HasOptedOutOfFax", "Fax Opt Out"),
        checkbox("DoNotCall", "Do Not Call"),
        ro(
            "LastCURequestDate",
            "Last Stay-in-Touch Request Date",
            Kind::DateTime,
        ),
        ro(
            "LastCUUpdateDate",
            "Last Stay-in-Touch Save Date",
            Kind::DateTime,
        ),
        text("EmailBouncedReason", "Email Bounced Reason", 255),
        f("EmailBouncedDate", "Email Bounced Date", Kind::DateTime),
        checkbox("IsEmailBounced", "Is Email Bounced").readonly(),
        f("PhotoUrl", "Photo URL", Kind::Url).len(255).readonly(),
        text("Jigsaw", "Data.com Key", 20),
        text("JigsawContactId", "Jigsaw Contact ID", 20).readonly(),
    ]);
    own.extend(activity_dates());
    own.push(text("Leadbridge_Id__c", "Leadbridge Id", 64).ext_id());
    ObjectDef::new("Contact", "Contact", "Contacts", "003", own)
}

fn account() -> ObjectDef {
    let mut own = vec![
        master_record(&["Account"]),
        text("Name", "Account Name", 255).required(),
        f("Type", "Account Type", Kind::Picklist).picklist(ACCOUNT_TYPE, false),
        f("ParentId", "Parent Account ID", Kind::Reference).refs(&["Account"]),
    ];
    own.extend(address("Billing"));
    own.extend(address("Shipping"));
    own.extend([
        f("Phone", "Account Phone", Kind::Phone).len(40),
        f("Fax", "Account Fax", Kind::Phone).len(40),
        text("AccountNumber", "Account Number", 40),
        f("Website", "Website", Kind::Url).len(255),
        f("PhotoUrl", "Photo URL", Kind::Url).len(255).readonly(),
        text("Sic", "SIC Code", 20),
        f("Industry", "Industry", Kind::Picklist).picklist(INDUSTRY, false),
        f("AnnualRevenue", "Annual Revenue", Kind::Currency).num(18, 0),
        f("NumberOfEmployees", "Employees", Kind::Int).digits(8),
        f("Ownership", "Ownership", Kind::Picklist).picklist(OWNERSHIP, false),
        text("TickerSymbol", "Ticker Symbol", 20),
        f("Description", "Account Description", Kind::TextArea),
        f("Rating", "Account Rating", Kind::Picklist).picklist(RATING, false),
        text("Site", "Account Site", 80),
        owner(),
        text("Jigsaw", "Data.com Key", 20),
        text("JigsawCompanyId", "Jigsaw Company ID", 20).readonly(),
        f("AccountSource", "Account Source", Kind::Picklist).picklist(LEAD_SOURCE, false),
        text("SicDesc", "SIC Description", 80),
    ]);
    own.extend(activity_dates());
    ObjectDef::new("Account", "Account", "Accounts", "001", own)
}

fn opportunity() -> ObjectDef {
    let mut own = vec![
        f("AccountId", "Account ID", Kind::Reference).refs(&["Account"]),
        checkbox("IsPrivate", "Private"),
        text("Name", "Name", 120).required(),
        f("Description", "Description", Kind::TextArea),
        f("StageName", "Stage", Kind::Picklist)
            .picklist(STAGE_NAMES, true)
            .required(),
        f("Amount", "Amount", Kind::Currency).num(18, 2),
        f("Probability", "Probability (%)", Kind::Percent)
            .num(3, 0)
            .defaulted(),
        f("ExpectedRevenue", "Expected Amount", Kind::Currency)
            .num(18, 2)
            .readonly(),
        f("TotalOpportunityQuantity", "Quantity", Kind::Double).num(18, 2),
        f("CloseDate", "Close Date", Kind::Date).required(),
        f("Type", "Opportunity Type", Kind::Picklist).picklist(OPPORTUNITY_TYPE, false),
        text("NextStep", "Next Step", 255),
        f("LeadSource", "Lead Source", Kind::Picklist).picklist(LEAD_SOURCE, false),
        checkbox("IsClosed", "Closed").readonly(),
        checkbox("IsWon", "Won").readonly(),
        f("ForecastCategory", "Forecast Category", Kind::Picklist)
            .len(40)
            .picklist(FORECAST_CATEGORY, true)
            .readonly()
            .defaulted(),
        f("ForecastCategoryName", "Forecast Category", Kind::Picklist)
            .picklist(FORECAST_CATEGORY_NAME, true)
            .defaulted(),
        f("CampaignId", "Campaign ID", Kind::Reference).refs(&["Campaign"]),
        checkbox("HasOpportunityLineItem", "Has Line Item").readonly(),
        owner(),
        ro(
            "LastStageChangeDate",
            "Last Stage Change Date",
            Kind::DateTime,
        ),
        ro("FiscalQuarter", "Fiscal Quarter", Kind::Int).digits(2),
        ro("FiscalYear", "Fiscal Year", Kind::Int).digits(4),
        ro("Fiscal", "Fiscal Period", Kind::String).len(6),
        f("ContactId", "Contact ID", Kind::Reference).refs(&["Contact"]),
        checkbox("HasOpenActivity", "Has Open Activity").readonly(),
        checkbox("HasOverdueTask", "Has Overdue Task").readonly(),
    ];
    own.extend(activity_dates());
    ObjectDef::new("Opportunity", "Opportunity", "Opportunities", "006", own)
}

fn task() -> ObjectDef {
    ObjectDef::new(
        "Task",
        "Task",
        "Tasks",
        "00T",
        vec![
            f("WhoId", "Name ID", Kind::Reference).refs(&["Contact", "Lead"]),
            f("WhatId", "Related To ID", Kind::Reference).refs(&["Account", "Opportunity"]),
            f("Subject", "Subject", Kind::Combobox).picklist(TASK_SUBJECT, false),
            f("ActivityDate", "Due Date Only", Kind::Date),
            f("Status", "Status", Kind::Picklist)
                .len(40)
                .picklist(TASK_STATUS, true)
                .default_to("Not Started"),
            f("Priority", "Priority", Kind::Picklist)
                .len(40)
                .picklist(PRIORITY, true)
                .default_to("Normal"),
            checkbox("IsHighPriority", "High Priority").readonly(),
            owner(),
            f("Description", "Description", Kind::TextArea),
            f("Type", "Type", Kind::Picklist)
                .len(40)
                .picklist(TASK_TYPE, false),
            f("AccountId", "Account ID", Kind::Reference)
                .refs(&["Account"])
                .readonly(),
            checkbox("IsClosed", "Closed").readonly(),
            checkbox("IsArchived", "Archived").readonly(),
            f("CallDurationInSeconds", "Call Duration", Kind::Int).digits(8),
            f("CallType", "Call Type", Kind::Picklist)
                .len(40)
                .picklist(CALL_TYPE, true),
            text("CallDisposition", "Call Result", 255),
            text("CallObject", "Call Object Identifier", 255),
            f("ReminderDateTime", "Reminder Date/Time", Kind::DateTime),
            checkbox("IsReminderSet", "Reminder Set"),
            f("TaskSubtype", "Task Subtype", Kind::Picklist)
                .len(40)
                .picklist(TASK_SUBTYPE, true)
                .create_only()
                .default_to("Task"),
            ro("CompletedDateTime", "Completed Date/Time", Kind::DateTime),
        ],
    )
}

fn user() -> ObjectDef {
    let mut own = vec![
        text("Username", "Username", 80).required().unique(),
        text("LastName", "Last Name", 80).required(),
        text("FirstName", "First Name", 40),
        text("MiddleName", "Middle Name", 40),
        text("Suffix", "Suffix", 40),
        text("Name", "Full Name", 121).sys(Sys::FullName),
        text("CompanyName", "Company Name", 80),
        text("Division", "Division", 80),
        text("Department", "Department", 80),
        text("Title", "Title", 80),
    ];
    own.extend(address(""));
    own.extend([
        f("Email", "Email", Kind::Email).len(128).required(),
        f("Phone", "Phone", Kind::Phone).len(40),
        f("Fax", "Fax", Kind::Phone).len(40),
        f("MobilePhone", "Mobile", Kind::Phone).len(40),
        text("Alias", "Alias", 8).required(),
        text("CommunityNickname", "Nickname", 40)
            .required()
            .unique(),
        f("IsActive", "Active", Kind::Boolean).default_to("true"),
        f("TimeZoneSidKey", "Time Zone", Kind::Picklist)
            .len(40)
            .picklist(TIME_ZONES, true)
            .required(),
        f("LocaleSidKey", "Locale", Kind::Picklist)
            .len(40)
            .picklist(LOCALES, true)
            .required(),
        f("EmailEncodingKey", "Email Encoding", Kind::Picklist)
            .len(40)
            .picklist(ENCODINGS, true)
            .required(),
        f("LanguageLocaleKey", "Language", Kind::Picklist)
            .len(40)
            .picklist(LANGUAGES, true)
            .required(),
        f("ProfileId", "Profile ID", Kind::Reference)
            .refs(&["Profile"])
            .required(),
        f("UserRoleId", "Role ID", Kind::Reference).refs(&["UserRole"]),
        f("UserType", "User Type", Kind::Picklist)
            .len(40)
            .picklist(USER_TYPE, true)
            .readonly()
            .default_to("Standard"),
        text("EmployeeNumber", "Employee Number", 20),
        f("ManagerId", "Manager ID", Kind::Reference).refs(&["User"]),
        ro("LastLoginDate", "Last Login", Kind::DateTime),
        text("FederationIdentifier", "SAML Federation ID", 512),
    ]);
    ObjectDef::new("User", "User", "Users", "005", own)
}

fn objects() -> Vec<ObjectDef> {
    vec![lead(), contact(), account(), opportunity(), task(), user()]
}

/// Every object of a fresh simulated org, as it starts (custom fields
/// added later live in each org's own copy).
pub static OBJECTS: LazyLock<Vec<&'static ObjectDef>> = LazyLock::new(|| {
    objects()
        .into_iter()
        .map(|o| &*Box::leak(Box::new(o)))
        .collect()
});

/// A fresh org's object by case-insensitive name.
pub fn object(name: &str) -> Option<&'static ObjectDef> {
    OBJECTS
        .iter()
        .copied()
        .find(|o| o.name.eq_ignore_ascii_case(name))
}

/// The object whose ids start with `id`'s key prefix.
pub fn object_of_id(id: &str) -> Option<&'static ObjectDef> {
    let prefix = id.get(..3)?;
    OBJECTS.iter().copied().find(|o| o.key_prefix == prefix)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn standard_fields_have_their_real_types_and_flags() {
        let lead = object("lead").unwrap();
        let field = |name: &str| &lead.fields[lead.field(name).unwrap()];
        assert_eq!(field("Salutation").kind, Kind::Picklist);
        assert_eq!(field("Website").kind, Kind::Url);
        assert_eq!(field("AnnualRevenue").kind, Kind::Currency);
        assert_eq!(field("NumberOfEmployees").digits, 8);
        assert_eq!(field("Street").kind, Kind::TextArea);
        assert_eq!(field("Street").length, 255);
        assert!(!field("ConvertedDate").createable);
        assert_eq!(field("ConvertedDate").kind, Kind::Date);
        assert!(!field("MasterRecordId").updateable);
        assert!(field("HasOptedOutOfEmail").defaulted && !field("HasOptedOutOfEmail").nillable);
        let d = field("Status").describe();
        assert_eq!(d["picklistValues"][0]["defaultValue"], true);
        assert_eq!(d["defaultedOnCreate"], true);
        assert_eq!(field("Leadbridge_Id__c").describe()["externalId"], true);
        let task = object("Task").unwrap();
        assert_eq!(
            task.fields[task.field("Subject").unwrap()].describe()["type"],
            "combobox"
        );
        let user = object("User").unwrap();
        assert!(user.fields[user.field("Username").unwrap()].unique);
    }

    #[test]
    fn custom_fields_need_a_proper_name_and_append() {
        let lead = object("Lead").unwrap();
        let bad = FieldDef::custom(
            "Score",
            "Score",
            Kind::Double,
            None,
            false,
            false,
            &[],
            false,
        );
        assert!(bad.is_err());
        let field = FieldDef::custom(
            "Tier__c",
            "Tier",
            Kind::Picklist,
            None,
            false,
            false,
            &["Gold".into(), "Silver".into()],
            false,
        )
        .unwrap();
        let with = lead.with_custom_field(field).unwrap();
        assert_eq!(with.fields.len(), lead.fields.len() + 1);
        assert_eq!(with.field("tier__c"), Some(lead.fields.len()));
        let again = FieldDef::custom(
            "Tier__c",
            "Tier",
            Kind::String,
            None,
            false,
            false,
            &[],
            false,
        )
        .unwrap();
        assert!(with.with_custom_field(again).is_err());
    }
}
