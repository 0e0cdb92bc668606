//! Writes that found their target replaced or gone: a converted lead
//! (R2.1: `CANNOT_UPDATE_CONVERTED_LEAD`, permanent for the lead's id), a
//! merged-away or deleted record (R2.3: `ENTITY_IS_DELETED`). Retrying the
//! same id never works, so these are not dead letters but pointers: the
//! converted lead's contact, the merge's winner, or "deleted".

use std::collections::HashMap;

use leadbridge_core::{ConnectorResult, Successor, SuccessorReason, WriteBatch, WriteOutcome};
use serde_json::{Map, Value};

use super::{get_ci, lookup_chunks, select_list, SalesforceConnector};

/// Salesforce's refusal of a converted lead (R2.1).
pub(super) const CONVERTED: &str = "CANNOT_UPDATE_CONVERTED_LEAD";
/// Salesforce's refusal of a record in the recycle bin (R2.3).
pub(super) const DELETED: &str = "ENTITY_IS_DELETED";

/// The 15-character, case-sensitive form of an id: 15- and 18-character
/// ids of one record compare equal by it.
pub(super) fn id15(id: &str) -> &str {
    id.get(..15).unwrap_or(id)
}

/// Objects whose records can be merged away, and so carry `MasterRecordId`
/// (`merge()` takes Lead, Contact and Account, R2.3; Case has it too).
pub(super) fn mergeable(object: &str) -> bool {
    ["Lead", "Contact", "Account", "Case"]
        .iter()
        .any(|o| o.eq_ignore_ascii_case(object))
}

/// Where a converted lead went (its `Converted*Id` fields).
#[derive(Debug, Clone)]
pub(super) struct ConvertedTo {
    pub contact: String,
    pub account: Option<String>,
    pub opportunity: Option<String>,
}

