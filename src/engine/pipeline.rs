//! A pipeline as the engine runs it: connectors built, rules compiled.

use std::sync::Arc;
use std::time::Duration;

use leadbridge_core::Connector;

use super::plan::Planner;
use crate::config::Assignment;

/// One side of a pipeline: a connector and the object it syncs.
#[derive(Clone)]
pub struct Endpoint {
    /// The connector's name in the config (for logs and metrics).
    pub connector_name: String,
    /// The connector.
    pub connector: Arc<dyn Connector>,
    /// The object (`contacts`, `Lead`).
    pub object: String,
    /// How far each change pass re-reads before its cursor.
    pub overlap: Duration,
}

/// A pipeline, ready to run.
#[derive(Clone)]
pub struct Pipeline {
    /// Its unique name.
    pub name: String,
    /// The marketing tool.
    pub marketing: Endpoint,
    /// The CRM.
    pub crm: Endpoint,
    /// The CRM's External ID field that creates upsert on, so a retried
    /// create can never duplicate; `None` falls back to look-up-then-create
    /// by the key field.
    pub upsert_key: Option<String>,
    /// The CRM field the assigned owner is written to (`OwnerId`,
    /// `hubspot_owner_id`), as `crm.owner_field` states it.
    pub owner_field: Option<String>,
    /// The decisions.
    pub planner: Planner,
    /// Who gets new leads; `None` leaves the CRM's default owner.
    pub assignment: Option<Assignment>,
    /// Sales' feedback also goes to the pair's marketing duplicates.
    pub feedback_to_duplicates: bool,
    /// The follow-up SLA; `None`: no timers, notes or escalation.
    pub sla: Option<Arc<crate::config::SlaConfig>>,
    /// Sales outcomes followed back to marketing; `None`: not followed.
    pub outcomes: Option<super::outcomes::Outcomes>,
}

impl Pipeline {
    /// Every name the pipeline keeps fingerprints under: its fields, and
    /// its outcome fields in their own namespace.
    pub fn fingerprinted_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .planner
            .fields
            .mappings()
            .iter()
            .map(|m| m.name.clone())
            .collect();
        if let Some(o) = &self.outcomes {
            names.extend(
                o.config
                    .fields
                    .iter()
                    .map(|m| super::outcomes::outcome_tag_name(&m.name)),
            );
        }
        names
    }

    /// Loads the pipeline's fingerprint tags, giving new fields theirs:
    /// before anything reads or writes a fingerprint.
    pub async fn load_tags(
        &self,
        store: &dyn crate::state::StateStore,
    ) -> crate::state::StateResult<()> {
        self.planner
            .tags
            .ensure(store, &self.name, &self.fingerprinted_names())
            .await
    }
}
