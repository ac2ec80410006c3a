//! Every service answers `/healthz`, `/readyz` and `/metrics`.

use claimflow_e2e::{m2m_workflow, Stack, StackOptions};

async fn get(stack: &Stack, url: String) -> (u16, String) {
    let response = stack.http.get(&url).send().await.unwrap_or_else(|err| panic!("{url}: {err}"));
    (response.status().as_u16(), response.text().await.unwrap())
}

#[tokio::test]
async fn every_service_reports_health_readiness_and_metrics() {
    let stack = Stack::start_with(StackOptions { health: true, ..StackOptions::default() }).await;
    let (client_id, client_secret) = stack.m2m_client_for("acme").await;
    let workflow = m2m_workflow("w", "", r#""kinde.m2mToken": {}"#, r#"  kinde.m2mToken.setCustomClaim("ok", true);"#);
    assert_eq!(stack.deploy(&[("kindeSrc/environment/workflows/w/Workflow.ts", &workflow)]).await.0, 200);
    stack.m2m_token(&client_id, &client_secret, "acme").await.expect("token issued");
    stack.m2m_token(&client_id, "wrong", "acme").await.expect_err("refused");

    let signer = stack.signer_health.clone().unwrap();
    let worker = stack.worker_health.clone().unwrap();
    for base in [stack.issuer.clone(), signer.clone(), worker.clone()] {
        assert_eq!(get(&stack, format!("{base}/healthz")).await.0, 200, "{base}/healthz");
        assert_eq!(get(&stack, format!("{base}/readyz")).await, (200, "ready".to_owned()), "{base}/readyz");
    }
    let (status, metrics) = get(&stack, format!("{}/metrics", stack.issuer)).await;
    assert_eq!(status, 200);
    for expected in [
        r#"claimflow_token_requests_total{grant_type="client_credentials",outcome="issued"}"#,
        r#"claimflow_token_requests_total{grant_type="client_credentials",outcome="invalid_client"}"#,
        r#"claimflow_nats_request_seconds_bucket{le="#,
    ] {
        assert!(metrics.contains(expected), "{expected} missing from\n{metrics}");
    }
    let (_, metrics) = get(&stack, format!("{worker}/metrics")).await;
    assert!(metrics.contains(r#"claimflow_workflow_runs_total{status="ok"}"#), "{metrics}");
    assert!(metrics.contains("claimflow_workflow_run_seconds_bucket"), "{metrics}");
    let (_, metrics) = get(&stack, format!("{signer}/metrics")).await;
    assert!(metrics.contains(r#"claimflow_signer_operations_total{operation="issue",outcome="ok"}"#), "{metrics}");
}

#[tokio::test]
async fn readiness_fails_when_the_broker_is_gone() {
    let mut stack = Stack::start_with(StackOptions { health: true, ..StackOptions::default() }).await;
    stack.nats.take().unwrap().kill().await;
    let worker = stack.worker_health.clone().unwrap();
    let mut status = 0;
    for _ in 0..50 {
        status = get(&stack, format!("{worker}/readyz")).await.0;
        if status == 503 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(status, 503, "the worker must not report ready without NATS");
    assert_eq!(get(&stack, format!("{worker}/healthz")).await.0, 200, "alive all the same");
    assert_eq!(get(&stack, format!("{}/readyz", stack.issuer)).await.0, 503);
}
