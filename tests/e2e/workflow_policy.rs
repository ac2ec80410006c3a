//! What the signer refuses, and what happens when a workflow fails.

use std::time::Duration;

use claimflow_e2e::{m2m_workflow, Stack, StackOptions};
use serde_json::json;

const PATH: &str = "kindeSrc/environment/workflows/w/Workflow.ts";

#[tokio::test]
async fn m2m_workflow_cannot_set_prohibited_claims_and_the_drop_is_reported() {
    let stack = Stack::start().await;
    let (client_id, client_secret) = stack.m2m_client_for("acme").await;
    let workflow = m2m_workflow(
        "greedy",
        "",
        r#""kinde.m2mToken": {}"#,
        r#"  kinde.m2mToken.setCustomClaim("exp", 9999999999);
  kinde.m2mToken.setCustomClaim("aud", ["evil"]);
  kinde.m2mToken.setCustomClaim("gty", ["password"]);
  kinde.m2mToken.setCustomClaim("allowed", true);"#,
    );
    assert_eq!(stack.deploy(&[(PATH, &workflow)]).await.0, 200);
    let response = stack.m2m_token(&client_id, &client_secret, "acme").await.expect("token issued");
    let claims = stack.verify(response["access_token"].as_str().unwrap(), "acme").await.unwrap();
    assert_eq!(claims["aud"], json!(["acme"]));
    assert_eq!(claims["gty"], json!(["client_credentials"]));
    assert!(claims["exp"].as_u64().unwrap() < 9999999999);
    assert_eq!(claims["allowed"], true);

    let runs = stack.runs().await;
    let mut dropped: Vec<&str> =
        runs[0]["rejected"].as_array().unwrap().iter().map(|r| r["claim"].as_str().unwrap()).collect();
    dropped.sort();
    assert_eq!(dropped, ["aud", "exp", "gty"]);
    assert!(runs[0]["rejected"].as_array().unwrap().iter().all(|r| r["reason"] == "prohibited"));
}

#[tokio::test]
async fn undeclared_token_binding_is_absent_inside_the_workflow() {
    let stack = Stack::start().await;
    let (client_id, client_secret) = stack.m2m_client_for("acme").await;
    // No kinde.m2mToken binding: the global is absent, so the workflow cannot even call it.
    let workflow = m2m_workflow(
        "nobinding",
        "",
        r#""kinde.auth": {}"#,
        r#"  if (kinde.m2mToken) throw new Error("binding leaked");"#,
    );
    assert_eq!(stack.deploy(&[(PATH, &workflow)]).await.0, 200);
    let response = stack.m2m_token(&client_id, &client_secret, "acme").await.expect("token issued");
    assert!(response["access_token"].is_string());
    assert_eq!(stack.runs().await[0]["status"], "ok");
}

