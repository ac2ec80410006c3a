//! A broker that goes away: requests fail fast with a clear error, and recover with it.

use std::time::Duration;

use claimflow_e2e::{m2m_workflow, Stack};
use claimflow_platform::nats_server::NatsServer;

#[tokio::test]
async fn token_requests_fail_clearly_while_nats_is_down_and_recover_when_it_returns() {
    let mut stack = Stack::start().await;
    let (client_id, client_secret) = stack.m2m_client_for("acme").await;
    let workflow = m2m_workflow("w", "", r#""kinde.m2mToken": {}"#, r#"  kinde.m2mToken.setCustomClaim("up", true);"#);
    assert_eq!(stack.deploy(&[("kindeSrc/environment/workflows/w/Workflow.ts", &workflow)]).await.0, 200);
    assert!(stack.m2m_token(&client_id, &client_secret, "acme").await.is_ok());

    let nats = stack.nats.take().unwrap();
    let port = nats.port();
    nats.kill().await;
    let started = std::time::Instant::now();
    let (status, body) = stack.m2m_token(&client_id, &client_secret, "acme").await.expect_err("no token without NATS");
    assert!(started.elapsed() < Duration::from_secs(10), "the request must not hang");
    assert!(status >= 500, "{status} {body}");
    assert!(body["error_description"].as_str().is_some_and(|d| !d.is_empty()), "{body}");

    // The broker comes back on the same address; the services reconnect by themselves.
    let store = tempfile::tempdir().unwrap();
    let _nats = NatsServer::start_on(store.path(), port).await.unwrap();
    let mut recovered = None;
    for _ in 0..100 {
        if let Ok(token) = stack.m2m_token(&client_id, &client_secret, "acme").await {
            recovered = Some(token);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let token = recovered.expect("token requests succeed again after NATS returns");
    let claims = stack.verify(token["access_token"].as_str().unwrap(), "acme").await.unwrap();
    assert_eq!(claims["up"], true);
}
