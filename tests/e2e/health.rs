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

#[tokio::test]
async fn a_service_whose_health_port_is_taken_stops_at_start_naming_the_variable() {
    let stack = Stack::start().await;
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap();
    let deadline = std::time::Duration::from_secs(10);
    let stop = tokio_util::sync::CancellationToken::new();

    let worker =
        workflow_worker::Config { health_addr: Some(addr), worker_id: "second".into(), ..stack.worker_config() };
    let started = workflow_worker::run(worker, claimflow_e2e::engine(), stop.clone());
    let error = tokio::time::timeout(deadline, started).await.expect("the worker stops at once").unwrap_err();
    let signer = signer::Config { health_addr: Some(addr), ..stack.signer_config() };
    let started = signer::run(signer, stop.clone());
    let signer_error = tokio::time::timeout(deadline, started).await.expect("the signer stops at once").unwrap_err();
    for message in [error.to_string(), signer_error.to_string()] {
        assert!(message.contains("CLAIMFLOW_HEALTH_ADDR") && message.contains(&addr.to_string()), "{message}");
    }
    // Refused before joining the queue: the stack's own worker still answers every event.
    let (client_id, client_secret) = stack.m2m_client_for("acme").await;
    let workflow = m2m_workflow("w", "", r#""kinde.m2mToken": {}"#, r#"  kinde.m2mToken.setCustomClaim("ok", true);"#);
    assert_eq!(stack.deploy(&[("kindeSrc/environment/workflows/w/Workflow.ts", &workflow)]).await.0, 200);
    for _ in 0..5 {
        stack.m2m_token(&client_id, &client_secret, "acme").await.expect("token issued");
    }
}

#[tokio::test]
async fn a_signer_is_not_ready_until_the_schema_exists() {
    let stack = Stack::start().await;
    let dir = tempfile::tempdir().unwrap();
    let database_url = claimflow_storage::sqlite_url(&dir.path().join("not-yet-migrated.sqlite"));
    let port = claimflow_platform::nats_server::free_port().unwrap();
    let mut config = stack.signer_config();
    config.common.database_url = database_url.clone();
    config.key_dir = dir.path().join("keys");
    config.health_addr = Some(std::net::SocketAddr::from(([127, 0, 0, 1], port)));
    let stop = tokio_util::sync::CancellationToken::new();
    let signer = tokio::spawn(signer::run(config, stop.clone()));
    let readyz = format!("http://127.0.0.1:{port}/readyz");
    let mut answer = (0, String::new());
    for _ in 0..100 {
        if let Ok(response) = stack.http.get(&readyz).send().await {
            answer = (response.status().as_u16(), response.text().await.unwrap());
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(answer.0, 503, "{answer:?}");
    assert!(answer.1.contains("not migrated"), "{answer:?}");

    claimflow_storage::Store::open_and_migrate(&database_url).await.unwrap();
    assert_eq!(get(&stack, readyz).await, (200, "ready".to_owned()));
    stop.cancel();
    signer.await.unwrap().unwrap();
}

#[tokio::test]
async fn auth_service_is_not_ready_until_a_signer_can_sign() {
    let stack = Stack::start().await;
    // A replica on a subject prefix no signer serves: alive, but it could not issue a token.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let mut config = stack.auth_config();
    config.http_addr = listener.local_addr().unwrap();
    config.common.subject_prefix = "nosigner.".to_owned();
    let stop = tokio_util::sync::CancellationToken::new();
    let replica = tokio::spawn(auth_service::run_with_listener(config, listener, stop.clone()));
    let mut alive = 0;
    for _ in 0..200 {
        alive = stack.http.get(format!("{url}/healthz")).send().await.map(|r| r.status().as_u16()).unwrap_or(0);
        if alive == 200 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(alive, 200);
    assert_eq!(get(&stack, format!("{url}/readyz")).await, (503, "signer: no signer has answered".to_owned()));
    // The stack's own auth-service, with its signer, is ready.
    assert_eq!(get(&stack, format!("{}/readyz", stack.issuer)).await, (200, "ready".to_owned()));
    stop.cancel();
    replica.await.unwrap().unwrap();
}
