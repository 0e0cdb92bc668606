//! The config as written: every key ops may set, with where it was written.
//!
//! This is the first of two stages (raw → validated, as in ripgrep's
//! low/high args). Nothing here is checked beyond TOML types; keys are all
//! optional at this level (the reader reports missing required ones), so a
//! file with mistakes still yields as much as can be read, and validation
//! can report every remaining problem. The serde derives with
//! `deny_unknown_fields` state the same contract for tools that read the
//! file with serde; a test keeps the two views in step on the example.

use std::collections::BTreeMap;
use std::ops::Range;

use serde::Deserialize;
use toml::de::DeValue;
use toml::Spanned;

use leadbridge_core::config::{type_name, Table};
use leadbridge_core::Registry;

pub use super::connector::RawConnector;

/// A string with where it was written.
pub use leadbridge_core::config::Text;

/// The whole file.
#[derive(Debug, Default)]
pub struct RawConfig {
    /// `[daemon]`: process-wide settings.
    pub daemon: Option<RawDaemon>,
    /// `[connectors.<name>]`: one entry per tool account, by name.
    pub connectors: Option<BTreeMap<Text, RawConnector>>,
    /// `[[pipelines]]`: one marketing object synced with one CRM object.
    pub pipelines: Option<Vec<RawPipeline>>,
}

/// `[daemon]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDaemon {
    /// Where the daemon writes its sled database and rotated tokens; a
    /// relative path is taken from the config file's folder.
    pub state_dir: Option<Text>,
    /// Address of the admin HTTP server (`/healthz`, `/metrics`, `/status`).
    pub admin_listen: Option<Text>,
    /// `auto` (human on a terminal, JSON otherwise), `json` or `human`.
    pub log_format: Option<Text>,
    /// How long SIGTERM waits for the batch in flight before giving up.
    pub shutdown_grace: Option<Text>,
    /// The bearer token the admin server's POST actions require, as a
    /// secret reference (`env:NAME` / `file:/path`); without it those
    /// actions are refused.
    pub admin_token: Option<Text>,
    /// Lets `admin_listen` be a non-loopback address (logged as a warning).
    pub admin_allow_non_loopback: Option<Spanned<bool>>,
    /// Keys tools adopted from `[daemon]` (`ConnectorFactory::daemon_keys`),
    /// as (kind, key, value): settings older configs wrote here.
    #[serde(skip)]
    pub adopted: Vec<(&'static str, &'static str, Text)>,
    /// Where `[daemon]` was written.
    #[serde(skip)]
    pub span: Range<usize>,
}

/// `[[pipelines]]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPipeline {
    /// A unique name (in logs, metrics, state keys and CLI arguments).
    pub name: Option<Text>,
    /// When cycles run: cron with seconds (`"0 */2 * * * *"`).
    pub schedule: Option<Text>,
    /// The marketing side: `{ connector, object }`.
    pub marketing: Option<RawSide>,
    /// The CRM side: `{ connector, object, match_on, upsert_key }`.
    pub crm: Option<RawSide>,
    /// Canonical field name → its mapping on each side.
    pub fields: Option<BTreeMap<Text, RawField>>,
    /// What marketing hands to sales, and to whom.
    pub handoff: Option<RawHandoff>,
    /// The follow-up SLA: what sales owes in return.
    pub sla: Option<RawSla>,
    /// Sales outcomes followed back to marketing.
    pub outcomes: Option<super::raw_outcomes::RawOutcomes>,
    /// Where the `[[pipelines]]` header was written.
    #[serde(skip)]
    pub span: Range<usize>,
    /// Where `[pipelines.fields]` was written.
    #[serde(skip)]
    pub fields_span: Range<usize>,
}

/// `marketing = { … }` / `crm = { … }`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSide {
    /// The name of a `[connectors.<name>]` entry.
    pub connector: Option<Text>,
    /// The tool's object (`contacts`, `Lead`).
    pub object: Option<Text>,
    /// CRM only: the canonical field matched to link records (the key field by default).
    pub match_on: Option<Text>,
    /// CRM only: an External ID field to upsert by.
    pub upsert_key: Option<Text>,
    /// CRM only: the field that holds a record's owner (`OwnerId`,
    /// `hubspot_owner_id`): what `assign` writes and the SLA reads.
    pub owner_field: Option<Text>,
    /// Where the table was written.
    #[serde(skip)]
    pub span: Range<usize>,
}

