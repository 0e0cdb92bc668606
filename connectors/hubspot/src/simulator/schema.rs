//! The simulated account's object types and property definitions: what
//! `GET /crm/v3/properties/{object}` lists and what writes are validated
//! against.

/// A property's HubSpot type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// Free text.
    String,
    /// A number, stored as its text.
    Number,
    /// A date-time: ISO-8601 on output, epoch ms or ISO on input.
    DateTime,
    /// A date: epoch ms at midnight UTC.
    Date,
    /// One (or, for checkboxes, several `;`-joined) of fixed options.
    Enumeration,
    /// `true` / `false`.
    Bool,
}

impl Kind {
    pub(crate) fn type_name(self) -> &'static str {
        match self {
            Self::String => "string",
            Self::Number => "number",
            Self::DateTime => "datetime",
            Self::Date => "date",
            Self::Enumeration => "enumeration",
            Self::Bool => "bool",
        }
    }

    pub(crate) fn field_type(self) -> &'static str {
        match self {
            Self::String => "text",
            Self::Number => "number",
            Self::DateTime | Self::Date => "date",
            Self::Enumeration => "select",
            Self::Bool => "booleancheckbox",
        }
    }

    /// Compared as numbers in search filters.
    pub(crate) fn numeric(self) -> bool {
        matches!(self, Self::Number | Self::DateTime | Self::Date)
    }
}

/// Values a property derives from the record itself rather than storing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Computed {
    /// `hs_object_id`.
    Id,
    /// `createdate` / `hs_createdate`.
    Created,
    /// `lastmodifieddate` / `hs_lastmodifieddate`.
    Modified,
}

/// One property definition.
#[derive(Debug, Clone)]
pub(crate) struct PropDef {
    pub name: &'static str,
    pub label: &'static str,
    pub kind: Kind,
    pub options: &'static [&'static str],
    /// The value cannot be written through the API.
    pub read_only: bool,
    /// HubSpot enforces unique values (`hasUniqueValue`).
    pub unique: bool,
    /// Derived by HubSpot (scores, analytics).
    pub calculated: bool,
    /// Not a HubSpot default property (a portal's custom property).
    pub custom: bool,
    /// Options come from elsewhere (owners): any value is accepted.
    pub external_options: bool,
    pub computed: Option<Computed>,
    /// Searched by the free-text `query` of the search endpoint.
    pub text_searchable: bool,
}

const fn p(name: &'static str, label: &'static str, kind: Kind) -> PropDef {
    PropDef {
        name,
        label,
        kind,
        options: &[],
        read_only: false,
        unique: false,
        calculated: false,
        custom: false,
        external_options: false,
        computed: None,
        text_searchable: false,
    }
}

const fn options(mut d: PropDef, opts: &'static [&'static str]) -> PropDef {
    d.options = opts;
    d
}

const fn read_only(mut d: PropDef) -> PropDef {
    d.read_only = true;
    d
}

const fn calculated(mut d: PropDef) -> PropDef {
    d.read_only = true;
    d.calculated = true;
    d
}

const fn computed(mut d: PropDef, c: Computed) -> PropDef {
    d.read_only = true;
    d.computed = Some(c);
    if matches!(c, Computed::Id) {
        d.unique = true;
    }
    d
}

const fn text(mut d: PropDef) -> PropDef {
    d.text_searchable = true;
    d
}

const fn custom(mut d: PropDef) -> PropDef {
    d.custom = true;
    d
}

const fn owner(mut d: PropDef) -> PropDef {
    d.external_options = true;
    d
}

