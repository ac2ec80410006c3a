//! The sandbox on its own: real V8, real limits, no NATS.

use std::{sync::OnceLock, time::Duration};

use claimflow_contracts::{workflow::RunStatus, Claims, TokenKind};
use claimflow_workflow_runtime::{
    AllowList, Engine, EnvironmentVariable, FetchLimits, Limits, Network, RunOutcome, RunRequest, Services, TokenCache,
};
use serde_json::json;

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

/// An engine of one thread: consecutive runs are served by the same warm isolate, so what one
/// run leaves behind is what the next would see.
fn one_isolate() -> &'static Engine {
    static ENGINE: OnceLock<Engine> = OnceLock::new();
    ENGINE.get_or_init(|| Engine::start(1).expect("engine starts"))
}

async fn run_on_one_isolate(code: &str) -> RunOutcome {
    one_isolate().run(request(code, &["kinde.m2mToken"], Limits::default())).await.expect("engine runs")
}

#[tokio::test]
async fn globals_prototypes_and_module_state_do_not_reach_the_next_run_on_the_same_isolate() {
    let polluting = r#"
        let calls = 0;
        globalThis.leak = "secret";
        Object.prototype.polluted = "yes";
        Array.prototype.push = function () { return "hijacked"; };
        JSON.parse = () => ({ forged: true });
        export default async function () { calls += 1; kinde.m2mToken.setCustomClaim("calls", calls); }
    "#;
    let observing = r#"
        let calls = 0;
        export default async function () {
            calls += 1;
            const probe = [];
            probe.push(1);
            kinde.m2mToken.setCustomClaim("calls", calls);
            kinde.m2mToken.setCustomClaim("leak", typeof globalThis.leak);
            kinde.m2mToken.setCustomClaim("polluted", ({}).polluted ?? "no");
            kinde.m2mToken.setCustomClaim("push", probe.length);
            kinde.m2mToken.setCustomClaim("json", JSON.parse('{"a":1}').a ?? "forged");
        }
    "#;
    for _ in 0..3 {
        let polluted = run_on_one_isolate(polluting).await;
        assert_eq!(polluted.status, RunStatus::Ok, "{:?}", polluted.error);
        assert_eq!(m2m_claims(&polluted)["calls"], 1, "module state starts afresh");
        let observed = run_on_one_isolate(observing).await;
        assert_eq!(observed.status, RunStatus::Ok, "{:?}", observed.error);
        let observed = m2m_claims(&observed);
        assert_eq!(observed["calls"], 1);
        assert_eq!(observed["leak"], "undefined");
        assert_eq!(observed["polluted"], "no");
        assert_eq!(observed["push"], 1);
        assert_eq!(observed["json"], 1);
    }
}

#[tokio::test]
async fn a_short_time_limit_holds_after_a_run_with_a_long_one() {
    let long = Limits { wall_time: Duration::from_secs(30), ..Limits::default() };
    let quick = one_isolate().run(request("export default async function () {}", &[], long)).await.unwrap();
    assert_eq!(quick.status, RunStatus::Ok);
    let short = Limits { wall_time: Duration::from_millis(200), ..Limits::default() };
    let looping =
        one_isolate().run(request("export default async function () { while (true) {} }", &[], short)).await.unwrap();
    assert_eq!(looping.status, RunStatus::TimedOut);
    assert!(
        looping.duration < Duration::from_secs(10),
        "stopped at its own limit, not the earlier run's: {:?}",
        looping.duration
    );
}

#[tokio::test]
async fn the_event_and_the_claims_are_ordinary_objects() {
    let outcome = run(
        r#"export default async function (event) {
            kinde.m2mToken.setCustomClaim("own", event.hasOwnProperty("context") && event.context.application.hasOwnProperty("clientId"));
            kinde.m2mToken.setCustomClaim("proto", Object.getPrototypeOf(event) === Object.prototype);
            kinde.m2mToken.setCustomClaim("claims", Object.getPrototypeOf(kinde.m2mToken.getCustomClaims()) === Object.prototype);
            kinde.m2mToken.setCustomClaim("array", Array.isArray(event.request.auth.audience) && event.request.auth.audience.includes("acme"));
        }"#,
        &["kinde.m2mToken"],
    )
    .await;
    let claims = m2m_claims(&outcome);
    for name in ["own", "proto", "claims", "array"] {
        assert_eq!(claims[name], true, "{name}: {:?}", outcome.error);
    }
}

