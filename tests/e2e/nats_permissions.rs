//! The shipped NATS permissions (`deploy/nats/nats.conf`): every service can do its job, and a
//! worker's credentials cannot get a token signed or read other services' replies.

use std::time::Duration;

use claimflow_e2e::{m2m_workflow, Stack, StackOptions};

use crate::signing::kid_of;
use futures::StreamExt;

async fn connect_as(stack: &Stack, user: &str, password: &str) -> async_nats::Client {
    async_nats::ConnectOptions::with_user_and_password(user.into(), password.into())
        .custom_inbox_prefix(format!("_INBOX_{user}"))
        .connect(stack.nats.as_ref().unwrap().url())
        .await
        .expect("the user connects")
}

#[tokio::test]
async fn with_per_service_users_a_token_with_a_workflow_is_issued() {
    let stack = Stack::start_with(StackOptions { secured_nats: true, ..StackOptions::default() }).await;
    let (client_id, client_secret) = stack.m2m_client_for("acme").await;
    let workflow = m2m_workflow("w", "", r#""kinde.m2mToken": {}"#, r#"  kinde.m2mToken.setCustomClaim("ok", true);"#);
    assert_eq!(stack.deploy(&[("kindeSrc/environment/workflows/w/Workflow.ts", &workflow)]).await.0, 200);
    let token = stack.m2m_token(&client_id, &client_secret, "acme").await.expect("token issued");
    let claims = stack.verify(token["access_token"].as_str().unwrap(), "acme").await.unwrap();
    assert_eq!(claims["ok"], true);
}

#[tokio::test]
async fn a_workers_credentials_cannot_ask_the_signer_for_a_token() {
    let stack = Stack::start_with(StackOptions { secured_nats: true, ..StackOptions::default() }).await;
    let worker = connect_as(&stack, "workflow-worker", "worker-secret").await;
    let request = claimflow_e2e::forged_issue_request();
    let result = claimflow_platform::nats::request(&worker, &stack.prefix, &request, Duration::from_millis(500)).await;
    assert!(result.is_err(), "a worker got a token signed: {result:?}");

    // The same request with auth-service's credentials is answered: the refusal above is the
    // permission, not a missing signer.
    let auth = connect_as(&stack, "auth-service", "auth-secret").await;
    let signed = claimflow_platform::nats::request(&auth, &stack.prefix, &request, Duration::from_secs(2)).await;
    assert!(signed.is_ok(), "{signed:?}");

    // Nor can it reach the key commands (list, rotate, revoke), which auth-service can.
    let list = claimflow_contracts::signer::KeyCommand::List;
    let result = claimflow_platform::nats::request(&worker, &stack.prefix, &list, Duration::from_millis(500)).await;
    assert!(result.is_err(), "a worker reached the key commands: {result:?}");
    let listed = claimflow_platform::nats::request(&auth, &stack.prefix, &list, Duration::from_secs(2)).await;
    assert_eq!(listed.expect("auth-service lists the keys").len(), 1);
}

#[tokio::test]
async fn a_workers_credentials_cannot_listen_to_signer_requests_or_other_replies() {
    let stack = Stack::start_with(StackOptions { secured_nats: true, ..StackOptions::default() }).await;
    let worker = connect_as(&stack, "workflow-worker", "worker-secret").await;
    let auth = connect_as(&stack, "auth-service", "auth-secret").await;

    // Signing requests: published by auth-service, never delivered to a worker.
    let mut requests = worker.subscribe("claimflow.signer.v1.issue").await.expect("subscribe is sent");
    auth.publish("claimflow.signer.v1.issue", "probe".into()).await.unwrap();
    auth.flush().await.unwrap();
    let delivered = tokio::time::timeout(Duration::from_millis(300), requests.next()).await;
    assert!(!matches!(delivered, Ok(Some(_))), "a worker received a signing request");

    // Replies to auth-service (signed tokens travel there): auth-service gets the signer's
    // answer, a worker listening on its inbox gets nothing.
    let mut replies = worker.subscribe("_INBOX_auth-service.>").await.expect("subscribe is sent");
    worker.flush().await.unwrap();
    let keys = claimflow_platform::nats::request(
        &auth,
        &stack.prefix,
        &claimflow_contracts::signer::JwksRequest {},
        Duration::from_secs(2),
    )
    .await;
    assert!(keys.is_ok(), "auth-service must get its reply: {keys:?}");
    let delivered = tokio::time::timeout(Duration::from_millis(300), replies.next()).await;
    assert!(!matches!(delivered, Ok(Some(_))), "a worker read a reply meant for auth-service");

    // And wrong passwords are refused outright.
    let refused = async_nats::ConnectOptions::with_user_and_password("signer".into(), "guess".into())
        .connect(stack.nats.as_ref().unwrap().url())
        .await;
    assert!(refused.is_err());
}

/// On the shipped permissions too, a key change reaches every signer (its notice, and the
/// acknowledgements the revocation waits for): each token after a revocation, whichever of the
/// two signers signs it, has the new key and verifies.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_per_service_users_a_revoked_key_signs_nothing_on_any_signer() {
    let stack = Stack::start_with(StackOptions { secured_nats: true, ..StackOptions::default() }).await;
    let (client_id, client_secret) = stack.m2m_client_for("acme").await;
    let second_dir = tempfile::tempdir().unwrap();
    let (stop_second, second) = stack.add_signer(second_dir.path());
    tokio::time::sleep(Duration::from_millis(500)).await;
    let token = || async {
        let token = stack.m2m_token(&client_id, &client_secret, "acme").await.expect("a token");
        token["access_token"].as_str().unwrap().to_owned()
    };
    let mut signing = kid_of(&token().await);
    for _ in 0..3 {
        let (status, body) = stack.management(reqwest::Method::DELETE, &format!("signing_keys/{signing}"), None).await;
        assert_eq!(status, 200, "{body}");
        let revoked = std::mem::take(&mut signing);
        for _ in 0..10 {
            let token = token().await;
            let kid = kid_of(&token);
            assert_ne!(kid, revoked, "a signer signed with a key revoked before the request");
            stack.verify(&token, "acme").await.expect("verifies through the JWKS");
            signing = kid;
        }
    }
    stop_second.cancel();
    second.await.unwrap().unwrap();
}
