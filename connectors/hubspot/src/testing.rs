//! The HubSpot connector as a conformance-suite [`Target`]: starts a fresh
//! simulator per case and points a connector at it, so the shared suite
//! (`leadbridge_conformance::conformance_tests!`) runs against HubSpot.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use leadbridge_conformance::{AuthMode, RotatedTokens, Setup, SetupOptions, Target};
use leadbridge_core::auth::{AuthConfig, RefreshTokenSink};
use leadbridge_core::http::HttpSettings;
use leadbridge_core::sim::{SimulatorOptions, TokenSettings};
use leadbridge_core::Fields;
use serde_json::{json, Value};

use crate::config::{DEFAULT_RATE_LIMIT, DEFAULT_SEARCH_RATE_LIMIT};
use crate::{HubSpotConfig, HubSpotConnector};

/// The private-app token the test simulators accept.
pub const STATIC_TOKEN: &str = "pat-sim-conformance-token";
/// The refresh token the test simulators accept first.
pub const REFRESH_TOKEN: &str = "sim-rt-initial";

/// HubSpot contacts keyed by email, for the conformance suite.
#[derive(Debug, Clone, Copy, Default)]
pub struct HubSpotTarget;

/// Starts a simulator and a connector for `options`, as the suite does; also
/// used by this crate's own connector tests.
pub async fn setup(options: SetupOptions) -> Setup {
    let tokens = TokenSettings {
        initial_refresh_token: Some(REFRESH_TOKEN.into()),
        static_tokens: vec![STATIC_TOKEN.into()],
        ..TokenSettings::default()
    };
    let sim = crate::simulator::start(SimulatorOptions {
        tokens: tokens.clone(),
        rate_limits: options.rate_limits,
        ..SimulatorOptions::default()
    })
    .await
    .expect("the simulator starts");
    let auth = match options.auth {
        AuthMode::StaticToken => AuthConfig::StaticToken {
            token: STATIC_TOKEN.to_owned().into(),
        },
        AuthMode::OAuthRefresh => AuthConfig::OAuth2Refresh {
            client_id: tokens.client_id.clone(),
            client_secret: tokens.client_secret.clone().into(),
            refresh_token: REFRESH_TOKEN.to_owned().into(),
            token_url: None,
        },
        AuthMode::BadCredentials => AuthConfig::OAuth2Refresh {
            client_id: tokens.client_id.clone(),
            client_secret: tokens.client_secret.clone().into(),
            refresh_token: "sim-rt-never-issued".to_owned().into(),
            token_url: None,
        },
    };
    let mut config = HubSpotConfig::new(sim.url(), auth);
    config.http = HttpSettings {
        timeout: options.timeout,
        retry: options.retry.clone(),
        rate_limit: options.rate_limits.then_some(DEFAULT_RATE_LIMIT),
        daily_cap: options.daily_cap,
    };
    config.search_rate_limit = options.rate_limits.then_some(DEFAULT_SEARCH_RATE_LIMIT);
    config.overlap = Duration::from_secs(120);
    let rotated = RotatedTokens::default();
    let sink: Arc<dyn RefreshTokenSink> = Arc::new(rotated.clone());
    let connector = HubSpotConnector::new(config, Some(sink)).expect("the connector builds");
    Setup {
        connector: Arc::new(connector),
        control: sim.control.clone(),
        rotated,
        guard: Box::new(sim),
    }
}

#[async_trait]
impl Target for HubSpotTarget {
    fn object(&self) -> &'static str {
        "contacts"
    }

    fn key_field(&self) -> &'static str {
        "email"
    }

    fn fields(&self) -> Vec<String> {
        [
            "email",
            "firstname",
            "lastname",
            "company",
            "jobtitle",
            "lifecyclestage",
        ]
        .map(String::from)
        .to_vec()
    }

    fn valid_record(&self, i: u64) -> Fields {
        let v = json!({
            "email": format!("conformance.{i}@leadbridge-test.example"),
            "firstname": format!("Test{i}"),
            "lastname": "Conformance",
            "company": "Leadbridge Test Co",
            "lifecyclestage": "lead",
        });
        v.as_object().cloned().unwrap_or_default()
    }

    fn invalid_record(&self, i: u64) -> Fields {
        // An option the lifecycle stage dropdown does not have: HubSpot
        // answers INVALID_OPTION for this input only.
        let v = json!({
            "email": format!("invalid.{i}@leadbridge-test.example"),
            "firstname": format!("Bad{i}"),
            "lifecyclestage": "not_a_stage",
        });
        v.as_object().cloned().unwrap_or_default()
    }

    fn update(&self) -> (String, Value) {
        ("jobtitle".into(), Value::String("VP Revenue".into()))
    }

    fn page_max(&self) -> usize {
        crate::changes::PAGE_LIMIT
    }

    async fn setup(&self, options: SetupOptions) -> Setup {
        setup(options).await
    }
}
