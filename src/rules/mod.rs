//! Rules: CEL expressions over a pipeline's canonical fields.
//!
//! Ops write rules like `score >= 80 && lifecycle == 'marketingqualifiedlead'`
//! in the config. A [`Rule`] is compiled once, when the config is loaded, and
//! refuses any name that is not a canonical field of its pipeline, so a typo
//! is caught by `leadbridge check` rather than on the first record.
//!
//! Evaluation is strict: a field the rule names must be present in the
//! record's canonical values (a blank field arrives as `null`), and a type
//! mismatch (`null >= 80`, `'42' >= 80`) is an error, not `false`. The
//! engine dead-letters such a record with the error as the reason, so a bad
//! mapping shows up instead of silently holding leads back. Rules that may
//! meet blank fields guard them: `score != null && score >= 80`.
//!
//! Values are not coerced here: numbers from HubSpot arrive as strings and
//! are turned into numbers by the field mapping (`type = "number"` in
//! `[pipelines.fields]`, see [`crate::config::FieldMapping::to_canonical`]),
//! before any rule sees them.
//!
//! ```
//! use std::collections::BTreeMap;
//! use leadbridge::rules::Rule;
//! use serde_json::json;
//!
//! let rule = Rule::compile("score >= 80 && country == 'JP'", &["score", "country"]).unwrap();
//! let lead = BTreeMap::from([
//!     ("score".to_string(), json!(42)),
//!     ("country".to_string(), json!("JP")),
//! ]);
//! assert_eq!(rule.evaluate(&lead), Ok(false));
//! let why = rule.explain(&lead);
//! assert_eq!(why[0].to_string(), "score >= 80: false (score = 42)");
//! assert_eq!(why[1].to_string(), "country == 'JP': true (country = \"JP\")");
//! ```

mod ast;
mod compare;
mod convert;
mod explain;

use std::collections::BTreeMap;
use std::sync::{Arc, LazyLock};

use cel::{Context, Env, IdedExpr, Program, Value};

pub use compare::{Comparison, Literal};
pub use explain::ConditionOutcome;

/// The canonical values of one record: canonical field name → JSON value
/// (string, number, bool or null).
pub type Values = BTreeMap<String, serde_json::Value>;

/// The CEL standard environment, built once and shared (it is `Send + Sync`).
static ENV: LazyLock<Arc<Env>> = LazyLock::new(|| Arc::new(Env::stdlib()));

/// Why a rule did not compile or could not be evaluated on a record.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum RuleError {
    /// The expression is not valid CEL.
    #[error("CEL syntax error: {message}")]
    Syntax {
        /// The parser's message.
        message: String,
        /// Line in the expression, from 1.
        line: usize,
        /// Column in the expression, in characters, from 1.
        column: usize,
    },
    /// The expression names something that is not a canonical field.
    #[error("`{name}` is not a canonical field of this pipeline (known: {})", known.join(", "))]
    UnknownField {
        /// The name used.
        name: String,
        /// The canonical fields the rule may use.
        known: Vec<String>,
        /// Line in the expression, from 1.
        line: usize,
        /// Column in the expression, in characters, from 1.
        column: usize,
    },
    /// The record has no value at all for a field the rule needs.
    #[error("field `{0}` is missing from the record")]
    MissingField(String),
    /// CEL could not evaluate the expression on these values.
    #[error("{message} ({values})")]
    Evaluation {
        /// CEL's message.
        message: String,
        /// The values the rule saw, `name = value, …`.
        values: String,
    },
    /// The expression gave something other than true or false.
    #[error("the rule gave {got}, not true or false ({values})")]
    NotBool {
        /// What it gave.
        got: String,
        /// The values the rule saw.
        values: String,
    },
}

/// A compiled CEL expression over canonical fields. Cheap to share: the
/// engine holds it in an `Arc` inside the validated config and evaluates it
/// from any task.
pub struct Rule {
    source: String,
    program: Program,
    /// The canonical fields it names, sorted, each once.
    fields: Vec<String>,
    /// The conditions of a top-level `&&` chain (one when there is no chain).
    conditions: Vec<Condition>,
}

/// One condition of a top-level `&&` chain, for [`Rule::explain`].
struct Condition {
    text: String,
    expr: IdedExpr,
    fields: Vec<String>,
}

impl std::fmt::Debug for Rule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Rule")
            .field("source", &self.source)
            .finish()
    }
}

impl Rule {
    /// Compiles `source`, refusing names that are not in `known_fields`.
    /// All unknown names are reported by [`Rule::check`]; this returns the first.
    pub fn compile<S: AsRef<str>>(source: &str, known_fields: &[S]) -> Result<Rule, RuleError> {
        Self::check(source, known_fields).map_err(|mut errors| errors.remove(0))
    }

