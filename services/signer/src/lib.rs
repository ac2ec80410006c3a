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
    sync::{atomic::Ordering, Arc, Mutex, RwLock},
    time::Duration,
};

use claimflow_contracts::{
    settings::WorkflowSettings,
    signer::{IssueRequest, IssueResponse, JwksRequest, KeyCommand, KeyInfo},
    workflow::WorkflowRef,
    Reply, ServiceError, ServiceErrorCode,
};
use claimflow_platform::{
    config::{self, CommonConfig, ConfigError},
    nats::{self, ServeOptions},
    secret_box::SecretBox,
};
use claimflow_storage::{entity::signing_key, Store};
use tokio_util::sync::CancellationToken;

use crate::{
    keys::{KeyRing, SigningAlgorithm},
    merge::{merge_patches, DeployedPermissions},
    pool::SigningPool,
};

#[derive(Debug, Clone)]
pub struct Config {
    pub common: CommonConfig,
    /// `CLAIMFLOW_SIGNER_KEY_DIR` (default `<data dir>/signing-keys`): key files of earlier
    /// versions, imported into the database once. The keys themselves live in the database.
    pub key_dir: PathBuf,
    /// `CLAIMFLOW_SIGNING_ALG` (default `RS256`; `ES256`, `EdDSA`): the algorithm of the key that
    /// signs. Keys of other algorithms stay published until their last token expires.
    pub signing_alg: SigningAlgorithm,
    /// `CLAIMFLOW_SECRETS_KEY` (else `<data dir>/secrets.key`): seals the private keys in the
    /// database. Every signer of a deployment needs the same one.
    pub secrets: SecretBox,
    pub rotation: Rotation,
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
            secrets: SecretBox::from_env_or_data_dir(&common.data_dir)?,
            rotation: Rotation {
                lead: Duration::from_secs(config::parse_or("CLAIMFLOW_KEY_PUBLISH_LEAD_SECS", 600)?),
                every: match config::parse_or::<u64>("CLAIMFLOW_KEY_ROTATION_DAYS", 0)? {
                    0 => None,
                    days => Some(Duration::from_secs(days * 24 * 3600)),
                },
            },
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

/// When new keys sign.
#[derive(Debug, Clone, Copy)]
pub struct Rotation {
    /// `CLAIMFLOW_KEY_PUBLISH_LEAD_SECS` (default 600): how long a new key is published before it
    /// signs, so that verifiers caching the JWK set (auth-service serves it with max-age 300) know
    /// it by then.
    pub lead: Duration,
    /// `CLAIMFLOW_KEY_ROTATION_DAYS` (default 0, never): a new key when the newest is this old.
    pub every: Option<Duration>,
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
    let store = Store::open(&config.common.database_url).await?;
    let client = nats::connect(&config.common.nats_url, "signer", config.common.nats_credentials.as_ref()).await?;
    let health = {
        let (client, store) = (client.clone(), store.clone());
        let ready: claimflow_platform::health::ReadinessCheck = std::sync::Arc::new(move || {
            let (client, store) = (client.clone(), store.clone());
            Box::pin(async move {
                claimflow_platform::health::nats_ready(&client)?;
                store.check_schema().await.map_err(|err| format!("database: {err}"))
            })
        });
        tokio::spawn(claimflow_platform::health::serve(health_listener, ready, shutdown.clone()))
    };
    // NOTE: the keys live in the schema auth-service migrates; a signer started first waits.
    while let Err(err) = store.check_schema().await {
        tracing::info!(%err, "waiting for auth-service to migrate the database");
        tokio::select! {
            _ = shutdown.cancelled() => return Ok(()),
            _ = tokio::time::sleep(Duration::from_millis(250)) => {}
        }
    }
    let pool = SigningPool::start(config.threads).map_err(Error::Threads)?;
    let signer = Arc::new(Signer {
        keys: RwLock::new(Arc::new(KeyRing::from_rows(&[], &config.secrets, None)?)),
        store,
        pool,
        max_patch_bytes: config.max_patch_bytes,
        settings: Mutex::default(),
        alg: config.signing_alg,
        secrets: config.secrets.clone(),
        rotation: config.rotation,
        client: client.clone(),
        prefix: config.common.subject_prefix.clone(),
    });
    signer.start_keys(&config.key_dir).await?;
    let active = signer.ring().active(signer.alg, now_ms()).map(|key| key.kid.clone()).unwrap_or_default();
    tracing::info!(kid = %active, alg = %signer.alg, threads = signer.pool.threads(), "signer ready");
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
                // NOTE: read fresh: another signer may have rotated a moment ago.
                async move { Ok(signer.reload().await.map_err(internal)?.0.jwks(signer.alg, now_ms())) }
            },
        )
    };
    let managing = {
        let signer = signer.clone();
        nats::serve(
            client.clone(),
            ServeOptions { subject: KeyCommand::subject_for(prefix), concurrency: 1 },
            shutdown.clone(),
            move |command: KeyCommand| {
                let signer = signer.clone();
                async move { signer.command(command).await }
            },
        )
    };
    let maintaining = {
        let signer = signer.clone();
        let shutdown = shutdown.clone();
        async move {
            signer.maintain_keys(shutdown).await;
            Ok::<(), Error>(())
        }
    };
    let serving = async {
        tokio::try_join!(issuing, publishing, managing)?;
        Ok::<(), Error>(())
    };
    tokio::try_join!(serving, maintaining)?;
    match health.await {
        Ok(result) => result.map_err(Error::Health)?,
        Err(err) => tracing::error!(%err, "health task failed"),
    }
    let _ = tokio::time::timeout(Duration::from_secs(5), client.drain()).await;
    Ok(())
}

