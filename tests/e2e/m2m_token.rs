//! The walking skeleton's user path: management API → deploy → token → verify with JWKS.

use claimflow_e2e::{m2m_workflow, Stack};
use serde_json::{json, Value};

#[tokio::test]
async fn m2m_token_carries_kinde_claims_and_the_workflows_claims_and_verifies_with_jwks() {
    let stack = Stack::start().await;
    let (client_id, client_secret) = stack.m2m_client_for("acme").await;
    let workflow = m2m_workflow(
        "m2mHello",
        r#"failurePolicy: { action: "stop" },"#,
        r#""kinde.m2mToken": {}"#,
        r#"  kinde.m2mToken.setCustomClaim("hello", "world");
  m2mTokenClaims().applicationId = event.context.application.clientId;
  console.log("audience", event.request.auth.audience[0]);"#,
    );
    let (status, body) = stack.deploy(&[("kindeSrc/environment/workflows/hello/Workflow.ts", &workflow)]).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["deployments"][0]["version"], 1);

    let response = stack.m2m_token(&client_id, &client_secret, "acme").await.expect("token issued");
    assert_eq!(response["token_type"], "bearer");
    assert!(response["expires_in"].as_u64().unwrap() > 0);
    assert!(response.get("scope").is_some());
    let token = response["access_token"].as_str().unwrap();
    let claims = stack.verify(token, "acme").await.expect("the token verifies against the JWKS");

    assert_eq!(claims["aud"], json!(["acme"]));
    assert_eq!(claims["azp"], client_id);
    assert_eq!(claims["gty"], json!(["client_credentials"]));
    assert_eq!(claims["iss"], stack.issuer);
    assert_eq!(claims["v"], "2");
    for name in ["exp", "iat", "jti", "scope", "scp"] {
        assert!(claims.get(name).is_some(), "claim {name} is missing: {claims}");
    }
    assert_eq!(claims["hello"], "world");
    assert_eq!(claims["applicationId"], client_id);

    let runs = stack.runs().await;
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0]["status"], "ok");
    assert_eq!(runs[0]["logs"][0]["message"], "audience acme");
    assert_eq!(runs[0]["claims_set"]["m2m"]["hello"], "world");
}

#[tokio::test]
async fn without_a_workflow_the_token_has_only_the_base_claims() {
    let stack = Stack::start().await;
    let (client_id, client_secret) = stack.m2m_client_for("acme").await;
    let response = stack.m2m_token(&client_id, &client_secret, "acme").await.expect("token issued");
    let claims = stack.verify(response["access_token"].as_str().unwrap(), "acme").await.unwrap();
    let mut names: Vec<&str> = claims.as_object().unwrap().keys().map(String::as_str).collect();
    names.sort();
    assert_eq!(names, ["aud", "azp", "exp", "gty", "iat", "iss", "jti", "scope", "scp", "v"]);
}

#[tokio::test]
async fn client_secret_basic_authentication_works() {
    let stack = Stack::start().await;
    let (client_id, client_secret) = stack.m2m_client_for("acme").await;
    let response = stack
        .http
        .post(stack.url("/oauth2/token"))
        .basic_auth(&client_id, Some(&client_secret))
        .form(&[("grant_type", "client_credentials"), ("audience", "acme")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["cache-control"], "no-store");
}

#[tokio::test]
async fn discovery_document_points_at_the_token_endpoint_and_jwks() {
    let stack = Stack::start().await;
    let document: Value =
        stack.http.get(stack.url("/.well-known/openid-configuration")).send().await.unwrap().json().await.unwrap();
    assert_eq!(document["issuer"], stack.issuer);
    assert_eq!(document["token_endpoint"], stack.url("/oauth2/token"));
    assert_eq!(document["jwks_uri"], stack.url("/.well-known/jwks.json"));
    assert!(document["grant_types_supported"].as_array().unwrap().contains(&json!("client_credentials")));
    let jwks: Value =
        stack.http.get(document["jwks_uri"].as_str().unwrap()).send().await.unwrap().json().await.unwrap();
    let key = &jwks["keys"][0];
    assert_eq!(key["kty"], "RSA");
    assert_eq!(key["alg"], "RS256");
    assert!(key["kid"].as_str().is_some_and(|kid| !kid.is_empty()));
}

#[tokio::test]
async fn management_api_is_listed_with_the_issuer_audience() {
    let stack = Stack::start().await;
    let (status, body) = stack.management(reqwest::Method::GET, "apis", None).await;
    assert_eq!(status, 200);
    let audience = format!("{}/api", stack.issuer);
    assert!(body["apis"].as_array().unwrap().iter().any(|api| api["audience"] == audience.as_str()), "{body}");
}
