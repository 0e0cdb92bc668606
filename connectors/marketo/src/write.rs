//! Writes through Sync Leads (`POST /rest/v1/leads.json`): how a
//! [`WriteBatch`] becomes requests, and how per-record results become
//! [`WriteOutcome`]s.
//!
//! Records go out in up to three kinds of request, each up to 300 records
//! and under 1 MB
//! (experienceleague.adobe.com/en/docs/marketo-developer/marketo/rest/lead-database/leads):
//!
//! - by id: `action=updateOnly, lookupField=id` ("the id field can only be
//!   included … when using the updateOnly action"); a lead that is gone
//!   answers `skipped` with 1004 "Lead not found" → [`WriteOutcome::Deleted`]
//!   (deleted, or merged into another lead: Marketo does not say which);
//! - by key: `action=createOrUpdate, lookupField=<key field>` (email,
//!   usually). This is idempotent by key: writing the same batch twice
//!   creates nothing the second time, so an interrupted write can be sent
//!   again. Marketo allows several leads with one email; when the key
//!   matches more than one, Marketo refuses the record with 1007 "Multiple
//!   leads match the lookup criteria" ("updates can only be performed when
//!   the key matches a single record", error-codes page) and nothing is
//!   written → [`WriteOutcome::Rejected`], for a person to merge the
//!   duplicates. Marketo also warns that upserts of one key sent
//!   concurrently or in quick succession can create duplicates; the
//!   connector sends its requests one after another;
//! - neither: `action=createOnly` (Marketo dedupes on email when the
//!   fields carry one, answering 1005 "Lead already exists").
//!
//! Results come back in input order; `status` is `created`, `updated` or
//! `skipped` with `reasons[{code, message}]` (1xxx codes) →
//! [`WriteOutcome::Rejected`] with the code and the message verbatim.

use leadbridge_core::{Fields, WriteBatch, WriteOutcome, WriteRecord};
use serde_json::{json, Map, Value};

use crate::config::BATCH_LIMIT;
use crate::wire::{id_text, SyncResult};

/// The most bytes one request body may have: Marketo answers 413 past 1 MB;
/// this stays under either reading of "1 MB".
pub const MAX_BODY_BYTES: usize = 1_000_000;

/// Which Sync Leads request a record goes out in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SyncKind {
    /// `updateOnly` by `id`.
    ById,
    /// `createOrUpdate` by the batch's key field.
    ByKey,
    /// `createOnly`.
    Create,
}

/// One Sync Leads request: the indexes of its records in the batch and
/// the body.
#[derive(Debug, Clone)]
pub(crate) struct SyncRequest {
    pub kind: SyncKind,
    pub indexes: Vec<usize>,
    pub body: Value,
}

/// A record as one `input` entry of Sync Leads.
fn input(kind: SyncKind, record: &WriteRecord, key_field: &str) -> Map<String, Value> {
    let mut out: Map<String, Value> = record.fields.clone();
    match kind {
        SyncKind::ById => {
            let id = record.id.clone().unwrap_or_default();
            let id = id
                .parse::<u64>()
                .map(Value::from)
                .unwrap_or(Value::String(id));
            out.insert("id".into(), id);
        }
        SyncKind::ByKey => {
            out.insert(
                key_field.to_owned(),
                Value::String(record.key.clone().unwrap_or_default()),
            );
        }
        SyncKind::Create => {}
    }
    out
}

fn envelope(kind: SyncKind, key_field: &str, input: Vec<Value>) -> Value {
    match kind {
        SyncKind::ById => json!({"action": "updateOnly", "lookupField": "id", "input": input}),
        SyncKind::ByKey => {
            json!({"action": "createOrUpdate", "lookupField": key_field, "input": input})
        }
        SyncKind::Create => json!({"action": "createOnly", "input": input}),
    }
}

