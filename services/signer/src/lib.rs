//! The signer: claimflow's security boundary.
//!
//! It answers `{prefix}signer.v1.issue` (queue group `signer`): re-checks every workflow patch
//! against the deployment's declared bindings, which it reads from the database itself, and the
//! prohibited-claim lists; merges what is permitted; signs (RS256 by default, ES256 or EdDSA with
//! `CLAIMFLOW_SIGNING_ALG`; `kid` in the header) on its own threads; and reports what it dropped.
//! It also answers `{prefix}signer.v1.jwks` with the public keys. Private keys never leave this
//! process.

pub mod keys;
pub mod merge;
pub mod pool;

use std::{
    collections::HashMap,
    path::PathBuf,
    sync::{Arc, Mutex},
    time::Duration,
};

use claimflow_contracts::{
    settings::WorkflowSettings,
    signer::{IssueRequest, IssueResponse, JwksRequest},
    workflow::WorkflowRef,
    Reply, ServiceError, ServiceErrorCode,
};
use claimflow_platform::{
    config::{self, CommonConfig, ConfigError},
    nats::{self, ServeOptions},
};
use claimflow_storage::Store;
use tokio_util::sync::CancellationToken;

use crate::{
    keys::{KeyRing, SigningAlgorithm},
    merge::{merge_patches, DeployedPermissions},
    pool::SigningPool,
};

#[derive(Debug, Clone)]
pub struct Config {
    pub common: CommonConfig,
    /// `CLAIMFLOW_SIGNER_KEY_DIR` (default `<data dir>/signing-keys`).
    pub key_dir: PathBuf,
    /// `CLAIMFLOW_SIGNING_ALG` (default `RS256`; `ES256`, `EdDSA`): the algorithm of the key that
    /// signs. Keys of other algorithms stay published until removed.
    pub signing_alg: SigningAlgorithm,
    /// `CLAIMFLOW_SIGNER_THREADS` (default: the number of CPUs): signatures computed at once.
    pub threads: usize,
    /// `CLAIMFLOW_SIGNER_CONCURRENCY` (default 64): requests in progress at once (decoding, the
    /// permission lookup, waiting for a signing thread).
    pub concurrency: usize,
    /// `CLAIMFLOW_MAX_CLAIMS_BYTES` (default 16384): the largest patch one workflow may add to
    /// one token, as JSON.
    pub max_patch_bytes: usize,
    /// `CLAIMFLOW_HEALTH_ADDR` (default `127.0.0.1:8081`, `off` to disable): `/healthz`,
    /// `/readyz`, `/metrics`.
    pub health_addr: Option<std::net::SocketAddr>,
}

