//! The management API's guard and error shapes.

use claimflow_e2e::Stack;
use serde_json::json;

#[tokio::test]
async fn management_api_refuses_requests_without_a_bearer_token() {
    let stack = Stack::start().await;
    let response = stack.http.get(stack.url("/api/v1/apis")).send().await.unwrap();
    assert_eq!(response.status(), 401);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["errors"][0]["code"], "UNAUTHORIZED");
}

#[tokio::test]
async fn a_token_for_another_audience_is_not_a_management_token() {
    let stack = Stack::start().await;
    let (client_id, client_secret) = stack.m2m_client_for("acme").await;
    let token = stack.m2m_token(&client_id, &client_secret, "acme").await.unwrap();
    let response = stack
        .http
        .get(stack.url("/api/v1/apis"))
        .bearer_auth(token["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
}

#[tokio::test]
async fn malformed_json_and_unknown_fields_are_rejected_naming_the_problem() {
    let stack = Stack::start().await;
    let token = stack.management_token().await;
    let response = stack
        .http
        .post(stack.url("/api/v1/apis"))
        .bearer_auth(&token)
        .header("content-type", "application/json")
        .body("{\"name\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["errors"][0]["code"], "INVALID_JSON");

    let (status, body) = stack
        .management(reqwest::Method::POST, "apis", Some(json!({ "name": "a", "audience": "b", "colour": "red" })))
        .await;
    assert_eq!(status, 400);
    assert!(body["errors"][0]["message"].as_str().unwrap().contains("colour"), "{body}");

    let (status, body) = stack.management(reqwest::Method::POST, "apis", Some(json!({ "name": "a" }))).await;
    assert_eq!(status, 400);
    assert!(body["errors"][0]["message"].as_str().unwrap().contains("audience"), "{body}");
}

#[tokio::test]
async fn duplicate_audience_is_a_conflict_and_changes_nothing() {
    let stack = Stack::start().await;
    let create = json!({ "name": "Acme", "audience": "acme" });
    assert_eq!(stack.management(reqwest::Method::POST, "apis", Some(create.clone())).await.0, 200);
    let (status, body) = stack.management(reqwest::Method::POST, "apis", Some(create)).await;
    assert_eq!(status, 409, "{body}");
    let (_, list) = stack.management(reqwest::Method::GET, "apis", None).await;
    assert_eq!(list["apis"].as_array().unwrap().iter().filter(|api| api["audience"] == "acme").count(), 1);
}

#[tokio::test]
async fn authorizing_an_unknown_application_changes_nothing() {
    let stack = Stack::start().await;
    let (client_id, client_secret) = stack.m2m_client_for("acme").await;
    let (_, apis) = stack.management(reqwest::Method::GET, "apis", None).await;
    let api_id = apis["apis"].as_array().unwrap().iter().find(|a| a["audience"] == "acme").unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    // Revoke the real one and authorize a missing one in the same request: all or nothing.
    let (status, _) = stack
        .management(
            reqwest::Method::PATCH,
            &format!("apis/{api_id}/applications"),
            Some(json!({ "applications": [{ "id": client_id, "operation": "delete" }, { "id": "missing" }] })),
        )
        .await;
    assert_eq!(status, 404);
    assert!(stack.m2m_token(&client_id, &client_secret, "acme").await.is_ok(), "the revoke must not have happened");
}