fn now_ms() -> i64 {
    claimflow_storage::now_ms()
}

/// How often a signer reads the keys again without being told (a missed change message, a
/// rotation that is due).
const KEY_CHECK_INTERVAL: Duration = Duration::from_secs(10);

/// A key change waits for every signer and auth-service to act on it: until none has answered for
/// [`ANNOUNCE_QUIET`] after the last, [`ANNOUNCE_MAX`] at most (a replica cut off from NATS reads
/// the keys again within [`KEY_CHECK_INTERVAL`]).
const ANNOUNCE_QUIET: Duration = Duration::from_millis(250);
const ANNOUNCE_MAX: Duration = Duration::from_secs(2);

/// A key's use is recorded this far ahead of the tokens it signs (seconds): one write a minute.
const RECORD_AHEAD_SECS: i64 = 60;

struct Signer {
    /// The deployment's keys, as last read from the database.
    keys: RwLock<Arc<KeyRing>>,
    store: Store,
    pool: SigningPool,
    max_patch_bytes: usize,
    /// Deployed settings per deployment id. Deployments are immutable, so this never goes stale.
    settings: Mutex<HashMap<String, Arc<WorkflowSettings>>>,
    alg: SigningAlgorithm,
    secrets: SecretBox,
    rotation: Rotation,
    client: async_nats::Client,
    prefix: String,
}

fn internal(err: impl std::fmt::Display) -> ServiceError {
    ServiceError::new(ServiceErrorCode::Internal, err.to_string())
}

impl Signer {
    fn ring(&self) -> Arc<KeyRing> {
        self.keys.read().expect("key ring poisoned").clone()
    }

    /// Reads the keys from the database, reusing those already parsed; the ring and the rows
    /// it was made from (revoked ones too).
    async fn reload(&self) -> Result<(Arc<KeyRing>, Vec<signing_key::Model>), Error> {
        let rows = self.store.signing_keys().await?;
        let ring = Arc::new(KeyRing::from_rows(&rows, &self.secrets, Some(&self.ring()))?);
        *self.keys.write().expect("key ring poisoned") = ring.clone();
        Ok((ring, rows))
    }

    /// At start: the keys of an earlier version's key directory imported, and a key of the
    /// configured algorithm made if none can sign.
    async fn start_keys(&self, key_dir: &std::path::Path) -> Result<(), Error> {
        let known: Vec<String> = self.store.signing_keys().await?.into_iter().map(|key| key.kid).collect();
        for row in keys::key_files(key_dir, &self.secrets)? {
            if !known.contains(&row.kid) {
                tracing::info!(kid = %row.kid, dir = %key_dir.display(), "imported a signing key file into the database");
                self.store.add_signing_key(row, None).await?;
            }
        }
        if self.reload().await?.0.active(self.alg, now_ms()).is_none() {
            let now = now_ms();
            // NOTE: nothing has verified a token of this key yet: it signs at once. Of signers
            // starting together, one adds the key (none is added beside any key of the algorithm).
            let key = keys::new_key(self.alg, &self.secrets, now, now)?;
            if self.store.add_signing_key(key, Some(i64::MIN)).await? {
                tracing::info!(alg = %self.alg, "created a signing key for the deployment");
            }
            self.reload().await?;
        }
        Ok(())
    }