impl Config {
    pub fn from_env() -> Result<Config, ConfigError> {
        let common = CommonConfig::from_env()?;
        Ok(Config {
            key_dir: config::var("CLAIMFLOW_SIGNER_KEY_DIR")
                .map(PathBuf::from)
                .unwrap_or_else(|| common.data_dir.join("signing-keys")),
            signing_alg: match config::var("CLAIMFLOW_SIGNING_ALG") {
                Some(name) => {
                    name.parse().map_err(|message: String| ConfigError::new("CLAIMFLOW_SIGNING_ALG", message))?
                }
                None => SigningAlgorithm::default(),
            },
            threads: config::parse_or(
                "CLAIMFLOW_SIGNER_THREADS",
                std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2),
            )?,
            concurrency: config::parse_or("CLAIMFLOW_SIGNER_CONCURRENCY", 64)?,
            max_patch_bytes: config::parse_or("CLAIMFLOW_MAX_CLAIMS_BYTES", 16 * 1024)?,
            health_addr: config::health_addr(std::net::SocketAddr::from(([127, 0, 0, 1], 8081)))?,
            common,
        })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Keys(#[from] keys::KeyError),
    #[error(transparent)]
    Storage(#[from] claimflow_storage::StorageError),
    #[error(transparent)]
    Nats(#[from] nats::ConnectError),
    #[error("cannot subscribe: {0}")]
    Subscribe(#[from] async_nats::SubscribeError),
    #[error(transparent)]
    HealthBind(#[from] claimflow_platform::health::BindError),
    #[error("cannot serve health and metrics on CLAIMFLOW_HEALTH_ADDR: {0}")]
    Health(#[source] std::io::Error),
    #[error("cannot start the signing threads: {0}")]
    Threads(#[source] std::io::Error),
}

/// Runs the signer until `shutdown` is cancelled; in-flight requests are answered first.
pub async fn run(config: Config, shutdown: CancellationToken) -> Result<(), Error> {
    let health_listener = claimflow_platform::health::bind(config.health_addr).await?;
    let keys = Arc::new(KeyRing::load_or_create(&config.key_dir, config.signing_alg)?);
    let store = Store::open(&config.common.database_url).await?;
    let client = nats::connect(&config.common.nats_url, "signer", config.common.nats_credentials.as_ref()).await?;
    let pool = SigningPool::start(config.threads).map_err(Error::Threads)?;
    let signer =
        Arc::new(Signer { keys, store, pool, max_patch_bytes: config.max_patch_bytes, settings: Mutex::default() });
    tracing::info!(kid = %signer.keys.active().kid, alg = %signer.keys.active().alg, threads = signer.pool.threads(), "signer ready");
    let prefix = &config.common.subject_prefix;

    let issuing = {
        let signer = signer.clone();
        nats::serve(
            client.clone(),
            ServeOptions { subject: IssueRequest::subject_for(prefix), concurrency: config.concurrency },
            shutdown.clone(),
            move |request: IssueRequest| {
                let signer = signer.clone();
                async move { signer.issue(request).await }
            },
        )
    };
    let publishing = {
        let signer = signer.clone();
        nats::serve(
            client.clone(),
            ServeOptions { subject: JwksRequest::subject_for(prefix), concurrency: 4 },
            shutdown.clone(),
            move |_: JwksRequest| {
                let signer = signer.clone();
                async move { Ok(signer.keys.jwks()) }
            },
        )
    };
    let health = {
        let (client, store) = (client.clone(), signer.store.clone());
        let ready: claimflow_platform::health::ReadinessCheck = std::sync::Arc::new(move || {
            let (client, store) = (client.clone(), store.clone());
            Box::pin(async move {
                claimflow_platform::health::nats_ready(&client)?;
                store.check_schema().await.map_err(|err| format!("database: {err}"))
            })
        });
        let shutdown = shutdown.clone();
        async move { claimflow_platform::health::serve(health_listener, ready, shutdown).await.map_err(Error::Health) }
    };
    let serving = async {
        tokio::try_join!(issuing, publishing)?;
        Ok::<(), Error>(())
    };
    tokio::try_join!(serving, health)?;
    let _ = tokio::time::timeout(Duration::from_secs(5), client.drain()).await;
    Ok(())
}

struct Signer {
    keys: Arc<KeyRing>,
    store: Store,
    pool: SigningPool,
    max_patch_bytes: usize,
    /// Deployed settings per deployment id. Deployments are immutable, so this never goes stale.
    settings: Mutex<HashMap<String, Arc<WorkflowSettings>>>,
}

impl Signer {
    #[tracing::instrument(name = "signer.issue", skip_all, fields(event_id = %request.event_id, kid = %self.keys.active().kid, rejected))]
    async fn issue(&self, request: IssueRequest) -> Reply<IssueResponse> {
        let result = self.issue_checked(request).await;
        claimflow_platform::metrics::METRICS
            .signer_operations
            .get_or_create(&claimflow_platform::metrics::SignerLabels {
                operation: "issue".to_owned(),
                outcome: if result.is_ok() { "ok" } else { "error" }.to_owned(),
            })
            .inc();
        result
    }

    async fn issue_checked(&self, request: IssueRequest) -> Reply<IssueResponse> {
        let settings = match &request.workflow {
            Some(workflow) => Some(self.deployed_settings(workflow).await?),
            None => None,
        };
        let max_patch_bytes = self.max_patch_bytes;
        let keys = self.keys.clone();
        // NOTE: merging and signing are CPU work: both run on a signing thread, and this task
        // only waits.
        let signed = self
            .pool
            .run(move || {
                let permissions = settings
                    .as_ref()
                    .zip(request.workflow.as_ref())
                    .map(|(settings, workflow)| DeployedPermissions { workflow, settings });
                let merged = merge_patches(
                    request.base_claims,
                    request.access_token_kind,
                    permissions,
                    request.patches,
                    max_patch_bytes,
                );
                let key = keys.active();
                let access_token = key.sign(&merged.access)?;
                let id_token = match merged.id {
                    Some(mut id) => {
                        // NOTE: set after the merge, so a workflow cannot bind the ID token to
                        // another token.
                        id.insert("at_hash".to_owned(), at_hash(key.alg, &access_token).into());
                        Some(key.sign(&id)?)
                    }
                    None => None,
                };
                Ok::<_, keys::SignError>(IssueResponse {
                    access_token,
                    id_token,
                    access_claims: merged.access,
                    rejected: merged.rejected,
                })
            })
            .await
            .map_err(|err| ServiceError::new(ServiceErrorCode::Internal, err.to_string()))?
            .map_err(|err| ServiceError::new(ServiceErrorCode::Internal, format!("signing failed: {err}")))?;
        tracing::Span::current().record("rejected", signed.rejected.len());
        for rejected in &signed.rejected {
            tracing::warn!(workflow_id = %rejected.workflow_id, token = rejected.token.as_str(), claim = %rejected.claim, reason = rejected.reason.describe(), "claim dropped");
        }
        Ok(signed)
    }

    /// The settings the dispatched deployment declared, read from the database (and cached).
    async fn deployed_settings(&self, workflow: &WorkflowRef) -> Result<Arc<WorkflowSettings>, ServiceError> {
        if let Some(cached) = self.settings.lock().expect("settings cache poisoned").get(&workflow.deployment_id) {
            return Ok(cached.clone());
        }
        let deployment = self
            .store
            .find_deployment(&workflow.deployment_id)
            .await
            .map_err(|err| ServiceError::new(ServiceErrorCode::Internal, err.to_string()))?
            .ok_or_else(|| {
                ServiceError::new(
                    ServiceErrorCode::NotFound,
                    format!("deployment {} not found", workflow.deployment_id),
                )
            })?;
        if deployment.workflow_id != workflow.workflow_id || deployment.version != workflow.version {
            return Err(ServiceError::new(
                ServiceErrorCode::BadRequest,
                format!(
                    "deployment {} is not version {} of {}",
                    workflow.deployment_id, workflow.version, workflow.workflow_id
                ),
            ));
        }
        let settings = Arc::new(deployment.settings.0);
        self.settings.lock().expect("settings cache poisoned").insert(workflow.deployment_id.clone(), settings.clone());
        Ok(settings)
    }
}

/// OpenID Connect Core §3.1.3.6: base64url of the left half of the access token's hash, with the
/// hash of the ID token's `alg`: SHA-256 for RS256 and ES256, SHA-512 for EdDSA with Ed25519 (as
/// the OpenID Foundation settled for EdDSA).
pub fn at_hash(alg: SigningAlgorithm, access_token: &str) -> String {
    use aws_lc_rs::digest;
    use base64::Engine;
    let algorithm = match alg {
        SigningAlgorithm::Rs256 | SigningAlgorithm::Es256 => &digest::SHA256,
        SigningAlgorithm::EdDsa => &digest::SHA512,
    };
    let digest = digest::digest(algorithm, access_token.as_bytes());
    let half = &digest.as_ref()[..digest.as_ref().len() / 2];
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(half)
}

#[cfg(test)]
mod tests {
    #[test]
    fn at_hash_matches_the_openid_connect_example() {
        // OpenID Connect Core, Appendix A.3 (ID Token with at_hash for the access token below).
        let access_token = "jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y";
        assert_eq!(super::at_hash(super::SigningAlgorithm::Rs256, access_token), "77QmUPtjPfzWtF2AnpK9RQ");
        // SHA-512's left half is 32 bytes: 43 characters of base64url.
        assert_eq!(super::at_hash(super::SigningAlgorithm::EdDsa, access_token).len(), 43);
    }
}
