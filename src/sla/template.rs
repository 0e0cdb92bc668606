//! `{field}` templates for notes, task subjects and notifications, filled
//! from a lead's canonical values. A template is ops' text, not code: an
//! unknown name is left visible (`{nmae}`) so the mistake shows.

use std::collections::BTreeMap;

use serde_json::Value;

/// Values a template may name: canonical fields plus a few computed ones
/// (`name`, `deadline`, `owner`, `why`, `marketing_url`, `id`).
pub type Vars = BTreeMap<String, String>;

/// Text for one value: strings bare, null as empty, others as JSON.
pub fn text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// `first_name last_name`, else the email, else the marketing id.
pub fn display_name(values: &leadbridge_core::Fields, fallback: &str) -> String {
    let part = |k: &str| values.get(k).map(text).unwrap_or_default();
    let name = format!("{} {}", part("first_name"), part("last_name"))
        .trim()
        .to_string();
    if !name.is_empty() {
        return name;
    }
    let email = part("email");
    if email.is_empty() {
        fallback.to_owned()
    } else {
        email
    }
}

/// Fills `{name}` placeholders from `vars`.
pub fn render(template: &str, vars: &Vars) -> String {
    let mut out = String::with_capacity(template.len() + 64);
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        match after.find('}') {
            Some(close)
                if after[..close]
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_') =>
            {
                let key = &after[..close];
                match vars.get(key) {
                    Some(v) => out.push_str(v),
                    None => {
                        out.push('{');
                        out.push_str(key);
                        out.push('}');
                    }
                }
                rest = &after[close + 1..];
            }
            _ => {
                out.push('{');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fills_known_names_and_leaves_unknown_ones_visible() {
        let vars = Vars::from([("name".to_string(), "Ann Lee".to_string())]);
        assert_eq!(
            render("SLA breached: {name} {nmae} {", &vars),
            "SLA breached: Ann Lee {nmae} {"
        );
    }
}