#[tokio::test]
async fn what_could_outlive_a_run_is_not_there() {
    let outcome = run(
        r#"export default async function () {
            for (const name of ["WebAssembly", "FinalizationRegistry", "WeakRef", "SharedArrayBuffer", "Atomics"]) {
                kinde.m2mToken.setCustomClaim(name, typeof globalThis[name]);
            }
            kinde.m2mToken.setCustomClaim("import", await import("@kinde/infrastructure").then(() => "loaded", (e) => "refused"));
        }"#,
        &["kinde.m2mToken"],
    )
    .await;
    let claims = m2m_claims(&outcome);
    for name in ["WebAssembly", "FinalizationRegistry", "WeakRef", "SharedArrayBuffer", "Atomics"] {
        assert_eq!(claims[name], "undefined", "{name}");
    }
    assert_eq!(claims["import"], "refused", "dynamic import() is not available");
}

#[tokio::test]
async fn a_promise_that_can_never_settle_fails_the_run_at_once() {
    let limits = Limits { wall_time: Duration::from_secs(30), ..Limits::default() };
    let outcome = run_with("export default async function () { await new Promise(() => {}); }", &[], limits).await;
    assert_eq!(outcome.status, RunStatus::Failed);
    assert!(outcome.error.as_deref().unwrap().contains("never settled"), "{:?}", outcome.error);
}

#[tokio::test]
async fn an_endless_loop_holds_up_no_other_run() {
    // Two isolate threads: one is stuck in the loop until its limit, the other serves the rest.
    let engine = Engine::start(2).expect("engine starts");
    let finished = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let looping = {
        let (engine, finished) = (engine.clone(), finished.clone());
        let limits = Limits { wall_time: Duration::from_millis(1500), ..Limits::default() };
        tokio::spawn(async move {
            let outcome =
                engine.run(request("export default async function () { while (true) {} }", &[], limits)).await;
            finished.lock().unwrap().push("loop");
            outcome.unwrap()
        })
    };
    tokio::time::sleep(Duration::from_millis(100)).await;
    for _ in 0..20 {
        let quick = engine
            .run(request(
                r#"export default async function () { kinde.m2mToken.setCustomClaim("ok", 1); }"#,
                &["kinde.m2mToken"],
                Limits::default(),
            ))
            .await
            .unwrap();
        assert_eq!(quick.status, RunStatus::Ok);
        finished.lock().unwrap().push("quick");
    }
    assert_eq!(looping.await.unwrap().status, RunStatus::TimedOut);
    let order = finished.lock().unwrap().clone();
    assert_eq!(order.last(), Some(&"loop"), "every quick run finished while the loop was still running: {order:?}");
}

fn services_allowing_loopback() -> std::sync::Arc<Services> {
    static SERVICES: OnceLock<std::sync::Arc<Services>> = OnceLock::new();
    SERVICES
        .get_or_init(|| {
            std::sync::Arc::new(Services {
                network: Network::new(AllowList::parse("127.0.0.1").unwrap()).expect("network starts"),
                token_cache: TokenCache::default(),
            })
        })
        .clone()
}