/// Splits a batch into Sync Leads requests (300 records, under 1 MB each),
/// and answers at once the records that cannot be sent: a key without a
/// key field.
pub(crate) fn plan(batch: &WriteBatch) -> (Vec<SyncRequest>, Vec<(usize, WriteOutcome)>) {
    let key_field = batch.key_field.clone().unwrap_or_default();
    let mut groups: [(SyncKind, Vec<usize>); 3] = [
        (SyncKind::ById, Vec::new()),
        (SyncKind::ByKey, Vec::new()),
        (SyncKind::Create, Vec::new()),
    ];
    let mut refused = Vec::new();
    for (i, r) in batch.records.iter().enumerate() {
        match (&r.id, &r.key, batch.key_field.is_some()) {
            (Some(_), _, _) => groups[0].1.push(i),
            (None, Some(_), true) => groups[1].1.push(i),
            (None, Some(_), false) => refused.push((
                i,
                WriteOutcome::Rejected {
                    message: "record has a key value but the batch names no key field".into(),
                    code: Some("MISSING_KEY_FIELD".into()),
                    fields: Vec::new(),
                },
            )),
            (None, None, _) => groups[2].1.push(i),
        }
    }
    let overhead = envelope(SyncKind::ByKey, &key_field, Vec::new())
        .to_string()
        .len();
    let mut requests = Vec::new();
    for (kind, indexes) in groups {
        let mut current: (Vec<usize>, Vec<Value>, usize) = (Vec::new(), Vec::new(), overhead);
        for i in indexes {
            let item = Value::Object(input(kind, &batch.records[i], &key_field));
            let size = item.to_string().len() + 1;
            let full = current.0.len() >= BATCH_LIMIT || current.2 + size > MAX_BODY_BYTES;
            if full && !current.0.is_empty() {
                let (idx, items, _) =
                    std::mem::replace(&mut current, (Vec::new(), Vec::new(), overhead));
                requests.push(SyncRequest {
                    kind,
                    indexes: idx,
                    body: envelope(kind, &key_field, items),
                });
            }
            current.0.push(i);
            current.1.push(item);
            current.2 += size;
        }
        if !current.0.is_empty() {
            requests.push(SyncRequest {
                kind,
                indexes: current.0,
                body: envelope(kind, &key_field, current.1),
            });
        }
    }
    (requests, refused)
}

/// The fields a record-level reason names: `Field 'x' not found` names
/// `x`; `Invalid value 'v'. Required of type 't'` names the input fields
/// holding `v`.
fn named_fields(code: &str, message: &str, fields: &Fields) -> Vec<String> {
    let quoted = message.split('\'').nth(1).unwrap_or_default();
    if quoted.is_empty() {
        return Vec::new();
    }
    match code {
        "1006" | "1011" => vec![quoted.to_owned()],
        "1001" => fields
            .iter()
            .filter(|(_, v)| match v {
                Value::String(s) => s == quoted,
                Value::Number(n) => n.to_string() == quoted,
                Value::Bool(b) => b.to_string() == quoted,
                _ => false,
            })
            .map(|(k, _)| k.clone())
            .collect(),
        _ => Vec::new(),
    }
}

