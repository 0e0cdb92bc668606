//! A SOQL subset good enough for real clients: `SELECT` a field list or
//! `COUNT()`, `FROM` one object, `WHERE` with comparisons, `IN`, `NOT IN`,
//! `LIKE`, `AND`/`OR`/`NOT` and parentheses over string, number, boolean,
//! null, date and datetime literals, `ORDER BY` several fields with
//! `ASC`/`DESC` and `NULLS FIRST/LAST`, `LIMIT` and `OFFSET`.
//!
//! Bad input is refused the way Salesforce refuses it: `MALFORMED_QUERY`
//! for syntax, `INVALID_TYPE` for an unknown object, `INVALID_FIELD` for an
//! unknown field or a literal of the wrong type.

use std::cmp::Ordering;
use std::sync::Arc;

use thiserror::Error;

use super::schema::{self, Kind, ObjectDef};
use super::store::{Rec, Table, V};

/// Why a query was refused; the variant is Salesforce's `errorCode`.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum SoqlError {
    /// Syntax.
    #[error("{0}")]
    Malformed(String),
    /// Unknown object.
    #[error("{0}")]
    InvalidType(String),
    /// Unknown field, or a literal of the wrong type.
    #[error("{0}")]
    InvalidField(String),
}

impl SoqlError {
    /// Salesforce's error code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Malformed(_) => "MALFORMED_QUERY",
            Self::InvalidType(_) => "INVALID_TYPE",
            Self::InvalidField(_) => "INVALID_FIELD",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    Str(String),
    Num(f64),
    Date(String),
    DateTime(i64),
    Sym(&'static str),
}

fn lex(input: &str) -> Result<Vec<Tok>, SoqlError> {
    let chars: Vec<char> = input.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        match c {
            '(' | ')' | ',' => {
                out.push(Tok::Sym(match c {
                    '(' => "(",
                    ')' => ")",
                    _ => ",",
                }));
                i += 1;
            }
            '=' => {
                out.push(Tok::Sym("="));
                i += 1;
            }
            '!' if chars.get(i + 1) == Some(&'=') => {
                out.push(Tok::Sym("!="));
                i += 2;
            }
            '<' => {
                match chars.get(i + 1) {
                    Some('=') => {
                        out.push(Tok::Sym("<="));
                        i += 2;
                    }
                    Some('>') => {
                        out.push(Tok::Sym("!="));
                        i += 2;
                    }
                    _ => {
                        out.push(Tok::Sym("<"));
                        i += 1;
                    }
                };
            }
            '>' => {
                if chars.get(i + 1) == Some(&'=') {
                    out.push(Tok::Sym(">="));
                    i += 2;
                } else {
                    out.push(Tok::Sym(">"));
                    i += 1;
                }
            }
            '\'' => {
                let mut s = String::new();
                i += 1;
                loop {
                    let Some(&c) = chars.get(i) else {
                        return Err(SoqlError::Malformed(
                            "unexpected end of query: unterminated string literal".into(),
                        ));
                    };
                    i += 1;
                    match c {
                        '\'' => break,
                        '\\' => {
                            let Some(&e) = chars.get(i) else {
                                return Err(SoqlError::Malformed("bad escape at end".into()));
                            };
                            i += 1;
                            if matches!(e, '%' | '_') {
                                // LIKE wildcards stay escaped for the matcher.
                                s.push('\\');
                            }
                            s.push(match e {
                                'n' => '\n',
                                'r' => '\r',
                                't' => '\t',
                                'b' => '\u{8}',
                                'f' => '\u{c}',
                                '\'' | '"' | '\\' | '%' | '_' => e,
                                other => {
                                    return Err(SoqlError::Malformed(format!(
                                        "Invalid string literal: unrecognized escape \\{other}"
                                    )))
                                }
                            });
                        }
                        c => s.push(c),
                    }
                }
                out.push(Tok::Str(s));
            }
            c if c.is_ascii_digit()
                || (c == '-' && chars.get(i + 1).is_some_and(|d| d.is_ascii_digit())) =>
            {
                let start = i;
                i += 1;
                while i < chars.len()
                    && (chars[i].is_ascii_alphanumeric()
                        || matches!(chars[i], ':' | '.' | '+' | '-'))
                {
                    i += 1;
                }
                let word: String = chars[start..i].iter().collect();
                let b = word.as_bytes();
                if b.len() >= 10 && b[4] == b'-' && b[7] == b'-' {
                    if b.len() == 10 {
                        jiff::civil::Date::strptime("%Y-%m-%d", &word)
                            .map_err(|_| SoqlError::Malformed(format!("invalid date: {word}")))?;
                        out.push(Tok::Date(word));
                    } else {
                        let ts = crate::soql::parse_timestamp(&word).ok_or_else(|| {
                            SoqlError::Malformed(format!(
                                "line 1:{start} no viable alternative at character '{word}'"
                            ))
                        })?;
                        out.push(Tok::DateTime(ts.as_millisecond()));
                    }
                } else {
                    let n: f64 = word
                        .parse()
                        .map_err(|_| SoqlError::Malformed(format!("unexpected token: '{word}'")))?;
                    out.push(Tok::Num(n));
                }
            }
            c if c.is_ascii_alphabetic() || c == '_' => {
                let start = i;
                while i < chars.len()
                    && (chars[i].is_ascii_alphanumeric() || matches!(chars[i], '_' | '.'))
                {
                    i += 1;
                }
                out.push(Tok::Ident(chars[start..i].iter().collect()));
            }
            other => {
                return Err(SoqlError::Malformed(format!(
                    "line 1:{i} no viable alternative at character '{other}'"
                )))
            }
        }
    }
    Ok(out)
}

