//! Input meant to break the service: each gets a specific 400, and the service keeps serving.

use claimflow_e2e::{m2m_workflow, Stack};
use serde_json::{json, Value};

#[tokio::test]
async fn a_deeply_nested_workflow_gets_a_400_naming_its_line_and_auth_service_lives_on() {
    let stack = Stack::start().await;
    // Its own process: a stack overflow would abort it (and, in process, this whole test binary).
    let service = stack.spawn_auth_service().await;
    let token = stack.management_token().await;
    let path = "kindeSrc/environment/workflows/deep/Workflow.ts";
    let settings = m2m_workflow("deep", "", "", "");
    for nested in [
        format!("const x = {}1{};", "(".repeat(1600), ")".repeat(1600)),
        format!("const x = {}1{};", "[".repeat(1600), "]".repeat(1600)),
        format!("function f(x) {{ {}{} }}", "if (x) {".repeat(1600), "}".repeat(1600)),
        // Without braces: the printer's output grows with the square of the depth.
        format!("function f(x) {{ {}x; }}", "if (1) ".repeat(100_000)),
    ] {
        let source = format!("{settings}\n{nested}\n");
        let response = stack
            .http
            .post(format!("{}/api/v1/workflows/deployments", service.url))
            .bearer_auth(&token)
            .json(&json!({ "files": [{ "path": path, "content": source }] }))
            .send()
            .await
            .expect("auth-service answers instead of dying");
        assert_eq!(response.status(), 400);
        let body: Value = response.json().await.unwrap();
        let message = body["errors"][0]["message"].as_str().unwrap();
        let line = settings.lines().count() + 2;
        assert!(message.starts_with(&format!("{path}:{line}:")), "{message}");
        assert!(message.contains("nested more than 256 levels"), "{message}");
        assert_eq!(body["errors"][0]["code"], "INVALID_WORKFLOW", "a 400, not a broker error: {body}");
    }
    let health = stack.http.get(format!("{}/healthz", service.url)).send().await.unwrap();
    assert_eq!(health.status(), 200, "auth-service still serves");
}

#[tokio::test]
async fn a_nul_character_is_refused_with_a_400_in_every_surface() {
    let stack = Stack::start().await;
    let leaks = |text: &str| ["storage", "database", "UTF8", "sqlx"].iter().any(|word| text.contains(word));

    // The token endpoint: an OAuth error, unauthenticated.
    let response = stack.token_request(&[("grant_type", "client_credentials"), ("client_id", "\0")]).await;
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "invalid_request", "{body}");
    assert!(body["error_description"].as_str().unwrap().contains("NUL"), "{body}");

    // Inside HTTP Basic credentials, where it shows only once they are decoded.
    use base64::Engine;
    let basic = base64::engine::general_purpose::STANDARD.encode("a%00:b%zz");
    let response = stack
        .http
        .post(stack.url("/oauth2/token"))
        .header("authorization", format!("Basic {basic}"))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "invalid_client", "{body}");
    assert!(body["error_description"].as_str().unwrap().contains("NUL") && !leaks(&body.to_string()), "{body}");

    // The sign-in page: a page.
    let page = stack.http.get(stack.url("/oauth2/auth?client_id=%00&response_type=code")).send().await.unwrap();
    assert_eq!(page.status(), 400);
    let html = page.text().await.unwrap();
    assert!(html.contains("NUL") && !leaks(&html), "{html}");

    // The management API, with `\u0000` in JSON and `%00` in a path.
    let (status, body) = stack
        .management(reqwest::Method::POST, "applications", Some(json!({ "name": "shop\u{0}", "type": "reg" })))
        .await;
    assert_eq!((status, body["errors"][0]["code"].as_str()), (400, Some("INVALID_REQUEST")), "{body}");
    let (status, body) = stack.management(reqwest::Method::GET, "applications/%00", None).await;
    assert_eq!(status, 400, "{body}");
    assert!(!leaks(&body.to_string()), "{body}");

    // Nothing was stored, and ordinary requests still work.
    let (status, list) = stack.management(reqwest::Method::GET, "applications", None).await;
    assert_eq!(status, 200);
    assert!(!list.to_string().contains("shop"), "{list}");
}

#[tokio::test]
async fn an_oversized_body_gets_a_413_in_the_oauth_format() {
    let stack = Stack::start().await;
    let padding = "x".repeat(3 * 1024 * 1024);
    let response = stack.token_request(&[("grant_type", "client_credentials"), ("padding", &padding)]).await;
    assert_eq!(response.status(), 413);
    let body: Value = response.json().await.expect("an OAuth JSON error, not text");
    assert_eq!(body["error"], "invalid_request", "{body}");
    assert_eq!(body["error_description"], "the request body is larger than 2 MiB");
}

#[tokio::test]
async fn over_long_fields_get_a_400_naming_the_field_on_every_database() {
    let stack = Stack::start().await;
    let long = "x".repeat(1_000_000);
    let email = format!("{long}@example.com");
    let cases: [(&str, Value, &str); 6] = [
        ("apis", json!({ "name": "A", "audience": long }), "audience is longer than 1024 characters"),
        ("apis", json!({ "name": long, "audience": "a" }), "name is longer than 256 characters"),
        ("properties", json!({ "name": "P", "key": long, "context": "org" }), "key is longer than 128 characters"),
        ("organization", json!({ "name": "O", "external_id": long }), "external_id is longer than 256 characters"),
        ("environment_variables", json!({ "key": long, "value": "v" }), "key is longer than 128 characters"),
        (
            "user",
            json!({ "profile": { "given_name": "A", "family_name": "B" },
                    "identities": [{ "type": "email", "details": { "email": email } }] }),
            "identities[0].details.email is longer than 320 characters",
        ),
    ];
    for (path, body, message) in cases {
        let (status, answer) = stack.management(reqwest::Method::POST, path, Some(body)).await;
        assert_eq!(status, 400, "{path}: {answer}");
        assert_eq!(answer["errors"][0]["message"], message, "{path}");
    }
    let (status, _) = stack.management(reqwest::Method::GET, "apis", None).await;
    assert_eq!(status, 200, "nothing was stored half-way and the API still answers");
}
