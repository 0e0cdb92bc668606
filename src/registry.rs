//! The tools this build of leadbridge knows: the one list of connector
//! factories. Adding a tool is a crate under `connectors/` and one line
//! here (see CONNECTORS.md); nothing else in the daemon names a vendor.

use std::sync::Arc;

use leadbridge_core::Registry;

/// Every built-in tool, in the order `--help` lists them.
pub fn builtin() -> Registry {
    Registry::new([
        Arc::new(leadbridge_hubspot::HubSpotFactory) as Arc<dyn leadbridge_core::ConnectorFactory>,
        Arc::new(leadbridge_salesforce::SalesforceFactory),
    ])
}
