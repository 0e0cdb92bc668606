//! `[pipelines.sla]`, validated: the follow-up SLA the engine runs.
//!
//! ```toml
//! [pipelines.sla]
//! calendar = { timezone = "Asia/Tokyo", days = "Mon-Fri", hours = "09:00-18:00", holidays = ["2026-12-31"] }
//! first_touch = { within = "8h", touched_when = "status != 'NEW'" }
//! on_breach = [
//!   { after = "0h", notify = "webhook:env:SLACK_WEBHOOK", task = { for = "owner", subject = "SLA breached: {name}" } },
//!   { after = "4h", reassign = "round_robin", task = { for = "manager" } },
//! ]
//! recycle = { after = "5d", set = { lifecycle = "lead", disqualify_reason = "SLA_EXPIRED" } }
//! ```
//!
//! Durations are business time in the calendar (see [`crate::sla`]):
//! `within` counts from the handoff, each step's `after` from the
//! first-touch deadline, and `recycle.after` from the handoff.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use secrecy::SecretString;

use super::fields::{FieldMapping, Side};
use super::pipeline::{Assignment, Handoff};
use super::raw_sla::{RawRecycle, RawSla, RawStep};
use super::rule_check::RuleChecks;
use crate::calendar::{BusinessDuration, Calendar};
use crate::rules::Rule;
use leadbridge_core::config::Checker;
use leadbridge_core::config::SecretRef;
use leadbridge_core::config::Text;

/// Who a step's task is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskFor {
    /// The lead's current owner.
    Owner,
    /// The sales manager (`manager` in `[pipelines.sla]`).
    Manager,
}

/// A task an escalation step creates.
#[derive(Debug, Clone)]
pub struct StepTask {
    /// For whom.
    pub for_whom: TaskFor,
    /// Subject template (`{name}`, `{email}`, any canonical field).
    pub subject: String,
}

/// A webhook URL read from a secret reference. `Debug` and `Display` show
/// the reference, never the URL (a Slack webhook URL is a credential).
#[derive(Clone)]
pub struct Webhook {
    /// The reference as written (`env:SLACK_WEBHOOK`), for logs.
    pub reference: String,
    /// The URL.
    pub url: SecretString,
}

impl fmt::Debug for Webhook {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Webhook({})", self.reference)
    }
}

/// One escalation step.
#[derive(Debug, Clone)]
pub struct EscalationStep {
    /// Business time after the first-touch deadline.
    pub after: BusinessDuration,
    /// Post a Slack-compatible message here.
    pub notify: Option<Webhook>,
    /// Create this task in the CRM.
    pub task: Option<StepTask>,
    /// Give the lead to the next owner in turn (never the current one).
    pub reassign: bool,
}

/// Giving an untouched lead back to marketing.
#[derive(Debug, Clone)]
pub struct Recycle {
    /// Business time after the handoff (`"5d"`: five working days).
    pub after: BusinessDuration,
    /// Canonical field → value written to the marketing record.
    pub set: BTreeMap<String, String>,
}

/// The CRM's task object, so leadbridge can find a task it made again
/// (a replay after a crash creates no second one) and move it on reassignment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CrmTasks {
    /// The object (`Task`).
    pub object: String,
    /// Its subject field (`Subject`).
    pub subject: String,
    /// The field naming the lead (`WhoId`).
    pub parent: String,
    /// Its owner field (`OwnerId`).
    pub owner: String,
}

/// The follow-up SLA of one pipeline.
#[derive(Debug, Clone)]
pub struct SlaConfig {
    /// When the clock runs.
    pub calendar: Calendar,
    /// Business time sales has for the first touch.
    pub within: BusinessDuration,
    /// When a lead counts as touched (CEL over canonical CRM-side fields).
    pub touched_when: Arc<Rule>,
    /// Escalation steps, in firing order.
    pub steps: Vec<EscalationStep>,
    /// When and how an untouched lead goes back to marketing.
    pub recycle: Option<Recycle>,
    /// The sales manager's CRM user id.
    pub manager: Option<String>,
    /// Who a reassignment takes turns over.
    pub owners: Vec<String>,
    /// The context note's template.
    pub note: String,
    /// The follow-up task's subject template.
    pub follow_up: String,
    /// A link to the marketing record (`{id}` replaced).
    pub marketing_url: Option<String>,
    /// The CRM's task object, when configured.
    pub tasks: Option<CrmTasks>,
}

/// The context note when the config gives none.
pub const DEFAULT_NOTE: &str = "Handed off by marketing.\nSource: {source}\nCampaign: {campaign}\nScore: {score}\nWhy: {why}\nMarketing record: {marketing_url}\nFirst touch due: {deadline}";

/// The follow-up task's subject when the config gives none.
pub const DEFAULT_FOLLOW_UP: &str = "Follow up: {name}";

fn business(c: &Checker<'_, '_>, key: &str, text: &Text) -> Option<BusinessDuration> {
    match BusinessDuration::parse(text.get_ref()) {
        Ok(d) => Some(d),
        Err(problem) => {
            c.error(
                text.span(),
                format!("bad business duration for `{key}`: {problem}"),
                Some("business time such as \"8h\", \"30m\" or \"5d\" (working days)".to_string()),
            );
            None
        }
    }
}

