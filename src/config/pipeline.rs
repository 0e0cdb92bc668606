//! `[[pipelines]]`: one marketing object synced with one CRM object, its
//! canonical fields and its handoff rule.

use std::collections::{BTreeMap, BTreeSet};
use std::str::FromStr;
use std::sync::Arc;

use super::fields::{ConflictPolicy, FieldMapping, FieldOwner, FieldType, Side, ValueMap};
use super::raw::{RawAssign, RawFallback, RawField, RawHandoff, RawPipeline, RawSide, Text};
use super::rule_check::RuleChecks;
use crate::rules::Rule;
use leadbridge_core::config::Checker;

/// One side of a pipeline: which connector, which object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SideConfig {
    /// The `[connectors.<name>]` it reads and writes through.
    pub connector: String,
    /// The tool's object (`contacts`, `Lead`).
    pub object: String,
}

/// The CRM side, with how records are matched and upserted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CrmConfig {
    /// Connector and object.
    pub side: SideConfig,
    /// The canonical field an unlinked marketing record is matched on (the
    /// key field unless set).
    pub match_on: String,
    /// A CRM External ID field to upsert by, so a retried create never
    /// makes a duplicate; `None` to look up by `match_on`, then write.
    pub upsert_key: Option<String>,
    /// The CRM field holding a record's owner (`OwnerId`): written by
    /// assignment and reassignment, read back as the lead's owner for its
    /// tasks and the funnel. Stated, never guessed: `assign` needs it.
    pub owner_field: Option<String>,
}

/// `[pipelines.handoff]`: which leads marketing hands to sales, to whom.
#[derive(Debug, Clone)]
pub struct Handoff {
    /// The qualifying rule; `None` hands over every lead with the required fields.
    pub when: Option<Arc<Rule>>,
    /// Canonical fields that must be present and non-blank.
    pub require: Vec<String>,
    /// Who gets the lead; `None` leaves it to the CRM's default owner.
    pub assign: Option<Assignment>,
    /// Whether sales' feedback is also written to the marketing records
    /// found to be duplicates of a pair's (default: only the pair's own).
    pub feedback_to_duplicates: bool,
}

/// How a handed-off lead gets its owner.
#[derive(Debug, Clone)]
pub enum Assignment {
    /// Owners take turns (the position is kept in state).
    RoundRobin {
        /// CRM user ids, in turn order; never empty.
        owners: Vec<String>,
    },
    /// The first rule that holds decides.
    Territory {
        /// Rules tried in order; never empty.
        rules: Vec<TerritoryRule>,
        /// The owner when no rule holds.
        default_owner: String,
    },
    /// The owner of the lead's existing CRM account.
    AccountOwner {
        /// Who gets it when there is no account owner; `None`: the CRM default.
        fallback: Option<Box<Assignment>>,
    },
}

/// One territory rule.
#[derive(Debug, Clone)]
pub struct TerritoryRule {
    /// When it applies.
    pub when: Arc<Rule>,
    /// The CRM user id.
    pub owner: String,
}

/// One `[[pipelines]]`, validated.
#[derive(Debug, Clone)]
pub struct PipelineConfig {
    /// Unique name.
    pub name: String,
    /// When cycles run (cron with seconds).
    pub schedule: cron::Schedule,
    /// The marketing side.
    pub marketing: SideConfig,
    /// The CRM side.
    pub crm: CrmConfig,
    /// The canonical fields, in file order.
    pub fields: Vec<FieldMapping>,
    /// What marketing hands to sales; `None`: nothing is handed off, the
    /// pipeline only syncs linked records.
    pub handoff: Option<Handoff>,
    /// The follow-up SLA; `None`: no timers, no escalation.
    pub sla: Option<Arc<super::sla::SlaConfig>>,
    /// Sales outcomes followed back to marketing; `None`: conversions and
    /// opportunities are not followed.
    pub outcomes: Option<Arc<super::outcomes::OutcomesConfig>>,
    key: usize,
}