/// A tiny HTTP server on loopback: `/json` answers JSON, `/echo` echoes the request line and
/// body, `/redirect-metadata` redirects to the cloud metadata address.
fn http_server() -> String {
    use std::io::{BufRead, BufReader, Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            std::thread::spawn(move || {
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut request_line = String::new();
                reader.read_line(&mut request_line).unwrap();
                let mut length = 0usize;
                loop {
                    let mut line = String::new();
                    reader.read_line(&mut line).unwrap();
                    if line.trim().is_empty() {
                        break;
                    }
                    if let Some(value) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                        length = value.trim().parse().unwrap_or(0);
                    }
                }
                let mut body = vec![0; length];
                reader.read_exact(&mut body).unwrap();
                let path = request_line.split_whitespace().nth(1).unwrap_or("/").to_owned();
                if path == "/slow" {
                    std::thread::sleep(std::time::Duration::from_secs(2));
                }
                let (status, headers, payload) = match path.as_str() {
                    "/big" => ("200 OK", "content-type: text/plain\r\n".to_owned(), "x".repeat(2 * 1024 * 1024)),
                    "/json" => {
                        ("200 OK", "content-type: application/json\r\n".to_owned(), r#"{"tier":"gold"}"#.to_owned())
                    }
                    "/redirect-metadata" => {
                        ("302 Found", "location: http://169.254.169.254/latest/meta-data\r\n".to_owned(), String::new())
                    }
                    _ => (
                        "200 OK",
                        "content-type: text/plain\r\n".to_owned(),
                        format!("{} {}", request_line.trim(), String::from_utf8_lossy(&body)),
                    ),
                };
                let _ = write!(
                    stream,
                    "HTTP/1.1 {status}\r\n{headers}content-length: {}\r\nconnection: close\r\n\r\n{payload}",
                    payload.len()
                );
            });
        }
    });
    format!("http://{address}")
}

async fn run_allowing_loopback(code: &str, bindings: &[&str]) -> RunOutcome {
    let mut request = request(code, bindings, Limits::default());
    request.services = services_allowing_loopback();
    engine().run(request).await.expect("engine runs")
}

#[tokio::test]
async fn env_binding_returns_value_and_secret_flag() {
    let outcome = run(
        r#"export default async function () {
            kinde.m2mToken.setCustomClaim("plain", kinde.env.get("PLAIN"));
            kinde.m2mToken.setCustomClaim("secret", kinde.env.get("API_KEY").isSecret);
            kinde.m2mToken.setCustomClaim("missing", kinde.env.get("NOPE") === undefined);
        }"#,
        &["kinde.m2mToken", "kinde.env"],
    )
    .await;
    let claims = m2m_claims(&outcome);
    assert_eq!(claims["plain"], json!({"value": "visible", "isSecret": false}), "{:?}", outcome.error);
    assert_eq!(claims["secret"], true);
    assert_eq!(claims["missing"], true);
}

#[tokio::test]
async fn secret_values_are_redacted_from_console_output_and_errors() {
    let outcome = run(
        r#"export default async function () {
            const key = kinde.env.get("API_KEY").value;
            console.log("calling CRM with", key);
            throw new Error("CRM refused key " + key);
        }"#,
        &["kinde.env"],
    )
    .await;
    assert_eq!(outcome.logs[0].message, "calling CRM with [redacted]");
    let error = outcome.error.unwrap();
    assert!(error.contains("[redacted]") && !error.contains("hunter2"), "{error}");
}

#[tokio::test]
async fn url_binding_provides_url_search_params_and_url() {
    let outcome = run(
        r#"export default async function () {
            const params = new URLSearchParams({ grant_type: "client_credentials", scope: "a b" });
            params.append("x", "1&2");
            const url = new URL("/api/v1/organization?code=org_1", "https://acme.example:8443");
            url.searchParams.set("page", "2");
            kinde.m2mToken.setCustomClaim("form", params.toString());
            kinde.m2mToken.setCustomClaim("url", [url.hostname, url.port, url.pathname, url.searchParams.get("code"), url.href]);
        }"#,
        &["kinde.m2mToken", "url"],
    )
    .await;
    let claims = m2m_claims(&outcome);
    assert_eq!(claims["form"], "grant_type=client_credentials&scope=a+b&x=1%262", "{:?}", outcome.error);
    assert_eq!(
        claims["url"],
        json!([
            "acme.example",
            "8443",
            "/api/v1/organization",
            "org_1",
            "https://acme.example:8443/api/v1/organization?code=org_1&page=2"
        ])
    );
}

#[tokio::test]
async fn what_kinde_provides_undeclared_is_there_without_a_declaration() {
    let outcome = run(
        r#"export default async function () {
            kinde.m2mToken.setCustomClaim("t", [typeof URLSearchParams, typeof URL, typeof kinde.cache.jwtToken, typeof kinde.fetch]);
            kinde.m2mToken.setCustomClaim("env", typeof kinde.env);
        }"#,
        &["kinde.m2mToken"],
    )
    .await;
    assert_eq!(
        m2m_claims(&outcome)["t"],
        json!(["function", "function", "function", "function"]),
        "{:?}",
        outcome.error
    );
    assert_eq!(m2m_claims(&outcome)["env"], "undefined", "a binding Kinde does not provide stays absent");
}

