//! From a validated config to running parts: connectors instantiated once
//! each (pipelines that share one share its rate limiter and daily budget),
//! pipelines wired to them.

use std::collections::BTreeMap;
use std::sync::Arc;

use leadbridge_core::auth::{AuthConfig, RefreshTokenSink};
use leadbridge_core::{Connector, ConnectorError};

use super::fields::FieldMap;
use super::pipeline::{Endpoint, Pipeline};
use super::plan::{HandoffRule, Planner};
use super::runner::Scheduled;
use super::schedule::Schedule;
use crate::config::{Config, ConnectorConfig, PipelineConfig};

/// Why the config could not be turned into running parts (after it validated).
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// A connector could not be created.
    #[error("connector {name}: {source}")]
    Connector {
        /// Its config name.
        name: String,
        /// Why.
        #[source]
        source: ConnectorError,
    },
    /// A pipeline is inconsistent in a way validation did not catch.
    #[error("pipeline {name}: {message}")]
    Pipeline {
        /// Its name.
        name: String,
        /// What is wrong.
        message: String,
    },
}

/// Per-connector hooks the daemon supplies: where a rotated refresh token
/// goes, and which refresh token to start from (a persisted rotation wins
/// over the configured one).
pub trait TokenHooks {
    /// The sink for rotated refresh tokens of connector `name`.
    fn sink(&self, name: &str) -> Option<Arc<dyn RefreshTokenSink>>;
    /// The auth to use for connector `name`, given the configured one.
    fn auth(&self, name: &str, configured: &AuthConfig) -> AuthConfig;
}

/// No persistence: the configured tokens, rotations kept in memory only.
pub struct NoTokenHooks;

impl TokenHooks for NoTokenHooks {
    fn sink(&self, _name: &str) -> Option<Arc<dyn RefreshTokenSink>> {
        None
    }
    fn auth(&self, _name: &str, configured: &AuthConfig) -> AuthConfig {
        configured.clone()
    }
}

/// Everything a daemon runs.
pub struct Built {
    /// The connectors by config name.
    pub connectors: BTreeMap<String, Arc<dyn Connector>>,
    /// The pipelines with their schedules, in config order.
    pub pipelines: Vec<Scheduled>,
}

/// Instantiates one connector.
pub fn connector(
    config: &ConnectorConfig,
    hooks: &dyn TokenHooks,
) -> Result<Arc<dyn Connector>, BuildError> {
    let err = |source| BuildError::Connector {
        name: config.name.clone(),
        source,
    };
    let auth = hooks.auth(&config.name, config.auth());
    let sink = hooks.sink(&config.name);
    config.spec.build(auth, sink).map_err(err)
}

/// Builds every connector and pipeline of `config`.
pub fn build(config: &Config, hooks: &dyn TokenHooks) -> Result<Built, BuildError> {
    let mut connectors = BTreeMap::new();
    for (name, c) in &config.connectors {
        connectors.insert(name.clone(), connector(c, hooks)?);
    }
    let mut pipelines = Vec::new();
    for p in &config.pipelines {
        pipelines.push(Scheduled {
            pipeline: pipeline(config, p, &connectors)?,
            schedule: Schedule::from_cron(p.schedule.clone()),
        });
    }
    Ok(Built {
        connectors,
        pipelines,
    })
}

fn endpoint(
    config: &Config,
    side: &crate::config::SideConfig,
    connectors: &BTreeMap<String, Arc<dyn Connector>>,
    pipeline: &str,
) -> Result<Endpoint, BuildError> {
    let missing = || BuildError::Pipeline {
        name: pipeline.to_owned(),
        message: format!("connector {} is not defined", side.connector),
    };
    let connector = connectors.get(&side.connector).ok_or_else(missing)?.clone();
    let overlap = config
        .connector(&side.connector)
        .ok_or_else(missing)?
        .overlap();
    Ok(Endpoint {
        connector_name: side.connector.clone(),
        connector,
        object: side.object.clone(),
        overlap,
    })
}

/// Builds one pipeline over already-built connectors.
pub fn pipeline(
    config: &Config,
    p: &PipelineConfig,
    connectors: &BTreeMap<String, Arc<dyn Connector>>,
) -> Result<Pipeline, BuildError> {
    let fields = FieldMap::new(p.fields.clone()).map_err(|message| BuildError::Pipeline {
        name: p.name.clone(),
        message,
    })?;
    let owner_field = p.crm.owner_field.clone();
    let handoff = match &p.handoff {
        Some(h) => HandoffRule {
            enabled: true,
            when: h.when.clone(),
            require: h.require.clone(),
        },
        None => HandoffRule {
            enabled: false,
            when: None,
            require: Vec::new(),
        },
    };
    let tags = super::fingerprint::FieldTags::default();
    Ok(Pipeline {
        name: p.name.clone(),
        marketing: endpoint(config, &p.marketing, connectors, &p.name)?,
        crm: endpoint(config, &p.crm.side, connectors, &p.name)?,
        upsert_key: p.crm.upsert_key.clone(),
        owner_field,
        planner: Planner {
            fields,
            handoff,
            tags: tags.clone(),
        },
        assignment: p.handoff.as_ref().and_then(|h| h.assign.clone()),
        feedback_to_duplicates: p.handoff.as_ref().is_some_and(|h| h.feedback_to_duplicates),
        sla: p.sla.clone(),
        outcomes: p
            .outcomes
            .clone()
            .map(|config| super::outcomes::Outcomes { config, tags }),
    })
}
