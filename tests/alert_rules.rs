//! The Prometheus alert rules shipped beside the Grafana dashboard
//! (`config/prometheus-alerts.yml`): they parse as a Prometheus rule file
//! (groups of rules, each with an alert name, an expression, a duration, a
//! severity and a summary), the four alerts ops asked for are there, and
//! every metric an expression names is one leadbridge exports.

use std::collections::BTreeSet;

use leadbridge::metrics::names;
use yaml_rust2::{Yaml, YamlLoader};

fn rules() -> Vec<Yaml> {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("config/prometheus-alerts.yml");
    let text = std::fs::read_to_string(&path).expect("config/prometheus-alerts.yml");
    let docs = YamlLoader::load_from_str(&text).expect("valid YAML");
    assert_eq!(docs.len(), 1, "one document");
    let groups = docs[0]["groups"].as_vec().expect("a `groups` list");
    assert!(!groups.is_empty());
    let mut out = Vec::new();
    for g in groups {
        assert!(
            g["name"].as_str().is_some_and(|n| !n.is_empty()),
            "a group name"
        );
        out.extend(g["rules"].as_vec().expect("a `rules` list").iter().cloned());
    }
    out
}

/// The `leadbridge_…` names in a PromQL expression, with histogram suffixes
/// taken off.
fn metrics_in(expr: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    for (i, _) in expr.match_indices("leadbridge_") {
        let name: String = expr[i..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        let base = ["_bucket", "_sum", "_count"]
            .iter()
            .find_map(|s| name.strip_suffix(s))
            .unwrap_or(&name)
            .to_owned();
        found.insert(base);
    }
    found
}

#[test]
fn alert_rules_parse_and_name_only_exported_metrics() {
    let rules = rules();
    let mut alerts = BTreeSet::new();
    for rule in &rules {
        let alert = rule["alert"].as_str().expect("each rule is an alert");
        assert!(alerts.insert(alert.to_owned()), "{alert} twice");
        let expr = rule["expr"]
            .as_str()
            .unwrap_or_else(|| panic!("{alert}: expr"));
        let duration = rule["for"]
            .as_str()
            .unwrap_or_else(|| panic!("{alert}: for"));
        assert!(
            duration.ends_with(['s', 'm', 'h', 'd'])
                && duration[..duration.len() - 1].parse::<u32>().is_ok(),
            "{alert}: `for: {duration}` is a Prometheus duration"
        );
        let severity = rule["labels"]["severity"].as_str();
        assert!(
            matches!(severity, Some("critical" | "warning")),
            "{alert}: severity {severity:?}"
        );
        assert!(
            rule["annotations"]["summary"].as_str().is_some(),
            "{alert}: summary"
        );
        // Balanced brackets: a cut-off expression would not load.
        for (open, close) in [('(', ')'), ('[', ']'), ('{', '}')] {
            assert_eq!(
                expr.matches(open).count(),
                expr.matches(close).count(),
                "{alert}: unbalanced {open}{close} in {expr}"
            );
        }
        let used = metrics_in(expr);
        assert!(
            !used.is_empty(),
            "{alert} names no leadbridge metric: {expr}"
        );
        for name in &used {
            assert!(
                names::ALL.contains(&name.as_str()),
                "{alert} uses {name}, which leadbridge does not export"
            );
        }
    }
    for wanted in [
        "LeadbridgePipelineHalted",
        "LeadbridgeSlaBreachRate",
        "LeadbridgeDeadLettersGrowing",
        "LeadbridgeQuotaNearExhaustion",
    ] {
        assert!(alerts.contains(wanted), "{wanted} missing: {alerts:?}");
    }
}

#[test]
fn the_checker_would_catch_an_unknown_metric() {
    let used =
        metrics_in("rate(leadbridge_made_up_total[5m]) + leadbridge_cycle_duration_seconds_bucket");
    assert!(used.contains("leadbridge_made_up_total"));
    assert!(used.contains(names::CYCLE_DURATION));
    assert!(!names::ALL.contains(&"leadbridge_made_up_total"));
}