#[tokio::test]
async fn undeclared_fetch_reaches_claimflows_own_api_and_nothing_else() {
    let base = http_server();
    let code = format!(
        r#"export default async function () {{
            kinde.m2mToken.setCustomClaim("tier", kinde.fetch("{base}/json").json.tier);
            let other;
            try {{ kinde.fetch("http://example.com/"); other = "reached"; }} catch (error) {{ other = error.message; }}
            kinde.m2mToken.setCustomClaim("other", other);
        }}"#
    );
    let mut request = request(&code, &["kinde.m2mToken"], Limits::default());
    request.trusted_host = Some("127.0.0.1".into());
    let outcome = engine().run(request).await.expect("engine runs");
    let claims = m2m_claims(&outcome);
    assert_eq!(claims["tier"], "gold", "{:?}", outcome.error);
    let other = claims["other"].as_str().unwrap();
    assert!(other.contains("example.com is not claimflow's own API"), "{other}");
    assert!(other.contains(r#"add "kinde.fetch": {} to workflowSettings.bindings"#), "{other}");
}

#[tokio::test]
async fn fetch_works_synchronously_and_with_await() {
    let base = http_server();
    let code = format!(
        r#"export default async function () {{
            const direct = kinde.fetch("{base}/json", {{ responseFormat: "json" }});
            const awaited = await kinde.fetch("{base}/json");
            const posted = kinde.fetch("{base}/echo", {{ method: "POST", responseFormat: "text", body: new URLSearchParams({{ a: "1" }}) }});
            kinde.m2mToken.setCustomClaim("direct", direct.json.tier);
            kinde.m2mToken.setCustomClaim("awaited", awaited.json.tier);
            kinde.m2mToken.setCustomClaim("posted", posted.text);
        }}"#
    );
    let outcome = run_allowing_loopback(&code, &["kinde.m2mToken", "kinde.fetch", "url"]).await;
    let claims = m2m_claims(&outcome);
    assert_eq!(claims["direct"], "gold", "{:?}", outcome.error);
    assert_eq!(claims["awaited"], "gold");
    assert_eq!(claims["posted"], "POST /echo HTTP/1.1 a=1");
}

