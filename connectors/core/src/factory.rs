//! How a tool plugs into the daemon: one [`ConnectorFactory`] per connector
//! crate, listed once in the daemon's registry.
//!
//! A connector crate owns everything about its tool, as a Vector component
//! does: its `[connectors.<name>]` keys (read and validated here with the
//! same located diagnostics as the rest of the file), how the connector is
//! built from them, the OAuth consent details `leadbridge auth <kind>`
//! walks, its webhook verifier if the tool pushes, and its simulator for
//! `leadbridge simulate <kind>` and the demo. The daemon only ever sees
//! `dyn ConnectorFactory`, `dyn ConnectorSpec` and `dyn Connector`, so adding
//! a tool is a crate and one line in the registry.
//!
//! The stages mirror the daemon's config: [`ConnectorFactory::read`] takes
//! the crate's own keys off the section's [`Table`] as written (so unknown
//! keys can be reported once every reader has taken its keys), then
//! [`RawSection::validate`] turns them, with the shared
//! [`CommonSettings`], into a validated [`ConnectorSpec`].

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use crate::auth::{AuthConfig, RefreshTokenSink};
use crate::config::section::CommonSettings;
use crate::config::{Checker, Table, Text};
use crate::connector::Connector;
use crate::error::ConnectorResult;
use crate::http::HttpSettings;
use crate::webhook::WebhookVerifier;

/// One tool's entry in the registry.
pub trait ConnectorFactory: Send + Sync {
    /// The name written in `kind = "…"` (`hubspot`), also the subcommand
    /// argument of `leadbridge simulate` and `leadbridge auth`.
    fn kind(&self) -> &'static str;

    /// The tool's name as people write it (`HubSpot`), for messages.
    fn display_name(&self) -> &'static str;

    /// One line on what the connector covers, for `--help` and listings.
    fn summary(&self) -> &'static str;

    /// The auth types (`private_app`, `static_token`, `oauth2_refresh`,
    /// `client_credentials`) this tool accepts.
    fn auth_types(&self) -> &'static [&'static str];

    /// Keys of `[daemon]` this tool adopts for compatibility with configs
    /// written before connectors owned their sections (a webhook secret);
    /// their values reach [`RawSection::validate`] as
    /// [`SectionContext::daemon_keys`].
    fn daemon_keys(&self) -> &'static [&'static str] {
        &[]
    }

    /// Reads the tool's own keys of one section (every key but the shared
    /// ones of [`crate::config::section`]) as written, reporting type
    /// problems; the caller reports unknown keys afterwards.
    fn read(&self, table: &Table<'_, '_, '_>) -> Box<dyn RawSection>;

    /// The tool's simulator, when the crate is built with one.
    #[cfg(feature = "simulator")]
    fn simulator(&self) -> Option<SimulatorEntry> {
        None
    }
}

/// What validation of a section has besides the tool's own raw keys.
pub struct SectionContext<'x> {
    /// The section's name (`[connectors.<name>]`) and where it was written.
    pub name: &'x Text,
    /// The shared keys, validated; `None` when they had problems (already
    /// reported), so the tool's keys are still checked.
    pub common: Option<CommonSettings>,
    /// Values of the tool's [`ConnectorFactory::daemon_keys`] set in `[daemon]`.
    pub daemon_keys: Vec<(&'static str, Text)>,
}

/// A tool's own keys of one section, as written.
pub trait RawSection {
    /// Validates them with the shared settings into a [`ConnectorSpec`];
    /// every problem is reported through `checker`, and `None` means there
    /// was at least one.
    fn validate(
        self: Box<Self>,
        context: SectionContext<'_>,
        checker: &Checker<'_, '_>,
    ) -> Option<Arc<dyn ConnectorSpec>>;
}

/// One validated `[connectors.<name>]`: everything needed to build the
/// connector, walk its consent and verify its pushes.
///
/// `Debug` must show every setting except secrets: the daemon's reload
/// compares connectors by it (and by [`ConnectorSpec::auth`]), so a setting
/// it hides would not restart the connector when changed.
pub trait ConnectorSpec: fmt::Debug + Send + Sync {
    /// The tool's kind.
    fn kind(&self) -> &'static str;

    /// The credentials, resolved from their references.
    fn auth(&self) -> &AuthConfig;

    /// Timeouts, retries, rate limit and daily cap, vendor defaults filled in.
    fn http(&self) -> &HttpSettings;

