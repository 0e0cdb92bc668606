//! [`MemoryConnector`]: the whole [`Connector`] contract over records held
//! in memory, for unit tests of the engine's decisions and for proving the
//! contract itself (it passes the conformance suite's contract cases).
//!
//! It is a fake of our own contract, not of any vendor: it keeps the cursor
//! rule (overlap re-reads, ties by id, checkpoints), upserts by key,
//! per-record outcomes, superseded and deleted targets, activities and a
//! daily limit, on any object. What the engine's tests need beyond that:
//!
//! - **limits** of your choosing (page, batch, look-up sizes), so paging
//!   and batching are exercised with a handful of records;
//! - a **fault script**: the next calls of a kind fail with a chosen
//!   [`ConnectorError`], or apply and then lose their answer
//!   ([`ConnectorError::OutcomeUnknown`]), the fault a real network makes;
//! - a **call log**: every call with its kind, object and size, so a test
//!   asserts what the engine asked for, not only what came out;
//! - the simulator kit's [`SimControl`], so the conformance suite and tests
//!   drive it like any simulator (clock, seed, edits, index lag).
//!
//! Several connectors may share one [`MemoryWorld`] (a marketing and a CRM
//! side in one test); each sees the objects it is asked about.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use jiff::{SignedDuration, Timestamp};
use serde_json::Value;

use crate::activity::{Activity, ActivityOutcome};
use crate::connector::Connector;
use crate::cursor::{ChangePage, ChangesRequest, Cursor, PageToken};
use crate::error::{ConnectorError, ConnectorResult};
use crate::http::UsageSnapshot;
use crate::record::{Fields, Record, Successor};
use crate::schema::{FieldSchema, Limits, ObjectSchema, ToolUser, ValueType};
use crate::sim::{
    seed, Faults, RequestCounter, SeedSpec, SimClock, SimControl, TokenIssuer, TokenSettings,
};
use crate::write::{WriteBatch, WriteOutcome};

/// Which connector call a scripted fault or a log entry is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallKind {
    /// `describe`.
    Describe,
    /// `changes`.
    Changes,
    /// `lookup`.
    Lookup,
    /// `write`.
    Write,
    /// `create_activity` / `create_activities`.
    Activity,
    /// `users`.
    Users,
}

impl CallKind {
    fn name(self) -> &'static str {
        match self {
            Self::Describe => "describe",
            Self::Changes => "changes",
            Self::Lookup => "lookup",
            Self::Write => "write",
            Self::Activity => "activity",
            Self::Users => "users",
        }
    }
}

/// What a scripted call does instead of answering normally.
#[derive(Debug, Clone, PartialEq)]
pub enum Fault {
    /// Fails before anything is applied.
    Fail(ConnectorError),
    /// Applies the call, then loses the answer: the caller gets
    /// [`ConnectorError::OutcomeUnknown`] although the write happened.
    ApplyThenLose,
}

/// One call as the log keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    /// What was called.
    pub kind: CallKind,
    /// On which object (empty for calls without one).
    pub object: String,
    /// How many records, keys or activities it carried.
    pub size: usize,
}

/// One stored record.
#[derive(Debug, Clone)]
struct Stored {
    fields: Fields,
    modified_at: Timestamp,
    /// When change queries can see it (its write time plus the index lag).
    visible_at: Timestamp,
    archived: bool,
    successor: Option<Successor>,
    merged_from: Vec<String>,
}

#[derive(Debug, Default)]
struct Data {
    /// object → id → record.
    objects: BTreeMap<String, BTreeMap<u64, Stored>>,
    schemas: BTreeMap<String, ObjectSchema>,
    activities: Vec<(String, Activity)>,
    users: Option<Vec<ToolUser>>,
    next_id: u64,
    index_lag: Duration,
    daily_limit: Option<u64>,
    calls_today: u64,
    script: VecDeque<(CallKind, Fault, u32)>,
    log: Vec<Call>,
}

/// Records, schemas, the clock and the fault script that one or more
/// [`MemoryConnector`]s share.
pub struct MemoryWorld {
    data: Mutex<Data>,
    clock: SimClock,
    faults: Faults,
    tokens: TokenIssuer,
    requests: RequestCounter,
}

