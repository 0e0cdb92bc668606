//! What Salesforce's status codes and error bodies mean.

use leadbridge_core::http::{retry_after_seconds, ApiResponse, Classify, RequestStats, Verdict};
use reqwest::StatusCode;
use serde::Deserialize;

/// One element of Salesforce's error array: `[{message, errorCode, fields}]`
/// in REST error bodies, `{statusCode, message, fields}` inside sObject
/// Collections results.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct SfError {
    #[serde(default)]
    pub message: String,
    #[serde(default, alias = "statusCode")]
    pub error_code: Option<String>,
    #[serde(default)]
    pub fields: Vec<String>,
}

/// A Composite call refused as a whole carries its error array in its
/// single entry: `{"compositeResponse":[{"body":[{...}], ...}]}`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CompositeErrors {
    composite_response: Vec<CompositeErrorEntry>,
}

#[derive(Deserialize)]
struct CompositeErrorEntry {
    #[serde(default)]
    body: Vec<SfError>,
}

/// The first error of a Salesforce error body, if the body is one (an
/// error array, or a Composite answer whose first entry is one). Bodies
/// are vendor text (messages, codes, field names), never our headers, so
/// they are safe to carry in errors.
pub(crate) fn first_error(body: &[u8]) -> Option<SfError> {
    if let Ok(errors) = serde_json::from_slice::<Vec<SfError>>(body) {
        return errors.into_iter().next();
    }
    let composite: CompositeErrors = serde_json::from_slice(body).ok()?;
    composite
        .composite_response
        .into_iter()
        .next()?
        .body
        .into_iter()
        .next()
}

/// Salesforce's reading of its own responses:
///
/// | answer | meaning |
/// |---|---|
/// | 2xx, 300 | success (300 is an upsert's "several matches", decoded by the caller) |
/// | 401 `INVALID_SESSION_ID` | [`Verdict::Unauthorized`]: the core refreshes once |
/// | 403 `REQUEST_LIMIT_EXCEEDED` | the org's rolling 24 h API limit: [`Verdict::QuotaExhausted`]; the concurrent long-request limit (`ConcurrentPerOrgLongTxn`) is passing: retry |
/// | 403 other | missing permission: [`Verdict::Fatal`] |
/// | 408, 429, 5xx | [`Verdict::Retry`], honouring `Retry-After` |
/// | 400 `MALFORMED_QUERY`, `INVALID_FIELD`, `INVALID_TYPE`, 404, 405, 415 | the configured object or field does not exist, or we built a bad request: [`Verdict::Fatal`] |
/// | other 4xx | [`Verdict::Rejected`] |
#[derive(Debug, Clone, Copy, Default)]
pub struct SalesforceClassify;

impl SalesforceClassify {
    fn message(response: &ApiResponse) -> (String, Option<String>) {
        match first_error(&response.body) {
            Some(e) => {
                let code = e.error_code.clone();
                let text = match &code {
                    Some(c) => format!("{} {c}: {}", response.status.as_u16(), e.message),
                    None => format!("{}: {}", response.status.as_u16(), e.message),
                };
                (text, code)
            }
            None => (format!("HTTP {}", response.status.as_u16()), None),
        }
    }
}

impl Classify for SalesforceClassify {
    fn classify(&self, response: &ApiResponse) -> Verdict {
        let status = response.status;
        if status.is_success() || status == StatusCode::MULTIPLE_CHOICES {
            return Verdict::Ok;
        }
        let retry_after = retry_after_seconds(response.header("retry-after"));
        if status == StatusCode::TOO_MANY_REQUESTS
            || status == StatusCode::REQUEST_TIMEOUT
            || status.is_server_error()
        {
            let (message, _) = Self::message(response);
            return Verdict::Retry {
                message,
                retry_after,
            };
        }
        let (message, code) = Self::message(response);
        match status {
            StatusCode::UNAUTHORIZED => Verdict::Unauthorized { message },
            StatusCode::FORBIDDEN => {
                if code.as_deref() == Some("REQUEST_LIMIT_EXCEEDED") {
                    if message.contains("ConcurrentPerOrgLongTxn") {
                        Verdict::Retry {
                            message,
                            retry_after,
                        }
                    } else {
                        // A rolling 24-hour window: Salesforce does not say when it frees up.
                        Verdict::QuotaExhausted {
                            message,
                            resets_at: None,
                        }
                    }
                } else {
                    Verdict::Fatal { message }
                }
            }
            StatusCode::NOT_FOUND
            | StatusCode::METHOD_NOT_ALLOWED
            | StatusCode::UNSUPPORTED_MEDIA_TYPE => Verdict::Fatal { message },
            StatusCode::BAD_REQUEST
                if matches!(
                    code.as_deref(),
                    Some("MALFORMED_QUERY" | "INVALID_FIELD" | "INVALID_TYPE" | "NOT_FOUND")
                ) =>
            {
                Verdict::Fatal { message }
            }
            _ => Verdict::Rejected { message, code },
        }
    }