impl PipelineConfig {
    /// The field records are matched and deduplicated by.
    pub fn key_field(&self) -> &FieldMapping {
        &self.fields[self.key]
    }

    /// A canonical field by name.
    pub fn field(&self, name: &str) -> Option<&FieldMapping> {
        self.fields.iter().find(|f| f.name == name)
    }

    /// The canonical field names, in file order (what rules may use).
    pub fn canonical_names(&self) -> Vec<&str> {
        self.fields.iter().map(|f| f.name.as_str()).collect()
    }

    /// The connector and object of `side`.
    pub fn side(&self, side: Side) -> &SideConfig {
        match side {
            Side::Marketing => &self.marketing,
            Side::Crm => &self.crm.side,
        }
    }

    /// The vendor field names to request from `side` (for
    /// `ChangesRequest::fields`), in file order.
    pub fn vendor_fields(&self, side: Side) -> Vec<String> {
        self.fields
            .iter()
            .filter_map(|f| f.vendor_field(side).map(str::to_string))
            .collect()
    }
}

const OWNERS: &[&str] = &["marketing", "crm", "both"];
const TYPES: &[&str] = &["string", "number", "bool", "datetime"];

pub(crate) fn validate(
    raw: &RawPipeline,
    connectors: &BTreeSet<String>,
    c: &Checker<'_, '_>,
) -> Option<PipelineConfig> {
    let name = raw.name.as_ref().and_then(|n| c.non_empty("name", n));
    let schedule = raw.schedule.as_ref().and_then(|s| schedule(s, c));
    let marketing = raw.marketing.as_ref().and_then(|s| side(s, connectors, c));
    let fields = raw
        .fields
        .as_ref()
        .map(|f| validate_fields(f, raw, c))
        .unwrap_or_default();
    // Rules may name any field written, even one with its own mistake (that
    // mistake is reported once, where it is).
    let mut written: Vec<&Text> = raw.fields.iter().flat_map(|f| f.keys()).collect();
    written.sort_by_key(|t| t.span().start);
    let names: Vec<String> = written.iter().map(|t| t.get_ref().clone()).collect();
    let all_fields_valid = fields.len() == names.len();
    let key = fields.iter().position(|f| f.key);
    let crm = raw.crm.as_ref().and_then(|s| {
        let side = side(s, connectors, c);
        let match_on = match &s.match_on {
            Some(m) => match fields.iter().find(|f| &f.name == m.get_ref()) {
                Some(f) if f.marketing.is_some() && f.crm.is_some() => Some(f.name.clone()),
                Some(_) => {
                    c.error(
                        m.span(),
                        format!(
                            "`match_on` names `{}`, which does not live on both sides",
                            m.get_ref()
                        ),
                        Some("a canonical field with both `marketing` and `crm`".to_string()),
                    );
                    None
                }
                // A field written with its own mistake: reported where it is.
                None if names.contains(m.get_ref()) => None,
                None => {
                    unknown_field(c, "match_on", m, &names);
                    None
                }
            },
            None => key.map(|k| fields[k].name.clone()),
        };
        let upsert_key = match &s.upsert_key {
            Some(u) => Some(c.non_empty("upsert_key", u)?),
            None => None,
        };
        let owner_field = match &s.owner_field {
            Some(o) => Some(c.non_empty("owner_field", o)?),
            None => None,
        };
        Some(CrmConfig {
            side: side?,
            match_on: match_on?,
            upsert_key,
            owner_field,
        })
    });
    let handoff = raw.handoff.as_ref().map(|h| handoff(h, &names, c));
    let handoff = match handoff {
        Some(h) => Some(h?),
        None => None,
    };
    let sla = match &raw.sla {
        Some(s) => Some(Arc::new(super::sla::validate(
            s,
            &fields,
            &names,
            handoff.as_ref(),
            c,
        )?)),
        None => None,
    };
    let outcomes = raw
        .outcomes
        .as_ref()
        .map(|o| super::outcomes::validate(o, &fields, &names, c));
    owner_field_stated(raw, c);
    let rules_typed = rule_types(raw, handoff.as_ref(), sla.as_deref(), &fields, c);
    if !all_fields_valid || !rules_typed {
        return None;
    }
    Some(PipelineConfig {
        name: name?,
        schedule: schedule?,
        marketing: marketing?,
        crm: crm?,
        key: key?,
        fields,
        handoff,
        sla,
        outcomes: match outcomes {
            Some(o) => Some(Arc::new(o?)),
            None => None,
        },
    })
}

