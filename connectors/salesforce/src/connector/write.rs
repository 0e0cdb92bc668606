//! Batch writes: sObject Collections inside Composite calls, then the
//! stages Salesforce's per-record answers call for.

use serde_json::{json, Map, Value};

use leadbridge_core::{ConnectorError, ConnectorResult, WriteBatch, WriteOutcome, WriteRecord};

use super::{
    check_name, CollectionResult, SalesforceConnector, SubAnswer, Subrequest, COLLECTION_MAX,
    COMPOSITE_MAX_HEAVY,
};

impl SalesforceConnector {
    /// sObject Collections of 200 records, `allOrNone=false`, sent as
    /// subrequests of Composite calls (`POST /composite`, one API call for
    /// up to five collections: 1,000 records):
    ///
    /// - when the batch's `key_field` is an External ID field (per the
    ///   object's describe), records with a key are upserted by it
    ///   (`PATCH /composite/sobjects/{object}/{key_field}`): idempotent, a
    ///   retry never creates a duplicate;
    /// - records with an id are updated (`PATCH /composite/sobjects`);
    /// - otherwise records with only a key are created
    ///   (`POST /composite/sobjects`). Salesforce cannot upsert on a field
    ///   that is not an External ID (such as `Email`), so for such keys the
    ///   engine must look the key up first and pass the id of a match:
    ///   creating by a non-unique key is not idempotent.
    ///
    /// Every batch goes through Composite, even one that fits a single
    /// collection: the call count is the same (one), and a collection
    /// refused as a whole then means the same thing whatever the batch's
    /// size: its records are rejected with the vendor's reason, while a
    /// subrequest failing on authorization, quota or configuration fails
    /// the write as the same status on a direct call would.
    /// Subrequests run in order (upserts, updates, creates) and
    /// independently (`allOrNone=false` at both levels), as the separate
    /// calls did.
    ///
    /// Retries keep the old safety rules. A composite that failed as a
    /// whole (timeout, dropped connection, 5xx or 429 on the call itself)
    /// is sent again like any call, as a failed collection call was:
    /// upserts by External ID and updates by id are idempotent, while a
    /// create by a plain key that may have been applied is guarded by the
    /// engine (look-up before create, intents replayed by look-up). What
    /// composite adds is that one subrequest can fail while its neighbours
    /// are applied: then only the subrequests that failed passingly are
    /// sent again, so an applied create is never repeated because a
    /// neighbour failed.
    ///
    /// What the per-record answers ask for comes after the first send
    /// (each stage in its own module): transient failures are sent again
    /// in smaller collections (`transient.rs`), creates an alert-only
    /// duplicate rule refused become updates of the matched record
    /// (`duplicates.rs`), and writes that hit a converted, merged or
    /// deleted record say so (`replaced.rs`).
    ///
    /// Outcomes come back in input order; a record with neither id nor key
    /// is rejected without a call.
    pub(super) async fn write_batch(
        &self,
        batch: &WriteBatch,
    ) -> ConnectorResult<Vec<WriteOutcome>> {
        check_name(&batch.object)?;
        if batch.records.is_empty() {
            return Ok(Vec::new());
        }
        let key_field = batch.key_field.as_deref();
        if let Some(k) = key_field {
            check_name(k)?;
        }
        let key_is_external = match key_field {
            Some(k)
                if batch
                    .records
                    .iter()
                    .any(|r| r.id.is_none() && r.key.is_some()) =>
            {
                self.described(&batch.object)
                    .await?
                    .external_ids
                    .contains(&k.to_ascii_lowercase())
            }
            _ => false,
        };
        let mut outcomes: Vec<Option<WriteOutcome>> = vec![None; batch.records.len()];
        let mut items = Vec::with_capacity(batch.records.len());
        for (i, r) in batch.records.iter().enumerate() {
            if r.id.is_some() {
                items.push((i, Route::Update));
            } else if r.key.is_some() && key_field.is_some() && key_is_external {
                items.push((i, Route::Upsert));
            } else {
                // A key on a field that is no External ID (email) is set on
                // the new record; no key at all is a plain create.
                items.push((i, Route::Create));
            }
        }
        let headers = self.write_headers();
        for (i, outcome) in self
            .send_collections(batch, &items, COLLECTION_MAX, &headers)
            .await?
        {
            outcomes[i] = Some(outcome);
        }
        self.retry_transient(batch, &items, &mut outcomes, &headers)
            .await?;
        self.follow_duplicates(batch, &items, &mut outcomes).await?;
        self.follow_replaced(batch, &mut outcomes).await?;
        outcomes
            .into_iter()
            .map(|o| o.ok_or_else(|| ConnectorError::fatal("a record got no outcome")))
            .collect()
    }

