//! What the round-2 tests share: a simulator with its org controls, a
//! connector pointed at it, and a raw HTTP client for the simulator tests.
#![allow(dead_code)]

use std::time::Duration;

use leadbridge_core::auth::AuthConfig;
use leadbridge_core::http::{HttpSettings, RetryPolicy};
use leadbridge_core::sim::{RunningSimulator, SimulatorOptions, TokenSettings};
use leadbridge_core::Fields;
use leadbridge_salesforce::simulator::org::Org;
use leadbridge_salesforce::testing::STATIC_TOKEN;
use leadbridge_salesforce::{SalesforceConfig, SalesforceConnector};
use reqwest::StatusCode;
use secrecy::SecretString;
use serde_json::Value;

/// A simulator without rate limits, and its org controls.
pub async fn sim() -> (RunningSimulator, Org) {
    leadbridge_salesforce::simulator::start_with_org(SimulatorOptions {
        tokens: TokenSettings {
            static_tokens: vec![STATIC_TOKEN.into()],
            ..TokenSettings::default()
        },
        rate_limits: false,
        ..SimulatorOptions::default()
    })
    .await
    .unwrap()
}

/// Settings for a connector to `sim`, with short retry waits.
pub fn config(sim: &RunningSimulator) -> SalesforceConfig {
    let mut config = SalesforceConfig::new(
        sim.url(),
        AuthConfig::StaticToken {
            token: SecretString::from(STATIC_TOKEN),
        },
    );
    config.http = HttpSettings {
        retry: RetryPolicy {
            max_attempts: 5,
            base_delay: Duration::from_millis(2),
            max_delay: Duration::from_millis(20),
            max_total_wait: Duration::from_secs(5),
        },
        ..HttpSettings::default()
    };
    config
}

/// A connector to `sim` with [`config`].
pub fn connector(sim: &RunningSimulator) -> SalesforceConnector {
    SalesforceConnector::new(config(sim), None).unwrap()
}

/// Fields from pairs.
pub fn fields(pairs: &[(&str, Value)]) -> Fields {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), v.clone()))
        .collect()
}

/// A lead's fields.
pub fn lead(first: &str, last: &str, company: &str, email: &str) -> Fields {
    fields(&[
        ("FirstName", first.into()),
        ("LastName", last.into()),
        ("Company", company.into()),
        ("Email", email.into()),
    ])
}

/// Inserts one record through the control surface; its id.
pub fn insert(sim: &RunningSimulator, object: &str, f: Fields) -> String {
    sim.control.insert(object, vec![f]).unwrap().remove(0)
}

/// The simulator's REST API, raw.
pub struct Api {
    pub http: reqwest::Client,
    pub base: String,
    pub version: &'static str,
}

impl Api {
    pub fn new(sim: &RunningSimulator) -> Self {
        Self {
            http: reqwest::Client::new(),
            base: sim.url(),
            version: "62.0",
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}/services/data/v{}{path}", self.base, self.version)
    }

    pub async fn send(&self, req: reqwest::RequestBuilder) -> (StatusCode, Value) {
        let r = req.bearer_auth(STATIC_TOKEN).send().await.unwrap();
        let status = r.status();
        let text = r.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    pub async fn get(&self, path: &str) -> (StatusCode, Value) {
        self.send(self.http.get(self.url(path))).await
    }

    pub async fn post(&self, path: &str, body: &Value) -> (StatusCode, Value) {
        self.send(self.http.post(self.url(path)).json(body)).await
    }

    pub async fn patch(&self, path: &str, body: &Value) -> (StatusCode, Value) {
        self.send(self.http.patch(self.url(path)).json(body)).await
    }

    pub async fn delete(&self, path: &str) -> (StatusCode, Value) {
        self.send(self.http.delete(self.url(path))).await
    }

    /// Every record of a query (`all`: through `queryAll`).
    pub async fn query(&self, soql: &str, all: bool) -> Vec<Value> {
        let resource = if all { "/queryAll" } else { "/query" };
        let (status, mut page) = self
            .send(self.http.get(self.url(resource)).query(&[("q", soql)]))
            .await;
        assert_eq!(status, StatusCode::OK, "{page}");
        let mut out = Vec::new();
        loop {
            out.extend(page["records"].as_array().cloned().unwrap_or_default());
            let Some(next) = page["nextRecordsUrl"].as_str().map(str::to_owned) else {
                return out;
            };
            page = self
                .send(self.http.get(format!("{}{next}", self.base)))
                .await
                .1;
        }
    }
}
