//! Notes and tasks as Salesforce Tasks, redirected to the contact when
//! their lead was converted (R2.1: a Task whose `WhoId` is a converted lead
//! is refused with `CANNOT_UPDATE_CONVERTED_LEAD`; sales works the
//! contact now, so the task goes there, about the opportunity or account).

use jiff::tz::TimeZone;
use leadbridge_core::{Activity, ActivityKind, ConnectorError, ConnectorResult, WriteOutcome};
use serde_json::{json, Map, Value};

use super::replaced::{id15, ConvertedTo, CONVERTED};
use super::{CollectionResult, SalesforceConnector};

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
}
