//! auth-service: claimflow's HTTP face.
//!
//! It authenticates OAuth clients, builds the base claims, asks the workflow-worker pool to run
//! the live workflow for the trigger, and asks the signer to sign. It owns the database (and
//! migrates it) and serves the management API. It never holds a private key.

mod authorize;
pub mod cache;
pub mod config;
mod discovery;
mod http_server;
mod http_trace;
mod issuance;
pub mod jwks;
pub mod mail;
mod management;
mod nul_bytes;
mod oauth;
pub mod openapi;
pub mod passwords;
mod records;
pub use claimflow_platform::secret_box;
pub mod secrets;
mod totp;
mod user_tokens;
mod userinfo;

use std::{net::SocketAddr, sync::Arc, time::Duration};

use axum::{
    extract::State,
    http::StatusCode,
    routing::{get, post},
    Router,
};
use claimflow_contracts::{
    workflow::{WorkflowCode, WorkflowCodeRequest},
    ServiceError, ServiceErrorCode,
};
use claimflow_platform::nats::{self, ServeOptions};
use claimflow_storage::{ManagementBootstrap, Store};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

pub use config::{AdminCredentials, Config};
pub use http_server::HttpLimits;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Storage(#[from] claimflow_storage::StorageError),
    #[error(transparent)]
    Nats(#[from] nats::ConnectError),
    #[error("cannot subscribe: {0}")]
    Subscribe(#[from] async_nats::SubscribeError),
    #[error("cannot listen on {addr} (CLAIMFLOW_HTTP_ADDR): {source}")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("HTTP server failed: {0}")]
    Serve(#[source] std::io::Error),
    #[error(transparent)]
    Records(#[from] records::RecordsError),
}

/// Shared by every handler; cheap to clone.
#[derive(Clone)]
pub struct AppState {
    config: Arc<Config>,
    store: Store,
    nats: async_nats::Client,
    /// Workflow runs and signing requests: sent again to another instance if the one holding
    /// them dies.
    dispatcher: claimflow_platform::dispatch::Dispatcher,
    jwks: jwks::JwksCache,
    cache: Arc<cache::TokenPathCache>,
    records: records::Records,
}

impl AppState {
    /// After a change through the management API: this replica's caches are emptied now, and
    /// every other replica's when it hears of it.
    async fn announce_change(&self) {
        self.cache.invalidate();
        let message = cache::CacheInvalidation { origin: format!("auth-service {}", std::process::id()) };
        let subject = cache::CacheInvalidation::subject_for(&self.config.common.subject_prefix);
        let payload = serde_json::to_vec(&message).unwrap_or_default();
        if let Err(err) = self.nats.publish(subject, payload.into()).await {
            tracing::warn!(%err, "cannot tell the other auth-service replicas to empty their caches");
        }
    }
}

/// Binds `CLAIMFLOW_HTTP_ADDR` and runs until `shutdown` is cancelled.
pub async fn run(config: Config, shutdown: CancellationToken) -> Result<(), Error> {
    let listener =
        TcpListener::bind(config.http_addr).await.map_err(|source| Error::Bind { addr: config.http_addr, source })?;
    run_with_listener(config, listener, shutdown).await
}

/// Runs on an already-bound listener (tests bind port 0 first to learn the issuer URL).
pub async fn run_with_listener(
    config: Config,
    listener: TcpListener,
    shutdown: CancellationToken,
) -> Result<(), Error> {
    let store = Store::open_and_migrate(&config.common.database_url).await?;
    let management_audience = config.management_audience();
    let management_api = management::ManagementApi::new(&config.issuer);
    let scopes = management_api.scopes();
    store
        .bootstrap_management_api(ManagementBootstrap {
            audience: &management_audience,
            scopes: &scopes.iter().map(String::as_str).collect::<Vec<_>>(),
            admin_client_id: &config.admin.client_id,
            admin_secret_hash: &secrets::hash_secret(&config.admin.client_secret),
        })
        .await?;
    tokio::spawn(purge_sign_in_state(store.clone(), config.login_throttle.window, shutdown.clone()));
    let cache = Arc::new(cache::TokenPathCache::default());
    // NOTE: while cut off from NATS, this replica may have missed invalidations: it forgets
    // everything it cached when the connection comes back.
    let on_reconnect = {
        let cache = cache.clone();
        move || cache.invalidate()
    };
    let client = nats::connect_with_reconnect_hook(
        &config.common.nats_url,
        "auth-service",
        config.common.nats_credentials.as_ref(),
        on_reconnect,
    )
    .await?;
    let prefix = config.common.subject_prefix.clone();
    let records = records::Records::setup(client.clone(), &prefix, store.clone()).await?;
    let record_writer = tokio::spawn(records::write_to_database(records.clone(), store.clone(), shutdown.clone()));
    let state = AppState {
        jwks: jwks::JwksCache::new(client.clone(), prefix.clone()),
        config: Arc::new(config),
        store: store.clone(),
        nats: client.clone(),
        dispatcher: claimflow_platform::dispatch::Dispatcher::new(client.clone()).await.map_err(Error::Subscribe)?,
        cache: cache.clone(),
        records,
    };
    let invalidations =
        tokio::spawn(cache::follow_invalidations(client.clone(), prefix.clone(), cache, shutdown.clone()));
    let key_changes = tokio::spawn(state.jwks.clone().follow_key_changes(shutdown.clone()));
    // The bootstrap may have changed the admin application (a new secret from the environment).
    state.announce_change().await;

    // Workers fetch a deployment's code by content hash on a cache miss.
    let code_server = {
        let store = store.clone();
        tokio::spawn(nats::serve(
            client.clone(),
            ServeOptions { subject: WorkflowCodeRequest::subject_for(&prefix), concurrency: 8 },
            shutdown.clone(),
            move |request: WorkflowCodeRequest| {
                let store = store.clone();
                async move {
                    match store.deployment_by_code_hash(&request.code_hash).await {
                        Ok(Some(deployment)) => Ok(WorkflowCode {
                            code_hash: request.code_hash,
                            code: deployment.code,
                            source_path: deployment.source_path,
                            source_map: deployment.source_map,
                            graph: deployment.modules.map(|stored| stored.0).unwrap_or_default(),
                        }),
                        Ok(None) => Err(ServiceError::new(
                            ServiceErrorCode::NotFound,
                            format!("no workflow code with hash {}", request.code_hash),
                        )),
                        Err(err) => Err(ServiceError::new(ServiceErrorCode::Internal, err.to_string())),
                    }
                }
            },
        ))
    };

    let limits = state.config.http_limits;
    let app = router(state, management_api);
    let addr = listener.local_addr().map_err(Error::Serve)?;
    tracing::info!(%addr, "auth-service listening");
    http_server::serve(listener, app, limits, shutdown.clone()).await.map_err(Error::Serve)?;
    shutdown.cancel();
    match code_server.await {
        Ok(result) => result?,
        Err(err) => tracing::error!(%err, "code server task failed"),
    }
    if let Err(err) = record_writer.await {
        tracing::error!(%err, "records writer task failed");
    }
    match invalidations.await {
        Ok(result) => result?,
        Err(err) => tracing::error!(%err, "cache invalidation task failed"),
    }
    match key_changes.await {
        Ok(result) => result?,
        Err(err) => tracing::error!(%err, "key change task failed"),
    }
    let _ = tokio::time::timeout(Duration::from_secs(5), client.drain()).await;
    Ok(())
}

fn router(state: AppState, management_api: management::ManagementApi) -> Router {
    Router::new()
        .route("/oauth2/token", post(oauth::token))
        .route("/oauth2/auth", get(authorize::authorize).post(authorize::sign_in))
        .route("/oauth2/signup", post(authorize::sign_up))
        .route("/oauth2/verify", post(authorize::verify_email))
        .route("/oauth2/reset", get(authorize::forgot_password).post(authorize::send_reset_code))
        .route("/oauth2/reset/confirm", post(authorize::reset_password))
        .route("/oauth2/mfa", post(authorize::second_factor))
        .route("/oauth2/userinfo", get(userinfo::userinfo).post(userinfo::userinfo))
        .route("/oauth2/v2/user_profile", get(userinfo::userinfo))
        .route("/oauth2/revoke", post(oauth::revoke))
        .route("/logout", get(authorize::logout))
        .route("/.well-known/openid-configuration", get(discovery::openid_configuration))
        .route("/.well-known/jwks.json", get(discovery::jwks))
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(ready))
        .route("/metrics", get(|| async { claimflow_platform::metrics::METRICS.render() }))
        .nest(
            "/api/v1",
            management_api
                .into_router(state.clone())
                .layer(axum::middleware::from_fn_with_state(state.clone(), management::announce_changes)),
        )
        .layer(axum::middleware::from_fn(nul_bytes::refuse_nul))
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            state.config.http_limits.request_timeout,
        ))
        .layer(http_trace::layer())
        .with_state(state)
}

/// Every ten minutes, deletes expired sessions, codes, refresh tokens and old failed sign-ins.
async fn purge_sign_in_state(store: Store, failure_window: Duration, shutdown: CancellationToken) {
    let mut interval = tokio::time::interval(Duration::from_secs(600));
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = interval.tick() => {}
        }
        let window = failure_window.as_millis() as i64;
        match store.purge_expired_sign_in_state(claimflow_storage::now_ms(), window).await {
            Ok(0) => {}
            Ok(purged) => tracing::info!(purged, "expired sign-in state deleted"),
            Err(err) => tracing::warn!(%err, "cannot delete expired sign-in state"),
        }
    }
}

/// Ready when NATS is connected and the database answers.
async fn ready(State(state): State<AppState>) -> (StatusCode, &'static str) {
    if state.nats.connection_state() != async_nats::connection::State::Connected {
        return (StatusCode::SERVICE_UNAVAILABLE, "nats: not connected");
    }
    if state.store.ping().await.is_err() {
        return (StatusCode::SERVICE_UNAVAILABLE, "database: not reachable");
    }
    // NOTE: ready means a token can be issued: a signer has answered with its keys (cached, so
    // this asks it once per cache lifetime, not per probe).
    if state.jwks.document().await.is_err() {
        return (StatusCode::SERVICE_UNAVAILABLE, "signer: no signer has answered");
    }
    (StatusCode::OK, "ready")
}
