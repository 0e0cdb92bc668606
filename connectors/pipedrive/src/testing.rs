//! The conformance target: a fresh simulator and a connector pointed at it
//! for each case of `leadbridge-conformance`.

use std::sync::Arc;

use async_trait::async_trait;
use leadbridge_conformance::{AuthMode, RotatedTokens, Setup, SetupOptions, Target};
use leadbridge_core::auth::AuthConfig;
use leadbridge_core::http::HttpSettings;
use leadbridge_core::sim::{SimulatorOptions, TokenSettings};
use leadbridge_core::Fields;
use secrecy::SecretString;
use serde_json::json;

use crate::simulator::catalog::{CAMPAIGN_FIELD, SCORE_FIELD};
use crate::{PipedriveConfig, PipedriveConnector, DEFAULT_RATE_LIMIT, DEFAULT_SEARCH_RATE_LIMIT};

/// The API token the simulator accepts in static-token cases.
pub const API_TOKEN: &str = "sim-api-token-0123456789abcdef";
/// The refresh token the simulator accepts first in OAuth cases.
pub const INITIAL_REFRESH_TOKEN: &str = "sim-rt-initial";

/// Pipedrive as the suite sees it: persons keyed on their primary e-mail
/// (looked up by exact search before each keyed write, as Pipedrive has no
/// upsert), with a custom "Lead score" and "Campaign" field.
#[derive(Debug, Clone, Copy, Default)]
pub struct PipedriveTarget;

/// Builds a simulator and a connector for `options`, the way the suite does
/// (also used by this crate's own tests).
pub async fn setup(options: SetupOptions) -> Setup {
    let mut tokens = TokenSettings::default();
    match options.auth {
        AuthMode::StaticToken => tokens.static_tokens = vec![API_TOKEN.into()],
        AuthMode::OAuthRefresh => tokens.initial_refresh_token = Some(INITIAL_REFRESH_TOKEN.into()),
        AuthMode::BadCredentials => {}
    }
    let client_id = tokens.client_id.clone();
    let client_secret = SecretString::from(tokens.client_secret.clone());
    let sim = crate::simulator::start(SimulatorOptions {
        tokens,
        rate_limits: options.rate_limits,
        ..SimulatorOptions::default()
    })
    .await
    .expect("simulator starts");
    let auth = match options.auth {
        AuthMode::StaticToken => AuthConfig::StaticToken {
            token: SecretString::from(API_TOKEN),
        },
        AuthMode::OAuthRefresh | AuthMode::BadCredentials => AuthConfig::OAuth2Refresh {
            client_id,
            client_secret,
            refresh_token: SecretString::from(if options.auth == AuthMode::OAuthRefresh {
                INITIAL_REFRESH_TOKEN
            } else {
                "sim-rt-never-issued"
            }),
            token_url: None,
        },
    };
    let mut config = PipedriveConfig::new(sim.url(), auth);
    config.oauth_url = sim.url();
    config.http = HttpSettings {
        timeout: options.timeout,
        retry: options.retry.clone(),
        rate_limit: options.rate_limits.then_some(DEFAULT_RATE_LIMIT),
        daily_cap: options.daily_cap,
    };
    config.search_rate_limit = options.rate_limits.then_some(DEFAULT_SEARCH_RATE_LIMIT);
    let rotated = RotatedTokens::default();
    let connector =
        PipedriveConnector::new(config, Some(Arc::new(rotated.clone()))).expect("connector builds");
    Setup {
        connector: Arc::new(connector),
        control: sim.control.clone(),
        rotated,
        guard: Box::new(sim.server),
    }
}

#[async_trait]
impl Target for PipedriveTarget {
    fn object(&self) -> &'static str {
        "persons"
    }

    fn key_field(&self) -> &'static str {
        "email"
    }

    fn fields(&self) -> Vec<String> {
        [
            "name",
            "first_name",
            "last_name",
            "email",
            "phone",
            "owner_id",
            SCORE_FIELD,
            CAMPAIGN_FIELD,
        ]
        .iter()
        .map(|s| (*s).to_owned())
        .collect()
    }

    fn valid_record(&self, i: u64) -> Fields {
        let mut f = Fields::new();
        f.insert("name".into(), json!(format!("Test Person {i}")));
        f.insert(
            "email".into(),
            json!(format!("test.person.{i}@conformance.example")),
        );
        f.insert(SCORE_FIELD.into(), json!(i % 100));
        f
    }

    fn invalid_record(&self, i: u64) -> Fields {
        // No name: Pipedrive requires one.
        let mut f = Fields::new();
        f.insert(
            "email".into(),
            json!(format!("broken.{i}@conformance.example")),
        );
        f
    }

    fn update(&self) -> (String, serde_json::Value) {
        (CAMPAIGN_FIELD.into(), json!("webinar-2027-q1"))
    }

    fn page_max(&self) -> usize {
        crate::PAGE_LIMIT
    }

    async fn setup(&self, options: SetupOptions) -> Setup {
        setup(options).await
    }
}
