//! The config file: one TOML file with the daemon's settings, the tool
//! accounts (connectors), and the pipelines with their canonical fields
//! and handoff rules. `config/leadbridge.example.toml` documents every key.
//!
//! Reading happens in two stages, as in ripgrep (low → high args) and
//! vector (config → validated component):
//!
//! 1. **raw** ([`raw`]): the TOML parser's spanned tree is walked by a
//!    typed reader that reports every syntax error, unknown key and wrong
//!    type with its position, and keeps going;
//! 2. **validated** ([`Config`]): durations, cron schedules, URLs, CEL
//!    rules, references between tables and secrets are checked and
//!    resolved; this is what the engine uses, and it cannot hold a mistake.
//!
//! [`Config::load`] returns every problem at once ([`ConfigErrors`]), each
//! as `file:line:col: error: … (expected …)`; `leadbridge check` prints
//! them, and the daemon refuses to start (or keeps its last good config on
//! reload) when there is any.
//!
//! Secrets are never written in the file: `token`, `client_secret` and
//! `refresh_token` are references, `env:NAME` or `file:/path`, resolved at
//! load time into `secrecy::SecretString`s inside
//! [`leadbridge_core::auth::AuthConfig`]; errors name the reference, never
//! a value, and `Debug` output shows no secret.
//!
//! ```
//! use leadbridge::config::{Config, Side};
//! use std::path::Path;
//!
//! let text = r#"
//! [daemon]
//! state_dir = "/tmp/leadbridge-doc"
//!
//! [connectors.hubspot]
//! kind = "hubspot"
//! auth = { type = "private_app", token = "env:DOC_HUBSPOT_TOKEN" }
//!
//! [connectors.salesforce]
//! kind = "salesforce"
//! instance_url = "https://example.my.salesforce.com"
//! auth = { type = "static_token", token = "env:DOC_SF_TOKEN" }
//!
//! [[pipelines]]
//! name = "inbound"
//! schedule = "0 */2 * * * *"
//! marketing = { connector = "hubspot", object = "contacts" }
//! crm = { connector = "salesforce", object = "Lead" }
//!
//! [pipelines.fields]
//! email = { marketing = "email", crm = "Email", key = true }
//! score = { marketing = "hubspotscore", crm = "Lead_Score__c", owner = "marketing", type = "number" }
//!
//! [pipelines.handoff]
//! when = "score >= 80"
//! "#;
//! let env = std::collections::BTreeMap::from([
//!     ("DOC_HUBSPOT_TOKEN".to_string(), "t1".to_string()),
//!     ("DOC_SF_TOKEN".to_string(), "t2".to_string()),
//! ]);
//! let config = Config::parse(text, Path::new("doc.toml"), &env).unwrap();
//! let pipeline = config.pipeline("inbound").unwrap();
//! assert_eq!(pipeline.key_field().name, "email");
//! assert_eq!(pipeline.vendor_fields(Side::Marketing), ["email", "hubspotscore"]);
//!
//! let broken = text.replace("score >= 80", "scroe >= 80");
//! let errors = Config::parse(&broken, Path::new("doc.toml"), &env).unwrap_err();
//! assert!(errors.to_string().starts_with("doc.toml:25:9: error: `when` names `scroe`"));
//! ```

mod connector;
mod daemon;
mod fields;
mod outcomes;
mod pipeline;
mod places;
pub mod raw;
mod raw_outcomes;
mod raw_sla;
mod rule_check;
mod sla;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use toml::de::DeTable;

pub use connector::ConnectorConfig;
pub use daemon::{DaemonConfig, LogFormat, DEFAULT_ADMIN_LISTEN};
pub use fields::{
    CoerceError, ConflictPolicy, FieldMapping, FieldOwner, FieldType, Side, ValueMap,
};
pub use leadbridge_core::config::{
    duration_parts, parse_duration, ConfigError, ConfigErrors, SecretRef, SecretSource,
    SystemSecrets,
};
pub use outcomes::OutcomesConfig;
pub use pipeline::{Assignment, CrmConfig, Handoff, PipelineConfig, SideConfig, TerritoryRule};
pub use sla::{CrmTasks, EscalationStep, Recycle, SlaConfig, StepTask, TaskFor, Webhook};

pub use leadbridge_core::config::Places;
use leadbridge_core::config::{base_dir, Checker, Diagnostics, SourceMap, Table};
use leadbridge_core::Registry;
use raw::RawConfig;

/// A validated config: everything the daemon needs, secrets resolved.
#[derive(Debug, Clone)]
pub struct Config {
    /// The file it was read from.
    pub path: PathBuf,
    /// `[daemon]`.
    pub daemon: DaemonConfig,
    /// `[connectors.<name>]`, by name.
    pub connectors: BTreeMap<String, ConnectorConfig>,
    /// `[[pipelines]]`, in file order; names are unique.
    pub pipelines: Vec<PipelineConfig>,
    /// Where each setting was written, for checks made after reading (the
    /// live check against the tools' metadata).
    pub places: Places,
}