    fn observe(&self, response: &ApiResponse, stats: &RequestStats) {
        if let Some((used, max)) = response
            .header("sforce-limit-info")
            .and_then(parse_limit_info)
        {
            stats.vendor_usage(used, max);
        }
    }
}

/// Reads `api-usage=18/5000` out of a `Sforce-Limit-Info` value (which may
/// carry more parts, e.g. `; api-bursts=1/100`).
pub(crate) fn parse_limit_info(value: &str) -> Option<(u64, u64)> {
    value.split(';').find_map(|part| {
        let usage = part.trim().strip_prefix("api-usage=")?;
        let (used, max) = usage.split_once('/')?;
        Some((used.trim().parse().ok()?, max.trim().parse().ok()?))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::{HeaderMap, HeaderValue};

    fn response(status: u16, body: &str) -> ApiResponse {
        ApiResponse {
            status: StatusCode::from_u16(status).unwrap(),
            headers: HeaderMap::new(),
            body: body.as_bytes().to_vec(),
        }
    }

    #[test]
    fn statuses_map_to_meanings() {
        let c = SalesforceClassify;
        assert_eq!(c.classify(&response(200, "{}")), Verdict::Ok);
        assert!(matches!(
            c.classify(&response(
                401,
                r#"[{"message":"Session expired or invalid","errorCode":"INVALID_SESSION_ID"}]"#
            )),
            Verdict::Unauthorized { .. }
        ));
        assert!(matches!(
            c.classify(&response(
                403,
                r#"[{"message":"TotalRequests Limit exceeded.","errorCode":"REQUEST_LIMIT_EXCEEDED"}]"#
            )),
            Verdict::QuotaExhausted { .. }
        ));
        assert!(matches!(
            c.classify(&response(
                403,
                r#"[{"message":"ConcurrentPerOrgLongTxn Limit exceeded.","errorCode":"REQUEST_LIMIT_EXCEEDED"}]"#
            )),
            Verdict::Retry { .. }
        ));
        assert!(matches!(
            c.classify(&response(
                400,
                r#"[{"message":"No such column","errorCode":"INVALID_FIELD"}]"#
            )),
            Verdict::Fatal { .. }
        ));
        assert!(matches!(
            c.classify(&response(
                400,
                r#"[{"message":"bad","errorCode":"JSON_PARSER_ERROR"}]"#
            )),
            Verdict::Rejected { .. }
        ));
        // A whole composite refused with a non-200 status keeps its reason.
        assert_eq!(
            c.classify(&response(
                400,
                r#"{"compositeResponse":[{"body":[{"errorCode":"LIMIT_EXCEEDED","message":"The request can’t contain more than 25 operations."}],"httpHeaders":{},"httpStatusCode":400,"referenceId":null}]}"#
            )),
            Verdict::Rejected {
                message: "400 LIMIT_EXCEEDED: The request can’t contain more than 25 operations."
                    .into(),
                code: Some("LIMIT_EXCEEDED".into())
            }
        );
        let mut r = response(503, "oops");
        r.headers
            .insert("retry-after", HeaderValue::from_static("3"));
        assert_eq!(
            c.classify(&r),
            Verdict::Retry {
                message: "HTTP 503".into(),
                retry_after: Some(std::time::Duration::from_secs(3))
            }
        );
    }

    #[test]
    fn limit_info_is_read() {
        assert_eq!(parse_limit_info("api-usage=18/5000"), Some((18, 5000)));
        assert_eq!(
            parse_limit_info("api-usage=18/5000; api-bursts=1/10"),
            Some((18, 5000))
        );
        assert_eq!(parse_limit_info("per-app-api-usage=1/2"), None);
    }
}
