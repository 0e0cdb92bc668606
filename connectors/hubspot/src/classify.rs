//! What HubSpot's status codes, error bodies and rate-limit headers mean.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use jiff::{tz::TimeZone, Timestamp, ToSpan};
use leadbridge_core::http::{retry_after_seconds, ApiResponse, Classify, RequestStats, Verdict};

use crate::wire::StandardError;

/// HubSpot's reading of its own responses, for [`leadbridge_core::http::ApiClient`].
///
/// - 2xx (207 multi-status included: per-record errors are the decoder's job) → ok;
/// - 401 → unauthorized (refresh once, then stop);
/// - 429 → `policyName` decides: `DAILY` is the day's quota (stop until
///   midnight), `TEN_SECONDLY_ROLLING` / `SECONDLY` (or the search endpoint's
///   "secondly limit" message) are bursts worth waiting out;
/// - 5xx → retry;
/// - 403 (`MISSING_SCOPES`) and 404 → fatal: a person must fix the app's
///   scopes or the object name;
/// - other 4xx (`VALIDATION_ERROR`, `CONFLICT`) → the request is rejected,
///   coded by its first detail's code when it has one.
///
/// Clones share the account's time zone, set once the connector has read
/// it ([`HubSpotClassify::set_time_zone`]), so a daily 429 says when the
/// day really ends.
#[derive(Debug, Clone, Default)]
pub struct HubSpotClassify {
    zone: Arc<RwLock<Option<TimeZone>>>,
}

impl HubSpotClassify {
    /// The account's time zone (from `GET /account-info/v3/details`).
    pub fn set_time_zone(&self, tz: TimeZone) {
        *self.zone.write().unwrap_or_else(|e| e.into_inner()) = Some(tz);
    }

    /// The next midnight in the account's zone, UTC until it is known.
    fn next_midnight(&self) -> Option<Timestamp> {
        let tz = self
            .zone
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
            .unwrap_or(TimeZone::UTC);
        let now = Timestamp::now().to_zoned(tz.clone());
        let tomorrow = now.date().checked_add(1.day()).ok()?;
        tomorrow.to_zoned(tz).ok().map(|z| z.timestamp())
    }
}

fn body_error(response: &ApiResponse) -> StandardError {
    serde_json::from_slice(&response.body).unwrap_or_default()
}

fn describe(response: &ApiResponse, error: &StandardError) -> String {
    let status = response.status.as_u16();
    match (&error.category, &error.message) {
        (Some(c), Some(m)) => format!("HTTP {status} {c}: {m}"),
        (None, Some(m)) => format!("HTTP {status}: {m}"),
        (Some(c), None) => format!("HTTP {status} {c}"),
        (None, None) => format!("HTTP {status}"),
    }
}

impl Classify for HubSpotClassify {
    fn classify(&self, response: &ApiResponse) -> Verdict {
        let status = response.status.as_u16();
        if response.status.is_success() {
            return Verdict::Ok;
        }
        let error = body_error(response);
        let message = describe(response, &error);
        let retry_after = retry_after_seconds(response.header("retry-after"));
        match status {
            401 => Verdict::Unauthorized { message },
            429 => {
                let policy = error.policy_name.as_deref().unwrap_or_default();
                let text = error.message.as_deref().unwrap_or_default().to_lowercase();
                if policy.eq_ignore_ascii_case("DAILY") || text.contains("daily limit") {
                    Verdict::QuotaExhausted {
                        message,
                        resets_at: self.next_midnight(),
                    }
                } else {
                    let default_wait = if policy.eq_ignore_ascii_case("TEN_SECONDLY_ROLLING") {
                        // The rolling window is 10 s; waiting a full window is what the official SDK does.
                        Duration::from_secs(10)
                    } else {
                        Duration::from_secs(1)
                    };
                    Verdict::Retry {
                        message,
                        retry_after: Some(retry_after.unwrap_or(default_wait)),
                    }
                }
            }
            500..=599 => Verdict::Retry {
                message,
                retry_after,
            },
            403 | 404 => Verdict::Fatal { message },
            // An object type HubSpot does not know is misconfiguration, not a bad record.
            400 if error
                .message
                .as_deref()
                .is_some_and(|m| m.starts_with("Unable to infer object type")) =>
            {
                Verdict::Fatal { message }
            }
            // The most specific code: a detail's (`INVALID_OPTION`,
            // `PROPERTY_DOESNT_EXIST`) before the category.
            _ => Verdict::Rejected {
                message,
                code: error
                    .errors
                    .iter()
                    .find_map(|d| d.code.clone())
                    .or_else(|| error.category.clone()),
            },
        }
    }

