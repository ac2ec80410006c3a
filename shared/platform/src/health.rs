//! `/healthz` (alive), `/readyz` (connected to what the service needs) and `/metrics` for
//! services without an HTTP API of their own (signer, workflow-worker).

use std::{future::Future, net::SocketAddr, pin::Pin, sync::Arc};

use axum::{http::StatusCode, routing::get, Router};
use tokio_util::sync::CancellationToken;

/// Answers whether the service can do its work, and if not, why.
pub type ReadinessCheck = Arc<dyn Fn() -> Pin<Box<dyn Future<Output = Result<(), String>> + Send>> + Send + Sync>;

/// The health routes, for services that already run an HTTP server.
pub fn routes<S: Clone + Send + Sync + 'static>(ready: ReadinessCheck) -> Router<S> {
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route(
            "/readyz",
            get(move || {
                let ready = ready.clone();
                async move {
                    match ready().await {
                        Ok(()) => (StatusCode::OK, "ready".to_owned()),
                        Err(why) => (StatusCode::SERVICE_UNAVAILABLE, why),
                    }
                }
            }),
        )
        .route("/metrics", get(|| async { crate::metrics::METRICS.render() }))
}

/// The readiness of a NATS connection.
pub fn nats_ready(client: &async_nats::Client) -> Result<(), String> {
    match client.connection_state() {
        async_nats::connection::State::Connected => Ok(()),
        state => Err(format!("nats: {state}")),
    }
}

/// `CLAIMFLOW_HEALTH_ADDR` could not be bound.
#[derive(Debug, thiserror::Error)]
#[error(
    "cannot listen on {addr} (CLAIMFLOW_HEALTH_ADDR): {source}; give each process on this host its own \
     address, e.g. CLAIMFLOW_HEALTH_ADDR=127.0.0.1:0 for any free port, or off"
)]
pub struct BindError {
    pub addr: SocketAddr,
    #[source]
    pub source: std::io::Error,
}

/// The health listener for `addr` (`None` when turned off). Bound before the service says it is
/// ready, so a taken port stops it at start rather than after.
pub async fn bind(addr: Option<SocketAddr>) -> Result<Option<tokio::net::TcpListener>, BindError> {
    let Some(addr) = addr else { return Ok(None) };
    let listener = tokio::net::TcpListener::bind(addr).await.map_err(|source| BindError { addr, source })?;
    if let Ok(bound) = listener.local_addr() {
        tracing::info!(addr = %bound, "health and metrics listening");
    }
    Ok(Some(listener))
}

/// Serves the health routes on `listener` (if any) until `shutdown`.
pub async fn serve(
    listener: Option<tokio::net::TcpListener>,
    ready: ReadinessCheck,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    let Some(listener) = listener else { return Ok(()) };
    axum::serve(listener, routes::<()>(ready)).with_graceful_shutdown(shutdown.cancelled_owned()).await
}