impl Default for MemoryWorld {
    fn default() -> Self {
        let clock = SimClock::default();
        Self {
            data: Mutex::new(Data::default()),
            tokens: TokenIssuer::new(TokenSettings::default(), clock.clone()),
            clock,
            faults: Faults::default(),
            requests: RequestCounter::default(),
        }
    }
}

impl MemoryWorld {
    /// An empty world whose clock runs from now.
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Data> {
        self.data.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Declares an object's fields: writes naming another field are
    /// rejected, creates without a `required` one too, and `describe`
    /// answers it. Objects never declared accept any field.
    pub fn define(&self, schema: ObjectSchema) {
        self.lock().schemas.insert(schema.object.clone(), schema);
    }

    /// The users `users()` lists; `None` (the default) answers "cannot say".
    pub fn set_users(&self, users: Option<Vec<ToolUser>>) {
        self.lock().users = users;
    }

    /// The next `times` calls of `kind` do `fault` instead.
    pub fn script(&self, kind: CallKind, fault: Fault, times: u32) {
        self.lock().script.push_back((kind, fault, times));
    }

    /// Every call so far, in order.
    pub fn calls(&self) -> Vec<Call> {
        self.lock().log.clone()
    }

    /// How many calls of `kind` were made.
    pub fn count_calls(&self, kind: CallKind) -> usize {
        self.lock().log.iter().filter(|c| c.kind == kind).count()
    }

    /// Forgets the call log.
    pub fn clear_calls(&self) {
        self.lock().log.clear();
    }

    /// The activities created so far, with their ids.
    pub fn activities(&self) -> Vec<(String, Activity)> {
        self.lock().activities.clone()
    }

    /// Replaces a record by another (sales converted a lead; a merge):
    /// writes to it will answer [`WriteOutcome::Superseded`] and change
    /// passes show it with its successor.
    pub fn supersede(&self, object: &str, id: &str, successor: Successor) -> Result<(), String> {
        let now = self.clock.now();
        let mut d = self.lock();
        let lag = d.index_lag;
        let stored = d
            .objects
            .get_mut(object)
            .and_then(|o| o.get_mut(&parse_id(id)?))
            .ok_or_else(|| format!("no {object} {id}"))?;
        stored.successor = Some(successor);
        stored.modified_at = now;
        stored.visible_at = visible(now, lag);
        Ok(())
    }

    /// Takes the next scripted fault for a call of `kind`, logs the call,
    /// and counts it against the daily limit.
    fn enter(&self, kind: CallKind, object: &str, size: usize) -> ConnectorResult<Option<Fault>> {
        self.requests.hit(kind.name());
        let mut d = self.lock();
        d.log.push(Call {
            kind,
            object: object.to_owned(),
            size,
        });
        if let Some(limit) = d.daily_limit {
            if d.calls_today >= limit {
                return Err(ConnectorError::QuotaExhausted {
                    message: format!("the daily limit of {limit} calls is spent"),
                    resets_at: None,
                });
            }
        }
        d.calls_today += 1;
        let Some(at) = d.script.iter().position(|(k, _, _)| *k == kind) else {
            return Ok(None);
        };
        let fault = d.script[at].1.clone();
        d.script[at].2 -= 1;
        if d.script[at].2 == 0 {
            d.script.remove(at);
        }
        match fault {
            Fault::Fail(e) => Err(e),
            lose => Ok(Some(lose)),
        }
    }

    fn store(&self, object: &str, fields: Fields) -> String {
        let now = self.clock.now();
        let mut d = self.lock();
        d.next_id += 1;
        let id = d.next_id;
        let lag = d.index_lag;
        d.objects.entry(object.to_owned()).or_default().insert(
            id,
            Stored {
                fields,
                modified_at: now,
                visible_at: visible(now, lag),
                archived: false,
                successor: None,
                merged_from: Vec::new(),
            },
        );
        id.to_string()
    }
}

fn visible(now: Timestamp, lag: Duration) -> Timestamp {
    now.checked_add(SignedDuration::try_from(lag).unwrap_or(SignedDuration::MAX))
        .unwrap_or(now)
}

fn parse_id(id: &str) -> Option<u64> {
    id.parse().ok()
}

fn text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn record(id: u64, s: &Stored, fields: Option<&[String]>) -> Record {
    let mut r = Record::new(id.to_string(), s.modified_at);
    r.archived = s.archived;
    r.successor = s.successor.clone();
    r.merged_from = s.merged_from.clone();
    r.fields = match fields {
        Some(names) => names
            .iter()
            .filter_map(|n| s.fields.get(n).map(|v| (n.clone(), v.clone())))
            .collect(),
        None => s.fields.clone(),
    };
    r
}

/// A connector over a [`MemoryWorld`].
pub struct MemoryConnector {
    world: Arc<MemoryWorld>,
    kind: &'static str,
    limits: Limits,
}

impl MemoryConnector {
    /// A connector of kind `kind` (its name in logs) over `world`, with
    /// these limits (small ones exercise paging with few records).
    pub fn new(world: Arc<MemoryWorld>, kind: &'static str, limits: Limits) -> Self {
        Self {
            world,
            kind,
            limits,
        }
    }

