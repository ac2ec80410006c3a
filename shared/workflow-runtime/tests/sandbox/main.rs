//! The sandbox on its own: real V8, real limits, no NATS.

use std::{sync::OnceLock, time::Duration};

use claimflow_contracts::{workflow::RunStatus, Claims, TokenKind};
use claimflow_workflow_runtime::{Engine, Limits, RunOutcome, RunRequest};
use serde_json::json;

fn engine() -> &'static Engine {
    static ENGINE: OnceLock<Engine> = OnceLock::new();
    ENGINE.get_or_init(|| Engine::start(2).expect("engine starts"))
}

fn m2m_event() -> serde_json::Value {
    json!({
        "request": { "auth": { "audience": ["acme"] }, "ip": "127.0.0.1" },
        "context": {
            "domains": { "kindeDomain": "http://127.0.0.1:8080" },
            "workflow": { "trigger": "m2m:token_generation" },
            "application": { "clientId": "client-123" },
        },
    })
}

fn base_m2m() -> Vec<(TokenKind, Claims)> {
    let claims = json!({ "aud": ["acme"], "azp": "client-123", "exp": 10, "scp": [] });
    vec![(TokenKind::M2m, claims.as_object().unwrap().clone())]
}

async fn run_with(code: &str, bindings: &[&str], limits: Limits) -> RunOutcome {
    engine()
        .run(RunRequest {
            code: code.into(),
            source_name: "Workflow.ts".into(),
            bindings: bindings.iter().map(|b| b.to_string()).collect(),
            event: m2m_event(),
            base_claims: base_m2m(),
            limits,
        })
        .await
        .expect("engine runs")
}

async fn run(code: &str, bindings: &[&str]) -> RunOutcome {
    run_with(code, bindings, Limits::default()).await
}

fn m2m_claims(outcome: &RunOutcome) -> Claims {
    outcome.claims_set.iter().find(|(k, _)| *k == TokenKind::M2m).map(|(_, c)| c.clone()).unwrap_or_default()
}

#[tokio::test]
async fn workflow_sets_claim_from_the_event() {
    let outcome = run(
        r#"export default async function (event) {
            kinde.m2mToken.setCustomClaim("hello", "world");
            kinde.m2mToken.setCustomClaim("client", event.context.application.clientId);
        }"#,
        &["kinde.m2mToken"],
    )
    .await;
    assert_eq!(outcome.status, RunStatus::Ok, "{:?}", outcome.error);
    assert_eq!(m2m_claims(&outcome), *json!({"hello": "world", "client": "client-123"}).as_object().unwrap());
}

#[tokio::test]
async fn infrastructure_module_m2m_token_claims_proxy_sets_claims() {
    let outcome = run(
        r#"import { m2mTokenClaims, WorkflowTrigger } from "@kinde/infrastructure";
        export const workflowSettings = { id: "x", trigger: WorkflowTrigger.M2MTokenGeneration };
        export default async function (event) {
            const claims = m2mTokenClaims();
            claims.applicationId = event.context.application.clientId;
            claims.nested = { a: [1, 2] };
        }"#,
        &["kinde.m2mToken"],
    )
    .await;
    assert_eq!(outcome.status, RunStatus::Ok, "{:?}", outcome.error);
    let claims = m2m_claims(&outcome);
    assert_eq!(claims["applicationId"], "client-123");
    assert_eq!(claims["nested"], json!({"a": [1, 2]}));
}

#[tokio::test]
async fn get_custom_claims_hides_prohibited_base_claims() {
    let outcome = run(
        r#"export default async function () {
            const claims = kinde.m2mToken.getCustomClaims();
            kinde.m2mToken.setCustomClaim("seen", Object.keys(claims).sort());
        }"#,
        &["kinde.m2mToken"],
    )
    .await;
    assert_eq!(m2m_claims(&outcome)["seen"], json!([]), "{:?}", outcome.error);
}

#[tokio::test]
async fn undeclared_binding_is_absent_with_the_packages_error() {
    let outcome = run(
        r#"import { m2mTokenClaims } from "@kinde/infrastructure";
        export default async function () { m2mTokenClaims().x = 1; }"#,
        &[],
    )
    .await;
    assert_eq!(outcome.status, RunStatus::Failed);
    let error = outcome.error.unwrap();
    assert!(error.contains("m2mToken binding not available"), "{error}");
}

