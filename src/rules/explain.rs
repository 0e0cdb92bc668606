//! Splitting a rule into the conditions ops think in, so `leadbridge
//! explain` can say which one held a lead back.

use std::fmt;

use cel::common::ast::{operators, Expr};
use cel::IdedExpr;

use super::ast::free_identifiers;
use super::{Condition, RuleError, ENV};

/// How one condition of a rule fared on one record.
#[derive(Debug, Clone, PartialEq)]
pub struct ConditionOutcome {
    /// The condition as written (`score >= 80`).
    pub condition: String,
    /// Whether it held, or why it could not be evaluated.
    pub result: Result<bool, RuleError>,
    /// The canonical fields it read and their values (`None`: missing).
    pub values: Vec<(String, Option<serde_json::Value>)>,
}

impl fmt::Display for ConditionOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: ", self.condition)?;
        match &self.result {
            Ok(held) => write!(f, "{held}")?,
            // The error's own value list would repeat ours.
            Err(RuleError::Evaluation { message, .. }) => write!(f, "error: {message}")?,
            Err(RuleError::NotBool { got, .. }) => {
                write!(f, "error: gave {got}, not true or false")?
            }
            Err(e) => write!(f, "error: {e}")?,
        }
        if !self.values.is_empty() {
            let values: Vec<String> = self
                .values
                .iter()
                .map(|(name, value)| match value {
                    Some(v) => format!("{name} = {v}"),
                    None => format!("{name} missing"),
                })
                .collect();
            write!(f, " ({})", values.join(", "))?;
        }
        Ok(())
    }
}

/// The conditions of `expr`'s top-level `&&` chain, with their text taken
/// from `source`. A rule that is not a chain is one condition.
///
/// The parser keeps no span for a whole sub-expression, so the chain is
/// split lexically at depth-0 `&&` and each part compiled on its own; the
/// split agrees with the tree whenever the root is `&&` (it binds tighter
/// than `||` and `?:`), and parenthesised groups stay one condition.
pub(super) fn conditions(source: &str, expr: &IdedExpr) -> Vec<Condition> {
    let whole = || vec![condition(source.trim().to_string(), expr)];
    let is_chain = matches!(&expr.expr,
        Expr::Call(call) if call.func_name == operators::LOGICAL_AND && call.target.is_none());
    if !is_chain {
        return whole();
    }
    let mut out = Vec::new();
    for part in split_top_level_and(source) {
        match ENV.compile(&part) {
            Ok(program) => out.push(condition(part, program.expression())),
            Err(_) => return whole(),
        }
    }
    out
}

fn condition(text: String, expr: &IdedExpr) -> Condition {
    let mut idents = Vec::new();
    free_identifiers(expr, &mut Vec::new(), &mut idents);
    let mut fields: Vec<String> = Vec::new();
    for (name, _) in idents {
        if !fields.contains(&name) {
            fields.push(name);
        }
    }
    Condition {
        text,
        expr: expr.clone(),
        fields,
    }
}

/// `a && (b || c) && f(x, "&&")` → `["a", "(b || c)", "f(x, \"&&\")"]`.
fn split_top_level_and(source: &str) -> Vec<String> {
    let chars: Vec<char> = source.chars().collect();
    let mut parts = Vec::new();
    let mut depth = 0i32;
    let mut quote: Option<char> = None;
    let mut start = 0;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if let Some(q) = quote {
            if c == '\\' {
                i += 1;
            } else if c == q {
                quote = None;
            }
        } else {
            match c {
                '\'' | '"' => quote = Some(c),
                '(' | '[' | '{' => depth += 1,
                ')' | ']' | '}' => depth -= 1,
                '&' if depth == 0 && chars.get(i + 1) == Some(&'&') => {
                    parts.push(
                        chars[start..i]
                            .iter()
                            .collect::<String>()
                            .trim()
                            .to_string(),
                    );
                    start = i + 2;
                    i += 1;
                }
                _ => {}
            }
        }
        i += 1;
    }
    parts.push(chars[start..].iter().collect::<String>().trim().to_string());
    parts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_only_at_depth_zero() {
        assert_eq!(
            split_top_level_and("a && (b && c) && f('&&')"),
            ["a", "(b && c)", "f('&&')"]
        );
    }
}