    async fn command(&self, command: KeyCommand) -> Reply<Vec<KeyInfo>> {
        let changed = !matches!(command, KeyCommand::List);
        match command {
            KeyCommand::List => {}
            KeyCommand::Rotate => {
                let now = now_ms();
                let lead = self.rotation.lead.as_millis() as i64;
                let key = keys::new_key(self.alg, &self.secrets, now, now + lead).map_err(internal)?;
                tracing::info!(kid = %key.kid, signs_in = ?self.rotation.lead, "rotated the signing key");
                self.store.add_signing_key(key, None).await.map_err(internal)?;
            }
            KeyCommand::Revoke { kid } => {
                let now = now_ms();
                self.store.revoke_signing_key(&kid, now).await.map_err(|err| match err {
                    claimflow_storage::StorageError::NotFound { .. } => {
                        ServiceError::new(ServiceErrorCode::NotFound, format!("no signing key {kid}"))
                    }
                    other => internal(other),
                })?;
                tracing::warn!(%kid, "revoked a signing key");
                // NOTE: a revoked key must not sign another token: when it was the signing key,
                // a successor signs at once (verifiers fetch the JWK set again for a new kid).
                if self.reload().await.map_err(internal)?.0.active(self.alg, now).is_none() {
                    let key = keys::new_key(self.alg, &self.secrets, now, now).map_err(internal)?;
                    self.store.add_signing_key(key, None).await.map_err(internal)?;
                }
            }
        }
        let (ring, rows) = self.reload().await.map_err(internal)?;
        if changed {
            self.announce_change().await;
        }
        let now = now_ms();
        let states = ring.states(self.alg, now);
        let mut listed: Vec<KeyInfo> = rows
            .into_iter()
            .map(|row| {
                let state = match row.revoked_at {
                    Some(_) => "revoked",
                    None => states.iter().find(|(key, _)| key.kid == row.kid).map_or("retired", |(_, s)| s.as_str()),
                };
                KeyInfo {
                    state: state.to_owned(),
                    kid: row.kid,
                    alg: row.alg,
                    created_at: row.created_at,
                    signs_from: row.signs_from,
                    revoked_at: row.revoked_at,
                    last_exp: row.last_exp,
                }
            })
            .collect();
        listed.sort_by(|a, b| b.signs_from.cmp(&a.signs_from).then(a.kid.cmp(&b.kid)));
        Ok(listed)
    }

    /// Tells every signer and auth-service that the keys changed (this signer has reloaded them),
    /// and waits until they have acted on it: once a revocation is answered, no signer signs with
    /// the key, and no auth-service publishes it.
    async fn announce_change(&self) {
        let subject = KeyCommand::changed_subject(&self.prefix);
        match nats::announce(&self.client, subject, bytes::Bytes::new(), ANNOUNCE_QUIET, ANNOUNCE_MAX).await {
            Ok(heard) => tracing::debug!(heard, "the key change was heard"),
            Err(err) => tracing::error!(%err, "cannot announce the key change; other services see it within 10 s"),
        }
    }

