//! The shared conformance suite, run against the Marketo simulator.
#![cfg(feature = "simulator")]

leadbridge_conformance::conformance_tests!(leadbridge_marketo::testing::MarketoTarget);
