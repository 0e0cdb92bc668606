//! Injected failures, so every retry and recovery path is exercised against
//! something that fails the way the vendor fails.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

/// One kind of failure.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum FaultKind {
    /// The vendor's 429 (or equivalent) with `Retry-After: retry_after_s`.
    RateLimited {
        /// Seconds in the `Retry-After` header.
        retry_after_s: u64,
    },
    /// A server error with this status (500, 502, 503).
    ServerError {
        /// The status code.
        status: u16,
    },
    /// Wait this long before answering (past the client's timeout, it times out).
    Slow {
        /// Milliseconds to wait.
        delay_ms: u64,
    },
    /// Start a 200 response, then drop the connection mid-body.
    DropConnection,
    /// A 200 whose JSON body is cut short.
    MalformedJson,
    /// Answer as if the presented access token had expired.
    ExpiredToken,
}

/// A rule: which requests fail, how, and how often.
#[derive(Debug, Clone)]
struct Rule {
    kind: FaultKind,
    remaining: Option<u64>,
    rate: Option<f64>,
    path_contains: Option<String>,
}

/// The set of active fault rules of one simulator. Clones share the rules.
#[derive(Debug, Clone)]
pub struct Faults {
    inner: Arc<Mutex<(Vec<Rule>, StdRng)>>,
}

impl Default for Faults {
    fn default() -> Self {
        Self {
            inner: Arc::new(Mutex::new((Vec::new(), StdRng::seed_from_u64(7)))),
        }
    }
}

impl Faults {
    /// Fails the next `count` matching requests (all, when `None`) with
    /// probability `rate` each (always, when `None`). `path_contains`
    /// narrows the rule to paths containing that text.
    pub fn add(
        &self,
        kind: FaultKind,
        count: Option<u64>,
        rate: Option<f64>,
        path_contains: Option<String>,
    ) {
        self.lock().0.push(Rule {
            kind,
            remaining: count,
            rate,
            path_contains,
        });
    }

    /// Removes every rule.
    pub fn clear(&self) {
        self.lock().0.clear();
    }

    /// Reseeds the random choice of which requests fail, for reproducible runs.
    pub fn reseed(&self, seed: u64) {
        self.lock().1 = StdRng::seed_from_u64(seed);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, (Vec<Rule>, StdRng)> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The fault this request gets, if any; consumes one count of its rule.
    pub fn pick(&self, path: &str) -> Option<FaultKind> {
        let mut guard = self.lock();
        let (rules, rng) = &mut *guard;
        let mut chosen = None;
        for rule in rules.iter_mut() {
            if rule.remaining == Some(0) {
                continue;
            }
            if let Some(p) = &rule.path_contains {
                if !path.contains(p.as_str()) {
                    continue;
                }
            }
            if let Some(rate) = rule.rate {
                if !rng.random_bool(rate.clamp(0.0, 1.0)) {
                    continue;
                }
            }
            if let Some(n) = &mut rule.remaining {
                *n -= 1;
            }
            chosen = Some(rule.kind.clone());
            break;
        }
        rules.retain(|r| r.remaining != Some(0));
        chosen
    }
}

/// How one vendor words the failures the fault layer injects.
pub trait VendorErrors: Send + Sync + 'static {
    /// The vendor's rate-limit answer, with `Retry-After`.
    fn rate_limited(&self, retry_after: Duration) -> Response;
    /// The vendor's server-error answer.
    fn server_error(&self, status: StatusCode) -> Response;
    /// The vendor's answer to an expired access token.
    fn token_expired(&self) -> Response;
}

/// Axum middleware state for [`fault_layer`].
pub type FaultState = (Faults, Arc<dyn VendorErrors>);

/// Middleware that injects the configured faults into every request except
/// the control surface. Install with
/// `axum::middleware::from_fn_with_state((faults, errors), fault_layer)`.
pub async fn fault_layer(
    State((faults, errors)): State<FaultState>,
    request: Request,
    next: Next,
) -> Response {
    let path = request.uri().path().to_owned();
    if path.starts_with(super::CONTROL_PREFIX) {
        return next.run(request).await;
    }
    match faults.pick(&path) {
        None => next.run(request).await,
        Some(FaultKind::RateLimited { retry_after_s }) => {
            errors.rate_limited(Duration::from_secs(retry_after_s))
        }
        Some(FaultKind::ServerError { status }) => errors
            .server_error(StatusCode::from_u16(status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE)),
        Some(FaultKind::ExpiredToken) => errors.token_expired(),
        Some(FaultKind::Slow { delay_ms }) => {
            tokio::time::sleep(Duration::from_millis(delay_ms)).await;
            next.run(request).await
        }
        Some(FaultKind::MalformedJson) => (
            StatusCode::OK,
            [(axum::http::header::CONTENT_TYPE, "application/json")],
            "{\"results\":[{\"id\":\"1\",\"propert",
        )
            .into_response(),
        Some(FaultKind::DropConnection) => {
            // A body stream that fails after its first chunk makes hyper abort
            // the connection: the client sees a reset mid-response.
            let chunks: Vec<Result<bytes::Bytes, std::io::Error>> = vec![
                Ok(bytes::Bytes::from_static(b"{\"results\":[")),
                Err(std::io::Error::new(
                    std::io::ErrorKind::ConnectionReset,
                    "injected drop",
                )),
            ];
            Response::builder()
                .status(StatusCode::OK)
                .header(axum::http::header::CONTENT_TYPE, "application/json")
                .header(axum::http::header::CONTENT_LENGTH, "4096")
                .body(Body::from_stream(futures::stream::iter(chunks)))
                .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counted_rules_run_out_and_paths_filter() {
        let f = Faults::default();
        f.add(
            FaultKind::ServerError { status: 503 },
            Some(2),
            None,
            Some("/search".into()),
        );
        assert_eq!(f.pick("/crm/v3/objects/contacts"), None);
        assert!(f.pick("/crm/v3/objects/contacts/search").is_some());
        assert!(f.pick("/crm/v3/objects/contacts/search").is_some());
        assert_eq!(f.pick("/crm/v3/objects/contacts/search"), None);
    }

    #[test]
    fn a_rate_fails_about_that_share() {
        let f = Faults::default();
        f.add(FaultKind::MalformedJson, None, Some(0.1), None);
        let failed = (0..10_000).filter(|_| f.pick("/x").is_some()).count();
        assert!((700..1300).contains(&failed), "{failed}");
    }
}