    /// Limits small enough that a test of a few dozen records pages and
    /// batches: pages of 10, batches of 5, look-ups of 5.
    pub fn small_limits() -> Limits {
        Limits {
            page_size: 10,
            batch_size: 5,
            lookup_batch_size: 5,
            requests_per_second: f64::INFINITY,
            daily_cap: None,
            default_overlap: Duration::from_secs(60),
        }
    }

    /// The world it reads and writes.
    pub fn world(&self) -> &Arc<MemoryWorld> {
        &self.world
    }

    /// Rejects a write naming a field the object's schema lacks, or a
    /// create missing a required one.
    fn check(&self, d: &Data, object: &str, fields: &Fields, create: bool) -> Option<WriteOutcome> {
        let schema = d.schemas.get(object)?;
        for name in fields.keys() {
            match schema.field(name) {
                None => {
                    return Some(WriteOutcome::Rejected {
                        message: format!("No such column '{name}' on {object}"),
                        code: Some("INVALID_FIELD".into()),
                        fields: vec![name.clone()],
                    })
                }
                Some(f) if (create && !f.createable) || (!create && !f.updateable) => {
                    return Some(WriteOutcome::Rejected {
                        message: format!("Unable to create/update fields: {name}"),
                        code: Some("INVALID_FIELD_FOR_INSERT_UPDATE".into()),
                        fields: vec![name.clone()],
                    })
                }
                Some(_) => {}
            }
        }
        if create {
            let missing: Vec<String> = schema
                .fields
                .iter()
                .filter(|f| f.required)
                .filter(|f| {
                    fields
                        .get(&f.name)
                        .is_none_or(|v| v.is_null() || text(v).is_empty())
                })
                .map(|f| f.name.clone())
                .collect();
            if !missing.is_empty() {
                return Some(WriteOutcome::Rejected {
                    message: format!("Required fields are missing: [{}]", missing.join(", ")),
                    code: Some("REQUIRED_FIELD_MISSING".into()),
                    fields: missing,
                });
            }
        }
        None
    }
}

#[async_trait]
impl Connector for MemoryConnector {
    fn kind(&self) -> &'static str {
        self.kind
    }

    fn limits(&self) -> Limits {
        self.limits.clone()
    }

    async fn describe(&self, object: &str) -> ConnectorResult<ObjectSchema> {
        self.world.enter(CallKind::Describe, object, 0)?;
        let d = self.world.lock();
        if let Some(schema) = d.schemas.get(object) {
            return Ok(schema.clone());
        }
        let Some(records) = d.objects.get(object) else {
            return Err(ConnectorError::fatal(format!("no object {object}")));
        };
        // An undeclared object: the fields its records have, all writable,
        // and the read-only id.
        let mut names: Vec<String> = records
            .values()
            .flat_map(|s| s.fields.keys().cloned())
            .collect();
        names.sort();
        names.dedup();
        let mut fields: Vec<FieldSchema> = names
            .into_iter()
            .map(|name| FieldSchema {
                name,
                kind: "text".into(),
                createable: true,
                updateable: true,
                ..FieldSchema::default()
            })
            .collect();
        fields.push(FieldSchema {
            name: "id".into(),
            kind: "id".into(),
            unique: true,
            value_type: ValueType::Reference,
            ..FieldSchema::default()
        });
        Ok(ObjectSchema {
            object: object.to_owned(),
            fields,
        })
    }

