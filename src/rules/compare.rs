//! The comparisons of a rule between a canonical field and literals
//! (`score >= 80`, `lifecycle == 'marketingqualifiedlead'`,
//! `country in ['JP', 'US']`), so a check can tell a rule that can never be
//! true: a field of one type compared with a literal of another, or with a
//! value the tool's field cannot hold.

use cel::common::ast::{operators, Expr, LiteralValue};
use cel::IdedExpr;

/// A literal a field is compared with.
#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    /// A string.
    Text(String),
    /// An integer or a double.
    Number(f64),
    /// `true` or `false`.
    Bool(bool),
    /// `null`.
    Null,
}

impl Literal {
    /// The literal's kind as a rule author reads it.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Text(_) => "text",
            Self::Number(_) => "a number",
            Self::Bool(_) => "a boolean",
            Self::Null => "null",
        }
    }
}

impl std::fmt::Display for Literal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Text(s) => write!(f, "'{s}'"),
            Self::Number(n) => write!(f, "{n}"),
            Self::Bool(b) => write!(f, "{b}"),
            Self::Null => f.write_str("null"),
        }
    }
}

/// One comparison of a field with a literal.
#[derive(Debug, Clone, PartialEq)]
pub struct Comparison {
    /// The canonical field.
    pub field: String,
    /// The operator as written (`==`, `!=`, `<`, `<=`, `>`, `>=`, `in`).
    pub op: &'static str,
    /// The literal (each element of an `in` list is its own comparison).
    pub literal: Literal,
    /// Whether the operator orders values (`<`, `<=`, `>`, `>=`).
    pub ordering: bool,
}

fn literal(expr: &IdedExpr) -> Option<Literal> {
    match &expr.expr {
        Expr::Literal(LiteralValue::String(s)) => Some(Literal::Text(s.inner().to_string())),
        Expr::Literal(LiteralValue::Int(i)) => Some(Literal::Number(*i.inner() as f64)),
        Expr::Literal(LiteralValue::UInt(u)) => Some(Literal::Number(*u.inner() as f64)),
        Expr::Literal(LiteralValue::Double(d)) => Some(Literal::Number(*d.inner())),
        Expr::Literal(LiteralValue::Boolean(b)) => Some(Literal::Bool(*b.inner())),
        Expr::Literal(LiteralValue::Null) => Some(Literal::Null),
        _ => None,
    }
}

fn ident(expr: &IdedExpr) -> Option<&str> {
    match &expr.expr {
        Expr::Ident(name) if !name.starts_with('@') => Some(name),
        _ => None,
    }
}

/// Every field-against-literal comparison in `expr`.
pub(crate) fn comparisons(expr: &IdedExpr, out: &mut Vec<Comparison>) {
    let Expr::Call(call) = &expr.expr else {
        return walk_children(expr, out);
    };
    let op = match call.func_name.as_str() {
        operators::EQUALS => Some(("==", false)),
        operators::NOT_EQUALS => Some(("!=", false)),
        operators::LESS => Some(("<", true)),
        operators::LESS_EQUALS => Some(("<=", true)),
        operators::GREATER => Some((">", true)),
        operators::GREATER_EQUALS => Some((">=", true)),
        _ => None,
    };
    if let (Some((op, ordering)), [a, b]) = (op, call.args.as_slice()) {
        let pair = match (ident(a), literal(b), ident(b), literal(a)) {
            (Some(field), Some(lit), _, _) | (_, _, Some(field), Some(lit)) => Some((field, lit)),
            _ => None,
        };
        if let Some((field, literal)) = pair {
            out.push(Comparison {
                field: field.to_string(),
                op,
                literal,
                ordering,
            });
            return;
        }
    }
    if call.func_name == operators::IN {
        if let [a, b] = call.args.as_slice() {
            if let (Some(field), Expr::List(list)) = (ident(a), &b.expr) {
                for element in &list.elements {
                    if let Some(literal) = literal(element) {
                        out.push(Comparison {
                            field: field.to_string(),
                            op: "in",
                            literal,
                            ordering: false,
                        });
                    }
                }
                return;
            }
        }
    }
    walk_children(expr, out);
}

fn walk_children(expr: &IdedExpr, out: &mut Vec<Comparison>) {
    match &expr.expr {
        Expr::Call(call) => {
            if let Some(target) = &call.target {
                comparisons(target, out);
            }
            for arg in &call.args {
                comparisons(arg, out);
            }
        }
        Expr::List(list) => {
            for e in &list.elements {
                comparisons(e, out);
            }
        }
        Expr::Select(s) => comparisons(&s.operand, out),
        // Comprehensions bind their own names; what they compare is not a
        // canonical field.
        _ => {}
    }
}