fn text(rec: &Map<String, Value>, field: &str) -> Option<String> {
    get_ci(rec, field)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

fn code(outcome: &Option<WriteOutcome>) -> Option<&str> {
    match outcome {
        Some(WriteOutcome::Rejected { code: Some(c), .. }) => Some(c.as_str()),
        _ => None,
    }
}

impl SalesforceConnector {
    /// Every record of `soql` (`all`: through `queryAll`), all pages.
    pub(super) async fn query_records(
        &self,
        soql: &str,
        all: bool,
    ) -> ConnectorResult<Vec<Map<String, Value>>> {
        let mut response = self.query(soql, all).await?;
        let mut out = Vec::new();
        loop {
            out.append(&mut response.records);
            match (response.done, response.next_records_url.take()) {
                (false, Some(next)) => response = self.query_more(&next).await?,
                _ => return Ok(out),
            }
        }
    }

    /// The converted leads among `values` of `field` (`Id` or a key
    /// field), by the value as given (ids by their 15-character form, keys
    /// lower-cased): one query per URL-sized chunk.
    pub(super) async fn converted_leads(
        &self,
        field: &str,
        values: &[String],
    ) -> ConnectorResult<HashMap<String, ConvertedTo>> {
        let mut out = HashMap::new();
        let select = select_list(
            &[field.to_owned()],
            &[
                "Id",
                "IsConverted",
                "ConvertedContactId",
                "ConvertedAccountId",
                "ConvertedOpportunityId",
            ],
        )?;
        for chunk in lookup_chunks(values) {
            let soql = format!(
                "SELECT {select} FROM Lead WHERE {field} IN ({})",
                chunk.join(", ")
            );
            for rec in self.query_records(&soql, false).await? {
                let converted = get_ci(&rec, "IsConverted").and_then(Value::as_bool) == Some(true);
                let (Some(value), Some(contact), true) = (
                    text(&rec, field),
                    text(&rec, "ConvertedContactId"),
                    converted,
                ) else {
                    continue;
                };
                let key = if field.eq_ignore_ascii_case("Id") {
                    id15(&value).to_owned()
                } else {
                    value.to_lowercase()
                };
                out.insert(
                    key,
                    ConvertedTo {
                        contact,
                        account: text(&rec, "ConvertedAccountId"),
                        opportunity: text(&rec, "ConvertedOpportunityId"),
                    },
                );
            }
        }
        Ok(out)
    }

    /// Rejections that name a replaced or deleted target become
    /// [`WriteOutcome::Superseded`] or [`WriteOutcome::Deleted`]:
    ///
    /// - `CANNOT_UPDATE_CONVERTED_LEAD` on a Lead: the lead's
    ///   `ConvertedContactId` is read (by id, or by the upsert key) and the
    ///   outcome is superseded by that Contact (reason `Converted`);
    /// - `ENTITY_IS_DELETED`: the record is read through `queryAll`; with a
    ///   `MasterRecordId` it was merged away and the winner supersedes it
    ///   (reason `Merged`), else it is `Deleted`.
    ///
    /// A record whose successor cannot be read stays rejected.
    pub(super) async fn follow_replaced(
        &self,
        batch: &WriteBatch,
        outcomes: &mut [Option<WriteOutcome>],
    ) -> ConnectorResult<()> {
        let converted: Vec<usize> = (0..outcomes.len())
            .filter(|&i| code(&outcomes[i]) == Some(CONVERTED))
            .collect();
        if !converted.is_empty() && batch.object.eq_ignore_ascii_case("Lead") {
            let ids: Vec<String> = converted
                .iter()
                .filter_map(|&i| batch.records[i].id.clone())
                .collect();
            let keys: Vec<String> = converted
                .iter()
                .filter(|&&i| batch.records[i].id.is_none())
                .filter_map(|&i| batch.records[i].key.clone())
                .collect();
            let by_id = if ids.is_empty() {
                HashMap::new()
            } else {
                self.converted_leads("Id", &ids).await?
            };
            let by_key = match (&batch.key_field, keys.is_empty()) {
                (Some(field), false) => self.converted_leads(field, &keys).await?,
                _ => HashMap::new(),
            };
            for i in converted {
                let record = &batch.records[i];
                let to = match (&record.id, &record.key) {
                    (Some(id), _) => by_id.get(id15(id)),
                    (None, Some(key)) => by_key.get(&key.to_lowercase()),
                    (None, None) => None,
                };
                if let Some(to) = to {
                    outcomes[i] = Some(WriteOutcome::Superseded {
                        successor: Successor {
                            object: "Contact".into(),
                            id: to.contact.clone(),
                            reason: SuccessorReason::Converted,
                        },
                    });
                }
            }
        }
        self.follow_deleted(batch, outcomes).await
    }

    /// The `ENTITY_IS_DELETED` half of [`Self::follow_replaced`].
    async fn follow_deleted(
        &self,
        batch: &WriteBatch,
        outcomes: &mut [Option<WriteOutcome>],
    ) -> ConnectorResult<()> {
        let deleted: Vec<usize> = (0..outcomes.len())
            .filter(|&i| code(&outcomes[i]) == Some(DELETED) && batch.records[i].id.is_some())
            .collect();
        if deleted.is_empty() {
            return Ok(());
        }
        let ids: Vec<String> = deleted
            .iter()
            .filter_map(|&i| batch.records[i].id.clone())
            .collect();
        let select = if mergeable(&batch.object) {
            "Id, IsDeleted, MasterRecordId"
        } else {
            "Id, IsDeleted"
        };
        let mut masters: HashMap<String, Option<String>> = HashMap::new();
        for chunk in lookup_chunks(&ids) {
            let soql = format!(
                "SELECT {select} FROM {} WHERE Id IN ({})",
                batch.object,
                chunk.join(", ")
            );
            for rec in self.query_records(&soql, true).await? {
                if let Some(id) = text(&rec, "Id") {
                    masters.insert(id15(&id).to_owned(), text(&rec, "MasterRecordId"));
                }
            }
        }
        for i in deleted {
            let Some(id) = batch.records[i].id.as_deref() else {
                continue;
            };
            let message = match &outcomes[i] {
                Some(WriteOutcome::Rejected { message, .. }) => message.clone(),
                _ => continue,
            };
            outcomes[i] = Some(match masters.get(id15(id)) {
                Some(Some(master)) => WriteOutcome::Superseded {
                    successor: Successor {
                        object: batch.object.clone(),
                        id: master.clone(),
                        reason: SuccessorReason::Merged,
                    },
                },
                _ => WriteOutcome::Deleted { message },
            });
        }
        Ok(())
    }
}