    async fn changes(
        &self,
        request: &ChangesRequest,
        page: Option<&PageToken>,
    ) -> ConnectorResult<ChangePage> {
        self.world.enter(CallKind::Changes, &request.object, 0)?;
        let now = self.world.clock.now();
        let overlap = SignedDuration::try_from(request.overlap).unwrap_or(SignedDuration::MAX);
        // Everything after `since`, and the overlap window before it again.
        let floor = request.since.as_ref().map(|since| {
            let reread = since
                .modified_at
                .checked_sub(overlap)
                .unwrap_or(Timestamp::MIN);
            (Cursor::before(reread), since.clone())
        });
        let after: Option<Cursor> = match page {
            Some(token) => Some(
                serde_json::from_str(&token.0)
                    .map_err(|e| ConnectorError::fatal(format!("bad page token: {e}")))?,
            ),
            None => None,
        };
        let d = self.world.lock();
        let mut matching: Vec<(Cursor, u64, &Stored)> = d
            .objects
            .get(&request.object)
            .into_iter()
            .flatten()
            .filter(|(_, s)| s.visible_at <= now)
            .filter(|(_, s)| request.include_archived || !s.archived)
            .map(|(id, s)| (Cursor::new(s.modified_at, id.to_string()), *id, s))
            .filter(|(c, _, _)| match &floor {
                None => true,
                Some((reread_from, since)) => {
                    (c >= reread_from && c.modified_at < since.modified_at) || c > since
                }
            })
            .filter(|(c, _, _)| after.as_ref().is_none_or(|a| c > a))
            .collect();
        matching.sort_by(|a, b| a.0.cmp(&b.0));
        let more = matching.len() > self.limits.page_size;
        matching.truncate(self.limits.page_size);
        let records: Vec<Record> = matching
            .iter()
            .map(|(_, id, s)| record(*id, s, Some(&request.fields)))
            .collect();
        let last = matching.last().map(|(c, _, _)| c.clone());
        let mut checkpoint = last.clone();
        if !more && !request.overlap.is_zero() {
            // Everything changed more than `overlap` before now was
            // visible to this pass, so that point is safe too.
            let settled = Cursor::before(now.checked_sub(overlap).unwrap_or(Timestamp::MIN));
            if checkpoint.as_ref().is_none_or(|c| &settled > c) {
                checkpoint = Some(settled);
            }
        }
        if let (Some(cp), Some(since)) = (&checkpoint, &request.since) {
            if cp <= since {
                checkpoint = None;
            }
        }
        Ok(ChangePage {
            records,
            checkpoint,
            next: match (more, last) {
                (true, Some(last)) => Some(PageToken(
                    serde_json::to_string(&last)
                        .map_err(|e| ConnectorError::fatal(e.to_string()))?,
                )),
                _ => None,
            },
        })
    }

    async fn lookup(
        &self,
        object: &str,
        key_field: &str,
        values: &[String],
        fields: &[String],
    ) -> ConnectorResult<Vec<Record>> {
        if values.len() > self.limits.lookup_batch_size {
            let mut out = Vec::new();
            for chunk in values.chunks(self.limits.lookup_batch_size) {
                out.extend(self.lookup(object, key_field, chunk, fields).await?);
            }
            return Ok(out);
        }
        self.world.enter(CallKind::Lookup, object, values.len())?;
        let wanted: Vec<String> = values.iter().map(|v| v.to_lowercase()).collect();
        let d = self.world.lock();
        let mut with_key = fields.to_vec();
        if !with_key.iter().any(|f| f == key_field) {
            with_key.push(key_field.to_owned());
        }
        Ok(d.objects
            .get(object)
            .into_iter()
            .flatten()
            .filter(|(_, s)| !s.archived && s.successor.is_none())
            .filter(|(id, s)| {
                let value = if key_field == "id" {
                    Some(id.to_string())
                } else {
                    s.fields.get(key_field).map(text)
                };
                value.is_some_and(|v| wanted.contains(&v.to_lowercase()))
            })
            .map(|(id, s)| record(*id, s, Some(&with_key)))
            .collect())
    }

