//! Stop at a page boundary: a connector decorator that, once a stop is
//! requested, refuses to read the next page of changes.
//!
//! Why a decorator: a cycle commits page by page (writes, then links and
//! the page's checkpoint in one flushed transaction). Dropping the cycle's
//! future mid-page would be a crash (safe, but the batch in flight would be
//! replayed); letting the whole cycle run to its end can outlast the grace
//! period on a backfill. Refusing the *next* `changes` call is exactly "stop
//! taking new work, finish the batch in flight", without the cycle knowing
//! anything about shutdown. What a refused read leaves uncommitted (the CRM
//! checkpoint held for feedback not yet written) is re-read next start, as
//! the cursor rule already guarantees.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use async_trait::async_trait;
use leadbridge_core::http::UsageSnapshot;
use leadbridge_core::{
    Activity, ChangePage, ChangesRequest, Connector, ConnectorError, ConnectorResult, Limits,
    ObjectSchema, PageToken, Record, WriteBatch, WriteOutcome,
};
use tokio::sync::watch;

/// The message of the error a refused read returns (never shown as a
/// failure: the runner recognises it through [`StopGate::refused`]).
pub(crate) const STOP_MESSAGE: &str = "stopping: no new page is read after a stop request";

/// Shared by every decorated connector of one cycle: the stop signal, and
/// whether a read was refused because of it.
#[derive(Clone)]
pub(crate) struct StopGate {
    stop: watch::Receiver<bool>,
    refused: Arc<AtomicBool>,
}

impl StopGate {
    /// A gate that closes when `stop` turns true.
    pub(crate) fn new(stop: watch::Receiver<bool>) -> Self {
        Self {
            stop,
            refused: Arc::new(AtomicBool::new(false)),
        }
    }

    /// Whether the cycle ended because a read was refused.
    pub(crate) fn refused(&self) -> bool {
        self.refused.load(Ordering::SeqCst)
    }

    fn check(&self) -> ConnectorResult<()> {
        if *self.stop.borrow() {
            self.refused.store(true, Ordering::SeqCst);
            return Err(ConnectorError::Retryable {
                message: STOP_MESSAGE.to_string(),
                retry_after: None,
            });
        }
        Ok(())
    }

    /// Wraps `inner` so its change reads stop at this gate.
    pub(crate) fn wrap(&self, inner: Arc<dyn Connector>) -> Arc<dyn Connector> {
        Arc::new(StopAtPage {
            inner,
            gate: self.clone(),
        })
    }
}

/// A connector whose `changes` is refused once the gate closes; every other
/// call (the writes of the page in flight) goes through.
struct StopAtPage {
    inner: Arc<dyn Connector>,
    gate: StopGate,
}

#[async_trait]
impl Connector for StopAtPage {
    fn kind(&self) -> &'static str {
        self.inner.kind()
    }

    fn limits(&self) -> Limits {
        self.inner.limits()
    }

    async fn describe(&self, object: &str) -> ConnectorResult<ObjectSchema> {
        self.inner.describe(object).await
    }

    async fn changes(
        &self,
        request: &ChangesRequest,
        page: Option<&PageToken>,
    ) -> ConnectorResult<ChangePage> {
        self.gate.check()?;
        self.inner.changes(request, page).await
    }

    async fn lookup(
        &self,
        object: &str,
        key_field: &str,
        values: &[String],
        fields: &[String],
    ) -> ConnectorResult<Vec<Record>> {
        self.inner.lookup(object, key_field, values, fields).await
    }

    async fn write(&self, batch: &WriteBatch) -> ConnectorResult<Vec<WriteOutcome>> {
        self.inner.write(batch).await
    }

    async fn create_activity(&self, activity: &Activity) -> ConnectorResult<String> {
        self.inner.create_activity(activity).await
    }

    fn usage(&self) -> UsageSnapshot {
        self.inner.usage()
    }
}
