//! Fields the org fills itself on every save: Opportunity probability,
//! forecast category, expected revenue and fiscal period from the stage and
//! close date; Task `IsClosed`, `IsHighPriority`, `CompletedDateTime` and
//! `AccountId` from status, priority and what the task is about.

use serde_json::{Map, Value};

use super::{Db, V};
use crate::simulator::schema::{ObjectDef, STAGES};

/// Fills the derived fields of `values` (`old`: the values before an
/// update; `input`: the fields the caller sent).
pub(super) fn fields(
    db: &Db,
    def: &ObjectDef,
    values: &mut [V],
    old: Option<&[V]>,
    input: &Map<String, Value>,
    now: i64,
) {
    match def.name {
        "Opportunity" => opportunity(def, values, old, input, now),
        "Task" => task(db, def, values, old, now),
        _ => {}
    }
}

fn text(def: &ObjectDef, values: &[V], name: &str) -> Option<String> {
    match def.field(name).and_then(|i| values.get(i)) {
        Some(V::Str(s)) => Some(s.to_string()),
        _ => None,
    }
}

fn sent(input: &Map<String, Value>, name: &str) -> bool {
    input.keys().any(|k| k.eq_ignore_ascii_case(name))
}

fn set(def: &ObjectDef, values: &mut [V], name: &str, v: V) {
    if let Some(i) = def.field(name) {
        values[i] = v;
    }
}

/// A stage change sets the stage's probability and forecast category
/// unless the caller sent its own (Setup, "Opportunity Stages").
fn opportunity(
    def: &ObjectDef,
    values: &mut [V],
    old: Option<&[V]>,
    input: &Map<String, Value>,
    now: i64,
) {
    let stage = text(def, values, "StageName").unwrap_or_default();
    let old_stage = old.and_then(|o| text(def, o, "StageName"));
    let stage_changed = old_stage.as_deref() != Some(stage.as_str());
    let (probability, category) = STAGES
        .iter()
        .find(|(s, _, _)| *s == stage)
        .map(|(_, p, c)| (*p, *c))
        .unwrap_or((0.0, "Pipeline"));
    if stage_changed && !sent(input, "Probability") {
        set(def, values, "Probability", V::Num(probability));
    }
    if stage_changed && !sent(input, "ForecastCategoryName") {
        set(def, values, "ForecastCategoryName", V::Str(category.into()));
    }
    if stage_changed && old.is_some() {
        set(def, values, "LastStageChangeDate", V::Ts(now));
    }
    let category_name = text(def, values, "ForecastCategoryName").unwrap_or_default();
    let api_category = match category_name.as_str() {
        "Best Case" => "BestCase",
        "Commit" => "Forecast",
        other => other,
    };
    set(def, values, "ForecastCategory", V::Str(api_category.into()));
    set(def, values, "IsWon", V::Bool(stage == "Closed Won"));
    set(
        def,
        values,
        "IsClosed",
        V::Bool(stage.starts_with("Closed")),
    );
    let amount = def.field("Amount").map(|i| values[i].clone());
    let probability = def.field("Probability").map(|i| values[i].clone());
    let expected = match (amount, probability) {
        (Some(V::Num(a)), Some(V::Num(p))) => V::Num(a * p / 100.0),
        _ => V::Null,
    };
    set(def, values, "ExpectedRevenue", expected);
    // A calendar fiscal year, as a fresh org has.
    if let Some(date) =
        text(def, values, "CloseDate").and_then(|d| d.parse::<jiff::civil::Date>().ok())
    {
        let quarter = (date.month() as i64 - 1) / 3 + 1;
        set(def, values, "FiscalYear", V::Num(f64::from(date.year())));
        set(def, values, "FiscalQuarter", V::Num(quarter as f64));
        set(
            def,
            values,
            "Fiscal",
            V::Str(format!("{} {quarter}", date.year()).into()),
        );
    }
}

fn task(db: &Db, def: &ObjectDef, values: &mut [V], old: Option<&[V]>, now: i64) {
    let status = text(def, values, "Status").unwrap_or_default();
    let closed = status == "Completed";
    let was_closed = old.is_some_and(|o| text(def, o, "Status").as_deref() == Some("Completed"));
    set(def, values, "IsClosed", V::Bool(closed));
    let priority = text(def, values, "Priority").unwrap_or_default();
    set(def, values, "IsHighPriority", V::Bool(priority == "High"));
    if closed && !was_closed {
        set(def, values, "CompletedDateTime", V::Ts(now));
    } else if !closed {
        set(def, values, "CompletedDateTime", V::Null);
    }
    // The account a task is about: its WhatId's account, else its contact's.
    let account_of = |id: &str| -> Option<String> {
        let (def, rec) = db.live_record(id)?;
        match def.name {
            "Account" => Some(rec.id.to_string()),
            "Opportunity" | "Contact" => match rec.get(def, def.field("AccountId")?) {
                V::Str(s) => Some(s.to_string()),
                _ => None,
            },
            _ => None,
        }
    };
    let account = text(def, values, "WhatId")
        .and_then(|w| account_of(&w))
        .or_else(|| text(def, values, "WhoId").and_then(|w| account_of(&w)));
    set(
        def,
        values,
        "AccountId",
        account.map(|a| V::Str(a.into())).unwrap_or(V::Null),
    );
}