    async fn write(&self, batch: &WriteBatch) -> ConnectorResult<Vec<WriteOutcome>> {
        if batch.records.len() > self.limits.batch_size {
            let mut out = Vec::with_capacity(batch.records.len());
            for chunk in batch.records.chunks(self.limits.batch_size) {
                let part = WriteBatch {
                    object: batch.object.clone(),
                    key_field: batch.key_field.clone(),
                    records: chunk.to_vec(),
                };
                out.extend(self.write(&part).await?);
            }
            return Ok(out);
        }
        let fault = self
            .world
            .enter(CallKind::Write, &batch.object, batch.records.len())?;
        let now = self.world.clock.now();
        let mut outcomes = Vec::with_capacity(batch.records.len());
        for w in &batch.records {
            let existing: Option<u64> = {
                let d = self.world.lock();
                match (&w.id, &w.key, &batch.key_field) {
                    (Some(id), _, _) => Some(parse_id(id).unwrap_or(u64::MAX)),
                    (None, Some(key), Some(field)) => d
                        .objects
                        .get(&batch.object)
                        .into_iter()
                        .flatten()
                        .find(|(_, s)| {
                            !s.archived
                                && s.fields
                                    .get(field)
                                    .is_some_and(|v| text(v).eq_ignore_ascii_case(key))
                        })
                        .map(|(id, _)| *id),
                    _ => None,
                }
            };
            let outcome = match existing {
                Some(id) => {
                    let mut d = self.world.lock();
                    let rejected = self.check(&d, &batch.object, &w.fields, false);
                    let lag = d.index_lag;
                    match d
                        .objects
                        .get_mut(&batch.object)
                        .and_then(|o| o.get_mut(&id))
                    {
                        None => WriteOutcome::Rejected {
                            message: format!(
                                "no {} with id {}",
                                batch.object,
                                w.id.as_deref().unwrap_or_default()
                            ),
                            code: Some("NOT_FOUND".into()),
                            fields: Vec::new(),
                        },
                        Some(s) if s.successor.is_some() => WriteOutcome::Superseded {
                            successor: s.successor.clone().unwrap_or_else(|| unreachable!()),
                        },
                        Some(s) if s.archived => WriteOutcome::Deleted {
                            message: "entity is deleted".into(),
                        },
                        Some(_) if rejected.is_some() => rejected.unwrap_or_else(|| unreachable!()),
                        Some(s) => {
                            for (k, v) in &w.fields {
                                s.fields.insert(k.clone(), v.clone());
                            }
                            s.modified_at = now;
                            s.visible_at = visible(now, lag);
                            WriteOutcome::Updated { id: id.to_string() }
                        }
                    }
                }
                None => {
                    let mut fields = w.fields.clone();
                    if let (Some(key), Some(field)) = (&w.key, &batch.key_field) {
                        fields.insert(field.clone(), Value::String(key.clone()));
                    }
                    let rejected = {
                        let d = self.world.lock();
                        self.check(&d, &batch.object, &fields, true)
                    };
                    match rejected {
                        Some(r) => r,
                        None => WriteOutcome::Created {
                            id: self.world.store(&batch.object, fields),
                        },
                    }
                }
            };
            outcomes.push(outcome);
        }
        match fault {
            Some(Fault::ApplyThenLose) => Err(ConnectorError::OutcomeUnknown {
                message: "the connection dropped after the write was sent".into(),
            }),
            _ => Ok(outcomes),
        }
    }

    async fn create_activity(&self, activity: &Activity) -> ConnectorResult<String> {
        let mut out = self
            .create_activities(std::slice::from_ref(activity))
            .await?;
        match out.pop() {
            Some(ActivityOutcome::Created { id }) => Ok(id),
            Some(ActivityOutcome::Rejected { message, code }) => {
                Err(ConnectorError::Rejected { message, code })
            }
            None => Err(ConnectorError::fatal("no outcome for the activity")),
        }
    }