/// A literal of a condition.
#[derive(Debug, Clone, PartialEq)]
pub enum Lit {
    /// `null`.
    Null,
    /// `true`/`false`.
    Bool(bool),
    /// A number.
    Num(f64),
    /// A quoted string.
    Str(String),
    /// `YYYY-MM-DD`.
    Date(String),
    /// A datetime, ms.
    DateTime(i64),
}

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// `=`
    Eq,
    /// `!=` / `<>`
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
}

/// A condition over field indexes of one object.
#[derive(Debug, Clone, PartialEq)]
pub enum Cond {
    /// Both.
    And(Box<Cond>, Box<Cond>),
    /// Either.
    Or(Box<Cond>, Box<Cond>),
    /// Not.
    Not(Box<Cond>),
    /// `field op literal`.
    Cmp(usize, Op, Lit),
    /// `field [NOT] IN (…)`.
    In(usize, Vec<Lit>, bool),
    /// `field LIKE 'pattern'`.
    Like(usize, String),
}

/// One `ORDER BY` key.
#[derive(Debug, Clone, PartialEq)]
pub struct OrderKey {
    /// Field index.
    pub field: usize,
    /// Ascending.
    pub asc: bool,
    /// Nulls sort first.
    pub nulls_first: bool,
}

/// A parsed and bound query.
#[derive(Debug, Clone)]
pub struct Query {
    /// The object.
    pub object: &'static ObjectDef,
    /// `SELECT COUNT()`.
    pub count: bool,
    /// Selected field indexes, in order.
    pub columns: Vec<usize>,
    /// The `WHERE` condition.
    pub filter: Option<Cond>,
    /// `ORDER BY` keys.
    pub order: Vec<OrderKey>,
    /// `LIMIT`.
    pub limit: Option<usize>,
    /// `OFFSET`.
    pub offset: usize,
}

struct Parser<'a> {
    toks: Vec<Tok>,
    pos: usize,
    object: Option<&'a ObjectDef>,
}

fn kw(t: Option<&Tok>, word: &str) -> bool {
    matches!(t, Some(Tok::Ident(s)) if s.eq_ignore_ascii_case(word))
}