/// HubSpot's lifecycle stages.
pub(crate) const LIFECYCLE: &[&str] = &[
    "subscriber",
    "lead",
    "marketingqualifiedlead",
    "salesqualifiedlead",
    "opportunity",
    "customer",
    "evangelist",
    "other",
];
/// HubSpot's default lead statuses.
pub(crate) const LEAD_STATUS: &[&str] = &[
    "NEW",
    "OPEN",
    "IN_PROGRESS",
    "OPEN_DEAL",
    "UNQUALIFIED",
    "ATTEMPTED_TO_CONTACT",
    "CONNECTED",
    "BAD_TIMING",
];
/// Employee-count ranges of the `numemployees` dropdown.
pub(crate) const EMPLOYEE_RANGES: &[&str] = &[
    "1-5", "5-25", "25-50", "50-100", "100-500", "500-1000", "1000+",
];
const SOURCES: &[&str] = &[
    "ORGANIC_SEARCH",
    "PAID_SEARCH",
    "EMAIL_MARKETING",
    "SOCIAL_MEDIA",
    "REFERRALS",
    "OTHER_CAMPAIGNS",
    "DIRECT_TRAFFIC",
    "OFFLINE",
    "PAID_SOCIAL",
];
const TASK_STATUS: &[&str] = &[
    "NOT_STARTED",
    "IN_PROGRESS",
    "WAITING",
    "COMPLETED",
    "DEFERRED",
];
const TASK_PRIORITY: &[&str] = &["LOW", "MEDIUM", "HIGH"];
const TASK_TYPE: &[&str] = &["CALL", "EMAIL", "TODO"];
const DEAL_STAGES: &[&str] = &[
    "appointmentscheduled",
    "qualifiedtobuy",
    "presentationscheduled",
    "decisionmakerboughtin",
    "contractsent",
    "closedwon",
    "closedlost",
];

static CONTACTS: &[PropDef] = &[
    text(p("email", "Email", Kind::String)),
    text(p("firstname", "First Name", Kind::String)),
    text(p("lastname", "Last Name", Kind::String)),
    text(p("company", "Company Name", Kind::String)),
    p("jobtitle", "Job Title", Kind::String),
    text(p("phone", "Phone Number", Kind::String)),
    p("website", "Website URL", Kind::String),
    p("country", "Country/Region", Kind::String),
    p("city", "City", Kind::String),
    p("state", "State/Region", Kind::String),
    p("zip", "Postal Code", Kind::String),
    p("address", "Street Address", Kind::String),
    text(p("mobilephone", "Mobile Phone Number", Kind::String)),
    p("fax", "Fax Number", Kind::String),
    p("industry", "Industry", Kind::String),
    p("annualrevenue", "Annual Revenue", Kind::String),
    p("salutation", "Salutation", Kind::String),
    options(
        p("numemployees", "Number of Employees", Kind::Enumeration),
        EMPLOYEE_RANGES,
    ),
    calculated(p("hubspotscore", "HubSpot Score", Kind::Number)),
    options(
        p("lifecyclestage", "Lifecycle Stage", Kind::Enumeration),
        LIFECYCLE,
    ),
    options(
        p("hs_lead_status", "Lead Status", Kind::Enumeration),
        LEAD_STATUS,
    ),
    calculated(options(
        p("hs_analytics_source", "Original Source", Kind::Enumeration),
        SOURCES,
    )),
    owner(p("hubspot_owner_id", "Contact owner", Kind::Enumeration)),
    custom(p("campaign", "Campaign", Kind::String)),
    custom(p(
        "disqualify_reason",
        "Disqualification reason",
        Kind::String,
    )),
    custom(p("marketing_consent", "Marketing consent", Kind::Bool)),
    // Sales outcomes written back by leadbridge (custom properties a portal adds).
    custom(p("opportunity_stage", "Opportunity stage", Kind::String)),
    custom(p("closed_won", "Closed won", Kind::Bool)),
    custom(p("opportunity_amount", "Opportunity amount", Kind::Number)),
    custom(p("last_event_date", "Last event date", Kind::Date)),
    read_only(p(
        "hs_merged_object_ids",
        "Merged Contact IDs",
        Kind::String,
    )),
    computed(p("hs_object_id", "Record ID", Kind::Number), Computed::Id),
    computed(
        p("createdate", "Create Date", Kind::DateTime),
        Computed::Created,
    ),
    computed(
        p("lastmodifieddate", "Last Modified Date", Kind::DateTime),
        Computed::Modified,
    ),
];

