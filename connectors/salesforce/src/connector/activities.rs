//! Notes and tasks as Salesforce Tasks, redirected to the contact when
//! their lead was converted (R2.1: a Task whose `WhoId` is a converted lead
//! is refused with `CANNOT_UPDATE_CONVERTED_LEAD`; sales works the
//! contact now, so the task goes there, about the opportunity or account).

use jiff::tz::TimeZone;
use leadbridge_core::{
    Activity, ActivityKind, ActivityOutcome, ConnectorError, ConnectorResult, WriteOutcome,
};
use serde_json::{json, Map, Value};
use tracing::debug;

use super::replaced::{id15, ConvertedTo, CONVERTED};
use super::transient::is_transient;
use super::{
    CollectionResult, SalesforceConnector, SubAnswer, Subrequest, COLLECTION_MAX,
    COMPOSITE_MAX_HEAVY,
};

/// One activity's outcome from its collection result.
fn activity_outcome(result: CollectionResult) -> ActivityOutcome {
    match result.outcome(false, true) {
        WriteOutcome::Created { id } | WriteOutcome::Updated { id } => {
            ActivityOutcome::Created { id }
        }
        WriteOutcome::Rejected { message, code, .. } => ActivityOutcome::Rejected { message, code },
        WriteOutcome::Superseded { successor } => ActivityOutcome::Rejected {
            message: format!(
                "the task's record was replaced by {} {}",
                successor.object, successor.id
            ),
            code: None,
        },
        WriteOutcome::Deleted { message } => ActivityOutcome::Rejected {
            message,
            code: None,
        },
    }
}

fn rejected_with(outcome: &Option<ActivityOutcome>) -> Option<(Option<&str>, &str)> {
    match outcome {
        Some(ActivityOutcome::Rejected { message, code }) => Some((code.as_deref(), message)),
        _ => None,
    }
}

/// Whether the activity hangs off a lead (the only parent conversion moves).
pub(super) fn on_lead(activity: &Activity) -> bool {
    activity.parent_object.eq_ignore_ascii_case("Lead")
}

/// The Task for an activity: linked by `WhoId` to a Lead or Contact (other
/// objects by `WhatId`), completed for notes and open for tasks, due on
/// `due`'s UTC date.
pub(super) fn task_body(activity: &Activity) -> Map<String, Value> {
    let mut body = Map::new();
    let link = if on_lead(activity) || activity.parent_object.eq_ignore_ascii_case("Contact") {
        "WhoId"
    } else {
        "WhatId"
    };
    body.insert(link.into(), json!(activity.parent_id));
    // Subject is a 255-character field; cut on a character boundary.
    let subject: String = activity.subject.chars().take(255).collect();
    body.insert("Subject".into(), json!(subject));
    body.insert("Description".into(), json!(activity.body));
    let (status, priority) = match activity.kind {
        ActivityKind::Note => ("Completed", "Normal"),
        ActivityKind::Task => ("Not Started", "Normal"),
    };
    body.insert("Status".into(), json!(status));
    body.insert("Priority".into(), json!(priority));
    if let Some(owner) = &activity.owner {
        body.insert("OwnerId".into(), json!(owner));
    }
    if let Some(due) = activity.due {
        let date = due.to_zoned(TimeZone::UTC).date();
        body.insert("ActivityDate".into(), json!(date.to_string()));
    }
    body
}

/// Points a lead's task at where the lead went: `WhoId` = the contact,
/// `WhatId` = the opportunity, else the account (as Lead Convert moves
/// the lead's own tasks).
pub(super) fn redirect(body: &mut Map<String, Value>, to: &ConvertedTo) {
    body.insert("WhoId".into(), json!(to.contact));
    match to.opportunity.as_ref().or(to.account.as_ref()) {
        Some(what) => body.insert("WhatId".into(), json!(what)),
        None => body.remove("WhatId"),
    };
}

