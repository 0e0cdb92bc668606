//! Pushes from a tool: the daemon serves `POST /webhooks/<kind>` and asks
//! the connectors of that kind to verify each delivery; a verified one only
//! triggers an immediate cycle (polling stays the mechanism, so a forged or
//! lost push can neither add nor lose a change).
//!
//! What differs per tool (the signature scheme, the body's event shape)
//! lives in its crate behind [`WebhookVerifier`]; what every tool behind a
//! TLS proxy needs (which URL the sender signed) is here.

use std::fmt;

use jiff::Timestamp;
use reqwest::header::HeaderMap;

/// One delivery, as the admin server received it.
pub struct WebhookRequest<'a> {
    /// The HTTP method (`POST`).
    pub method: &'a str,
    /// The path and query the request arrived with (`/webhooks/hubspot?x=1`).
    pub path_and_query: &'a str,
    /// Its headers.
    pub headers: &'a HeaderMap,
    /// Its body, unread.
    pub body: &'a [u8],
    /// Now, by the daemon's clock (for timestamp freshness).
    pub now: Timestamp,
}

/// A delivery that verified: what deduplication and logs need.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WebhookDelivery {
    /// The events' ids, for deduplication of the sender's retries.
    pub event_ids: Vec<String>,
    /// The events' types (`contact.propertyChange`), for the debug log.
    pub event_types: Vec<String>,
}

/// Why a delivery was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WebhookRefusal {
    /// The timestamp is missing or outside the accepted age (a replay).
    Stale,
    /// The signature does not verify with the configured secret.
    BadSignature,
    /// It verified, but the body is not the tool's event format.
    Malformed(String),
}

impl fmt::Display for WebhookRefusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Stale => f.write_str("missing or stale timestamp"),
            Self::BadSignature => f.write_str("bad signature"),
            Self::Malformed(why) => write!(f, "unreadable body: {why}"),
        }
    }
}

/// Verifies one tool's pushes with one configured secret.
pub trait WebhookVerifier: Send + Sync {
    /// Checks the delivery's signature and freshness, then reads its events.
    fn verify(&self, request: &WebhookRequest<'_>) -> Result<WebhookDelivery, WebhookRefusal>;
}

/// The full URLs a sender may have signed for this request: behind a TLS
/// proxy the daemon sees `http://127.0.0.1/…` while the sender signed
/// `https://public.host/…`, so the proxy's `X-Forwarded-Host`/`-Proto` and
/// the `Host` header are tried, each with and without the reserved
/// characters percent-decoded (some senders decode them before signing).
pub fn signed_url_candidates(headers: &HeaderMap, path_and_query: &str) -> Vec<String> {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.split(',').next().unwrap_or(v).trim().to_owned())
    };
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
            let full = format!("{scheme}://{host}{path_and_query}");
            let decoded = percent_decode_reserved(&full);
            if decoded != full {
                out.push(decoded);
            }
            out.push(full);
        }
    }
    out
}

/// Decodes the percent-escapes of URI reserved characters.
pub fn percent_decode_reserved(uri: &str) -> String {
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

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    #[test]
    fn proxy_headers_name_the_url_the_sender_signed() {
        let mut headers = HeaderMap::new();
        headers.insert("host", HeaderValue::from_static("127.0.0.1:9464"));
        headers.insert(
            "x-forwarded-host",
            HeaderValue::from_static("lb.example.com"),
        );
        headers.insert("x-forwarded-proto", HeaderValue::from_static("https"));
        let urls = signed_url_candidates(&headers, "/webhooks/x?a=%3A");
        assert_eq!(
            urls,
            [
                "https://lb.example.com/webhooks/x?a=:",
                "https://lb.example.com/webhooks/x?a=%3A",
                "https://127.0.0.1:9464/webhooks/x?a=:",
                "https://127.0.0.1:9464/webhooks/x?a=%3A",
            ]
        );
    }

    #[test]
    fn without_a_proxy_both_schemes_are_tried() {
        let mut headers = HeaderMap::new();
        headers.insert("host", HeaderValue::from_static("h"));
        assert_eq!(
            signed_url_candidates(&headers, "/w"),
            ["https://h/w", "http://h/w"]
        );
    }
}
