//! A stop request, as the cycle sees it.
//!
//! A cycle commits page by page (writes, then links and the page's
//! checkpoint in one flushed transaction). Dropping the cycle's future
//! mid-page would be a crash (safe, but the batch in flight would be
//! replayed); letting the whole cycle run to its end can outlast the grace
//! period on a backfill. So the cycle checks the signal before it reads
//! each page of changes and ends with `CycleError::Stopped` when asked:
//! "stop taking new work, finish the batch in flight". What that leaves
//! uncommitted (a CRM checkpoint held for feedback not yet written) is
//! re-read at the next start, as the cursor rule already guarantees.

use tokio::sync::watch;

/// Whether a stop was requested; cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct StopSignal {
    requested: Option<watch::Receiver<bool>>,
}

impl StopSignal {
    /// A signal that is never raised (one-off cycles, tests).
    pub fn never() -> Self {
        Self::default()
    }

    /// Raised when `stop` turns true.
    pub fn new(stop: watch::Receiver<bool>) -> Self {
        Self {
            requested: Some(stop),
        }
    }

    /// Whether a stop was requested.
    pub fn requested(&self) -> bool {
        self.requested.as_ref().is_some_and(|r| *r.borrow())
    }
}