impl Config {
    /// Reads and validates `path`, resolving secrets from the process
    /// environment and the file system.
    pub fn load(path: &Path) -> Result<Config, ConfigErrors> {
        Self::load_with(path, &SystemSecrets)
    }

    /// Like [`Config::load`], with secrets looked up in `secrets`.
    pub fn load_with(path: &Path, secrets: &dyn SecretSource) -> Result<Config, ConfigErrors> {
        Self::load_from(path, secrets, &crate::registry::builtin())
    }

    /// Like [`Config::load_with`], with the tools of `registry` (tests add
    /// fakes to it).
    pub fn load_from(
        path: &Path,
        secrets: &dyn SecretSource,
        registry: &Registry,
    ) -> Result<Config, ConfigErrors> {
        match std::fs::read_to_string(path) {
            Ok(text) => Self::parse_with(&text, path, secrets, registry),
            Err(e) => Err(ConfigErrors {
                errors: vec![ConfigError {
                    file: path.to_path_buf(),
                    line: 1,
                    column: 1,
                    message: format!("cannot read the config file: {e}"),
                    expected: Some("a readable TOML file".to_string()),
                }],
            }),
        }
    }

    /// Validates config `text`, named `path` in errors (relative paths in
    /// it are taken from `path`'s folder).
    pub fn parse(
        text: &str,
        path: &Path,
        secrets: &dyn SecretSource,
    ) -> Result<Config, ConfigErrors> {
        Self::parse_with(text, path, secrets, &crate::registry::builtin())
    }

    /// Like [`Config::parse`], with the tools of `registry`.
    pub fn parse_with(
        text: &str,
        path: &Path,
        secrets: &dyn SecretSource,
        registry: &Registry,
    ) -> Result<Config, ConfigErrors> {
        let diag = Diagnostics::new(SourceMap::new(path, text));
        let (root, syntax) = DeTable::parse_recoverable(text);
        for e in &syntax {
            let span = e.span().unwrap_or(0..0);
            diag.error(
                span,
                format!("invalid TOML: {}", e.message().trim_end()),
                None,
            );
        }
        let config = if syntax.is_empty() {
            let root = Table::new(root.get_ref(), 0..0, "", &diag);
            let raw = RawConfig::read(&root, registry);
            root.report_unknown();
            places::record(&raw, &diag);
            let checker = Checker {
                diag: &diag,
                secrets,
                base: base_dir(path),
            };
            validate(raw, &checker, path, registry).map(|mut config| {
                config.places = diag.places();
                config
            })
        } else {
            // A tree rebuilt around syntax errors would report phantom
            // problems; the syntax errors are what ops must fix first.
            None
        };
        match config {
            Some(c) if !diag.has_errors() => Ok(c),
            _ => Err(diag.into_errors()),
        }
    }

    /// A pipeline by name.
    pub fn pipeline(&self, name: &str) -> Option<&PipelineConfig> {
        self.pipelines.iter().find(|p| p.name == name)
    }

    /// A connector by name.
    pub fn connector(&self, name: &str) -> Option<&ConnectorConfig> {
        self.connectors.get(name)
    }
}

