//! `[pipelines.sla]` as written: the follow-up SLA's raw, spanned form.
//! Kept apart from `raw.rs` so the SLA's keys live in one place.

use std::collections::BTreeMap;
use std::ops::Range;

use serde::Deserialize;
use toml::Spanned;

use leadbridge_core::config::Table;
use leadbridge_core::config::Text;

/// `[pipelines.sla]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSla {
    /// When the SLA's clock runs: `{ timezone, days, hours, holidays }`.
    pub calendar: Option<RawCalendar>,
    /// `{ within = "8h", touched_when = "status != 'NEW'" }`.
    pub first_touch: Option<RawFirstTouch>,
    /// Escalation steps after a breach, in order.
    pub on_breach: Option<Vec<RawStep>>,
    /// `{ after = "5d", set = { lifecycle = "lead", … } }`.
    pub recycle: Option<RawRecycle>,
    /// The CRM user id of the sales manager (tasks `for = "manager"`).
    pub manager: Option<Text>,
    /// CRM user ids a reassignment takes turns over (default: the
    /// handoff's round-robin owners).
    pub owners: Option<Spanned<Vec<Text>>>,
    /// The context note's template (`{field}` placeholders).
    pub note: Option<Text>,
    /// The follow-up task's subject template.
    pub follow_up: Option<Text>,
    /// A link to the marketing record, `{id}` replaced by its id.
    pub marketing_url: Option<Text>,
    /// The CRM's task object and fields, so tasks can be found again and moved.
    pub tasks: Option<RawCrmTasks>,
    /// Where the table was written.
    #[serde(skip)]
    pub span: Range<usize>,
}

/// `calendar = { … }`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCalendar {
    /// An IANA time zone name.
    pub timezone: Option<Text>,
    /// Working days: `"Mon-Fri"`.
    pub days: Option<Text>,
    /// Working hours: `"09:00-18:00"`.
    pub hours: Option<Text>,
    /// Dates nobody works: `["2026-12-31"]`.
    pub holidays: Option<Spanned<Vec<Text>>>,
    /// Where the table was written.
    #[serde(skip)]
    pub span: Range<usize>,
}

/// `first_touch = { … }`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawFirstTouch {
    /// Business time sales has for a first touch.
    pub within: Option<Text>,
    /// CEL over canonical CRM-side fields: the lead counts as touched.
    pub touched_when: Option<Text>,
    /// Where the table was written.
    #[serde(skip)]
    pub span: Range<usize>,
}

/// One entry of `on_breach`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawStep {
    /// Business time after the deadline.
    pub after: Option<Text>,
    /// `"webhook:env:NAME"` or `"webhook:file:/path"`.
    pub notify: Option<Text>,
    /// `{ for = "owner"|"manager", subject = "…" }`.
    pub task: Option<RawStepTask>,
    /// `"round_robin"`.
    pub reassign: Option<Text>,
    /// Where the step was written.
    #[serde(skip)]
    pub span: Range<usize>,
}

/// `task = { … }` of a step.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawStepTask {
    /// `owner` or `manager`.
    #[serde(rename = "for")]
    pub for_whom: Option<Text>,
    /// Subject template.
    pub subject: Option<Text>,
    /// Where the table was written.
    #[serde(skip)]
    pub span: Range<usize>,
}

/// `recycle = { … }`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRecycle {
    /// Business days (or time) after the handoff.
    pub after: Option<Text>,
    /// Canonical field → value written to marketing.
    pub set: Option<Spanned<BTreeMap<Text, Text>>>,
    /// Where the table was written.
    #[serde(skip)]
    pub span: Range<usize>,
}

/// `tasks = { object, subject, parent, owner }`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCrmTasks {
    /// The CRM's task object (`Task`, `tasks`).
    pub object: Option<Text>,
    /// Its subject field.
    pub subject: Option<Text>,
    /// The field linking it to the lead (`WhoId`).
    pub parent: Option<Text>,
    /// Its owner field (`OwnerId`).
    pub owner: Option<Text>,
    /// Where the table was written.
    #[serde(skip)]
    pub span: Range<usize>,
}

