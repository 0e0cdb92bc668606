//! The live check: the config held against the tools themselves, before
//! the first write. One code path for `leadbridge check --online` and the
//! start of `run`, `run --once`, `run --dry-run`, `resync` and the demo.
//!
//! It connects with the configured credentials, reads each tool's metadata
//! (`describe` of every object a pipeline uses, `users` of each CRM) and
//! refuses, at the setting's file:line:col and in the tool's own words:
//!
//! - credentials the tool refuses (naming the connector and how to
//!   re-authenticate), an object the tool does not have;
//! - a mapped field the object lacks (did-you-mean from its fields), a
//!   field leadbridge writes that the tool will not let it (not createable
//!   for a create, not updateable for an update);
//! - a canonical type the field cannot hold, either way: number ↔
//!   enumeration, date ↔ date-time, boolean ↔ text, text into a number
//!   field without a value map that turns it into numbers; a value map
//!   naming a value that is not an option of the field's enumeration; a
//!   rule comparing an enumeration with a value it cannot hold;
//! - a field the CRM requires on create that no mapping fills, for a
//!   pipeline that hands off;
//! - an `upsert_key` that is no external id, an `owner_field` that is not
//!   writable, owner ids (`assign`, `sla.manager`, `sla.owners`) that are
//!   not active users, task fields the task object lacks.
//!
//! Text longer than the target field holds is a warning naming the field
//! and its length: most values fit, and the tool refuses the rest one by
//! one into the dead letter queue.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use leadbridge_core::config::{suggest, ConfigError};
use leadbridge_core::{Connector, ConnectorError, FieldSchema, ObjectSchema, ToolUser, ValueType};

use crate::config::{Assignment, Config, FieldMapping, FieldType, PipelineConfig, Places};
use crate::rules::Literal;
use crate::side::Side;

/// What the live check found.
#[derive(Debug, Default)]
pub struct Findings {
    /// Problems that refuse the start.
    pub errors: Vec<ConfigError>,
    /// Problems worth a look that do not.
    pub warnings: Vec<ConfigError>,
    /// The objects read, by (connector, object): the types the engine
    /// writes values as.
    pub schemas: BTreeMap<(String, String), ObjectSchema>,
    /// A tool could not be reached at all (a passing failure, not the
    /// config's fault): try again later rather than edit the file.
    pub unreachable: bool,
}

impl Findings {
    /// Whether nothing refuses the start.
    pub fn is_ok(&self) -> bool {
        self.errors.is_empty()
    }

    fn error(&mut self, places: &Places, path: &str, message: String, expected: Option<String>) {
        let e = places.error(path, message, expected);
        if !self.errors.contains(&e) {
            self.errors.push(e);
        }
    }

    fn warn(&mut self, places: &Places, path: &str, message: String, expected: Option<String>) {
        let e = places.error(path, message, expected);
        if !self.warnings.contains(&e) {
            self.warnings.push(e);
        }
    }

    fn sort(&mut self) {
        for list in [&mut self.errors, &mut self.warnings] {
            list.sort_by(|a, b| {
                (a.line, a.column, &a.message).cmp(&(b.line, b.column, &b.message))
            });
        }
    }
}

