//! The memory connector keeps the connector contract: it runs the shared
//! suite's contract cases, so a fake the engine's unit tests rely on
//! behaves as the real connectors do where the contract speaks.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use leadbridge_conformance::{RotatedTokens, Setup, SetupOptions, Target};
use leadbridge_core::memory::{MemoryConnector, MemoryWorld};
use leadbridge_core::sim::SimControl;
use leadbridge_core::{FieldSchema, Fields, Limits, ObjectSchema, ValueType};
use serde_json::{json, Value};

/// Contacts keyed by email, `lastname` required, `id` read-only.
struct MemoryTarget;

fn schema() -> ObjectSchema {
    let field = |name: &str, value_type: ValueType, required: bool, writable: bool| FieldSchema {
        name: name.into(),
        kind: format!("{value_type:?}").to_lowercase(),
        required,
        createable: writable,
        updateable: writable,
        unique: name == "email" || name == "id",
        value_type,
        ..FieldSchema::default()
    };
    ObjectSchema {
        object: "contacts".into(),
        fields: vec![
            field("id", ValueType::Reference, false, false),
            field("email", ValueType::Text, false, true),
            field("firstname", ValueType::Text, false, true),
            field("lastname", ValueType::Text, true, true),
            field("company", ValueType::Text, false, true),
            field("jobtitle", ValueType::Text, false, true),
            field("score", ValueType::Number, false, true),
            field("lifecycle", ValueType::Enumeration, false, true),
            field("country", ValueType::Text, false, true),
            field("employees", ValueType::Number, false, true),
        ],
    }
}

#[async_trait]
impl Target for MemoryTarget {
    fn object(&self) -> &'static str {
        "contacts"
    }

    fn key_field(&self) -> &'static str {
        "email"
    }

    fn fields(&self) -> Vec<String> {
        ["email", "firstname", "lastname", "score"]
            .map(String::from)
            .to_vec()
    }

    fn valid_record(&self, i: u64) -> Fields {
        let Value::Object(f) = json!({
            "email": format!("person{i}@example.com"),
            "lastname": format!("Person {i}"),
            "company": "Acme",
        }) else {
            unreachable!()
        };
        f
    }

    fn invalid_record(&self, i: u64) -> Fields {
        let Value::Object(f) = json!({ "email": format!("nameless{i}@example.com") }) else {
            unreachable!()
        };
        f
    }

    fn update(&self) -> (String, Value) {
        ("score".into(), json!(42))
    }

    fn page_max(&self) -> usize {
        200
    }

    async fn setup(&self, options: SetupOptions) -> Setup {
        let world = MemoryWorld::new();
        world.define(schema());
        world.set_daily_limit(options.daily_cap);
        let connector = MemoryConnector::new(
            world.clone(),
            "memory",
            Limits {
                page_size: 200,
                batch_size: 100,
                lookup_batch_size: 100,
                requests_per_second: f64::INFINITY,
                daily_cap: options.daily_cap,
                default_overlap: Duration::from_secs(60),
            },
        );
        Setup {
            connector: Arc::new(connector),
            control: world.clone() as Arc<dyn SimControl>,
            rotated: RotatedTokens::default(),
            guard: Box::new(world),
        }
    }
}

leadbridge_conformance::contract_tests!(MemoryTarget);