impl SalesforceConnector {
    async fn post_task(&self, body: &Map<String, Value>) -> ConnectorResult<String> {
        let url = format!("{}/sobjects/Task", self.config.data_url());
        let body = Value::Object(body.clone());
        let result: CollectionResult = self
            .client
            .execute(
                "create task",
                None,
                |http| http.post(&url).json(&body),
                |r| r.json::<CollectionResult>(),
            )
            .await?;
        match result.outcome(false, true) {
            WriteOutcome::Created { id } | WriteOutcome::Updated { id } => Ok(id),
            WriteOutcome::Rejected { message, code, .. } => {
                Err(ConnectorError::Rejected { message, code })
            }
            WriteOutcome::Superseded { successor } => Err(ConnectorError::rejected(format!(
                "the task's record was replaced by {} {}",
                successor.object, successor.id
            ))),
            WriteOutcome::Deleted { message } => Err(ConnectorError::rejected(message)),
        }
    }

    /// One Task (`POST /sobjects/Task`). Refused because its lead was
    /// converted, it is created once more on the converted contact (one
    /// query to read where the lead went, one more create).
    pub(super) async fn create_task(&self, activity: &Activity) -> ConnectorResult<String> {
        let mut body = task_body(activity);
        match self.post_task(&body).await {
            Err(ConnectorError::Rejected {
                code: Some(code), ..
            }) if code == CONVERTED && on_lead(activity) => {
                let converted = self
                    .converted_leads("Id", std::slice::from_ref(&activity.parent_id))
                    .await?;
                let Some(to) = converted.get(id15(&activity.parent_id)) else {
                    return Err(ConnectorError::Rejected {
                        message: format!(
                            "lead {} refuses activities as converted but names no contact",
                            activity.parent_id
                        ),
                        code: Some(code),
                    });
                };
                redirect(&mut body, to);
                self.post_task(&body).await
            }
            other => other,
        }
    }

    /// Many Tasks as sObject Collections of 200 (`POST
    /// /composite/sobjects`): one collection is one direct call, several
    /// go five to a Composite call. Then, as for record writes, tasks
    /// refused passingly (R2.3) are sent again in smaller collections
    /// within the retry policy, and tasks refused because their lead was
    /// converted (R2.1) are sent again on the converted contact, about the
    /// opportunity or account (one query for all their leads). One outcome
    /// per activity, in input order.
    pub(super) async fn create_tasks(
        &self,
        activities: &[Activity],
    ) -> ConnectorResult<Vec<ActivityOutcome>> {
        let mut bodies: Vec<Map<String, Value>> = activities.iter().map(task_body).collect();
        let mut outcomes: Vec<Option<ActivityOutcome>> = vec![None; activities.len()];
        let all: Vec<usize> = (0..activities.len()).collect();
        self.send_tasks(&bodies, &all, COLLECTION_MAX, &mut outcomes)
            .await?;
        self.retry_tasks(&bodies, &mut outcomes).await?;
        let converted: Vec<usize> = (0..activities.len())
            .filter(|&i| {
                on_lead(&activities[i])
                    && rejected_with(&outcomes[i]).is_some_and(|(c, _)| c == Some(CONVERTED))
            })
            .collect();
        if !converted.is_empty() {
            let leads: Vec<String> = converted
                .iter()
                .map(|&i| activities[i].parent_id.clone())
                .collect();
            let to = self.converted_leads("Id", &leads).await?;
            let redirected: Vec<usize> = converted
                .into_iter()
                .filter(|&i| match to.get(id15(&activities[i].parent_id)) {
                    Some(to) => {
                        redirect(&mut bodies[i], to);
                        true
                    }
                    None => false,
                })
                .collect();
            self.send_tasks(&bodies, &redirected, COLLECTION_MAX, &mut outcomes)
                .await?;
            self.retry_tasks(&bodies, &mut outcomes).await?;
        }
        outcomes
            .into_iter()
            .map(|o| o.ok_or_else(|| ConnectorError::fatal("an activity got no outcome")))
            .collect()
    }

