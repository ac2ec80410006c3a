use anyhow::Context;
use claimflow_workflow_runtime::Engine;

fn main() -> anyhow::Result<()> {
    let config = workflow_worker::Config::from_env()?;
    // NOTE: V8's platform is initialized here, on the main thread, before any isolate thread.
    let engine =
        Engine::start_with_heap(config.threads, config.heap_bytes).context("cannot start the workflow engine")?;
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async move {
        let telemetry = claimflow_platform::telemetry::init("workflow-worker")?;
        let shutdown = claimflow_platform::shutdown::on_signal();
        let result = workflow_worker::run(config, engine, shutdown).await.context("workflow-worker failed");
        tokio::task::spawn_blocking(move || telemetry.shutdown()).await?;
        result
    })
}