    async fn create_activities(
        &self,
        activities: &[Activity],
    ) -> ConnectorResult<Vec<ActivityOutcome>> {
        let object = activities
            .first()
            .map(|a| a.parent_object.clone())
            .unwrap_or_default();
        let fault = self
            .world
            .enter(CallKind::Activity, &object, activities.len())?;
        let mut d = self.world.lock();
        let mut out = Vec::with_capacity(activities.len());
        for activity in activities {
            let parent = d
                .objects
                .get(&activity.parent_object)
                .and_then(|o| o.get(&parse_id(&activity.parent_id).unwrap_or(u64::MAX)));
            match parent {
                Some(p) if !p.archived => {
                    d.next_id += 1;
                    let id = format!("a{}", d.next_id);
                    d.activities.push((id.clone(), activity.clone()));
                    out.push(ActivityOutcome::Created { id });
                }
                _ => out.push(ActivityOutcome::Rejected {
                    message: format!(
                        "no live {} {} to attach the activity to",
                        activity.parent_object, activity.parent_id
                    ),
                    code: Some("NOT_FOUND".into()),
                }),
            }
        }
        match fault {
            Some(Fault::ApplyThenLose) => Err(ConnectorError::OutcomeUnknown {
                message: "the connection dropped after the activities were sent".into(),
            }),
            _ => Ok(out),
        }
    }

    async fn users(&self) -> ConnectorResult<Option<Vec<ToolUser>>> {
        self.world.enter(CallKind::Users, "", 0)?;
        Ok(self.world.lock().users.clone())
    }

    fn usage(&self) -> UsageSnapshot {
        UsageSnapshot::default()
    }
}

impl SimControl for MemoryWorld {
    fn base_url(&self) -> String {
        "memory://".into()
    }

    fn clock(&self) -> &SimClock {
        &self.clock
    }

    fn faults(&self) -> &Faults {
        &self.faults
    }

    fn tokens(&self) -> &TokenIssuer {
        &self.tokens
    }

    fn requests(&self) -> &RequestCounter {
        &self.requests
    }

    fn seed(&self, spec: &SeedSpec) -> Result<Vec<String>, String> {
        let mut ids = Vec::with_capacity(spec.count as usize);
        for i in 0..spec.count {
            let p = seed::person(spec.seed, spec.first_index + i);
            let mut fields = Fields::new();
            for (k, v) in [
                ("email", Value::String(p.email)),
                ("firstname", Value::String(p.first_name)),
                ("lastname", Value::String(p.last_name)),
                ("company", Value::String(p.company)),
                ("jobtitle", Value::String(p.job_title)),
                ("score", Value::from(p.score)),
                ("lifecycle", Value::String(p.lifecycle_stage)),
                ("country", Value::String(p.country)),
                ("employees", Value::from(p.employees)),
            ] {
                fields.insert(k.into(), v);
            }
            ids.push(self.store(&spec.object, fields));
        }
        Ok(ids)
    }

    fn insert(&self, object: &str, records: Vec<Fields>) -> Result<Vec<String>, String> {
        Ok(records
            .into_iter()
            .map(|fields| self.store(object, fields))
            .collect())
    }

    fn update(&self, object: &str, id: &str, fields: Fields) -> Result<(), String> {
        let now = self.clock.now();
        let mut d = self.lock();
        let lag = d.index_lag;
        let stored = d
            .objects
            .get_mut(object)
            .and_then(|o| o.get_mut(&parse_id(id)?))
            .ok_or_else(|| format!("no {object} {id}"))?;
        stored.fields.extend(fields);
        stored.modified_at = now;
        stored.visible_at = visible(now, lag);
        Ok(())
    }

    fn delete(&self, object: &str, id: &str) -> Result<(), String> {
        let now = self.clock.now();
        let mut d = self.lock();
        let lag = d.index_lag;
        let stored = d
            .objects
            .get_mut(object)
            .and_then(|o| o.get_mut(&parse_id(id)?))
            .ok_or_else(|| format!("no {object} {id}"))?;
        stored.archived = true;
        stored.modified_at = now;
        stored.visible_at = visible(now, lag);
        Ok(())
    }

    fn get(&self, object: &str, id: &str) -> Option<Record> {
        let d = self.lock();
        let id = parse_id(id)?;
        d.objects.get(object)?.get(&id).map(|s| record(id, s, None))
    }

