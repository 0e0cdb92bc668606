//! `[connectors.<name>]`: one tool account. The shared keys (auth, limits)
//! are read by `leadbridge_core::config::section`; everything else belongs
//! to the tool, whose crate reads and validates it through its factory in
//! the registry. Nothing here knows which tools exist.

use std::sync::Arc;
use std::time::Duration;

use leadbridge_core::auth::AuthConfig;
use leadbridge_core::config::section::{self, AuthTypes, RawCommon};
use leadbridge_core::config::{Checker, Table, Text};
use leadbridge_core::factory::{ConnectorSpec, RawSection, SectionContext};
use leadbridge_core::http::HttpSettings;
use leadbridge_core::Registry;

/// One `[connectors.<name>]` as written: the shared keys, and the tool's
/// own keys as its factory read them.
pub struct RawConnector {
    /// The shared keys.
    pub common: RawCommon,
    /// The tool's keys, when `kind` names a registered tool.
    pub tool: Option<Box<dyn RawSection>>,
}

impl std::fmt::Debug for RawConnector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RawConnector")
            .field("common", &self.common)
            .finish_non_exhaustive()
    }
}

impl RawConnector {
    /// Reads one section: the shared keys, then the tool's through its
    /// factory; unknown keys are reported once both have read theirs (for
    /// an unknown kind they are not, since nobody can say which are known).
    pub(crate) fn read(t: &Table<'_, '_, '_>, registry: &Registry) -> RawConnector {
        let common = RawCommon::read(t, &registry.kinds());
        let factory = common.kind.as_ref().and_then(|k| registry.get(k.get_ref()));
        let tool = factory.map(|f| f.read(t));
        if tool.is_some() {
            t.report_unknown();
        }
        RawConnector { common, tool }
    }
}

/// One `[connectors.<name>]`, validated with its secrets resolved.
#[derive(Debug, Clone)]
pub struct ConnectorConfig {
    /// The name pipelines refer to it by.
    pub name: String,
    /// The tool's validated settings: how to build, authorize and verify it.
    pub spec: Arc<dyn ConnectorSpec>,
}

impl ConnectorConfig {
    /// Which tool (`kind = "…"`).
    pub fn kind(&self) -> &'static str {
        self.spec.kind()
    }

    /// The credentials, resolved from their references.
    pub fn auth(&self) -> &AuthConfig {
        self.spec.auth()
    }

    /// Timeouts, retries, rate limit and daily cap.
    pub fn http(&self) -> &HttpSettings {
        self.spec.http()
    }

    /// How far before the cursor each poll re-reads.
    pub fn overlap(&self) -> Duration {
        self.spec.overlap()
    }
}

/// Validates one section; `daemon_keys` are the `[daemon]` keys tools
/// adopted (by kind), handed to the factory of this section's kind.
pub(crate) fn validate(
    name: &Text,
    raw: RawConnector,
    daemon_keys: &[(&'static str, &'static str, Text)],
    registry: &Registry,
    c: &Checker<'_, '_>,
) -> Option<ConnectorConfig> {
    let kinds = registry.kinds();
    let kind = raw.common.kind.as_ref().and_then(|k| {
        c.choice("connector kind", k, &kinds, |s| {
            kinds.iter().find(|k| **k == s).copied()
        })
    });
    let factory = kind.and_then(|k| registry.get(k));
    let owner_of = |auth_type: &str| registry.sole_owner_of_auth_type(auth_type);
    let common = factory.and_then(|f| {
        section::validate(
            &raw.common,
            &AuthTypes {
                kind: f.kind(),
                accepted: f.auth_types(),
                owner_of: &owner_of,
            },
            c,
        )
    });
    let (factory, tool) = (factory?, raw.tool?);
    let context = SectionContext {
        name,
        common,
        daemon_keys: daemon_keys
            .iter()
            .filter(|(kind, _, _)| *kind == factory.kind())
            .map(|(_, key, value)| (*key, value.clone()))
            .collect(),
    };
    let spec = tool.validate(context, c)?;
    Some(ConnectorConfig {
        name: name.get_ref().clone(),
        spec,
    })
}
