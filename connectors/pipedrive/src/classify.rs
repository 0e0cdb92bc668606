//! What Pipedrive's status codes, error bodies and rate-limit headers mean.

use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use leadbridge_core::http::{retry_after_seconds, ApiResponse, Classify, RequestStats, Verdict};

use crate::wire::ErrorBody;

/// A 429 whose window resets further away than this is the daily token
/// budget, not a burst: burst windows are 2 seconds long.
const DAILY_RESET_THRESHOLD: Duration = Duration::from_secs(60);

/// Pipedrive's reading of its own responses, for [`leadbridge_core::http::ApiClient`].
///
/// - 2xx → ok;
/// - 401 → unauthorized (refresh once, then stop);
/// - 429 → `x-ratelimit-reset` (seconds until the refusing window resets,
///   pipedrive.readme.io/docs/core-api-concepts-rate-limiting) decides: a
///   2-second burst window is waited out; a reset further than a minute away
///   is the daily token budget, which only midnight (UTC) restores;
/// - 5xx → retry;
/// - 403 → fatal (a missing OAuth scope, a plan's feature cap such as
///   `feature_capping_deals_limit`, contact-sync-only fields): a person must act;
/// - 404 and other 4xx → the request is rejected, with the body's `code`
///   (or `not_found` for 404) so the connector can tell a missing record
///   from a bad one.
#[derive(Debug, Clone, Default)]
pub struct PipedriveClassify;

fn describe(response: &ApiResponse, error: &ErrorBody) -> String {
    let status = response.status.as_u16();
    match (&error.error, &error.error_info) {
        (Some(e), Some(i)) if !i.is_empty() => format!("HTTP {status}: {e} ({i})"),
        (Some(e), _) => format!("HTTP {status}: {e}"),
        (None, _) => format!("HTTP {status}"),
    }
}

fn header_secs(response: &ApiResponse, name: &str) -> Option<u64> {
    response
        .header(name)
        .and_then(|v| v.trim().parse::<f64>().ok())
        .filter(|v| v.is_finite() && *v >= 0.0)
        .map(|v| v.ceil() as u64)
}

impl Classify for PipedriveClassify {
    fn classify(&self, response: &ApiResponse) -> Verdict {
        if response.status.is_success() {
            return Verdict::Ok;
        }
        let status = response.status.as_u16();
        let error: ErrorBody = serde_json::from_slice(&response.body).unwrap_or_default();
        let message = describe(response, &error);
        match status {
            401 => Verdict::Unauthorized { message },
            429 => {
                let reset = header_secs(response, "x-ratelimit-reset").map(Duration::from_secs);
                match reset {
                    Some(reset) if reset > DAILY_RESET_THRESHOLD => Verdict::QuotaExhausted {
                        message,
                        resets_at: Timestamp::now()
                            .checked_add(SignedDuration::from_secs(reset.as_secs() as i64))
                            .ok(),
                    },
                    _ => Verdict::Retry {
                        message,
                        retry_after: Some(
                            retry_after_seconds(response.header("retry-after"))
                                .or(reset)
                                .unwrap_or(Duration::from_secs(2)),
                        ),
                    },
                }
            }
            500..=599 => Verdict::Retry {
                message,
                retry_after: retry_after_seconds(response.header("retry-after")),
            },
            403 => Verdict::Fatal { message },
            404 => Verdict::Rejected {
                message,
                code: Some(error.code.unwrap_or_else(|| "not_found".into())),
            },
            _ => Verdict::Rejected {
                message,
                code: error.code,
            },
        }
    }

    fn observe(&self, response: &ApiResponse, stats: &RequestStats) {
        // Only the legacy API-token POST/PUT counter is a daily figure
        // Pipedrive sends; with a 10,000 fair-use cap
        // (developers.pipedrive.com/changelog/post/daily-api-limit-for-postput-endpoints).
        if let Some(left) = header_secs(response, "x-daily-requests-left") {
            stats.vendor_usage(10_000u64.saturating_sub(left), 10_000);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::{HeaderMap, HeaderValue};
    use reqwest::StatusCode;

    fn response(status: u16, reset: Option<&'static str>, body: &str) -> ApiResponse {
        let mut headers = HeaderMap::new();
        if let Some(r) = reset {
            headers.insert("x-ratelimit-reset", HeaderValue::from_static(r));
        }
        ApiResponse {
            status: StatusCode::from_u16(status).unwrap(),
            headers,
            body: body.as_bytes().to_vec(),
        }
    }

    #[test]
    fn a_burst_is_waited_out_and_the_daily_budget_stops_work() {
        let c = PipedriveClassify;
        let body = r#"{"success":false,"error":"Request over limit","data":null}"#;
        assert!(matches!(
            c.classify(&response(429, Some("2"), body)),
            Verdict::Retry { retry_after: Some(d), .. } if d == Duration::from_secs(2)
        ));
        assert!(matches!(
            c.classify(&response(429, Some("36000"), body)),
            Verdict::QuotaExhausted {
                resets_at: Some(_),
                ..
            }
        ));
    }

    #[test]
    fn other_statuses_map_by_meaning() {
        let c = PipedriveClassify;
        assert_eq!(c.classify(&response(201, None, "{}")), Verdict::Ok);
        assert!(matches!(
            c.classify(&response(
                401,
                None,
                r#"{"success":false,"error":"unauthorized access"}"#
            )),
            Verdict::Unauthorized { .. }
        ));
        assert!(matches!(
            c.classify(&response(502, None, "")),
            Verdict::Retry { .. }
        ));
        assert!(matches!(
            c.classify(&response(403, None, r#"{"success":false,"error":"Feature is not available","code":"feature_capping_deals_limit"}"#)),
            Verdict::Fatal { .. }
        ));
        assert!(matches!(
            c.classify(&response(404, None, r#"{"success":false,"error":"Person not found"}"#)),
            Verdict::Rejected { code: Some(c), .. } if c == "not_found"
        ));
        assert!(matches!(
            c.classify(&response(400, None, r#"{"success":false,"error":"Name must be given.","error_info":"Please check developers.pipedrive.com"}"#)),
            Verdict::Rejected { message, .. } if message.contains("Name must be given")
        ));
    }
}
