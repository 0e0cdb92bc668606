//! `POST /crm/v3/objects/{type}/search`: filter groups (OR of ANDs), one
//! sort, free-text `query`, `limit` ≤ 200, the 10,000-result cap, filter
//! limits, and the search index's lag.

use std::collections::HashSet;

use serde::Deserialize;
use serde_json::Value;

use super::schema::{Computed, Kind, ObjectType};
use super::store::{value_of, ObjectStore, Rec};
use crate::time::parse_ms;

/// The most results one query can reach; `after` at or past it is a 400.
pub(crate) const RESULT_CAP: usize = 10_000;
/// The largest `limit`.
pub(crate) const MAX_LIMIT: usize = 200;

/// A search body as clients send it. Lenient in what it accepts (the spec
/// marks everything required; the docs say `{}` is a valid search).
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct SearchBody {
    #[serde(default)]
    pub filter_groups: Vec<GroupBody>,
    #[serde(default)]
    pub sorts: Vec<Value>,
    #[serde(default)]
    pub query: Option<String>,
    #[serde(default)]
    pub properties: Option<Vec<String>>,
    #[serde(default)]
    pub limit: Option<Value>,
    #[serde(default)]
    pub after: Option<Value>,
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct GroupBody {
    #[serde(default)]
    pub filters: Vec<FilterBody>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct FilterBody {
    pub property_name: String,
    pub operator: String,
    #[serde(default)]
    pub value: Option<Value>,
    #[serde(default)]
    pub values: Option<Vec<Value>>,
    #[serde(default)]
    pub high_value: Option<Value>,
}

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Op {
    Eq,
    Neq,
    Lt,
    Lte,
    Gt,
    Gte,
    Between,
    In,
    NotIn,
    Has,
    NotHas,
    Contains,
    NotContains,
}

/// A filter resolved against the object's properties.
#[derive(Debug)]
struct Filter {
    prop: usize,
    kind: Kind,
    computed: Option<Computed>,
    op: Op,
    text: String,
    num: Option<f64>,
    high: Option<f64>,
    high_text: String,
    values: HashSet<String>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum SortKey {
    Id,
    Modified,
    Created,
    Prop(usize, bool),
}

/// A validated query.
#[derive(Debug)]
pub(crate) struct Query {
    groups: Vec<Vec<Filter>>,
    sort: SortKey,
    descending: bool,
    tokens: Vec<String>,
    pub limit: usize,
    pub offset: usize,
    pub properties: Option<Vec<String>>,
}

/// The page a query produced.
#[derive(Debug)]
pub(crate) struct Page {
    pub total: usize,
    pub ids: Vec<u64>,
    pub next_after: Option<String>,
}

fn num_of(kind: Kind, computed: Option<Computed>, s: &str) -> Option<f64> {
    if computed.is_some() || matches!(kind, Kind::DateTime | Kind::Date) {
        if matches!(computed, Some(Computed::Id)) {
            return s.trim().parse().ok();
        }
        return parse_ms(s).map(|v| v as f64);
    }
    s.trim().parse().ok()
}

impl Query {
    /// Validates a body against `kind`'s properties; `Err` is the 400 message.
    pub fn parse(kind: ObjectType, body: SearchBody) -> Result<Self, String> {
        let total: usize = body.filter_groups.iter().map(|g| g.filters.len()).sum();
        if body.filter_groups.len() > 5 {
            return Err(format!(
                "Too many filter groups: {} provided, the maximum is 5.",
                body.filter_groups.len()
            ));
        }
        if body.filter_groups.iter().any(|g| g.filters.len() > 10) {
            return Err("Too many filters in a filter group: the maximum is 10.".into());
        }
        if total > 25 {
            return Err(format!(
                "Too many filters: {total} provided, the maximum is 25 across all filter groups."
            ));
        }
        if body
            .query
            .as_ref()
            .is_some_and(|q| q.chars().count() > 3000)
        {
            return Err("query must be at most 3000 characters".into());
        }
        let limit = match &body.limit {
            None | Some(Value::Null) => 10,
            Some(v) => text(v)
                .parse::<usize>()
                .map_err(|_| format!("Invalid limit {v}"))?,
        };
        if limit > MAX_LIMIT {
            return Err(format!("limit must be at most {MAX_LIMIT}, got {limit}"));
        }
        let offset = match &body.after {
            None | Some(Value::Null) => 0,
            Some(v) => {
                let t = text(v);
                if t.is_empty() {
                    0
                } else {
                    t.parse::<usize>()
                        .map_err(|_| format!("Invalid after token {t:?}"))?
                }
            }
        };
        if offset >= RESULT_CAP {
            return Err(format!(
                "Paging beyond {RESULT_CAP} results is not supported: narrow the query (after={offset})."
            ));
        }
        let mut groups = Vec::new();
        for group in body.filter_groups {
            let mut filters = Vec::new();
            for f in group.filters {
                filters.push(Self::filter(kind, f)?);
            }
            groups.push(filters);
        }
        let (sort, descending) = Self::sort(kind, &body.sorts)?;
        let tokens = body.query.map(|q| tokenize(&q)).unwrap_or_default();
        Ok(Self {
            groups,
            sort,
            descending,
            tokens,
            limit,
            offset,
            properties: body.properties,
        })
    }

    fn filter(kind: ObjectType, f: FilterBody) -> Result<Filter, String> {
        let prop = kind.prop(&f.property_name).ok_or_else(|| {
            format!(
                "There was a problem with the request: property {:?} does not exist on {}",
                f.property_name,
                kind.name()
            )
        })?;
        let def = &kind.props()[prop];
        let op = match f.operator.as_str() {
            "EQ" => Op::Eq,
            "NEQ" => Op::Neq,
            "LT" => Op::Lt,
            "LTE" => Op::Lte,
            "GT" => Op::Gt,
            "GTE" => Op::Gte,
            "BETWEEN" => Op::Between,
            "IN" => Op::In,
            "NOT_IN" => Op::NotIn,
            "HAS_PROPERTY" => Op::Has,
            "NOT_HAS_PROPERTY" => Op::NotHas,
            "CONTAINS_TOKEN" => Op::Contains,
            "NOT_CONTAINS_TOKEN" => Op::NotContains,
            other => return Err(format!("Unknown filter operator {other:?}")),
        };
        let value = f.value.as_ref().map(text).unwrap_or_default();
        let needs_value = matches!(
            op,
            Op::Eq
                | Op::Neq
                | Op::Lt
                | Op::Lte
                | Op::Gt
                | Op::Gte
                | Op::Between
                | Op::Contains
                | Op::NotContains
        );
        if needs_value && f.value.is_none() {
            return Err(format!(
                "Filter on {} with {} needs a value",
                def.name, f.operator
            ));
        }
        let values: HashSet<String> = f
            .values
            .unwrap_or_default()
            .iter()
            .map(|v| text(v).to_lowercase())
            .collect();
        if matches!(op, Op::In | Op::NotIn) && values.is_empty() {
            return Err(format!(
                "Filter on {} with {} needs values",
                def.name, f.operator
            ));
        }
        let numeric = def.kind.numeric() || def.computed.is_some();
        let num = if numeric {
            num_of(def.kind, def.computed, &value)
        } else {
            None
        };
        if numeric && needs_value && num.is_none() && !matches!(op, Op::Contains | Op::NotContains)
        {
            return Err(format!("{value:?} is not a valid value for {}", def.name));
        }
        let high_text = f.high_value.as_ref().map(text).unwrap_or_default();
        let high = if numeric {
            num_of(def.kind, def.computed, &high_text)
        } else {
            None
        };
        if op == Op::Between && f.high_value.is_none() {
            return Err(format!("BETWEEN on {} needs a highValue", def.name));
        }
        Ok(Filter {
            prop,
            kind: def.kind,
            computed: def.computed,
            op,
            text: value.to_lowercase(),
            num,
            high,
            high_text: high_text.to_lowercase(),
            values,
        })
    }

    fn sort(kind: ObjectType, sorts: &[Value]) -> Result<(SortKey, bool), String> {
        if sorts.len() > 1 {
            return Err("Only one sort is supported.".into());
        }
        let Some(first) = sorts.first() else {
            return Ok((SortKey::Id, false));
        };
        let (name, descending) = match first {
            Value::Object(o) => (
                o.get("propertyName").map(text).unwrap_or_default(),
                o.get("direction").map(text).as_deref() == Some("DESCENDING"),
            ),
            // The spec types sorts as strings: a bare name sorts ascending,
            // "-name" descending; a stringified object is not understood.
            Value::String(s) if s.trim_start().starts_with('{') => return Ok((SortKey::Id, false)),
            Value::String(s) => match s.strip_prefix('-') {
                Some(n) => (n.to_owned(), true),
                None => (s.clone(), false),
            },
            _ => return Ok((SortKey::Id, false)),
        };
        let prop = kind
            .prop(&name)
            .ok_or_else(|| format!("Cannot sort on unknown property {name:?}"))?;
        let def = &kind.props()[prop];
        let key = match def.computed {
            Some(Computed::Id) => SortKey::Id,
            Some(Computed::Modified) => SortKey::Modified,
            Some(Computed::Created) => SortKey::Created,
            None => SortKey::Prop(prop, def.kind.numeric()),
        };
        Ok((key, descending))
    }

    /// The `(modified, id)` range every group confines itself to, when all do.
    fn modified_range(&self) -> Option<((i64, u64), (i64, u64))> {
        if self.groups.is_empty() {
            return None;
        }
        let mut overall: Option<((i64, u64), (i64, u64))> = None;
        for group in &self.groups {
            let (mut lo, mut hi) = (i64::MIN, i64::MAX);
            let mut bounded = false;
            for f in group {
                if f.computed != Some(Computed::Modified) {
                    continue;
                }
                let Some(v) = f.num.map(|n| n as i64) else {
                    continue;
                };
                match f.op {
                    Op::Eq => {
                        lo = lo.max(v);
                        hi = hi.min(v);
                    }
                    Op::Gt => lo = lo.max(v.saturating_add(1)),
                    Op::Gte => lo = lo.max(v),
                    Op::Lt => hi = hi.min(v.saturating_sub(1)),
                    Op::Lte => hi = hi.min(v),
                    Op::Between => {
                        lo = lo.max(v);
                        if let Some(h) = f.high {
                            hi = hi.min(h as i64);
                        }
                    }
                    _ => continue,
                }
                bounded = true;
            }
            if !bounded {
                return None;
            }
            let (mut lo_id, mut hi_id) = (0u64, u64::MAX);
            if lo == hi {
                for f in group {
                    if f.computed != Some(Computed::Id) {
                        continue;
                    }
                    let Some(v) = f.num.map(|n| n as u64) else {
                        continue;
                    };
                    match f.op {
                        Op::Gt => lo_id = lo_id.max(v.saturating_add(1)),
                        Op::Gte => lo_id = lo_id.max(v),
                        Op::Eq => {
                            lo_id = lo_id.max(v);
                            hi_id = hi_id.min(v);
                        }
                        _ => {}
                    }
                }
            }
            let range = ((lo, lo_id), (hi, hi_id));
            overall = Some(match overall {
                None => range,
                Some((a, b)) => (a.min(range.0), b.max(range.1)),
            });
        }
        overall
    }

    /// True when the `(modified, id)` range of [`Self::modified_range`]
    /// holds exactly the matches: one group, no text query, and only
    /// whole-number range filters on the modified date (and on the id when
    /// the date is pinned to one value), which the range captures in full.
    fn range_is_exact(&self) -> bool {
        let [group] = self.groups.as_slice() else {
            return false;
        };
        if !self.tokens.is_empty() {
            return false;
        }
        let whole = |v: Option<f64>| v.is_some_and(|n| n.fract() == 0.0 && n.abs() < 9.0e15);
        let pinned = group
            .iter()
            .any(|f| f.computed == Some(Computed::Modified) && f.op == Op::Eq);
        group.iter().all(|f| match (f.computed, f.op) {
            (Some(Computed::Modified), Op::Eq | Op::Gt | Op::Gte | Op::Lt | Op::Lte) => {
                whole(f.num)
            }
            (Some(Computed::Modified), Op::Between) => whole(f.num) && whole(f.high),
            (Some(Computed::Id), Op::Eq | Op::Gt | Op::Gte) => {
                pinned && whole(f.num) && f.num.is_some_and(|n| n >= 0.0)
            }
            _ => false,
        })
    }

    fn needs_record(&self) -> bool {
        !self.tokens.is_empty()
            || self
                .groups
                .iter()
                .flatten()
                .any(|f| !matches!(f.computed, Some(Computed::Id | Computed::Modified)))
    }

    fn matches(&self, kind: ObjectType, id: u64, rec: &Rec) -> bool {
        let groups_ok = self.groups.is_empty()
            || self
                .groups
                .iter()
                .any(|g| g.iter().all(|f| f.matches(kind, id, rec)));
        groups_ok && self.matches_query(kind, rec)
    }

    fn matches_key(&self, modified: i64, id: u64) -> bool {
        self.groups.is_empty()
            || self.groups.iter().any(|g| {
                g.iter().all(|f| {
                    let v = match f.computed {
                        Some(Computed::Id) => id as f64,
                        _ => modified as f64,
                    };
                    f.matches_value(Some(v), None)
                })
            })
    }

    fn matches_query(&self, kind: ObjectType, rec: &Rec) -> bool {
        if self.tokens.is_empty() {
            return true;
        }
        let mut haystack = Vec::new();
        for (idx, value) in rec.iter() {
            if kind.props()[idx].text_searchable {
                haystack.extend(tokenize(value));
            }
        }
        self.tokens
            .iter()
            .all(|t| haystack.iter().any(|h| h.starts_with(t.as_str())))
    }

    /// Runs the query over a store at `now`.
    pub fn run(&self, store: &ObjectStore, now: i64) -> Page {
        let kind = store.kind;
        let check_visibility = store.max_visible > now;
        let visible = |rec: &Rec| !check_visibility || rec.visible <= now;
        let mut total = 0usize;
        let mut ids = Vec::with_capacity(self.limit);
        let end = (self.offset + self.limit).min(RESULT_CAP);
        let mut take = |id: u64, total: &mut usize| {
            if *total >= self.offset && *total < end {
                ids.push(id);
            }
            *total += 1;
        };
        let range = self.modified_range();
        let by_index = matches!(self.sort, SortKey::Modified)
            || (matches!(self.sort, SortKey::Id) && range.is_some_and(|(lo, hi)| lo.0 == hi.0));
        if let (true, Some((lo, hi))) = (by_index, range) {
            if lo <= hi && !check_visibility && self.range_is_exact() {
                // Every key in the range matches: take the page straight
                // from the index and count the rest incrementally, so a
                // drain of a million-record tie costs a page per query,
                // not the whole tie.
                let iter = store.by_modified.range(lo..=hi);
                let n = end.saturating_sub(self.offset);
                let page = |k: &(i64, u64)| k.1;
                if self.descending {
                    ids.extend(iter.rev().skip(self.offset).take(n).map(page));
                } else {
                    ids.extend(iter.skip(self.offset).take(n).map(page));
                }
                total = store.count_range(lo, hi, self.descending);
            } else if lo <= hi {
                let iter = store.by_modified.range(lo..=hi);
                let needs_record = self.needs_record();
                let mut visit = |&(modified, id): &(i64, u64)| {
                    if needs_record || check_visibility {
                        let Some(rec) = store.recs.get(&id) else {
                            return;
                        };
                        if !visible(rec) || !self.matches(kind, id, rec) {
                            return;
                        }
                    } else if !self.matches_key(modified, id) {
                        return;
                    }
                    take(id, &mut total);
                };
                if self.descending {
                    iter.rev().for_each(&mut visit);
                } else {
                    iter.for_each(&mut visit);
                }
            }
        } else if matches!(self.sort, SortKey::Modified) || matches!(self.sort, SortKey::Id) {
            let live = |(id, rec): (&u64, &Rec)| {
                (rec.archived_at.is_none() && visible(rec) && self.matches(kind, *id, rec))
                    .then_some(*id)
            };
            if matches!(self.sort, SortKey::Modified) {
                let iter = store.by_modified.iter();
                let mut visit = |&(_, id): &(i64, u64)| {
                    if let Some(rec) = store.recs.get(&id) {
                        if live((&id, rec)).is_some() {
                            take(id, &mut total);
                        }
                    }
                };
                if self.descending {
                    iter.rev().for_each(&mut visit);
                } else {
                    iter.for_each(&mut visit);
                }
            } else if self.descending {
                for id in store.recs.iter().rev().filter_map(live) {
                    take(id, &mut total);
                }
            } else {
                for id in store.recs.iter().filter_map(live) {
                    take(id, &mut total);
                }
            }
        } else {
            // Any other sort: collect the matches and sort them (small data only).
            let mut all: Vec<(SortValue, u64)> = store
                .recs
                .iter()
                .filter(|(id, rec)| {
                    rec.archived_at.is_none() && visible(rec) && self.matches(kind, **id, rec)
                })
                .map(|(id, rec)| (self.sort_value(kind, *id, rec), *id))
                .collect();
            all.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
            if self.descending {
                all.reverse();
            }
            for (_, id) in all {
                take(id, &mut total);
            }
        }
        let next_after = (end < total).then(|| end.to_string());
        Page {
            total,
            ids,
            next_after,
        }
    }

    fn sort_value(&self, kind: ObjectType, id: u64, rec: &Rec) -> SortValue {
        match self.sort {
            SortKey::Id => SortValue::Num(id as f64),
            SortKey::Modified => SortValue::Num(rec.modified as f64),
            SortKey::Created => SortValue::Num(rec.created as f64),
            SortKey::Prop(idx, numeric) => match value_of(kind, id, rec, idx) {
                None => SortValue::Missing,
                Some(v) if numeric => num_of(kind.props()[idx].kind, None, &v)
                    .map_or(SortValue::Missing, SortValue::Num),
                Some(v) => SortValue::Text(v.to_lowercase()),
            },
        }
    }
}

#[derive(Debug, PartialEq, PartialOrd)]
enum SortValue {
    Num(f64),
    Text(String),
    Missing,
}

/// Splits text into lower-case word tokens, as the search index does.
fn tokenize(s: &str) -> Vec<String> {
    s.split(|c: char| !(c.is_alphanumeric() || c == '*'))
        .filter(|t| !t.is_empty())
        .map(str::to_lowercase)
        .collect()
}

fn token_matches(pattern: &str, token: &str) -> bool {
    match (pattern.strip_prefix('*'), pattern.strip_suffix('*')) {
        (Some(rest), _) if rest.ends_with('*') => token.contains(rest.trim_end_matches('*')),
        (Some(rest), _) => token.ends_with(rest),
        (None, Some(rest)) => token.starts_with(rest),
        (None, None) => token == pattern,
    }
}

impl Filter {
    fn matches(&self, kind: ObjectType, id: u64, rec: &Rec) -> bool {
        let raw = value_of(kind, id, rec, self.prop);
        let num = match (&raw, self.kind.numeric() || self.computed.is_some()) {
            (Some(v), true) => match self.computed {
                Some(Computed::Id) => Some(id as f64),
                Some(Computed::Modified) => Some(rec.modified as f64),
                Some(Computed::Created) => Some(rec.created as f64),
                None => num_of(self.kind, None, v),
            },
            _ => None,
        };
        self.matches_value(num, raw.as_deref())
    }

    /// `num` is the numeric value (numeric properties), `raw` the text.
    fn matches_value(&self, num: Option<f64>, raw: Option<&str>) -> bool {
        let present = num.is_some() || raw.is_some_and(|r| !r.is_empty());
        let lower = raw.map(str::to_lowercase);
        let as_text = || {
            lower
                .clone()
                .or_else(|| num.map(|n| format!("{n}")))
                .unwrap_or_default()
        };
        let cmp = |want: Option<f64>, want_text: &str| -> Option<std::cmp::Ordering> {
            match (num, want) {
                (Some(a), Some(b)) => a.partial_cmp(&b),
                _ if present => Some(as_text().as_str().cmp(want_text)),
                _ => None,
            }
        };
        use std::cmp::Ordering::*;
        match self.op {
            Op::Has => present,
            Op::NotHas => !present,
            Op::Eq => cmp(self.num, &self.text) == Some(Equal),
            Op::Neq => cmp(self.num, &self.text) != Some(Equal),
            Op::Lt => cmp(self.num, &self.text) == Some(Less),
            Op::Lte => matches!(cmp(self.num, &self.text), Some(Less | Equal)),
            Op::Gt => cmp(self.num, &self.text) == Some(Greater),
            Op::Gte => matches!(cmp(self.num, &self.text), Some(Greater | Equal)),
            Op::Between => {
                matches!(cmp(self.num, &self.text), Some(Greater | Equal))
                    && matches!(cmp(self.high, &self.high_text), Some(Less | Equal))
            }
            Op::In | Op::NotIn => {
                let found = present && {
                    let t = match (num, self.computed) {
                        (Some(n), Some(Computed::Id)) => format!("{}", n as u64),
                        _ => as_text(),
                    };
                    self.values.contains(&t) || t.split(';').any(|part| self.values.contains(part))
                };
                (self.op == Op::In) == found
            }
            Op::Contains | Op::NotContains => {
                let tokens = tokenize(&as_text());
                let patterns = tokenize(&self.text);
                let found = present
                    && !patterns.is_empty()
                    && patterns
                        .iter()
                        .all(|p| tokens.iter().any(|t| token_matches(p, t)));
                (self.op == Op::Contains) == found
            }
        }
    }
}
