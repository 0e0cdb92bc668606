//! Shared helpers of the validation stage: each turns one raw value into a
//! checked one, or reports why not at the value's position and yields `None`
//! so validation goes on and finds the next problem.

use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;

use secrecy::SecretString;

use super::diagnostics::{suggest, Diagnostics};
use super::duration::parse_duration;
use super::secret::{looks_like_reference, SecretRef, SecretSource};
use super::Text;

/// What validation needs besides the raw config.
pub struct Checker<'a, 's> {
    /// Where problems go.
    pub diag: &'a Diagnostics<'s>,
    /// Where secret references are resolved.
    pub secrets: &'a dyn SecretSource,
    /// The config file's folder: relative paths are taken from here.
    pub base: PathBuf,
}

impl Checker<'_, '_> {
    /// Reports a problem at `span`.
    pub fn error(
        &self,
        span: Range<usize>,
        message: impl Into<String>,
        expected: impl Into<Option<String>>,
    ) {
        self.diag.error(span, message, expected.into());
    }

    /// A duration such as `"30s"`.
    pub fn duration(&self, key: &str, text: &Text) -> Option<Duration> {
        match parse_duration(text.get_ref()) {
            Ok(d) => Some(d),
            Err(problem) => {
                self.error(
                    text.span(),
                    format!("bad duration for `{key}`: {problem}"),
                    Some("a duration such as \"30s\", \"2m\", \"8h\" or \"5d\"".to_string()),
                );
                None
            }
        }
    }

    /// One of a fixed set of names.
    pub fn choice<T>(
        &self,
        key: &str,
        text: &Text,
        names: &[&str],
        parse: impl Fn(&str) -> Option<T>,
    ) -> Option<T> {
        let value = text.get_ref();
        if let Some(v) = parse(value) {
            return Some(v);
        }
        let list = names
            .iter()
            .map(|n| format!("\"{n}\""))
            .collect::<Vec<_>>()
            .join(", ");
        let expected = match suggest(value, names.iter().copied()) {
            Some(s) => format!("\"{s}\"; one of {list}"),
            None => format!("one of {list}"),
        };
        self.error(
            text.span(),
            format!("unknown {key} `{value}`"),
            Some(expected),
        );
        None
    }

    /// A non-empty string.
    pub fn non_empty(&self, key: &str, text: &Text) -> Option<String> {
        if text.get_ref().trim().is_empty() {
            self.error(text.span(), format!("`{key}` is empty"), None);
            return None;
        }
        Some(text.get_ref().clone())
    }

    /// An http(s) URL, returned without a trailing slash.
    pub fn url(&self, key: &str, text: &Text) -> Option<String> {
        match url::Url::parse(text.get_ref()) {
            Ok(u) if (u.scheme() == "http" || u.scheme() == "https") && u.host().is_some() => {
                Some(text.get_ref().trim_end_matches('/').to_string())
            }
            Ok(_) => {
                self.error(
                    text.span(),
                    format!("`{key}` is not an http(s) URL"),
                    Some("a URL such as \"https://api.example.com\"".to_string()),
                );
                None
            }
            Err(e) => {
                self.error(
                    text.span(),
                    format!("`{key}` is not a URL: {e}"),
                    Some("a URL such as \"https://api.example.com\"".to_string()),
                );
                None
            }
        }
    }

    /// A path, relative ones taken from the config file's folder.
    pub fn path(&self, text: &Text) -> PathBuf {
        self.base.join(text.get_ref())
    }

    /// A secret given by reference, resolved now so a missing one is found
    /// by `check` rather than at the first API call.
    pub fn secret(&self, key: &str, text: &Text) -> Option<SecretString> {
        let reference = match SecretRef::parse(text.get_ref()) {
            Ok(r) => r,
            Err(problem) => {
                self.error(
                    text.span(),
                    format!("`{key}`: {problem}"),
                    Some("a reference: \"env:NAME\" or \"file:/path\"".to_string()),
                );
                return None;
            }
        };
        match reference.resolve(self.secrets, &self.base) {
            Ok(s) => Some(s),
            Err(problem) => {
                self.error(
                    text.span(),
                    format!("`{key}`: {problem}"),
                    Some(match reference {
                        SecretRef::Env(_) => {
                            "the variable to be set in the daemon's environment".to_string()
                        }
                        SecretRef::File(_) => "a readable, non-empty file".to_string(),
                    }),
                );
                None
            }
        }
    }

    /// A value that may be given literally or by reference (a client id).
    pub fn plain_or_reference(&self, key: &str, text: &Text) -> Option<String> {
        if looks_like_reference(text.get_ref()) {
            use secrecy::ExposeSecret;
            return self
                .secret(key, text)
                .map(|s| s.expose_secret().to_string());
        }
        self.non_empty(key, text)
    }
}

/// The folder of a config file, for relative paths.
pub fn base_dir(file: &Path) -> PathBuf {
    match file.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}
