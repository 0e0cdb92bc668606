//! `POST /webhooks/hubspot`: HubSpot pushes, leadbridge polls at once.
//!
//! A webhook is a hint, not data: a verified delivery triggers an
//! immediate cycle of every pipeline that reads or writes a HubSpot
//! connector, and that cycle reads the changes through the same cursor
//! rule as a scheduled one. So a lost, duplicated or reordered delivery
//! can never lose or duplicate a change; the schedule stays the safety net.
//!
//! Verification follows HubSpot's v3 signature (SEMANTICS.md §1
//! "Webhooks"): `X-HubSpot-Signature-v3` is
//! `base64(HMAC-SHA256(client_secret, METHOD + URI + body + timestamp))`
//! with `X-HubSpot-Request-Timestamp` in epoch milliseconds; deliveries
//! older (or further in the future) than five minutes are refused. The URI
//! is the full URL HubSpot posted to, which behind a TLS proxy is not the
//! one this server sees: it is rebuilt from `X-Forwarded-Proto` /
//! `X-Forwarded-Host` (else `Host`), trying both schemes when the proxy
//! does not say, and with and without HubSpot's documented
//! percent-decoding. Each candidate is checked with the HMAC's own
//! constant-time comparison; none matching is a 401.
//!
//! HubSpot retries failed deliveries and does not guarantee order, so
//! events are deduplicated by `eventId` (the last [`SEEN_CAPACITY`] ids are
//! remembered). Answers: 200 for a verified delivery (also when every
//! event was a duplicate), 400 for a verified but unreadable body (HubSpot
//! does not retry a 400), 401 for a bad or stale signature, 404 when no
//! `hubspot_webhook_secret` is configured.

use std::collections::{HashSet, VecDeque};

use axum::body::Bytes;
use axum::extract::{OriginalUri, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use base64::Engine;
use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::{json, Value};
use sha2::Sha256;

use super::commands::AdminCommand;
use super::state::AdminState;
use crate::metrics::{WebhookOutcome, WebhookReceived};

/// The signature header.
pub const SIGNATURE_HEADER: &str = "x-hubspot-signature-v3";
/// The timestamp header (epoch milliseconds).
pub const TIMESTAMP_HEADER: &str = "x-hubspot-request-timestamp";
/// The oldest delivery accepted, in milliseconds (HubSpot's SDKs use 300 s).
pub const MAX_AGE_MS: i64 = 5 * 60 * 1000;
/// How many event ids are remembered for deduplication.
pub const SEEN_CAPACITY: usize = 20_000;

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

/// The event ids seen lately, oldest first out.
#[derive(Debug, Default)]
pub(crate) struct SeenEvents {
    order: VecDeque<String>,
    set: HashSet<String>,
}

impl SeenEvents {
    /// True when `id` is new (and remembers it).
    fn insert(&mut self, id: String) -> bool {
        if self.set.contains(&id) {
            return false;
        }
        if self.order.len() >= SEEN_CAPACITY {
            if let Some(old) = self.order.pop_front() {
                self.set.remove(&old);
            }
        }
        self.set.insert(id.clone());
        self.order.push_back(id);
        true
    }
}

/// One event of a delivery; only what deduplication and logs need.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct HubSpotEvent {
    event_id: Value,
    #[serde(default)]
    subscription_type: Option<String>,
}

/// The URIs HubSpot may have signed for this request.
fn candidate_uris(headers: &HeaderMap, uri: &axum::http::Uri) -> Vec<String> {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.split(',').next().unwrap_or(v).trim().to_owned())
    };
    let path = uri
        .path_and_query()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| uri.path().to_owned());
    let hosts: Vec<String> = [header("x-forwarded-host"), header("host")]
        .into_iter()
        .flatten()
        .collect();
    let schemes: Vec<String> = match header("x-forwarded-proto") {
        Some(p) => vec![p],
        None => vec!["https".into(), "http".into()],
    };
    let mut out = Vec::new();
    for host in &hosts {
        for scheme in &schemes {
            let full = format!("{scheme}://{host}{path}");
            let decoded = percent_decode_reserved(&full);
            if decoded != full {
                out.push(decoded);
            }
            out.push(full);
        }
    }
    out
}

/// HubSpot's v3 docs decode these escapes before signing.
fn percent_decode_reserved(uri: &str) -> String {
    const CODES: [(&str, &str); 12] = [
        ("%3A", ":"),
        ("%2F", "/"),
        ("%3F", "?"),
        ("%40", "@"),
        ("%21", "!"),
        ("%24", "$"),
        ("%27", "'"),
        ("%28", "("),
        ("%29", ")"),
        ("%2A", "*"),
        ("%2C", ","),
        ("%3B", ";"),
    ];
    let mut out = uri.to_owned();
    for (code, ch) in CODES {
        out = out.replace(code, ch).replace(&code.to_lowercase(), ch);
    }
    out
}

/// Why a delivery was refused before its body was read.
enum Refusal {
    Stale,
    BadSignature,
}

