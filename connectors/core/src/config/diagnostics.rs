//! Located problems: every mistake in a config file is reported with the
//! file, line and column where ops should look, and what was expected, so
//! `leadbridge check` reads like a compiler and never stops at the first one.

use std::cell::RefCell;
use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};

/// One problem in a config file, pointing at the key or value at fault.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// The config file, as it was named to `leadbridge`.
    pub file: PathBuf,
    /// The line, counted from 1.
    pub line: usize,
    /// The column in characters, counted from 1.
    pub column: usize,
    /// What is wrong; never holds a secret's value.
    pub message: String,
    /// What would have been right, when there is something useful to say.
    pub expected: Option<String>,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: error: {}",
            self.file.display(),
            self.line,
            self.column,
            self.message
        )?;
        if let Some(expected) = &self.expected {
            write!(f, " (expected {expected})")?;
        }
        Ok(())
    }
}

impl ConfigError {
    /// The same problem, shown as a warning (`file:line:col: warning: …`):
    /// worth a look, refuses nothing.
    pub fn as_warning(&self) -> impl fmt::Display + '_ {
        struct Warning<'a>(&'a ConfigError);
        impl fmt::Display for Warning<'_> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                let e = self.0;
                write!(
                    f,
                    "{}:{}:{}: warning: {}",
                    e.file.display(),
                    e.line,
                    e.column,
                    e.message
                )?;
                if let Some(expected) = &e.expected {
                    write!(f, " (expected {expected})")?;
                }
                Ok(())
            }
        }
        Warning(self)
    }
}

/// Every problem found in one config file, in file order. A config is either
/// wholly valid or refused with all of these, so ops fix them in one pass.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ConfigErrors {
    /// The problems, sorted by position.
    pub errors: Vec<ConfigError>,
}

impl ConfigErrors {
    /// How many problems were found.
    pub fn len(&self) -> usize {
        self.errors.len()
    }

    /// Whether there are none (never true for a returned error).
    pub fn is_empty(&self) -> bool {
        self.errors.is_empty()
    }

    /// Iterates over the problems in file order.
    pub fn iter(&self) -> std::slice::Iter<'_, ConfigError> {
        self.errors.iter()
    }
}

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.errors.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

/// Turns byte offsets in the config text into 1-based line and column.
#[derive(Debug)]
pub struct SourceMap<'s> {
    file: PathBuf,
    text: &'s str,
}

impl<'s> SourceMap<'s> {
    /// A map over `text`, read from `file` (named in every error).
    pub fn new(file: &Path, text: &'s str) -> Self {
        Self {
            file: file.to_path_buf(),
            text,
        }
    }

    /// The text the offsets point into.
    pub fn text(&self) -> &'s str {
        self.text
    }

    /// Line and column (both from 1, column in characters) of a byte offset.
    pub fn position(&self, offset: usize) -> (usize, usize) {
        let mut offset = offset.min(self.text.len());
        while !self.text.is_char_boundary(offset) {
            offset -= 1;
        }
        let before = &self.text[..offset];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let column = before[line_start..].chars().count() + 1;
        (line, column)
    }
}

/// Collects problems while the config is read and validated. Shared by
/// reference (interior mutability) so that nested readers can all report.
#[derive(Debug)]
pub struct Diagnostics<'s> {
    source: SourceMap<'s>,
    errors: RefCell<Vec<(usize, ConfigError)>>,
    places: RefCell<Places>,
}

/// Where settings were written, by a path naming the setting
/// (`pipelines.inbound.fields.email.crm`): checks that run after the file
/// was read (against the tools' own metadata) report at the setting's
/// line and column like every other config error.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Places {
    file: PathBuf,
    at: std::collections::BTreeMap<String, (usize, usize)>,
}

impl Places {
    /// Where `path` was written, if it was.
    pub fn get(&self, path: &str) -> Option<(usize, usize)> {
        self.at.get(path).copied()
    }

    /// An error at `path`; when that exact setting was not recorded (a
    /// default, a nested part), at the closest enclosing one that was, else
    /// at the file's top.
    pub fn error(
        &self,
        path: &str,
        message: impl Into<String>,
        expected: Option<String>,
    ) -> ConfigError {
        let mut at = path;
        let (line, column) = loop {
            if let Some(found) = self.get(at) {
                break found;
            }
            match at.rfind('.') {
                Some(dot) => at = &at[..dot],
                None => break (1, 1),
            }
        };
        ConfigError {
            file: self.file.clone(),
            line,
            column,
            message: message.into(),
            expected,
        }
    }
}

impl<'s> Diagnostics<'s> {
    /// An empty collection over one file's text.
    pub fn new(source: SourceMap<'s>) -> Self {
        let places = Places {
            file: source.file.clone(),
            at: Default::default(),
        };
        Self {
            source,
            errors: RefCell::new(Vec::new()),
            places: RefCell::new(places),
        }
    }

    /// Remembers where the setting named `path` was written (see [`Places`]).
    pub fn remember(&self, path: impl Into<String>, span: Range<usize>) {
        let position = self.source.position(span.start);
        self.places.borrow_mut().at.insert(path.into(), position);
    }

    /// Every remembered place.
    pub fn places(&self) -> Places {
        self.places.borrow().clone()
    }

    /// The config text.
    pub fn text(&self) -> &'s str {
        self.source.text()
    }

    /// Reports a problem at the start of `span` (a byte range of the text).
    pub fn error(&self, span: Range<usize>, message: impl Into<String>, expected: Option<String>) {
        let (line, column) = self.source.position(span.start);
        self.errors.borrow_mut().push((
            span.start,
            ConfigError {
                file: self.source.file.clone(),
                line,
                column,
                message: message.into(),
                expected,
            },
        ));
    }

    /// Whether any problem has been reported so far.
    pub fn has_errors(&self) -> bool {
        !self.errors.borrow().is_empty()
    }

    /// All problems, in file order; the same problem reported twice at the
    /// same place (e.g. by two checks that overlap) is shown once.
    pub fn into_errors(self) -> ConfigErrors {
        let mut errors = self.errors.into_inner();
        errors.sort_by_key(|(offset, _)| *offset);
        let mut out: Vec<ConfigError> = Vec::with_capacity(errors.len());
        for (_, e) in errors {
            if !out.contains(&e) {
                out.push(e);
            }
        }
        ConfigErrors { errors: out }
    }
}

/// The closest of `candidates` to `word`, if it is close enough to be a
/// likely typo ("shedule" → "schedule").
pub fn suggest<'c>(word: &str, candidates: impl IntoIterator<Item = &'c str>) -> Option<&'c str> {
    let limit = (word.chars().count() / 3).max(1);
    candidates
        .into_iter()
        .map(|c| (edit_distance(word, c), c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// Levenshtein distance over characters, case-insensitive.
fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.to_lowercase().chars().collect();
    let b: Vec<char> = b.to_lowercase().chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_are_one_based_and_count_characters() {
        let map = SourceMap::new(Path::new("x.toml"), "a = 1\nb = \"é\" x\n");
        assert_eq!(map.position(0), (1, 1));
        assert_eq!(map.position(6), (2, 1));
        // "é" is two bytes but one column.
        assert_eq!(map.position(6 + 9), (2, 9));
    }

    #[test]
    fn suggests_close_words_only() {
        assert_eq!(suggest("shedule", ["schedule", "name"]), Some("schedule"));
        assert_eq!(suggest("zzz", ["schedule", "name"]), None);
    }
}
