//! The conformance target: a fresh simulator and a connector pointed at it
//! for each case of `leadbridge-conformance`.

use std::sync::Arc;

use async_trait::async_trait;
use leadbridge_conformance::{AuthMode, RotatedTokens, Setup, SetupOptions, Target};
use leadbridge_core::auth::AuthConfig;
use leadbridge_core::http::{HttpSettings, RateLimit};
use leadbridge_core::sim::{SimulatorOptions, TokenSettings};
use leadbridge_core::Fields;
use secrecy::SecretString;
use serde_json::json;

use crate::{SalesforceConfig, SalesforceConnector};

/// The static session id the simulator accepts in static-token cases.
pub const STATIC_TOKEN: &str = "sim-session-00DDn00000000001";
/// The refresh token the simulator accepts first in OAuth cases.
pub const INITIAL_REFRESH_TOKEN: &str = "sim-rt-initial";

/// Salesforce as the suite sees it: Leads keyed on the External ID field
/// `Leadbridge_Id__c`, so batch writes are idempotent upserts (Email is not
/// an upsert key in Salesforce).
#[derive(Debug, Clone, Copy, Default)]
pub struct SalesforceTarget;

#[async_trait]
impl Target for SalesforceTarget {
    fn object(&self) -> &'static str {
        "Lead"
    }

    fn key_field(&self) -> &'static str {
        "Leadbridge_Id__c"
    }

    fn fields(&self) -> Vec<String> {
        [
            "FirstName",
            "LastName",
            "Email",
            "Company",
            "Status",
            "Title",
            "Lead_Score__c",
            "Leadbridge_Id__c",
        ]
        .iter()
        .map(|s| (*s).to_owned())
        .collect()
    }

    fn valid_record(&self, i: u64) -> Fields {
        let mut f = Fields::new();
        f.insert("FirstName".into(), json!("Test"));
        f.insert("LastName".into(), json!(format!("Lead {i}")));
        f.insert("Company".into(), json!("Conformance Inc"));
        f.insert(
            "Email".into(),
            json!(format!("test.lead.{i}@conformance.example")),
        );
        f.insert("Lead_Score__c".into(), json!(i % 100));
        f.insert("Leadbridge_Id__c".into(), json!(format!("lb-{i:08}")));
        f
    }

    fn invalid_record(&self, i: u64) -> Fields {
        // No LastName, no Company: REQUIRED_FIELD_MISSING.
        let mut f = Fields::new();
        f.insert("FirstName".into(), json!("Broken"));
        f.insert(
            "Email".into(),
            json!(format!("broken.{i}@conformance.example")),
        );
        f.insert("Leadbridge_Id__c".into(), json!(format!("lb-{i:08}")));
        f
    }

    fn update(&self) -> (String, serde_json::Value) {
        ("Title".into(), json!("Head of Revenue"))
    }

    fn page_max(&self) -> usize {
        2000
    }

    async fn setup(&self, options: SetupOptions) -> Setup {
        let mut tokens = TokenSettings::default();
        match options.auth {
            AuthMode::StaticToken => tokens.static_tokens = vec![STATIC_TOKEN.into()],
            AuthMode::OAuthRefresh => {
                tokens.initial_refresh_token = Some(INITIAL_REFRESH_TOKEN.into())
            }
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
                token: SecretString::from(STATIC_TOKEN),
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
        let mut config = SalesforceConfig::new(sim.url(), auth);
        config.http = HttpSettings {
            timeout: options.timeout,
            retry: options.retry.clone(),
            rate_limit: options
                .rate_limits
                .then(|| RateLimit::new(10, std::time::Duration::from_secs(1))),
            daily_cap: options.daily_cap,
        };
        let rotated = RotatedTokens::default();
        let connector = SalesforceConnector::new(config, Some(Arc::new(rotated.clone())))
            .expect("connector builds");
        Setup {
            connector: Arc::new(connector),
            control: sim.control.clone(),
            rotated,
            guard: Box::new(sim.server),
        }
    }
}
