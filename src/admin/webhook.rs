//! `POST /webhooks/<kind>`: a tool pushes, leadbridge polls at once.
//!
//! A webhook is a hint, not data: a verified delivery triggers an
//! immediate cycle of every pipeline that reads or writes a connector whose
//! verifier accepted it, and that cycle reads the changes through the same
//! cursor rule as a scheduled one. So a lost, duplicated or reordered
//! delivery can never lose or duplicate a change; the schedule stays the
//! safety net.
//!
//! Verification is the tool's (`ConnectorSpec::webhook`, in its crate: the
//! signature scheme, the body's events); each configured connector of that
//! kind with a webhook secret is asked, and the delivery is accepted when
//! one verifies it. Senders retry failed deliveries and do not guarantee
//! order, so events are deduplicated by id (the last [`SEEN_CAPACITY`] ids
//! per kind are remembered). Answers: 200 for a verified delivery (also
//! when every event was a duplicate), 400 for a verified but unreadable
//! body (senders do not retry a 400), 401 for a bad or stale signature, 404
//! when no connector of that kind has a webhook secret.

use std::collections::{HashSet, VecDeque};
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{OriginalUri, Path, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use leadbridge_core::webhook::{WebhookRefusal, WebhookRequest, WebhookVerifier};
use serde_json::json;

use super::commands::AdminCommand;
use super::state::AdminState;
use crate::metrics::{WebhookOutcome, WebhookReceived};

/// How many event ids are remembered for deduplication.
pub const SEEN_CAPACITY: usize = 20_000;

/// A connector that verifies its tool's pushes.
#[derive(Clone)]
pub struct WebhookEndpoint {
    /// The tool (`/webhooks/<kind>`).
    pub kind: &'static str,
    /// The connector's config name; pipelines using it are triggered.
    pub connector: String,
    /// Its verifier, holding the connector's secret.
    pub verifier: Arc<dyn WebhookVerifier>,
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

/// The handler.
pub(crate) async fn receive(
    State(state): State<AdminState>,
    Path(kind): Path<String>,
    method: Method,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let topology = state.topology();
    let endpoints: Vec<&WebhookEndpoint> = topology
        .webhooks
        .iter()
        .filter(|e| e.kind == kind)
        .collect();
    let Some(source) = endpoints.first().map(|e| e.kind) else {
        return (
            StatusCode::NOT_FOUND,
            Json(json!({"error": format!("no `{kind}` connector has a webhook secret")})),
        )
            .into_response();
    };
    let report = |outcome, events, new_events, triggered: &[String]| {
        WebhookReceived {
            source,
            outcome,
            events,
            new_events,
            triggered,
        }
        .emit()
    };
    let path_and_query = uri
        .path_and_query()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| uri.path().to_owned());
    let request = WebhookRequest {
        method: method.as_str(),
        path_and_query: &path_and_query,
        headers: &headers,
        body: &body,
        now: state.inner.clock.now(),
    };
    let mut accepted = Vec::new();
    let mut delivery = None;
    let mut refusal = WebhookRefusal::BadSignature;
    for endpoint in &endpoints {
        match endpoint.verifier.verify(&request) {
            Ok(d) => {
                accepted.push(endpoint.connector.clone());
                delivery.get_or_insert(d);
            }
            // The most telling refusal wins: a body that verified but is
            // unreadable, then a stale timestamp, then a bad signature.
            Err(r @ WebhookRefusal::Malformed(_)) => refusal = r,
            Err(WebhookRefusal::Stale) if refusal == WebhookRefusal::BadSignature => {
                refusal = WebhookRefusal::Stale
            }
            Err(_) => {}
        }
    }
    let Some(delivery) = delivery else {
        let (status, outcome) = match refusal {
            WebhookRefusal::Malformed(_) => (StatusCode::BAD_REQUEST, WebhookOutcome::Malformed),
            WebhookRefusal::Stale => (StatusCode::UNAUTHORIZED, WebhookOutcome::Stale),
            WebhookRefusal::BadSignature => {
                (StatusCode::UNAUTHORIZED, WebhookOutcome::BadSignature)
            }
        };
        report(outcome, 0, 0, &[]);
        return (status, Json(json!({"error": refusal.to_string()}))).into_response();
    };
    let events = delivery.event_ids.len();
    let new_events = {
        let mut seen = state
            .inner
            .seen_events
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        delivery
            .event_ids
            .into_iter()
            .filter(|id| seen.insert(format!("{kind}:{id}")))
            .count()
    };
    if new_events == 0 {
        report(WebhookOutcome::Duplicate, events, 0, &[]);
        return (
            StatusCode::OK,
            Json(json!({"events": events, "new": 0, "triggered": []})),
        )
            .into_response();
    }
    tracing::debug!(types = ?delivery.event_types, "webhook event types");
    let triggered = trigger_pipelines(&state, &accepted);
    report(WebhookOutcome::Accepted, events, new_events, &triggered);
    (
        StatusCode::OK,
        Json(json!({"events": events, "new": new_events, "triggered": triggered})),
    )
        .into_response()
}

/// Asks for a cycle of every pipeline using one of `connectors` on either
/// side; returns their names. A full queue is not an error here: the
/// pipeline already has a run waiting, or the schedule catches up.
fn trigger_pipelines(state: &AdminState, connectors: &[String]) -> Vec<String> {
    let topology = state.topology();
    let mut triggered = Vec::new();
    for s in &topology.pipelines {
        let p = &s.pipeline;
        let uses = [&p.marketing, &p.crm]
            .iter()
            .any(|e| connectors.contains(&e.connector_name));
        if !uses {
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
