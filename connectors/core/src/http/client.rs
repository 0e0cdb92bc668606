//! The retry loop every vendor call goes through.

use std::sync::Arc;
use std::time::Duration;

use self::bytes_compat::Bytes;
use jiff::tz::TimeZone;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue, AUTHORIZATION};
use reqwest::{RequestBuilder, StatusCode};
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use tracing::{debug, warn};

use super::{
    Classify, DailyBudget, Limiter, RateLimit, RequestStats, RetryPolicy, UsageSnapshot, Verdict,
};
use crate::auth::TokenSource;
use crate::error::{ConnectorError, ConnectorResult};

// reqwest re-exports the `bytes` type it returns; naming it once keeps the
// core free of a direct `bytes` dependency outside the simulator kit.
mod bytes_compat {
    pub type Bytes = Vec<u8>;
}

/// Settings of one connector's HTTP layer, with the vendor's defaults filled
/// in by the connector and overridable from config.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HttpSettings {
    /// Per-request timeout, connect included.
    #[serde(with = "secs")]
    pub timeout: Duration,
    /// Retries of passing failures.
    pub retry: RetryPolicy,
    /// The client-side limit for all calls; `None` for unlimited (benchmarks).
    pub rate_limit: Option<RateLimit>,
    /// The most calls a day this connector may make; `None` for no cap.
    pub daily_cap: Option<u64>,
}

impl Default for HttpSettings {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(30),
            retry: RetryPolicy::default(),
            rate_limit: None,
            daily_cap: None,
        }
    }
}

mod secs {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(d.as_secs_f64())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        Ok(Duration::from_secs_f64(f64::deserialize(d)?))
    }
}

/// A vendor response, read whole.
#[derive(Debug, Clone)]
pub struct ApiResponse {
    /// The HTTP status.
    pub status: StatusCode,
    /// The response headers.
    pub headers: HeaderMap,
    /// The raw body.
    pub body: Bytes,
}

impl ApiResponse {
    /// The body decoded as JSON; a body that is not the expected JSON is a
    /// passing failure (a truncated or garbled response), retried like a 5xx.
    pub fn json<T: serde::de::DeserializeOwned>(&self) -> ConnectorResult<T> {
        serde_json::from_slice(&self.body).map_err(|e| self.unreadable(e))
    }

    /// The body decoded as JSON through a [`serde::de::DeserializeSeed`]
    /// (a decoder that needs context, such as which fields to keep);
    /// failures are passing, as for [`ApiResponse::json`].
    pub fn json_seed<'de, S: serde::de::DeserializeSeed<'de>>(
        &'de self,
        seed: S,
    ) -> ConnectorResult<S::Value> {
        let mut deserializer = serde_json::Deserializer::from_slice(&self.body);
        seed.deserialize(&mut deserializer)
            .and_then(|value| deserializer.end().map(|()| value))
            .map_err(|e| self.unreadable(e))
    }

    /// A body that is not the expected JSON: passing, like a 5xx.
    fn unreadable(&self, e: serde_json::Error) -> ConnectorError {
        ConnectorError::Retryable {
            message: format!("unreadable response body (status {}): {e}", self.status),
            retry_after: None,
        }
    }

    /// A header as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// One connector's HTTP client: shared by all its calls, cheap to clone.
#[derive(Clone)]
pub struct ApiClient {
    inner: Arc<Inner>,
}

struct Inner {
    http: reqwest::Client,
    auth: Arc<dyn TokenSource>,
    classify: Arc<dyn Classify>,
    limiter: Limiter,
    budget: DailyBudget,
    stats: RequestStats,
    retry: RetryPolicy,
    token_header: Option<HeaderName>,
}

impl ApiClient {
    /// A client that authenticates with `auth` and reads responses with `classify`.
    pub fn new(
        settings: &HttpSettings,
        auth: Arc<dyn TokenSource>,
        classify: Arc<dyn Classify>,
        budget_tz: TimeZone,
    ) -> ConnectorResult<Self> {
        Self::with_token_header(settings, auth, classify, budget_tz, None)
    }

