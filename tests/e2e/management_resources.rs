//! The management API's resources: scopes per route, pagination, write-only secrets, updates and
//! deletes that leave nothing half-done.

use claimflow_e2e::{m2m_workflow, Stack};
use reqwest::Method;
use serde_json::{json, Value};

async fn call(stack: &Stack, token: &str, method: Method, path: &str, body: Option<Value>) -> (u16, Value) {
    let mut request = stack.http.request(method, stack.url(&format!("/api/v1/{path}"))).bearer_auth(token);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    (response.status().as_u16(), response.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn each_route_needs_its_scope_and_a_refusal_names_it() {
    let stack = Stack::start().await;
    let (id, secret) = stack.management_client_with_scopes(&["read:applications"]).await;
    let audience = format!("{}/api", stack.issuer);
    let token = stack.m2m_token(&id, &secret, &audience).await.unwrap()["access_token"].as_str().unwrap().to_owned();
    assert_eq!(call(&stack, &token, Method::GET, "applications", None).await.0, 200);
    let (status, body) =
        call(&stack, &token, Method::POST, "applications", Some(json!({ "name": "x", "type": "m2m" }))).await;
    assert_eq!(status, 403);
    assert_eq!(body["errors"][0]["code"], "INSUFFICIENT_SCOPE");
    assert!(body["errors"][0]["message"].as_str().unwrap().contains("create:applications"), "{body}");
    let (status, body) = call(&stack, &token, Method::GET, "environment_variables", None).await;
    assert_eq!(status, 403);
    assert!(body["errors"][0]["message"].as_str().unwrap().contains("read:environment_variables"));
    // Asking for a scope the application was not granted is refused at the token endpoint.
    let response = stack
        .token_request(&[
            ("grant_type", "client_credentials"),
            ("client_id", &id),
            ("client_secret", &secret),
            ("audience", &audience),
            ("scope", "delete:applications"),
        ])
        .await;
    assert_eq!(response.status(), 400);
    assert_eq!(response.json::<Value>().await.unwrap()["error"], "invalid_scope");
}

#[tokio::test]
async fn lists_paginate_with_page_size_and_next_token() {
    let stack = Stack::start().await;
    for n in 0..5 {
        let (status, _) = stack
            .management(Method::POST, "applications", Some(json!({ "name": format!("app {n}"), "type": "m2m" })))
            .await;
        assert_eq!(status, 200);
    }
    let mut names = Vec::new();
    let mut next: Option<String> = None;
    let mut pages = 0;
    loop {
        let path = match &next {
            Some(token) => format!("applications?page_size=2&next_token={token}"),
            None => "applications?page_size=2".to_owned(),
        };
        let (status, page) = stack.management(Method::GET, &path, None).await;
        assert_eq!(status, 200, "{page}");
        pages += 1;
        names.extend(page["applications"].as_array().unwrap().iter().map(|a| a["name"].as_str().unwrap().to_owned()));
        match page["next_token"].as_str() {
            Some(token) => next = Some(token.to_owned()),
            None => break,
        }
    }
    assert_eq!(names.len(), 6, "five applications and the admin: {names:?}");
    assert_eq!(pages, 3);
    let (status, _) = stack.management(Method::GET, "applications?page_size=2&colour=red", None).await;
    assert_eq!(status, 400, "unknown query parameters are rejected");

    // Organizations page through the database.
    for n in 0..3 {
        stack.management(Method::POST, "organization", Some(json!({ "name": format!("org {n}") }))).await;
    }
    let (_, first) = stack.management(Method::GET, "organizations?page_size=2", None).await;
    assert_eq!(first["organizations"].as_array().unwrap().len(), 2);
    let token = first["next_token"].as_str().expect("a second page");
    let (_, second) =
        stack.management(Method::GET, &format!("organizations?page_size=2&next_token={token}"), None).await;
    assert_eq!(second["organizations"].as_array().unwrap().len(), 1);
    assert_eq!(second["next_token"], Value::Null);
}

#[tokio::test]
async fn a_secret_is_write_only_encrypted_at_rest_and_limited_in_size() {
    let stack = Stack::start().await;
    let (status, created) = stack
        .management(
            Method::POST,
            "environment_variables",
            Some(json!({ "key": "CRM_KEY", "value": "sk_live_abc123", "is_secret": true })),
        )
        .await;
    assert_eq!(status, 200, "{created}");
    let id = created["environment_variable"]["id"].as_str().unwrap().to_owned();
    let (_, one) = stack.management(Method::GET, &format!("environment_variables/{id}"), None).await;
    assert_eq!(one["environment_variable"]["value"], Value::Null);
    assert_eq!(one["environment_variable"]["is_secret"], true);
    let (status, _) = stack
        .management(Method::PATCH, &format!("environment_variables/{id}"), Some(json!({ "value": "sk_live_rotated" })))
        .await;
    assert_eq!(status, 200);
    let (_, listed) = stack.management(Method::GET, "environment_variables", None).await;
    assert!(!listed.to_string().contains("sk_live"), "{listed}");

    // At rest: the database holds ciphertext.
    let store = claimflow_storage::Store::open(&stack.database_url).await.unwrap();
    let stored = store.find_environment_variable(&id).await.unwrap().unwrap();
    assert!(!stored.value.contains("sk_live"), "stored in clear: {}", stored.value);

    let (status, body) = stack
        .management(Method::PATCH, &format!("environment_variables/{id}"), Some(json!({ "is_secret": false })))
        .await;
    assert_eq!(status, 400, "{body}");
    let (status, body) = stack
        .management(Method::POST, "environment_variables", Some(json!({ "key": "BIG", "value": "x".repeat(3000) })))
        .await;
    assert_eq!(status, 400);
    assert!(body["errors"][0]["message"].as_str().unwrap().contains("2048"), "{body}");
    assert_eq!(stack.management(Method::DELETE, &format!("environment_variables/{id}"), None).await.0, 200);
    assert_eq!(stack.management(Method::GET, &format!("environment_variables/{id}"), None).await.0, 404);
}

#[tokio::test]
async fn updates_and_deletes_of_applications_apis_properties_and_organizations() {
    let stack = Stack::start().await;
    let (client_id, client_secret) = stack.m2m_client_for("acme").await;
    let (status, _) =
        stack.management(Method::PATCH, &format!("applications/{client_id}"), Some(json!({ "name": "renamed" }))).await;
    assert_eq!(status, 200);
    let (_, app) = stack.management(Method::GET, &format!("applications/{client_id}"), None).await;
    assert_eq!(app["application"]["name"], "renamed");

    // A scope created on the API, granted, shows in the token.
    let (_, apis) = stack.management(Method::GET, "apis", None).await;
    let api_id = apis["apis"].as_array().unwrap().iter().find(|a| a["audience"] == "acme").unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (status, scope) =
        stack.management(Method::POST, &format!("apis/{api_id}/scopes"), Some(json!({ "key": "read:orders" }))).await;
    assert_eq!(status, 200, "{scope}");
    let scope_id = scope["scope"]["id"].as_str().unwrap();
    let (status, _) = stack
        .management(Method::POST, &format!("apis/{api_id}/applications/{client_id}/scopes/{scope_id}"), None)
        .await;
    assert_eq!(status, 200);
    let token = stack.m2m_token(&client_id, &client_secret, "acme").await.unwrap();
    let claims = stack.verify(token["access_token"].as_str().unwrap(), "acme").await.unwrap();
    assert_eq!(claims["scp"], json!(["read:orders"]));
    assert_eq!(claims["scope"], "read:orders");

    let (status, property) = stack
        .management(Method::POST, "properties", Some(json!({ "name": "Tier", "key": "tier", "type": "single_line_text", "context": "app", "is_private": false })))
        .await;
    assert_eq!(status, 200);
    let property_id = property["property"]["id"].as_str().unwrap().to_owned();
    assert_eq!(
        stack
            .management(Method::PUT, &format!("properties/{property_id}"), Some(json!({ "name": "Plan tier" })))
            .await
            .0,
        200
    );
    let (_, properties) = stack.management(Method::GET, "properties", None).await;
    assert_eq!(properties["properties"][0]["name"], "Plan tier");
    assert_eq!(stack.management(Method::DELETE, &format!("properties/{property_id}"), None).await.0, 200);

    let (_, org) = stack.management(Method::POST, "organization", Some(json!({ "name": "Initech" }))).await;
    let code = org["organization"]["code"].as_str().unwrap().to_owned();
    assert_eq!(
        stack.management(Method::PATCH, &format!("organization/{code}"), Some(json!({ "name": "Initrode" }))).await.0,
        200
    );
    let (_, read) = stack.management(Method::GET, &format!("organization?code={code}"), None).await;
    assert_eq!(read["name"], "Initrode");
    assert_eq!(stack.management(Method::DELETE, &format!("organization/{code}"), None).await.0, 200);
    assert_eq!(stack.management(Method::GET, &format!("organization?code={code}"), None).await.0, 404);

    // Deleting the application revokes it everywhere; the API goes with its scopes.
    assert_eq!(stack.management(Method::DELETE, &format!("applications/{client_id}"), None).await.0, 200);
    let (status, body) = stack.m2m_token(&client_id, &client_secret, "acme").await.expect_err("deleted");
    assert_eq!((status, body["error"].as_str().unwrap()), (401, "invalid_client"));
    assert_eq!(stack.management(Method::DELETE, &format!("apis/{api_id}"), None).await.0, 200);
    assert_eq!(stack.management(Method::GET, &format!("apis/{api_id}"), None).await.0, 404);

    // What must stay, stays.
    let admin = stack.admin.client_id.clone();
    assert_eq!(stack.management(Method::DELETE, &format!("applications/{admin}"), None).await.0, 409);
    let management_api = stack.management_api_id().await;
    assert_eq!(stack.management(Method::DELETE, &format!("apis/{management_api}"), None).await.0, 409);
}

#[tokio::test]
async fn regular_and_single_page_applications_with_redirect_urls_and_secret_rotation() {
    let stack = Stack::start().await;
    let (_, reg) = stack.management(Method::POST, "applications", Some(json!({ "name": "web", "type": "reg" }))).await;
    let reg_id = reg["application"]["id"].as_str().unwrap().to_owned();
    assert!(reg["application"]["client_secret"].as_str().is_some());
    let (_, spa) = stack.management(Method::POST, "applications", Some(json!({ "name": "spa", "type": "spa" }))).await;
    assert_eq!(spa["application"]["client_secret"], Value::Null, "a SPA is a public client");
    let (status, _) =
        stack.management(Method::POST, "applications", Some(json!({ "name": "tv", "type": "device" }))).await;
    assert_eq!(status, 400);

    let urls = format!("applications/{reg_id}/auth_redirect_urls");
    let add = json!({ "urls": ["https://app.example/callback", "http://localhost:3000/callback"] });
    assert_eq!(stack.management(Method::POST, &urls, Some(add)).await.0, 200);
    let (_, listed) = stack.management(Method::GET, &urls, None).await;
    assert_eq!(listed["redirect_urls"], json!(["http://localhost:3000/callback", "https://app.example/callback"]));
    for bad in ["http://app.example/callback", "https://app.example/cb#frag", "not a url"] {
        let (status, body) = stack.management(Method::POST, &urls, Some(json!({ "urls": [bad] }))).await;
        assert_eq!(status, 400, "{bad} accepted: {body}");
        assert!(body["errors"][0]["message"].as_str().unwrap().contains("urls[0]"));
    }
    assert_eq!(stack.management(Method::PUT, &urls, Some(json!({ "urls": ["https://new.example/cb"] }))).await.0, 200);
    assert_eq!(stack.management(Method::GET, &urls, None).await.1["redirect_urls"], json!(["https://new.example/cb"]));
    let (status, _) = stack.management(Method::DELETE, &format!("{urls}?urls=https://new.example/cb"), None).await;
    assert_eq!(status, 200);
    assert_eq!(stack.management(Method::GET, &urls, None).await.1["redirect_urls"], json!([]));
    let (status, body) = stack.management(Method::DELETE, &urls, None).await;
    assert_eq!(status, 400, "the urls to remove are required: {body}");
    assert_eq!(body["errors"][0]["code"], "INVALID_QUERY");

    // Rotation: the new secret works at once, the old one no longer does.
    let (client_id, old_secret) = stack.m2m_client_for("acme").await;
    let (status, rotated) =
        stack.management(Method::POST, &format!("applications/{client_id}/rotate_secret"), None).await;
    assert_eq!(status, 200, "{rotated}");
    let new_secret = rotated["application"]["client_secret"].as_str().unwrap();
    assert_ne!(new_secret, old_secret);
    assert!(stack.m2m_token(&client_id, new_secret, "acme").await.is_ok());
    assert_eq!(stack.m2m_token(&client_id, &old_secret, "acme").await.unwrap_err().0, 401);
}

#[tokio::test]
async fn concurrent_writes_end_in_success_or_a_409_never_a_500() {
    let stack = Stack::start().await;
    let creates: [(&str, Value); 4] = [
        ("apis", json!({ "name": "Race", "audience": "race" })),
        ("properties", json!({ "name": "Race", "key": "race", "context": "org" })),
        ("environment_variables", json!({ "key": "RACE", "value": "1" })),
        (
            "user",
            json!({ "profile": { "given_name": "R", "family_name": "Ace" },
                    "identities": [{ "type": "email", "details": { "email": "race@example.com" } }] }),
        ),
    ];
    for (path, body) in creates {
        let attempts = (0..8).map(|_| stack.management(Method::POST, path, Some(body.clone())));
        let statuses: Vec<u16> =
            futures::future::join_all(attempts).await.into_iter().map(|(status, _)| status).collect();
        assert_eq!(statuses.iter().filter(|status| **status == 200).count(), 1, "{path}: {statuses:?}");
        assert!(statuses.iter().all(|status| matches!(status, 200 | 409)), "{path}: {statuses:?}");
    }

    let workflow = m2m_workflow("race", "", "", "");
    let files = [("kindeSrc/environment/workflows/race/Workflow.ts", workflow.as_str())];
    let deploys = (0..8).map(|_| stack.deploy(&files));
    let answers = futures::future::join_all(deploys).await;
    assert!(answers.iter().all(|(status, _)| *status == 200), "{answers:?}");
    let mut versions: Vec<i64> =
        answers.iter().map(|(_, body)| body["deployments"][0]["version"].as_i64().unwrap()).collect();
    versions.sort();
    assert_eq!(versions, (1..=8).collect::<Vec<_>>(), "each deploy is its own version");
}