const BUSINESS: &str = "business time such as \"8h\", \"30m\" or \"5d\" (working days)";

pub(crate) fn read_sla(t: &Table<'_, '_, '_>) -> RawSla {
    let calendar = t
        .table(
            "calendar",
            "calendar = { timezone = \"Asia/Tokyo\", days = \"Mon-Fri\", hours = \"09:00-18:00\" }",
        )
        .map(|c| {
            let raw = RawCalendar {
                timezone: c.req_string("timezone", "an IANA time zone such as \"Asia/Tokyo\""),
                days: c.string("days", "working days such as \"Mon-Fri\""),
                hours: c.string("hours", "working hours such as \"09:00-18:00\""),
                holidays: c.strings("holidays", "an array of dates such as \"2026-12-31\""),
                span: c.span(),
            };
            c.report_unknown();
            raw
        });
    let first_touch = t
        .req_table(
            "first_touch",
            "first_touch = { within = \"8h\", touched_when = \"status != 'NEW'\" }",
        )
        .map(|f| {
            let raw = RawFirstTouch {
                within: f.req_string("within", BUSINESS),
                touched_when: f.req_string(
                    "touched_when",
                    "CEL over canonical CRM-side fields, such as \"status != 'NEW'\"",
                ),
                span: f.span(),
            };
            f.report_unknown();
            raw
        });
    let on_breach = t
        .tables(
            "on_breach",
            "an array of { after = \"…\", notify/task/reassign } tables",
        )
        .map(|steps| steps.iter().map(read_step).collect());
    let recycle = t
        .table(
            "recycle",
            "recycle = { after = \"5d\", set = { lifecycle = \"lead\" } }",
        )
        .map(|r| {
            let set = r.string_map(
                "set",
                "a string: canonical field = \"value\"",
                "a table: { lifecycle = \"lead\", … }",
            );
            let raw = RawRecycle {
                after: r.req_string("after", BUSINESS),
                set,
                span: r.span(),
            };
            r.report_unknown();
            raw
        });
    let tasks = t
        .table(
            "tasks",
            "tasks = { object = \"Task\", subject = \"Subject\", parent = \"WhoId\", owner = \"OwnerId\" }",
        )
        .map(|k| {
            let raw = RawCrmTasks {
                object: k.req_string("object", "the CRM's task object, such as \"Task\""),
                subject: k.req_string("subject", "its subject field, such as \"Subject\""),
                parent: k.req_string("parent", "the field naming the lead, such as \"WhoId\""),
                owner: k.req_string("owner", "its owner field, such as \"OwnerId\""),
                span: k.span(),
            };
            k.report_unknown();
            raw
        });
    let raw = RawSla {
        calendar,
        first_touch,
        on_breach,
        recycle,
        manager: t.string("manager", "the sales manager's CRM user id"),
        owners: t.strings("owners", "an array of CRM user ids"),
        note: t.string("note", "a template such as \"Source: {source}\""),
        follow_up: t.string(
            "follow_up",
            "a subject template such as \"Follow up: {name}\"",
        ),
        marketing_url: t.string(
            "marketing_url",
            "a URL template such as \"https://marketing.example.com/contacts/{id}\"",
        ),
        tasks,
        span: t.span(),
    };
    t.report_unknown();
    raw
}

fn read_step(t: &Table<'_, '_, '_>) -> RawStep {
    let raw = RawStep {
        after: t.req_string("after", BUSINESS),
        notify: t.string("notify", "a webhook by reference: \"webhook:env:NAME\""),
        task: t
            .table("task", "task = { for = \"owner\", subject = \"…\" }")
            .map(|k| {
                let raw = RawStepTask {
                    for_whom: k.req_string("for", "\"owner\" or \"manager\""),
                    subject: k.string(
                        "subject",
                        "a subject template such as \"SLA breached: {name}\"",
                    ),
                    span: k.span(),
                };
                k.report_unknown();
                raw
            }),
        reassign: t.string("reassign", "\"round_robin\""),
        span: t.span(),
    };
    t.report_unknown();
    raw
}
