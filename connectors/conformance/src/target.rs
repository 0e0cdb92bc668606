//! What a connector crate provides to be tested.

use std::any::Any;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use leadbridge_core::auth::RefreshTokenSink;
use leadbridge_core::http::RetryPolicy;
use leadbridge_core::sim::SimControl;
use leadbridge_core::{ActivityKind, Connector, Fields};
use secrecy::{ExposeSecret, SecretString};

/// How the connector under test authenticates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthMode {
    /// A static bearer token the simulator accepts.
    StaticToken,
    /// OAuth2 against the simulator's token endpoint with the vendor's
    /// grant: refresh tokens, which the simulator rotates (HubSpot,
    /// Salesforce), or client credentials (Marketo, which has no refresh
    /// tokens; see [`Target::rotates_refresh_tokens`]).
    OAuthRefresh,
    /// OAuth2 with credentials the simulator refuses (a refresh token it
    /// does not know, a wrong client secret).
    BadCredentials,
}

/// How to build the simulator and connector for one case.
#[derive(Debug, Clone)]
pub struct SetupOptions {
    /// Authentication of the connector.
    pub auth: AuthMode,
    /// The connector's configured daily cap.
    pub daily_cap: Option<u64>,
    /// The connector's retry policy (cases use short waits).
    pub retry: RetryPolicy,
    /// The connector's per-request timeout.
    pub timeout: Duration,
    /// Whether the simulator enforces the vendor's rate limits (and the
    /// connector paces to them).
    pub rate_limits: bool,
}

impl Default for SetupOptions {
    fn default() -> Self {
        Self {
            auth: AuthMode::StaticToken,
            daily_cap: None,
            retry: RetryPolicy {
                max_attempts: 6,
                base_delay: Duration::from_millis(10),
                max_delay: Duration::from_secs(3),
                max_total_wait: Duration::from_secs(10),
            },
            timeout: Duration::from_secs(10),
            rate_limits: false,
        }
    }
}

/// Refresh tokens the connector handed to its persistence callback.
#[derive(Default, Clone)]
pub struct RotatedTokens(Arc<Mutex<Vec<SecretString>>>);

impl RotatedTokens {
    /// How many rotations reached the callback.
    pub fn len(&self) -> usize {
        self.0.lock().unwrap().len()
    }

    /// True when none did.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The latest one, exposed for the test to compare with the simulator.
    pub fn latest(&self) -> Option<String> {
        self.0
            .lock()
            .unwrap()
            .last()
            .map(|s| s.expose_secret().to_owned())
    }
}

impl RefreshTokenSink for RotatedTokens {
    fn rotated(&self, refresh_token: &SecretString) -> Result<(), String> {
        self.0.lock().unwrap().push(refresh_token.clone());
        Ok(())
    }
}

/// What a change pass costs in API calls, for the cases that count them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChangeCalls {
    /// Calls one change page costs: 1 where a query answers with the
    /// records (HubSpot's search, Salesforce's SOQL); 2 for Marketo, which
    /// reads a page of its activity log and then the changed leads by id.
    pub per_page: usize,
    /// Calls a pass makes once, whatever its size: 0 for HubSpot and
    /// Salesforce; Marketo asks for a paging token and reads its merge
    /// activities first.
    pub per_pass: usize,
}

impl Default for ChangeCalls {
    fn default() -> Self {
        Self {
            per_page: 1,
            per_pass: 0,
        }
    }
}

/// A running simulator and a connector pointed at it.
pub struct Setup {
    /// The connector under test.
    pub connector: Arc<dyn Connector>,
    /// The simulator's control surface.
    pub control: Arc<dyn SimControl>,
    /// What the connector's refresh-token callback received.
    pub rotated: RotatedTokens,
    /// Keeps the simulator alive for the case.
    pub guard: Box<dyn Any + Send + Sync>,
}

/// One tool as the suite sees it.
#[async_trait]
pub trait Target: Send + Sync {
    /// The object whose changes are read and written (`contacts`, `Lead`).
    fn object(&self) -> &'static str;
    /// The unique field upserts and look-ups key on (`email`, an External ID field).
    fn key_field(&self) -> &'static str;
    /// The vendor fields requested in change passes.
    fn fields(&self) -> Vec<String>;
    /// Fields of a record the vendor accepts, distinct for each `i`, with
    /// the key field set.
    fn valid_record(&self, i: u64) -> Fields;
    /// Fields of a record the vendor rejects (e.g. a required field missing),
    /// with the key field set.
    fn invalid_record(&self, i: u64) -> Fields;
    /// A field the suite changes on existing records, and the new value.
    fn update(&self) -> (String, serde_json::Value);
    /// The vendor's maximum change page size.
    fn page_max(&self) -> usize;
    /// What a change pass costs in calls (default: one call a page).
    fn change_calls(&self) -> ChangeCalls {
        ChangeCalls::default()
    }
    /// The activity kinds the tool can hold (default: notes and tasks, as
    /// a CRM does); others must be refused with an error.
    fn activity_kinds(&self) -> Vec<ActivityKind> {
        vec![ActivityKind::Note, ActivityKind::Task]
    }
    /// Whether the tool's OAuth grant issues refresh tokens that rotate
    /// (default true; Marketo's client-credentials grant issues none).
    fn rotates_refresh_tokens(&self) -> bool {
        true
    }
    /// Starts a fresh simulator (clock running, no records) and a connector.
    async fn setup(&self, options: SetupOptions) -> Setup;
}
