//! The bearer token on state-changing admin actions, compared in constant
//! time so a caller cannot learn it byte by byte from response times.

use axum::http::HeaderMap;
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};

/// Whether `headers` carry `Authorization: Bearer <expected>`. With no
/// token configured every action is refused: a state-changing endpoint is
/// never open by omission.
pub(crate) fn bearer_ok(headers: &HeaderMap, expected: Option<&SecretString>) -> bool {
    let Some(expected) = expected else {
        return false;
    };
    let Some(given) = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            let (scheme, token) = v.split_once(' ')?;
            scheme
                .eq_ignore_ascii_case("bearer")
                .then_some(token.trim())
        })
    else {
        return false;
    };
    constant_time_eq(given.as_bytes(), expected.expose_secret().as_bytes())
}

/// Equal in time independent of where the inputs differ, and of their
/// lengths: both are hashed first, then every byte of the digests compared.
pub(crate) fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    let (da, db) = (Sha256::digest(a), Sha256::digest(b));
    let diff = da
        .iter()
        .zip(db.iter())
        .fold(0u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(diff) == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(v: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("authorization", HeaderValue::from_str(v).unwrap());
        h
    }

    #[test]
    fn only_the_exact_bearer_token_passes() {
        let token = SecretString::from("s3cret-admin");
        assert!(bearer_ok(&headers("Bearer s3cret-admin"), Some(&token)));
        assert!(bearer_ok(&headers("bearer s3cret-admin"), Some(&token)));
        assert!(!bearer_ok(&headers("Bearer s3cret-admiN"), Some(&token)));
        assert!(!bearer_ok(&headers("Bearer s3cret"), Some(&token)));
        assert!(!bearer_ok(&headers("Basic s3cret-admin"), Some(&token)));
        assert!(!bearer_ok(&HeaderMap::new(), Some(&token)));
        assert!(!bearer_ok(&headers("Bearer s3cret-admin"), None));
    }
}