/// The rules of a pipeline checked against its fields' types.
fn rule_types(
    raw: &RawPipeline,
    handoff: Option<&Handoff>,
    sla: Option<&super::sla::SlaConfig>,
    fields: &[FieldMapping],
    c: &Checker<'_, '_>,
) -> bool {
    let mut ok = true;
    if let (Some(rule), Some(text)) = (
        handoff.and_then(|h| h.when.as_ref()),
        raw.handoff.as_ref().and_then(|h| h.when.as_ref()),
    ) {
        ok &= super::rule_check::check_types(c, "when", text, rule, fields);
    }
    if let (Some(sla), Some(text)) = (
        sla,
        raw.sla
            .as_ref()
            .and_then(|s| s.first_touch.as_ref())
            .and_then(|f| f.touched_when.as_ref()),
    ) {
        ok &= super::rule_check::check_types(c, "touched_when", text, &sla.touched_when, fields);
    }
    ok
}

/// Assigning an owner (handoff `assign`, an SLA step's `reassign`) writes
/// the CRM's owner field, so the config must name it: a guess that finds
/// nothing would leave every lead with the API user while tasks go to the
/// assigned owners.
fn owner_field_stated(raw: &RawPipeline, c: &Checker<'_, '_>) {
    let stated = raw
        .crm
        .as_ref()
        .is_some_and(|crm| crm.owner_field.is_some());
    if stated {
        return;
    }
    let legacy = raw
        .fields
        .iter()
        .flatten()
        .find(|(name, f)| name.get_ref() == "owner" && f.crm.is_some())
        .and_then(|(_, f)| f.crm.as_ref().map(|t| t.get_ref().clone()));
    let expected = match &legacy {
        Some(field) => format!(
            "owner_field = \"{field}\" in `crm` (the canonical field `owner` is not read as the owner field)"
        ),
        None => "owner_field = \"<the CRM's owner field, such as OwnerId>\" in `crm`".to_string(),
    };
    if let Some(assign) = raw.handoff.as_ref().and_then(|h| h.assign.as_ref()) {
        c.error(
            assign.span.clone(),
            "`assign` gives each lead an owner, but `crm` names no `owner_field` to write it to",
            Some(expected.clone()),
        );
    }
    for step in raw.sla.iter().flat_map(|s| s.on_breach.iter().flatten()) {
        if let Some(r) = &step.reassign {
            c.error(
                r.span(),
                "`reassign` changes the lead's owner, but `crm` names no `owner_field`",
                Some(expected.clone()),
            );
        }
    }
}

fn unknown_field(c: &Checker<'_, '_>, key: &str, text: &Text, names: &[String]) {
    let hint =
        match leadbridge_core::config::suggest(text.get_ref(), names.iter().map(String::as_str)) {
            Some(s) => format!(
                "`{s}`; a canonical field of this pipeline: {}",
                names.join(", ")
            ),
            None => format!("a canonical field of this pipeline: {}", names.join(", ")),
        };
    c.error(
        text.span(),
        format!(
            "`{key}` names `{}`, which is not a canonical field",
            text.get_ref()
        ),
        Some(hint),
    );
}

