//! Batch writes: how a [`WriteBatch`] becomes HubSpot batch calls with one
//! outcome per record, whatever HubSpot refuses (SEMANTICS.md R2.8).
//!
//! - **Rounds.** HubSpot refuses a whole batch that names one record twice
//!   ("Duplicate IDs found in batch input"), and a create batch with one
//!   email twice (409). Records sharing an id, key or email go out in
//!   successive calls, in input order, so the later write wins as it would
//!   have one by one.
//! - **Trace ids.** Every input carries an `objectWriteTraceId` (its index
//!   in the caller's batch), so HubSpot answers creates (and updates) per
//!   record with a 207 and each error is attributed to its input.
//! - **Bisection.** Where HubSpot still refuses a whole batch for one bad
//!   input (an upsert by email is never partial), the batch is halved, and a
//!   half is sent only when it is not already known to hold the bad input:
//!   when the left half goes through, the right half must hold it and is
//!   split at once. One bad record in 100 costs at most `2·⌈log2 100⌉`
//!   calls more, every good record is written, and the bad one is rejected
//!   with HubSpot's own message.
//! - **Merged and deleted targets.** An update whose id HubSpot no longer
//!   finds is explained with one batch read: merged away → `Superseded`,
//!   in the recycle bin → `Deleted` (R2.7).
//! - **A contact that exists is a match.** A create refused because the
//!   record exists (409 CONFLICT "Contact already exists. Existing ID: N")
//!   updates N with the record's fields instead and answers `Updated { N }`.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;

use leadbridge_core::{
    ConnectorError, ConnectorResult, Successor, SuccessorReason, WriteBatch, WriteOutcome,
    WriteRecord,
};
use serde_json::{json, Map, Value};
use tracing::debug;

use crate::connector::{HubSpotConnector, BATCH_LIMIT};
use crate::is_contacts;
use crate::wire::{ApiObject, BatchResponse, StandardError};

/// Which batch endpoint a write goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum WriteOp {
    Create,
    Update,
    Upsert,
}

impl WriteOp {
    fn path(self) -> &'static str {
        match self {
            Self::Create => "create",
            Self::Update => "update",
            Self::Upsert => "upsert",
        }
    }
}

type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What one call of a chunk produced: the outcomes, and whether HubSpot
/// refused the chunk as a whole.
type ChunkResult = ConnectorResult<(Vec<(usize, WriteOutcome)>, bool)>;

impl HubSpotConnector {
    /// Writes a batch: updates by id, upserts by key, creates; one outcome
    /// per record in input order.
    pub(crate) async fn write_batch(
        &self,
        batch: &WriteBatch,
    ) -> ConnectorResult<Vec<WriteOutcome>> {
        let mut outcomes: Vec<Option<WriteOutcome>> = vec![None; batch.records.len()];
        let mut groups: [(WriteOp, Vec<(usize, &WriteRecord)>); 3] = [
            (WriteOp::Update, Vec::new()),
            (WriteOp::Upsert, Vec::new()),
            (WriteOp::Create, Vec::new()),
        ];
        for (idx, record) in batch.records.iter().enumerate() {
            match (&record.id, &record.key, &batch.key_field) {
                (Some(_), _, _) => groups[0].1.push((idx, record)),
                (None, Some(_), Some(_)) => groups[1].1.push((idx, record)),
                (None, Some(_), None) => {
                    outcomes[idx] = Some(WriteOutcome::Rejected {
                        message: "record has a key value but the batch names no key field".into(),
                        code: Some("MISSING_KEY_FIELD".into()),
                        fields: Vec::new(),
                    })
                }
                (None, None, _) => groups[2].1.push((idx, record)),
            }
        }
        for (op, items) in groups {
            for (idx, outcome) in self.write_rounds(op, batch, items).await? {
                outcomes[idx] = Some(outcome);
            }
        }
        if is_contacts(&batch.object) {
            self.update_existing(batch, &mut outcomes).await?;
        }
        self.explain_missing(batch, &mut outcomes).await?;
        Ok(outcomes
            .into_iter()
            .map(|o| {
                o.unwrap_or_else(|| WriteOutcome::Rejected {
                    message: "no outcome from HubSpot".into(),
                    code: None,
                    fields: Vec::new(),
                })
            })
            .collect())
    }