/// One entry of `[pipelines.fields]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawField {
    /// The marketing tool's field.
    pub marketing: Option<Text>,
    /// The CRM's field.
    pub crm: Option<Text>,
    /// Whether this is the field records are matched and deduplicated by.
    pub key: Option<Spanned<bool>>,
    /// `marketing`, `crm` or `both`: which side's changes win.
    pub owner: Option<Text>,
    /// With `owner = "both"`: how a conflict is decided.
    pub conflict: Option<Text>,
    /// CRM value → marketing value.
    pub values: Option<Spanned<BTreeMap<Text, Text>>>,
    /// Whether surrounding whitespace is removed (default true).
    pub trim: Option<Spanned<bool>>,
    /// `string` (default), `number`, `bool` or `datetime`.
    #[serde(rename = "type")]
    pub kind: Option<Text>,
    /// Where the mapping was written.
    #[serde(skip)]
    pub span: Range<usize>,
}

/// `[pipelines.handoff]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawHandoff {
    /// CEL over canonical fields: which leads qualify.
    pub when: Option<Text>,
    /// Canonical fields that must be present and non-blank.
    pub require: Option<Spanned<Vec<Text>>>,
    /// Who gets the lead.
    pub assign: Option<RawAssign>,
    /// Sales' feedback goes to marketing duplicates too, not only to the
    /// pair's own record.
    pub feedback_to_duplicates: Option<Spanned<bool>>,
    /// Where the table was written.
    #[serde(skip)]
    pub span: Range<usize>,
}

/// `assign = { strategy = …, … }`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAssign {
    /// `round_robin`, `territory` or `account_owner`.
    pub strategy: Option<Text>,
    /// round_robin: the CRM user ids taking turns.
    pub owners: Option<Spanned<Vec<Text>>>,
    /// territory: rules tried in order.
    pub rules: Option<Vec<RawTerritoryRule>>,
    /// territory: the owner when no rule matches.
    pub default_owner: Option<Text>,
    /// account_owner: who gets a lead whose account has no owner (an owner
    /// id, or a round_robin/territory table).
    pub fallback: Option<RawFallback>,
    /// Where the table was written.
    #[serde(skip)]
    pub span: Range<usize>,
}

/// account_owner's fallback.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum RawFallback {
    /// One owner id.
    Owner(Text),
    /// Another strategy.
    Assign(Box<RawAssign>),
}

pub use super::raw_sla::{
    RawCalendar, RawCrmTasks, RawFirstTouch, RawRecycle, RawSla, RawStep, RawStepTask,
};

/// `{ when = "country == 'JP'", owner = "005…" }`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTerritoryRule {
    /// CEL over canonical fields.
    pub when: Option<Text>,
    /// The CRM user id.
    pub owner: Option<Text>,
    /// Where the rule was written.
    #[serde(skip)]
    pub span: Range<usize>,
}

const DURATION: &str = "a duration such as \"30s\", \"2m\", \"8h\" or \"5d\"";

impl RawConfig {
    /// Reads the spanned document, reporting type and key problems.
    pub(crate) fn read(root: &Table<'_, '_, '_>, registry: &Registry) -> RawConfig {
        let daemon = root
            .req_table("daemon", "a [daemon] table with at least `state_dir`")
            .map(|t| read_daemon(&t, registry));
        let connectors = root
            .req_table(
                "connectors",
                "[connectors.<name>] tables for the tools pipelines use",
            )
            .map(|t| {
                let mut out = BTreeMap::new();
                for (name, value) in t.entries() {
                    match value.get_ref() {
                        DeValue::Table(inner) => {
                            let table = Table::new(
                                inner,
                                value.span(),
                                format!("[connectors.{}]", name.get_ref()),
                                t.diag(),
                            );
                            out.insert(name, RawConnector::read(&table, registry));
                        }
                        other => t.diag().error(
                            value.span(),
                            format!("connector `{}` is {}", name.get_ref(), type_name(other)),
                            Some("a table: [connectors.NAME] with kind, auth…".into()),
                        ),
                    }
                }
                out
            });
        let pipelines = match root.tables("pipelines", "[[pipelines]] tables") {
            Some(list) => Some(list.iter().map(read_pipeline).collect()),
            None => {
                if root.get("pipelines").is_none() {
                    root.missing("pipelines", "at least one [[pipelines]] table");
                }
                None
            }
        };
        RawConfig {
            daemon,
            connectors,
            pipelines,
        }
    }
}