#[tokio::test]
async fn fetch_to_loopback_is_refused_unless_allowed() {
    let base = http_server();
    let code = format!(r#"export default async function () {{ kinde.fetch("{base}/json"); }}"#);
    let outcome = run(&code, &["kinde.fetch"]).await;
    assert_eq!(outcome.status, RunStatus::Failed);
    let error = outcome.error.unwrap();
    assert!(error.contains("loopback") && error.contains("CLAIMFLOW_FETCH_ALLOW"), "{error}");
}

#[tokio::test]
async fn fetch_to_cloud_metadata_is_refused_directly_and_through_redirects() {
    let outcome = run(
        r#"export default async function () { kinde.fetch("http://169.254.169.254/latest/meta-data"); }"#,
        &["kinde.fetch"],
    )
    .await;
    assert!(outcome.error.unwrap().contains("link-local"));
    let base = http_server();
    let code = format!(r#"export default async function () {{ kinde.fetch("{base}/redirect-metadata"); }}"#);
    let outcome = run_allowing_loopback(&code, &["kinde.fetch"]).await;
    assert_eq!(outcome.status, RunStatus::Failed);
    assert!(outcome.error.unwrap().contains("169.254.169.254"));
}

#[tokio::test]
async fn fetch_count_is_limited_per_run() {
    let base = http_server();
    let code =
        format!(r#"export default async function () {{ for (let i = 0; i < 25; i++) kinde.fetch("{base}/json"); }}"#);
    let outcome = run_allowing_loopback(&code, &["kinde.fetch"]).await;
    assert_eq!(outcome.status, RunStatus::Failed);
    assert!(outcome.error.unwrap().contains("the limit"));
}

#[tokio::test]
async fn fetch_query_secrets_are_not_shown_in_errors() {
    let outcome = run(
        r#"export default async function () { kinde.fetch("http://127.0.0.1:9/x?api_key=topsecret"); }"#,
        &["kinde.fetch"],
    )
    .await;
    let error = outcome.error.unwrap();
    assert!(!error.contains("topsecret"), "{error}");
}

#[tokio::test]
async fn reset_claims_starts_custom_claims_empty() {
    let code = r#"export default async function () {
        kinde.m2mToken.setCustomClaim("seen", Object.keys(kinde.m2mToken.getCustomClaims()));
    }"#;
    let mut with_custom = request(code, &["kinde.m2mToken"], Limits::default());
    with_custom.base_claims =
        vec![(TokenKind::M2m, json!({ "aud": ["acme"], "tier": "gold" }).as_object().unwrap().clone())];
    let kept = engine().run(with_custom.clone()).await.unwrap();
    assert_eq!(m2m_claims(&kept)["seen"], json!(["tier"]));
    with_custom.reset_claims = vec![TokenKind::M2m];
    let reset = engine().run(with_custom).await.unwrap();
    assert_eq!(m2m_claims(&reset)["seen"], json!([]));
}

#[tokio::test]
async fn claims_count_is_limited() {
    let limits = Limits { max_claims: 3, ..Limits::default() };
    let outcome = run_with(
        r#"export default async function () { for (let i = 0; i < 4; i++) kinde.m2mToken.setCustomClaim("c" + i, i); }"#,
        &["kinde.m2mToken"],
        limits,
    )
    .await;
    assert_eq!(outcome.status, RunStatus::Failed);
    assert!(outcome.error.unwrap().contains("at most 3 claims"));
}

#[tokio::test]
async fn secure_fetch_posts_the_body_encrypted_with_the_environment_key() {
    use aes_gcm::aead::{Aead, KeyInit};
    use base64::Engine as _;
    let base = http_server();
    let code = format!(
        r#"export default async function () {{
            const response = kinde.secureFetch("{base}/echo", {{ body: {{ ssn: "123-45-6789" }}, responseFormat: "text" }});
            kinde.m2mToken.setCustomClaim("echo", response.text);
        }}"#
    );
    let key = [9u8; 32];
    let mut request = request(&code, &["kinde.m2mToken", "kinde.secureFetch"], Limits::default());
    request.services = services_allowing_loopback();
    request.secure_fetch_key = Some(key);
    let outcome = engine().run(request).await.unwrap();
    let echo = m2m_claims(&outcome)["echo"].as_str().unwrap_or_else(|| panic!("{:?}", outcome.error)).to_owned();
    let (request_line, sealed) = echo.rsplit_once(' ').unwrap();
    assert!(request_line.starts_with("POST /echo"), "{echo}");
    assert!(!echo.contains("123-45-6789"), "the body must not travel in clear");
    let sealed = base64::engine::general_purpose::STANDARD.decode(sealed).unwrap();
    let (nonce, ciphertext) = sealed.split_at(12);
    let nonce: [u8; 12] = nonce.try_into().unwrap();
    let plaintext = aes_gcm::Aes256Gcm::new(&key.into()).decrypt(&nonce.into(), ciphertext).unwrap();
    assert_eq!(String::from_utf8(plaintext).unwrap(), r#"{"ssn":"123-45-6789"}"#);
}

#[tokio::test]
async fn fetch_times_out_and_refuses_oversized_responses() {
    let base = http_server();
    let limits = Limits {
        fetch: FetchLimits {
            timeout: Duration::from_millis(300),
            max_response_bytes: 1024 * 1024,
            ..FetchLimits::default()
        },
        ..Limits::default()
    };
    let mut slow = request(
        &format!(r#"export default async function () {{ kinde.fetch("{base}/slow"); }}"#),
        &["kinde.fetch"],
        limits.clone(),
    );
    slow.services = services_allowing_loopback();
    let started = std::time::Instant::now();
    let outcome = engine().run(slow).await.unwrap();
    assert_eq!(outcome.status, RunStatus::Failed);
    assert!(outcome.error.as_deref().unwrap().contains("no answer within"), "{:?}", outcome.error);
    assert!(started.elapsed() < Duration::from_millis(1500));

    let mut big = request(
        &format!(r#"export default async function () {{ kinde.fetch("{base}/big"); }}"#),
        &["kinde.fetch"],
        limits,
    );
    big.services = services_allowing_loopback();
    let outcome = engine().run(big).await.unwrap();
    assert_eq!(outcome.status, RunStatus::Failed);
    assert!(outcome.error.as_deref().unwrap().contains("larger than 1048576 bytes"), "{:?}", outcome.error);
}

/// A token issuer on loopback: `/jwks` publishes a key, `/token` hands out JWTs signed with it
/// (`/token-unknown-key` with another key) and counts how often it was asked.
fn token_issuer() -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use std::io::{BufRead, BufReader, Write};

    use base64::Engine as _;
    use rsa::{pkcs8::EncodePrivateKey, traits::PublicKeyParts};
    let key = rsa::RsaPrivateKey::new(&mut rand::thread_rng(), 2048).unwrap();
    let other = rsa::RsaPrivateKey::new(&mut rand::thread_rng(), 2048).unwrap();
    let b64 = |bytes: Vec<u8>| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    let jwks = json!({ "keys": [{ "kty": "RSA", "kid": "k1", "alg": "RS256", "use": "sig", "n": b64(key.n().to_bytes_be()), "e": b64(key.e().to_bytes_be()) }] }).to_string();
    let sign = |key: &rsa::RsaPrivateKey| {
        let pem = key.to_pkcs8_pem(rsa::pkcs8::LineEnding::LF).unwrap();
        let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
        header.kid = Some("k1".into());
        let exp = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() + 3600;
        jsonwebtoken::encode(
            &header,
            &json!({ "exp": exp, "aud": ["x"] }),
            &jsonwebtoken::EncodingKey::from_rsa_pem(pem.as_bytes()).unwrap(),
        )
        .unwrap()
    };
    let (good, forged) = (sign(&key), sign(&other));
    let issued = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = issued.clone();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut request_line = String::new();
            reader.read_line(&mut request_line).unwrap();
            loop {
                let mut line = String::new();
                reader.read_line(&mut line).unwrap();
                if line.trim().is_empty() {
                    break;
                }
            }
            let path = request_line.split_whitespace().nth(1).unwrap_or("/");
            let body = match path {
                "/jwks" => jwks.clone(),
                "/token" => {
                    counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    json!({ "access_token": good }).to_string()
                }
                _ => json!({ "access_token": forged }).to_string(),
            };
            let _ = write!(stream, "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}", body.len());
        }
    });
    (format!("http://{address}"), issued)
}

