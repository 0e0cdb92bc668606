//! The shared conformance suite, run against the HubSpot simulator.
#![cfg(feature = "simulator")]

leadbridge_conformance::conformance_tests!(leadbridge_hubspot::testing::HubSpotTarget);
