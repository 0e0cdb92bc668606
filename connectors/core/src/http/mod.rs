//! The HTTP layer every connector shares: timeouts, retries with full-jitter
//! backoff that honour `Retry-After`, a client-side rate limiter, a daily API
//! budget, one refresh on 401, and request counting. A connector only says
//! how to build a request, how to read its response, and what the vendor's
//! status codes and error bodies mean ([`Classify`]).

mod budget;
mod client;
mod limiter;
mod retry;
mod stats;

pub use budget::DailyBudget;
pub use client::{ApiClient, ApiResponse, HttpSettings};
pub use limiter::{Limiter, RateLimit};
pub use retry::RetryPolicy;
pub use stats::{RequestStats, UsageSnapshot};

use std::time::Duration;

use jiff::Timestamp;

/// What a vendor response means, as decided by the connector's classifier.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    /// Success: hand the response to the connector's decoder.
    Ok,
    /// A passing failure: wait (at least `retry_after` when given) and retry.
    Retry {
        /// The vendor's message, for the final error if the budget runs out.
        message: String,
        /// How long the server asked to wait.
        retry_after: Option<Duration>,
    },
    /// The access token was refused: refresh once and retry, then give up.
    Unauthorized {
        /// The vendor's message.
        message: String,
    },
    /// The vendor's daily limit is spent: stop, do not retry.
    QuotaExhausted {
        /// The vendor's message.
        message: String,
        /// When the vendor's quota resets, when known.
        resets_at: Option<Timestamp>,
    },
    /// The request itself was refused (4xx other than the above).
    Rejected {
        /// The vendor's message.
        message: String,
        /// The vendor's code.
        code: Option<String>,
    },
    /// Misconfiguration (404 on an object, missing scope).
    Fatal {
        /// The vendor's message.
        message: String,
    },
}

/// A vendor's reading of its own status codes, headers and error bodies.
pub trait Classify: Send + Sync {
    /// Decides what a response means; called for every response.
    fn classify(&self, response: &ApiResponse) -> Verdict;

    /// Reads vendor usage headers (`Sforce-Limit-Info`, `X-HubSpot-RateLimit-*`)
    /// into the stats; the default ignores them.
    fn observe(&self, _response: &ApiResponse, _stats: &RequestStats) {}
}

/// Parses a `Retry-After` header value given in seconds.
pub fn retry_after_seconds(value: Option<&str>) -> Option<Duration> {
    let secs: f64 = value?.trim().parse().ok()?;
    (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs))
}
