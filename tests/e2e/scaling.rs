//! Workers scale out by starting more of them, and one stops without failing a request.

use std::{
    collections::BTreeSet,
    sync::{
        atomic::{AtomicBool, AtomicUsize, Ordering},
        Arc,
    },
    time::Duration,
};

use claimflow_e2e::{m2m_workflow, Stack};

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
