//! Every client-authentication failure gets its RFC 6749 error, and nothing is issued.

use claimflow_e2e::{m2m_workflow, Stack};
use serde_json::Value;

async fn refused(stack: &Stack, form: &[(&str, &str)]) -> (u16, Value) {
    let response = stack.token_request(form).await;
    let status = response.status().as_u16();
    let body: Value = response.json().await.unwrap();
    assert!(body.get("access_token").is_none(), "a token was issued: {body}");
    (status, body)
}

/// A stack with a workflow deployed, so a refused request that reached it would leave a run.
async fn stack_with_workflow() -> (Stack, String, String) {
    let stack = Stack::start().await;
    let (client_id, client_secret) = stack.m2m_client_for("acme").await;
    let workflow = m2m_workflow("w", "", r#""kinde.m2mToken": {}"#, r#"  kinde.m2mToken.setCustomClaim("x", 1);"#);
    let (status, body) = stack.deploy(&[("kindeSrc/environment/workflows/w/Workflow.ts", &workflow)]).await;
    assert_eq!(status, 200, "{body}");
    (stack, client_id, client_secret)
}

#[tokio::test]
async fn wrong_secret_is_invalid_client_401() {
    let (stack, client_id, _) = stack_with_workflow().await;
    let (status, body) = refused(
        &stack,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", &client_id),
            ("client_secret", "wrong"),
            ("audience", "acme"),
        ],
    )
    .await;
    assert_eq!((status, body["error"].as_str().unwrap()), (401, "invalid_client"));
    assert!(stack.runs().await.is_empty(), "no workflow may run for a refused client");
}

#[tokio::test]
async fn unknown_client_is_invalid_client_401() {
    let (stack, _, client_secret) = stack_with_workflow().await;
    let (status, body) = refused(
        &stack,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", "nobody"),
            ("client_secret", &client_secret),
            ("audience", "acme"),
        ],
    )
    .await;
    assert_eq!((status, body["error"].as_str().unwrap()), (401, "invalid_client"));
}

#[tokio::test]
async fn wrong_basic_credentials_get_a_basic_challenge() {
    let (stack, client_id, _) = stack_with_workflow().await;
    let response = stack
        .http
        .post(stack.url("/oauth2/token"))
        .basic_auth(&client_id, Some("wrong"))
        .form(&[("grant_type", "client_credentials"), ("audience", "acme")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    assert!(response.headers()["www-authenticate"].to_str().unwrap().starts_with("Basic"));
}

#[tokio::test]
async fn missing_grant_type_is_invalid_request() {
    let (stack, client_id, client_secret) = stack_with_workflow().await;
    let (status, body) =
        refused(&stack, &[("client_id", &client_id), ("client_secret", &client_secret), ("audience", "acme")]).await;
    assert_eq!((status, body["error"].as_str().unwrap()), (400, "invalid_request"));
    assert!(body["error_description"].as_str().unwrap().contains("grant_type"));
}

#[tokio::test]
async fn unknown_grant_type_is_unsupported_grant_type() {
    let (stack, client_id, client_secret) = stack_with_workflow().await;
    let (status, body) = refused(
        &stack,
        &[
            ("grant_type", "password"),
            ("client_id", &client_id),
            ("client_secret", &client_secret),
            ("audience", "acme"),
        ],
    )
    .await;
    assert_eq!((status, body["error"].as_str().unwrap()), (400, "unsupported_grant_type"));
}

#[tokio::test]
async fn missing_audience_is_invalid_request_naming_it() {
    let (stack, client_id, client_secret) = stack_with_workflow().await;
    let (status, body) = refused(
        &stack,
        &[("grant_type", "client_credentials"), ("client_id", &client_id), ("client_secret", &client_secret)],
    )
    .await;
    assert_eq!((status, body["error"].as_str().unwrap()), (400, "invalid_request"));
    assert!(body["error_description"].as_str().unwrap().contains("audience"));
}

#[tokio::test]
async fn unknown_audience_is_invalid_target() {
    let (stack, client_id, client_secret) = stack_with_workflow().await;
    let (status, body) = refused(
        &stack,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", &client_id),
            ("client_secret", &client_secret),
            ("audience", "nope"),
        ],
    )
    .await;
    assert_eq!((status, body["error"].as_str().unwrap()), (400, "invalid_target"));
}

#[tokio::test]
async fn audience_the_application_is_not_authorized_for_is_access_denied() {
    let (stack, client_id, client_secret) = stack_with_workflow().await;
    // A second API that exists but the application was never authorized for.
    stack.m2m_client_for("billing").await;
    let (status, body) = refused(
        &stack,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", &client_id),
            ("client_secret", &client_secret),
            ("audience", "billing"),
        ],
    )
    .await;
    assert_eq!((status, body["error"].as_str().unwrap()), (403, "access_denied"));
    assert!(stack.runs().await.is_empty());
}

#[tokio::test]
async fn repeated_parameter_is_invalid_request() {
    let (stack, client_id, client_secret) = stack_with_workflow().await;
    let (status, body) = refused(
        &stack,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", &client_id),
            ("client_secret", &client_secret),
            ("audience", "acme"),
            ("audience", "other"),
        ],
    )
    .await;
    assert_eq!((status, body["error"].as_str().unwrap()), (400, "invalid_request"));
}
