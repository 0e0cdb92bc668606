//! Reading config sections with located diagnostics, shared by the daemon
//! and every connector crate.
//!
//! Each connector crate parses and validates its own `[connectors.<name>]`
//! section (see [`crate::factory`]), so the same machinery the daemon uses
//! for the rest of the file lives here: a typed walk over the spanned TOML
//! tree ([`Table`]) that reports every problem with file:line:col and keeps
//! going, the checks of single values ([`Checker`]: durations, URLs, secret
//! references, choices with did-you-mean), and the keys every connector
//! shares (auth, rate limit, retries, timeout, overlap: [`section`]).

mod checker;
mod diagnostics;
mod duration;
mod reader;
mod secret;
pub mod section;

pub use checker::{base_dir, Checker};
pub use diagnostics::{suggest, ConfigError, ConfigErrors, Diagnostics, Places, SourceMap};
pub use duration::{parse_duration, parts as duration_parts};
pub use reader::{type_name, Table};
pub use secret::{looks_like_reference, SecretRef, SecretSource, SystemSecrets};

/// A value with where it was written (what [`Table`] hands out).
pub use toml::Spanned;

/// A string with where it was written.
pub type Text = toml::Spanned<String>;

/// How ops write a duration, for "expected" hints.
pub const DURATION_HINT: &str = "a duration such as \"30s\", \"2m\", \"8h\" or \"5d\"";

/// How ops write a secret reference, for "expected" hints.
pub const SECRET_HINT: &str = "a reference: \"env:NAME\" or \"file:/path\"";
