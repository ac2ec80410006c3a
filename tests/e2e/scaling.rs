//! Workers scale out by starting more of them; one stops, or dies in the middle of runs, without
//! failing a request.

use std::{
    collections::BTreeSet,
    sync::{
        atomic::{AtomicBool, AtomicUsize, Ordering},
        Arc,
    },
    time::Duration,
};

use claimflow_e2e::{m2m_workflow, ServiceProcess, Stack, StackOptions};

async fn stack_with_workflow() -> (Stack, String, String) {
    let stack = Stack::start().await;
    let (client_id, client_secret) = stack.m2m_client_for("acme").await;
    let workflow = m2m_workflow("w", "", r#""kinde.m2mToken": {}"#, r#"  kinde.m2mToken.setCustomClaim("ok", true);"#);
    assert_eq!(stack.deploy(&[("kindeSrc/environment/workflows/w/Workflow.ts", &workflow)]).await.0, 200);
    (stack, client_id, client_secret)
}

#[tokio::test]
async fn token_requests_spread_over_every_worker() {
    let (stack, client_id, client_secret) = stack_with_workflow().await;
    let _second = stack.add_worker("worker-1");
    let _third = stack.add_worker("worker-2");
    tokio::time::sleep(Duration::from_millis(200)).await;
    for _ in 0..10 {
        let requests = (0..6).map(|_| stack.m2m_token(&client_id, &client_secret, "acme"));
        for result in futures::future::join_all(requests).await {
            result.expect("token issued");
        }
    }
    let workers: BTreeSet<String> =
        stack.runs().await.iter().map(|run| run["worker_id"].as_str().unwrap().to_owned()).collect();
    assert_eq!(workers, BTreeSet::from(["worker-0".into(), "worker-1".into(), "worker-2".into()]));
}

#[tokio::test]
async fn a_worker_stopped_under_load_drains_without_failing_a_request() {
    let (stack, client_id, client_secret) = stack_with_workflow().await;
    let (stop, stopped) = stack.add_worker("worker-1");
    tokio::time::sleep(Duration::from_millis(200)).await;
    let stack = Arc::new(stack);
    let running = Arc::new(AtomicBool::new(true));
    let (issued, failed) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let mut streams = Vec::new();
    for _ in 0..3 {
        let (stack, running, issued, failed) = (stack.clone(), running.clone(), issued.clone(), failed.clone());
        let (client_id, client_secret) = (client_id.clone(), client_secret.clone());
        streams.push(tokio::spawn(async move {
            while running.load(Ordering::SeqCst) {
                match stack.m2m_token(&client_id, &client_secret, "acme").await {
                    Ok(_) => issued.fetch_add(1, Ordering::SeqCst),
                    Err((status, body)) => {
                        eprintln!("request failed: {status} {body}");
                        failed.fetch_add(1, Ordering::SeqCst)
                    }
                };
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(700)).await;
    stop.cancel();
    stopped.await.unwrap().expect("the worker drains and stops cleanly");
    tokio::time::sleep(Duration::from_millis(700)).await;
    running.store(false, Ordering::SeqCst);
    for stream in streams {
        stream.await.unwrap();
    }
    assert_eq!(failed.load(Ordering::SeqCst), 0, "requests failed while a worker stopped");
    assert!(issued.load(Ordering::SeqCst) > 20, "the stream was too thin to prove anything");
    let runs = stack.runs().await;
    assert!(runs.iter().any(|run| run["worker_id"] == "worker-1"), "the stopped worker never served");
    assert!(runs.iter().any(|run| run["worker_id"] == "worker-0"));
}

/// A stack on the shipped NATS permissions whose only worker is in a process of its own (to be
/// killed), and a workflow that keeps a worker busy for 800 ms.
async fn stack_with_slow_workflow() -> (Stack, ServiceProcess, String, String) {
    let stack = Stack::start_with(StackOptions { secured_nats: true, worker: false, ..StackOptions::default() }).await;
    let doomed = stack.spawn_worker("doomed").await;
    let (client_id, client_secret) = stack.m2m_client_for("acme").await;
    let body = r#"  const until = Date.now() + 800;
  while (Date.now() < until) {}
  kinde.m2mToken.setCustomClaim("ran", true);"#;
    let workflow = m2m_workflow("slow", "", r#""kinde.m2mToken": {}"#, body);
    assert_eq!(stack.deploy(&[("kindeSrc/environment/workflows/slow/Workflow.ts", &workflow)]).await.0, 200);
    (stack, doomed, client_id, client_secret)
}

#[tokio::test]
async fn a_worker_killed_mid_run_loses_no_request() {
    let (stack, doomed, client_id, client_secret) = stack_with_slow_workflow().await;
    // NOTE: while it is the only worker, every request below is held by the doomed one.
    let requests: Vec<_> = (0..6).map(|_| stack.m2m_token(&client_id, &client_secret, "acme")).collect();
    let all = futures::future::join_all(requests);
    let kill_later = async {
        let survivor = stack.spawn_worker("survivor").await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        doomed.kill();
        survivor
    };
    let (results, _survivor) = tokio::join!(all, kill_later);
    for result in results {
        let token = result.expect("a run whose worker died is served by another worker");
        let claims = stack.verify(token["access_token"].as_str().unwrap(), "acme").await.expect("the token verifies");
        assert_eq!(claims["ran"], true, "the workflow's claim is in the token");
    }
    let runs = stack.runs().await;
    assert!(runs.iter().any(|run| run["worker_id"] == "survivor"), "no run was sent again to the survivor: {runs:?}");
}

#[tokio::test]
async fn a_run_whose_only_worker_died_gets_a_prompt_503() {
    let (stack, doomed, client_id, client_secret) = stack_with_slow_workflow().await;
    let request = stack.m2m_token(&client_id, &client_secret, "acme");
    let kill_later = async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        doomed.kill();
        std::time::Instant::now()
    };
    let (result, killed_at) = tokio::join!(request, kill_later);
    let answered_after = killed_at.elapsed();
    let (status, body) = result.expect_err("no worker is left to run the workflow");
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["error"], "temporarily_unavailable");
    assert!(body["error_description"].as_str().unwrap().contains("no workflow-worker is running"), "{body}");
    // NOTE: not a timing assertion on speed, a bound on waiting out the 6 s deadline.
    assert!(answered_after < Duration::from_secs(4), "the client waited {answered_after:?} for its 503");
}