fn verify(
    secret: &SecretString,
    method: &Method,
    headers: &HeaderMap,
    uri: &axum::http::Uri,
    body: &[u8],
    now_ms: i64,
) -> Result<(), Refusal> {
    let timestamp = headers
        .get(TIMESTAMP_HEADER)
        .and_then(|v| v.to_str().ok())
        .ok_or(Refusal::Stale)?;
    let sent: i64 = timestamp.trim().parse().map_err(|_| Refusal::Stale)?;
    if (now_ms - sent).abs() > MAX_AGE_MS {
        return Err(Refusal::Stale);
    }
    let given = headers
        .get(SIGNATURE_HEADER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            base64::engine::general_purpose::STANDARD
                .decode(v.trim())
                .ok()
        })
        .ok_or(Refusal::BadSignature)?;
    let secret = secret.expose_secret();
    let mut ok = false;
    for candidate in candidate_uris(headers, uri) {
        // Every candidate is checked, so the time taken does not say which matched.
        ok |= mac(secret, method.as_str(), &candidate, body, timestamp)
            .verify_slice(&given)
            .is_ok();
    }
    if ok {
        Ok(())
    } else {
        Err(Refusal::BadSignature)
    }
}

/// The handler.
pub(crate) async fn hubspot(
    State(state): State<AdminState>,
    method: Method,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some(secret) = state.inner.webhook_secret.as_ref() else {
        return (
            StatusCode::NOT_FOUND,
            Json(json!({"error": "webhooks are not configured (hubspot_webhook_secret)"})),
        )
            .into_response();
    };
    let now_ms = state.inner.clock.now().as_millisecond();
    let report = |outcome, events, new_events, triggered: &[String]| {
        WebhookReceived {
            source: "hubspot",
            outcome,
            events,
            new_events,
            triggered,
        }
        .emit()
    };
    if let Err(refusal) = verify(secret, &method, &headers, &uri, &body, now_ms) {
        let (outcome, message) = match refusal {
            Refusal::Stale => (WebhookOutcome::Stale, "missing or stale timestamp"),
            Refusal::BadSignature => (WebhookOutcome::BadSignature, "bad signature"),
        };
        report(outcome, 0, 0, &[]);
        return (StatusCode::UNAUTHORIZED, Json(json!({"error": message}))).into_response();
    }
    let events: Vec<HubSpotEvent> = match serde_json::from_slice(&body) {
        Ok(events) => events,
        Err(_) => {
            report(WebhookOutcome::Malformed, 0, 0, &[]);
            return (
                StatusCode::BAD_REQUEST,
                Json(json!({"error": "the body is not a JSON array of events"})),
            )
                .into_response();
        }
    };
    let new_events = {
        let mut seen = state
            .inner
            .seen_events
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        events
            .iter()
            .filter(|e| {
                let id = match &e.event_id {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                seen.insert(id)
            })
            .count()
    };
    if new_events == 0 {
        report(WebhookOutcome::Duplicate, events.len(), 0, &[]);
        return (
            StatusCode::OK,
            Json(json!({"events": events.len(), "new": 0, "triggered": []})),
        )
            .into_response();
    }
    let types: Vec<&str> = events
        .iter()
        .filter_map(|e| e.subscription_type.as_deref())
        .collect();
    tracing::debug!(?types, "webhook event types");
    let triggered = trigger_hubspot_pipelines(&state);
    report(
        WebhookOutcome::Accepted,
        events.len(),
        new_events,
        &triggered,
    );
    (
        StatusCode::OK,
        Json(json!({"events": events.len(), "new": new_events, "triggered": triggered})),
    )
        .into_response()
}

/// Asks for a cycle of every pipeline with a HubSpot connector on either
/// side; returns their names. A full queue is not an error here: the
/// pipeline already has a run waiting, or the schedule catches up.
fn trigger_hubspot_pipelines(state: &AdminState) -> Vec<String> {
    let topology = state.topology();
    let mut triggered = Vec::new();
    for s in &topology.pipelines {
        let p = &s.pipeline;
        let uses_hubspot = [&p.marketing, &p.crm]
            .iter()
            .any(|e| e.connector.kind() == "hubspot");
        if !uses_hubspot {
            continue;
        }
        let command = AdminCommand::RunNow {
            pipeline: p.name.clone(),
            reason: "webhook",
        };
        match state.send(command) {
            Ok(()) => triggered.push(p.name.clone()),
            Err(e) => tracing::debug!(pipeline = %p.name, error = %e, "webhook run not queued"),
        }
    }
    triggered
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signature_is_accepted_for_the_url_hubspot_signed() {
        let secret = SecretString::from("app-secret");
        let body = br#"[{"eventId":1}]"#;
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
        let uri: axum::http::Uri = "/webhooks/hubspot?x=1".parse().unwrap();
        let now = 1_700_000_060_000;
        assert!(verify(&secret, &Method::POST, &headers, &uri, body, now).is_ok());
        assert!(verify(&secret, &Method::POST, &headers, &uri, b"[]", now).is_err());
        assert!(verify(
            &secret,
            &Method::POST,
            &headers,
            &uri,
            body,
            now + MAX_AGE_MS
        )
        .is_err());
        headers.insert("x-forwarded-proto", "http".parse().unwrap());
        assert!(verify(&secret, &Method::POST, &headers, &uri, body, now).is_err());
    }

    #[test]
    fn seen_events_forget_the_oldest() {
        let mut seen = SeenEvents::default();
        assert!(seen.insert("1".into()));
        assert!(!seen.insert("1".into()));
        for i in 2..=(SEEN_CAPACITY + 1) {
            seen.insert(i.to_string());
        }
        assert!(seen.insert("1".into()), "the oldest id was forgotten");
    }
}