    /// Like [`ApiClient::new`], but the token goes in the header `header`
    /// as it is (Pipedrive's `x-api-token`) instead of
    /// `Authorization: Bearer`; `None` keeps the bearer form.
    pub fn with_token_header(
        settings: &HttpSettings,
        auth: Arc<dyn TokenSource>,
        classify: Arc<dyn Classify>,
        budget_tz: TimeZone,
        header: Option<HeaderName>,
    ) -> ConnectorResult<Self> {
        let http = reqwest::Client::builder()
            .timeout(settings.timeout)
            .connect_timeout(settings.timeout.min(Duration::from_secs(10)))
            .user_agent(concat!("leadbridge/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| ConnectorError::fatal(format!("cannot build HTTP client: {e}")))?;
        Ok(Self {
            inner: Arc::new(Inner {
                http,
                auth,
                classify,
                limiter: Limiter::new(settings.rate_limit),
                budget: DailyBudget::new(settings.daily_cap, budget_tz),
                stats: RequestStats::default(),
                retry: settings.retry.clone(),
                token_header: header,
            }),
        })
    }

    /// The underlying reqwest client, for building requests.
    pub fn http(&self) -> &reqwest::Client {
        &self.inner.http
    }

    /// Calls made so far.
    pub fn usage(&self) -> UsageSnapshot {
        self.inner
            .stats
            .snapshot(self.inner.budget.used_today(), self.inner.budget.cap())
    }

    /// Sends a request built by `build` (called again for each attempt) and
    /// decodes the successful response with `decode`, retrying passing
    /// failures (including a `decode` that answers
    /// [`ConnectorError::Retryable`]) within the retry policy.
    ///
    /// `endpoint` labels the call in the request counts; `extra` is the
    /// limiter of the call's own endpoint family (HubSpot's search, metered
    /// apart from the general limit), waited on instead of the general one.
    /// A 429 lowers the pace of the limiter the call went through.
    pub async fn execute<T>(
        &self,
        endpoint: &str,
        extra: Option<&Limiter>,
        build: impl Fn(&reqwest::Client) -> RequestBuilder,
        decode: impl Fn(ApiResponse) -> ConnectorResult<T>,
    ) -> ConnectorResult<T> {
        self.run(true, false, endpoint, extra, build, decode).await
    }

    /// Like [`ApiClient::execute`], for a request that must not be sent
    /// twice (a create, where the vendor has no idempotency key): once the
    /// request may have reached the vendor, a lost answer (timeout, dropped
    /// connection, unreadable body, 502/504 from a gateway) is
    /// [`ConnectorError::OutcomeUnknown`] instead of a retry. Failures that
    /// prove nothing was applied (no connection, 429, 503, 401) are retried
    /// as usual.
    pub async fn execute_once<T>(
        &self,
        endpoint: &str,
        extra: Option<&Limiter>,
        build: impl Fn(&reqwest::Client) -> RequestBuilder,
        decode: impl Fn(ApiResponse) -> ConnectorResult<T>,
    ) -> ConnectorResult<T> {
        self.run(true, true, endpoint, extra, build, decode).await
    }

    /// [`ApiClient::execute`] for a connector's one-time set-up call (the
    /// account's settings, read once per process), which is counted but not
    /// taken from the configured daily cap: a cap of N leaves N calls for
    /// work, and the set-up call is what tells when the day resets.
    pub async fn execute_unmetered<T>(
        &self,
        endpoint: &str,
        build: impl Fn(&reqwest::Client) -> RequestBuilder,
        decode: impl Fn(ApiResponse) -> ConnectorResult<T>,
    ) -> ConnectorResult<T> {
        self.run(false, false, endpoint, None, build, decode).await
    }

    /// Moves the daily budget's reset to midnight in `tz`.
    pub fn set_budget_time_zone(&self, tz: TimeZone) {
        self.inner.budget.set_time_zone(tz);
    }

    /// The retry loop: `metered` takes each attempt from the daily budget;
    /// `once` never re-sends a request that may have been applied.
    async fn run<T>(
        &self,
        metered: bool,
        once: bool,
        endpoint: &str,
        extra: Option<&Limiter>,
        build: impl Fn(&reqwest::Client) -> RequestBuilder,
        decode: impl Fn(ApiResponse) -> ConnectorResult<T>,
    ) -> ConnectorResult<T> {
        let inner = &self.inner;
        let mut waited = Duration::ZERO;
        let mut refreshed = false;
        let mut attempt: u32 = 0;
        loop {
            attempt += 1;
            if metered {
                inner.budget.take()?;
            }
            // A call of its own endpoint family (HubSpot's search) is
            // metered by that family's window alone, not the general one.
            let limiter = extra.unwrap_or(&inner.limiter);
            limiter.wait().await;
            let token = match inner.auth.access_token().await {
                Ok(token) => token,
                Err(ConnectorError::Retryable {
                    message,
                    retry_after,
                }) => {
                    // The token endpoint itself failed passingly: same budget as any call.
                    match self
                        .wait_before_retry(endpoint, attempt, &mut waited, message, retry_after)
                        .await
                    {
                        Ok(()) => continue,
                        Err(e) => return Err(e),
                    }
                }
                Err(e) => return Err(e),
            };
            inner.stats.count(endpoint, attempt > 1);
            let request = match &inner.token_header {
                None => build(&inner.http)
                    .header(AUTHORIZATION, format!("Bearer {}", token.expose_secret())),
                Some(name) => {
                    let mut value = HeaderValue::from_str(token.expose_secret()).map_err(|_| {
                        ConnectorError::fatal("the API token is not a valid header value")
                    })?;
                    value.set_sensitive(true);
                    build(&inner.http).header(name.clone(), value)
                }
            };
            let failure = match send(request).await {
                Err((message, sent)) if once && sent => {
                    return Err(ConnectorError::OutcomeUnknown { message })
                }
                Err((message, _)) => Verdict::Retry {
                    message,
                    retry_after: None,
                },
                Ok(response) => {
                    if response.status == StatusCode::TOO_MANY_REQUESTS {
                        // Paced to the published limit and refused anyway:
                        // others share the budget; slow down.
                        limiter.penalize();
                    }
                    inner.classify.observe(&response, &inner.stats);
                    let status = response.status.as_u16();
                    match inner.classify.classify(&response) {
                        Verdict::Ok => match decode(response) {
                            Err(ConnectorError::Retryable { message, .. }) if once => {
                                return Err(ConnectorError::OutcomeUnknown { message })
                            }
                            Err(ConnectorError::Retryable {
                                message,
                                retry_after,
                            }) => Verdict::Retry {
                                message,
                                retry_after,
                            },
                            other => return other,
                        },
                        Verdict::Retry { message, .. }
                            if once && matches!(status, 500 | 502 | 504) =>
                        {
                            return Err(ConnectorError::OutcomeUnknown { message })
                        }
                        verdict => verdict,
                    }
                }
            };
            match failure {
                Verdict::Ok => unreachable!("handled above"),
                Verdict::Unauthorized { message } => {
                    if refreshed || !inner.auth.refresh_after_unauthorized(&token).await? {
                        return Err(ConnectorError::Unauthorized { message });
                    }
                    debug!(endpoint, "access token refused; refreshed once, retrying");
                    refreshed = true;
                    // A refresh is not a failure of the vendor: it does not use a retry.
                    attempt -= 1;
                }
                Verdict::Retry {
                    message,
                    retry_after,
                } => {
                    self.wait_before_retry(endpoint, attempt, &mut waited, message, retry_after)
                        .await?;
                }
                Verdict::QuotaExhausted { message, resets_at } => {
                    return Err(ConnectorError::QuotaExhausted { message, resets_at })
                }
                Verdict::Rejected { message, code } => {
                    return Err(ConnectorError::Rejected { message, code })
                }
                Verdict::Fatal { message } => return Err(ConnectorError::Fatal { message }),
            }
        }
    }
}

impl ApiClient {
    /// Sleeps before the next attempt, or gives up with the last failure
    /// when the attempts or the waiting budget are spent.
    async fn wait_before_retry(
        &self,
        endpoint: &str,
        attempt: u32,
        waited: &mut Duration,
        message: String,
        retry_after: Option<Duration>,
    ) -> ConnectorResult<()> {
        let retry = &self.inner.retry;
        let delay = retry.delay(attempt, retry_after);
        let over_budget = attempt >= retry.max_attempts
            || *waited + delay > retry.max_total_wait
            || delay > retry.max_delay;
        if over_budget {
            warn!(endpoint, attempts = attempt, waited_ms = waited.as_millis() as u64, %message, "giving up after retries");
            return Err(ConnectorError::Retryable {
                message,
                retry_after,
            });
        }
        debug!(endpoint, attempt, delay_ms = delay.as_millis() as u64, %message, "retrying");
        tokio::time::sleep(delay).await;
        *waited += delay;
        Ok(())
    }
}

/// Sends one request and reads the whole body; transport failures come back
/// as text without the URL's query (which may carry ids) or any header,
/// with whether the request may have reached the server (anything but a
/// failure to connect).
async fn send(request: RequestBuilder) -> Result<ApiResponse, (String, bool)> {
    let describe = |e: reqwest::Error| {
        let kind = if e.is_timeout() {
            "timed out"
        } else if e.is_connect() {
            "could not connect"
        } else if e.is_body() || e.is_decode() {
            "connection dropped while reading the body"
        } else {
            "request failed"
        };
        let sent = !e.is_connect();
        (format!("{kind}: {}", e.without_url()), sent)
    };
    let response = request.send().await.map_err(describe)?;
    let status = response.status();
    let headers = response.headers().clone();
    let body = response.bytes().await.map_err(describe)?.to_vec();
    Ok(ApiResponse {
        status,
        headers,
        body,
    })
}
