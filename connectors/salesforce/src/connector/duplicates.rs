//! Creates that a duplicate rule refused (R2.2). In sObject Collections
//! the refusal is only `{"statusCode":"DUPLICATES_DETECTED", …}`, without
//! the matched records, so each such record is sent again on its own (one
//! subrequest each, 25 to a Composite call), whose 400 answer carries
//! `duplicateResut` (Salesforce's spelling; `duplicateResult` is read too)
//! with the rule, whether `allowSave` could save it, and the matches'
//! ids. Then:
//!
//! - an Allow + Alert rule (`allowSave: true`) says the record already
//!   exists: the matched record is updated with the record's fields (with
//!   `allowSave=true`, so the alert does not refuse that update either)
//!   and the outcome is `Updated` with the matched id, as a look-up before
//!   the create would have done;
//! - a Block rule (`allowSave: false`) stays `Rejected`, naming the rule.
//!
//! With `SalesforceConfig::duplicate_rule_allow_save` the writes carry
//! `allowSave=true` already, so only Block rules get here.

use leadbridge_core::{ConnectorResult, WriteBatch, WriteOutcome, WriteRecord};
use serde_json::{Map, Value};

use super::write::{collection_record, Route, DUPLICATE_RULE_HEADER};
use super::{CollectionResult, SalesforceConnector, SubAnswer, Subrequest, COLLECTION_MAX};

/// Salesforce's code for a save a duplicate rule refused.
pub(super) const DUPLICATES: &str = "DUPLICATES_DETECTED";
/// Composite's limit on subrequests per call.
const COMPOSITE_MAX: usize = 25;

/// What a single save's `DUPLICATES_DETECTED` error says.
#[derive(Debug, Clone, PartialEq, Default)]
pub(super) struct DuplicateError {
    /// The alert text (`message`).
    pub message: String,
    /// The rule's developer name.
    pub rule: String,
    /// Whether `allowSave=true` would save it (false for Block rules).
    pub allow_save: bool,
    /// The matched records: object (when said) and id.
    pub matches: Vec<(Option<String>, String)>,
}

/// Reads the first `DUPLICATES_DETECTED` error of a single save's error
/// array, from `duplicateResut` or `duplicateResult`.
pub(super) fn read_duplicate(body: &Value) -> Option<DuplicateError> {
    let error = body.as_array()?.iter().find(|e| {
        e.get("errorCode").or_else(|| e.get("statusCode")) == Some(&Value::from(DUPLICATES))
    })?;
    let result = error
        .get("duplicateResut")
        .or_else(|| error.get("duplicateResult"))?;
    let text = |v: Option<&Value>| v.and_then(Value::as_str).unwrap_or("").to_owned();
    let mut matches = Vec::new();
    for m in result
        .get("matchResults")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let entity = m.get("entityType").and_then(Value::as_str);
        for r in m
            .get("matchRecords")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let record = r.get("record");
            let Some(id) = record
                .and_then(|r| r.get("Id").or_else(|| r.get("id")))
                .and_then(Value::as_str)
            else {
                continue;
            };
            let kind = record
                .and_then(|r| r.pointer("/attributes/type"))
                .and_then(Value::as_str)
                .or(entity)
                .map(str::to_owned);
            matches.push((kind, id.to_owned()));
        }
    }
    Some(DuplicateError {
        message: text(error.get("message")),
        rule: text(result.get("duplicateRule")),
        allow_save: result.get("allowSave").and_then(Value::as_bool) == Some(true),
        matches,
    })
}

