//! The connector's OAuth against the simulator's token endpoint (SEMANTICS.md R2.6).
#![cfg(feature = "simulator")]

use std::time::Duration;

use leadbridge_conformance::{AuthMode, SetupOptions};
use leadbridge_core::{ChangesRequest, ConnectorError};
use leadbridge_hubspot::testing::setup;

fn request() -> ChangesRequest {
    ChangesRequest {
        object: "contacts".into(),
        since: None,
        overlap: Duration::ZERO,
        fields: vec!["email".into()],
        include_archived: false,
    }
}

/// Every body HubSpot refuses a refresh with halts the connector as
/// unauthorized, saying how to re-authenticate, after one token call and
/// no retries; a misconfigured client is fatal. The token URL is v3.
#[tokio::test]
async fn refused_refreshes_halt_with_the_way_back_and_bad_clients_are_fatal() {
    let s = setup(SetupOptions {
        auth: AuthMode::OAuthRefresh,
        ..SetupOptions::default()
    })
    .await;
    for shape in ["invalid_grant", "legacy", "invalid_request", "bad_hub"] {
        s.control.tokens().set_refusal(Some(shape.into()));
        s.control.requests().reset();
        match s.connector.changes(&request(), None).await {
            Err(ConnectorError::Unauthorized { message }) => assert!(
                message.contains("re-authenticate: `leadbridge auth hubspot`"),
                "{shape}: {message}"
            ),
            other => panic!("{shape}: expected unauthorized, got {other:?}"),
        }
        let counts = s.control.requests().counts();
        assert_eq!(counts.get("POST /oauth/v3/token"), Some(&1), "{shape}");
        assert_eq!(s.control.requests().total(), 1, "{shape}: {counts:?}");
    }
    s.control.tokens().set_refusal(Some("bad_client_id".into()));
    assert!(matches!(
        s.connector.changes(&request(), None).await,
        Err(ConnectorError::Fatal { .. })
    ));
    s.control.tokens().set_refusal(None);
    s.control.requests().reset();
    s.connector.changes(&request(), None).await.unwrap();
    let counts = s.control.requests().counts();
    assert_eq!(counts.get("POST /oauth/v3/token"), Some(&1), "{counts:?}");
    assert_eq!(counts.get("POST /oauth/v1/token"), None);
}
