//! Errors by meaning: each variant tells the caller what to do next.

use std::time::Duration;

use jiff::Timestamp;
use thiserror::Error;

/// Why a connector call failed. Variants carry no secret: messages are built
/// from status codes and vendor error bodies, never from request headers.
#[derive(Debug, Clone, Error, PartialEq)]
#[non_exhaustive]
pub enum ConnectorError {
    /// A passing failure (429, 5xx, timeout, dropped connection, unreadable
    /// body) that outlived the HTTP layer's retry budget. Try the whole step
    /// again later; `retry_after` is the server's last hint.
    #[error("temporary failure after retries: {message}")]
    Retryable {
        /// What failed last.
        message: String,
        /// How long the server asked to wait, if it said.
        retry_after: Option<Duration>,
    },
    /// The credentials were refused even after one refresh. The pipeline
    /// must halt and alert: retrying would only hammer the token endpoint.
    #[error("unauthorized: {message}")]
    Unauthorized {
        /// The vendor's reason, without any token.
        message: String,
    },
    /// The vendor refused the request itself (not one record of a batch,
    /// which is a [`crate::WriteOutcome::Rejected`]); sending it again unchanged fails again.
    #[error("request rejected: {message}")]
    Rejected {
        /// The vendor's message.
        message: String,
        /// The vendor's error code, when it gave one.
        code: Option<String>,
    },
    /// The daily API budget (the vendor's, or our configured cap) is spent.
    /// Stop calling until it resets; hammering only burns other integrations' quota.
    #[error("daily API quota exhausted ({message}){}", resets_at.map(|t| format!("; resets at {t}")).unwrap_or_default())]
    QuotaExhausted {
        /// Whose cap and how much was used.
        message: String,
        /// When calls may resume, when known.
        resets_at: Option<Timestamp>,
    },
    /// A request that changes data was sent and its answer was lost (a
    /// timeout or a dropped connection after the request left): the vendor
    /// may or may not have applied it. Never re-send it blind: look up what
    /// exists first (a create re-sent could duplicate every record in it).
    #[error("outcome unknown: {message}")]
    OutcomeUnknown {
        /// What was lost.
        message: String,
    },
    /// Misconfiguration (unknown object or field, bad URL, missing scope):
    /// no retry will help; a person must change the config.
    #[error("fatal: {message}")]
    Fatal {
        /// What is wrong and, where possible, what to change.
        message: String,
    },
}

impl ConnectorError {
    /// A [`ConnectorError::Fatal`] with this message.
    pub fn fatal(message: impl Into<String>) -> Self {
        Self::Fatal {
            message: message.into(),
        }
    }

    /// A [`ConnectorError::Rejected`] with this message and no code.
    pub fn rejected(message: impl Into<String>) -> Self {
        Self::Rejected {
            message: message.into(),
            code: None,
        }
    }

    /// True for the one kind worth retrying later without a person.
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::Retryable { .. })
    }
}

/// The result of a connector call.
pub type ConnectorResult<T> = Result<T, ConnectorError>;