    /// Sends the records `items` names (input index, route) as
    /// collections of at most `chunk` records with `headers`, upserts then
    /// updates then creates, five collections to a Composite call; the
    /// outcome of each.
    pub(super) async fn send_collections(
        &self,
        batch: &WriteBatch,
        items: &[(usize, Route)],
        chunk: usize,
        headers: &[(&'static str, String)],
    ) -> ConnectorResult<Vec<(usize, WriteOutcome)>> {
        let key_field = batch.key_field.as_deref();
        let data = self.config.data_path();
        let mut subrequests = Vec::new();
        let mut carried: Vec<(Vec<usize>, Route)> = Vec::new();
        for route in [Route::Upsert, Route::Update, Route::Create] {
            let indices: Vec<usize> = items
                .iter()
                .filter(|(_, r)| *r == route)
                .map(|(i, _)| *i)
                .collect();
            let (method, url) = match route {
                Route::Upsert => (
                    "PATCH",
                    format!(
                        "{data}/composite/sobjects/{}/{}",
                        batch.object,
                        key_field.unwrap_or_default()
                    ),
                ),
                Route::Update => ("PATCH", format!("{data}/composite/sobjects")),
                Route::Create => ("POST", format!("{data}/composite/sobjects")),
            };
            for part in indices.chunks(chunk.max(1)) {
                let records: Vec<Value> = part
                    .iter()
                    .map(|&i| {
                        collection_record(&batch.object, &batch.records[i], key_field, &route)
                    })
                    .collect();
                subrequests.push(Subrequest {
                    method,
                    url: url.clone(),
                    body: Some(json!({ "allOrNone": false, "records": records })),
                    headers: headers.to_vec(),
                });
                carried.push((part.to_vec(), route));
            }
        }
        let mut out = Vec::with_capacity(items.len());
        for (subs, carried) in subrequests
            .chunks(COMPOSITE_MAX_HEAVY)
            .zip(carried.chunks(COMPOSITE_MAX_HEAVY))
        {
            let answers = self.composite(subs).await?;
            for (answer, (indices, route)) in answers.into_iter().zip(carried) {
                let results = collection_outcomes(answer, indices.len(), *route)?;
                out.extend(indices.iter().copied().zip(results));
            }
        }
        Ok(out)
    }

    /// Headers every write subrequest carries: with
    /// `duplicate_rule_allow_save`, `Sforce-Duplicate-Rule-Header:
    /// allowSave=true` (R2.2), so alert-only duplicate rules let the save
    /// through.
    pub(super) fn write_headers(&self) -> Vec<(&'static str, String)> {
        if self.config.duplicate_rule_allow_save {
            vec![(DUPLICATE_RULE_HEADER, "allowSave=true".to_owned())]
        } else {
            Vec::new()
        }
    }
}

/// The REST header of duplicate-rule options (API 52.0 and later).
pub(super) const DUPLICATE_RULE_HEADER: &str = "Sforce-Duplicate-Rule-Header";

/// Which collection each input record goes through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Route {
    Upsert,
    Update,
    Create,
}

/// The body of one record in a collection call: its fields, the object's
/// type, and the id (updates) or key (upserts, creates).
pub(super) fn collection_record(
    object: &str,
    record: &WriteRecord,
    key_field: Option<&str>,
    route: &Route,
) -> Value {
    let mut body = Map::new();
    body.insert("attributes".into(), json!({ "type": object }));
    for (k, v) in &record.fields {
        // The id travels as `id` (updates) or not at all (upserts/creates refuse it).
        if !k.eq_ignore_ascii_case("Id") {
            body.insert(k.clone(), v.clone());
        }
    }
    match route {
        Route::Update => {
            if let Some(id) = &record.id {
                body.insert("id".into(), Value::String(id.clone()));
            }
        }
        Route::Upsert | Route::Create => {
            if let (Some(field), Some(key)) = (key_field, &record.key) {
                body.retain(|k, _| !k.eq_ignore_ascii_case(field));
                body.insert(field.to_owned(), Value::String(key.clone()));
            }
        }
    }
    Value::Object(body)
}

/// Per-record outcomes of one sObject Collections subrequest of `expected`
/// records. A collection refused as a whole refuses each of its records
/// with the vendor's message, code and fields (they go to the dead letter
/// queue); the other subrequests of the call stand.
pub(super) fn collection_outcomes(
    answer: SubAnswer,
    expected: usize,
    route: Route,
) -> ConnectorResult<Vec<WriteOutcome>> {
    match answer {
        SubAnswer::Done(body) => {
            let results: Vec<CollectionResult> = serde_json::from_value(body).map_err(|e| {
                ConnectorError::fatal(format!(
                    "sObject Collections answered an unexpected body: {e}"
                ))
            })?;
            if results.len() != expected {
                return Err(ConnectorError::fatal(format!(
                    "sObject Collections answered {} results for {expected} records",
                    results.len()
                )));
            }
            Ok(results
                .into_iter()
                .map(|r| {
                    r.outcome(
                        matches!(route, Route::Upsert),
                        matches!(route, Route::Create),
                    )
                })
                .collect())
        }
        SubAnswer::Refused {
            message,
            code,
            errors,
            ..
        } => {
            let outcome = if errors.is_empty() {
                WriteOutcome::Rejected {
                    message,
                    code,
                    fields: Vec::new(),
                }
            } else {
                CollectionResult {
                    id: None,
                    success: false,
                    errors,
                    created: None,
                }
                .outcome(false, false)
            };
            Ok(vec![outcome; expected])
        }
    }
}
