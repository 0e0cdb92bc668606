//! HubSpot's v3 webhook signature (SEMANTICS.md §1 "Webhooks").
//!
//! `X-HubSpot-Signature-v3` is `base64(HMAC-SHA256(app secret, method, URI,
//! body, timestamp concatenated))` with `X-HubSpot-Request-Timestamp` in epoch
//! milliseconds; deliveries older than five minutes are refused (HubSpot's
//! SDKs use 300 s). The URI is the full URL HubSpot posted to, which behind
//! a TLS proxy is not the one the daemon sees, so every URL the request may
//! have been signed for is tried
//! ([`leadbridge_core::webhook::signed_url_candidates`]). HubSpot retries
//! failed deliveries and does not guarantee order: the body's `eventId`s
//! let the daemon drop repeats.

use base64::Engine;
use hmac::{Hmac, Mac};
use leadbridge_core::webhook::{
    signed_url_candidates, WebhookDelivery, WebhookRefusal, WebhookRequest, WebhookVerifier,
};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::Value;
use sha2::Sha256;

/// The signature header.
pub const SIGNATURE_HEADER: &str = "x-hubspot-signature-v3";
/// The timestamp header (epoch milliseconds).
pub const TIMESTAMP_HEADER: &str = "x-hubspot-request-timestamp";
/// The oldest delivery accepted, in milliseconds.
pub const MAX_AGE_MS: i64 = 5 * 60 * 1000;

/// The v3 signature of a delivery: what HubSpot sends and what tests compute.
pub fn signature_v3(secret: &str, method: &str, uri: &str, body: &[u8], timestamp: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(
        mac(secret, method, uri, body, timestamp)
            .finalize()
            .into_bytes(),
    )
}

fn mac(secret: &str, method: &str, uri: &str, body: &[u8], timestamp: &str) -> Hmac<Sha256> {
    // HMAC accepts keys of any length; this cannot fail.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC takes any key length"));
    mac.update(method.as_bytes());
    mac.update(uri.as_bytes());
    mac.update(body);
    mac.update(timestamp.as_bytes());
    mac
}

/// One event of a delivery; only what deduplication and logs need.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Event {
    event_id: Value,
    #[serde(default)]
    subscription_type: Option<String>,
}

/// Verifies deliveries signed with one app's client secret.
pub struct V3Verifier {
    secret: SecretString,
}

impl V3Verifier {
    /// A verifier for the app whose client secret is `secret`.
    pub fn new(secret: SecretString) -> Self {
        Self { secret }
    }
}

impl WebhookVerifier for V3Verifier {
    fn verify(&self, request: &WebhookRequest<'_>) -> Result<WebhookDelivery, WebhookRefusal> {
        let headers = request.headers;
        let timestamp = headers
            .get(TIMESTAMP_HEADER)
            .and_then(|v| v.to_str().ok())
            .ok_or(WebhookRefusal::Stale)?;
        let sent: i64 = timestamp
            .trim()
            .parse()
            .map_err(|_| WebhookRefusal::Stale)?;
        if (request.now.as_millisecond() - sent).abs() > MAX_AGE_MS {
            return Err(WebhookRefusal::Stale);
        }
        let given = headers
            .get(SIGNATURE_HEADER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| {
                base64::engine::general_purpose::STANDARD
                    .decode(v.trim())
                    .ok()
            })
            .ok_or(WebhookRefusal::BadSignature)?;
        let secret = self.secret.expose_secret();
        let mut ok = false;
        for candidate in signed_url_candidates(headers, request.path_and_query) {
            // Every candidate is checked, so the time taken does not say which matched.
            ok |= mac(secret, request.method, &candidate, request.body, timestamp)
                .verify_slice(&given)
                .is_ok();
        }
        if !ok {
            return Err(WebhookRefusal::BadSignature);
        }
        let events: Vec<Event> = serde_json::from_slice(request.body)
            .map_err(|_| WebhookRefusal::Malformed("not a JSON array of events".into()))?;
        Ok(WebhookDelivery {
            event_ids: events
                .iter()
                .map(|e| match &e.event_id {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                })
                .collect(),
            event_types: events
                .into_iter()
                .filter_map(|e| e.subscription_type)
                .collect(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderMap;

    fn request<'a>(headers: &'a HeaderMap, body: &'a [u8], now_ms: i64) -> WebhookRequest<'a> {
        WebhookRequest {
            method: "POST",
            path_and_query: "/webhooks/hubspot?x=1",
            headers,
            body,
            now: jiff::Timestamp::from_millisecond(now_ms).unwrap(),
        }
    }

    #[test]
    fn a_signature_is_accepted_for_the_url_hubspot_signed() {
        let verifier = V3Verifier::new(SecretString::from("app-secret"));
        let body = br#"[{"eventId":1,"subscriptionType":"contact.creation"}]"#;
        let ts = "1700000000000";
        let sig = signature_v3(
            "app-secret",
            "POST",
            "https://lb.example.com/webhooks/hubspot?x=1",
            body,
            ts,
        );
        let mut headers = HeaderMap::new();
        headers.insert("host", "lb.example.com".parse().unwrap());
        headers.insert(SIGNATURE_HEADER, sig.parse().unwrap());
        headers.insert(TIMESTAMP_HEADER, ts.parse().unwrap());
        let now = 1_700_000_060_000;
        let delivery = verifier.verify(&request(&headers, body, now)).unwrap();
        assert_eq!(delivery.event_ids, ["1"]);
        assert_eq!(delivery.event_types, ["contact.creation"]);
        assert_eq!(
            verifier.verify(&request(&headers, b"[]", now)),
            Err(WebhookRefusal::BadSignature)
        );
        assert_eq!(
            verifier.verify(&request(&headers, body, now + MAX_AGE_MS)),
            Err(WebhookRefusal::Stale)
        );
        headers.insert("x-forwarded-proto", "http".parse().unwrap());
        assert_eq!(
            verifier.verify(&request(&headers, body, now)),
            Err(WebhookRefusal::BadSignature)
        );
    }

    #[test]
    fn a_verified_body_that_is_not_events_is_malformed() {
        let verifier = V3Verifier::new(SecretString::from("s"));
        let body = b"{}";
        let ts = "1700000000000";
        let sig = signature_v3("s", "POST", "https://h/webhooks/hubspot?x=1", body, ts);
        let mut headers = HeaderMap::new();
        headers.insert("host", "h".parse().unwrap());
        headers.insert(SIGNATURE_HEADER, sig.parse().unwrap());
        headers.insert(TIMESTAMP_HEADER, ts.parse().unwrap());
        assert!(matches!(
            verifier.verify(&request(&headers, body, 1_700_000_000_000)),
            Err(WebhookRefusal::Malformed(_))
        ));
    }
}
