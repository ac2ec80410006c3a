//! What a workflow adds to a token request: client_credentials requests against a whole stack
//! (real nats-server, SQLite, signer, worker), first with no workflow, then with a small claims
//! workflow. `cargo bench -p claimflow-e2e --bench token`.

use std::time::{Duration, Instant};

use claimflow_e2e::{m2m_workflow, Stack};

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

async fn measure(stack: &Stack, client_id: &str, client_secret: &str, iterations: usize) -> Vec<Duration> {
    let mut samples = Vec::with_capacity(iterations);
    for _ in 0..iterations {
        // Paced below capacity, as a service sees normal traffic.
        tokio::time::sleep(Duration::from_millis(5)).await;
        let started = Instant::now();
        stack.m2m_token(client_id, client_secret, "acme").await.expect("token");
        samples.push(started.elapsed());
    }
    samples.sort();
    samples
}

fn main() {
    let iterations: usize = std::env::var("BENCH_ITERATIONS").ok().and_then(|n| n.parse().ok()).unwrap_or(500);
    claimflow_e2e::engine();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let stack = Stack::start().await;
        let (client_id, client_secret) = stack.m2m_client_for("acme").await;
        measure(&stack, &client_id, &client_secret, 50).await;
        let without = measure(&stack, &client_id, &client_secret, iterations).await;
        let workflow = m2m_workflow(
            "bench",
            "",
            r#""kinde.m2mToken": {}"#,
            "  const claims = m2mTokenClaims();\n  claims.applicationId = event.context.application.clientId;\n  claims.audience = event.request.auth.audience[0];",
        );
        let (status, body) = stack.deploy(&[("kindeSrc/environment/workflows/bench/Workflow.ts", &workflow)]).await;
        assert_eq!(status, 200, "{body}");
        measure(&stack, &client_id, &client_secret, 50).await;
        let with = measure(&stack, &client_id, &client_secret, iterations).await;
        println!("token request (client_credentials), {iterations} requests each, paced 5 ms apart");
        for (name, samples) in [("without workflow", &without), ("with workflow", &with)] {
            println!(
                "  {name:<18}p50 {:>7.3} ms   p99 {:>7.3} ms",
                percentile(samples, 0.5).as_secs_f64() * 1e3,
                percentile(samples, 0.99).as_secs_f64() * 1e3
            );
        }
        let added = percentile(&with, 0.5).as_secs_f64() - percentile(&without, 0.5).as_secs_f64();
        println!("  added by the workflow, median: {:.3} ms", added * 1e3);
        // Where a request with a workflow spends its time: the median of each span, by name.
        claimflow_e2e::print_span_medians(iterations / 2);
        stack.stop().await.unwrap();
    });
}