fn schedule(text: &Text, c: &Checker<'_, '_>) -> Option<cron::Schedule> {
    let expr = text.get_ref();
    let fields = expr.split_whitespace().count();
    let expected = "cron with seconds: \"sec min hour day-of-month month day-of-week\", such as \"0 */2 * * * *\"".to_string();
    if fields == 5 {
        c.error(
            text.span(),
            format!("cron expression `{expr}` has 5 fields; leadbridge's cron has seconds first"),
            Some(expected),
        );
        return None;
    }
    match cron::Schedule::from_str(expr) {
        Ok(s) => Some(s),
        // The cron crate's message only repeats the expression; say what it means.
        Err(_) => {
            c.error(
                text.span(),
                format!("bad cron expression `{expr}`: a field is out of range or not understood"),
                Some(expected),
            );
            None
        }
    }
}

fn side(raw: &RawSide, connectors: &BTreeSet<String>, c: &Checker<'_, '_>) -> Option<SideConfig> {
    let connector = raw.connector.as_ref().and_then(|n| {
        if connectors.contains(n.get_ref()) {
            return Some(n.get_ref().clone());
        }
        let defined: Vec<&str> = connectors.iter().map(String::as_str).collect();
        let list = if defined.is_empty() {
            "none".to_string()
        } else {
            defined.join(", ")
        };
        let expected = match leadbridge_core::config::suggest(n.get_ref(), defined.iter().copied())
        {
            Some(s) => format!("`{s}`; a defined connector: {list}"),
            None => format!("a defined connector: {list}"),
        };
        c.error(
            n.span(),
            format!("connector `{}` is not defined", n.get_ref()),
            Some(expected),
        );
        None
    });
    let object = raw.object.as_ref().and_then(|o| c.non_empty("object", o));
    Some(SideConfig {
        connector: connector?,
        object: object?,
    })
}

fn validate_fields(
    raw: &BTreeMap<Text, RawField>,
    pipeline: &RawPipeline,
    c: &Checker<'_, '_>,
) -> Vec<FieldMapping> {
    let mut entries: Vec<(&Text, &RawField)> = raw.iter().collect();
    entries.sort_by_key(|(name, _)| name.span().start);
    let mut out = Vec::new();
    let mut keys: Vec<&Text> = Vec::new();
    for (name, f) in entries {
        if f.key.as_ref().is_some_and(|k| *k.get_ref()) {
            keys.push(name);
        }
        if let Some(m) = field(name, f, c) {
            out.push(m);
        }
    }
    if raw.is_empty() {
        c.error(
            pipeline.fields_span.clone(),
            "[pipelines.fields] is empty",
            Some("canonical fields, one with `key = true`".to_string()),
        );
    } else if keys.is_empty() {
        c.error(
            pipeline.fields_span.clone(),
            "no key field in [pipelines.fields]",
            Some("exactly one field with `key = true` living on both sides, such as email = { marketing = \"email\", crm = \"Email\", key = true }".to_string()),
        );
    } else {
        for extra in keys.iter().skip(1) {
            c.error(
                extra.span(),
                format!(
                    "`{}` is a second key field (`{}` is the first)",
                    extra.get_ref(),
                    keys[0].get_ref()
                ),
                Some("exactly one field with `key = true`".to_string()),
            );
        }
    }
    out
}

