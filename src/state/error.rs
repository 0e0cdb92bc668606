//! What can go wrong in the state store, by meaning.

use std::path::PathBuf;

/// Errors of the state store and the token vault.
///
/// Each variant says what the caller should do: `Locked` is an operator
/// problem (two daemons on one directory), `Corrupt` and `Backend` halt the
/// daemon (state cannot be trusted), `LinkConflict` is an engine bug the
/// commit refused rather than apply, `InvalidName` is a configuration error.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StateError {
    /// Another process holds the state directory's lock.
    #[error(
        "another leadbridge instance is using the state directory {}; \
         stop it, or give this one its own state_dir",
        dir.display()
    )]
    Locked {
        /// The state directory.
        dir: PathBuf,
    },
    /// A file-system operation failed (creating the directory, the token vault…).
    #[error("{context}: {source}")]
    Io {
        /// What was being done, with the path.
        context: String,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// The storage backend failed (disk full, I/O error, a bug in the engine
    /// below us). The backend's own error is kept as the source.
    #[error("state storage failed: {0}")]
    Backend(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// A stored entry could not be decoded: the state was written by a newer
    /// leadbridge, or damaged.
    #[error("corrupt state entry in {what}: {detail}")]
    Corrupt {
        /// Which kind of entry (`link`, `cursor`, `dead letter`…).
        what: &'static str,
        /// Why it could not be read.
        detail: String,
    },
    /// A commit tried to link a CRM record that is already linked to another
    /// marketing record. Applying it would orphan the other link and let the
    /// engine create a duplicate later, so the whole commit is refused.
    #[error(
        "pipeline {pipeline}: CRM record {crm_id} is already linked to marketing record \
         {linked_to}, cannot link it to {marketing_id} too"
    )]
    LinkConflict {
        /// The pipeline.
        pipeline: String,
        /// The CRM record both links name.
        crm_id: String,
        /// The marketing record it is linked to now.
        linked_to: String,
        /// The marketing record the commit wanted to link it to.
        marketing_id: String,
    },
    /// A pipeline or connector name that cannot be used as a storage key or
    /// file name.
    #[error("invalid {what} name {name:?}: {why}")]
    InvalidName {
        /// `pipeline` or `connector`.
        what: &'static str,
        /// The name as given.
        name: String,
        /// What is wrong with it.
        why: &'static str,
    },
}

/// The result of state store operations.
pub type StateResult<T> = Result<T, StateError>;

impl StateError {
    /// An I/O error with what was being done.
    pub(crate) fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Self::Io {
            context: context.into(),
            source,
        }
    }

    /// A decoding failure of one kind of entry.
    pub(crate) fn corrupt(what: &'static str, detail: impl ToString) -> Self {
        Self::Corrupt {
            what,
            detail: detail.to_string(),
        }
    }
}