    /// How far before the cursor each poll re-reads.
    fn overlap(&self) -> Duration;

    /// Builds the connector with `auth` (the configured credentials, or a
    /// rotated refresh token the daemon persisted) and a sink for the
    /// refresh tokens the vendor rotates from now on.
    fn build(
        &self,
        auth: AuthConfig,
        sink: Option<Arc<dyn RefreshTokenSink>>,
    ) -> ConnectorResult<Arc<dyn Connector>>;

    /// Where `leadbridge auth` sends ops to consent, when the tool has an
    /// OAuth2 authorization-code flow.
    fn consent(&self) -> Option<Consent> {
        None
    }

    /// The verifier of the tool's pushes, when it pushes and a secret is set.
    fn webhook(&self) -> Option<Arc<dyn WebhookVerifier>> {
        None
    }

    /// The same connector with every client-side rate limit lifted, for
    /// benchmarks of the engine against simulators whose vendor limits are
    /// off (never for a real tool: its limits are what keep the account
    /// usable).
    fn unthrottled(&self) -> Arc<dyn ConnectorSpec>;

    /// Feeds every secret of the section other than [`ConnectorSpec::auth`]
    /// (a webhook signing secret) to `hash`, so a reload notices a change
    /// without the daemon holding the value twice.
    fn hash_secrets(&self, hash: &mut dyn FnMut(&str, &[u8])) {
        let _ = hash;
    }
}

pub use crate::auth::ClientAuth;

/// The OAuth2 authorization-code consent of one configured connector.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Consent {
    /// The consent page.
    pub authorize_url: String,
    /// The token endpoint the code is exchanged at.
    pub token_url: String,
    /// Scopes the tool needs for what leadbridge does.
    pub default_scopes: Vec<String>,
    /// Whether the tool takes a PKCE challenge (S256).
    pub pkce: bool,
    /// How the client authenticates at the token endpoint.
    pub client_auth: ClientAuth,
}

/// A tool's simulator, as `leadbridge simulate <kind>` and the demo start it.
#[cfg(feature = "simulator")]
#[derive(Clone, Copy)]
pub struct SimulatorEntry {
    /// What it simulates, for `--help`.
    pub summary: &'static str,
    /// Starts it on loopback.
    pub start:
        fn(
            crate::sim::SimulatorOptions,
        )
            -> futures::future::BoxFuture<'static, std::io::Result<crate::sim::RunningSimulator>>,
}

/// The tools a daemon knows, by kind.
#[derive(Clone, Default)]
pub struct Registry {
    factories: Vec<Arc<dyn ConnectorFactory>>,
}

impl fmt::Debug for Registry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.kinds()).finish()
    }
}

impl Registry {
    /// A registry of these factories; a later factory of a kind already
    /// listed replaces the earlier one.
    pub fn new(factories: impl IntoIterator<Item = Arc<dyn ConnectorFactory>>) -> Self {
        factories
            .into_iter()
            .fold(Self::default(), |r, f| r.with(f))
    }

    /// The same registry with one more tool (tests register fakes this way).
    pub fn with(mut self, factory: Arc<dyn ConnectorFactory>) -> Self {
        self.factories.retain(|f| f.kind() != factory.kind());
        self.factories.push(factory);
        self
    }

    /// The factory of `kind`.
    pub fn get(&self, kind: &str) -> Option<&dyn ConnectorFactory> {
        self.factories
            .iter()
            .find(|f| f.kind() == kind)
            .map(|f| f.as_ref())
    }

    /// Every kind, in registration order.
    pub fn kinds(&self) -> Vec<&'static str> {
        self.factories.iter().map(|f| f.kind()).collect()
    }

    /// Every factory, in registration order.
    pub fn factories(&self) -> impl Iterator<Item = &dyn ConnectorFactory> {
        self.factories.iter().map(|f| f.as_ref())
    }

    /// The tool whose auth type `auth_type` is, when exactly one accepts it
    /// (`private_app` → `HubSpot`), for the message when another refuses it.
    pub fn sole_owner_of_auth_type(&self, auth_type: &str) -> Option<&'static str> {
        let mut owners = self
            .factories
            .iter()
            .filter(|f| f.auth_types().contains(&auth_type));
        match (owners.next(), owners.next()) {
            (Some(one), None) => Some(one.display_name()),
            _ => None,
        }
    }
}