/// A path segment with everything but unreserved characters percent-encoded.
fn path_segment(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A [`WriteOutcome::Rejected`] naming the rule.
fn blocked(d: &DuplicateError) -> WriteOutcome {
    WriteOutcome::Rejected {
        message: format!("{} (duplicate rule {})", d.message, d.rule),
        code: Some(DUPLICATES.into()),
        fields: Vec::new(),
    }
}

impl SalesforceConnector {
    /// See the module docs.
    pub(super) async fn follow_duplicates(
        &self,
        batch: &WriteBatch,
        items: &[(usize, Route)],
        outcomes: &mut [Option<WriteOutcome>],
    ) -> ConnectorResult<()> {
        let refused: Vec<(usize, Route)> = items
            .iter()
            .copied()
            .filter(|(i, route)| {
                matches!(route, Route::Create | Route::Upsert)
                    && matches!(&outcomes[*i], Some(WriteOutcome::Rejected { code: Some(c), .. }) if c == DUPLICATES)
            })
            .collect();
        if refused.is_empty() {
            return Ok(());
        }
        let key_field = batch.key_field.as_deref();
        let data = self.config.data_path();
        let headers = self.write_headers();
        let subrequests: Vec<Subrequest> = refused
            .iter()
            .map(|&(i, route)| {
                let record = &batch.records[i];
                let mut body = match collection_record(&batch.object, record, key_field, &route) {
                    Value::Object(m) => m,
                    _ => Map::new(),
                };
                body.remove("attributes");
                let (method, url) = match (route, key_field, &record.key) {
                    (Route::Upsert, Some(field), Some(key)) => {
                        body.retain(|k, _| !k.eq_ignore_ascii_case(field));
                        (
                            "PATCH",
                            format!(
                                "{data}/sobjects/{}/{field}/{}",
                                batch.object,
                                path_segment(key)
                            ),
                        )
                    }
                    _ => ("POST", format!("{data}/sobjects/{}", batch.object)),
                };
                Subrequest {
                    method,
                    url,
                    body: Some(Value::Object(body)),
                    headers: headers.clone(),
                }
            })
            .collect();
        let mut answers = Vec::with_capacity(subrequests.len());
        for group in subrequests.chunks(COMPOSITE_MAX) {
            answers.extend(self.composite(group).await?);
        }
        // (input index, matched id) of the records an alert rule matched.
        let mut updates: Vec<(usize, String)> = Vec::new();
        for (&(i, route), answer) in refused.iter().zip(answers) {
            outcomes[i] = Some(match answer {
                SubAnswer::Done(body) => match serde_json::from_value::<CollectionResult>(body) {
                    Ok(r) => r.outcome(route == Route::Upsert, route == Route::Create),
                    Err(e) => WriteOutcome::Rejected {
                        message: format!("Salesforce answered a save with an unexpected body: {e}"),
                        code: None,
                        fields: Vec::new(),
                    },
                },
                SubAnswer::Refused {
                    message,
                    code,
                    errors,
                    body,
                } => match read_duplicate(&body) {
                    Some(d) if d.allow_save => {
                        let same_object = d.matches.iter().find(|(kind, _)| {
                            kind.as_deref()
                                .is_none_or(|k| k.eq_ignore_ascii_case(&batch.object))
                        });
                        match same_object {
                            Some((_, id)) => {
                                updates.push((i, id.clone()));
                                continue;
                            }
                            None => blocked(&d),
                        }
                    }
                    Some(d) => blocked(&d),
                    None => CollectionResult {
                        id: None,
                        success: false,
                        errors: if errors.is_empty() {
                            vec![crate::classify::SfError {
                                message,
                                error_code: code,
                                fields: Vec::new(),
                            }]
                        } else {
                            errors
                        },
                        created: None,
                    }
                    .outcome(false, false),
                },
            });
        }
        if updates.is_empty() {
            return Ok(());
        }
        // The matched records take the record's fields; an upsert's
        // External ID stays theirs (the engine links to the match by id).
        let matched = WriteBatch {
            object: batch.object.clone(),
            key_field: None,
            records: updates
                .iter()
                .map(|(i, id)| {
                    let record = &batch.records[*i];
                    let mut fields = record.fields.clone();
                    fields.retain(|k, _| !k.eq_ignore_ascii_case("Id"));
                    if let (Some(field), Some(key)) = (key_field, &record.key) {
                        fields.retain(|k, _| !k.eq_ignore_ascii_case(field));
                        let plain_key = items
                            .iter()
                            .any(|(j, route)| j == i && *route == Route::Create);
                        if plain_key {
                            fields.insert(field.to_owned(), Value::String(key.clone()));
                        }
                    }
                    WriteRecord {
                        id: Some(id.clone()),
                        key: None,
                        fields,
                    }
                })
                .collect(),
        };
        let routes: Vec<(usize, Route)> = (0..updates.len()).map(|j| (j, Route::Update)).collect();
        let allow = [(DUPLICATE_RULE_HEADER, "allowSave=true".to_owned())];
        for (j, outcome) in self
            .send_collections(&matched, &routes, COLLECTION_MAX, &allow)
            .await?
        {
            outcomes[updates[j].0] = Some(outcome);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn both_spellings_are_read() {
        let result = json!({
            "allowSave": true,
            "duplicateRule": "Standard_Contact_Duplicate_Rule",
            "duplicateRuleEntityType": "Contact",
            "matchResults": [{"entityType": "Contact", "matchRecords": [
                {"record": {"attributes": {"type": "Contact"}, "Id": "003A"}},
                {"record": {"Id": "003B"}}
            ]}]
        });
        for key in ["duplicateResut", "duplicateResult"] {
            let body = json!([{"errorCode": "DUPLICATES_DETECTED", "message": "Use one of these records?", key: result}]);
            let d = read_duplicate(&body).unwrap();
            assert_eq!(d.rule, "Standard_Contact_Duplicate_Rule");
            assert!(d.allow_save);
            assert_eq!(d.message, "Use one of these records?");
            assert_eq!(
                d.matches,
                vec![
                    (Some("Contact".into()), "003A".into()),
                    (Some("Contact".into()), "003B".into())
                ]
            );
        }
        assert_eq!(
            read_duplicate(&json!([{"errorCode": "DUPLICATES_DETECTED"}])),
            None
        );
        assert_eq!(path_segment("a b@c/d"), "a%20b%40c%2Fd");
    }
}