/// Holds `config` against the tools behind `connectors` (by config name).
pub async fn check(config: &Config, connectors: &BTreeMap<String, Arc<dyn Connector>>) -> Findings {
    let mut f = Findings::default();
    let places = &config.places;
    let mut refused: BTreeSet<String> = BTreeSet::new();
    // Every object a pipeline uses, read once per connector.
    for p in &config.pipelines {
        let mut wanted = vec![
            (
                Side::Marketing,
                p.marketing.connector.clone(),
                p.marketing.object.clone(),
                format!("pipelines.{}.marketing", p.name),
            ),
            (
                Side::Crm,
                p.crm.side.connector.clone(),
                p.crm.side.object.clone(),
                format!("pipelines.{}.crm", p.name),
            ),
        ];
        if let Some(tasks) = p.sla.as_ref().and_then(|s| s.tasks.as_ref()) {
            wanted.push((
                Side::Crm,
                p.crm.side.connector.clone(),
                tasks.object.clone(),
                format!("pipelines.{}.sla.tasks.object", p.name),
            ));
        }
        for (_, connector, object, path) in wanted {
            if refused.contains(&connector)
                || f.schemas.contains_key(&(connector.clone(), object.clone()))
            {
                continue;
            }
            let Some(c) = connectors.get(&connector) else {
                continue;
            };
            match c.describe(&object).await {
                Ok(schema) => {
                    f.schemas.insert((connector, object), schema);
                }
                Err(ConnectorError::Unauthorized { message }) => {
                    refused.insert(connector.clone());
                    let kind = c.kind();
                    f.error(
                        places,
                        &format!("connectors.{connector}"),
                        format!("connector `{connector}`: {kind} refused the credentials: {message}"),
                        Some(format!(
                            "credentials {kind} accepts: check the token reference, or walk the consent again with `leadbridge auth {kind} --connector {connector}` and `systemctl reload leadbridge`"
                        )),
                    );
                }
                Err(
                    ConnectorError::Fatal { message } | ConnectorError::Rejected { message, .. },
                ) => {
                    f.error(
                        places,
                        &path,
                        format!("connector `{connector}` has no object `{object}`: {message}"),
                        Some(format!("an object of {}", c.kind())),
                    );
                }
                Err(other) => {
                    f.unreachable = true;
                    refused.insert(connector.clone());
                    f.error(
                        places,
                        &format!("connectors.{connector}"),
                        format!("connector `{connector}` could not be checked: {other}"),
                        None,
                    );
                }
            }
        }
    }
    let mut users: HashMap<String, Option<Vec<ToolUser>>> = HashMap::new();
    for p in &config.pipelines {
        let crm = &p.crm.side.connector;
        if !users.contains_key(crm) && !refused.contains(crm) {
            if let Some(c) = connectors.get(crm) {
                let list = match c.users().await {
                    Ok(list) => list,
                    Err(e) => {
                        f.warn(
                            places,
                            &format!("connectors.{crm}"),
                            format!("connector `{crm}`: the users could not be listed, so owner ids were not checked: {e}"),
                            None,
                        );
                        None
                    }
                };
                users.insert(crm.clone(), list);
            }
        }
        let schema = |connector: &str, object: &str| {
            f.schemas
                .get(&(connector.to_owned(), object.to_owned()))
                .cloned()
        };
        let marketing = schema(&p.marketing.connector, &p.marketing.object);
        let crm_schema = schema(&p.crm.side.connector, &p.crm.side.object);
        let tasks = p
            .sla
            .as_ref()
            .and_then(|s| s.tasks.as_ref())
            .and_then(|t| schema(&p.crm.side.connector, &t.object));
        if let (Some(m), Some(c)) = (&marketing, &crm_schema) {
            pipeline(&mut f, places, p, m, c);
        }
        if let (Some(t), Some(sla)) = (&tasks, &p.sla) {
            if let Some(fields) = &sla.tasks {
                for (key, name) in [
                    ("subject", &fields.subject),
                    ("parent", &fields.parent),
                    ("owner", &fields.owner),
                ] {
                    if t.field(name).is_none() {
                        missing(
                            &mut f,
                            places,
                            &format!("pipelines.{}.sla.tasks.{key}", p.name),
                            &format!("`tasks.{key}`"),
                            name,
                            t,
                            &p.crm.side.connector,
                        );
                    }
                }
            }
        }
        if let Some(Some(list)) = users.get(&p.crm.side.connector) {
            owners(&mut f, places, p, list);
        }
    }
    f.sort();
    f
}

/// A field the object lacks (`what` names the setting), with the closest
/// one it has.
#[allow(clippy::too_many_arguments)]
fn missing(
    f: &mut Findings,
    places: &Places,
    path: &str,
    what: &str,
    name: &str,
    schema: &ObjectSchema,
    connector: &str,
) {
    let names: Vec<&str> = schema.fields.iter().map(|x| x.name.as_str()).collect();
    let expected = match suggest(name, names.iter().copied()) {
        Some(s) => format!("`{s}`; a field of `{}`", schema.object),
        None => format!("a field of `{}`", schema.object),
    };
    f.error(
        places,
        path,
        format!(
            "{what}: `{}` of connector `{connector}` has no field `{name}`",
            schema.object
        ),
        Some(expected),
    );
}

fn vendor_kind(v: ValueType) -> &'static str {
    match v {
        ValueType::Text => "text",
        ValueType::Number => "a number",
        ValueType::Bool => "a boolean",
        ValueType::Date => "a date",
        ValueType::DateTime => "a date-time",
        ValueType::Enumeration => "an enumeration",
        ValueType::MultiEnumeration => "a multiple-choice enumeration",
        ValueType::Reference => "a record id",
        ValueType::Other => "a compound value",
    }
}