static COMPANIES: &[PropDef] = &[
    text(p("name", "Company name", Kind::String)),
    text(p("domain", "Company Domain Name", Kind::String)),
    p("industry", "Industry", Kind::String),
    p("numberofemployees", "Number of Employees", Kind::Number),
    p("country", "Country/Region", Kind::String),
    owner(p("hubspot_owner_id", "Company owner", Kind::Enumeration)),
    computed(p("hs_object_id", "Record ID", Kind::Number), Computed::Id),
    computed(
        p("createdate", "Create Date", Kind::DateTime),
        Computed::Created,
    ),
    computed(
        p("hs_lastmodifieddate", "Last Modified Date", Kind::DateTime),
        Computed::Modified,
    ),
];

static DEALS: &[PropDef] = &[
    text(p("dealname", "Deal Name", Kind::String)),
    p("amount", "Amount", Kind::Number),
    options(p("dealstage", "Deal Stage", Kind::Enumeration), DEAL_STAGES),
    options(p("pipeline", "Pipeline", Kind::Enumeration), &["default"]),
    p("closedate", "Close Date", Kind::DateTime),
    owner(p("hubspot_owner_id", "Deal owner", Kind::Enumeration)),
    computed(p("hs_object_id", "Record ID", Kind::Number), Computed::Id),
    computed(
        p("createdate", "Create Date", Kind::DateTime),
        Computed::Created,
    ),
    computed(
        p("hs_lastmodifieddate", "Last Modified Date", Kind::DateTime),
        Computed::Modified,
    ),
];

static NOTES: &[PropDef] = &[
    text(p("hs_note_body", "Note body", Kind::String)),
    p("hs_timestamp", "Activity date", Kind::DateTime),
    owner(p(
        "hubspot_owner_id",
        "Activity assigned to",
        Kind::Enumeration,
    )),
    computed(p("hs_object_id", "Record ID", Kind::Number), Computed::Id),
    computed(
        p("hs_createdate", "Create date", Kind::DateTime),
        Computed::Created,
    ),
    computed(
        p("hs_lastmodifieddate", "Last Modified Date", Kind::DateTime),
        Computed::Modified,
    ),
];

static TASKS: &[PropDef] = &[
    text(p("hs_task_subject", "Task Title", Kind::String)),
    p("hs_task_body", "Task notes", Kind::String),
    options(
        p("hs_task_status", "Task Status", Kind::Enumeration),
        TASK_STATUS,
    ),
    options(
        p("hs_task_priority", "Priority", Kind::Enumeration),
        TASK_PRIORITY,
    ),
    options(p("hs_task_type", "Task Type", Kind::Enumeration), TASK_TYPE),
    p("hs_timestamp", "Due date", Kind::DateTime),
    owner(p("hubspot_owner_id", "Assigned to", Kind::Enumeration)),
    read_only(p("hs_task_completion_date", "Completed at", Kind::DateTime)),
    computed(p("hs_object_id", "Record ID", Kind::Number), Computed::Id),
    computed(
        p("hs_createdate", "Create date", Kind::DateTime),
        Computed::Created,
    ),
    computed(
        p("hs_lastmodifieddate", "Last Modified Date", Kind::DateTime),
        Computed::Modified,
    ),
];

/// The object types the simulator serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum ObjectType {
    Contacts,
    Companies,
    Deals,
    Notes,
    Tasks,
}

impl ObjectType {
    pub(crate) const ALL: [ObjectType; 5] = [
        Self::Contacts,
        Self::Companies,
        Self::Deals,
        Self::Notes,
        Self::Tasks,
    ];

    /// Accepts the plural name, the singular, and the object type id (`0-1`).
    pub(crate) fn parse(name: &str) -> Option<Self> {
        Some(match name.to_ascii_lowercase().as_str() {
            "contacts" | "contact" | "0-1" => Self::Contacts,
            "companies" | "company" | "0-2" => Self::Companies,
            "deals" | "deal" | "0-3" => Self::Deals,
            "notes" | "note" | "0-46" => Self::Notes,
            "tasks" | "task" | "0-27" => Self::Tasks,
            _ => return None,
        })
    }

