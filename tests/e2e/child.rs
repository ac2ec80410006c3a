//! Not tests: the entry points of the service processes the harness starts in child processes
//! (`Stack::spawn_auth_service`, `Stack::spawn_worker`), so that a test can kill a service with
//! SIGKILL.

use claimflow_e2e::CHILD_SERVICE;
use tokio_util::sync::CancellationToken;

#[test]
#[ignore = "started by the harness as a child process"]
fn auth_service_process() {
    if std::env::var(CHILD_SERVICE).as_deref() != Ok("auth-service") {
        return;
    }
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("a tokio runtime");
    runtime.block_on(async {
        let config = auth_service::Config::from_env().expect("the auth-service configuration");
        auth_service::run(config, CancellationToken::new()).await.expect("auth-service runs");
    });
}

#[test]
#[ignore = "started by the harness as a child process"]
fn worker_process() {
    if std::env::var(CHILD_SERVICE).as_deref() != Ok("workflow-worker") {
        return;
    }
    let config = workflow_worker::Config::from_env().expect("the workflow-worker configuration");
    // NOTE: V8's platform is initialized on the main thread, before any isolate thread.
    let engine = claimflow_workflow_runtime::Engine::start(config.threads).expect("the workflow engine starts");
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("a tokio runtime");
    runtime.block_on(async {
        workflow_worker::run(config, engine, CancellationToken::new()).await.expect("the workflow-worker runs");
    });
}