    /// Follows other signers' changes, reads the keys again now and then, and rotates when the
    /// newest key is older than `CLAIMFLOW_KEY_ROTATION_DAYS`.
    async fn maintain_keys(&self, shutdown: CancellationToken) {
        use futures::StreamExt;
        let subject = KeyCommand::changed_subject(&self.prefix);
        let mut changes = match self.client.subscribe(subject).await {
            Ok(changes) => Some(changes),
            Err(err) => {
                tracing::error!(%err, "cannot follow key changes; reading them every 10 s only");
                None
            }
        };
        // NOTE: a rotation is at most half a period late.
        let interval = self.rotation.every.map_or(KEY_CHECK_INTERVAL, |every| KEY_CHECK_INTERVAL.min(every / 2));
        let mut ticks = tokio::time::interval(interval.max(Duration::from_millis(100)));
        loop {
            let changed = async {
                match changes.as_mut() {
                    Some(changes) => changes.next().await,
                    None => std::future::pending().await,
                }
            };
            let mut announced = None;
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = ticks.tick() => self.rotate_when_due().await,
                change = changed => match change {
                    Some(change) => announced = Some(change.reply),
                    None => changes = None,
                },
            }
            if let Err(err) = self.reload().await {
                tracing::warn!(%err, "cannot read the signing keys; signing with those known");
            }
            if let Some(reply) = announced {
                nats::acknowledge(&self.client, reply).await;
            }
        }
    }

    async fn rotate_when_due(&self) {
        let Some(every) = self.rotation.every else { return };
        let now = now_ms();
        let cutoff = now - every.as_millis() as i64;
        if self.ring().newest_created(self.alg).is_some_and(|created| created >= cutoff) {
            return;
        }
        let lead = self.rotation.lead.as_millis() as i64;
        let key = match keys::new_key(self.alg, &self.secrets, now, now + lead) {
            Ok(key) => key,
            Err(err) => return tracing::error!(%err, "cannot rotate the signing key"),
        };
        let kid = key.kid.clone();
        // NOTE: of several signers deciding at once, one adds its key.
        match self.store.add_signing_key(key, Some(cutoff)).await {
            Ok(true) => {
                tracing::info!(%kid, days = every.as_secs() / 86_400, "rotated the signing key (CLAIMFLOW_KEY_ROTATION_DAYS)");
                if let Err(err) = self.reload().await {
                    tracing::error!(%err, "cannot read the signing keys back");
                }
                // NOTE: not waited for (this loop answers its own notice): the key signs after
                // the publication lead, long after every replica heard.
                let subject = KeyCommand::changed_subject(&self.prefix);
                if let Err(err) = self.client.publish(subject, bytes::Bytes::new()).await {
                    tracing::error!(%err, "cannot announce the rotation; other services see it within 10 s");
                }
            }
            Ok(false) => {}
            Err(err) => tracing::warn!(%err, "cannot rotate the signing key"),
        }
    }

    #[tracing::instrument(name = "signer.issue", skip_all, fields(event_id = %request.event_id, kid, rejected))]
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
        let key = self
            .ring()
            .active(self.alg, now_ms())
            .cloned()
            .ok_or_else(|| internal(format!("no {} key can sign", self.alg)))?;
        tracing::Span::current().record("kid", key.kid.as_str());
        let signing = key.clone();
        // NOTE: merging and signing are CPU work: both run on a signing thread, and this task
        // only waits.
        let (signed, exp) = self
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
                let exp_of = |claims: &claimflow_contracts::Claims| claims.get("exp").and_then(|v| v.as_i64());
                let exp = exp_of(&merged.access).max(merged.id.as_ref().and_then(exp_of)).unwrap_or_default();
                let access_token = signing.sign(&merged.access)?;
                let id_token = match merged.id {
                    Some(mut id) => {
                        // NOTE: set after the merge, so a workflow cannot bind the ID token to
                        // another token.
                        id.insert("at_hash".to_owned(), at_hash(signing.alg, &access_token).into());
                        Some(signing.sign(&id)?)
                    }
                    None => None,
                };
                let response =
                    IssueResponse { access_token, id_token, access_claims: merged.access, rejected: merged.rejected };
                Ok::<_, keys::SignError>((response, exp))
            })
            .await
            .map_err(internal)?
            .map_err(|err| ServiceError::new(ServiceErrorCode::Internal, format!("signing failed: {err}")))?;
        // NOTE: a key stays published until its last token expires: recorded before the token is
        // handed out, a minute ahead, so this writes about once a minute.
        if exp > key.last_exp.load(Ordering::Relaxed) {
            let ahead = exp + RECORD_AHEAD_SECS;
            self.store.record_key_use(&key.kid, ahead).await.map_err(internal)?;
            key.last_exp.fetch_max(ahead, Ordering::Relaxed);
        }
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