    /// Sends `items` in rounds free of duplicates, 100 a call.
    async fn write_rounds<'a>(
        &'a self,
        op: WriteOp,
        batch: &'a WriteBatch,
        items: Vec<(usize, &'a WriteRecord)>,
    ) -> ConnectorResult<Vec<(usize, WriteOutcome)>> {
        let mut out = Vec::with_capacity(items.len());
        for round in rounds(op, &batch.object, items) {
            for chunk in round.chunks(BATCH_LIMIT) {
                out.extend(self.write_chunk(op, batch, chunk.to_vec(), false).await?.0);
            }
        }
        Ok(out)
    }

    /// Updates refused because their id is not found: a merged-away id
    /// (batch update does not follow merges, R2.7) becomes `Superseded` by
    /// the record it was merged into, found with one batch read (which
    /// does follow them, listing the old ids in `hs_merged_object_ids`); an
    /// id in the recycle bin becomes `Deleted`. Anything else stays
    /// rejected (a permanently deleted record cannot be told from one that
    /// never existed).
    async fn explain_missing(
        &self,
        batch: &WriteBatch,
        outcomes: &mut [Option<WriteOutcome>],
    ) -> ConnectorResult<()> {
        let missing: Vec<(usize, String)> = outcomes
            .iter()
            .enumerate()
            .filter_map(|(idx, o)| match (o, &batch.records[idx].id) {
                (Some(WriteOutcome::Rejected { code: Some(c), .. }), Some(id))
                    if c == "OBJECT_NOT_FOUND" =>
                {
                    Some((idx, id.clone()))
                }
                _ => None,
            })
            .collect();
        for chunk in missing.chunks(BATCH_LIMIT) {
            let mut ids: Vec<&str> = chunk.iter().map(|(_, id)| id.as_str()).collect();
            ids.dedup();
            let read = |archived: bool| {
                let path = format!(
                    "/crm/v3/objects/{}/batch/read{}",
                    batch.object,
                    if archived { "?archived=true" } else { "" }
                );
                let body = json!({
                    "inputs": ids.iter().map(|id| json!({"id": id})).collect::<Vec<_>>(),
                    "properties": ["hs_merged_object_ids"],
                    "propertiesWithHistory": [],
                });
                async move { self.post::<BatchResponse>(&path, &body, None).await }
            };
            let live = read(false).await?;
            let mut successor: HashMap<String, String> = HashMap::new();
            for object in &live.results {
                let merged = object
                    .properties
                    .get("hs_merged_object_ids")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                for old in merged.split(';').map(str::trim) {
                    if !old.is_empty() && old != object.id {
                        successor.insert(old.to_owned(), object.id.clone());
                    }
                }
            }
            let archived = read(true).await?;
            let in_bin: Vec<&str> = archived.results.iter().map(|o| o.id.as_str()).collect();
            for (idx, id) in chunk {
                if let Some(new_id) = successor.get(id) {
                    outcomes[*idx] = Some(WriteOutcome::Superseded {
                        successor: Successor {
                            object: batch.object.clone(),
                            id: new_id.clone(),
                            reason: SuccessorReason::Merged,
                        },
                    });
                } else if in_bin.contains(&id.as_str()) {
                    outcomes[*idx] = Some(WriteOutcome::Deleted {
                        message: format!(
                            "{} {id} is deleted (in HubSpot's recycle bin)",
                            batch.object
                        ),
                    });
                }
            }
        }
        Ok(())
    }