pub(crate) fn validate(
    raw: &RawSla,
    fields: &[FieldMapping],
    names: &[String],
    handoff: Option<&Handoff>,
    c: &Checker<'_, '_>,
) -> Option<SlaConfig> {
    let calendar = match &raw.calendar {
        None => Some(Calendar::always()),
        Some(cal) => (|| {
            let zone = cal.timezone.as_ref()?;
            let mut ok = true;
            let mut holidays = Vec::new();
            for h in cal.holidays.iter().flat_map(|h| h.get_ref()) {
                if h.get_ref().parse::<jiff::civil::Date>().is_err() {
                    c.error(
                        h.span(),
                        format!("holiday `{}` is not a date", h.get_ref()),
                        Some("a date such as \"2026-12-31\"".to_string()),
                    );
                    ok = false;
                }
                holidays.push(h.get_ref().clone());
            }
            let days = cal.days.as_ref().map_or("Mon-Fri", |d| d.get_ref());
            if let Err(e) = crate::calendar::parse_days(days) {
                let span = cal.days.as_ref().map_or(cal.span.clone(), |d| d.span());
                c.error(
                    span,
                    e.to_string(),
                    Some("days such as \"Mon-Fri\" or \"Mon,Wed,Fri\"".to_string()),
                );
                ok = false;
            }
            let hours = cal.hours.as_ref().map_or("09:00-18:00", |h| h.get_ref());
            if let Err(e) = crate::calendar::parse_hours(hours) {
                let span = cal.hours.as_ref().map_or(cal.span.clone(), |h| h.span());
                c.error(
                    span,
                    e.to_string(),
                    Some("hours such as \"09:00-18:00\"".to_string()),
                );
                ok = false;
            }
            match Calendar::new(zone.get_ref(), days, hours, &holidays) {
                Ok(cal) => ok.then_some(cal),
                Err(crate::calendar::CalendarError::TimeZone(z)) => {
                    c.error(
                        zone.span(),
                        format!("unknown time zone `{z}`"),
                        Some(
                            "an IANA time zone such as \"Asia/Tokyo\" or \"Europe/Paris\""
                                .to_string(),
                        ),
                    );
                    None
                }
                Err(_) => None,
            }
        })(),
    };
    let (within, touched_when) = match &raw.first_touch {
        Some(f) => {
            let within = f.within.as_ref().and_then(|w| business(c, "within", w));
            let crm_names: Vec<String> = fields
                .iter()
                .filter(|m| m.vendor_field(Side::Crm).is_some())
                .map(|m| m.name.clone())
                .collect();
            let rule = f.touched_when.as_ref().and_then(|t| {
                let rule = c.rule("touched_when", t, names)?;
                let off_crm: Vec<&String> = rule
                    .fields()
                    .iter()
                    .filter(|n| !crm_names.contains(n))
                    .collect();
                if let Some(name) = off_crm.first() {
                    c.error(
                        t.span(),
                        format!(
                            "`touched_when` names `{name}`, which does not live on the CRM side"
                        ),
                        Some(format!(
                            "a canonical field with a `crm` mapping: {}",
                            crm_names.join(", ")
                        )),
                    );
                    return None;
                }
                Some(rule)
            });
            (within, rule)
        }
        None => (None, None),
    };
    let manager = raw.manager.as_ref().and_then(|m| c.non_empty("manager", m));
    let owners = match &raw.owners {
        Some(list) => list
            .get_ref()
            .iter()
            .filter_map(|o| c.non_empty("owners", o))
            .collect(),
        None => match handoff.and_then(|h| h.assign.as_ref()) {
            Some(Assignment::RoundRobin { owners }) => owners.clone(),
            _ => Vec::new(),
        },
    };
    let mut ok = true;
    let mut steps = Vec::new();
    let mut last_after: Option<(BusinessDuration, &Text)> = None;
    for raw_step in raw.on_breach.iter().flatten() {
        match step(raw_step, manager.is_some(), !owners.is_empty(), c) {
            Some(s) => {
                if let (Some((prev, _)), Some(after)) = (last_after, raw_step.after.as_ref()) {
                    if (s.after.days, s.after.time) < (prev.days, prev.time) {
                        c.error(
                            after.span(),
                            format!(
                                "step `after = \"{}\"` comes before the previous step's `{}`",
                                after.get_ref(),
                                prev
                            ),
                            Some("steps in the order they fire".to_string()),
                        );
                        ok = false;
                    }
                }
                if let Some(after) = raw_step.after.as_ref() {
                    last_after = Some((s.after, after));
                }
                steps.push(s);
            }
            None => ok = false,
        }
    }
    let recycle = match &raw.recycle {
        Some(r) => {
            let r = recycle(r, fields, names, c);
            ok &= r.is_some();
            r
        }
        None => None,
    };
    let tasks = raw.tasks.as_ref().and_then(|t| {
        Some(CrmTasks {
            object: c.non_empty("object", t.object.as_ref()?)?,
            subject: c.non_empty("subject", t.subject.as_ref()?)?,
            parent: c.non_empty("parent", t.parent.as_ref()?)?,
            owner: c.non_empty("owner", t.owner.as_ref()?)?,
        })
    });
    if raw.tasks.is_some() && tasks.is_none() {
        ok = false;
    }
    let marketing_url = match &raw.marketing_url {
        Some(u) => {
            let probe = Text::new(u.span(), u.get_ref().replace("{id}", "1"));
            let checked = c.url("marketing_url", &probe);
            ok &= checked.is_some();
            Some(u.get_ref().clone())
        }
        None => None,
    };
    if !ok {
        return None;
    }
    Some(SlaConfig {
        calendar: calendar?,
        within: within?,
        touched_when: touched_when?,
        steps,
        recycle,
        manager,
        owners,
        note: raw
            .note
            .as_ref()
            .map_or(DEFAULT_NOTE.to_string(), |n| n.get_ref().clone()),
        follow_up: raw
            .follow_up
            .as_ref()
            .map_or(DEFAULT_FOLLOW_UP.to_string(), |n| n.get_ref().clone()),
        marketing_url,
        tasks,
    })
}

