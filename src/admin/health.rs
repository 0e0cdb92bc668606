//! What the daemon has told the admin server about its pipelines and
//! connectors since it started: the inputs of `/readyz` and of the
//! pipeline and connector states on `/status`.
//!
//! Nothing here calls a tool: readiness must be cheap enough to probe every
//! few seconds, and a probe that spent API calls would eat the daily
//! budget. A connector counts as authenticated once a cycle of a pipeline
//! using it finished (every call of that cycle was accepted), and as
//! failing when a cycle halted on an error from it (credentials refused
//! after one refresh, or a fatal misconfiguration).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;

use jiff::Timestamp;
use serde::Serialize;

/// A connector's credentials, as far as the daemon has seen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "state", content = "reason")]
pub enum ConnectorAuth {
    /// No cycle using it has finished yet.
    Unproven,
    /// A cycle using it finished.
    Authenticated,
    /// A cycle halted on it; the error, free of secrets.
    Failing(String),
}

/// What a pipeline's loop is doing, as far as the daemon has said.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PipelineState {
    /// On schedule.
    Running,
    /// Paused from the admin server.
    Paused,
    /// Stopped until a person acts (fix credentials or config, then
    /// resume or reload).
    Halted,
}

#[derive(Debug, Default)]
struct Inner {
    connectors: BTreeMap<String, ConnectorAuth>,
    halted: BTreeMap<String, String>,
    paused: BTreeSet<String>,
    last_finished: BTreeMap<String, Timestamp>,
}

/// The daemon's reports, shared by the request handlers.
#[derive(Debug, Default)]
pub(crate) struct Health {
    inner: Mutex<Inner>,
}

impl Health {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A cycle finished: the pipeline runs, its connectors are proven.
    pub(crate) fn finished(&self, pipeline: &str, connectors: &[&str], at: Timestamp) {
        let mut inner = self.lock();
        inner.halted.remove(pipeline);
        inner.last_finished.insert(pipeline.to_owned(), at);
        for c in connectors {
            inner
                .connectors
                .insert((*c).to_owned(), ConnectorAuth::Authenticated);
        }
    }

    /// A cycle failed; `halted` when the loop stopped the pipeline, and
    /// `connector` when the error came from one.
    pub(crate) fn failed(
        &self,
        pipeline: &str,
        error: &str,
        connector: Option<&str>,
        halted: bool,
    ) {
        let mut inner = self.lock();
        if halted {
            inner.halted.insert(pipeline.to_owned(), error.to_owned());
            if let Some(c) = connector {
                inner
                    .connectors
                    .insert(c.to_owned(), ConnectorAuth::Failing(error.to_owned()));
            }
        }
    }

    /// The pipeline was paused or resumed. Resuming also lifts a halt: the
    /// loop tries again at once, and the next failure halts it again.
    pub(crate) fn set_paused(&self, pipeline: &str, paused: bool) {
        let mut inner = self.lock();
        if paused {
            inner.paused.insert(pipeline.to_owned());
        } else {
            inner.paused.remove(pipeline);
            inner.halted.remove(pipeline);
        }
    }

    /// A pipeline's state and, when halted, why.
    pub(crate) fn pipeline(&self, pipeline: &str) -> (PipelineState, Option<String>) {
        let inner = self.lock();
        if let Some(reason) = inner.halted.get(pipeline) {
            return (PipelineState::Halted, Some(reason.clone()));
        }
        if inner.paused.contains(pipeline) {
            return (PipelineState::Paused, None);
        }
        (PipelineState::Running, None)
    }

    /// A connector's credentials.
    pub(crate) fn connector(&self, name: &str) -> ConnectorAuth {
        self.lock()
            .connectors
            .get(name)
            .cloned()
            .unwrap_or(ConnectorAuth::Unproven)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resume_lifts_a_halt_and_a_finish_proves_connectors() {
        let h = Health::default();
        assert_eq!(h.connector("hs"), ConnectorAuth::Unproven);
        h.failed("p", "crm connector sf: refused", Some("sf"), true);
        assert_eq!(h.pipeline("p").0, PipelineState::Halted);
        assert!(matches!(h.connector("sf"), ConnectorAuth::Failing(_)));
        h.set_paused("p", false);
        assert_eq!(h.pipeline("p").0, PipelineState::Running);
        h.finished("p", &["hs", "sf"], Timestamp::UNIX_EPOCH);
        assert_eq!(h.connector("sf"), ConnectorAuth::Authenticated);
    }
}
