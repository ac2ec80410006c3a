//! The OpenAPI document at `/api/v1/openapi.json` against the running server: every documented
//! operation exists, needs a bearer token, and answers with a status it documents.

use claimflow_e2e::Stack;
use serde_json::{json, Value};

#[tokio::test]
async fn every_documented_operation_answers_as_documented() {
    let stack = Stack::start().await;
    let document: Value = stack.http.get(stack.url("/api/v1/openapi.json")).send().await.unwrap().json().await.unwrap();
    assert_eq!(document["openapi"], "3.1.0");
    assert_eq!(document["servers"][0]["url"], format!("{}/api/v1", stack.issuer));
    let token = stack.management_token().await;
    let mut checked = 0;
    for (path, operations) in document["paths"].as_object().unwrap() {
        for (method, operation) in operations.as_object().unwrap() {
            let documented: Vec<u16> =
                operation["responses"].as_object().unwrap().keys().map(|s| s.parse().unwrap()).collect();
            // Path parameters that name nothing, and an empty body: the smallest request.
            let concrete = path
                .split('/')
                .map(|part| if part.starts_with('{') { "missing" } else { part })
                .collect::<Vec<_>>()
                .join("/");
            let url = stack.url(&format!("/api/v1{concrete}"));
            let method = reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let mut request = stack.http.request(method.clone(), &url);
            if operation.get("requestBody").is_some() {
                request = request.json(&json!({}));
            }
            let anonymous = request.try_clone().unwrap().send().await.unwrap();
            assert_eq!(anonymous.status(), 401, "{method} {path} without a token");
            let response = request.bearer_auth(&token).send().await.unwrap();
            let status = response.status().as_u16();
            let body: Value = response.json().await.unwrap_or(Value::Null);
            assert_ne!(body["errors"][0]["code"], "ROUTE_NOT_FOUND", "{method} {path} is documented but not served");
            assert!(
                documented.contains(&status),
                "{method} {path} answered {status}, documented {documented:?}: {body}"
            );
            if status >= 400 {
                assert!(
                    body["errors"][0]["message"].as_str().is_some_and(|m| !m.is_empty()),
                    "{method} {path}: {body}"
                );
            }
            let scope = operation["security"][0]["bearer"][0].as_str().unwrap();
            assert!(scope.contains(':'), "{method} {path} names its scope");
            checked += 1;
        }
    }
    assert!(checked >= 30, "only {checked} operations documented");
}

#[tokio::test]
async fn every_documented_operation_refuses_a_token_without_its_scope_naming_it() {
    let stack = Stack::start().await;
    let (id, secret) = stack.management_client_with_scopes(&[]).await;
    let audience = format!("{}/api", stack.issuer);
    let token = stack.m2m_token(&id, &secret, &audience).await.unwrap()["access_token"].as_str().unwrap().to_owned();
    let document: Value = stack.http.get(stack.url("/api/v1/openapi.json")).send().await.unwrap().json().await.unwrap();
    for (path, operations) in document["paths"].as_object().unwrap() {
        for (method, operation) in operations.as_object().unwrap() {
            let concrete = path
                .split('/')
                .map(|part| if part.starts_with('{') { "missing" } else { part })
                .collect::<Vec<_>>()
                .join("/");
            let method = reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let response = stack
                .http
                .request(method.clone(), stack.url(&format!("/api/v1{concrete}")))
                .bearer_auth(&token)
                .json(&json!({}))
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 403, "{method} {path} without its scope");
            let body: Value = response.json().await.unwrap();
            let scope = operation["security"][0]["bearer"][0].as_str().unwrap();
            assert!(body["errors"][0]["message"].as_str().unwrap().contains(scope), "{method} {path}: {body}");
        }
    }
}
