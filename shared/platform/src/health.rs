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

/// Serves the health routes on `addr` until `shutdown`.
pub async fn serve(addr: SocketAddr, ready: ReadinessCheck, shutdown: CancellationToken) -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    tracing::info!(addr = %listener.local_addr()?, "health and metrics listening");
    axum::serve(listener, routes::<()>(ready)).with_graceful_shutdown(shutdown.cancelled_owned()).await
}