fn options_list(field: &FieldSchema) -> String {
    let shown: Vec<&str> = field.options.iter().take(12).map(String::as_str).collect();
    let more = field.options.len().saturating_sub(shown.len());
    if more > 0 {
        format!("{} and {more} more", shown.join(", "))
    } else {
        shown.join(", ")
    }
}

fn pipeline(
    f: &mut Findings,
    places: &Places,
    p: &PipelineConfig,
    marketing: &ObjectSchema,
    crm: &ObjectSchema,
) {
    let hands_off = p.handoff.is_some();
    let base = format!("pipelines.{}", p.name);
    for m in &p.fields {
        for (side, schema, connector) in [
            (Side::Marketing, marketing, &p.marketing.connector),
            (Side::Crm, crm, &p.crm.side.connector),
        ] {
            let Some(name) = m.vendor_field(side) else {
                continue;
            };
            let path = format!("{base}.fields.{}.{}", m.name, side.as_str());
            let Some(field) = schema.field(name) else {
                missing(
                    f,
                    places,
                    &path,
                    &format!("field `{}`", m.name),
                    name,
                    schema,
                    connector,
                );
                continue;
            };
            let flows_in = m.flows_from(side.other());
            let created = side == Side::Crm && hands_off && (flows_in || m.key);
            if created && !field.createable {
                f.error(places, &path, format!("`{}` `{name}` cannot be set when a record is created, and field `{}` sets it on every handoff", schema.object, m.name), Some("a createable field, or `owner = \"crm\"` if sales sets it".into()));
            } else if flows_in && !field.updateable && !(side == Side::Crm && m.key) {
                f.error(places, &path, format!("`{}` `{name}` is read-only, and field `{}` writes it ({} changes flow to {side})", schema.object, m.name, side.other()), Some(format!("a writable field, or `owner = \"{side}\"`", side = side.as_str())));
            }
            types(f, places, &path, &base, m, side, field, schema);
            if flows_in {
                length(f, places, &path, m, side, field, marketing, crm);
            }
        }
    }
    if hands_off {
        let written: BTreeSet<&str> = p
            .fields
            .iter()
            .filter(|m| m.flows_from(Side::Marketing) || m.key)
            .filter_map(|m| m.crm.as_deref())
            .chain(p.crm.owner_field.as_deref())
            .chain(p.crm.upsert_key.as_deref())
            .collect();
        for field in crm.fields.iter().filter(|x| x.required) {
            if !written.contains(field.name.as_str()) {
                f.error(
                    places,
                    &format!("{base}.fields"),
                    format!("connector `{}`: `{}` requires `{}` when a record is created, and no field of pipeline `{}` fills it", p.crm.side.connector, crm.object, field.name, p.name),
                    Some(format!("a field mapping with crm = \"{}\" (owned by marketing)", field.name)),
                );
            }
        }
    }
    if let Some(key) = &p.crm.upsert_key {
        let path = format!("{base}.crm.upsert_key");
        match crm.field(key) {
            None => missing(
                f,
                places,
                &path,
                "`upsert_key`",
                key,
                crm,
                &p.crm.side.connector,
            ),
            Some(field) if !field.external_id && !field.unique => f.error(
                places,
                &path,
                format!(
                    "`{}` `{key}` is no external id: an upsert by it could create a second record",
                    crm.object
                ),
                Some("an External ID (unique) field".into()),
            ),
            Some(_) => {}
        }
    }
    if let Some(owner) = &p.crm.owner_field {
        let path = format!("{base}.crm.owner_field");
        match crm.field(owner) {
            None => missing(
                f,
                places,
                &path,
                "`owner_field`",
                owner,
                crm,
                &p.crm.side.connector,
            ),
            Some(field) if !field.createable && !field.updateable => f.error(
                places,
                &path,
                format!(
                    "`{}` `{owner}` is read-only, so no owner can be assigned",
                    crm.object
                ),
                Some("the object's writable owner field".into()),
            ),
            Some(_) => {}
        }
    }
    if let Some(rule) = p.handoff.as_ref().and_then(|h| h.when.as_ref()) {
        rule_options(
            f,
            places,
            &format!("{base}.handoff.when"),
            "when",
            rule,
            p,
            Side::Marketing,
            marketing,
        );
    }
    if let Some(sla) = &p.sla {
        rule_options(
            f,
            places,
            &format!("{base}.sla.first_touch"),
            "touched_when",
            &sla.touched_when,
            p,
            Side::Crm,
            crm,
        );
    }
}