#[tokio::test]
async fn deno_and_bootstrap_internals_are_not_visible() {
    let outcome = run(
        r#"export default async function () {
            kinde.m2mToken.setCustomClaim("deno", typeof Deno);
            kinde.m2mToken.setCustomClaim("bootstrap", typeof __bootstrap);
            kinde.m2mToken.setCustomClaim("require", typeof require);
        }"#,
        &["kinde.m2mToken"],
    )
    .await;
    let claims = m2m_claims(&outcome);
    assert_eq!(claims["deno"], "undefined");
    assert_eq!(claims["bootstrap"], "undefined");
    assert_eq!(claims["require"], "undefined");
}

#[tokio::test]
async fn imports_other_than_the_infrastructure_module_are_refused() {
    let outcome = run(r#"import fs from "node:fs"; export default async function () {}"#, &[]).await;
    assert_eq!(outcome.status, RunStatus::Failed);
    assert!(outcome.error.unwrap().contains("may only import"));
}

#[tokio::test]
async fn infinite_loop_times_out_and_the_engine_keeps_serving() {
    let limits = Limits { wall_time: Duration::from_millis(300), ..Limits::default() };
    let outcome = run_with("export default async function () { while (true) {} }", &[], limits).await;
    assert_eq!(outcome.status, RunStatus::TimedOut);
    assert!(outcome.error.unwrap().contains("time limit"));
    let next = run(r#"export default async function () { kinde.m2mToken.setCustomClaim("ok", true); }"#, &["kinde.m2mToken"]).await;
    assert_eq!(next.status, RunStatus::Ok);
}

#[tokio::test]
async fn allocation_bomb_ends_out_of_memory_and_the_process_survives() {
    let limits = Limits { heap_bytes: 16 * 1024 * 1024, ..Limits::default() };
    let outcome = run_with(
        "export default async function () { const a = []; while (true) { a.push(new Array(100000).fill(1.5)); } }",
        &[],
        limits,
    )
    .await;
    assert_eq!(outcome.status, RunStatus::OutOfMemory, "{:?}", outcome.error);
    let next = run(r#"export default async function () { kinde.m2mToken.setCustomClaim("ok", true); }"#, &["kinde.m2mToken"]).await;
    assert_eq!(next.status, RunStatus::Ok);
}

#[tokio::test]
async fn thrown_error_fails_the_run_with_message_and_line() {
    let outcome = run("export default async function () {\n  throw new Error(\"boom\");\n}", &[]).await;
    assert_eq!(outcome.status, RunStatus::Failed);
    let error = outcome.error.unwrap();
    assert!(error.contains("boom"), "{error}");
    assert!(error.contains("Workflow.ts:2:"), "{error}");
}

#[tokio::test]
async fn console_output_is_captured_per_level() {
    let outcome = run(
        r#"export default async function (event) { console.log("hi", { a: 1 }); console.error("bad"); }"#,
        &[],
    )
    .await;
    let logs: Vec<(String, String)> = outcome.logs.iter().map(|l| (l.level.clone(), l.message.clone())).collect();
    assert_eq!(logs, [("log".into(), "hi {\"a\":1}".into()), ("error".into(), "bad".into())]);
}

#[tokio::test]
async fn deny_access_is_reported() {
    let outcome = run(
        r#"import { denyAccess } from "@kinde/infrastructure";
        export default async function () { denyAccess("not on weekends"); }"#,
        &["kinde.auth"],
    )
    .await;
    assert_eq!(outcome.status, RunStatus::Ok);
    assert_eq!(outcome.denied.as_deref(), Some("not on weekends"));
}

#[tokio::test]
async fn claims_over_the_size_limit_fail_the_run() {
    let limits = Limits { max_claims_bytes: 1024, ..Limits::default() };
    let outcome = run_with(
        r#"export default async function () { kinde.m2mToken.setCustomClaim("big", "x".repeat(2000)); }"#,
        &["kinde.m2mToken"],
        limits,
    )
    .await;
    assert_eq!(outcome.status, RunStatus::Failed);
    assert!(outcome.error.unwrap().contains("over the limit"));
}

#[tokio::test]
async fn nothing_a_run_does_is_visible_to_the_next_run() {
    let first = run("globalThis.leak = 42; export default async function () {}", &[]).await;
    assert_eq!(first.status, RunStatus::Ok);
    let second = run(
        r#"export default async function () { kinde.m2mToken.setCustomClaim("leak", typeof globalThis.leak); }"#,
        &["kinde.m2mToken"],
    )
    .await;
    assert_eq!(m2m_claims(&second)["leak"], "undefined");
}
