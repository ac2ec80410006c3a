//! The signer: claimflow's security boundary.
//!
//! It answers `{prefix}signer.v1.issue` (queue group `signer`): re-checks every workflow patch
//! against the deployment's declared bindings, which it reads from the database itself, and the
//! prohibited-claim lists; merges what is permitted; signs with RS256 (`kid` in the header); and
//! reports what it dropped. It also answers `{prefix}signer.v1.jwks` with the public keys.
//! Private keys never leave this process.

pub mod keys;
pub mod merge;

use std::{
    collections::{HashMap, HashSet},
    path::PathBuf,
    sync::{Arc, Mutex},
    time::Duration,
};

use claimflow_contracts::{
    queue_groups,
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
    keys::KeyRing,
    merge::{merge_patches, DeployedPermissions},
};

#[derive(Debug, Clone)]
pub struct Config {
    pub common: CommonConfig,
    /// `CLAIMFLOW_SIGNER_KEY_DIR` (default `<data dir>/signing-keys`).
    pub key_dir: PathBuf,
    /// `CLAIMFLOW_SIGNER_CONCURRENCY` (default 16): requests signed at once.
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
            concurrency: config::parse_or("CLAIMFLOW_SIGNER_CONCURRENCY", 16)?,
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
    #[error("cannot serve health and metrics on CLAIMFLOW_HEALTH_ADDR: {0}")]
    Health(#[source] std::io::Error),
}

/// Runs the signer until `shutdown` is cancelled; in-flight requests are answered first.
pub async fn run(config: Config, shutdown: CancellationToken) -> Result<(), Error> {
    let keys = KeyRing::load_or_create(&config.key_dir)?;
    let store = Store::open(&config.common.database_url).await?;
    let client = nats::connect(&config.common.nats_url, "signer", config.common.nats_credentials.as_ref()).await?;
    let signer = Arc::new(Signer { keys, store, max_patch_bytes: config.max_patch_bytes, bindings: Mutex::default() });
    tracing::info!(kid = %signer.keys.active().kid, "signer ready");
    let prefix = &config.common.subject_prefix;

    let issuing = {
        let signer = signer.clone();
        nats::serve(
            client.clone(),
            ServeOptions {
                subject: IssueRequest::subject_for(prefix),
                queue_group: queue_groups::SIGNER.to_owned(),
                concurrency: config.concurrency,
            },
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
            ServeOptions {
                subject: JwksRequest::subject_for(prefix),
                queue_group: queue_groups::SIGNER.to_owned(),
                concurrency: 4,
            },
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
                store.ping().await.map_err(|err| format!("database: {err}"))
            })
        });
        let shutdown = shutdown.clone();
        async move {
            match config.health_addr {
                Some(addr) => claimflow_platform::health::serve(addr, ready, shutdown).await.map_err(Error::Health),
                None => Ok(()),
            }
        }
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
    keys: KeyRing,
    store: Store,
    max_patch_bytes: usize,
    /// Declared bindings per deployment id. Deployments are immutable, so this never goes stale.
    bindings: Mutex<HashMap<String, Arc<HashSet<String>>>>,
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
        let bindings = match &request.workflow {
            Some(workflow) => Some(self.deployed_bindings(workflow).await?),
            None => None,
        };
        let permissions = match (&request.workflow, &bindings) {
            (Some(workflow), Some(bindings)) => Some(DeployedPermissions { workflow, bindings }),
            _ => None,
        };
        let merged = merge_patches(
            request.base_claims,
            request.access_token_kind,
            permissions,
            request.patches,
            self.max_patch_bytes,
        );
        tracing::Span::current().record("rejected", merged.rejected.len());
        for rejected in &merged.rejected {
            tracing::warn!(workflow_id = %rejected.workflow_id, token = rejected.token.as_str(), claim = %rejected.claim, reason = rejected.reason.describe(), "claim dropped");
        }
        let key = self.keys.active();
        let sign = |claims| {
            key.sign(claims)
                .map_err(|err| ServiceError::new(ServiceErrorCode::Internal, format!("signing failed: {err}")))
        };
        let access_token = sign(&merged.access)?;
        let id_token = match merged.id {
            Some(mut id) => {
                // NOTE: set after the merge, so a workflow cannot bind the ID token to another token.
                id.insert("at_hash".to_owned(), at_hash(&access_token).into());
                Some(sign(&id)?)
            }
            None => None,
        };
        Ok(IssueResponse { access_token, id_token, access_claims: merged.access, rejected: merged.rejected })
    }

    /// The bindings the dispatched deployment declared, read from the database (and cached).
    async fn deployed_bindings(&self, workflow: &WorkflowRef) -> Result<Arc<HashSet<String>>, ServiceError> {
        if let Some(cached) = self.bindings.lock().expect("bindings cache poisoned").get(&workflow.deployment_id) {
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
        let bindings: HashSet<String> = deployment
            .settings
            .get("bindings")
            .and_then(|bindings| bindings.as_object())
            .map(|bindings| bindings.keys().cloned().collect())
            .unwrap_or_default();
        let bindings = Arc::new(bindings);
        self.bindings.lock().expect("bindings cache poisoned").insert(workflow.deployment_id.clone(), bindings.clone());
        Ok(bindings)
    }
}

/// OpenID Connect Core §3.1.3.6: base64url of the left half of SHA-256 of the access token (RS256).
pub fn at_hash(access_token: &str) -> String {
    use base64::Engine;
    use sha2::Digest;
    let digest = sha2::Sha256::digest(access_token.as_bytes());
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&digest[..16])
}

#[cfg(test)]
mod tests {
    #[test]
    fn at_hash_matches_the_openid_connect_example() {
        // OpenID Connect Core, Appendix A.3 (ID Token with at_hash for the access token below).
        assert_eq!(super::at_hash("jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y"), "77QmUPtjPfzWtF2AnpK9RQ");
    }
}