/// Whether the canonical type and the vendor's can hold each other's values.
#[allow(clippy::too_many_arguments)]
fn types(
    f: &mut Findings,
    places: &Places,
    path: &str,
    base: &str,
    m: &FieldMapping,
    side: Side,
    field: &FieldSchema,
    schema: &ObjectSchema,
) {
    let vt = field.value_type;
    let described = format!(
        "`{}` `{}` holds {}",
        schema.object,
        field.name,
        vendor_kind(vt)
    );
    let type_path = if places
        .get(&format!("{base}.fields.{}.type", m.name))
        .is_some()
    {
        format!("{base}.fields.{}.type", m.name)
    } else {
        path.to_owned()
    };
    let clash = match (m.value_type, vt) {
        (FieldType::Number, ValueType::Enumeration | ValueType::MultiEnumeration) => Some(format!(
            "field `{}` is a number, but {described} ({}): no number is one of its options",
            m.name,
            options_list(field)
        )),
        (FieldType::Number, ValueType::Bool | ValueType::Date | ValueType::DateTime) => {
            Some(format!("field `{}` is a number, but {described}", m.name))
        }
        (FieldType::Bool, ValueType::Text | ValueType::Number | ValueType::Date | ValueType::DateTime) => {
            Some(format!("field `{}` is a boolean, but {described}", m.name))
        }
        (FieldType::String, ValueType::Bool) => Some(format!(
            "field `{}` is text, but {described}: write `type = \"bool\"`",
            m.name
        )),
        (FieldType::Datetime, ValueType::Date) => Some(format!(
            "field `{}` is a date-time, but {described}: a date-time written there loses its time, and one read back is midnight",
            m.name
        )),
        (FieldType::Datetime, ValueType::Number | ValueType::Bool | ValueType::Enumeration) => {
            Some(format!("field `{}` is a date-time, but {described}", m.name))
        }
        (FieldType::String, ValueType::Number) if side == Side::Crm && m.flows_from(Side::Marketing) => {
            // Text into a number field only works through a value map
            // whose CRM values are numbers.
            let not_numbers: Vec<&str> = m
                .values
                .crm_values()
                .filter(|v| v.trim().parse::<f64>().is_err())
                .collect();
            if m.values.is_empty() {
                Some(format!(
                    "field `{}` is text, but {described}: text would be refused; map its values to numbers with `values`, or write `type = \"number\"` if it holds numbers",
                    m.name
                ))
            } else if !not_numbers.is_empty() {
                Some(format!(
                    "field `{}` maps to {described}, but its `values` write {} there",
                    m.name,
                    not_numbers.join(", ")
                ))
            } else {
                None
            }
        }
        _ => None,
    };
    if let Some(message) = clash {
        f.error(places, &type_path, message, Some(expected_type(vt).into()));
    }
    // A value map's values must be options of an enumeration.
    if matches!(vt, ValueType::Enumeration | ValueType::MultiEnumeration)
        && !field.options.is_empty()
    {
        for (crm_value, marketing_value) in m.values.pairs() {
            let (value, which) = match side {
                Side::Crm => (crm_value, "CRM value"),
                Side::Marketing => (marketing_value, "marketing value"),
            };
            if !field.options.iter().any(|o| o == value) {
                let suggestion = suggest(value, field.options.iter().map(String::as_str));
                f.error(
                    places,
                    &format!("{base}.fields.{}.values.{crm_value}", m.name),
                    format!(
                        "the {which} `{value}` of field `{}` is not an option of `{}` `{}`",
                        m.name, schema.object, field.name
                    ),
                    Some(match suggestion {
                        Some(s) => format!("`{s}`; one of {}", options_list(field)),
                        None => format!("one of {}", options_list(field)),
                    }),
                );
            }
        }
    }
}

fn expected_type(vt: ValueType) -> &'static str {
    match vt {
        ValueType::Number => "type = \"number\", or a value map whose CRM values are numbers",
        ValueType::Bool => "type = \"bool\"",
        ValueType::Date | ValueType::DateTime => {
            "type = \"datetime\" with a date-time field, or \"string\" with a date"
        }
        ValueType::Enumeration | ValueType::MultiEnumeration => {
            "type = \"string\" and values the field has (`values` maps the two sides' options)"
        }
        _ => "a type the field holds",
    }
}

