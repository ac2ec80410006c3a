//! The token path reads from memory, and every management change reaches it on every replica:
//! at once on the replica that made the change, within a second on the others.

use std::time::{Duration, Instant};

use claimflow_e2e::{m2m_workflow, Stack};
use reqwest::Method;
use serde_json::{json, Value};

const FILE: &str = "kindeSrc/environment/workflows/stamp/Workflow.ts";

fn stamping(version: u32) -> String {
    m2m_workflow(
        "stamp",
        "",
        r#""kinde.m2mToken": {}"#,
        &format!("  kinde.m2mToken.setCustomClaim(\"stamp\", {version});"),
    )
}

/// A client_credentials request to one replica: the token's claims, or the error status.
async fn token_from(stack: &Stack, url: &str, client_id: &str, secret: &str) -> Result<Value, u16> {
    let form = [
        ("grant_type", "client_credentials"),
        ("client_id", client_id),
        ("client_secret", secret),
        ("audience", "acme"),
    ];
    let response = stack.http.post(format!("{url}/oauth2/token")).form(&form).send().await.unwrap();
    let status = response.status().as_u16();
    let body: Value = response.json().await.unwrap();
    if status != 200 {
        return Err(status);
    }
    Ok(stack.verify(body["access_token"].as_str().unwrap(), "acme").await.unwrap())
}

/// Polls `url` until `check` holds on what it answers; the change must arrive within a second.
async fn within_a_second(
    stack: &Stack,
    url: &str,
    client_id: &str,
    secret: &str,
    what: &str,
    check: impl Fn(&Result<Value, u16>) -> bool,
) {
    let started = Instant::now();
    loop {
        let answer = token_from(stack, url, client_id, secret).await;
        if check(&answer) {
            return;
        }
        assert!(started.elapsed() < Duration::from_secs(1), "{what}: still {answer:?} after a second on {url}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn every_management_change_reaches_the_token_path_of_every_replica() {
    let stack = Stack::start().await;
    let other = stack.add_auth_service().await;
    let (client_id, secret) = stack.m2m_client_for("acme").await;
    let stamp = |answer: &Result<Value, u16>| answer.as_ref().ok().map(|claims| claims["stamp"].clone());

    // Both replicas cache "no workflow" first.
    for url in [stack.issuer.as_str(), other.url.as_str()] {
        assert_eq!(stamp(&token_from(&stack, url, &client_id, &secret).await), Some(Value::Null));
    }

    // A deploy through the first replica.
    assert_eq!(stack.deploy(&[(FILE, &stamping(1))]).await.0, 200);
    assert_eq!(stamp(&token_from(&stack, &stack.issuer, &client_id, &secret).await), Some(json!(1)), "at once here");
    within_a_second(&stack, &other.url, &client_id, &secret, "deploy", |a| stamp(a) == Some(json!(1))).await;

    // A second version, then a rollback to the first.
    assert_eq!(stack.deploy(&[(FILE, &stamping(2))]).await.0, 200);
    within_a_second(&stack, &other.url, &client_id, &secret, "redeploy", |a| stamp(a) == Some(json!(2))).await;
    let (status, body) =
        stack.management(Method::POST, "workflows/stamp/rollback", Some(json!({ "version": 1 }))).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(stamp(&token_from(&stack, &stack.issuer, &client_id, &secret).await), Some(json!(1)));
    within_a_second(&stack, &other.url, &client_id, &secret, "rollback", |a| stamp(a) == Some(json!(1))).await;

    // The workflow deleted: it stops running everywhere.
    assert_eq!(stack.management(Method::DELETE, "workflows/stamp", None).await.0, 200);
    assert_eq!(stamp(&token_from(&stack, &stack.issuer, &client_id, &secret).await), Some(Value::Null));
    within_a_second(&stack, &other.url, &client_id, &secret, "delete", |a| stamp(a) == Some(Value::Null)).await;

    // A rotated secret: the old one stops working everywhere, the new one works.
    let (status, rotated) =
        stack.management(Method::POST, &format!("applications/{client_id}/rotate_secret"), None).await;
    assert_eq!(status, 200, "{rotated}");
    let new_secret = rotated["application"]["client_secret"].as_str().unwrap().to_owned();
    assert_eq!(token_from(&stack, &stack.issuer, &client_id, &secret).await.unwrap_err(), 401);
    within_a_second(&stack, &other.url, &client_id, &secret, "old secret", |a| a == &Err(401)).await;
    assert!(token_from(&stack, &other.url, &client_id, &new_secret).await.is_ok());

    // The application deleted: no token for it anywhere.
    assert_eq!(stack.management(Method::DELETE, &format!("applications/{client_id}"), None).await.0, 200);
    assert_eq!(token_from(&stack, &stack.issuer, &client_id, &new_secret).await.unwrap_err(), 401);
    within_a_second(&stack, &other.url, &client_id, &new_secret, "deleted app", |a| a == &Err(401)).await;
    other.stop.cancel();
}
