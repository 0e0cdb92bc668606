//! CEL rules in the config: compiled at validation, each problem reported
//! at its place inside the TOML string (when the string maps one to one
//! onto the file), so a typo in a rule reads like any other config error.

use std::sync::Arc;

use leadbridge_core::config::{suggest, Checker, Text};

use super::fields::{FieldMapping, FieldType};
use crate::rules::{Literal, Rule, RuleError};

/// Validation of CEL rules, on top of the shared value checks.
pub(crate) trait RuleChecks {
    /// A CEL rule over `fields`, or every problem reported and `None`.
    fn rule(&self, key: &str, text: &Text, fields: &[String]) -> Option<Arc<Rule>>;
}

impl RuleChecks for Checker<'_, '_> {
    /// A CEL rule over `fields`; each problem is reported at its place in
    /// the TOML string when the string maps one to one onto the file.
    fn rule(&self, key: &str, text: &Text, fields: &[String]) -> Option<Arc<Rule>> {
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
                    let at = offset_in_string(self, text, line, column);
                    self.error(at..at, message, (!expected.is_empty()).then_some(expected));
                }
                None
            }
        }
    }
}

/// The byte offset in the file of `line:column` of a TOML string's
/// value, or the string's start when escapes make that ambiguous.
fn offset_in_string(c: &Checker<'_, '_>, text: &Text, line: usize, column: usize) -> usize {
    let span = text.span();
    let raw = &c.diag.text()[span.clone()];
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
        if c.diag.text()[start..].starts_with("\r\n") {
            start += 2;
        } else if c.diag.text()[start..].starts_with('\n') {
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

/// Reports the comparisons of `rule` (written at `text`, as `key`) that can
/// never be true because the field's canonical type and the literal's
/// differ (`employees >= 50` on a text field): CEL would refuse them at
/// every evaluation, and every record would be dead-lettered or never
/// qualify. Returns whether the rule is sound.
pub(crate) fn check_types(
    c: &Checker<'_, '_>,
    key: &str,
    text: &Text,
    rule: &Rule,
    fields: &[FieldMapping],
) -> bool {
    let mut ok = true;
    for cmp in rule.comparisons() {
        let Some(field) = fields.iter().find(|f| f.name == cmp.field) else {
            continue;
        };
        let fits = matches!(
            (&field.value_type, &cmp.literal),
            (_, Literal::Null)
                | (FieldType::Number, Literal::Number(_))
                | (FieldType::String | FieldType::Datetime, Literal::Text(_))
                | (FieldType::Bool, Literal::Bool(_))
        );
        if fits {
            continue;
        }
        let kind = match field.value_type {
            FieldType::String => "text",
            FieldType::Number => "a number",
            FieldType::Bool => "a boolean",
            FieldType::Datetime => "a date-time (text)",
        };
        let hint = match (&field.value_type, &cmp.literal) {
            (FieldType::String, Literal::Number(_)) => format!(
                "a text literal (`{} == '…'`, or `in [...]` over its values), or `type = \"number\"` on field `{}` if it holds numbers",
                cmp.field, cmp.field
            ),
            (FieldType::Number, Literal::Text(_)) => {
                format!("a number, such as `{} >= 50`", cmp.field)
            }
            _ => format!("a literal of the field's type ({kind})"),
        };
        c.error(
            text.span(),
            format!(
                "`{key}` compares `{}` ({kind}) with {} ({}): that can never be true",
                cmp.field,
                cmp.literal,
                cmp.literal.kind()
            ),
            Some(hint),
        );
        ok = false;
    }
    ok
}
