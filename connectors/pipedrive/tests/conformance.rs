//! The shared conformance suite, run against the Pipedrive simulator.
#![cfg(feature = "simulator")]

leadbridge_conformance::conformance_tests!(leadbridge_pipedrive::testing::PipedriveTarget);
