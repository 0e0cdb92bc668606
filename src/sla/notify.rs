//! Escalation notices to a chat channel: a Slack-compatible incoming
//! webhook (`{"text": "…"}` as JSON, which Slack, Mattermost, Rocket.Chat
//! and Teams' Slack-compatible connectors all accept).
//!
//! The URL is a credential (anyone holding a Slack webhook URL can post):
//! it comes from a secret reference and is never logged; errors name the
//! reference and the HTTP status only.

use std::time::Duration;

use secrecy::ExposeSecret;

use crate::config::Webhook;

/// Why a notice was not delivered.
#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    /// The request did not complete (connection refused, timeout).
    #[error("webhook {reference}: request failed: {reason}")]
    Request {
        /// The secret reference (never the URL).
        reference: String,
        /// What failed, without the URL.
        reason: String,
    },
    /// The receiver answered with an error status.
    #[error("webhook {reference}: HTTP {status}")]
    Status {
        /// The secret reference.
        reference: String,
        /// The status code.
        status: u16,
    },
}

/// Posts notices; one HTTP client for the process.
#[derive(Debug, Clone)]
pub struct Notifier {
    /// `None` when no HTTP client could be built (no TLS backend): every
    /// send then fails with a clear error instead of panicking.
    client: Option<reqwest::Client>,
}

impl Default for Notifier {
    fn default() -> Self {
        Self::new()
    }
}

impl Notifier {
    /// A notifier with a short timeout (a slow chat must not hold a cycle).
    pub fn new() -> Self {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .ok();
        Self { client }
    }

    /// Posts `{"text": text}` to the webhook.
    pub async fn send(&self, webhook: &Webhook, text: &str) -> Result<(), NotifyError> {
        let body = serde_json::json!({ "text": text });
        let client = self.client.as_ref().ok_or_else(|| NotifyError::Request {
            reference: webhook.reference.clone(),
            reason: "no HTTP client could be built".into(),
        })?;
        let response = client
            .post(webhook.url.expose_secret())
            .json(&body)
            .send()
            .await
            .map_err(|e| NotifyError::Request {
                reference: webhook.reference.clone(),
                // reqwest's message names the URL; keep only its kind.
                reason: if e.is_timeout() {
                    "timed out".into()
                } else if e.is_connect() {
                    "could not connect".into()
                } else {
                    "transport error".into()
                },
            })?;
        let status = response.status();
        if status.is_success() {
            Ok(())
        } else {
            Err(NotifyError::Status {
                reference: webhook.reference.clone(),
                status: status.as_u16(),
            })
        }
    }
}