    fn find(&self, object: &str, field: &str, value: &str) -> Vec<Record> {
        let d = self.lock();
        d.objects
            .get(object)
            .into_iter()
            .flatten()
            .filter(|(_, s)| !s.archived && s.fields.get(field).is_some_and(|v| text(v) == value))
            .map(|(id, s)| record(*id, s, None))
            .collect()
    }

    fn count(&self, object: &str) -> usize {
        let d = self.lock();
        d.objects
            .get(object)
            .map_or(0, |o| o.values().filter(|s| !s.archived).count())
    }

    fn set_index_lag(&self, lag: Duration) {
        self.lock().index_lag = lag;
    }

    fn set_daily_limit(&self, max: Option<u64>) {
        let mut d = self.lock();
        d.daily_limit = max;
        d.calls_today = 0;
    }

    fn set_rate_limits(&self, _enabled: bool) {}
}

/// The memory connector as a registry entry, under a kind of the test's
/// choosing: what proves that a tool is a crate and one registry line (a
/// test registers it and runs a config naming it end to end). Every
/// connector it builds shares the factory's world.
///
/// ```toml
/// [connectors.fake]
/// kind = "memory"                 # the kind the factory was made with
/// auth = { type = "static_token", token = "env:ANY" }
/// page_size = 10                  # optional: the limits of small_limits()
/// batch_size = 5
/// lookup_batch_size = 5
/// ```
pub struct MemoryFactory {
    kind: &'static str,
    world: Arc<MemoryWorld>,
}

impl MemoryFactory {
    /// A factory for `kind` whose connectors read and write `world`.
    pub fn new(kind: &'static str, world: Arc<MemoryWorld>) -> Self {
        Self { kind, world }
    }
}

impl crate::factory::ConnectorFactory for MemoryFactory {
    fn kind(&self) -> &'static str {
        self.kind
    }

    fn display_name(&self) -> &'static str {
        self.kind
    }

    fn summary(&self) -> &'static str {
        "records in memory (tests)"
    }

    fn auth_types(&self) -> &'static [&'static str] {
        &["static_token"]
    }

    fn read(&self, t: &crate::config::Table<'_, '_, '_>) -> Box<dyn crate::factory::RawSection> {
        let size = |key: &'static str| t.integer(key, "a whole number of records, at least 1");
        Box::new(RawMemory {
            kind: self.kind,
            world: self.world.clone(),
            page_size: size("page_size"),
            batch_size: size("batch_size"),
            lookup_batch_size: size("lookup_batch_size"),
        })
    }
}

struct RawMemory {
    kind: &'static str,
    world: Arc<MemoryWorld>,
    page_size: Option<crate::config::Spanned<i64>>,
    batch_size: Option<crate::config::Spanned<i64>>,
    lookup_batch_size: Option<crate::config::Spanned<i64>>,
}

impl crate::factory::RawSection for RawMemory {
    fn validate(
        self: Box<Self>,
        context: crate::factory::SectionContext<'_>,
        c: &crate::config::Checker<'_, '_>,
    ) -> Option<Arc<dyn crate::factory::ConnectorSpec>> {
        let mut limits = MemoryConnector::small_limits();
        let mut ok = true;
        for (value, slot) in [
            (&self.page_size, &mut limits.page_size),
            (&self.batch_size, &mut limits.batch_size),
            (&self.lookup_batch_size, &mut limits.lookup_batch_size),
        ] {
            if let Some(v) = value {
                match usize::try_from(*v.get_ref()) {
                    Ok(n) if n > 0 => *slot = n,
                    _ => {
                        c.error(v.span(), "a size must be at least 1", None);
                        ok = false;
                    }
                }
            }
        }
        let common = context.common?;
        let mut http = crate::http::HttpSettings::default();
        let mut overlap = limits.default_overlap;
        common.apply(&mut http, &mut overlap);
        limits.default_overlap = overlap;
        ok.then(|| {
            Arc::new(MemorySpec {
                kind: self.kind,
                world: self.world,
                limits,
                auth: common.auth,
                http,
            }) as Arc<dyn crate::factory::ConnectorSpec>
        })
    }
}

/// A validated memory section.
struct MemorySpec {
    kind: &'static str,
    world: Arc<MemoryWorld>,
    limits: Limits,
    auth: crate::auth::AuthConfig,
    http: crate::http::HttpSettings,
}

