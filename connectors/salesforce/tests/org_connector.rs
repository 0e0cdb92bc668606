//! The connector against the round-2 simulator: what it does with
//! converted leads, duplicate rules, transient per-record errors, deletes
//! and merges, whole-second stamps, full describes and batched tasks.
#![cfg(feature = "simulator")]

mod common;

use common::{connector, sim};
use leadbridge_core::{Connector, ValueType};

/// `describe` normalises Salesforce's types for the engine (picklist →
/// Enumeration, currency → Number, url → Text, reference → Reference…)
/// with lengths and External ID flags; `users()` lists every user, active
/// or not, from one query.
#[tokio::test]
async fn describe_normalises_types_and_users_come_from_one_query() {
    let (sim, _org) = sim().await;
    let c = connector(&sim);
    let schema = c.describe("Lead").await.unwrap();
    let get = |n: &str| schema.field(n).unwrap_or_else(|| panic!("no {n}")).clone();
    for (name, expected) in [
        ("Status", ValueType::Enumeration),
        ("AnnualRevenue", ValueType::Number),
        ("NumberOfEmployees", ValueType::Number),
        ("HasOptedOutOfEmail", ValueType::Bool),
        ("ConvertedDate", ValueType::Date),
        ("EmailBouncedDate", ValueType::DateTime),
        ("OwnerId", ValueType::Reference),
        ("Id", ValueType::Reference),
        ("Website", ValueType::Text),
        ("Street", ValueType::Text),
        ("Email", ValueType::Text),
        ("MobilePhone", ValueType::Text),
    ] {
        assert_eq!(get(name).value_type, expected, "{name}");
    }
    assert_eq!(get("Company").length, Some(255));
    assert_eq!(get("FirstName").length, Some(40));
    assert_eq!(get("AnnualRevenue").length, None);
    assert!(get("Leadbridge_Id__c").external_id);
    assert!(!get("Email").external_id);
    assert_eq!(
        get("Salutation").options,
        ["Mr.", "Ms.", "Mrs.", "Dr.", "Prof."]
    );
    assert!(!get("IsConverted").createable && !get("IsConverted").required);
    assert!(get("LastName").required && get("Company").required);
    let task = c.describe("Task").await.unwrap();
    assert_eq!(task.field("Subject").unwrap().value_type, ValueType::Text);

    sim.control.requests().reset();
    let users = c
        .users()
        .await
        .unwrap()
        .expect("Salesforce lists its users");
    assert_eq!(sim.control.requests().total(), 1, "one query");
    assert_eq!(users.len(), 5);
    let ada = &users[0];
    assert_eq!(ada.name, "Ada Admin");
    assert_eq!(
        ada.email.as_deref(),
        Some("ada.admin@leadbridge-sim.example")
    );
    assert!(ada.active);
    assert!(users.iter().any(|u| u.name == "Ina Inactive" && !u.active));
}
