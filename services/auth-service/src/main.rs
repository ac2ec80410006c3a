use anyhow::Context;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let telemetry = claimflow_platform::telemetry::init("auth-service")?;
    let config = auth_service::Config::from_env()?;
    let shutdown = claimflow_platform::shutdown::on_signal();
    let result = auth_service::run(config, shutdown).await.context("auth-service failed");
    tokio::task::spawn_blocking(move || telemetry.shutdown()).await?;
    result
}
