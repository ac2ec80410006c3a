//! A broker that goes away: requests fail fast with a clear error, and recover with it.

use std::time::Duration;

use claimflow_e2e::{m2m_workflow, Stack};
use claimflow_platform::nats_server::NatsServer;

#[tokio::test]
async fn token_requests_get_an_immediate_503_while_nats_is_down_and_recover_when_it_returns() {
    let mut stack = Stack::start().await;
    let (client_id, client_secret) = stack.m2m_client_for("acme").await;
    let workflow = m2m_workflow("w", "", r#""kinde.m2mToken": {}"#, r#"  kinde.m2mToken.setCustomClaim("up", true);"#);
    assert_eq!(stack.deploy(&[("kindeSrc/environment/workflows/w/Workflow.ts", &workflow)]).await.0, 200);
    assert!(stack.m2m_token(&client_id, &client_secret, "acme").await.is_ok());

    let nats = stack.nats.take().unwrap();
    let port = nats.port();
    nats.kill().await;
    // The services notice the closed connection (a moment on one machine).
    tokio::time::sleep(Duration::from_millis(300)).await;
    for _ in 0..3 {
        let started = std::time::Instant::now();
        let (status, body) =
            stack.m2m_token(&client_id, &client_secret, "acme").await.expect_err("no token without NATS");
        // NOTE: a bound on hanging, not a speed claim: a request that waits for the broker
        // waits out its full timeout (seconds); one that does not answers in milliseconds.
        assert!(started.elapsed() < Duration::from_secs(2), "the request waited {:?}", started.elapsed());
        assert_eq!((status, body["error"].as_str()), (503, Some("temporarily_unavailable")), "{body}");
        assert_eq!(body["error_description"], "the message broker is unreachable; try again shortly");
    }

    // The broker comes back on the same address; the services reconnect by themselves.
    let store = tempfile::tempdir().unwrap();
    let _nats = NatsServer::start_on(store.path(), port).await.unwrap();
    let back = std::time::Instant::now();
    let mut recovered = None;
    for _ in 0..100 {
        if let Ok(token) = stack.m2m_token(&client_id, &client_secret, "acme").await {
            recovered = Some(token);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let token = recovered.expect("token requests succeed again after NATS returns");
    // Reconnect attempts are at most half a second apart (async-nats's default backs off to 4 s).
    assert!(
        back.elapsed() < Duration::from_secs(3),
        "tokens again only {:?} after the broker's return",
        back.elapsed()
    );
    let claims = stack.verify(token["access_token"].as_str().unwrap(), "acme").await.unwrap();
    assert_eq!(claims["up"], true);
}

#[tokio::test]
async fn a_request_in_flight_when_the_broker_dies_gets_its_503_at_once() {
    let mut stack = Stack::start().await;
    let (client_id, client_secret) = stack.m2m_client_for("acme").await;
    let body = "  const until = Date.now() + 1500;\n  while (Date.now() < until) {}";
    let workflow = m2m_workflow("slow", "", r#""kinde.m2mToken": {}"#, body);
    assert_eq!(stack.deploy(&[("kindeSrc/environment/workflows/slow/Workflow.ts", &workflow)]).await.0, 200);
    let nats = stack.nats.take().unwrap();
    let request = stack.m2m_token(&client_id, &client_secret, "acme");
    let kill = async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        nats.kill().await;
        std::time::Instant::now()
    };
    let (result, killed_at) = tokio::join!(request, kill);
    let answered_after = killed_at.elapsed();
    let (status, body) = result.expect_err("the broker died with the run in flight");
    assert_eq!((status, body["error"].as_str()), (503, Some("temporarily_unavailable")), "{body}");
    // NOTE: a bound, not a speed claim: waiting out the 1 s silence limit or the run would
    // take a second or more.
    assert!(answered_after < Duration::from_millis(900), "answered {answered_after:?} after the broker died");
}
