//! On a cluster of 3 nats-servers: tokens with workflows, the records stream kept 3 times, the
//! shipped permissions on every node, and services that move to another server when theirs dies.
//! (The reliability suite kills every kind of process under load: `scripts/chaos --cluster`.)

use std::time::Duration;

use claimflow_e2e::{m2m_workflow, Stack, StackOptions};
use claimflow_platform::nats_server::NatsServer;
use serde_json::Value;

fn cluster_options(secured: bool) -> StackOptions {
    StackOptions { nats_cluster: true, secured_nats: secured, ..StackOptions::default() }
}

/// Every server of the stack's cluster, the first one included.
fn nodes(stack: &Stack) -> Vec<&NatsServer> {
    stack.nats.iter().chain(stack.nats_peers.iter().flatten()).collect()
}

/// The names of the client connections a server holds (its `/connz` monitoring page).
async fn connections(stack: &Stack, node: &NatsServer) -> Vec<String> {
    let url = format!("{}/connz", node.monitor_url().expect("a cluster node has a monitoring port"));
    let page: Value = stack.http.get(url).send().await.unwrap().json().await.unwrap();
    page["connections"].as_array().into_iter().flatten().filter_map(|c| c["name"].as_str().map(str::to_owned)).collect()
}

async fn connect_to(node: &NatsServer, user: &str, password: &str) -> async_nats::Client {
    async_nats::ConnectOptions::with_user_and_password(user.into(), password.into())
        .custom_inbox_prefix(format!("_INBOX_{user}"))
        .connect(node.url())
        .await
        .expect("the user connects to this node")
}

