//! Shared helpers of the validation stage: each turns one raw value into a
//! checked one, or reports why not at the value's position and yields `None`
//! so validation goes on and finds the next problem.

use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use secrecy::SecretString;

use super::diagnostics::{suggest, Diagnostics};
use super::duration::parse_duration;
use super::raw::Text;
use super::secret::{looks_like_reference, SecretRef, SecretSource};
use crate::rules::{Rule, RuleError};

/// What validation needs besides the raw config.
pub(crate) struct Checker<'a, 's> {
    /// Where problems go.
    pub(crate) diag: &'a Diagnostics<'s>,
    /// Where secret references are resolved.
    pub(crate) secrets: &'a dyn SecretSource,
    /// The config file's folder: relative paths are taken from here.
    pub(crate) base: PathBuf,
}

impl Checker<'_, '_> {
    /// Reports a problem at `span`.
    pub(crate) fn error(
        &self,
        span: Range<usize>,
        message: impl Into<String>,
        expected: impl Into<Option<String>>,
    ) {
        self.diag.error(span, message, expected.into());
    }

    /// A duration such as `"30s"`.
    pub(crate) fn duration(&self, key: &str, text: &Text) -> Option<Duration> {
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
    pub(crate) fn choice<T>(
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
    pub(crate) fn non_empty(&self, key: &str, text: &Text) -> Option<String> {
        if text.get_ref().trim().is_empty() {
            self.error(text.span(), format!("`{key}` is empty"), None);
            return None;
        }
        Some(text.get_ref().clone())
    }

    /// An http(s) URL, returned without a trailing slash.
    pub(crate) fn url(&self, key: &str, text: &Text) -> Option<String> {
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
    pub(crate) fn path(&self, text: &Text) -> PathBuf {
        self.base.join(text.get_ref())
    }

    /// A secret given by reference, resolved now so a missing one is found
    /// by `check` rather than at the first API call.
    pub(crate) fn secret(&self, key: &str, text: &Text) -> Option<SecretString> {
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
    pub(crate) fn plain_or_reference(&self, key: &str, text: &Text) -> Option<String> {
        if looks_like_reference(text.get_ref()) {
            use secrecy::ExposeSecret;
            return self
                .secret(key, text)
                .map(|s| s.expose_secret().to_string());
        }
        self.non_empty(key, text)
    }

    /// A CEL rule over `fields`; each problem is reported at its place in
    /// the TOML string when the string maps one to one onto the file.
    pub(crate) fn rule(&self, key: &str, text: &Text, fields: &[String]) -> Option<Arc<Rule>> {
        match Rule::check(text.get_ref(), fields) {
            Ok(rule) => Some(Arc::new(rule)),
            Err(errors) => {
                for e in errors {
                    let (line, column, message, expected) = match &e {
                        RuleError::Syntax {
                            line,
                            column,
                            message,
                        } => (
                            *line,
                            *column,
                            format!("`{key}` is not valid CEL: {message}"),
                            "a CEL expression such as \"score >= 80 && country == 'JP'\""
                                .to_string(),
                        ),
                        RuleError::UnknownField {
                            name, line, column, ..
                        } => {
                            let hint = match suggest(name, fields.iter().map(String::as_str)) {
                                Some(s) => format!(
                                    "`{s}`; a canonical field of this pipeline: {}",
                                    fields.join(", ")
                                ),
                                None => format!(
                                    "a canonical field of this pipeline: {}",
                                    fields.join(", ")
                                ),
                            };
                            (
                                *line,
                                *column,
                                format!("`{key}` names `{name}`, which is not a canonical field"),
                                hint,
                            )
                        }
                        other => (1, 1, format!("`{key}`: {other}"), String::new()),
                    };
                    let at = self.offset_in_string(text, line, column);
                    self.error(at..at, message, (!expected.is_empty()).then_some(expected));
                }
                None
            }
        }
    }

    /// The byte offset in the file of `line:column` of a TOML string's
    /// value, or the string's start when escapes make that ambiguous.
    fn offset_in_string(&self, text: &Text, line: usize, column: usize) -> usize {
        let span = text.span();
        let raw = &self.diag.text()[span.clone()];
        let (open, basic) = if raw.starts_with("\"\"\"") {
            (3, true)
        } else if raw.starts_with("'''") {
            (3, false)
        } else if raw.starts_with('"') {
            (1, true)
        } else if raw.starts_with('\'') {
            (1, false)
        } else {
            return span.start;
        };
        if basic && raw.contains('\\') {
            return span.start;
        }
        let mut start = span.start + open;
        if open == 3 {
            if self.diag.text()[start..].starts_with("\r\n") {
                start += 2;
            } else if self.diag.text()[start..].starts_with('\n') {
                start += 1;
            }
        }
        let value = text.get_ref();
        let mut offset = 0;
        for (i, l) in value.split_inclusive('\n').enumerate() {
            if i + 1 == line {
                offset += l
                    .char_indices()
                    .nth(column.saturating_sub(1))
                    .map_or(l.len(), |(b, _)| b);
                return start + offset;
            }
            offset += l.len();
        }
        start + offset.min(value.len())
    }
}

/// The folder of a config file, for relative paths.
pub(crate) fn base_dir(file: &Path) -> PathBuf {
    match file.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}
