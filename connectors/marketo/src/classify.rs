//! What Marketo's answers mean.
//!
//! Marketo reports almost every failure with HTTP 200 and a body
//! `{"requestId", "success": false, "errors": [{"code": "606", "message"}]}`;
//! under normal operation the only HTTP errors are 413 (body over 1 MB) and
//! 414 (URI over 8 KB)
//! (experienceleague.adobe.com/en/docs/marketo-developer/marketo/rest/error-codes).
//! So the classifier reads the body of every 200, not only the status.

use std::time::Duration;

use jiff::Timestamp;
use leadbridge_core::http::{retry_after_seconds, ApiResponse, Classify, Verdict};
use serde::Deserialize;

use crate::time::next_quota_reset;

/// Marketo's reading of its own responses, for
/// [`leadbridge_core::http::ApiClient`]. By response-level code:
///
/// - 601 (access token invalid), 602 (expired) → unauthorized: the HTTP
///   layer renews the token once and retries, then gives up;
/// - 606 (more than 100 calls in 20 s) → wait `rate_limit_wait` (Marketo
///   sends no `Retry-After`) and retry; 615 (more than ten concurrent
///   calls) → retry with back-off;
/// - 607 (daily quota reached) → quota exhausted until the next midnight
///   CST ([`crate::time::next_quota_reset`]);
/// - 502, 604 (timeout), 608 (API temporarily unavailable), 611 (system
///   error), 614 (subscription unreachable, "usually temporary"), 713
///   (transient), 719 (lock wait timeout) → retry;
/// - 603 (access denied: the API user's role lacks a permission, or an IP
///   allowlist), 610 (no such resource), 616 and 703 (feature not enabled
///   for the subscription), 1006 (field not found) and 1011 (field not
///   supported as a filter or lookup key) → fatal: a person must change the
///   custom service's role or the field mapping;
/// - everything else (609 invalid JSON, 612 content type, 7xx bad
///   parameters, 1xxx such as 1003 "too many results") → the request is
///   rejected.
///
/// HTTP statuses: 413/414 → rejected (the connector splits bodies and
/// moves long queries into a `_method=GET` POST so neither should occur),
/// 401 → unauthorized, 403/404 → fatal, 429 and 5xx → retry.
#[derive(Debug, Clone)]
pub struct MarketoClassify {
    /// How long a 606 is waited out.
    pub rate_limit_wait: Duration,
}

/// The envelope fields the classifier needs; the rest of the body (the
/// result) is skipped without being built.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct Envelope {
    #[serde(default)]
    pub success: Option<bool>,
    #[serde(default)]
    pub errors: Vec<ApiError>,
}

/// One entry of a response's `errors` (or of a record's `reasons`).
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct ApiError {
    #[serde(default, deserialize_with = "crate::wire::code_text")]
    pub code: String,
    #[serde(default)]
    pub message: String,
}

impl MarketoClassify {
    /// The verdict for one response-level error code.
    pub fn for_code(&self, code: &str, message: &str, now: Timestamp) -> Verdict {
        let text = if message.is_empty() {
            format!("Marketo error {code}")
        } else {
            format!("Marketo error {code}: {message}")
        };
        match code {
            "601" | "602" => Verdict::Unauthorized { message: text },
            "606" => Verdict::Retry {
                message: text,
                retry_after: Some(self.rate_limit_wait),
            },
            "615" | "500" | "502" | "604" | "608" | "611" | "614" | "713" | "719" => {
                Verdict::Retry {
                    message: text,
                    retry_after: None,
                }
            }
            "607" => Verdict::QuotaExhausted {
                message: text,
                resets_at: next_quota_reset(now),
            },
            "603" | "610" | "616" | "703" | "1006" | "1011" => Verdict::Fatal { message: text },
            _ => Verdict::Rejected {
                message: text,
                code: Some(code.to_owned()),
            },
        }
    }
}

impl Classify for MarketoClassify {
    fn classify(&self, response: &ApiResponse) -> Verdict {
        let status = response.status.as_u16();
        if response.status.is_success() {
            // A body that is not the envelope is left to the decoder, which
            // treats it as a garbled (passing) answer.
            let Ok(envelope) = serde_json::from_slice::<Envelope>(&response.body) else {
                return Verdict::Ok;
            };
            if envelope.success != Some(false) {
                return Verdict::Ok;
            }
            let first = envelope.errors.first().cloned().unwrap_or_default();
            return self.for_code(&first.code, &first.message, Timestamp::now());
        }
        let message = format!(
            "HTTP {status}: {}",
            String::from_utf8_lossy(&response.body)
                .chars()
                .take(300)
                .collect::<String>()
        );
        let retry_after = retry_after_seconds(response.header("retry-after"));
        match status {
            401 => Verdict::Unauthorized { message },
            403 | 404 => Verdict::Fatal { message },
            429 | 500..=599 => Verdict::Retry {
                message,
                retry_after,
            },
            _ => Verdict::Rejected {
                message,
                code: Some(status.to_string()),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderMap;
    use reqwest::StatusCode;

    fn response(status: u16, body: &str) -> ApiResponse {
        ApiResponse {
            status: StatusCode::from_u16(status).unwrap(),
            headers: HeaderMap::new(),
            body: body.as_bytes().to_vec(),
        }
    }

    fn failure(code: &str) -> ApiResponse {
        response(
            200,
            &format!(
                r#"{{"requestId":"e42b#1","success":false,"errors":[{{"code":"{code}","message":"m"}}]}}"#
            ),
        )
    }

    fn classify() -> MarketoClassify {
        MarketoClassify {
            rate_limit_wait: Duration::from_secs(20),
        }
    }

    #[test]
    fn a_200_with_success_false_is_read_by_its_code() {
        let c = classify();
        assert!(matches!(
            c.classify(&failure("601")),
            Verdict::Unauthorized { .. }
        ));
        assert!(matches!(
            c.classify(&failure("602")),
            Verdict::Unauthorized { .. }
        ));
        assert!(
            matches!(c.classify(&failure("606")), Verdict::Retry { retry_after: Some(d), .. } if d == Duration::from_secs(20))
        );
        assert!(matches!(
            c.classify(&failure("615")),
            Verdict::Retry {
                retry_after: None,
                ..
            }
        ));
        assert!(matches!(
            c.classify(&failure("607")),
            Verdict::QuotaExhausted {
                resets_at: Some(_),
                ..
            }
        ));
        assert!(matches!(
            c.classify(&failure("1006")),
            Verdict::Fatal { .. }
        ));
        assert!(
            matches!(c.classify(&failure("1003")), Verdict::Rejected { code: Some(c), .. } if c == "1003")
        );
    }

    #[test]
    fn success_and_garbled_bodies_go_to_the_decoder() {
        let c = classify();
        assert_eq!(
            c.classify(&response(
                200,
                r#"{"requestId":"a","success":true,"result":[]}"#
            )),
            Verdict::Ok
        );
        assert_eq!(
            c.classify(&response(200, r#"{"result":[{"id":"1","propert"#)),
            Verdict::Ok
        );
    }

    #[test]
    fn http_errors_keep_their_meaning() {
        let c = classify();
        assert!(matches!(
            c.classify(&response(414, "")),
            Verdict::Rejected { .. }
        ));
        assert!(matches!(
            c.classify(&response(503, "")),
            Verdict::Retry { .. }
        ));
        assert!(matches!(
            c.classify(&response(401, "")),
            Verdict::Unauthorized { .. }
        ));
    }
}
