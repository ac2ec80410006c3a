//! The sandbox on its own: real V8, real limits, no NATS.

use std::{sync::OnceLock, time::Duration};

use claimflow_contracts::{workflow::RunStatus, Claims, TokenKind};
use claimflow_workflow_runtime::{
    AllowList, Engine, EnvironmentVariable, FetchLimits, Limits, Network, RunOutcome, RunRequest, Services, TokenCache,
};
use serde_json::json;

mod isolation;
mod network;

fn engine() -> &'static Engine {
    static ENGINE: OnceLock<Engine> = OnceLock::new();
    ENGINE.get_or_init(|| Engine::start(2).expect("engine starts"))
}

fn services() -> std::sync::Arc<Services> {
    static SERVICES: OnceLock<std::sync::Arc<Services>> = OnceLock::new();
    SERVICES
        .get_or_init(|| {
            std::sync::Arc::new(Services {
                network: Network::new(AllowList::default()).expect("network starts"),
                token_cache: TokenCache::default(),
            })
        })
        .clone()
}

fn request(code: &str, bindings: &[&str], limits: Limits) -> RunRequest {
    RunRequest {
        code: code.into(),
        source_name: "Workflow.ts".into(),
        source_map: None,
        graph: Default::default(),
        workflow_id: "test".into(),
        environment: vec![
            EnvironmentVariable { key: "PLAIN".into(), value: "visible".into(), is_secret: false },
            EnvironmentVariable { key: "API_KEY".into(), value: "sk_live_hunter2".into(), is_secret: true },
        ],
        secure_fetch_key: None,
        trusted_host: None,
        services: services(),
        span: tracing::Span::none(),
        bindings: bindings
            .iter()
            .map(|b| claimflow_contracts::settings::Binding::parse(b).expect("a known binding"))
            .collect(),
        event: m2m_event(),
        base_claims: base_m2m(),
        reset_claims: vec![],
        limits,
        inspect_only: false,
    }
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
    engine().run(request(code, bindings, limits)).await.expect("engine runs")
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
    assert!(error.contains(r#"(add "kinde.m2mToken": {} to workflowSettings.bindings)"#), "{error}");
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
    let next =
        run(r#"export default async function () { kinde.m2mToken.setCustomClaim("ok", true); }"#, &["kinde.m2mToken"])
            .await;
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
    let next =
        run(r#"export default async function () { kinde.m2mToken.setCustomClaim("ok", true); }"#, &["kinde.m2mToken"])
            .await;
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
    let outcome =
        run(r#"export default async function (event) { console.log("hi", { a: 1 }); console.error("bad"); }"#, &[])
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
async fn isolates_retired_with_many_dead_contexts_are_torn_down_cleanly() {
    // Each timed-out run retires its isolate while the contexts of the runs before it (their
    // slots held through weak handles) are not yet collected; the engine must survive the
    // teardown of every such isolate, at the top level (deploy's inspection) and in a run.
    let engine = Engine::start(1).expect("engine starts");
    for round in 0..20 {
        for _ in 0..25 {
            let outcome =
                engine.run(request("export default async function () {}", &[], Limits::default())).await.unwrap();
            assert_eq!(outcome.status, RunStatus::Ok, "{:?}", outcome.error);
        }
        let short = Limits { wall_time: std::time::Duration::from_millis(20), ..Limits::default() };
        let mut spinning = request("while (true) {}\nexport default async function () {}", &[], short.clone());
        spinning.inspect_only = round % 2 == 0;
        assert_eq!(engine.run(spinning).await.unwrap().status, RunStatus::TimedOut);
    }
    let outcome = engine.run(request("export default async function () {}", &[], Limits::default())).await.unwrap();
    assert_eq!(outcome.status, RunStatus::Ok);
}

#[tokio::test]
async fn project_modules_are_imported_through_the_deployed_graph_and_nothing_else() {
    use claimflow_contracts::workflow::{ModuleGraph, ProjectModule};
    let module = |path: &str, code: &str| ProjectModule { path: path.into(), code: code.into(), source_map: None };
    let links = |pairs: &[(&str, &str)]| pairs.iter().map(|(from, to)| (from.to_string(), to.to_string())).collect();
    let graph = ModuleGraph {
        imports: [
            ("Workflow.ts".to_owned(), links(&[("../lib/a", "lib/a.ts")])),
            ("lib/a.ts".to_owned(), links(&[("./b", "lib/b.ts")])),
        ]
        .into(),
        modules: vec![
            module("lib/a.ts", "import { b } from './b'; export const a = () => `a${b}`;"),
            module("lib/b.ts", "import { version } from '@kinde/infrastructure'; export const b = typeof version;"),
        ],
    };
    let workflow = r#"import { a } from "../lib/a";
        export default async function () { kinde.m2mToken.setCustomClaim("chain", a()); }"#;
    let mut linked = request(workflow, &["kinde.m2mToken"], Limits::default());
    linked.graph = std::sync::Arc::new(graph.clone());
    let outcome = engine().run(linked).await.unwrap();
    assert_eq!(outcome.status, RunStatus::Ok, "{:?}", outcome.error);
    assert_eq!(m2m_claims(&outcome)["chain"], "astring");

    // A module's import that deploy did not link is refused, naming the module, though the file
    // it would mean is in the graph.
    let mut unlinked = graph;
    unlinked.imports.remove("lib/a.ts");
    let mut request = request(workflow, &["kinde.m2mToken"], Limits::default());
    request.graph = std::sync::Arc::new(unlinked);
    let outcome = engine().run(request).await.unwrap();
    assert_eq!(outcome.status, RunStatus::Failed);
    let error = outcome.error.unwrap();
    assert!(error.contains("cannot import \"./b\" from lib/a.ts"), "{error}");
}