impl std::fmt::Debug for MemorySpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemorySpec")
            .field("kind", &self.kind)
            .field("limits", &self.limits)
            .field("auth", &self.auth)
            .finish()
    }
}

impl crate::factory::ConnectorSpec for MemorySpec {
    fn kind(&self) -> &'static str {
        self.kind
    }

    fn auth(&self) -> &crate::auth::AuthConfig {
        &self.auth
    }

    fn http(&self) -> &crate::http::HttpSettings {
        &self.http
    }

    fn overlap(&self) -> Duration {
        self.limits.default_overlap
    }

    fn build(
        &self,
        _auth: crate::auth::AuthConfig,
        _sink: Option<Arc<dyn crate::auth::RefreshTokenSink>>,
    ) -> ConnectorResult<Arc<dyn Connector>> {
        Ok(Arc::new(MemoryConnector::new(
            self.world.clone(),
            self.kind,
            self.limits.clone(),
        )))
    }

    fn unthrottled(&self) -> Arc<dyn crate::factory::ConnectorSpec> {
        Arc::new(MemorySpec {
            kind: self.kind,
            world: self.world.clone(),
            limits: self.limits.clone(),
            auth: self.auth.clone(),
            http: self.http.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::write::WriteRecord;

    fn contacts() -> (Arc<MemoryWorld>, MemoryConnector) {
        let world = MemoryWorld::new();
        let c = MemoryConnector::new(world.clone(), "memory", MemoryConnector::small_limits());
        (world, c)
    }

    #[tokio::test]
    async fn a_scripted_lost_answer_applies_the_write() {
        let (world, c) = contacts();
        world.script(CallKind::Write, Fault::ApplyThenLose, 1);
        let batch = WriteBatch {
            object: "contacts".into(),
            key_field: Some("email".into()),
            records: vec![WriteRecord {
                id: None,
                key: Some("ann@example.com".into()),
                fields: Fields::new(),
            }],
        };
        let err = c.write(&batch).await.unwrap_err();
        assert!(matches!(err, ConnectorError::OutcomeUnknown { .. }));
        assert_eq!(world.count("contacts"), 1, "the write happened");
        let again = c.write(&batch).await.unwrap();
        assert!(matches!(again[0], WriteOutcome::Updated { .. }));
        assert_eq!(world.count("contacts"), 1);
        assert_eq!(world.count_calls(CallKind::Write), 2);
    }

    #[tokio::test]
    async fn a_scripted_failure_fails_only_the_calls_it_names() {
        let (world, c) = contacts();
        world.script(
            CallKind::Changes,
            Fault::Fail(ConnectorError::Retryable {
                message: "503".into(),
                retry_after: None,
            }),
            2,
        );
        let request = ChangesRequest {
            object: "contacts".into(),
            since: None,
            overlap: Duration::ZERO,
            fields: vec![],
            include_archived: false,
        };
        assert!(c.changes(&request, None).await.is_err());
        assert!(c
            .lookup("contacts", "email", &["x".into()], &[])
            .await
            .is_ok());
        assert!(c.changes(&request, None).await.is_err());
        assert!(c.changes(&request, None).await.is_ok());
    }

    #[tokio::test]
    async fn superseded_and_deleted_targets_are_not_written() {
        let (world, c) = contacts();
        let ids = world
            .insert("Lead", vec![Fields::new(), Fields::new()])
            .unwrap();
        world
            .supersede(
                "Lead",
                &ids[0],
                Successor {
                    object: "Contact".into(),
                    id: "9".into(),
                    reason: crate::SuccessorReason::Converted,
                },
            )
            .unwrap();
        world.delete("Lead", &ids[1]).unwrap();
        let batch = WriteBatch {
            object: "Lead".into(),
            key_field: None,
            records: ids
                .iter()
                .map(|id| WriteRecord {
                    id: Some(id.clone()),
                    key: None,
                    fields: Fields::new(),
                })
                .collect(),
        };
        let out = c.write(&batch).await.unwrap();
        assert!(matches!(&out[0], WriteOutcome::Superseded { successor } if successor.id == "9"));
        assert!(matches!(out[1], WriteOutcome::Deleted { .. }));
    }
}
