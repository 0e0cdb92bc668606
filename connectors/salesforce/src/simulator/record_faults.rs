//! Per-record failures a busy org gives, injected through the control
//! surface (R2.3, `SEMANTICS.md`): the save was valid, but a lock or a
//! trigger made it fail. Each refuses the record with Salesforce's code
//! and message and saves nothing of it; with `allOrNone` the rest rolls
//! back as for any failed record.
//!
//! | fault | code | message |
//! |---|---|---|
//! | `unable_to_lock_row` | `UNABLE_TO_LOCK_ROW` | "unable to obtain exclusive access to this record or 1 records: {id}" |
//! | `trigger_cpu_limit` | `CANNOT_INSERT_UPDATE_ACTIVATE_ENTITY` | "{Object}_Trigger: System.LimitException: Apex CPU time limit exceeded" (forceworkbench#813 trace) |
//! | `trigger_lock_row` | `CANNOT_INSERT_UPDATE_ACTIVATE_ENTITY` | "{Object}_Trigger: execution of AfterUpdate caused by: System.DmlException: Update failed. … UNABLE_TO_LOCK_ROW, unable to obtain exclusive access to this record …" (longer form unverified) |
//! | `flow_lock_row` | `CANNOT_EXECUTE_FLOW_TRIGGER` | "… This error occurred when the flow tried to update records: UNABLE_TO_LOCK_ROW: unable to obtain exclusive access to this record …" (GitLab #13770 trace, shape) |
//! | `trigger_error` | `CANNOT_INSERT_UPDATE_ACTIVATE_ENTITY` | "{Object}_Trigger: execution of BeforeInsert caused by: {message}" — a permanent trigger failure |
//!
//! A CPU-time limit is spent by the whole transaction, so
//! `trigger_cpu_limit` fails every record of a save of more than
//! `over_records` records (a 200-record collection shares one
//! transaction's limits), and smaller saves pass: retrying with smaller
//! batches is what cures it. The others fail single records. A rule fails
//! `count` saves (records; for the CPU limit, transactions), each with
//! probability `rate`, then stops.

use std::sync::Mutex;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

use super::store::RecordError;

/// One kind of per-record failure.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum RecordFault {
    /// Row-lock contention: `UNABLE_TO_LOCK_ROW`.
    UnableToLockRow,
    /// A trigger ran out of CPU time in a save of more than `over_records`.
    TriggerCpuLimit {
        /// Saves of at most this many records pass.
        over_records: usize,
    },
    /// A trigger's own DML met a row lock: `CANNOT_INSERT_UPDATE_ACTIVATE_ENTITY`.
    TriggerLockRow,
    /// A record-triggered flow met a row lock: `CANNOT_EXECUTE_FLOW_TRIGGER`.
    FlowLockRow,
    /// A trigger refused the record for good (`addError`, a null pointer).
    TriggerError {
        /// The inner exception, e.g. `System.NullPointerException: Attempt to de-reference a null object`.
        message: String,
    },
}

impl RecordFault {
    /// The error a record of `object` (id `id`, when it has one) fails with.
    pub fn error(&self, object: &str, id: Option<&str>) -> RecordError {
        let id = id.unwrap_or("");
        match self {
            RecordFault::UnableToLockRow => RecordError::new(
                "UNABLE_TO_LOCK_ROW",
                format!("unable to obtain exclusive access to this record or 1 records: {id}"),
                vec![],
            ),
            RecordFault::TriggerCpuLimit { .. } => RecordError::new(
                "CANNOT_INSERT_UPDATE_ACTIVATE_ENTITY",
                format!("{object}_Trigger: System.LimitException: Apex CPU time limit exceeded"),
                vec![],
            ),
            RecordFault::TriggerLockRow => RecordError::new(
                "CANNOT_INSERT_UPDATE_ACTIVATE_ENTITY",
                format!(
                    "{object}_Trigger: execution of AfterUpdate caused by: System.DmlException: Update failed. First exception on row 0 with id {id}; first error: UNABLE_TO_LOCK_ROW, unable to obtain exclusive access to this record: []"
                ),
                vec![],
            ),
            RecordFault::FlowLockRow => RecordError::new(
                "CANNOT_EXECUTE_FLOW_TRIGGER",
                format!(
                    "We can't save this record because the “{object} Assignment” process failed. Give your Salesforce admin these details. This error occurred when the flow tried to update records: UNABLE_TO_LOCK_ROW: unable to obtain exclusive access to this record or 1 records: {id}. You can look up ExceptionCode values in the SOAP API Developer Guide. Error ID: 1234567890-12345 (-1234567890)"
                ),
                vec![],
            ),
            RecordFault::TriggerError { message } => RecordError::new(
                "CANNOT_INSERT_UPDATE_ACTIVATE_ENTITY",
                format!("{object}_Trigger: execution of BeforeInsert caused by: {message}"),
                vec![],
            ),
        }
    }
}