    /// Creates refused because the contact exists become updates of the
    /// existing contact, answered as `Updated`.
    async fn update_existing(
        &self,
        batch: &WriteBatch,
        outcomes: &mut [Option<WriteOutcome>],
    ) -> ConnectorResult<()> {
        let mut targets: Vec<(usize, WriteRecord)> = Vec::new();
        for (idx, outcome) in outcomes.iter().enumerate() {
            let record = &batch.records[idx];
            if record.id.is_some() || record.key.is_some() {
                continue;
            }
            if let Some(WriteOutcome::Rejected {
                message,
                code: Some(code),
                ..
            }) = outcome
            {
                if let (true, Some(existing)) = (code == "CONFLICT", existing_id(message)) {
                    targets.push((
                        idx,
                        WriteRecord {
                            id: Some(existing),
                            key: None,
                            fields: record.fields.clone(),
                        },
                    ));
                }
            }
        }
        if targets.is_empty() {
            return Ok(());
        }
        debug!(
            count = targets.len(),
            "creates matched existing contacts; updating them"
        );
        let updates = WriteBatch {
            object: batch.object.clone(),
            key_field: None,
            records: targets.iter().map(|(_, r)| r.clone()).collect(),
        };
        let items: Vec<(usize, &WriteRecord)> = updates.records.iter().enumerate().collect();
        for (i, outcome) in self.write_rounds(WriteOp::Update, &updates, items).await? {
            outcomes[targets[i].0] = Some(outcome);
        }
        Ok(())
    }

    /// One batch call for `items` (index in the caller's batch, record),
    /// answering an outcome for each index and whether HubSpot refused the
    /// call as a whole. `known_bad`: an earlier call proved these items
    /// hold a refused input, so a chunk of several is split without
    /// sending it again.
    fn write_chunk<'a>(
        &'a self,
        op: WriteOp,
        batch: &'a WriteBatch,
        items: Vec<(usize, &'a WriteRecord)>,
        known_bad: bool,
    ) -> BoxFuture<'a, ChunkResult> {
        Box::pin(async move {
            if known_bad && items.len() > 1 {
                return Ok((self.bisect(op, batch, items).await?, true));
            }
            let inputs: Vec<Value> = items
                .iter()
                .map(|(idx, record)| input(op, batch, *idx, record))
                .collect();
            let path = format!("/crm/v3/objects/{}/batch/{}", batch.object, op.path());
            let response: BatchResponse =
                match self.post(&path, &json!({ "inputs": inputs }), None).await {
                    Ok(r) => r,
                    Err(ConnectorError::Rejected { message, code }) => {
                        if items.len() == 1 {
                            let fields = fields_from_message(&message);
                            let outcome = WriteOutcome::Rejected {
                                message,
                                code,
                                fields,
                            };
                            return Ok((vec![(items[0].0, outcome)], true));
                        }
                        debug!(size = items.len(), "batch refused as a whole; bisecting it");
                        return Ok((self.bisect(op, batch, items).await?, true));
                    }
                    Err(e) => return Err(e),
                };
            let (mut done, unmapped) = map_batch_response(op, batch, &items, response);
            if !unmapped.is_empty() {
                if items.len() == 1 {
                    done.push((
                        items[0].0,
                        WriteOutcome::Rejected {
                            message:
                                "HubSpot returned neither a result nor an error for this record"
                                    .into(),
                            code: None,
                            fields: Vec::new(),
                        },
                    ));
                } else {
                    // Outcomes we cannot attribute: ask again one by one.
                    for item in unmapped {
                        done.extend(self.write_chunk(op, batch, vec![item], false).await?.0);
                    }
                }
            }
            Ok((done, false))
        })
    }

    /// Halves a chunk known to hold a refused input: the left half is sent;
    /// if it goes through, the right half holds the refused input and is
    /// split without being sent whole.
    async fn bisect<'a>(
        &'a self,
        op: WriteOp,
        batch: &'a WriteBatch,
        mut items: Vec<(usize, &'a WriteRecord)>,
    ) -> ConnectorResult<Vec<(usize, WriteOutcome)>> {
        let right = items.split_off(items.len() / 2);
        let (mut out, left_refused) = self.write_chunk(op, batch, items, false).await?;
        out.extend(self.write_chunk(op, batch, right, !left_refused).await?.0);
        Ok(out)
    }
}