/// A warning when text may be longer than the target field holds.
#[allow(clippy::too_many_arguments)]
fn length(
    f: &mut Findings,
    places: &Places,
    path: &str,
    m: &FieldMapping,
    side: Side,
    target: &FieldSchema,
    marketing: &ObjectSchema,
    crm: &ObjectSchema,
) {
    let Some(limit) = target.length else { return };
    let source_schema = match side.other() {
        Side::Marketing => marketing,
        Side::Crm => crm,
    };
    let source = m
        .vendor_field(side.other())
        .and_then(|name| source_schema.field(name));
    // Only a length both sides state is compared: a tool that states none
    // (HubSpot's text properties) would make every mapping a warning.
    let longer = source.and_then(|s| s.length).is_some_and(|n| n > limit);
    if longer && target.value_type == ValueType::Text {
        f.warn(
            places,
            path,
            format!(
                "field `{}`: `{}` holds at most {limit} characters; longer values from {} are refused one by one (dead letters)",
                m.name,
                target.name,
                side.other()
            ),
            None,
        );
    }
}

/// A rule's text comparisons against an enumeration's options: a value
/// the field cannot hold makes that comparison never true.
#[allow(clippy::too_many_arguments)]
fn rule_options(
    f: &mut Findings,
    places: &Places,
    path: &str,
    key: &str,
    rule: &crate::rules::Rule,
    p: &PipelineConfig,
    side: Side,
    schema: &ObjectSchema,
) {
    for cmp in rule.comparisons() {
        let Some(m) = p.fields.iter().find(|m| m.name == cmp.field) else {
            continue;
        };
        let Some(field) = m.vendor_field(side).and_then(|n| schema.field(n)) else {
            continue;
        };
        if !matches!(
            field.value_type,
            ValueType::Enumeration | ValueType::MultiEnumeration
        ) || field.options.is_empty()
        {
            continue;
        }
        let Literal::Text(value) = &cmp.literal else {
            continue;
        };
        // Canonical values are in marketing's words; a CRM option becomes
        // one through the value map.
        let holds = field.options.iter().any(|o| match side {
            Side::Marketing => o == value,
            Side::Crm => m.values.crm_to_marketing(o).unwrap_or(o) == value,
        });
        if !holds {
            f.error(
                places,
                path,
                format!(
                    "`{key}` compares `{}` with '{value}', which `{}` `{}` never holds: that comparison is never true",
                    cmp.field, schema.object, field.name
                ),
                Some(format!("one of {}", options_list(field))),
            );
        }
    }
}

/// Owner ids must be active users of the CRM.
fn owners(f: &mut Findings, places: &Places, p: &PipelineConfig, users: &[ToolUser]) {
    let base = format!("pipelines.{}", p.name);
    let mut ids: Vec<(String, &str)> = Vec::new();
    if let Some(a) = p.handoff.as_ref().and_then(|h| h.assign.as_ref()) {
        assignment_ids(a, &format!("{base}.handoff.assign"), &mut ids);
    }
    if let Some(sla) = &p.sla {
        if let Some(m) = &sla.manager {
            ids.push((format!("{base}.sla.manager"), m));
        }
        for (i, o) in sla.owners.iter().enumerate() {
            if places.get(&format!("{base}.sla.owners.{i}")).is_some() {
                ids.push((format!("{base}.sla.owners.{i}"), o));
            }
        }
    }
    for (path, id) in ids {
        match users.iter().find(|u| u.id == id) {
            None => {
                let active: Vec<String> = users.iter().filter(|u| u.active).take(8).map(|u| format!("{} ({})", u.id, u.name)).collect();
                f.error(places, &path, format!("`{id}` is not a user of connector `{}`", p.crm.side.connector), Some(format!("an active user's id: {}", active.join(", "))));
            }
            Some(u) if !u.active => f.error(places, &path, format!("`{id}` ({}) is a deactivated user of connector `{}`: records cannot be assigned to them", u.name, p.crm.side.connector), Some("an active user's id".into())),
            Some(_) => {}
        }
    }
}

fn assignment_ids<'a>(a: &'a Assignment, path: &str, out: &mut Vec<(String, &'a str)>) {
    match a {
        Assignment::RoundRobin { owners } => {
            for (i, o) in owners.iter().enumerate() {
                out.push((format!("{path}.owners.{i}"), o));
            }
        }
        Assignment::Territory {
            rules,
            default_owner,
        } => {
            for (i, r) in rules.iter().enumerate() {
                out.push((format!("{path}.rules.{i}.owner"), &r.owner));
            }
            out.push((format!("{path}.default_owner"), default_owner));
        }
        Assignment::AccountOwner { fallback } => {
            if let Some(inner) = fallback {
                assignment_ids(inner, &format!("{path}.fallback"), out);
            }
        }
    }
}