fn field(name: &Text, raw: &RawField, c: &Checker<'_, '_>) -> Option<FieldMapping> {
    let n = name.get_ref();
    let mut ok = true;
    if !n
        .chars()
        .next()
        .is_some_and(|ch| ch.is_ascii_alphabetic() || ch == '_')
        || !n.chars().all(|ch| ch.is_ascii_alphanumeric() || ch == '_')
    {
        c.error(
            name.span(),
            format!("canonical field name `{n}` cannot be used in rules"),
            Some("letters, digits and `_`, starting with a letter".to_string()),
        );
        ok = false;
    }
    let marketing = raw
        .marketing
        .as_ref()
        .and_then(|t| c.non_empty("marketing", t));
    let crm = raw.crm.as_ref().and_then(|t| c.non_empty("crm", t));
    if raw.marketing.is_none() && raw.crm.is_none() {
        c.error(
            raw.span.clone(),
            format!("field `{n}` maps to neither side"),
            Some("`marketing = \"…\"`, `crm = \"…\"` or both".to_string()),
        );
        ok = false;
    }
    let key = raw.key.as_ref().is_some_and(|k| *k.get_ref());
    if key && (raw.marketing.is_none() || raw.crm.is_none()) {
        c.error(
            raw.key.as_ref().map_or(raw.span.clone(), |k| k.span()),
            format!("key field `{n}` must live on both sides"),
            Some("both `marketing` and `crm`".to_string()),
        );
        ok = false;
    }
    let owner_name = raw.owner.as_ref().and_then(|o| {
        c.choice("owner", o, OWNERS, |s| {
            OWNERS.iter().find(|x| **x == s).copied()
        })
    });
    if raw.owner.is_some() && owner_name.is_none() {
        ok = false;
    }
    let conflict = raw.conflict.as_ref().and_then(|t| {
        let p = c.choice(
            "conflict policy",
            t,
            ConflictPolicy::NAMES,
            ConflictPolicy::parse,
        );
        if p.is_none() {
            ok = false;
        }
        p
    });
    let owner = match (owner_name, &raw.conflict) {
        (Some("both"), None) => {
            if let Some(o) = &raw.owner {
                c.error(
                    o.span(),
                    format!("field `{n}` is owned by both sides but has no `conflict` policy"),
                    Some(format!(
                        "conflict = one of {}",
                        ConflictPolicy::NAMES.join(", ")
                    )),
                );
            }
            None
        }
        (Some("both"), Some(_)) => conflict.map(FieldOwner::Both),
        (other, Some(t)) if other.is_some() || raw.owner.is_none() => {
            c.error(
                t.span(),
                format!("`conflict` on field `{n}` needs owner = \"both\""),
                Some("owner = \"both\" with a conflict policy, or no `conflict`".to_string()),
            );
            None
        }
        (Some("marketing"), None) => Some(FieldOwner::Marketing),
        (Some("crm"), None) => Some(FieldOwner::Crm),
        (None, None) if key => Some(FieldOwner::Marketing),
        (None, None) => {
            if raw.owner.is_none() {
                c.error(
                    raw.span.clone(),
                    format!("missing key `owner` for field `{n}`"),
                    Some("owner = \"marketing\", \"crm\" or \"both\"".to_string()),
                );
            }
            None
        }
        _ => None,
    };
    if let (Some(o), Some(t)) = (owner, &raw.owner) {
        let missing = match o {
            FieldOwner::Marketing if raw.marketing.is_none() => Some("marketing"),
            FieldOwner::Crm if raw.crm.is_none() => Some("crm"),
            FieldOwner::Both(_) if raw.marketing.is_none() => Some("marketing"),
            FieldOwner::Both(_) if raw.crm.is_none() => Some("crm"),
            _ => None,
        };
        if let Some(side) = missing {
            c.error(
                t.span(),
                format!(
                    "field `{n}` is owned by {} but has no `{side}` mapping",
                    t.get_ref()
                ),
                Some(format!("`{side} = \"…\"` or another owner")),
            );
            ok = false;
        }
    }
    let value_type = match &raw.kind {
        Some(t) => {
            let ty = c.choice("field type", t, TYPES, FieldType::parse);
            if ty.is_none() {
                ok = false;
            }
            ty.unwrap_or_default()
        }
        None => FieldType::String,
    };
    let values = match &raw.values {
        Some(map) => {
            if raw.marketing.is_none() || raw.crm.is_none() {
                c.error(
                    map.span(),
                    format!("`values` on field `{n}`, which lives on one side only"),
                    Some("a value map only on fields with both `marketing` and `crm`".to_string()),
                );
                ok = false;
            }
            let flows_to_crm =
                matches!(owner, Some(FieldOwner::Marketing | FieldOwner::Both(_))) || key;
            let mut entries: Vec<(&Text, &Text)> = map.get_ref().iter().collect();
            entries.sort_by_key(|(k, _)| k.span().start);
            let mut seen: BTreeMap<&str, &str> = BTreeMap::new();
            for (crm_value, marketing_value) in &entries {
                if let Some(first) = seen.get(marketing_value.get_ref().as_str()) {
                    if flows_to_crm {
                        c.error(
                            marketing_value.span(),
                            format!("CRM values `{first}` and `{}` both map to `{}`; marketing → CRM would be ambiguous", crm_value.get_ref(), marketing_value.get_ref()),
                            Some("one CRM value per marketing value on a field that flows to the CRM".to_string()),
                        );
                        ok = false;
                    }
                } else {
                    seen.insert(marketing_value.get_ref(), crm_value.get_ref());
                }
            }
            ValueMap::new(
                entries
                    .iter()
                    .map(|(k, v)| (k.get_ref().clone(), v.get_ref().clone())),
            )
        }
        None => ValueMap::default(),
    };
    if !ok {
        return None;
    }
    Some(FieldMapping {
        name: n.clone(),
        marketing,
        crm,
        key,
        owner: owner?,
        values,
        trim: raw.trim.as_ref().is_none_or(|t| *t.get_ref()),
        value_type,
    })
}