/// The JSON input of one record for `op`, traced by its index.
fn input(op: WriteOp, batch: &WriteBatch, idx: usize, record: &WriteRecord) -> Value {
    let properties = string_properties(&record.fields);
    let trace = idx.to_string();
    match op {
        WriteOp::Create => json!({
            "properties": properties,
            "objectWriteTraceId": trace,
            "associations": [],
        }),
        WriteOp::Update => json!({
            "id": record.id.clone().unwrap_or_default(),
            "properties": properties,
            "objectWriteTraceId": trace,
        }),
        WriteOp::Upsert => json!({
            "id": record.key.clone().unwrap_or_default(),
            "idProperty": batch.key_field.clone().unwrap_or_default(),
            "properties": properties,
            "objectWriteTraceId": trace,
        }),
    }
}

/// Splits items into rounds in which no record is named twice: by id
/// (updates), by key value without case (upserts), by email (creates of
/// contacts). The n-th occurrence of a name goes to round n, so input
/// order is kept among a name's writes.
fn rounds<'a>(
    op: WriteOp,
    object: &str,
    items: Vec<(usize, &'a WriteRecord)>,
) -> Vec<Vec<(usize, &'a WriteRecord)>> {
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut out: Vec<Vec<(usize, &WriteRecord)>> = Vec::new();
    for item in items {
        let name = match op {
            WriteOp::Update => item.1.id.clone(),
            WriteOp::Upsert => item.1.key.as_deref().map(|k| k.trim().to_lowercase()),
            WriteOp::Create if is_contacts(object) => item
                .1
                .fields
                .get("email")
                .and_then(Value::as_str)
                .map(|e| e.trim().to_lowercase())
                .filter(|e| !e.is_empty()),
            WriteOp::Create => None,
        };
        let round = match name {
            Some(name) => {
                let n = seen.entry(name).or_insert(0);
                *n += 1;
                *n - 1
            }
            None => 0,
        };
        if out.len() <= round {
            out.resize_with(round + 1, Vec::new);
        }
        out[round].push(item);
    }
    out
}

/// The id in HubSpot's "Contact already exists. Existing ID: 12345".
fn existing_id(message: &str) -> Option<String> {
    let (_, rest) = message.split_once("Existing ID: ")?;
    let id: String = rest.chars().take_while(char::is_ascii_digit).collect();
    (!id.is_empty()).then_some(id)
}

/// HubSpot properties are strings on the wire: numbers and booleans are sent
/// in their text form, null clears the value (an empty string).
fn string_properties(fields: &Map<String, Value>) -> Map<String, Value> {
    fields
        .iter()
        .map(|(k, v)| {
            let text = match v {
                Value::Null => String::new(),
                Value::String(s) => s.clone(),
                Value::Array(items) => items
                    .iter()
                    .map(|i| match i {
                        Value::String(s) => s.clone(),
                        other => other.to_string(),
                    })
                    .collect::<Vec<_>>()
                    .join(";"),
                other => other.to_string(),
            };
            (k.clone(), Value::String(text))
        })
        .collect()
}

