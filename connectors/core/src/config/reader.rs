//! A typed walk over the spanned TOML tree that reports every problem it
//! meets and keeps going. serde with `deny_unknown_fields` stops at the first
//! mistake; ops want them all, each at its own line and column.

use std::cell::RefCell;
use std::ops::Range;

use toml::de::{DeTable, DeValue};
use toml::Spanned;

use super::diagnostics::{suggest, Diagnostics};

/// One TOML table being read: hands out its values by key, checks their
/// types, and at [`Table::report_unknown`] reports keys nobody asked for.
pub struct Table<'a, 'i, 's> {
    table: &'a DeTable<'i>,
    span: Range<usize>,
    /// How the table is named in messages: `[connectors.hubspot]`.
    name: String,
    /// The dotted path of the table (`pipelines.handoff`), for its children's names.
    path: String,
    known: RefCell<Vec<&'static str>>,
    diag: &'a Diagnostics<'s>,
}

/// Names a TOML value's type the way ops write it.
pub fn type_name(value: &DeValue<'_>) -> &'static str {
    match value {
        DeValue::String(_) => "a string",
        DeValue::Integer(_) => "an integer",
        DeValue::Float(_) => "a float",
        DeValue::Boolean(_) => "a boolean",
        DeValue::Datetime(_) => "a date-time",
        DeValue::Array(_) => "an array",
        DeValue::Table(_) => "a table",
    }
}

impl<'a, 'i, 's> Table<'a, 'i, 's> {
    /// Reads `table`, found at `span`, named `name` in messages.
    pub fn new(
        table: &'a DeTable<'i>,
        span: Range<usize>,
        name: impl Into<String>,
        diag: &'a Diagnostics<'s>,
    ) -> Self {
        let name = name.into();
        let path = name
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_string();
        Self {
            table,
            span,
            path,
            name,
            known: RefCell::new(Vec::new()),
            diag,
        }
    }

    /// Where the table was written (its header, or the inline table).
    pub fn span(&self) -> Range<usize> {
        self.span.clone()
    }

    /// The table's name in messages.
    pub fn name(&self) -> &str {
        self.display_name()
    }

    fn display_name(&self) -> &str {
        if self.name.is_empty() {
            "the top level"
        } else {
            &self.name
        }
    }

    /// The diagnostics this table reports to.
    pub fn diag(&self) -> &'a Diagnostics<'s> {
        self.diag
    }

    /// The raw value of `key`, registering `key` as one this table knows.
    pub fn get(&self, key: &'static str) -> Option<&'a Spanned<DeValue<'i>>> {
        self.known.borrow_mut().push(key);
        self.table.get(key)
    }

    fn wrong_type(&self, key: &str, value: &Spanned<DeValue<'i>>, expected: &str) {
        self.diag.error(
            value.span(),
            format!(
                "`{key}` in {} is {}",
                self.display_name(),
                type_name(value.get_ref())
            ),
            Some(expected.to_string()),
        );
    }

    /// Reports that a required key is absent, at the table's position.
    pub fn missing(&self, key: &str, expected: &str) {
        self.diag.error(
            self.span.clone(),
            format!("missing key `{key}` in {}", self.display_name()),
            Some(expected.to_string()),
        );
    }

    /// An optional string.
    pub fn string(&self, key: &'static str, expected: &str) -> Option<Spanned<String>> {
        let value = self.get(key)?;
        match value.get_ref() {
            DeValue::String(s) => Some(Spanned::new(value.span(), s.to_string())),
            _ => {
                self.wrong_type(key, value, expected);
                None
            }
        }
    }

    /// A required string.
    pub fn req_string(&self, key: &'static str, expected: &str) -> Option<Spanned<String>> {
        if self.table.get(key).is_none() {
            self.known.borrow_mut().push(key);
            self.missing(key, expected);
            return None;
        }
        self.string(key, expected)
    }

    /// An optional integer.
    pub fn integer(&self, key: &'static str, expected: &str) -> Option<Spanned<i64>> {
        let value = self.get(key)?;
        match value.get_ref() {
            DeValue::Integer(i) => match i64::from_str_radix(i.as_str(), i.radix()) {
                Ok(n) => Some(Spanned::new(value.span(), n)),
                Err(_) => {
                    self.diag.error(
                        value.span(),
                        format!("`{key}` in {} is out of range", self.display_name()),
                        Some(expected.to_string()),
                    );
                    None
                }
            },
            _ => {
                self.wrong_type(key, value, expected);
                None
            }
        }
    }

    /// A required integer.
    pub fn req_integer(&self, key: &'static str, expected: &str) -> Option<Spanned<i64>> {
        if self.table.get(key).is_none() {
            self.known.borrow_mut().push(key);
            self.missing(key, expected);
            return None;
        }
        self.integer(key, expected)
    }

    /// An optional boolean.
    pub fn boolean(&self, key: &'static str, expected: &str) -> Option<Spanned<bool>> {
        let value = self.get(key)?;
        match value.get_ref() {
            DeValue::Boolean(b) => Some(Spanned::new(value.span(), *b)),
            _ => {
                self.wrong_type(key, value, expected);
                None
            }
        }
    }

    /// An optional array of strings; a wrong element is reported and skipped.
    pub fn strings(
        &self,
        key: &'static str,
        expected: &str,
    ) -> Option<Spanned<Vec<Spanned<String>>>> {
        let value = self.get(key)?;
        let DeValue::Array(items) = value.get_ref() else {
            self.wrong_type(key, value, expected);
            return None;
        };
        let mut out = Vec::new();
        for item in items.iter() {
            match item.get_ref() {
                DeValue::String(s) => out.push(Spanned::new(item.span(), s.to_string())),
                other => self.diag.error(
                    item.span(),
                    format!(
                        "an element of `{key}` in {} is {}",
                        self.display_name(),
                        type_name(other)
                    ),
                    Some("strings only".to_string()),
                ),
            }
        }
        Some(Spanned::new(value.span(), out))
    }

    /// An optional sub-table (inline or with its own header).
    /// A table of strings (`values = { "a" = "b" }`, `set = { lifecycle = "lead" }`),
    /// each entry located; a non-string entry or a non-table value is
    /// reported with `entry_expected` / `expected`, and the good entries kept.
    pub fn string_map(
        &self,
        key: &'static str,
        entry_expected: &str,
        expected: &str,
    ) -> Option<Spanned<std::collections::BTreeMap<Spanned<String>, Spanned<String>>>> {
        let v = self.get(key)?;
        match v.get_ref() {
            DeValue::Table(map) => {
                let mut out = std::collections::BTreeMap::new();
                for (k, val) in map.iter() {
                    let name = Spanned::new(k.span(), k.get_ref().to_string());
                    match val.get_ref() {
                        DeValue::String(s) => {
                            out.insert(name, Spanned::new(val.span(), s.to_string()));
                        }
                        other => self.diag().error(
                            val.span(),
                            format!(
                                "`{key}.{}` in {} is {}",
                                k.get_ref(),
                                self.name(),
                                type_name(other)
                            ),
                            Some(entry_expected.into()),
                        ),
                    }
                }
                Some(Spanned::new(v.span(), out))
            }
            other => {
                self.diag().error(
                    v.span(),
                    format!("`{key}` in {} is {}", self.name(), type_name(other)),
                    Some(expected.into()),
                );
                None
            }
        }
    }

    /// An optional sub-table (inline or not).
    pub fn table(&self, key: &'static str, expected: &str) -> Option<Table<'a, 'i, 's>> {
        let value = self.get(key)?;
        match value.get_ref() {
            DeValue::Table(t) => Some(Table::new(t, value.span(), self.child_name(key), self.diag)),
            _ => {
                self.wrong_type(key, value, expected);
                None
            }
        }
    }

    /// A required sub-table.
    pub fn req_table(&self, key: &'static str, expected: &str) -> Option<Table<'a, 'i, 's>> {
        if self.table.get(key).is_none() {
            self.known.borrow_mut().push(key);
            self.missing(key, expected);
            return None;
        }
        self.table(key, expected)
    }

    /// An optional array of tables (`[[pipelines]]` or `[{…}, {…}]`); each
    /// element is named `name[i]` in messages.
    pub fn tables(&self, key: &'static str, expected: &str) -> Option<Vec<Table<'a, 'i, 's>>> {
        let value = self.get(key)?;
        let DeValue::Array(items) = value.get_ref() else {
            self.wrong_type(key, value, expected);
            return None;
        };
        let mut out = Vec::new();
        for (i, item) in items.iter().enumerate() {
            match item.get_ref() {
                DeValue::Table(t) => {
                    let path = self.child_name(key);
                    let path = path
                        .trim_start_matches('[')
                        .trim_end_matches(']')
                        .to_string();
                    out.push(
                        Table::new(t, item.span(), format!("[[{path}]] #{}", i + 1), self.diag)
                            .with_path(path),
                    )
                }
                other => self.diag.error(
                    item.span(),
                    format!(
                        "an element of `{key}` in {} is {}",
                        self.display_name(),
                        type_name(other)
                    ),
                    Some(expected.to_string()),
                ),
            }
        }
        Some(out)
    }

    /// Every entry of a table whose keys are names chosen by ops
    /// (`[connectors.<name>]`, `[pipelines.fields]`, value maps). Marks the
    /// whole table as read.
    pub fn entries(
        &self,
    ) -> impl Iterator<Item = (Spanned<String>, &'a Spanned<DeValue<'i>>)> + '_ {
        self.table
            .iter()
            .map(|(k, v)| (Spanned::new(k.span(), k.get_ref().to_string()), v))
    }

    /// Sets the dotted path children are named from, when the table's
    /// own name is not a path (`[[pipelines]] #1`, `field `email``).
    pub fn with_path(mut self, path: impl Into<String>) -> Self {
        self.path = path.into();
        self
    }

    /// The name of a child key in messages.
    pub fn child_name(&self, key: &str) -> String {
        if self.path.is_empty() {
            format!("[{key}]")
        } else {
            format!("[{}.{key}]", self.path)
        }
    }

    /// Reports every key that no accessor asked for: a typo or a setting
    /// this version does not have. Call it after every accessor.
    pub fn report_unknown(&self) {
        let known = self.known.borrow();
        for (key, _) in self.table.iter() {
            let name = key.get_ref().as_ref();
            if known.contains(&name) {
                continue;
            }
            let mut expected = format!("one of: {}", known.join(", "));
            if let Some(s) = suggest(name, known.iter().copied()) {
                expected = format!("`{s}`; {expected}");
            }
            self.diag.error(
                key.span(),
                format!("unknown key `{name}` in {}", self.display_name()),
                Some(expected),
            );
        }
    }
}