    pub(crate) fn index(self) -> usize {
        self as usize
    }

    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::Contacts => "contacts",
            Self::Companies => "companies",
            Self::Deals => "deals",
            Self::Notes => "notes",
            Self::Tasks => "tasks",
        }
    }

    /// HubSpot's object type id (`0-1` for contacts), as its messages name it.
    pub(crate) fn type_id(self) -> &'static str {
        match self {
            Self::Contacts => "0-1",
            Self::Companies => "0-2",
            Self::Deals => "0-3",
            Self::Notes => "0-46",
            Self::Tasks => "0-27",
        }
    }

    /// The upper-case singular HubSpot uses in messages (`CONTACT`).
    pub(crate) fn singular_upper(self) -> &'static str {
        match self {
            Self::Contacts => "CONTACT",
            Self::Companies => "COMPANY",
            Self::Deals => "DEAL",
            Self::Notes => "NOTE",
            Self::Tasks => "TASK",
        }
    }

    pub(crate) fn props(self) -> &'static [PropDef] {
        match self {
            Self::Contacts => CONTACTS,
            Self::Companies => COMPANIES,
            Self::Deals => DEALS,
            Self::Notes => NOTES,
            Self::Tasks => TASKS,
        }
    }

    /// The property index of `name`, if the object has it.
    pub(crate) fn prop(self, name: &str) -> Option<usize> {
        self.props().iter().position(|d| d.name == name)
    }

    /// What search and reads return when the request names no properties.
    pub(crate) fn default_properties(self) -> &'static [&'static str] {
        match self {
            Self::Contacts => &[
                "createdate",
                "email",
                "firstname",
                "hs_object_id",
                "lastmodifieddate",
                "lastname",
            ],
            Self::Companies => &[
                "createdate",
                "domain",
                "hs_lastmodifieddate",
                "hs_object_id",
                "name",
            ],
            Self::Deals => &[
                "amount",
                "closedate",
                "createdate",
                "dealname",
                "dealstage",
                "hs_lastmodifieddate",
                "hs_object_id",
                "pipeline",
            ],
            Self::Notes | Self::Tasks => &["hs_createdate", "hs_lastmodifieddate", "hs_object_id"],
        }
    }

    /// Properties a create must set.
    pub(crate) fn required_on_create(self) -> &'static [&'static str] {
        match self {
            Self::Notes | Self::Tasks => &["hs_timestamp"],
            _ => &[],
        }
    }
}

/// The HUBSPOT_DEFINED association types: `(from, to, type id, reverse type id)`.
pub(crate) const ASSOCIATION_TYPES: &[(ObjectType, ObjectType, u16, u16)] = &[
    (ObjectType::Contacts, ObjectType::Companies, 279, 280),
    (ObjectType::Contacts, ObjectType::Companies, 1, 2),
    (ObjectType::Deals, ObjectType::Contacts, 3, 4),
    (ObjectType::Deals, ObjectType::Companies, 341, 342),
    (ObjectType::Deals, ObjectType::Companies, 5, 6),
    (ObjectType::Notes, ObjectType::Contacts, 202, 201),
    (ObjectType::Notes, ObjectType::Companies, 190, 189),
    (ObjectType::Notes, ObjectType::Deals, 214, 213),
    (ObjectType::Tasks, ObjectType::Contacts, 204, 203),
    (ObjectType::Tasks, ObjectType::Companies, 192, 191),
    (ObjectType::Tasks, ObjectType::Deals, 216, 215),
];

/// The reverse type of association type `type_id` from `from` to `to`, when
/// that pair has such a type.
pub(crate) fn reverse_association(from: ObjectType, to: ObjectType, type_id: u16) -> Option<u16> {
    ASSOCIATION_TYPES.iter().find_map(|&(a, b, fwd, rev)| {
        if a == from && b == to && fwd == type_id {
            Some(rev)
        } else if b == from && a == to && rev == type_id {
            Some(fwd)
        } else {
            None
        }
    })
}

/// The default (unlabelled) association type from `from` to `to`.
pub(crate) fn default_association(from: ObjectType, to: ObjectType) -> Option<u16> {
    ASSOCIATION_TYPES.iter().find_map(|&(a, b, fwd, rev)| {
        if a == from && b == to {
            Some(fwd)
        } else if b == from && a == to {
            Some(rev)
        } else {
            None
        }
    })
}