fn read_daemon(t: &Table<'_, '_, '_>, registry: &Registry) -> RawDaemon {
    let adopted = registry
        .factories()
        .flat_map(|f| f.daemon_keys().iter().map(move |key| (f.kind(), *key)))
        .filter_map(|(kind, key)| {
            t.string(key, "a reference: \"env:NAME\" or \"file:/path\"")
                .map(|v| (kind, key, v))
        })
        .collect();
    let raw = RawDaemon {
        state_dir: t.req_string("state_dir", "a folder path such as \"/var/lib/leadbridge\""),
        admin_listen: t.string("admin_listen", "an address such as \"127.0.0.1:9464\""),
        log_format: t.string("log_format", "\"auto\", \"json\" or \"human\""),
        shutdown_grace: t.string("shutdown_grace", DURATION),
        admin_token: t.string("admin_token", "a reference: \"env:NAME\" or \"file:/path\""),
        admin_allow_non_loopback: t.boolean("admin_allow_non_loopback", "true or false"),
        adopted,
        span: t.span(),
    };
    t.report_unknown();
    raw
}

fn read_pipeline(t: &Table<'_, '_, '_>) -> RawPipeline {
    let side = |key: &'static str, crm: bool| {
        let expected = if crm {
            "crm = { connector = \"…\", object = \"Lead\", match_on = \"email\" }"
        } else {
            "marketing = { connector = \"…\", object = \"contacts\" }"
        };
        t.req_table(key, expected).map(|s| {
            let raw = RawSide {
                connector: s.req_string("connector", "the name of a [connectors.<name>] table"),
                object: s.req_string(
                    "object",
                    "the tool's object name, such as \"contacts\" or \"Lead\"",
                ),
                match_on: if crm {
                    s.string("match_on", "a canonical field name")
                } else {
                    None
                },
                upsert_key: if crm {
                    s.string("upsert_key", "a CRM External ID field name")
                } else {
                    None
                },
                owner_field: if crm {
                    s.string(
                        "owner_field",
                        "the CRM field holding the owner, such as \"OwnerId\"",
                    )
                } else {
                    None
                },
                span: s.span(),
            };
            s.report_unknown();
            raw
        })
    };
    let name = t.req_string("name", "a unique pipeline name such as \"inbound\"");
    let schedule = t.req_string(
        "schedule",
        "a cron expression with seconds such as \"0 */2 * * * *\"",
    );
    let marketing = side("marketing", false);
    let crm = side("crm", true);
    let mut fields_span = t.span();
    let fields = t
        .req_table(
            "fields",
            "a [pipelines.fields] table mapping canonical names to each side's fields",
        )
        .map(|f| {
            fields_span = f.span();
            read_fields(
                &f,
                "field",
                "pipelines.fields",
                "a table such as { marketing = \"email\", crm = \"Email\", owner = \"marketing\" }",
            )
        });
    let handoff = t
        .table("handoff", "a [pipelines.handoff] table")
        .map(|h| read_handoff(&h));
    let sla = t
        .table("sla", "a [pipelines.sla] table")
        .map(|s| super::raw_sla::read_sla(&s));
    let outcomes = t
        .table("outcomes", "a [pipelines.outcomes] table")
        .map(|o| super::raw_outcomes::read_outcomes(&o));
    let raw = RawPipeline {
        name,
        schedule,
        marketing,
        crm,
        fields,
        handoff,
        sla,
        outcomes,
        span: t.span(),
        fields_span,
    };
    t.report_unknown();
    raw
}

