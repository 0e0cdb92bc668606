//! The simulators' control surface (`/__sim`) and the few vendor reads the
//! harness needs, over HTTP as any client would.

use std::collections::BTreeMap;

use anyhow::Context;
use serde_json::{json, Value};

/// A client for one simulator.
pub struct Ctl {
    http: reqwest::Client,
    /// The simulator's base URL.
    pub url: String,
}

impl Ctl {
    /// A client for the simulator at `url`.
    pub fn new(url: &str) -> Self {
        Self {
            http: reqwest::Client::new(),
            url: url.to_owned(),
        }
    }

    /// Requests received per endpoint label since the last reset.
    pub async fn requests(&self) -> anyhow::Result<BTreeMap<String, u64>> {
        Ok(self
            .http
            .get(format!("{}/__sim/requests", self.url))
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?)
    }

    /// Starts counting from zero.
    pub async fn reset_requests(&self) -> anyhow::Result<()> {
        self.http
            .delete(format!("{}/__sim/requests", self.url))
            .send()
            .await?
            .error_for_status()?;
        Ok(())
    }

    /// Moves the simulated clock forward.
    pub async fn advance_clock(&self, ms: u64) -> anyhow::Result<()> {
        self.http
            .post(format!("{}/__sim/clock", self.url))
            .json(&json!({ "advance_ms": ms }))
            .send()
            .await?
            .error_for_status()?;
        Ok(())
    }

    /// Edits a record as a user would.
    pub async fn update(&self, object: &str, id: &str, fields: Value) -> anyhow::Result<()> {
        self.http
            .patch(format!("{}/__sim/records/{object}/{id}", self.url))
            .json(&fields)
            .send()
            .await?
            .error_for_status()
            .with_context(|| format!("updating {object}/{id}"))?;
        Ok(())
    }

    /// The `Id`s a Salesforce SOQL query returns (first page only).
    pub async fn soql_ids(&self, session: &str, soql: &str) -> anyhow::Result<Vec<String>> {
        let page: Value = self
            .http
            .get(format!("{}/services/data/v62.0/query", self.url))
            .query(&[("q", soql)])
            .bearer_auth(session)
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        Ok(page["records"]
            .as_array()
            .map(|rs| {
                rs.iter()
                    .filter_map(|r| r["Id"].as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default())
    }
}
