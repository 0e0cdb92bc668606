//! The trait every tool implements.

use async_trait::async_trait;

use crate::activity::{Activity, ActivityOutcome};
use crate::cursor::{ChangePage, ChangesRequest, PageToken};
use crate::error::{ConnectorError, ConnectorResult};
use crate::http::UsageSnapshot;
use crate::record::Record;
use crate::schema::{Limits, ObjectSchema, ToolUser};
use crate::write::{WriteBatch, WriteOutcome};

/// One tool's API, seen as records. Object-safe so the engine holds
/// `Arc<dyn Connector>` and never names a vendor.
///
/// Connectors are hooks, not loops: they answer one call with the fewest
/// API requests the vendor allows and keep no sync state of their own (the
/// engine owns cursors, links and retries across cycles).
#[async_trait]
pub trait Connector: Send + Sync {
    /// The tool's kind (`hubspot`, `salesforce`), for logs and metrics labels.
    fn kind(&self) -> &'static str;

    /// The limits the engine sizes pages, batches and pacing by.
    fn limits(&self) -> Limits;

    /// The fields of an object, read from the vendor's own metadata, so a
    /// mapping to a field that does not exist is caught before any write.
    async fn describe(&self, object: &str) -> ConnectorResult<ObjectSchema>;

    /// One page of the changes since `request.since`; pass the previous
    /// page's `next` to continue the same pass. See the crate docs for the
    /// cursor rule every implementation keeps.
    async fn changes(
        &self,
        request: &ChangesRequest,
        page: Option<&PageToken>,
    ) -> ConnectorResult<ChangePage>;

    /// The live records whose `key_field` equals one of `values` (email
    /// addresses, external ids), as few calls as the vendor allows. Values
    /// with no record are simply absent from the answer.
    async fn lookup(
        &self,
        object: &str,
        key_field: &str,
        values: &[String],
        fields: &[String],
    ) -> ConnectorResult<Vec<Record>>;

    /// Writes a batch: one outcome per input record, in input order. A record
    /// the vendor rejects is a [`WriteOutcome::Rejected`], not an error.
    async fn write(&self, batch: &WriteBatch) -> ConnectorResult<Vec<WriteOutcome>>;

    /// Creates a note or task linked to a record; returns its vendor id.
    async fn create_activity(&self, activity: &Activity) -> ConnectorResult<String>;

    /// Creates many activities with as few calls as the vendor allows, one
    /// outcome per input in input order; an activity the vendor refuses is
    /// [`ActivityOutcome::Rejected`], not an error. The default sends them
    /// one by one, for tools without a batch endpoint.
    async fn create_activities(
        &self,
        activities: &[Activity],
    ) -> ConnectorResult<Vec<ActivityOutcome>> {
        let mut out = Vec::with_capacity(activities.len());
        for activity in activities {
            out.push(match self.create_activity(activity).await {
                Ok(id) => ActivityOutcome::Created { id },
                Err(ConnectorError::Rejected { message, code }) => {
                    ActivityOutcome::Rejected { message, code }
                }
                Err(e) => return Err(e),
            });
        }
        Ok(out)
    }

    /// The tool's users who can own records, so owner ids in the config are
    /// checked before the first assignment; `None` when the tool cannot say.
    async fn users(&self) -> ConnectorResult<Option<Vec<ToolUser>>> {
        Ok(None)
    }

    /// API calls made so far, per endpoint, and the daily budget left.
    fn usage(&self) -> UsageSnapshot;
}
