//! One trace per token request, across auth-service, workflow-worker and signer.

use std::time::Duration;

use claimflow_e2e::{m2m_workflow, spans, Stack};
use opentelemetry::trace::TraceId;

#[tokio::test]
async fn token_request_is_one_trace_across_all_three_services() {
    let stack = Stack::start().await;
    let (client_id, client_secret) = stack.m2m_client_for("acme").await;
    let workflow = m2m_workflow("traced", "", r#""kinde.m2mToken": {}"#, r#"  kinde.m2mToken.setCustomClaim("t", 1);"#);
    assert_eq!(stack.deploy(&[("kindeSrc/environment/workflows/t/Workflow.ts", &workflow)]).await.0, 200);

    // The caller starts the trace, as an instrumented client would.
    let trace_id = hex::encode(rand::random::<[u8; 16]>());
    let traceparent = format!("00-{trace_id}-{}-01", hex::encode(rand::random::<[u8; 8]>()));
    let response = stack
        .http
        .post(stack.url("/oauth2/token"))
        .header("traceparent", traceparent)
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", client_id.as_str()),
            ("client_secret", client_secret.as_str()),
            ("audience", "acme"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);

    let trace_id = TraceId::from_hex(&trace_id).unwrap();
    let mut modules = Vec::new();
    // Spans are exported as they end; the HTTP span ends just after the response is written.
    for _ in 0..100 {
        modules = spans()
            .get_finished_spans()
            .unwrap()
            .into_iter()
            .filter(|span| span.span_context.trace_id() == trace_id)
            .filter_map(|span| {
                span.attributes
                    .iter()
                    .find(|kv| kv.key.as_str() == "code.module.name")
                    .map(|kv| (kv.value.to_string(), span.name.to_string()))
            })
            .collect::<Vec<_>>();
        let has = |prefix: &str| modules.iter().any(|(module, _)| module.starts_with(prefix));
        if has("auth_service") && has("workflow_worker") && has("signer") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let has = |prefix: &str| modules.iter().any(|(module, _)| module.starts_with(prefix));
    assert!(has("auth_service"), "no auth-service span in the trace: {modules:?}");
    assert!(has("workflow_worker"), "no workflow-worker span in the trace: {modules:?}");
    assert!(has("signer"), "no signer span in the trace: {modules:?}");
    assert!(modules.iter().any(|(_, name)| name.starts_with("send ")), "no NATS publish span: {modules:?}");
    assert!(modules.iter().any(|(_, name)| name.starts_with("process ")), "no NATS process span: {modules:?}");
}

#[tokio::test]
async fn a_workflows_fetch_is_a_child_span_without_query_secrets() {
    let stack = Stack::start().await;
    let (client_id, client_secret) = stack.m2m_client_for("acme").await;
    let workflow = m2m_workflow(
        "fetching",
        "",
        r#""kinde.m2mToken": {}, "kinde.fetch": {}"#,
        r#"  const keys = kinde.fetch(`${event.context.domains.kindeDomain}/.well-known/jwks.json?api_key=topsecret`);
  kinde.m2mToken.setCustomClaim("keys", keys.json.keys.length);"#,
    );
    assert_eq!(stack.deploy(&[("kindeSrc/environment/workflows/f/Workflow.ts", &workflow)]).await.0, 200);
    let trace_id = hex::encode(rand::random::<[u8; 16]>());
    let response = stack
        .http
        .post(stack.url("/oauth2/token"))
        .header("traceparent", format!("00-{trace_id}-{}-01", hex::encode(rand::random::<[u8; 8]>())))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", client_id.as_str()),
            ("client_secret", client_secret.as_str()),
            ("audience", "acme"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let trace_id = TraceId::from_hex(&trace_id).unwrap();
    let expected = format!("GET {}/.well-known/jwks.json", stack.issuer);
    let mut fetch_span = None;
    for _ in 0..100 {
        fetch_span = spans()
            .get_finished_spans()
            .unwrap()
            .into_iter()
            .find(|span| span.span_context.trace_id() == trace_id && span.name.starts_with("GET "));
        if fetch_span.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let span = fetch_span.expect("the fetch is a span of the request's trace");
    assert_eq!(span.name, expected);
    let attributes = format!("{:?}", span.attributes);
    assert!(!attributes.contains("topsecret") && !span.name.contains("topsecret"), "{attributes}");
    assert!(attributes.contains("http.response.status_code"), "{attributes}");
}