    /// Sends again, in smaller collections after the retry policy's
    /// backoff, the tasks refused passingly.
    async fn retry_tasks(
        &self,
        bodies: &[Map<String, Value>],
        outcomes: &mut [Option<ActivityOutcome>],
    ) -> ConnectorResult<()> {
        let policy = &self.config.http.retry;
        let mut chunk = COLLECTION_MAX;
        for attempt in 1..policy.max_attempts.max(1) {
            let pending: Vec<usize> = (0..outcomes.len())
                .filter(|&i| rejected_with(&outcomes[i]).is_some_and(|(c, m)| is_transient(c, m)))
                .collect();
            if pending.is_empty() {
                break;
            }
            chunk = (chunk / 4).max(1);
            let delay = policy.delay(attempt, None);
            debug!(
                tasks = pending.len(),
                chunk,
                delay_ms = delay.as_millis() as u64,
                "tasks refused passingly; sending them again"
            );
            tokio::time::sleep(delay).await;
            self.send_tasks(bodies, &pending, chunk, outcomes).await?;
        }
        Ok(())
    }

    /// Creates the tasks `indices` names as collections of `chunk`.
    async fn send_tasks(
        &self,
        bodies: &[Map<String, Value>],
        indices: &[usize],
        chunk: usize,
        outcomes: &mut [Option<ActivityOutcome>],
    ) -> ConnectorResult<()> {
        if indices.is_empty() {
            return Ok(());
        }
        let collection = |part: &[usize]| {
            let records: Vec<Value> = part
                .iter()
                .map(|&i| {
                    let mut record = bodies[i].clone();
                    record.insert("attributes".into(), json!({ "type": "Task" }));
                    Value::Object(record)
                })
                .collect();
            json!({ "allOrNone": false, "records": records })
        };
        let parts: Vec<&[usize]> = indices.chunks(chunk.max(1)).collect();
        if let [only] = parts.as_slice() {
            let url = format!("{}/composite/sobjects", self.config.data_url());
            let body = collection(only);
            let answer = self
                .client
                .execute(
                    "create tasks",
                    None,
                    |http| http.post(&url).json(&body),
                    |r| r.json::<Vec<CollectionResult>>(),
                )
                .await;
            let results = match answer {
                Ok(results) if results.len() == only.len() => {
                    results.into_iter().map(activity_outcome).collect()
                }
                Ok(results) => {
                    return Err(ConnectorError::fatal(format!(
                        "sObject Collections answered {} results for {} tasks",
                        results.len(),
                        only.len()
                    )))
                }
                // Refused as a whole: each of its tasks, with the reason.
                Err(ConnectorError::Rejected { message, code }) => {
                    vec![ActivityOutcome::Rejected { message, code }; only.len()]
                }
                Err(e) => return Err(e),
            };
            for (&i, outcome) in only.iter().zip(results) {
                outcomes[i] = Some(outcome);
            }
            return Ok(());
        }
        let data = self.config.data_path();
        for group in parts.chunks(COMPOSITE_MAX_HEAVY) {
            let subrequests: Vec<Subrequest> = group
                .iter()
                .map(|part| Subrequest {
                    method: "POST",
                    url: format!("{data}/composite/sobjects"),
                    body: Some(collection(part)),
                    headers: Vec::new(),
                })
                .collect();
            for (part, answer) in group.iter().zip(self.composite(&subrequests).await?) {
                let results: Vec<ActivityOutcome> = match answer {
                    SubAnswer::Done(body) => {
                        let results: Vec<CollectionResult> =
                            serde_json::from_value(body).map_err(|e| {
                                ConnectorError::fatal(format!(
                                    "sObject Collections answered an unexpected body: {e}"
                                ))
                            })?;
                        if results.len() != part.len() {
                            return Err(ConnectorError::fatal(format!(
                                "sObject Collections answered {} results for {} tasks",
                                results.len(),
                                part.len()
                            )));
                        }
                        results.into_iter().map(activity_outcome).collect()
                    }
                    SubAnswer::Refused { message, code, .. } => {
                        vec![ActivityOutcome::Rejected { message, code }; part.len()]
                    }
                };
                for (&i, outcome) in part.iter().zip(results) {
                    outcomes[i] = Some(outcome);
                }
            }
        }
        Ok(())
    }
}