fn step(
    raw: &RawStep,
    has_manager: bool,
    has_owners: bool,
    c: &Checker<'_, '_>,
) -> Option<EscalationStep> {
    let after = raw.after.as_ref().and_then(|a| business(c, "after", a));
    let mut ok = true;
    let notify = raw.notify.as_ref().and_then(|n| {
        let webhook = webhook(n, c);
        ok &= webhook.is_some();
        webhook
    });
    let task = raw.task.as_ref().and_then(|t| {
        let for_whom = t.for_whom.as_ref().and_then(|f| {
            c.choice("task recipient", f, &["owner", "manager"], |s| match s {
                "owner" => Some(TaskFor::Owner),
                "manager" => Some(TaskFor::Manager),
                _ => None,
            })
        });
        if for_whom == Some(TaskFor::Manager) && !has_manager {
            if let Some(f) = &t.for_whom {
                c.error(
                    f.span(),
                    "a task for the manager, but [pipelines.sla] names no `manager`",
                    Some("manager = \"<CRM user id>\" in [pipelines.sla]".to_string()),
                );
            }
            ok = false;
            return None;
        }
        if for_whom.is_none() {
            ok = false;
        }
        Some(StepTask {
            for_whom: for_whom?,
            subject: t
                .subject
                .as_ref()
                .map_or("SLA breached: {name}".to_string(), |s| s.get_ref().clone()),
        })
    });
    let reassign = match &raw.reassign {
        Some(r) if r.get_ref() == "round_robin" => {
            if !has_owners {
                c.error(r.span(), "`reassign` has nobody to take turns: no `owners` in [pipelines.sla] and the handoff is not round_robin", Some("owners = [\"<CRM user id>\", …] in [pipelines.sla]".to_string()));
                ok = false;
            }
            true
        }
        Some(r) => {
            c.choice("reassign strategy", r, &["round_robin"], |_| None::<()>);
            ok = false;
            false
        }
        None => false,
    };
    if raw.notify.is_none() && raw.task.is_none() && raw.reassign.is_none() {
        c.error(
            raw.span.clone(),
            "this escalation step does nothing",
            Some("`notify`, `task` or `reassign`".to_string()),
        );
        ok = false;
    }
    if !ok {
        return None;
    }
    Some(EscalationStep {
        after: after?,
        notify,
        task,
        reassign,
    })
}

fn webhook(text: &Text, c: &Checker<'_, '_>) -> Option<Webhook> {
    let Some(reference) = text.get_ref().strip_prefix("webhook:") else {
        c.error(
            text.span(),
            "`notify` must be a webhook by reference",
            Some("\"webhook:env:NAME\" or \"webhook:file:/path\"".to_string()),
        );
        return None;
    };
    let inner = Text::new(text.span(), reference.to_string());
    let url = c.secret("notify", &inner)?;
    use secrecy::ExposeSecret;
    let shown =
        SecretRef::parse(reference).map_or_else(|_| "the reference".to_string(), |r| r.to_string());
    match url::Url::parse(url.expose_secret()) {
        Ok(u) if u.scheme() == "http" || u.scheme() == "https" => Some(Webhook {
            reference: shown,
            url,
        }),
        _ => {
            c.error(
                text.span(),
                format!("`notify`: the value of {shown} is not an http(s) URL"),
                Some("a webhook URL such as https://hooks.slack.com/services/…".to_string()),
            );
            None
        }
    }
}

fn recycle(
    raw: &RawRecycle,
    fields: &[FieldMapping],
    names: &[String],
    c: &Checker<'_, '_>,
) -> Option<Recycle> {
    let after = raw.after.as_ref().and_then(|a| business(c, "after", a));
    let set = super::outcomes::marketing_values("recycle", raw.set.as_ref(), fields, names, c);
    Some(Recycle {
        after: after?,
        set: set?,
    })
}