/// A fault rule, as the control surface takes it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordFaultSpec {
    /// The failure.
    #[serde(flatten)]
    pub fault: RecordFault,
    /// Only records of this object; all when absent.
    #[serde(default)]
    pub object: Option<String>,
    /// Fail this many records (transactions, for the CPU limit), then
    /// stop; no end when absent.
    #[serde(default)]
    pub count: Option<u64>,
    /// Fail each with this probability; always when absent.
    #[serde(default)]
    pub rate: Option<f64>,
}

/// The active per-record fault rules of one org.
pub struct RecordFaults {
    inner: Mutex<(Vec<RecordFaultSpec>, StdRng)>,
}

impl Default for RecordFaults {
    fn default() -> Self {
        Self {
            inner: Mutex::new((Vec::new(), StdRng::seed_from_u64(11))),
        }
    }
}

impl RecordFaults {
    fn lock(&self) -> std::sync::MutexGuard<'_, (Vec<RecordFaultSpec>, StdRng)> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Adds a rule.
    pub fn add(&self, spec: RecordFaultSpec) {
        self.lock().0.push(spec);
    }

    /// Removes every rule.
    pub fn clear(&self) {
        self.lock().0.clear();
    }

    /// The fault each of `n` records of one save of `object` meets (`None`
    /// for records that save), consuming the rules' counts.
    pub fn pick(&self, object: &str, n: usize) -> Vec<Option<RecordFault>> {
        let mut out = vec![None; n];
        let mut guard = self.lock();
        let (rules, rng) = &mut *guard;
        if rules.is_empty() {
            return out;
        }
        let applies = |rule: &RecordFaultSpec| {
            rule.count != Some(0)
                && rule
                    .object
                    .as_deref()
                    .is_none_or(|o| o.eq_ignore_ascii_case(object))
        };
        // The transaction first: a CPU limit fails the whole save.
        for rule in rules.iter_mut() {
            if let RecordFault::TriggerCpuLimit { over_records } = rule.fault {
                if n > over_records
                    && applies(rule)
                    && rule.rate.is_none_or(|r| rng.random_bool(r.clamp(0.0, 1.0)))
                {
                    if let Some(c) = &mut rule.count {
                        *c -= 1;
                    }
                    out.iter_mut().for_each(|o| *o = Some(rule.fault.clone()));
                    rules.retain(|r| r.count != Some(0));
                    return out;
                }
            }
        }
        for slot in out.iter_mut() {
            for rule in rules.iter_mut() {
                if matches!(rule.fault, RecordFault::TriggerCpuLimit { .. }) || !applies(rule) {
                    continue;
                }
                if rule
                    .rate
                    .is_some_and(|r| !rng.random_bool(r.clamp(0.0, 1.0)))
                {
                    continue;
                }
                if let Some(c) = &mut rule.count {
                    *c -= 1;
                }
                *slot = Some(rule.fault.clone());
                break;
            }
        }
        rules.retain(|r| r.count != Some(0));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counted_faults_run_out_and_the_cpu_limit_takes_whole_saves() {
        let f = RecordFaults::default();
        f.add(RecordFaultSpec {
            fault: RecordFault::UnableToLockRow,
            object: Some("Lead".into()),
            count: Some(3),
            rate: None,
        });
        assert!(f.pick("Contact", 5).iter().all(Option::is_none));
        let first = f.pick("Lead", 2);
        assert!(first.iter().all(Option::is_some));
        let second = f.pick("Lead", 2);
        assert_eq!(second.iter().filter(|o| o.is_some()).count(), 1);
        assert!(f.pick("Lead", 2).iter().all(Option::is_none));

        f.add(RecordFaultSpec {
            fault: RecordFault::TriggerCpuLimit { over_records: 50 },
            object: None,
            count: None,
            rate: None,
        });
        assert!(f.pick("Lead", 200).iter().all(Option::is_some));
        assert!(f.pick("Lead", 50).iter().all(Option::is_none));
    }
}