impl<'a> Parser<'a> {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos)
    }
    fn next(&mut self) -> Option<Tok> {
        let t = self.toks.get(self.pos).cloned();
        self.pos += 1;
        t
    }
    fn eat_kw(&mut self, word: &str) -> bool {
        if kw(self.peek(), word) {
            self.pos += 1;
            true
        } else {
            false
        }
    }
    fn expect_kw(&mut self, word: &str) -> Result<(), SoqlError> {
        if self.eat_kw(word) {
            Ok(())
        } else {
            Err(self.unexpected(&format!("expecting {word}")))
        }
    }
    fn eat_sym(&mut self, sym: &str) -> bool {
        if matches!(self.peek(), Some(Tok::Sym(s)) if *s == sym) {
            self.pos += 1;
            true
        } else {
            false
        }
    }
    fn unexpected(&self, what: &str) -> SoqlError {
        match self.peek() {
            Some(t) => SoqlError::Malformed(format!("unexpected token: {t:?} ({what})")),
            None => SoqlError::Malformed(format!("unexpected end of query ({what})")),
        }
    }
    fn ident(&mut self) -> Result<String, SoqlError> {
        match self.next() {
            Some(Tok::Ident(s)) => Ok(s),
            _ => {
                self.pos -= 1;
                Err(self.unexpected("expecting a field name"))
            }
        }
    }

    fn field(&self, name: &str) -> Result<usize, SoqlError> {
        let object = self
            .object
            .ok_or_else(|| SoqlError::Malformed("no object".into()))?;
        object.field(name).ok_or_else(|| {
            SoqlError::InvalidField(format!(
                "No such column '{name}' on entity '{}'. If you are attempting to use a custom field, be sure to append the '__c' after the custom field name. Please reference your WSDL or the describe call for the appropriate names.",
                object.name
            ))
        })
    }

    fn literal(&mut self) -> Result<Lit, SoqlError> {
        match self.next() {
            Some(Tok::Str(s)) => Ok(Lit::Str(s)),
            Some(Tok::Num(n)) => Ok(Lit::Num(n)),
            Some(Tok::Date(d)) => Ok(Lit::Date(d)),
            Some(Tok::DateTime(t)) => Ok(Lit::DateTime(t)),
            Some(Tok::Ident(s)) if s.eq_ignore_ascii_case("null") => Ok(Lit::Null),
            Some(Tok::Ident(s)) if s.eq_ignore_ascii_case("true") => Ok(Lit::Bool(true)),
            Some(Tok::Ident(s)) if s.eq_ignore_ascii_case("false") => Ok(Lit::Bool(false)),
            _ => {
                self.pos -= 1;
                Err(self.unexpected("expecting a literal"))
            }
        }
    }

    fn check_type(&self, idx: usize, lit: &Lit) -> Result<(), SoqlError> {
        let Some(field) = self.object.and_then(|o| o.fields.get(idx)) else {
            return Ok(());
        };
        let ok = match (field.kind, lit) {
            (_, Lit::Null) => true,
            (Kind::DateTime, Lit::DateTime(_)) => true,
            (Kind::Date, Lit::Date(_)) => true,
            (Kind::Boolean, Lit::Bool(_)) => true,
            (k, Lit::Num(_)) if k.is_number() => true,
            (k, Lit::Str(_)) if k.is_text() || k.is_id() => true,
            _ => false,
        };
        if ok {
            return Ok(());
        }
        let quoted = matches!(lit, Lit::Str(_));
        let kind = field.kind.api_name();
        Err(SoqlError::InvalidField(match field.kind {
            Kind::DateTime | Kind::Date | Kind::Boolean | Kind::Int | Kind::Double | Kind::Currency | Kind::Percent if quoted => format!(
                "value of filter criterion for field '{}' must be of type {kind} and should not be enclosed in quotes",
                field.name
            ),
            _ => format!(
                "value of filter criterion for field '{}' must be of type {kind}",
                field.name
            ),
        }))
    }

    fn or(&mut self) -> Result<Cond, SoqlError> {
        let mut left = self.and()?;
        while self.eat_kw("OR") {
            let right = self.and()?;
            left = Cond::Or(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Cond, SoqlError> {
        let mut left = self.not()?;
        while self.eat_kw("AND") {
            let right = self.not()?;
            left = Cond::And(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn not(&mut self) -> Result<Cond, SoqlError> {
        if self.eat_kw("NOT") {
            return Ok(Cond::Not(Box::new(self.not()?)));
        }
        self.primary()
    }

    fn primary(&mut self) -> Result<Cond, SoqlError> {
        if self.eat_sym("(") {
            let inner = self.or()?;
            if !self.eat_sym(")") {
                return Err(self.unexpected("expecting ')'"));
            }
            return Ok(inner);
        }
        let name = self.ident()?;
        let idx = self.field(&name)?;
        let negated_in = self.eat_kw("NOT");
        if self.eat_kw("IN") {
            if !self.eat_sym("(") {
                return Err(self.unexpected("expecting '('"));
            }
            let mut values = Vec::new();
            loop {
                let lit = self.literal()?;
                self.check_type(idx, &lit)?;
                values.push(lit);
                if self.eat_sym(")") {
                    break;
                }
                if !self.eat_sym(",") {
                    return Err(self.unexpected("expecting ',' or ')'"));
                }
            }
            return Ok(Cond::In(idx, values, negated_in));
        }
        if negated_in {
            return Err(self.unexpected("expecting IN after NOT"));
        }
        if self.eat_kw("LIKE") {
            return match self.next() {
                Some(Tok::Str(p)) => Ok(Cond::Like(idx, p)),
                _ => Err(SoqlError::Malformed("LIKE needs a string pattern".into())),
            };
        }
        let op = match self.next() {
            Some(Tok::Sym("=")) => Op::Eq,
            Some(Tok::Sym("!=")) => Op::Ne,
            Some(Tok::Sym("<")) => Op::Lt,
            Some(Tok::Sym("<=")) => Op::Le,
            Some(Tok::Sym(">")) => Op::Gt,
            Some(Tok::Sym(">=")) => Op::Ge,
            _ => {
                self.pos -= 1;
                return Err(self.unexpected("expecting a comparison operator"));
            }
        };
        let lit = self.literal()?;
        self.check_type(idx, &lit)?;
        Ok(Cond::Cmp(idx, op, lit))
    }

    fn number(&mut self, what: &str) -> Result<usize, SoqlError> {
        match self.next() {
            Some(Tok::Num(n)) if n >= 0.0 && n.fract() == 0.0 => Ok(n as usize),
            _ => {
                self.pos -= 1;
                Err(self.unexpected(&format!("expecting a number after {what}")))
            }
        }
    }
}

/// How a query finds its object: the org's current definition by name
/// (custom fields added at run time included).
pub type Resolve<'a> = &'a dyn Fn(&str) -> Option<&'static ObjectDef>;

/// Parses and binds `soql` against the objects `resolve` knows.
pub fn parse(soql: &str, resolve: Resolve<'_>) -> Result<Query, SoqlError> {
    let mut p = Parser {
        toks: lex(soql)?,
        pos: 0,
        object: None,
    };
    p.expect_kw("SELECT")?;
    let mut names = Vec::new();
    let mut count = false;
    if kw(p.peek(), "COUNT") && p.toks.get(p.pos + 1) == Some(&Tok::Sym("(")) {
        p.pos += 2;
        if !p.eat_sym(")") {
            return Err(SoqlError::Malformed(
                "only COUNT() is supported among aggregate functions".into(),
            ));
        }
        count = true;
    } else {
        loop {
            names.push(p.ident()?);
            if !p.eat_sym(",") {
                break;
            }
        }
    }
    p.expect_kw("FROM")?;
    let object_name = p.ident()?;
    let object = resolve(&object_name).ok_or_else(|| {
        SoqlError::InvalidType(format!(
            "sObject type '{object_name}' is not supported. If you are attempting to use a custom object, be sure to append the '__c' after the entity name. Please reference your WSDL or the describe call for the appropriate names."
        ))
    })?;
    p.object = Some(object);
    let mut columns = Vec::new();
    for name in &names {
        if name.eq_ignore_ascii_case("FROM") {
            return Err(SoqlError::Malformed("unexpected token: FROM".into()));
        }
        let idx = p.field(name)?;
        if columns.contains(&idx) {
            return Err(SoqlError::Malformed(format!(
                "duplicate field selected: {}",
                object.fields[idx].name
            )));
        }
        columns.push(idx);
    }
    let filter = if p.eat_kw("WHERE") {
        Some(p.or()?)
    } else {
        None
    };
    let mut order = Vec::new();
    if p.eat_kw("ORDER") {
        p.expect_kw("BY")?;
        loop {
            let name = p.ident()?;
            let field = p.field(&name)?;
            let asc = if p.eat_kw("DESC") {
                false
            } else {
                p.eat_kw("ASC");
                true
            };
            let mut nulls_first = asc;
            if p.eat_kw("NULLS") {
                if p.eat_kw("FIRST") {
                    nulls_first = true;
                } else {
                    p.expect_kw("LAST")?;
                    nulls_first = false;
                }
            }
            order.push(OrderKey {
                field,
                asc,
                nulls_first,
            });
            if !p.eat_sym(",") {
                break;
            }
        }
    }
    let mut limit = None;
    let mut offset = 0;
    loop {
        if p.eat_kw("LIMIT") {
            limit = Some(p.number("LIMIT")?);
        } else if p.eat_kw("OFFSET") {
            offset = p.number("OFFSET")?;
            if offset > 2000 {
                return Err(SoqlError::Malformed(
                    "Maximum SOQL offset allowed is 2000".into(),
                ));
            }
        } else if p.eat_kw("FOR") {
            // FOR VIEW / FOR REFERENCE / FOR UPDATE change nothing here.
            p.ident()?;
        } else {
            break;
        }
    }
    if p.peek().is_some() {
        return Err(p.unexpected("expecting the end of the query"));
    }
    Ok(Query {
        object,
        count,
        columns,
        filter,
        order,
        limit,
        offset,
    })
}

fn norm_id(s: &str) -> &str {
    s.get(..15).unwrap_or(s)
}

/// Compares a field value with a literal, in the field's own terms
/// (`None`: not comparable, e.g. null against a value).
fn compare(kind: Kind, v: &V, lit: &Lit) -> Option<Ordering> {
    match (v, lit) {
        (V::Null, _) | (_, Lit::Null) => None,
        (V::Str(s), Lit::Str(l)) if kind.is_id() => Some(norm_id(s).cmp(norm_id(l))),
        (V::Str(s), Lit::Str(l)) => Some(s.to_lowercase().cmp(&l.to_lowercase())),
        (V::Str(s), Lit::Date(l)) => Some(s.as_ref().cmp(l.as_str())),
        (V::Num(n), Lit::Num(l)) => n.partial_cmp(l),
        (V::Bool(b), Lit::Bool(l)) => Some(b.cmp(l)),
        (V::Ts(t), Lit::DateTime(l)) => Some(t.cmp(l)),
        (V::Ts(t), Lit::Date(l)) => {
            let day = jiff::civil::Date::strptime("%Y-%m-%d", l)
                .ok()?
                .to_zoned(jiff::tz::TimeZone::UTC)
                .ok()?
                .timestamp()
                .as_millisecond();
            Some(t.cmp(&day))
        }
        _ => None,
    }
}

/// SOQL `LIKE`: `%` any run, `_` one character, case-insensitive;
/// `\%` and `\_` are literal.
fn like(text: &str, pattern: &str) -> bool {
    #[derive(Clone, Copy, PartialEq)]
    enum P {
        Any,
        One,
        C(char),
    }
    let mut pat = Vec::new();
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        pat.push(match c {
            '\\' => P::C(chars.next().unwrap_or('\\').to_ascii_lowercase()),
            '%' => P::Any,
            '_' => P::One,
            c => P::C(c.to_ascii_lowercase()),
        });
    }
    let text: Vec<char> = text.chars().map(|c| c.to_ascii_lowercase()).collect();
    // Iterative matcher with backtracking on the last `%`.
    let (mut t, mut p) = (0, 0);
    let (mut star, mut mark) = (None, 0);
    while t < text.len() {
        match pat.get(p) {
            Some(P::One) => {
                t += 1;
                p += 1;
            }
            Some(P::C(c)) if *c == text[t] => {
                t += 1;
                p += 1;
            }
            Some(P::Any) => {
                star = Some(p);
                mark = t;
                p += 1;
            }
            _ => match star {
                Some(s) => {
                    p = s + 1;
                    mark += 1;
                    t = mark;
                }
                None => return false,
            },
        }
    }
    pat[p..].iter().all(|x| *x == P::Any)
}

/// Whether a record matches a condition.
pub fn eval(cond: &Cond, def: &ObjectDef, rec: &Rec) -> bool {
    match cond {
        Cond::And(a, b) => eval(a, def, rec) && eval(b, def, rec),
        Cond::Or(a, b) => eval(a, def, rec) || eval(b, def, rec),
        Cond::Not(a) => !eval(a, def, rec),
        Cond::Cmp(idx, op, lit) => {
            let v = rec.get(def, *idx);
            let kind = def.fields[*idx].kind;
            if *lit == Lit::Null {
                return match op {
                    Op::Eq => v == V::Null,
                    Op::Ne => v != V::Null,
                    _ => false,
                };
            }
            match compare(kind, &v, lit) {
                None => *op == Op::Ne,
                Some(o) => match op {
                    Op::Eq => o == Ordering::Equal,
                    Op::Ne => o != Ordering::Equal,
                    Op::Lt => o == Ordering::Less,
                    Op::Le => o != Ordering::Greater,
                    Op::Gt => o == Ordering::Greater,
                    Op::Ge => o != Ordering::Less,
                },
            }
        }
        Cond::In(idx, values, negated) => {
            let v = rec.get(def, *idx);
            let kind = def.fields[*idx].kind;
            let hit = values.iter().any(|l| match l {
                Lit::Null => v == V::Null,
                l => compare(kind, &v, l) == Some(Ordering::Equal),
            });
            hit != *negated
        }
        Cond::Like(idx, pattern) => match rec.get(def, *idx) {
            V::Str(s) => like(&s, pattern),
            _ => false,
        },
    }
}

fn field_uses(cond: &Cond, idx: usize) -> bool {
    match cond {
        Cond::And(a, b) | Cond::Or(a, b) => field_uses(a, idx) || field_uses(b, idx),
        Cond::Not(a) => field_uses(a, idx),
        Cond::Cmp(i, ..) | Cond::In(i, ..) | Cond::Like(i, _) => *i == idx,
    }
}

/// The smallest `SystemModstamp` any match can have, when the condition
/// says (so a change query starts its index walk there).
fn stamp_floor(cond: &Cond, stamp: usize) -> Option<i64> {
    match cond {
        Cond::Cmp(i, Op::Gt | Op::Ge | Op::Eq, Lit::DateTime(t)) if *i == stamp => Some(*t),
        Cond::And(a, b) => match (stamp_floor(a, stamp), stamp_floor(b, stamp)) {
            (Some(x), Some(y)) => Some(x.max(y)),
            (x, y) => x.or(y),
        },
        Cond::Or(a, b) => Some(stamp_floor(a, stamp)?.min(stamp_floor(b, stamp)?)),
        _ => None,
    }
}

fn order_cmp(def: &ObjectDef, order: &[OrderKey], a: &Rec, b: &Rec) -> Ordering {
    for key in order {
        let kind = def.fields[key.field].kind;
        let (va, vb) = (a.get(def, key.field), b.get(def, key.field));
        let o = match (&va, &vb) {
            (V::Null, V::Null) => Ordering::Equal,
            (V::Null, _) => {
                if key.nulls_first {
                    Ordering::Less
                } else {
                    Ordering::Greater
                }
            }
            (_, V::Null) => {
                if key.nulls_first {
                    Ordering::Greater
                } else {
                    Ordering::Less
                }
            }
            (V::Str(x), V::Str(y)) if kind.is_text() => {
                let o = x.to_lowercase().cmp(&y.to_lowercase());
                if key.asc {
                    o
                } else {
                    o.reverse()
                }
            }
            (x, y) => {
                let o = match (x, y) {
                    (V::Str(x), V::Str(y)) => x.cmp(y),
                    (V::Num(x), V::Num(y)) => x.partial_cmp(y).unwrap_or(Ordering::Equal),
                    (V::Bool(x), V::Bool(y)) => x.cmp(y),
                    (V::Ts(x), V::Ts(y)) => x.cmp(y),
                    _ => Ordering::Equal,
                };
                if key.asc {
                    o
                } else {
                    o.reverse()
                }
            }
        };
        if o != Ordering::Equal {
            return o;
        }
    }
    a.id.cmp(&b.id)
}

/// How to run a query against a table.
pub struct Run {
    /// Include deleted records (`queryAll`).
    pub all: bool,
    /// The simulated now, ms.
    pub now: i64,
}

impl Query {
    /// Whether index lag applies: it delays change queries (those that
    /// filter or sort on the modification stamps), never look-ups by id or key.
    pub fn is_change_query(&self) -> bool {
        let stamps: Vec<usize> = ["SystemModstamp", "LastModifiedDate"]
            .iter()
            .filter_map(|n| self.object.field(n))
            .collect();
        stamps.iter().any(|s| {
            self.order.iter().any(|k| k.field == *s)
                || self.filter.as_ref().is_some_and(|f| field_uses(f, *s))
        })
    }

    /// Candidates from an index when the whole condition is `Id`, a unique
    /// field or an Email field `=` / `IN` string literals (look-ups by id or
    /// key), so a look-up does not scan a million records. `None`: no index
    /// applies.
    fn keyed(&self, table: &Table, run: &Run) -> Option<Vec<Arc<Rec>>> {
        // Unique indexes hold live records only.
        if run.all {
            return None;
        }
        let (idx, lits) = match self.filter.as_ref()? {
            Cond::In(i, l, false) => (*i, l.as_slice()),
            Cond::Cmp(i, Op::Eq, l) => (*i, std::slice::from_ref(l)),
            _ => return None,
        };
        let is_id = self.object.fields.get(idx)?.sys == Some(schema::Sys::Id);
        let unique = table.unique.get(&idx);
        let lookup = table.lookup.get(&idx);
        if !is_id && unique.is_none() && lookup.is_none() {
            return None;
        }
        let mut out = Vec::new();
        for lit in lits {
            let Lit::Str(s) = lit else { continue };
            if is_id {
                out.extend(table.find_id(s).cloned());
            } else if let Some(unique) = unique {
                out.extend(
                    unique
                        .get(&s.to_lowercase())
                        .and_then(|id| table.rows.get(id))
                        .cloned(),
                );
            } else if let Some(ids) = lookup.and_then(|l| l.get(&s.to_lowercase())) {
                // Candidates only: the caller's filter decides, as in a scan.
                out.extend(ids.iter().filter_map(|id| table.rows.get(id)).cloned());
            }
        }
        Some(out)
    }

    /// The matching records, ordered, offset and limited.
    pub fn run(&self, table: &Table, run: &Run) -> Vec<Arc<Rec>> {
        let def = self.object;
        let lagged = self.is_change_query();
        let visible = |r: &Rec| {
            (run.all || !r.deleted)
                && (!lagged || r.visible_at <= run.now)
                && self.filter.as_ref().is_none_or(|f| eval(f, def, r))
        };
        let stamp = def.idx("SystemModstamp");
        let id = def.idx("Id");
        let index_order = match self.order.as_slice() {
            [] => true,
            [a] => a.field == stamp && a.asc,
            [a, b] => a.field == stamp && a.asc && b.field == id && b.asc,
            _ => false,
        };
        let floor = self.filter.as_ref().and_then(|f| stamp_floor(f, stamp));
        let wanted = self.limit.map(|l| l + self.offset);
        let mut out: Vec<Arc<Rec>> = Vec::new();
        if let Some(mut keyed) = self.keyed(table, run) {
            keyed.retain(|r| visible(r));
            keyed.sort_by(|a, b| a.id.cmp(&b.id));
            keyed.dedup_by(|a, b| a.id == b.id);
            if !self.order.is_empty() {
                keyed.sort_by(|a, b| order_cmp(def, &self.order, a, b));
            }
            out = keyed;
        } else if index_order && (floor.is_some() || !self.order.is_empty()) {
            let start: (i64, Box<str>) = (floor.unwrap_or(i64::MIN), "".into());
            for (_, rid) in table.order.range(start..) {
                if let Some(r) = table.rows.get(rid) {
                    if visible(r) {
                        out.push(r.clone());
                        if wanted.is_some_and(|w| out.len() >= w) {
                            break;
                        }
                    }
                }
            }
        } else {
            out = table
                .rows
                .values()
                .filter(|r| visible(r))
                .cloned()
                .collect();
            if self.order.is_empty() {
                out.sort_by(|a, b| a.id.cmp(&b.id));
            } else {
                out.sort_by(|a, b| order_cmp(def, &self.order, a, b));
            }
        }
        let mut out: Vec<Arc<Rec>> = out.into_iter().skip(self.offset).collect();
        if let Some(l) = self.limit {
            out.truncate(l);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::simulator::store::Db;
    use serde_json::{Map, Value};
    use std::collections::HashMap;

    #[test]
    fn parses_the_connector_queries_and_more() {
        let q = parse(
            "SELECT Id, SystemModstamp, email FROM lead WHERE SystemModstamp > 2024-01-01T00:00:00.000Z \
             OR (SystemModstamp = 2024-01-01T00:00:00.000+0000 AND Id > '00QDn0000000001AAA') \
             ORDER BY SystemModstamp ASC, Id ASC LIMIT 10 OFFSET 5",
            &schema::object,
        )
        .unwrap();
        assert_eq!(q.object.name, "Lead");
        assert_eq!(q.columns.len(), 3);
        assert_eq!(q.limit, Some(10));
        assert_eq!(q.offset, 5);
        assert!(q.is_change_query());
        let q = parse("select count() from Lead where Email like '%@x.com' and not Status in ('a', 'b') and Lead_Score__c >= 10.5 and IsConverted = false and Email != null", &schema::object).unwrap();
        assert!(q.count);
        let q = parse("SELECT Id FROM Lead WHERE Email NOT IN ('a@b.c') ORDER BY LastName DESC NULLS LAST, Company", &schema::object).unwrap();
        assert_eq!(q.order.len(), 2);
        assert!(!q.is_change_query());
    }

    #[test]
    fn refuses_bad_queries_with_salesforce_codes() {
        let code = |s: &str| parse(s, &schema::object).unwrap_err().code();
        assert_eq!(code("SELEC Id FROM Lead"), "MALFORMED_QUERY");
        assert_eq!(code("SELECT Id FROM Nope__c"), "INVALID_TYPE");
        assert_eq!(code("SELECT Nope FROM Lead"), "INVALID_FIELD");
        assert_eq!(
            code("SELECT Id FROM Lead WHERE SystemModstamp > '2024-01-01'"),
            "INVALID_FIELD"
        );
        assert_eq!(
            code("SELECT Id FROM Lead WHERE Email = 'x"),
            "MALFORMED_QUERY"
        );
        assert_eq!(code("SELECT Id, Id FROM Lead"), "MALFORMED_QUERY");
        assert_eq!(code("SELECT Id FROM Lead LIMIT"), "MALFORMED_QUERY");
        assert_eq!(
            code("SELECT Id FROM Lead WHERE (Email = 'a'"),
            "MALFORMED_QUERY"
        );
    }

    #[test]
    fn like_matches_wildcards() {
        assert!(like("Acme Robotics", "acme%"));
        assert!(like("Acme", "A_me"));
        assert!(like("50% off", "50\\%%"));
        assert!(!like("Acme", "B%"));
        assert!(like("", "%"));
    }

    fn lead(db: &mut Db, last: &str, email: &str, score: f64, at: i64) -> Box<str> {
        let mut m = Map::new();
        m.insert("LastName".into(), Value::from(last));
        m.insert("Company".into(), Value::from("C"));
        m.insert("Email".into(), Value::from(email));
        m.insert("Lead_Score__c".into(), Value::from(score));
        let plan = db
            .plan_create(
                "Lead",
                &m,
                &crate::simulator::store::Save::api(at, at),
                &mut HashMap::new(),
            )
            .unwrap();
        let id = plan.rec.id.clone();
        db.commit(vec![plan]);
        id
    }

    #[test]
    fn evaluates_filters_orders_and_the_compound_cursor() {
        let mut db = Db::new(0);
        let a = lead(&mut db, "Zed", "z@x.com", 10.0, 1000);
        let b = lead(&mut db, "Amy", "A@X.com", 50.0, 2000);
        let c = lead(&mut db, "Bob", "b@y.com", 90.0, 2000);
        let t = db.table("Lead").unwrap();
        let run = Run {
            all: false,
            now: 10_000,
        };
        let ids = |soql: &str| -> Vec<Box<str>> {
            parse(soql, &schema::object)
                .unwrap()
                .run(t, &run)
                .iter()
                .map(|r| r.id.clone())
                .collect()
        };
        assert_eq!(
            ids("SELECT Id FROM Lead WHERE Email = 'a@x.com'"),
            vec![b.clone()]
        );
        assert_eq!(
            ids("SELECT Id FROM Lead ORDER BY LastName"),
            vec![b.clone(), c.clone(), a.clone()]
        );
        assert_eq!(
            ids("SELECT Id FROM Lead WHERE Lead_Score__c > 20 ORDER BY Lead_Score__c DESC"),
            vec![c.clone(), b.clone()]
        );
        let cursor = format!(
            "SELECT Id FROM Lead WHERE SystemModstamp > 1970-01-01T00:00:02.000Z OR \
             (SystemModstamp = 1970-01-01T00:00:02.000Z AND Id > '{b}') ORDER BY SystemModstamp, Id"
        );
        assert_eq!(ids(&cursor), vec![c.clone()]);
        assert_eq!(
            ids("SELECT Id FROM Lead WHERE SystemModstamp >= 1970-01-01T00:00:01.000Z ORDER BY SystemModstamp, Id LIMIT 2"),
            vec![a.clone(), b.clone()]
        );
        assert_eq!(
            ids("SELECT Id FROM Lead WHERE Email LIKE '%@x.com' AND NOT LastName = 'zed'"),
            vec![b]
        );
        assert_eq!(
            parse("SELECT COUNT() FROM Lead", &schema::object)
                .unwrap()
                .run(t, &run)
                .len(),
            3
        );
    }
}
