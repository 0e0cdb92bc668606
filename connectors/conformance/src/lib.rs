//! The conformance suite: plain async functions every connector runs against
//! its own simulator, so "passes the suite" means the same thing for every
//! tool (the arrow-rs object-store pattern).
//!
//! A connector crate implements [`Target`] once and invokes
//! [`conformance_tests!`] in a test file; each case becomes its own test.
//!
//! ```text
//! // connectors/hubspot/tests/conformance.rs
//! leadbridge_conformance::conformance_tests!(leadbridge_hubspot::testing::HubSpotTarget);
//! ```
#![deny(missing_docs)]

pub mod cases;
mod target;

pub use target::{AuthMode, ChangeCalls, RotatedTokens, Setup, SetupOptions, Target};

/// Expands to one `#[tokio::test]` per conformance case, each calling the
/// case with a fresh `$target` (an expression implementing [`Target`]):
/// the contract cases ([`contract_tests!`]) and the transport cases (what
/// a tool's HTTP API adds: 429s, 5xx, tokens, daily caps).
#[macro_export]
macro_rules! conformance_tests {
    ($target:expr) => {
        $crate::contract_tests!($target);
        $crate::conformance_tests!(@cases $target;
            rate_limited_calls_wait_for_retry_after,
            server_errors_and_drops_are_retried,
            expired_token_is_refreshed_and_rotation_persisted,
            bad_credentials_fail_once_without_a_storm,
            daily_cap_stops_work_with_a_clear_error,
        );
    };
    (@cases $target:expr; $($case:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                $crate::cases::$case(&$target).await;
            }
        )*
    };
}

/// Expands to one `#[tokio::test]` per case of the contract itself (the
/// cursor rule, look-ups, upserts, per-record outcomes, activities,
/// describe): what every [`leadbridge_core::Connector`] keeps, with or
/// without an HTTP API behind it (the memory connector runs only these).
#[macro_export]
macro_rules! contract_tests {
    ($target:expr) => {
        $crate::conformance_tests!(@cases $target;
            full_pass_returns_each_record_once_across_ties,
            full_pass_makes_the_minimum_calls,
            incremental_pass_returns_only_changed_records,
            late_visible_record_is_picked_up,
            archived_records_are_flagged,
            lookup_finds_records_by_key,
            upserting_twice_creates_nothing_new,
            partial_batch_rejects_some_and_writes_the_rest,
            activities_attach_to_a_record,
            describe_lists_fields,
            update_by_id_changes_only_that_record,
            create_without_a_key_creates_each_record,
            lookups_larger_than_one_call_are_split,
            archived_records_are_left_out_unless_asked,
            a_quiet_pass_returns_nothing,
        );
    };
}
