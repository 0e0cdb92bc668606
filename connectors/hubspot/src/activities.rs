//! Notes and tasks: one created with `POST /crm/v3/objects/{notes|tasks}`,
//! many with `POST /crm/v3/objects/{notes|tasks}/batch/create`, 100 a call,
//! each input associated inline with its record and traced by its index
//! (`objectWriteTraceId`), so HubSpot answers per activity (207) and one
//! refused activity never fails the others.

use jiff::Timestamp;
use leadbridge_core::{
    Activity, ActivityKind, ActivityOutcome, Connector, ConnectorError, ConnectorResult,
};
use serde_json::{json, Value};

use crate::connector::{HubSpotConnector, BATCH_LIMIT};
use crate::time::iso_ms;
use crate::wire::BatchResponse;

/// The association type of an activity to its parent, per HubSpot's
/// HUBSPOT_DEFINED table (note→contact 202, task→contact 204, …).
fn association(kind: ActivityKind, parent: &str) -> Option<u32> {
    let parent = match parent {
        "contacts" | "contact" | "0-1" => "contacts",
        "companies" | "company" | "0-2" => "companies",
        "deals" | "deal" | "0-3" => "deals",
        other => other,
    };
    Some(match (kind, parent) {
        (ActivityKind::Note, "contacts") => 202,
        (ActivityKind::Task, "contacts") => 204,
        (ActivityKind::Note, "companies") => 190,
        (ActivityKind::Task, "companies") => 192,
        (ActivityKind::Note, "deals") => 214,
        (ActivityKind::Task, "deals") => 216,
        _ => return None,
    })
}

/// The object (`notes`/`tasks`) and the create input of one activity,
/// traced by `trace` in a batch.
pub(crate) fn input(
    activity: &Activity,
    trace: Option<usize>,
) -> ConnectorResult<(&'static str, Value)> {
    let type_id = association(activity.kind, &activity.parent_object).ok_or_else(|| {
        ConnectorError::fatal(format!(
            "HubSpot activities cannot be associated with {}",
            activity.parent_object
        ))
    })?;
    let (object, properties) = match activity.kind {
        ActivityKind::Note => {
            let body = if activity.subject.is_empty() {
                activity.body.clone()
            } else {
                format!("{}\n\n{}", activity.subject, activity.body)
            };
            (
                "notes",
                json!({
                    "hs_note_body": body,
                    "hs_timestamp": iso_ms(Timestamp::now().as_millisecond()),
                }),
            )
        }
        ActivityKind::Task => {
            let due = activity.due.unwrap_or_else(Timestamp::now);
            let mut props = json!({
                "hs_task_subject": activity.subject,
                "hs_task_body": activity.body,
                "hs_task_status": "NOT_STARTED",
                "hs_timestamp": iso_ms(due.as_millisecond()),
            });
            if let Some(owner) = &activity.owner {
                props["hubspot_owner_id"] = json!(owner);
            }
            ("tasks", props)
        }
    };
    let mut body = json!({
        "properties": properties,
        "associations": [{
            "to": {"id": activity.parent_id},
            "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": type_id}],
        }],
    });
    if let Some(trace) = trace {
        body["objectWriteTraceId"] = json!(trace.to_string());
    }
    Ok((object, body))
}

impl HubSpotConnector {
    /// Creates activities through `batch/create`, notes and tasks apart,
    /// 100 a call; one outcome per activity in input order. A chunk HubSpot
    /// refuses as a whole is sent again one by one, so each activity gets
    /// its own answer.
    pub(crate) async fn create_activities_batched(
        &self,
        activities: &[Activity],
    ) -> ConnectorResult<Vec<ActivityOutcome>> {
        let mut outcomes: Vec<Option<ActivityOutcome>> = vec![None; activities.len()];
        let mut by_object: [(&str, Vec<(usize, Value)>); 2] =
            [("notes", Vec::new()), ("tasks", Vec::new())];
        for (idx, activity) in activities.iter().enumerate() {
            let (object, body) = input(activity, Some(idx))?;
            let group = if object == "notes" { 0 } else { 1 };
            by_object[group].1.push((idx, body));
        }
        for (object, inputs) in by_object {
            for chunk in inputs.chunks(BATCH_LIMIT) {
                let path = format!("/crm/v3/objects/{object}/batch/create");
                let body = json!({ "inputs": chunk.iter().map(|(_, b)| b).collect::<Vec<_>>() });
                let response: BatchResponse = match self.post(&path, &body, None).await {
                    Ok(r) => r,
                    Err(ConnectorError::Rejected { .. }) if chunk.len() > 1 => {
                        for (idx, _) in chunk {
                            outcomes[*idx] =
                                Some(match self.create_activity(&activities[*idx]).await {
                                    Ok(id) => ActivityOutcome::Created { id },
                                    Err(ConnectorError::Rejected { message, code }) => {
                                        ActivityOutcome::Rejected { message, code }
                                    }
                                    Err(e) => return Err(e),
                                });
                        }
                        continue;
                    }
                    Err(ConnectorError::Rejected { message, code }) => {
                        outcomes[chunk[0].0] = Some(ActivityOutcome::Rejected { message, code });
                        continue;
                    }
                    Err(e) => return Err(e),
                };
                let trace = |t: Option<&str>| t.and_then(|t| t.parse::<usize>().ok());
                for created in response.results {
                    if let Some(idx) = trace(created.object_write_trace_id.as_deref()) {
                        if idx < outcomes.len() {
                            outcomes[idx] = Some(ActivityOutcome::Created { id: created.id });
                        }
                    }
                }
                for error in response.errors {
                    for t in error.context_values("objectWriteTraceId") {
                        if let Some(idx) = trace(Some(&t)).filter(|i| *i < outcomes.len()) {
                            outcomes[idx] = Some(ActivityOutcome::Rejected {
                                message: error.message.clone().unwrap_or_default(),
                                code: error.category.clone(),
                            });
                        }
                    }
                }
            }
        }
        Ok(outcomes
            .into_iter()
            .map(|o| {
                o.unwrap_or_else(|| ActivityOutcome::Rejected {
                    message: "HubSpot returned neither a result nor an error for this activity"
                        .into(),
                    code: None,
                })
            })
            .collect())
    }
}