    fn observe(&self, response: &ApiResponse, stats: &RequestStats) {
        let read = |name: &str| {
            response
                .header(name)
                .and_then(|v| v.trim().parse::<u64>().ok())
        };
        if let (Some(max), Some(remaining)) = (
            read("x-hubspot-ratelimit-daily"),
            read("x-hubspot-ratelimit-daily-remaining"),
        ) {
            stats.vendor_usage(max.saturating_sub(remaining), max);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::{HeaderMap, HeaderValue};
    use reqwest::StatusCode;

    fn response(status: u16, body: &str) -> ApiResponse {
        ApiResponse {
            status: StatusCode::from_u16(status).unwrap(),
            headers: HeaderMap::new(),
            body: body.as_bytes().to_vec(),
        }
    }

    #[test]
    fn rate_limits_are_told_apart_by_policy() {
        let c = HubSpotClassify::default();
        let burst = response(
            429,
            r#"{"status":"error","message":"You have reached your ten_secondly_rolling limit.","policyName":"TEN_SECONDLY_ROLLING"}"#,
        );
        assert!(
            matches!(c.classify(&burst), Verdict::Retry { retry_after: Some(d), .. } if d == Duration::from_secs(10))
        );
        let secondly = response(
            429,
            r#"{"status":"error","message":"You have reached your secondly limit."}"#,
        );
        assert!(matches!(c.classify(&secondly), Verdict::Retry { .. }));
        let daily = response(
            429,
            r#"{"status":"error","message":"You have reached your daily limit.","policyName":"DAILY"}"#,
        );
        assert!(matches!(
            c.classify(&daily),
            Verdict::QuotaExhausted {
                resets_at: Some(_),
                ..
            }
        ));
    }

    #[test]
    fn other_statuses_map_by_meaning() {
        let c = HubSpotClassify::default();
        assert!(matches!(c.classify(&response(207, "{}")), Verdict::Ok));
        assert!(matches!(
            c.classify(&response(401, "{}")),
            Verdict::Unauthorized { .. }
        ));
        assert!(matches!(
            c.classify(&response(503, "")),
            Verdict::Retry { .. }
        ));
        assert!(matches!(
            c.classify(&response(
                403,
                r#"{"category":"MISSING_SCOPES","message":"no"}"#
            )),
            Verdict::Fatal { .. }
        ));
        assert!(matches!(
            c.classify(&response(400, r#"{"category":"VALIDATION_ERROR","message":"bad"}"#)),
            Verdict::Rejected { code: Some(c), .. } if c == "VALIDATION_ERROR"
        ));
    }

    #[test]
    fn daily_usage_headers_reach_the_stats() {
        let mut r = response(200, "{}");
        r.headers.insert(
            "x-hubspot-ratelimit-daily",
            HeaderValue::from_static("250000"),
        );
        r.headers.insert(
            "x-hubspot-ratelimit-daily-remaining",
            HeaderValue::from_static("249990"),
        );
        let stats = RequestStats::default();
        HubSpotClassify::default().observe(&r, &stats);
        assert_eq!(stats.snapshot(0, None).vendor_usage, Some((10, 250000)));
    }
}
