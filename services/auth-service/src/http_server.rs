//! The HTTP server loop: hyper with a header-read timeout, a bound on open connections, and a
//! graceful drain. (`axum::serve` offers neither the timeout nor the bound.)

use std::{net::SocketAddr, sync::Arc, time::Duration};

use axum::{extract::ConnectInfo, Extension, Router};
use hyper_util::{
    rt::{TokioExecutor, TokioIo, TokioTimer},
    server::{conn::auto, graceful::GracefulShutdown},
    service::TowerToHyperService,
};
use tokio::{net::TcpListener, sync::Semaphore};
use tokio_util::sync::CancellationToken;

/// How long a client may take, and how many may be connected at once.
#[derive(Debug, Clone, Copy)]
pub struct HttpLimits {
    /// `CLAIMFLOW_HTTP_HEADER_TIMEOUT_SECS` (default 10): from a connection's first byte (or the
    /// previous response) to the end of the request's headers; then the connection is closed.
    pub header_timeout: Duration,
    /// `CLAIMFLOW_HTTP_REQUEST_TIMEOUT_SECS` (default 30): reading the body and answering; then
    /// 408.
    pub request_timeout: Duration,
    /// `CLAIMFLOW_HTTP_MAX_CONNECTIONS` (default 4096): connections open at once; more wait in
    /// the listen queue until one closes.
    pub max_connections: usize,
}

impl Default for HttpLimits {
    fn default() -> Self {
        HttpLimits {
            header_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(30),
            max_connections: 4096,
        }
    }
}

/// How long open connections get to finish after `shutdown`.
const DRAIN: Duration = Duration::from_secs(10);

/// Serves `app` on `listener` until `shutdown`, then lets open requests finish (at most
/// [`DRAIN`]).
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: HttpLimits,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    let connections = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let graceful = GracefulShutdown::new();
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder.http1().timer(TokioTimer::new()).header_read_timeout(limits.header_timeout);
    builder.http2().timer(TokioTimer::new());
    loop {
        let permit = tokio::select! {
            permit = connections.clone().acquire_owned() => permit.expect("the semaphore is never closed"),
            _ = shutdown.cancelled() => break,
        };
        let (stream, remote) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(err) => {
                    // NOTE: e.g. EMFILE: wait a moment rather than spin on a failing accept.
                    tracing::warn!(%err, "cannot accept a connection");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = shutdown.cancelled() => break,
        };
        let _ = stream.set_nodelay(true);
        let service = TowerToHyperService::new(app.clone().layer(Extension(ConnectInfo::<SocketAddr>(remote))));
        let connection =
            graceful.watch(builder.serve_connection_with_upgrades(TokioIo::new(stream), service).into_owned());
        tokio::spawn(async move {
            if let Err(err) = connection.await {
                tracing::debug!(%remote, err = %err, "connection ended with an error");
            }
            drop(permit);
        });
    }
    drop(listener);
    if tokio::time::timeout(DRAIN, graceful.shutdown()).await.is_err() {
        tracing::warn!("open HTTP connections did not finish within {DRAIN:?}; closing them");
    }
    Ok(())
}
