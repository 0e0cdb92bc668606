//! Deterministic conflicts: a field owned by both sides, changed on both
//! between two cycles, is decided by its configured policy in the cycle
//! that sees both changes; the loser's side is written once with the
//! winner, the link agrees on it, and nothing moves afterwards.

use serde_json::{json, Value};

use super::harness::*;
use crate::state::Side;

struct Case {
    policy: &'static str,
    /// Marketing's new company; `None` blanks it.
    marketing: Option<&'static str>,
    /// The CRM's new company; `None` blanks it.
    crm: Option<&'static str>,
    /// The CRM edits after marketing (what `newest` looks at).
    crm_last: bool,
    /// Whose value must win.
    winner: Side,
}

impl Case {
    fn winning_value(&self) -> &'static str {
        match self.winner {
            Side::Marketing => self.marketing,
            Side::Crm => self.crm,
        }
        .expect("the winner is never blank in these cases")
    }
}

fn fields_of(pairs: &[(&str, &str)]) -> leadbridge_core::Fields {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), json!(v)))
        .collect()
}

fn value(v: Option<&str>) -> Value {
    v.map_or(json!(""), |s| json!(s))
}

async fn run(case: Case) {
    let what = format!(
        "{} (marketing {:?}, crm {:?}, crm last: {})",
        case.policy, case.marketing, case.crm, case.crm_last
    );
    let h = Harness::new(Options {
        conflict: case.policy,
        ..Options::default()
    });
    let id = h
        .handed_off(vec![contact("ann@example.com", 80)])
        .await
        .remove(0);
    let lead_id = h.link(&id).await.expect("linked").state.crm_id;
    assert_eq!(
        h.get(LEADS, &lead_id).text("Company").as_deref(),
        Some("Acme")
    );

    // Both sides edit the company between two cycles, 30 s apart.
    let order = if case.crm_last {
        [false, true]
    } else {
        [true, false]
    };
    for crm in order {
        h.advance(30);
        if crm {
            h.edit(LEADS, &lead_id, json!({ "Company": value(case.crm) }));
        } else {
            h.edit(CONTACTS, &id, json!({ "company": value(case.marketing) }));
        }
    }
    h.advance(1);
    h.clear_log();
    let report = h.ok().await;

    // Both sides hold the winner.
    let winner = case.winning_value();
    assert_eq!(
        h.get(LEADS, &lead_id).text("Company").as_deref(),
        Some(winner),
        "{what}: the CRM holds the winner"
    );
    assert_eq!(
        h.get(CONTACTS, &id).text("company").as_deref(),
        Some(winner),
        "{what}: marketing holds the winner"
    );

    // Exactly one write, of that one field, to the side that lost.
    let (to_crm, to_marketing) = (h.crm_sent(), h.marketing_sent());
    let (sent, unsent, target, field) = match case.winner {
        Side::Marketing => (&to_crm, &to_marketing, &lead_id, "Company"),
        Side::Crm => (&to_marketing, &to_crm, &id, "company"),
    };
    assert!(
        unsent.is_empty(),
        "{what}: the winner's side is not written: {unsent:?}"
    );
    assert_eq!(sent.len(), 1, "{what}: {sent:?}");
    assert_eq!(sent[0].records.len(), 1, "{what}");
    assert_eq!(sent[0].records[0].id.as_ref(), Some(target), "{what}");
    assert_eq!(
        Value::Object(sent[0].records[0].fields.clone()),
        Value::Object(fields_of(&[(field, winner)])),
        "{what}"
    );
    assert_eq!(
        report.counts.written_crm + report.counts.written_marketing,
        1,
        "{what}: {report:?}"
    );

    // The link agrees on the winner.
    let link = h.link(&id).await.expect("still linked");
    let tag = h.pipeline.planner.tags.of("company");
    assert!(
        !link.state.agreed.changed(tag, Some(&json!(winner))),
        "{what}: the agreed fingerprint is the winner's"
    );

    // Decided once: re-reading both edits changes nothing.
    h.idle_cycles(&what).await;
}

#[tokio::test]
async fn newest_wins_whichever_side_edited_last() {
    for (crm_last, winner) in [(false, Side::Marketing), (true, Side::Crm)] {
        run(Case {
            policy: "newest",
            marketing: Some("Acme (marketing)"),
            crm: Some("Acme (sales)"),
            crm_last,
            winner,
        })
        .await;
    }
}

#[tokio::test]
async fn prefer_marketing_wins_though_the_crm_edited_last() {
    run(Case {
        policy: "prefer_marketing",
        marketing: Some("Acme (marketing)"),
        crm: Some("Acme (sales)"),
        crm_last: true,
        winner: Side::Marketing,
    })
    .await;
}

#[tokio::test]
async fn prefer_crm_wins_though_marketing_edited_last() {
    run(Case {
        policy: "prefer_crm",
        marketing: Some("Acme (marketing)"),
        crm: Some("Acme (sales)"),
        crm_last: false,
        winner: Side::Crm,
    })
    .await;
}

#[tokio::test]
async fn prefer_marketing_unless_blank_falls_back_to_the_crm_only_on_a_blank() {
    // Marketing blanked it: the CRM's value wins, though marketing edited last.
    run(Case {
        policy: "prefer_marketing_unless_blank",
        marketing: None,
        crm: Some("Acme (sales)"),
        crm_last: false,
        winner: Side::Crm,
    })
    .await;
    // Marketing has a value: it wins, though the CRM edited last.
    run(Case {
        policy: "prefer_marketing_unless_blank",
        marketing: Some("Acme (marketing)"),
        crm: Some("Acme (sales)"),
        crm_last: true,
        winner: Side::Marketing,
    })
    .await;
}

#[tokio::test]
async fn prefer_crm_unless_blank_falls_back_to_marketing_only_on_a_blank() {
    // The CRM blanked it: marketing's value wins, though the CRM edited last.
    run(Case {
        policy: "prefer_crm_unless_blank",
        marketing: Some("Acme (marketing)"),
        crm: None,
        crm_last: true,
        winner: Side::Marketing,
    })
    .await;
    // The CRM has a value: it wins, though marketing edited last.
    run(Case {
        policy: "prefer_crm_unless_blank",
        marketing: Some("Acme (marketing)"),
        crm: Some("Acme (sales)"),
        crm_last: false,
        winner: Side::Crm,
    })
    .await;
}