async fn deploy_stamp(stack: &Stack) -> (String, String) {
    let (client_id, client_secret) = stack.m2m_client_for("acme").await;
    let workflow =
        m2m_workflow("w", "", r#""kinde.m2mToken": {}"#, r#"  kinde.m2mToken.setCustomClaim("cluster", true);"#);
    assert_eq!(stack.deploy(&[("kindeSrc/environment/workflows/w/Workflow.ts", &workflow)]).await.0, 200);
    (client_id, client_secret)
}

#[tokio::test]
async fn on_a_secured_cluster_tokens_flow_records_are_kept_three_times_and_every_node_holds_the_permissions() {
    let stack = Stack::start_with(cluster_options(true)).await;
    let (client_id, client_secret) = deploy_stamp(&stack).await;
    let token = stack.m2m_token(&client_id, &client_secret, "acme").await.expect("token issued");
    let claims = stack.verify(token["access_token"].as_str().unwrap(), "acme").await.unwrap();
    assert_eq!(claims["cluster"], true);

    // The records stream (every token's audit) is kept on all three servers.
    let auth = connect_to(nodes(&stack)[0], "auth-service", "auth-secret").await;
    let mut stream = async_nats::jetstream::new(auth)
        .get_stream(claimflow_contracts::records::stream_name(&stack.prefix))
        .await
        .expect("the records stream exists");
    let info = stream.info().await.expect("stream info");
    assert_eq!(info.config.num_replicas, 3);
    let cluster = info.cluster.as_ref().expect("a clustered stream");
    assert!(cluster.leader.is_some(), "{cluster:?}");
    assert_eq!(cluster.replicas.len(), 2, "a leader and two replicas: {cluster:?}");

    // Whichever server a client reaches, a worker's credentials cannot get a token signed and
    // auth-service's can (the signer may sit on another server: requests cross the routes).
    let request = claimflow_e2e::forged_issue_request();
    for (i, node) in nodes(&stack).into_iter().enumerate() {
        let worker = connect_to(node, "workflow-worker", "worker-secret").await;
        let forged =
            claimflow_platform::nats::request(&worker, &stack.prefix, &request, Duration::from_millis(500)).await;
        assert!(forged.is_err(), "on node {i}, a worker got a token signed: {forged:?}");
        let auth = connect_to(node, "auth-service", "auth-secret").await;
        let signed = claimflow_platform::nats::request(&auth, &stack.prefix, &request, Duration::from_secs(2)).await;
        assert!(signed.is_ok(), "on node {i}: {signed:?}");
        let refused = async_nats::ConnectOptions::with_user_and_password("signer".into(), "guess".into())
            .connect(node.url())
            .await;
        assert!(refused.is_err(), "node {i} let a wrong password in");
    }
}

#[tokio::test]
async fn when_the_server_auth_service_uses_dies_every_service_moves_on_and_no_token_fails() {
    let mut stack = Stack::start_with(cluster_options(false)).await;
    let (client_id, client_secret) = deploy_stamp(&stack).await;
    stack.m2m_token(&client_id, &client_secret, "acme").await.expect("a token before the kill");

    // The server auth-service is connected to (it may hold the signer and the worker too).
    let mut victim = None;
    for (i, node) in nodes(&stack).into_iter().enumerate() {
        if connections(&stack, node).await.iter().any(|name| name == "auth-service") {
            victim = Some(i);
        }
    }
    let victim = victim.expect("auth-service is connected to one of the servers");
    let node = if victim == 0 { stack.nats.take() } else { stack.nats_peers[victim - 1].take() };
    node.expect("the node runs").kill().await;

    // Requests made right after the kill wait for the move (milliseconds), none fails.
    for i in 0..30 {
        let token = stack.m2m_token(&client_id, &client_secret, "acme").await;
        let token = token.unwrap_or_else(|err| panic!("token {i} after the kill failed: {err:?}"));
        let claims = stack.verify(token["access_token"].as_str().unwrap(), "acme").await.unwrap();
        assert_eq!(claims["cluster"], true, "token {i} ran the workflow");
    }
    // Every service is on one of the two servers left.
    let mut names = Vec::new();
    for node in nodes(&stack) {
        names.extend(connections(&stack, node).await);
    }
    for service in ["auth-service", "signer", "workflow-worker"] {
        assert!(names.iter().any(|name| name == service), "{service} is not connected: {names:?}");
    }
    // The records of those tokens are stored (the stream's leader may have been the dead one).
    stack.records_written().await;
    let (status, audit) =
        stack.management(reqwest::Method::GET, &format!("audit/tokens?client_id={client_id}"), None).await;
    assert_eq!(status, 200, "{audit}");
    assert_eq!(audit["tokens"].as_array().map(Vec::len), Some(31), "{audit}");
}

#[tokio::test]
async fn with_two_of_three_servers_gone_tokens_are_still_issued_and_audited() {
    let mut stack = Stack::start_with(cluster_options(false)).await;
    let (client_id, client_secret) = deploy_stamp(&stack).await;
    stack.m2m_token(&client_id, &client_secret, "acme").await.expect("a token before the kills");
    stack.records_written().await;

    // One server left: core NATS works on it, JetStream has no majority and takes no records.
    stack.nats.take().expect("the first node runs").kill().await;
    stack.nats_peers[0].take().expect("the second node runs").kill().await;
    for i in 0..10 {
        let token = stack.m2m_token(&client_id, &client_secret, "acme").await;
        let token = token.unwrap_or_else(|err| panic!("token {i} with one server left failed: {err:?}"));
        stack.verify(token["access_token"].as_str().unwrap(), "acme").await.unwrap();
    }
    // Their records went to the database directly: the audit has every token.
    let (status, audit) =
        stack.management(reqwest::Method::GET, &format!("audit/tokens?client_id={client_id}"), None).await;
    assert_eq!(status, 200, "{audit}");
    assert_eq!(audit["tokens"].as_array().map(Vec::len), Some(11), "{audit}");
}

#[tokio::test]
async fn a_sign_in_spread_over_two_auth_service_replicas_works_and_their_throttling_is_one() {
    use claimflow_e2e::{pkce, Browser};
    let stack = Stack::start_with(cluster_options(false)).await;
    let other = stack.add_auth_service().await;
    let on_other = |url: String| url.replacen(&stack.issuer, &other.url, 1);
    stack.user_with_password("ada@example.com", "Ada", "Lovelace", "correct horse 1").await;
    let app = stack.web_app("reg").await;

    // The login page from one replica, its form (CSRF token, sign-in state) posted to the other.
    let browser = Browser::default();
    let (verifier, challenge) = pkce();
    let params = [
        ("scope", "openid offline"),
        ("state", "st-1"),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
    ];
    let page = browser.get(&stack.authorize_url(&app, &params)).await;
    assert_eq!(page.status, 200, "{}", page.body);
    let mut form = page.hidden_fields();
    form.push(("email".into(), "ada@example.com".into()));
    form.push(("password".into(), "correct horse 1".into()));
    let answer = browser.post(&on_other(stack.url("/oauth2/auth")), &form).await;
    assert_eq!(answer.status, 303, "{}", answer.body);
    let code = answer.param("code").expect("a code");

    // The code is exchanged at the first replica, the refresh token used at the second.
    let (status, tokens) = stack.exchange_code(&app, &code, &verifier).await;
    assert_eq!(status, 200, "{tokens}");
    let refreshed = stack
        .http
        .post(format!("{}/oauth2/token", other.url))
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", tokens["refresh_token"].as_str().unwrap()),
            ("client_id", &app.client_id),
            ("client_secret", app.client_secret.as_deref().unwrap()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(refreshed.status(), 200, "{}", refreshed.text().await.unwrap());

    // The session made at the second replica signs in silently at the first.
    let silent = browser
        .get(&stack.authorize_url(
            &app,
            &[("prompt", "none"), ("code_challenge", &challenge), ("code_challenge_method", "S256")],
        ))
        .await;
    assert_eq!(silent.status, 302, "{}", silent.body);
    assert!(silent.param("code").is_some(), "{:?}", silent.location);

    // Wrong passwords sent to both replicas count together: five lock the account on both.
    let intruder = Browser::default();
    let page = intruder.get(&stack.authorize_url(&app, &params)).await;
    for i in 0..5 {
        let mut form = page.hidden_fields();
        form.push(("email".into(), "ada@example.com".into()));
        form.push(("password".into(), "guess".into()));
        let url = if i % 2 == 0 { stack.url("/oauth2/auth") } else { on_other(stack.url("/oauth2/auth")) };
        assert_eq!(intruder.post(&url, &form).await.status, 401);
    }
    for url in [stack.url("/oauth2/auth"), on_other(stack.url("/oauth2/auth"))] {
        let mut form = page.hidden_fields();
        form.push(("email".into(), "ada@example.com".into()));
        form.push(("password".into(), "correct horse 1".into()));
        let locked = intruder.post(&url, &form).await;
        assert_eq!(locked.status, 429, "{url}: {}", locked.body);
    }
}