/// A table of field mappings (`[pipelines.fields]`,
/// `[pipelines.outcomes.fields]`): each entry a mapping table, located as
/// `{what} `name`` under `{path}.name`; a non-table entry is reported.
pub(crate) fn read_fields(
    f: &Table<'_, '_, '_>,
    what: &str,
    path: &str,
    example: &str,
) -> BTreeMap<Text, RawField> {
    let mut out = BTreeMap::new();
    for (name, value) in f.entries() {
        match value.get_ref() {
            DeValue::Table(inner) => {
                let table = Table::new(
                    inner,
                    value.span(),
                    format!("{what} `{}`", name.get_ref()),
                    f.diag(),
                )
                .with_path(format!("{path}.{}", name.get_ref()));
                out.insert(name, read_field(&table));
            }
            other => f.diag().error(
                value.span(),
                format!("{what} `{}` is {}", name.get_ref(), type_name(other)),
                Some(example.into()),
            ),
        }
    }
    out
}

pub(crate) fn read_field(t: &Table<'_, '_, '_>) -> RawField {
    let values = t.string_map(
        "values",
        "a string: \"CRM value\" = \"marketing value\"",
        "a table: { \"CRM value\" = \"marketing value\", … }",
    );
    let raw = RawField {
        marketing: t.string("marketing", "the marketing tool's field name"),
        crm: t.string("crm", "the CRM's field name"),
        key: t.boolean("key", "true or false"),
        owner: t.string("owner", "\"marketing\", \"crm\" or \"both\""),
        conflict: t.string(
            "conflict",
            "\"newest\", \"prefer_marketing\", \"prefer_crm\", \"prefer_marketing_unless_blank\" or \"prefer_crm_unless_blank\"",
        ),
        values,
        trim: t.boolean("trim", "true or false"),
        kind: t.string("type", "\"string\", \"number\", \"bool\" or \"datetime\""),
        span: t.span(),
    };
    t.report_unknown();
    raw
}

fn read_handoff(t: &Table<'_, '_, '_>) -> RawHandoff {
    let raw = RawHandoff {
        when: t.string(
            "when",
            "a CEL expression over canonical fields, such as \"score >= 80\"",
        ),
        require: t.strings("require", "an array of canonical field names"),
        assign: t
            .table(
                "assign",
                "assign = { strategy = \"round_robin\", owners = [\"…\"] }",
            )
            .map(|a| read_assign(&a)),
        feedback_to_duplicates: t.boolean("feedback_to_duplicates", "true or false"),
        span: t.span(),
    };
    t.report_unknown();
    raw
}

fn read_assign(t: &Table<'_, '_, '_>) -> RawAssign {
    let rules = t
        .tables(
            "rules",
            "an array of { when = \"…\", owner = \"…\" } tables",
        )
        .map(|list| {
            list.iter()
                .map(|r| {
                    let raw = RawTerritoryRule {
                        when: r.req_string("when", "a CEL expression over canonical fields"),
                        owner: r.req_string("owner", "a CRM user id"),
                        span: r.span(),
                    };
                    r.report_unknown();
                    raw
                })
                .collect()
        });
    let fallback = t.get("fallback").and_then(|v| match v.get_ref() {
        DeValue::String(s) => Some(RawFallback::Owner(Spanned::new(v.span(), s.to_string()))),
        DeValue::Table(inner) => {
            let table = Table::new(inner, v.span(), t.child_name("fallback"), t.diag());
            Some(RawFallback::Assign(Box::new(read_assign(&table))))
        }
        other => {
            t.diag().error(
                v.span(),
                format!("`fallback` in {} is {}", t.name(), type_name(other)),
                Some("an owner id or { strategy = \"round_robin\", owners = [\"…\"] }".into()),
            );
            None
        }
    });
    let raw = RawAssign {
        strategy: t.req_string(
            "strategy",
            "\"round_robin\", \"territory\" or \"account_owner\"",
        ),
        owners: t.strings("owners", "an array of CRM user ids"),
        rules,
        default_owner: t.string("default_owner", "a CRM user id"),
        fallback,
        span: t.span(),
    };
    t.report_unknown();
    raw
}
