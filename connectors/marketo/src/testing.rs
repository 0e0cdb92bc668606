//! The Marketo connector as a conformance-suite [`Target`]: starts a fresh
//! simulator per case and points a connector at it, so the shared suite
//! (`leadbridge_conformance::conformance_tests!`) runs against Marketo.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use leadbridge_conformance::{AuthMode, ChangeCalls, RotatedTokens, Setup, SetupOptions, Target};
use leadbridge_core::auth::{AuthConfig, RefreshTokenSink};
use leadbridge_core::http::HttpSettings;
use leadbridge_core::sim::{SimulatorOptions, TokenSettings};
use leadbridge_core::{ActivityKind, Fields};
use serde_json::{json, Value};

use crate::{MarketoConfig, MarketoConnector, DEFAULT_RATE_LIMIT};

/// An access token the test simulators accept as if issued out of band.
pub const STATIC_TOKEN: &str = "sim-marketo-conformance-token:int";

/// Marketo leads keyed by email, for the conformance suite.
#[derive(Debug, Clone, Copy, Default)]
pub struct MarketoTarget;

/// The token settings the test simulators run with: Marketo's one-hour
/// tokens, plus [`STATIC_TOKEN`].
pub fn token_settings() -> TokenSettings {
    TokenSettings {
        static_tokens: vec![STATIC_TOKEN.into()],
        access_lifetime: Duration::from_secs(3600),
        rotate_refresh_tokens: false,
        ..TokenSettings::default()
    }
}

/// Starts a simulator and a connector for `options`, as the suite does;
/// also used by this crate's own connector tests.
pub async fn setup(options: SetupOptions) -> Setup {
    setup_with(options, |_| {}).await
}

/// [`setup`], with the connector's config changed by `tweak` before the
/// connector is built.
pub async fn setup_with(options: SetupOptions, tweak: impl FnOnce(&mut MarketoConfig)) -> Setup {
    let tokens = token_settings();
    let sim = crate::simulator::start(SimulatorOptions {
        tokens: tokens.clone(),
        rate_limits: options.rate_limits,
        ..SimulatorOptions::default()
    })
    .await
    .expect("the simulator starts");
    let client_credentials = |secret: &str| AuthConfig::ClientCredentials {
        client_id: tokens.client_id.clone(),
        client_secret: secret.to_owned().into(),
        token_url: None,
        scopes: Vec::new(),
    };
    let auth = match options.auth {
        AuthMode::StaticToken => AuthConfig::StaticToken {
            token: STATIC_TOKEN.to_owned().into(),
        },
        // Marketo's grant is client credentials (no refresh tokens).
        AuthMode::OAuthRefresh => client_credentials(&tokens.client_secret),
        AuthMode::BadCredentials => client_credentials("not-the-secret"),
    };
    let mut config = MarketoConfig::new(sim.url(), auth);
    config.http = HttpSettings {
        timeout: options.timeout,
        retry: options.retry.clone(),
        rate_limit: options.rate_limits.then_some(DEFAULT_RATE_LIMIT),
        daily_cap: options.daily_cap,
    };
    // Marketo's 606 carries no Retry-After: the connector waits a window of
    // its own choosing (20 s by default). The suite's rate-limit case asks
    // for one-second waits, so the target waits one second.
    config.rate_limit_wait = Duration::from_secs(1);
    config.overlap = Duration::from_secs(120);
    config.paging_token_timeout = options.timeout;
    config.note_activity = Some(crate::simulator::note_activity());
    tweak(&mut config);
    let rotated = RotatedTokens::default();
    let sink: Arc<dyn RefreshTokenSink> = Arc::new(rotated.clone());
    let connector = MarketoConnector::new(config, Some(sink)).expect("the connector builds");
    Setup {
        connector: Arc::new(connector),
        control: sim.control.clone(),
        rotated,
        guard: Box::new(sim),
    }
}

#[async_trait]
impl Target for MarketoTarget {
    fn object(&self) -> &'static str {
        crate::OBJECT
    }

    fn key_field(&self) -> &'static str {
        "email"
    }

    fn fields(&self) -> Vec<String> {
        [
            "email",
            "firstName",
            "lastName",
            "company",
            "title",
            "leadStatus",
        ]
        .map(String::from)
        .to_vec()
    }

    fn valid_record(&self, i: u64) -> Fields {
        let v = json!({
            "email": format!("conformance.{i}@leadbridge-test.example"),
            "firstName": format!("Test{i}"),
            "lastName": "Conformance",
            "company": "Leadbridge Test Co",
            "leadStatus": "New",
        });
        v.as_object().cloned().unwrap_or_default()
    }

    fn invalid_record(&self, i: u64) -> Fields {
        // Text in an integer field: Marketo skips this record with 1001
        // "Invalid value 'lots'. Required of type 'integer'".
        let v = json!({
            "email": format!("invalid.{i}@leadbridge-test.example"),
            "firstName": format!("Bad{i}"),
            "numberOfEmployees": "lots",
        });
        v.as_object().cloned().unwrap_or_default()
    }

    fn update(&self) -> (String, Value) {
        ("title".into(), Value::String("VP Revenue".into()))
    }

    fn page_max(&self) -> usize {
        crate::changes::PAGE_LIMIT
    }

    fn change_calls(&self) -> ChangeCalls {
        // A page: the activity log, then the changed leads by id. A pass:
        // the paging token, then (from a cursor) the merge feed; deleted
        // leads add one more with include_archived, which the counting
        // cases do not use.
        ChangeCalls {
            per_page: 2,
            per_pass: 2,
        }
    }

    fn activity_kinds(&self) -> Vec<ActivityKind> {
        vec![ActivityKind::Note]
    }

    fn rotates_refresh_tokens(&self) -> bool {
        false
    }

    async fn setup(&self, options: SetupOptions) -> Setup {
        setup(options).await
    }
}
