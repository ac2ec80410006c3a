use anyhow::Context;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let telemetry = claimflow_platform::telemetry::init("signer")?;
    let config = signer::Config::from_env()?;
    let shutdown = claimflow_platform::shutdown::on_signal();
    let result = signer::run(config, shutdown).await.context("signer failed");
    tokio::task::spawn_blocking(move || telemetry.shutdown()).await?;
    result
}