/// The outcome of one record from its Sync Leads result.
pub(crate) fn outcome(kind: SyncKind, record: &WriteRecord, result: &SyncResult) -> WriteOutcome {
    let id = result.id.as_ref().and_then(id_text);
    match (result.status.as_deref(), id) {
        (Some("created"), Some(id)) => WriteOutcome::Created { id },
        (Some("updated"), Some(id)) => WriteOutcome::Updated { id },
        _ => {
            let reason = result
                .reasons
                .first()
                .cloned()
                .or_else(|| result.reason.clone())
                .unwrap_or_default();
            let message = if reason.message.is_empty() {
                format!(
                    "Marketo answered status {:?} without a reason",
                    result.status.as_deref().unwrap_or("none")
                )
            } else {
                reason.message.clone()
            };
            if kind == SyncKind::ById && reason.code == "1004" {
                return WriteOutcome::Deleted {
                    message: format!(
                        "{message} (1004): the lead was deleted, or merged into another lead"
                    ),
                };
            }
            WriteOutcome::Rejected {
                fields: named_fields(&reason.code, &message, &record.fields),
                message,
                code: (!reason.code.is_empty()).then(|| reason.code.clone()),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::classify::ApiError;

    fn record(id: Option<&str>, key: Option<&str>, fields: Value) -> WriteRecord {
        WriteRecord {
            id: id.map(str::to_owned),
            key: key.map(str::to_owned),
            fields: fields.as_object().cloned().unwrap_or_default(),
        }
    }

    #[test]
    fn a_batch_splits_by_kind_and_by_300() {
        let mut records: Vec<WriteRecord> = (0..650)
            .map(|i| {
                record(
                    None,
                    Some(&format!("p{i}@x.example")),
                    json!({"firstName": "A"}),
                )
            })
            .collect();
        records.push(record(Some("42"), None, json!({"title": "CMO"})));
        records.push(record(None, None, json!({"email": "new@x.example"})));
        let batch = WriteBatch {
            object: "leads".into(),
            key_field: Some("email".into()),
            records,
        };
        let (requests, refused) = plan(&batch);
        assert!(refused.is_empty());
        let sizes: Vec<(SyncKind, usize)> =
            requests.iter().map(|r| (r.kind, r.indexes.len())).collect();
        assert_eq!(
            sizes,
            vec![
                (SyncKind::ById, 1),
                (SyncKind::ByKey, 300),
                (SyncKind::ByKey, 300),
                (SyncKind::ByKey, 50),
                (SyncKind::Create, 1)
            ]
        );
        assert_eq!(requests[0].body["input"][0]["id"], json!(42));
        assert_eq!(requests[0].body["action"], "updateOnly");
        assert_eq!(requests[1].body["lookupField"], "email");
        assert_eq!(requests[1].body["input"][0]["email"], "p0@x.example");
        assert_eq!(requests[4].body["action"], "createOnly");
    }

    #[test]
    fn bodies_stay_under_one_megabyte() {
        let big = "x".repeat(20_000);
        let records: Vec<WriteRecord> = (0..120)
            .map(|i| {
                record(
                    None,
                    Some(&format!("p{i}@x.example")),
                    json!({"comments": big}),
                )
            })
            .collect();
        let batch = WriteBatch {
            object: "leads".into(),
            key_field: Some("email".into()),
            records,
        };
        let (requests, _) = plan(&batch);
        assert!(requests.len() >= 3);
        assert!(requests
            .iter()
            .all(|r| r.body.to_string().len() <= MAX_BODY_BYTES));
        assert_eq!(requests.iter().map(|r| r.indexes.len()).sum::<usize>(), 120);
    }

    #[test]
    fn results_become_outcomes() {
        let r = record(
            None,
            Some("a@x.example"),
            json!({"numberOfEmployees": "lots"}),
        );
        let created = SyncResult {
            id: Some(json!(50)),
            status: Some("created".into()),
            ..SyncResult::default()
        };
        assert_eq!(
            outcome(SyncKind::ByKey, &r, &created),
            WriteOutcome::Created { id: "50".into() }
        );
        let skipped = SyncResult {
            status: Some("skipped".into()),
            reasons: vec![ApiError {
                code: "1001".into(),
                message: "Invalid value 'lots'. Required of type 'integer'".into(),
            }],
            ..SyncResult::default()
        };
        assert_eq!(
            outcome(SyncKind::ByKey, &r, &skipped),
            WriteOutcome::Rejected {
                message: "Invalid value 'lots'. Required of type 'integer'".into(),
                code: Some("1001".into()),
                fields: vec!["numberOfEmployees".into()],
            }
        );
        let gone = SyncResult {
            status: Some("skipped".into()),
            reasons: vec![ApiError {
                code: "1004".into(),
                message: "Lead not found".into(),
            }],
            ..SyncResult::default()
        };
        assert!(matches!(
            outcome(SyncKind::ById, &r, &gone),
            WriteOutcome::Deleted { .. }
        ));
        assert!(matches!(
            outcome(SyncKind::ByKey, &r, &gone),
            WriteOutcome::Rejected { .. }
        ));
    }
}