    /// Like [`Rule::compile`], but returns every problem found (each syntax
    /// error, each unknown name), never an empty list.
    pub fn check<S: AsRef<str>>(source: &str, known_fields: &[S]) -> Result<Rule, Vec<RuleError>> {
        let program = ENV.compile(source).map_err(|errors| {
            let mut out: Vec<RuleError> = errors
                .errors
                .iter()
                .map(|e| RuleError::Syntax {
                    message: e.msg.clone(),
                    line: usize::try_from(e.pos.0).unwrap_or(1).max(1),
                    column: usize::try_from(e.pos.1).unwrap_or(1).max(1),
                })
                .collect();
            if out.is_empty() {
                out.push(RuleError::Syntax {
                    message: "not a valid expression".into(),
                    line: 1,
                    column: 1,
                });
            }
            out
        })?;
        let known: Vec<String> = known_fields
            .iter()
            .map(|s| s.as_ref().to_string())
            .collect();
        let mut idents = Vec::new();
        ast::free_identifiers(program.expression(), &mut Vec::new(), &mut idents);
        let mut errors = Vec::new();
        let mut fields: Vec<String> = Vec::new();
        for (name, id) in &idents {
            if known.iter().any(|k| k == name) {
                if !fields.contains(name) {
                    fields.push(name.clone());
                }
                continue;
            }
            if errors
                .iter()
                .any(|e| matches!(e, RuleError::UnknownField { name: n, .. } if n == name))
            {
                continue;
            }
            let (line, column) = program
                .source_info()
                .offset_for(*id)
                .map(|(start, _)| ast::line_column(source, start as usize))
                .unwrap_or((1, 1));
            errors.push(RuleError::UnknownField {
                name: name.clone(),
                known: known.clone(),
                line,
                column,
            });
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        fields.sort();
        let conditions = explain::conditions(source, program.expression());
        Ok(Rule {
            source: source.to_string(),
            program,
            fields,
            conditions,
        })
    }

    /// Every comparison of a canonical field with a literal, for checks
    /// that tell a rule which can never be true.
    pub fn comparisons(&self) -> Vec<Comparison> {
        let mut out = Vec::new();
        compare::comparisons(self.program.expression(), &mut out);
        out
    }

    /// The expression as written.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// The canonical fields the rule reads, so the engine knows which
    /// fields it must fetch and map.
    pub fn fields(&self) -> &[String] {
        &self.fields
    }

    /// Whether the rule holds for a record's canonical values. A missing
    /// field, a type mismatch or a non-boolean result is an error.
    pub fn evaluate(&self, values: &Values) -> Result<bool, RuleError> {
        let context = context_for(&self.fields, values)?;
        let result = self
            .program
            .execute(&context)
            .map_err(|e| RuleError::Evaluation {
                message: e.to_string(),
                values: describe(&self.fields, values),
            })?;
        as_bool(result, &self.fields, values)
    }

    /// Each condition of a top-level `&&` chain with whether it held on
    /// these values and the values it read, for `leadbridge explain`
    /// ("score >= 80: false (score = 42)"). Every condition is evaluated,
    /// not only up to the first that failed, so ops see all reasons at once.
    pub fn explain(&self, values: &Values) -> Vec<ConditionOutcome> {
        self.conditions
            .iter()
            .map(|c| {
                let result = context_for(&c.fields, values).and_then(|context| {
                    let value = context
                        .resolve(&c.expr)
                        .map_err(|e| RuleError::Evaluation {
                            message: e.to_string(),
                            values: describe(&c.fields, values),
                        })?;
                    as_bool(value, &c.fields, values)
                });
                ConditionOutcome {
                    condition: c.text.clone(),
                    result,
                    values: c
                        .fields
                        .iter()
                        .map(|f| (f.clone(), values.get(f).cloned()))
                        .collect(),
                }
            })
            .collect()
    }
}

/// A CEL context holding `fields` from `values`.
fn context_for(fields: &[String], values: &Values) -> Result<Context<'static, 'static>, RuleError> {
    let mut context = Context::with_env(ENV.clone());
    for field in fields {
        let value = values
            .get(field)
            .ok_or_else(|| RuleError::MissingField(field.clone()))?;
        context.add_variable_from_value(field.as_str(), convert::to_cel(value));
    }
    Ok(context)
}

fn as_bool(value: Value, fields: &[String], values: &Values) -> Result<bool, RuleError> {
    match value {
        Value::Bool(b) => Ok(b),
        other => Err(RuleError::NotBool {
            got: format!("{other:?}"),
            values: describe(fields, values),
        }),
    }
}

/// `score = 42, country = "JP"`: the values a rule saw, for error messages.
fn describe(fields: &[String], values: &Values) -> String {
    fields
        .iter()
        .map(|f| match values.get(f) {
            Some(v) => format!("{f} = {v}"),
            None => format!("{f} missing"),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn values(pairs: &[(&str, serde_json::Value)]) -> Values {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect()
    }

    const FIELDS: &[&str] = &["score", "lifecycle", "employees", "country", "email"];

    #[test]
    fn rule_is_send_and_sync() {
        fn check<T: Send + Sync + 'static>() {}
        check::<Rule>();
    }

    #[test]
    fn evaluates_over_canonical_values() {
        let rule = Rule::compile(
            "score >= 80 && lifecycle == 'marketingqualifiedlead' && employees >= 50",
            FIELDS,
        )
        .unwrap();
        let lead = values(&[
            ("score", json!(85)),
            ("lifecycle", json!("marketingqualifiedlead")),
            ("employees", json!(120.0)),
        ]);
        assert_eq!(rule.evaluate(&lead), Ok(true));
        assert_eq!(rule.fields(), ["employees", "lifecycle", "score"]);
    }

    #[test]
    fn refuses_unknown_fields_with_their_position() {
        let err = Rule::check("score >= 80 && scroe > 1 && foo", FIELDS).unwrap_err();
        assert_eq!(err.len(), 2);
        match &err[0] {
            RuleError::UnknownField { name, column, .. } => {
                assert_eq!(name, "scroe");
                assert_eq!(*column, 16);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn comprehension_variables_are_not_fields() {
        let rule = Rule::compile("['JP', 'KR'].exists(c, c == country)", FIELDS).unwrap();
        assert_eq!(rule.fields(), ["country"]);
        assert_eq!(
            rule.evaluate(&values(&[("country", json!("JP"))])),
            Ok(true)
        );
    }

    #[test]
    fn reports_syntax_errors_with_position() {
        match Rule::compile("score >= ", FIELDS).unwrap_err() {
            RuleError::Syntax { line, column, .. } => assert_eq!((line, column), (1, 10)),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn missing_fields_and_type_mismatches_are_errors() {
        let rule = Rule::compile("score >= 80", FIELDS).unwrap();
        assert_eq!(
            rule.evaluate(&values(&[])),
            Err(RuleError::MissingField("score".into()))
        );
        let err = rule
            .evaluate(&values(&[("score", json!("42"))]))
            .unwrap_err();
        assert!(err.to_string().contains("score = \"42\""), "{err}");
        assert!(rule.evaluate(&values(&[("score", json!(null))])).is_err());
        let not_bool = Rule::compile("score + 1", FIELDS).unwrap();
        assert!(matches!(
            not_bool.evaluate(&values(&[("score", json!(1))])),
            Err(RuleError::NotBool { .. })
        ));
    }

    #[test]
    fn explains_each_condition() {
        let rule = Rule::compile(
            "score >= 80 && (country == 'JP' || country == 'KR') && size(email) > 3",
            FIELDS,
        )
        .unwrap();
        let lead = values(&[
            ("score", json!(42)),
            ("country", json!("KR")),
            ("email", json!("a@b.co")),
        ]);
        let lines: Vec<String> = rule.explain(&lead).iter().map(|c| c.to_string()).collect();
        assert_eq!(
            lines,
            [
                "score >= 80: false (score = 42)",
                "(country == 'JP' || country == 'KR'): true (country = \"KR\")",
                "size(email) > 3: true (email = \"a@b.co\")",
            ]
        );
        let missing = rule.explain(&values(&[("country", json!("JP"))]));
        assert_eq!(
            missing[0].to_string(),
            "score >= 80: error: field `score` is missing from the record (score missing)"
        );
    }

    #[test]
    fn a_rule_without_a_chain_is_one_condition() {
        let rule = Rule::compile("score > 1 || country == 'JP'", FIELDS).unwrap();
        let out = rule.explain(&values(&[("score", json!(2)), ("country", json!("US"))]));
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].result, Ok(true));
    }

    #[test]
    fn comparisons_name_the_field_the_operator_and_the_literal() {
        let rule = Rule::compile(
            "score >= 80 && 'JP' == country && lifecycle in ['lead', 'marketingqualifiedlead'] && !(vip == true)",
            &["score", "country", "lifecycle", "vip"],
        )
        .unwrap();
        let found: Vec<(String, &str, Literal)> = rule
            .comparisons()
            .into_iter()
            .map(|c| (c.field, c.op, c.literal))
            .collect();
        assert_eq!(
            found,
            vec![
                ("score".into(), ">=", Literal::Number(80.0)),
                ("country".into(), "==", Literal::Text("JP".into())),
                ("lifecycle".into(), "in", Literal::Text("lead".into())),
                (
                    "lifecycle".into(),
                    "in",
                    Literal::Text("marketingqualifiedlead".into())
                ),
                ("vip".into(), "==", Literal::Bool(true)),
            ]
        );
    }
}