#[tokio::test]
async fn cache_keeps_a_validated_token_across_runs_and_refuses_one_that_fails_validation() {
    let (base, issued) = token_issuer();
    let workflow = |token_path: &str| {
        format!(
            r#"export default async function () {{
                const token = await kinde.cache.jwtToken("api", {{
                    validation: {{ key: {{ type: "jwks", jwks: {{ url: "{base}/jwks" }} }} }},
                    onMissingOrExpired: () => kinde.fetch("{base}{token_path}", {{ method: "POST" }}).json.access_token,
                }});
                kinde.m2mToken.setCustomClaim("length", token.length);
            }}"#
        )
    };
    let services = services_allowing_loopback();
    for _ in 0..3 {
        let mut request = request(&workflow("/token"), &["kinde.m2mToken", "kinde.fetch"], Limits::default());
        request.services = services.clone();
        request.workflow_id = "cached".into();
        let outcome = engine().run(request).await.unwrap();
        assert_eq!(outcome.status, RunStatus::Ok, "{:?}", outcome.error);
    }
    assert_eq!(issued.load(std::sync::atomic::Ordering::SeqCst), 1, "three runs, one token request");

    let mut forged = request(&workflow("/token-unknown-key"), &["kinde.m2mToken", "kinde.fetch"], Limits::default());
    forged.services = services;
    forged.workflow_id = "forged".into();
    let outcome = engine().run(forged).await.unwrap();
    assert_eq!(outcome.status, RunStatus::Failed);
    assert!(outcome.error.unwrap().contains("failed validation"));
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
