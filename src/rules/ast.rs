//! Reading the CEL syntax tree: which names an expression reads, and where.

use cel::common::ast::{EntryExpr, Expr};
use cel::IdedExpr;

/// Collects the identifiers `expr` reads from outside (with their node ids),
/// in source order; names bound by a comprehension (`exists(c, c == x)`)
/// inside their own scope are not collected.
pub(crate) fn free_identifiers(
    expr: &IdedExpr,
    bound: &mut Vec<String>,
    out: &mut Vec<(String, u64)>,
) {
    match &expr.expr {
        Expr::Ident(name) => {
            if !name.starts_with('@') && !bound.contains(name) {
                out.push((name.clone(), expr.id));
            }
        }
        Expr::Call(call) => {
            if let Some(target) = &call.target {
                free_identifiers(target, bound, out);
            }
            for arg in &call.args {
                free_identifiers(arg, bound, out);
            }
        }
        Expr::Comprehension(comp) => {
            free_identifiers(&comp.iter_range, bound, out);
            let depth = bound.len();
            bound.push(comp.iter_var.clone());
            if let Some(second) = &comp.iter_var2 {
                bound.push(second.clone());
            }
            bound.push(comp.accu_var.clone());
            for part in [
                &comp.accu_init,
                &comp.loop_cond,
                &comp.loop_step,
                &comp.result,
            ] {
                free_identifiers(part, bound, out);
            }
            bound.truncate(depth);
        }
        Expr::List(list) => {
            for element in &list.elements {
                free_identifiers(element, bound, out);
            }
        }
        Expr::Map(map) => {
            for entry in &map.entries {
                match &entry.expr {
                    EntryExpr::StructField(field) => free_identifiers(&field.value, bound, out),
                    EntryExpr::MapEntry(entry) => {
                        free_identifiers(&entry.key, bound, out);
                        free_identifiers(&entry.value, bound, out);
                    }
                }
            }
        }
        Expr::Select(select) => free_identifiers(&select.operand, bound, out),
        Expr::Struct(s) => {
            for entry in &s.entries {
                if let EntryExpr::StructField(field) = &entry.expr {
                    free_identifiers(&field.value, bound, out);
                }
            }
        }
        Expr::Literal(_) | Expr::Unspecified => {}
    }
    out.sort_by_key(|(_, id)| *id);
}

/// Line and column (from 1) of a character offset in `source`.
pub(crate) fn line_column(source: &str, offset: usize) -> (usize, usize) {
    let mut line = 1;
    let mut column = 1;
    for c in source.chars().take(offset) {
        if c == '\n' {
            line += 1;
            column = 1;
        } else {
            column += 1;
        }
    }
    (line, column)
}