fn handoff(raw: &RawHandoff, names: &[String], c: &Checker<'_, '_>) -> Option<Handoff> {
    // Every part is checked before any `?`, so all problems are reported.
    let when = raw.when.as_ref().map(|w| c.rule("when", w, names));
    let mut require = Vec::new();
    let mut ok = true;
    if let Some(list) = &raw.require {
        for r in list.get_ref() {
            if names.contains(r.get_ref()) {
                require.push(r.get_ref().clone());
            } else {
                unknown_field(c, "require", r, names);
                ok = false;
            }
        }
    }
    let assign = raw.assign.as_ref().map(|a| assignment(a, names, c, true));
    let when = match when {
        Some(w) => Some(w?),
        None => None,
    };
    let assign = match assign {
        Some(a) => Some(a?),
        None => None,
    };
    ok.then_some(Handoff {
        when,
        require,
        assign,
        feedback_to_duplicates: raw
            .feedback_to_duplicates
            .as_ref()
            .is_some_and(|b| *b.get_ref()),
    })
}

const STRATEGIES: &[&str] = &["round_robin", "territory", "account_owner"];

fn assignment(
    raw: &RawAssign,
    names: &[String],
    c: &Checker<'_, '_>,
    top: bool,
) -> Option<Assignment> {
    let strategy = raw.strategy.as_ref().and_then(|s| {
        c.choice("assign strategy", s, STRATEGIES, |x| {
            STRATEGIES.iter().find(|y| **y == x).copied()
        })
    })?;
    let not_used = |key: &str, span: Option<std::ops::Range<usize>>| {
        if let Some(span) = span {
            c.error(
                span,
                format!("`{key}` is not used by strategy `{strategy}`"),
                Some(match strategy {
                    "round_robin" => "only `owners`".to_string(),
                    "territory" => "only `rules` and `default_owner`".to_string(),
                    _ => "only `fallback`".to_string(),
                }),
            );
        }
    };
    let owner_id = |key: &str, t: &Text| c.non_empty(key, t);
    match strategy {
        "round_robin" => {
            not_used(
                "rules",
                raw.rules
                    .as_ref()
                    .and_then(|r| r.first())
                    .map(|r| r.span.clone()),
            );
            not_used(
                "default_owner",
                raw.default_owner.as_ref().map(|t| t.span()),
            );
            not_used("fallback", raw.fallback.as_ref().map(fallback_span));
            let Some(owners) = &raw.owners else {
                c.error(
                    raw.span.clone(),
                    "missing key `owners` for strategy `round_robin`",
                    Some("owners = [\"CRM user id\", …]".to_string()),
                );
                return None;
            };
            if owners.get_ref().is_empty() {
                c.error(
                    owners.span(),
                    "`owners` is empty",
                    Some("at least one CRM user id".to_string()),
                );
                return None;
            }
            let mut out: Vec<String> = Vec::new();
            for o in owners.get_ref() {
                let id = owner_id("owners", o)?;
                if out.contains(&id) {
                    c.error(o.span(), format!("owner `{id}` is listed twice"), Some("each owner once (list one twice to give them more turns? use separate pipelines or rules)".to_string()));
                    return None;
                }
                out.push(id);
            }
            Some(Assignment::RoundRobin { owners: out })
        }
        "territory" => {
            not_used("owners", raw.owners.as_ref().map(|t| t.span()));
            not_used("fallback", raw.fallback.as_ref().map(fallback_span));
            let default_owner = match &raw.default_owner {
                Some(t) => owner_id("default_owner", t),
                None => {
                    c.error(
                        raw.span.clone(),
                        "missing key `default_owner` for strategy `territory`",
                        Some("the CRM user id that gets leads no rule matches".to_string()),
                    );
                    None
                }
            };
            let rules = match &raw.rules {
                Some(r) if !r.is_empty() => {
                    let checked: Vec<Option<TerritoryRule>> = r
                        .iter()
                        .map(|rule| {
                            let when = rule.when.as_ref().and_then(|w| c.rule("when", w, names));
                            let owner = rule.owner.as_ref().and_then(|o| owner_id("owner", o));
                            Some(TerritoryRule {
                                when: when?,
                                owner: owner?,
                            })
                        })
                        .collect();
                    checked.into_iter().collect::<Option<Vec<_>>>()
                }
                Some(_) => {
                    c.error(
                        raw.span.clone(),
                        "`rules` is empty",
                        Some("at least one { when = \"…\", owner = \"…\" }".to_string()),
                    );
                    None
                }
                None => {
                    c.error(
                        raw.span.clone(),
                        "missing key `rules` for strategy `territory`",
                        Some(
                            "rules = [{ when = \"country == 'JP'\", owner = \"…\" }, …]"
                                .to_string(),
                        ),
                    );
                    None
                }
            };
            Some(Assignment::Territory {
                rules: rules?,
                default_owner: default_owner?,
            })
        }
        _ => {
            not_used("owners", raw.owners.as_ref().map(|t| t.span()));
            not_used(
                "rules",
                raw.rules
                    .as_ref()
                    .and_then(|r| r.first())
                    .map(|r| r.span.clone()),
            );
            not_used(
                "default_owner",
                raw.default_owner.as_ref().map(|t| t.span()),
            );
            let fallback = match &raw.fallback {
                None => None,
                Some(RawFallback::Owner(t)) => Some(Box::new(Assignment::RoundRobin {
                    owners: vec![owner_id("fallback", t)?],
                })),
                Some(RawFallback::Assign(a)) => {
                    if !top
                        || a.strategy
                            .as_ref()
                            .is_some_and(|s| s.get_ref() == "account_owner")
                    {
                        c.error(
                            a.span.clone(),
                            "an account_owner fallback cannot be account_owner again",
                            Some("round_robin, territory or an owner id".to_string()),
                        );
                        return None;
                    }
                    Some(Box::new(assignment(a, names, c, false)?))
                }
            };
            Some(Assignment::AccountOwner { fallback })
        }
    }
}

fn fallback_span(f: &RawFallback) -> std::ops::Range<usize> {
    match f {
        RawFallback::Owner(t) => t.span(),
        RawFallback::Assign(a) => a.span.clone(),
    }
}