/// The property names a HubSpot validation message names. Its messages embed
/// a JSON list: `Property values were not valid: [{"name":"email",…}]`.
fn fields_from_message(message: &str) -> Vec<String> {
    let Some(start) = message.find('[') else {
        return Vec::new();
    };
    let Some(end) = message.rfind(']') else {
        return Vec::new();
    };
    serde_json::from_str::<Vec<Value>>(&message[start..=end])
        .map(|items| {
            items
                .iter()
                .filter_map(|i| i.get("name").and_then(Value::as_str).map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

fn rejection(error: &StandardError) -> WriteOutcome {
    let message = error
        .message
        .clone()
        .unwrap_or_else(|| "rejected by HubSpot".into());
    let code = error
        .errors
        .iter()
        .find_map(|d| d.code.clone())
        .or_else(|| error.category.clone());
    let mut fields: Vec<String> = Vec::new();
    for detail in &error.errors {
        for name in crate::wire::context_values(detail.context.as_ref(), "propertyName") {
            if !fields.contains(&name) {
                fields.push(name);
            }
        }
        if let Some(name) = &detail.in_field {
            if !fields.contains(name) {
                fields.push(name.clone());
            }
        }
    }
    for name in error.context_values("propertyName") {
        if !fields.contains(&name) {
            fields.push(name);
        }
    }
    if fields.is_empty() {
        fields = fields_from_message(&message);
    }
    WriteOutcome::Rejected {
        message,
        code,
        fields,
    }
}

/// Attributes a batch response's results and errors to the inputs: by
/// `objectWriteTraceId` first, then by id (updates) or key value (upserts);
/// what cannot be attributed is returned for a one-by-one retry.
#[allow(clippy::type_complexity)]
pub(crate) fn map_batch_response<'a>(
    op: WriteOp,
    batch: &WriteBatch,
    items: &[(usize, &'a WriteRecord)],
    response: BatchResponse,
) -> (Vec<(usize, WriteOutcome)>, Vec<(usize, &'a WriteRecord)>) {
    let mut open: HashMap<usize, &WriteRecord> = items.iter().copied().collect();
    let mut out = Vec::new();
    let key_field = batch.key_field.clone().unwrap_or_default();
    let find_by = |open: &HashMap<usize, &WriteRecord>, api: &ApiObject| -> Option<usize> {
        if let Some(idx) = api
            .object_write_trace_id
            .as_deref()
            .and_then(|t| t.parse::<usize>().ok())
            .filter(|i| open.contains_key(i))
        {
            return Some(idx);
        }
        match op {
            WriteOp::Update => open
                .iter()
                .find(|(_, r)| r.id.as_deref() == Some(api.id.as_str()))
                .map(|(i, _)| *i),
            WriteOp::Upsert => {
                let value = api.properties.get(&key_field).and_then(Value::as_str)?;
                open.iter()
                    .find(|(_, r)| {
                        r.key
                            .as_deref()
                            .is_some_and(|k| k.eq_ignore_ascii_case(value))
                    })
                    .map(|(i, _)| *i)
            }
            WriteOp::Create => None,
        }
    };
    let mut unattributed_results = Vec::new();
    for api in &response.results {
        match find_by(&open, api) {
            Some(idx) => {
                open.remove(&idx);
                let outcome = match (op, api.new) {
                    (WriteOp::Update, _) | (WriteOp::Upsert, Some(false)) => {
                        WriteOutcome::Updated { id: api.id.clone() }
                    }
                    _ => WriteOutcome::Created { id: api.id.clone() },
                };
                out.push((idx, outcome));
            }
            None => unattributed_results.push(api),
        }
    }
    let mut unattributed_errors = Vec::new();
    for error in &response.errors {
        let mut keys: Vec<String> = error.object_write_trace_id.iter().cloned().collect();
        keys.extend(error.context_values("objectWriteTraceId"));
        let mut idx = keys
            .iter()
            .filter_map(|k| k.parse::<usize>().ok())
            .find(|i| open.contains_key(i));
        if idx.is_none() {
            let ids: Vec<String> = error
                .context_values("ids")
                .into_iter()
                .chain(error.context_values("id"))
                .collect();
            idx = open
                .iter()
                .find(|(_, r)| {
                    ids.iter().any(|v| {
                        r.id.as_deref() == Some(v.as_str())
                            || r.key.as_deref().is_some_and(|k| k.eq_ignore_ascii_case(v))
                    })
                })
                .map(|(i, _)| *i);
        }
        match idx {
            Some(i) => {
                open.remove(&i);
                out.push((i, rejection(error)));
            }
            None => unattributed_errors.push(error),
        }
    }
    // Creates without trace ids in the answer: HubSpot answers in input order
    // when every input succeeded.
    if unattributed_errors.is_empty() && unattributed_results.len() == open.len() {
        let mut rest: Vec<usize> = open.keys().copied().collect();
        rest.sort_unstable();
        for (idx, api) in rest.into_iter().zip(unattributed_results) {
            open.remove(&idx);
            let outcome = match (op, api.new) {
                (WriteOp::Update, _) | (WriteOp::Upsert, Some(false)) => {
                    WriteOutcome::Updated { id: api.id.clone() }
                }
                _ => WriteOutcome::Created { id: api.id.clone() },
            };
            out.push((idx, outcome));
        }
    } else if open.len() == 1 && unattributed_errors.len() == 1 && unattributed_results.is_empty() {
        if let Some(idx) = open.keys().next().copied() {
            open.remove(&idx);
            out.push((idx, rejection(unattributed_errors[0])));
        }
    }
    let mut rest: Vec<(usize, &WriteRecord)> = open.into_iter().collect();
    rest.sort_by_key(|(i, _)| *i);
    (out, rest)
}
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounds_keep_duplicates_apart_in_input_order() {
        let rec = |key: &str| WriteRecord {
            key: Some(key.into()),
            ..WriteRecord::default()
        };
        let records = [rec("a@x"), rec("B@x"), rec("A@X"), rec("a@x"), rec("c@x")];
        let items: Vec<(usize, &WriteRecord)> = records.iter().enumerate().collect();
        let r: Vec<Vec<usize>> = rounds(WriteOp::Upsert, "contacts", items)
            .into_iter()
            .map(|round| round.into_iter().map(|(i, _)| i).collect())
            .collect();
        assert_eq!(r, vec![vec![0, 1, 4], vec![2], vec![3]]);
        assert_eq!(
            existing_id("Contact already exists. Existing ID: 4711").as_deref(),
            Some("4711")
        );
        assert_eq!(existing_id("Contact already exists."), None);
    }

    #[test]
    fn validation_messages_name_their_fields() {
        let m = r#"Property values were not valid: [{"isValid":false,"message":"Email address x is invalid","error":"INVALID_EMAIL","name":"email"}]"#;
        assert_eq!(fields_from_message(m), vec!["email".to_owned()]);
        assert!(fields_from_message("nothing here").is_empty());
    }

    #[test]
    fn properties_go_out_as_strings() {
        let mut f = Map::new();
        f.insert("n".into(), json!(17));
        f.insert("b".into(), json!(false));
        f.insert("m".into(), json!(["a", "b"]));
        f.insert("z".into(), Value::Null);
        let s = string_properties(&f);
        assert_eq!(s["n"], "17");
        assert_eq!(s["b"], "false");
        assert_eq!(s["m"], "a;b");
        assert_eq!(s["z"], "");
    }

    #[test]
    fn errors_map_back_by_trace_id_and_leftovers_pair_up() {
        let records: Vec<WriteRecord> = (0..3)
            .map(|i| WriteRecord {
                key: Some(format!("p{i}@x.example")),
                ..WriteRecord::default()
            })
            .collect();
        let batch = WriteBatch {
            object: "contacts".into(),
            key_field: Some("email".into()),
            records: records.clone(),
        };
        let items: Vec<(usize, &WriteRecord)> = records.iter().enumerate().collect();
        let response: BatchResponse = serde_json::from_value(json!({
            "results": [
                {"id": "1", "properties": {"email": "P0@x.example"}, "new": true},
                {"id": "2", "properties": {}, "new": false, "objectWriteTraceId": "2"},
            ],
            "errors": [{"category": "VALIDATION_ERROR", "message": "bad", "errors": [{"code": "INVALID_OPTION", "context": {"propertyName": ["lifecyclestage"]}}]}],
        }))
        .unwrap();
        let (mut out, rest) = map_batch_response(WriteOp::Upsert, &batch, &items, response);
        out.sort_by_key(|(i, _)| *i);
        assert!(rest.is_empty());
        assert_eq!(out[0].1, WriteOutcome::Created { id: "1".into() });
        assert!(
            matches!(&out[1].1, WriteOutcome::Rejected { code: Some(c), fields, .. } if c == "INVALID_OPTION" && fields == &["lifecyclestage".to_owned()])
        );
        assert_eq!(out[2].1, WriteOutcome::Updated { id: "2".into() });
    }
}
