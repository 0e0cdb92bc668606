//! The shared conformance suite, run against the Salesforce simulator.
#![cfg(feature = "simulator")]

leadbridge_conformance::conformance_tests!(leadbridge_salesforce::testing::SalesforceTarget);
