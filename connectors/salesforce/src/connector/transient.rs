//! Per-record failures that pass (R2.3): a record lock held elsewhere
//! (`UNABLE_TO_LOCK_ROW`), or a trigger or flow that failed for a
//! load-dependent reason, which Salesforce wraps
//! (`CANNOT_INSERT_UPDATE_ACTIVATE_ENTITY`, `CANNOT_EXECUTE_FLOW_TRIGGER`)
//! with the cause only in the message. They are told apart by message
//! substring, as R2.3 says ("Classify by message substring, not by code
//! alone"); everything else a record is refused with is permanent.
//!
//! Records refused passingly are sent again, after the HTTP layer's
//! backoff, in collections a quarter the size of the last (200, 50, 12,
//! 3, 1): a 200-record save shares one transaction's CPU time, so a
//! smaller batch is what cures "Apex CPU time limit exceeded". After the
//! retry policy's attempts the record stays rejected with the last message.

use leadbridge_core::{ConnectorResult, WriteBatch, WriteOutcome};
use tracing::debug;

use super::write::Route;
use super::{SalesforceConnector, COLLECTION_MAX};

/// Inner causes that depend on load, not on the record: a lock, the CPU
/// time limit, a timeout.
const PASSING_CAUSES: &[&str] = &[
    "UNABLE_TO_LOCK_ROW",
    "unable to obtain exclusive access to this record",
    "Apex CPU time limit exceeded",
    "QUERY_TIMEOUT",
    "timed out",
];

/// Codes that are permanent whatever their message says (R2.3's list).
const PERMANENT: &[&str] = &[
    "ENTITY_IS_DELETED",
    "CANNOT_UPDATE_CONVERTED_LEAD",
    "DUPLICATES_DETECTED",
    "DUPLICATE_VALUE",
    "FIELD_CUSTOM_VALIDATION_EXCEPTION",
    "REQUIRED_FIELD_MISSING",
    "INVALID_FIELD",
    "INVALID_FIELD_FOR_INSERT_UPDATE",
    "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
    "INSUFFICIENT_ACCESS_OR_READONLY",
    "MALFORMED_ID",
    "NOT_FOUND",
];

/// Whether a record refused with `code` and `message` may save if sent again.
pub(super) fn is_transient(code: Option<&str>, message: &str) -> bool {
    if code.is_some_and(|c| PERMANENT.contains(&c)) {
        return false;
    }
    if code == Some("UNABLE_TO_LOCK_ROW") {
        return true;
    }
    PASSING_CAUSES.iter().any(|cause| message.contains(cause))
}

fn transient(outcome: &Option<WriteOutcome>) -> bool {
    matches!(outcome, Some(WriteOutcome::Rejected { code, message, .. }) if is_transient(code.as_deref(), message))
}

impl SalesforceConnector {
    /// Sends again, in smaller collections, the records of `items` whose
    /// outcome is a passing refusal (see the module docs).
    pub(super) async fn retry_transient(
        &self,
        batch: &WriteBatch,
        items: &[(usize, Route)],
        outcomes: &mut [Option<WriteOutcome>],
        headers: &[(&'static str, String)],
    ) -> ConnectorResult<()> {
        let policy = &self.config.http.retry;
        let mut chunk = COLLECTION_MAX;
        for attempt in 1..policy.max_attempts.max(1) {
            let pending: Vec<(usize, Route)> = items
                .iter()
                .copied()
                .filter(|(i, _)| transient(&outcomes[*i]))
                .collect();
            if pending.is_empty() {
                break;
            }
            chunk = (chunk / 4).max(1);
            let delay = policy.delay(attempt, None);
            debug!(
                object = %batch.object,
                records = pending.len(),
                chunk,
                delay_ms = delay.as_millis() as u64,
                "records refused passingly; sending them again in smaller collections"
            );
            tokio::time::sleep(delay).await;
            for (i, outcome) in self
                .send_collections(batch, &pending, chunk, headers)
                .await?
            {
                outcomes[i] = Some(outcome);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrappers_are_read_by_their_cause() {
        assert!(is_transient(
            Some("UNABLE_TO_LOCK_ROW"),
            "unable to obtain exclusive access to this record or 1 records: 001"
        ));
        assert!(is_transient(
            Some("CANNOT_INSERT_UPDATE_ACTIVATE_ENTITY"),
            "Task_Trigger: System.LimitException: Apex CPU time limit exceeded"
        ));
        assert!(is_transient(
            Some("CANNOT_EXECUTE_FLOW_TRIGGER"),
            "… the flow tried to update records: UNABLE_TO_LOCK_ROW: unable to obtain exclusive access …"
        ));
        assert!(!is_transient(
            Some("CANNOT_INSERT_UPDATE_ACTIVATE_ENTITY"),
            "Lead_Trigger: execution of BeforeInsert caused by: System.NullPointerException: Attempt to de-reference a null object"
        ));
        assert!(!is_transient(
            Some("REQUIRED_FIELD_MISSING"),
            "Required fields are missing: [LastName]"
        ));
        assert!(!is_transient(
            Some("FIELD_CUSTOM_VALIDATION_EXCEPTION"),
            "unable to obtain exclusive access to this record"
        ));
    }
}
