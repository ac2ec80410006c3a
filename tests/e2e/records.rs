//! The records of token requests (audit events, workflow runs) go through JetStream to the
//! database: none is lost when auth-service dies right after answering, and the audit API finds
//! each issued token by client, organization, time and jti.

use claimflow_e2e::{m2m_workflow, Stack};
use reqwest::Method;
use serde_json::{json, Value};

async fn audit(stack: &Stack, query: &str) -> Vec<Value> {
    stack.records_written().await;
    let (status, body) = stack.management(Method::GET, &format!("audit/tokens?{query}"), None).await;
    assert_eq!(status, 200, "{body}");
    body["tokens"].as_array().cloned().unwrap()
}

#[tokio::test]
async fn every_issued_token_has_an_audit_record_found_by_client_org_time_and_jti() {
    let stack = Stack::start().await;
    let (client_id, secret) = stack.m2m_client_for("acme").await;
    let (other_id, other_secret) = stack.m2m_client_for("globex").await;
    // The first application belongs to an organization: its org_code property goes into tokens.
    let (status, property) = stack
        .management(Method::POST, "properties", Some(json!({ "name": "Org", "key": "org_code", "context": "app" })))
        .await;
    assert_eq!(status, 200, "{property}");
    let (status, body) = stack
        .management(
            Method::PUT,
            &format!("applications/{client_id}/properties/org_code"),
            Some(json!({ "value": "org_acme" })),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = stack
        .management(
            Method::PATCH,
            &format!("applications/{client_id}/tokens"),
            Some(json!({ "token_properties": ["org_code"] })),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let workflow =
        m2m_workflow("stamp", "", r#""kinde.m2mToken": {}"#, r#"  kinde.m2mToken.setCustomClaim("stamped", true);"#);
    assert_eq!(stack.deploy(&[("kindeSrc/environment/workflows/stamp/Workflow.ts", &workflow)]).await.0, 200);

    let before = time::OffsetDateTime::now_utc() - time::Duration::seconds(1);
    let token = stack.m2m_token(&client_id, &secret, "acme").await.unwrap();
    let claims = stack.verify(token["access_token"].as_str().unwrap(), "acme").await.unwrap();
    stack.m2m_token(&other_id, &other_secret, "globex").await.unwrap();

    let by_jti = audit(&stack, &format!("jti={}", claims["jti"].as_str().unwrap())).await;
    assert_eq!(by_jti.len(), 1);
    let record = &by_jti[0];
    assert_eq!(record["client_id"], client_id.as_str());
    assert_eq!(record["grant_type"], "client_credentials");
    assert_eq!(record["audience"], json!(["acme"]));
    assert_eq!(record["org_code"], "org_acme");
    assert_eq!(record["expires_at"], claims["exp"]);
    assert_eq!(record["workflows"], json!([{ "workflow_id": "stamp", "version": 1 }]));
    assert_eq!(record["trace_id"].as_str().map(str::len), Some(32), "{record}");

    assert_eq!(audit(&stack, &format!("client_id={other_id}")).await.len(), 1);
    assert_eq!(audit(&stack, "org_code=org_acme").await.len(), 1);
    let since = before.format(&time::format_description::well_known::Rfc3339).unwrap();
    assert!(audit(&stack, &format!("since={since}")).await.len() >= 2, "both tokens are after {since}");
    assert!(audit(&stack, "until=2000-01-01T00:00:00Z").await.is_empty());
    let (status, body) = stack.management(Method::GET, "audit/tokens?since=yesterday", None).await;
    assert_eq!(status, 400, "{body}");
    assert!(body["errors"][0]["message"].as_str().unwrap().contains("since"));

    // Without the scope, the audit is closed.
    let (reader, reader_secret) = stack.management_client_with_scopes(&["read:workflows"]).await;
    let token = stack.m2m_token(&reader, &reader_secret, &format!("{}/api", stack.issuer)).await.unwrap();
    let refused = stack
        .http
        .get(stack.url("/api/v1/audit/tokens"))
        .bearer_auth(token["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 403);
    assert!(refused.text().await.unwrap().contains("read:audit"));
}

#[tokio::test]
async fn no_record_is_lost_when_auth_service_is_killed_right_after_answering() {
    let stack = Stack::start().await;
    let (client_id, secret) = stack.m2m_client_for("acme").await;
    let workflow =
        m2m_workflow("stamp", "", r#""kinde.m2mToken": {}"#, r#"  kinde.m2mToken.setCustomClaim("stamped", true);"#);
    assert_eq!(stack.deploy(&[("kindeSrc/environment/workflows/stamp/Workflow.ts", &workflow)]).await.0, 200);
    stack.records_written().await;

    // A burst against an auth-service in its own process, killed the moment the last answer came.
    let process = stack.spawn_auth_service().await;
    let form = [
        ("grant_type", "client_credentials"),
        ("client_id", &client_id),
        ("client_secret", &secret),
        ("audience", "acme"),
    ];
    let requests = (0..40).map(|_| async {
        let response = stack.http.post(format!("{}/oauth2/token", process.url)).form(&form).send().await.unwrap();
        assert_eq!(response.status(), 200);
        let body: Value = response.json().await.unwrap();
        let claims = stack.verify(body["access_token"].as_str().unwrap(), "acme").await.unwrap();
        claims["jti"].as_str().unwrap().to_owned()
    });
    let issued: Vec<String> = futures::future::join_all(requests).await;
    process.kill();

    // The surviving auth-service writes what the killed one could not.
    let audited: std::collections::BTreeSet<String> =
        audit(&stack, "page_size=500").await.iter().map(|record| record["jti"].as_str().unwrap().to_owned()).collect();
    for jti in &issued {
        assert!(audited.contains(jti), "the token {jti} has no audit record");
    }
    let runs = stack.runs().await;
    assert_eq!(runs.len(), issued.len(), "one run record per token");
    assert!(runs.iter().all(|run| run["status"] == "ok" && run["claims_set"]["m2m"]["stamped"] == true));
}

#[tokio::test]
async fn the_largest_page_still_says_another_follows() {
    let stack = Stack::start().await;
    let (client_id, client_secret) = stack.m2m_client_for("acme").await;
    for _ in 0..51 {
        let batch = (0..10).map(|_| stack.m2m_token(&client_id, &client_secret, "acme"));
        for token in futures::future::join_all(batch).await {
            token.expect("a token");
        }
    }
    stack.records_written().await;
    let (status, page) =
        stack.management(Method::GET, &format!("audit/tokens?client_id={client_id}&page_size=500"), None).await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(page["tokens"].as_array().unwrap().len(), 500);
    let next = page["next_token"].as_str().expect("510 tokens: a second page follows");
    let (_, rest) = stack
        .management(Method::GET, &format!("audit/tokens?client_id={client_id}&page_size=500&next_token={next}"), None)
        .await;
    assert_eq!(rest["tokens"].as_array().unwrap().len(), 10, "{rest}");
}