fn validate(
    raw: RawConfig,
    c: &Checker<'_, '_>,
    path: &Path,
    registry: &Registry,
) -> Option<Config> {
    let daemon = raw.daemon.as_ref().and_then(|d| daemon::validate(d, c));
    let adopted = raw
        .daemon
        .as_ref()
        .map(|d| d.adopted.as_slice())
        .unwrap_or_default();
    let mut connectors = BTreeMap::new();
    let mut defined = BTreeSet::new();
    for (name, section) in raw.connectors.into_iter().flatten() {
        defined.insert(name.get_ref().clone());
        if let Some(conn) = connector::validate(&name, section, adopted, registry, c) {
            connectors.insert(name.get_ref().clone(), conn);
        }
    }
    let mut pipelines = Vec::new();
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    let raw_pipelines = raw.pipelines.as_deref().unwrap_or_default();
    for p in raw_pipelines {
        if let Some(name) = &p.name {
            if let Some(first) = seen.get(name.get_ref()) {
                let first_line = c.diag.text()[..*first].matches('\n').count() + 1;
                c.error(
                    name.span(),
                    format!(
                        "duplicate pipeline name `{}` (first used on line {first_line})",
                        name.get_ref()
                    ),
                    Some("a unique name per [[pipelines]]".to_string()),
                );
            } else {
                seen.insert(name.get_ref().clone(), name.span().start);
            }
        }
        if let Some(valid) = pipeline::validate(p, &defined, c) {
            pipelines.push(valid);
        }
    }
    if raw.pipelines.as_ref().is_some_and(|p| p.is_empty()) {
        c.error(
            0..0,
            "no pipelines",
            Some("at least one [[pipelines]] table".to_string()),
        );
    }
    if connectors.len() != defined.len() || pipelines.len() != raw_pipelines.len() {
        return None;
    }
    Some(Config {
        path: path.to_path_buf(),
        daemon: daemon?,
        connectors,
        pipelines,
        places: Places::default(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The references `config/leadbridge.example.toml` needs.
    fn example_secrets() -> BTreeMap<String, String> {
        BTreeMap::from([
            ("HUBSPOT_TOKEN".to_string(), "pat-na1-secret".to_string()),
            ("SF_SECRET".to_string(), "sf-client-secret".to_string()),
            (
                "file:/etc/leadbridge/sf.token".to_string(),
                "refresh-123\n".to_string(),
            ),
        ])
    }

    const EXAMPLE: &str = include_str!("../../config/leadbridge.example.toml");

    #[test]
    fn the_example_config_is_valid() {
        let config = Config::parse(
            EXAMPLE,
            Path::new("config/leadbridge.example.toml"),
            &example_secrets(),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(config.pipelines.len(), 2);
        let inbound = config.pipeline("inbound").unwrap();
        assert_eq!(inbound.key_field().name, "email");
        assert_eq!(inbound.crm.match_on, "email");
        assert_eq!(inbound.crm.upsert_key.as_deref(), Some("Leadbridge_Id__c"));
        assert_eq!(inbound.crm.owner_field.as_deref(), Some("OwnerId"));
        let company = inbound.field("company").unwrap();
        assert_eq!(company.owner, FieldOwner::Both(ConflictPolicy::Newest));
        let status = inbound.field("status").unwrap();
        assert_eq!(
            status.values.crm_to_marketing("Open - Not Contacted"),
            Some("NEW")
        );
        assert_eq!(
            inbound.field("score").unwrap().value_type,
            FieldType::Number
        );
        let rule = inbound.handoff.as_ref().unwrap().when.as_ref().unwrap();
        assert_eq!(rule.fields(), ["employees", "lifecycle", "score"]);
        assert!(matches!(
            inbound.handoff.as_ref().unwrap().assign,
            Some(Assignment::RoundRobin { ref owners }) if owners.len() == 2
        ));
        let events = config.pipeline("events").unwrap();
        assert!(matches!(
            events.handoff.as_ref().unwrap().assign,
            Some(Assignment::Territory { ref rules, .. }) if rules.len() == 2
        ));
        let sf = config.connector("salesforce").unwrap();
        assert_eq!(sf.kind(), "salesforce");
        assert!(matches!(
            sf.auth(),
            leadbridge_core::auth::AuthConfig::OAuth2Refresh { .. }
        ));
        let hs = config.connector("hubspot").unwrap();
        assert_eq!(hs.http().daily_cap, Some(200_000));
        assert_eq!(hs.overlap(), std::time::Duration::from_secs(120));
        assert_eq!(config.daemon.admin_listen.to_string(), "127.0.0.1:9464");
    }

    #[test]
    fn no_secret_reaches_debug_output_or_errors() {
        let config = Config::parse(EXAMPLE, Path::new("x.toml"), &example_secrets()).unwrap();
        let debug = format!("{config:?}");
        for secret in ["pat-na1-secret", "sf-client-secret", "refresh-123"] {
            assert!(!debug.contains(secret), "{secret} leaked into Debug");
        }
        let literal = EXAMPLE.replace("env:HUBSPOT_TOKEN", "pat-na1-literal");
        let errors = Config::parse(&literal, Path::new("x.toml"), &example_secrets()).unwrap_err();
        assert!(!errors.to_string().contains("pat-na1-literal"), "{errors}");
        assert!(errors.to_string().contains("literal secret"), "{errors}");
    }

    #[test]
    fn every_problem_is_reported() {
        let broken = EXAMPLE
            .replace(
                "timeout = \"30s\"\n# How far",
                "timeout = \"30 s\"\n# How far",
            )
            .replace("schedule = \"0 */2 * * * *\"", "schedule = \"*/2 * * * *\"")
            .replace(
                "owner = \"both\", conflict = \"newest\"",
                "owner = \"marketing\", conflict = \"newest\"",
            )
            .replace(
                "require = [\"email\", \"last_name\"",
                "require = [\"emial\", \"last_name\"",
            );
        let errors = Config::parse(&broken, Path::new("x.toml"), &example_secrets()).unwrap_err();
        // Both pipelines require `email`: the typo is reported in each.
        assert_eq!(errors.len(), 5, "{errors}");
    }
}
