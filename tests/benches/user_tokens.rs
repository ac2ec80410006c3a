//! User tokens against a whole stack (real nats-server, SQLite, signer, worker): a full sign-in
//! (login page, argon2id password check, code exchange) and a refresh, each without and with a
//! `user:tokens_generation` workflow. `cargo bench -p claimflow-e2e --bench user_tokens`.

use std::time::{Duration, Instant};

use claimflow_e2e::{Stack, WebApp};

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

const PASSWORD: &str = "correct horse battery";

async fn sign_ins(stack: &Stack, app: &WebApp, iterations: usize) -> (Vec<Duration>, String) {
    let mut samples = Vec::with_capacity(iterations);
    let mut refresh_token = String::new();
    for _ in 0..iterations {
        tokio::time::sleep(Duration::from_millis(5)).await;
        let started = Instant::now();
        let tokens = stack.user_tokens(app, "ada@example.com", PASSWORD, &[]).await;
        samples.push(started.elapsed());
        refresh_token = tokens["refresh_token"].as_str().expect("refresh token").to_owned();
    }
    samples.sort();
    (samples, refresh_token)
}

async fn refreshes(stack: &Stack, app: &WebApp, mut refresh_token: String, iterations: usize) -> Vec<Duration> {
    let mut samples = Vec::with_capacity(iterations);
    for _ in 0..iterations {
        tokio::time::sleep(Duration::from_millis(5)).await;
        let started = Instant::now();
        let (status, tokens) = stack.refresh(app, &refresh_token).await;
        samples.push(started.elapsed());
        assert_eq!(status, 200, "{tokens}");
        refresh_token = tokens["refresh_token"].as_str().expect("rotated refresh token").to_owned();
    }
    samples.sort();
    samples
}

fn report(name: &str, samples: &[Duration]) {
    println!(
        "  {name:<34}p50 {:>7.3} ms   p99 {:>7.3} ms",
        percentile(samples, 0.5).as_secs_f64() * 1e3,
        percentile(samples, 0.99).as_secs_f64() * 1e3
    );
}

fn main() {
    let iterations: usize = std::env::var("BENCH_ITERATIONS").ok().and_then(|n| n.parse().ok()).unwrap_or(200);
    claimflow_e2e::engine();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let stack = Stack::start().await;
        stack.user_with_password("ada@example.com", "Ada", "Lovelace", PASSWORD).await;
        let app = stack.web_app("reg").await;
        let (_, warm) = sign_ins(&stack, &app, 10).await;
        let (sign_in_plain, token) = sign_ins(&stack, &app, iterations).await;
        let refresh_plain = refreshes(&stack, &app, warm, iterations).await;
        stack
            .deploy_user_workflow(
                r#"import { WorkflowSettings, WorkflowTrigger, accessTokenCustomClaims, idTokenCustomClaims } from "@kinde/infrastructure";
export const workflowSettings: WorkflowSettings = {
  id: "bench",
  trigger: WorkflowTrigger.UserTokenGeneration,
  bindings: { "kinde.accessToken": {}, "kinde.idToken": {} },
};
export default async function Workflow(event: any) {
  accessTokenCustomClaims<{ companyName: string }>().companyName = "Acme";
  idTokenCustomClaims<{ origin: string }>().origin = event.context.auth.origin;
}
"#,
            )
            .await;
        sign_ins(&stack, &app, 10).await;
        let (sign_in_workflow, _) = sign_ins(&stack, &app, iterations).await;
        let refresh_workflow = refreshes(&stack, &app, token, iterations).await;
        println!("user tokens, {iterations} requests each, paced 5 ms apart");
        report("sign-in (page, password, code)", &sign_in_plain);
        report("sign-in with workflow", &sign_in_workflow);
        report("refresh_token grant", &refresh_plain);
        report("refresh_token grant with workflow", &refresh_workflow);
        let added = percentile(&refresh_workflow, 0.5).as_secs_f64() - percentile(&refresh_plain, 0.5).as_secs_f64();
        println!("  added to a refresh by the workflow, median: {:.3} ms", added * 1e3);
        claimflow_e2e::print_span_medians(iterations);
    });
}
