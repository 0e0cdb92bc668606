//! The simulated org's objects and fields: what describe reports and what
//! writes and SOQL are checked against.

use std::collections::HashMap;
use std::sync::LazyLock;

use serde_json::{json, Value};

/// A field's Salesforce type.
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
    /// One value of a list.
    Picklist,
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
            Kind::Picklist => "picklist",
            Kind::TextArea => "textarea",
            Kind::Boolean => "boolean",
            Kind::Int => "int",
            Kind::Double => "double",
            Kind::Currency => "currency",
            Kind::Date => "date",
            Kind::DateTime => "datetime",
        }
    }

    /// Compared and sorted as case-insensitive text, as SOQL does.
    pub fn is_text(self) -> bool {
        matches!(
            self,
            Kind::String | Kind::Email | Kind::Phone | Kind::Picklist | Kind::TextArea
        )
    }

    /// Holds a record id.
    pub fn is_id(self) -> bool {
        matches!(self, Kind::Id | Kind::Reference)
    }

    /// Holds a number.
    pub fn is_number(self) -> bool {
        matches!(self, Kind::Int | Kind::Double | Kind::Currency)
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
    /// `Name` of a person: `FirstName LastName`.
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
    /// May be null.
    pub nillable: bool,
    /// Settable on create.
    pub createable: bool,
    /// Settable on update.
    pub updateable: bool,
    /// Salesforce fills a value on create when none is given.
    pub defaulted: bool,
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
            Kind::String | Kind::Email | Kind::Phone | Kind::Picklist => 255,
            _ => 0,
        },
        nillable: true,
        createable: true,
        updateable: true,
        defaulted: false,
        picklist: &[],
        restricted: false,
        external_id: false,
        unique: false,
        reference_to: &[],
        sys: None,
    }
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
    fn readonly(mut self) -> Self {
        self.createable = false;
        self.updateable = false;
        self
    }
    fn len(mut self, n: u32) -> Self {
        self.length = n;
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
    fn sys(mut self, sys: Sys) -> Self {
        self.sys = Some(sys);
        self.readonly().defaulted()
    }

    /// The field as describe reports it.
    pub fn describe(&self) -> Value {
        let picklist: Vec<Value> = self
            .picklist
            .iter()
            .enumerate()
            .map(|(i, v)| {
                json!({
                    "active": true,
                    "defaultValue": i == 0 && self.defaulted,
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
            "soapType": match self.kind {
                Kind::Id | Kind::Reference => "tns:ID",
                Kind::Boolean => "xsd:boolean",
                Kind::Int => "xsd:int",
                Kind::Double | Kind::Currency => "xsd:double",
                Kind::Date => "xsd:date",
                Kind::DateTime => "xsd:dateTime",
                _ => "xsd:string",
            },
            "length": self.length,
            "byteLength": self.length * 3,
            "precision": if self.kind.is_number() && self.kind != Kind::Int { 18 } else { 0 },
            "scale": if self.kind.is_number() && self.kind != Kind::Int { 2 } else { 0 },
            "digits": if self.kind == Kind::Int { 9 } else { 0 },
            "nillable": self.nillable,
            "createable": self.createable,
            "updateable": self.updateable,
            "defaultedOnCreate": self.defaulted,
            "externalId": self.external_id,
            "unique": self.unique,
            "idLookup": self.kind == Kind::Id || self.external_id || self.kind == Kind::Email,
            "filterable": true,
            "sortable": self.kind != Kind::TextArea,
            "groupable": true,
            "custom": self.name.ends_with("__c"),
            "caseSensitive": false,
            "calculated": self.sys == Some(Sys::FullName),
            "nameField": self.sys == Some(Sys::FullName) || (self.name == "Name"),
            "restrictedPicklist": self.restricted,
            "picklistValues": picklist,
            "referenceTo": self.reference_to,
            "relationshipName": match self.name {
                "OwnerId" => Value::from("Owner"),
                "WhoId" => Value::from("Who"),
                "WhatId" => Value::from("What"),
                "AccountId" => Value::from("Account"),
                "CreatedById" => Value::from("CreatedBy"),
                "LastModifiedById" => Value::from("LastModifiedBy"),
                _ => Value::Null,
            },
            "defaultValue": null,
            "inlineHelpText": null,
        })
    }
}

/// One object (sObject type).
#[derive(Debug)]
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
        let by_name = fields
            .iter()
            .enumerate()
            .map(|(i, f)| (f.name.to_ascii_lowercase(), i))
            .collect();
        Self {
            name,
            label,
            label_plural,
            key_prefix,
            fields,
            by_name,
        }
    }

    /// The index of a field, by case-insensitive name.
    pub fn field(&self, name: &str) -> Option<usize> {
        self.by_name.get(&name.to_ascii_lowercase()).copied()
    }

    /// The index of a field known to exist.
    pub fn idx(&self, name: &str) -> usize {
        self.field(name).unwrap_or(usize::MAX)
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
            "createable": self.name != "User",
            "updateable": true,
            "deletable": self.name != "User",
            "queryable": true,
            "searchable": true,
            "retrieveable": true,
            "replicateable": true,
            "layoutable": true,
            "undeletable": true,
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

const LEAD_STATUS: &[&str] = &[
    "Open - Not Contacted",
    "Working - Contacted",
    "Closed - Converted",
    "Closed - Not Converted",
];
const RATING: &[&str] = &["Hot", "Warm", "Cold"];
const LEAD_SOURCE: &[&str] = &[
    "Web",
    "Phone Inquiry",
    "Partner Referral",
    "Purchased List",
    "Other",
];
const STAGES: &[&str] = &[
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
const TASK_STATUS: &[&str] = &[
    "Not Started",
    "In Progress",
    "Completed",
    "Waiting on someone else",
    "Deferred",
];
const PRIORITY: &[&str] = &["Normal", "High", "Low"];
const INDUSTRY: &[&str] = &[
    "Agriculture",
    "Banking",
    "Biotechnology",
    "Communications",
    "Education",
    "Energy",
    "Finance",
    "Healthcare",
    "Insurance",
    "Manufacturing",
    "Media",
    "Retail",
    "Technology",
    "Transportation",
    "Other",
];

fn owner() -> FieldDef {
    f("OwnerId", "Owner ID", Kind::Reference)
        .refs(&["User"])
        .defaulted()
}

fn objects() -> Vec<ObjectDef> {
    vec![
        ObjectDef::new(
            "Lead",
            "Lead",
            "Leads",
            "00Q",
            vec![
                f("FirstName", "First Name", Kind::String).len(40),
                f("LastName", "Last Name", Kind::String).len(80).required(),
                f("Name", "Full Name", Kind::String)
                    .len(121)
                    .sys(Sys::FullName),
                f("Company", "Company", Kind::String).required(),
                f("Email", "Email", Kind::Email).len(80),
                f("Phone", "Phone", Kind::Phone).len(40),
                f("Title", "Title", Kind::String).len(128),
                f("Status", "Lead Status", Kind::Picklist)
                    .picklist(LEAD_STATUS, true)
                    .defaulted(),
                f("Rating", "Rating", Kind::Picklist).picklist(RATING, false),
                f("LeadSource", "Lead Source", Kind::Picklist).picklist(LEAD_SOURCE, false),
                f("NumberOfEmployees", "Employees", Kind::Int),
                f("Country", "Country", Kind::String).len(80),
                owner(),
                f("IsConverted", "Converted", Kind::Boolean)
                    .defaulted()
                    .readonly(),
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
                f("Lead_Score__c", "Lead Score", Kind::Double),
                f(
                    "Disqualified_Reason__c",
                    "Disqualified Reason",
                    Kind::String,
                ),
                f("Leadbridge_Id__c", "Leadbridge Id", Kind::String)
                    .len(64)
                    .ext_id(),
            ],
        ),
        ObjectDef::new(
            "Contact",
            "Contact",
            "Contacts",
            "003",
            vec![
                f("FirstName", "First Name", Kind::String).len(40),
                f("LastName", "Last Name", Kind::String).len(80).required(),
                f("Name", "Full Name", Kind::String)
                    .len(121)
                    .sys(Sys::FullName),
                f("Email", "Email", Kind::Email).len(80),
                f("Phone", "Business Phone", Kind::Phone).len(40),
                f("Title", "Title", Kind::String).len(128),
                f("AccountId", "Account ID", Kind::Reference).refs(&["Account"]),
                f("LeadSource", "Lead Source", Kind::Picklist).picklist(LEAD_SOURCE, false),
                owner(),
                f("Leadbridge_Id__c", "Leadbridge Id", Kind::String)
                    .len(64)
                    .ext_id(),
            ],
        ),
        ObjectDef::new(
            "Account",
            "Account",
            "Accounts",
            "001",
            vec![
                f("Name", "Account Name", Kind::String).required(),
                f("Website", "Website", Kind::String),
                f("Industry", "Industry", Kind::Picklist).picklist(INDUSTRY, false),
                f("NumberOfEmployees", "Employees", Kind::Int),
                f("Phone", "Account Phone", Kind::Phone).len(40),
                owner(),
            ],
        ),
        ObjectDef::new(
            "Opportunity",
            "Opportunity",
            "Opportunities",
            "006",
            vec![
                f("Name", "Name", Kind::String).len(120).required(),
                f("AccountId", "Account ID", Kind::Reference).refs(&["Account"]),
                f("StageName", "Stage", Kind::Picklist)
                    .picklist(STAGES, true)
                    .required(),
                f("Amount", "Amount", Kind::Currency),
                f("CloseDate", "Close Date", Kind::Date).required(),
                f("IsWon", "Won", Kind::Boolean).defaulted().readonly(),
                f("IsClosed", "Closed", Kind::Boolean)
                    .defaulted()
                    .readonly(),
                f("LeadSource", "Lead Source", Kind::Picklist).picklist(LEAD_SOURCE, false),
                owner(),
            ],
        ),
        ObjectDef::new(
            "Task",
            "Task",
            "Tasks",
            "00T",
            vec![
                f("WhoId", "Name ID", Kind::Reference).refs(&["Lead", "Contact"]),
                f("WhatId", "Related To ID", Kind::Reference).refs(&["Account", "Opportunity"]),
                owner(),
                f("Subject", "Subject", Kind::String),
                f("Description", "Description", Kind::TextArea),
                f("ActivityDate", "Due Date Only", Kind::Date),
                f("Status", "Status", Kind::Picklist)
                    .picklist(TASK_STATUS, true)
                    .defaulted(),
                f("Priority", "Priority", Kind::Picklist)
                    .picklist(PRIORITY, true)
                    .defaulted(),
                f("IsClosed", "Closed", Kind::Boolean)
                    .defaulted()
                    .readonly(),
            ],
        ),
        ObjectDef::new(
            "User",
            "User",
            "Users",
            "005",
            vec![
                f("Username", "Username", Kind::String).len(80).required(),
                f("FirstName", "First Name", Kind::String).len(40),
                f("LastName", "Last Name", Kind::String).len(80).required(),
                f("Name", "Full Name", Kind::String)
                    .len(121)
                    .sys(Sys::FullName),
                f("Email", "Email", Kind::Email).len(128).required(),
                f("IsActive", "Active", Kind::Boolean).defaulted(),
            ],
        ),
    ]
}

/// Every object of the simulated org.
pub static OBJECTS: LazyLock<Vec<ObjectDef>> = LazyLock::new(objects);

/// An object by case-insensitive name.
pub fn object(name: &str) -> Option<&'static ObjectDef> {
    OBJECTS.iter().find(|o| o.name.eq_ignore_ascii_case(name))
}

/// The object whose ids start with `id`'s key prefix.
pub fn object_of_id(id: &str) -> Option<&'static ObjectDef> {
    let prefix = id.get(..3)?;
    OBJECTS.iter().find(|o| o.key_prefix == prefix)
}