#[tokio::test]
async fn infinite_loop_with_stop_policy_fails_the_request_naming_the_workflow() {
    let stack =
        Stack::start_with(StackOptions { workflow_timeout: Duration::from_millis(500), ..StackOptions::default() })
            .await;
    let (client_id, client_secret) = stack.m2m_client_for("acme").await;
    let workflow = m2m_workflow(
        "spinner",
        r#"failurePolicy: { action: "stop" },"#,
        r#""kinde.m2mToken": {}"#,
        "  while (true) {}",
    );
    assert_eq!(stack.deploy(&[(PATH, &workflow)]).await.0, 200);
    let (status, body) = stack.m2m_token(&client_id, &client_secret, "acme").await.expect_err("no token");
    assert_eq!(status, 500);
    assert_eq!(body["error"], "server_error");
    let description = body["error_description"].as_str().unwrap();
    assert!(description.contains("spinner") && description.contains("timed out"), "{description}");
    assert!(!description.contains("    at "), "no stack dump: {description}");
    let runs = stack.runs().await;
    assert_eq!(runs[0]["status"], "timed_out");

    // The worker survived and serves the next request.
    let fixed =
        m2m_workflow("spinner", "", r#""kinde.m2mToken": {}"#, r#"  kinde.m2mToken.setCustomClaim("ok", true);"#);
    assert_eq!(stack.deploy(&[(PATH, &fixed)]).await.0, 200);
    let response = stack.m2m_token(&client_id, &client_secret, "acme").await.expect("token issued");
    let claims = stack.verify(response["access_token"].as_str().unwrap(), "acme").await.unwrap();
    assert_eq!(claims["ok"], true);
}

#[tokio::test]
async fn infinite_loop_with_continue_policy_issues_the_token_without_its_claims() {
    let stack =
        Stack::start_with(StackOptions { workflow_timeout: Duration::from_millis(500), ..StackOptions::default() })
            .await;
    let (client_id, client_secret) = stack.m2m_client_for("acme").await;
    let workflow = m2m_workflow(
        "spinner",
        r#"failurePolicy: { action: "continue" },"#,
        r#""kinde.m2mToken": {}"#,
        "  kinde.m2mToken.setCustomClaim(\"partial\", true);\n  while (true) {}",
    );
    assert_eq!(stack.deploy(&[(PATH, &workflow)]).await.0, 200);
    let response = stack.m2m_token(&client_id, &client_secret, "acme").await.expect("token issued");
    let claims = stack.verify(response["access_token"].as_str().unwrap(), "acme").await.unwrap();
    assert!(claims.get("partial").is_none(), "a failed run's claims must not reach the token: {claims}");
    assert_eq!(stack.runs().await[0]["status"], "timed_out");
}

#[tokio::test]
async fn throwing_workflow_with_stop_policy_reports_its_error() {
    let stack = Stack::start().await;
    let (client_id, client_secret) = stack.m2m_client_for("acme").await;
    let workflow = m2m_workflow("thrower", "", r#""kinde.m2mToken": {}"#, r#"  throw new Error("CRM is down");"#);
    assert_eq!(stack.deploy(&[(PATH, &workflow)]).await.0, 200);
    let (status, body) = stack.m2m_token(&client_id, &client_secret, "acme").await.expect_err("no token");
    assert_eq!(status, 500);
    assert!(body["error_description"].as_str().unwrap().contains("CRM is down"), "{body}");
    let runs = stack.runs().await;
    assert_eq!(runs[0]["status"], "failed");
    assert!(runs[0]["error"].as_str().unwrap().contains("CRM is down"));
}

#[tokio::test]
async fn management_tokens_never_run_workflows() {
    let stack = Stack::start().await;
    let workflow = m2m_workflow("thrower", "", r#""kinde.m2mToken": {}"#, r#"  throw new Error("broken");"#);
    assert_eq!(stack.deploy(&[(PATH, &workflow)]).await.0, 200);
    // A broken workflow must not lock the admin out: the management token is still issued.
    let token = stack.management_token().await;
    assert!(!token.is_empty());
    assert!(stack.runs().await.is_empty());
}

#[tokio::test]
async fn a_deployment_can_set_its_own_time_limit() {
    let stack = Stack::start().await;
    let (client_id, client_secret) = stack.m2m_client_for("acme").await;
    let workflow = m2m_workflow("slow", "", r#""kinde.m2mToken": {}"#, "  while (true) {}");
    let (status, body) = stack
        .management(
            reqwest::Method::POST,
            "workflows/deployments",
            Some(json!({ "files": [{ "path": PATH, "content": workflow }], "timeout_ms": 200 })),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["deployments"][0]["timeout_ms"], 200);
    let started = std::time::Instant::now();
    let (_, body) = stack.m2m_token(&client_id, &client_secret, "acme").await.expect_err("no token");
    assert!(body["error_description"].as_str().unwrap().contains("200ms"), "{body}");
    assert!(started.elapsed() < Duration::from_secs(3), "the 5 s default applied instead");

    let (status, body) = stack
        .management(
            reqwest::Method::POST,
            "workflows/deployments",
            Some(json!({ "files": [{ "path": PATH, "content": workflow }], "timeout_ms": 120000 })),
        )
        .await;
    assert_eq!(status, 400);
    assert!(body["errors"][0]["message"].as_str().unwrap().contains("timeout_ms"));
}

#[tokio::test]
async fn work_whose_callers_gave_up_is_dropped_so_a_redeploy_runs_on_the_next_request() {
    let stack = Stack::start().await;
    let (client_id, client_secret) = stack.m2m_client_for("acme").await;
    let deploy = |workflow: String, timeout_ms: u64| {
        let stack = &stack;
        async move {
            let files = json!({ "files": [{ "path": PATH, "content": workflow }], "timeout_ms": timeout_ms });
            let (status, body) = stack.management(reqwest::Method::POST, "workflows/deployments", Some(files)).await;
            assert_eq!(status, 200, "{body}");
        }
    };
    // Each run spins for its whole 1 s limit; the worker has 2 isolates, so 12 callers queue
    // 10 runs behind them, and every caller gives up after 2 s (the limit and a second).
    deploy(m2m_workflow("w", "", r#""kinde.m2mToken": {}"#, "  while (true) {}"), 1000).await;
    let storm: Vec<_> = (0..12).map(|_| stack.m2m_token(&client_id, &client_secret, "acme")).collect();
    for answer in futures::future::join_all(storm).await {
        assert!(answer.is_err(), "a busy loop issues no token");
    }

    deploy(m2m_workflow("w", "", r#""kinde.m2mToken": {}"#, r#"  kinde.m2mToken.setCustomClaim("fast", true);"#), 1000)
        .await;
    let started = std::time::Instant::now();
    let token = stack.m2m_token(&client_id, &client_secret, "acme").await.expect("the new version issues a token");
    let waited = started.elapsed();
    let claims = stack.verify(token["access_token"].as_str().unwrap(), "acme").await.unwrap();
    assert_eq!(claims["fast"], true, "the new version ran");
    // NOTE: a bound, not a speed claim. At most the two runs already spinning are waited for
    // (1 s); the stale runs behind them, had they been kept, would be 4 s more.
    assert!(waited < Duration::from_millis(2500), "the next request waited {waited:?} behind stale runs");
}
