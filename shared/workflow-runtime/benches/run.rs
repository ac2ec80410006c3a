//! Worker time of one warm run of a small claims workflow (two claims from the event), and the
//! cost of the first (cold) run. `cargo bench -p claimflow-workflow-runtime --bench run`.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use claimflow_contracts::TokenKind;
use claimflow_workflow_runtime::{AllowList, Engine, Limits, Network, RunRequest, Services, TokenCache};
use serde_json::json;

const WORKFLOW: &str = r#"import { m2mTokenClaims } from "@kinde/infrastructure";
export const workflowSettings = { id: "bench", trigger: "m2m:token_generation", bindings: { "kinde.m2mToken": {} } };
export default async function (event) {
  const claims = m2mTokenClaims();
  claims.applicationId = event.context.application.clientId;
  claims.audience = event.request.auth.audience[0];
}
"#;

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn main() {
    let iterations: usize = std::env::var("BENCH_ITERATIONS").ok().and_then(|n| n.parse().ok()).unwrap_or(2000);
    let engine_started = Instant::now();
    let engine = Engine::start(1).expect("engine");
    let engine_start = engine_started.elapsed();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    let services =
        Arc::new(Services { network: Network::new(AllowList::default()).unwrap(), token_cache: TokenCache::default() });
    let request = RunRequest {
        code: WORKFLOW.into(),
        source_name: "Workflow.ts".into(),
        source_map: None,
        graph: Default::default(),
        workflow_id: "bench".into(),
        environment: vec![],
        secure_fetch_key: None,
        trusted_host: None,
        services,
        span: tracing::Span::none(),
        bindings: vec![claimflow_contracts::settings::Binding::M2mToken],
        event: json!({
            "request": { "auth": { "audience": ["acme"] }, "ip": "127.0.0.1" },
            "context": { "domains": { "kindeDomain": "http://127.0.0.1:8080" }, "workflow": { "trigger": "m2m:token_generation" }, "application": { "clientId": "client" } },
        }),
        base_claims: vec![(TokenKind::M2m, json!({ "aud": ["acme"], "scp": [] }).as_object().unwrap().clone())],
        reset_claims: vec![],
        limits: Limits::default(),
        inspect_only: false,
    };
    runtime.block_on(async {
        let cold = Instant::now();
        let first = engine.run(request.clone()).await.unwrap();
        let cold = cold.elapsed();
        assert!(first.error.is_none(), "{:?}", first.error);
        let mut worker_times = Vec::with_capacity(iterations);
        let mut round_trips = Vec::with_capacity(iterations);
        for _ in 0..iterations {
            let started = Instant::now();
            let outcome = engine.run(request.clone()).await.unwrap();
            round_trips.push(started.elapsed());
            worker_times.push(outcome.duration);
        }
        // Paced: a request every 10 ms, as a worker sees traffic below its capacity; the spare
        // isolate is ready when each request arrives.
        let mut paced = Vec::with_capacity(iterations / 4);
        let mut paced_sandbox = Vec::with_capacity(iterations / 4);
        for _ in 0..iterations / 4 {
            tokio::time::sleep(Duration::from_millis(10)).await;
            let started = Instant::now();
            let outcome = engine.run(request.clone()).await.unwrap();
            paced.push(started.elapsed());
            paced_sandbox.push(outcome.duration);
        }
        let throughput_started = Instant::now();
        for _ in 0..200 {
            engine.run(request.clone()).await.unwrap();
        }
        let throughput = 200.0 / throughput_started.elapsed().as_secs_f64();
        worker_times.sort();
        round_trips.sort();
        paced.sort();
        paced_sandbox.sort();
        println!("workflow run, {iterations} warm runs on one isolate thread");
        println!("  engine start          {:>9.3} ms (V8 platform, first isolate)", engine_start.as_secs_f64() * 1e3);
        println!("  cold (first run)      {:>9.3} ms", cold.as_secs_f64() * 1e3);
        for (name, samples) in [
            ("sandbox time", &worker_times),
            ("sandbox time, paced", &paced_sandbox),
            ("engine.run, paced", &paced),
            ("engine.run, saturated", &round_trips),
        ] {
            println!(
                "  {name:<22}p50 {:>7.3} ms   p99 {:>7.3} ms",
                percentile(samples, 0.5).as_secs_f64() * 1e3,
                percentile(samples, 0.99).as_secs_f64() * 1e3
            );
        }
        println!("  saturated throughput  {throughput:>9.0} runs/s per isolate thread");
    });
}
