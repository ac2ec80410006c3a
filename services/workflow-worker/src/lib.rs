//! workflow-worker: one member of the pool that runs deployed workflows.
//!
//! It queue-subscribes to `{prefix}workflows.v1.*` in the `workflow-workers` group, fetches a
//! deployment's code by content hash (cached, verified), runs it in the sandbox with the bindings
//! the deployment declared, and replies with claim patches and a run report. It runs untrusted
//! code, so it holds no secrets and nothing it says is trusted: the signer re-checks every patch.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::Duration,
};

use claimflow_contracts::{
    workflow::{
        all_workflow_subjects, ClaimPatch, Denial, ModuleError, ModuleGraph, ModuleInspection, ModuleInspectionRequest,
        RunReport, RunStatus, TokenGenerationEvent, WorkflowCodeRequest, WorkflowOutcome,
    },
    Reply, ServiceError, ServiceErrorCode, TokenKind,
};
use claimflow_platform::{
    config::{self, CommonConfig, ConfigError},
    nats::{self, ServeOptions},
};
use claimflow_workflow_runtime::{
    AllowList, Engine, EnvironmentVariable, Limits, Network, RunRequest, Services, TokenCache,
};
use tokio_util::sync::CancellationToken;

#[derive(Debug, Clone)]
pub struct Config {
    pub common: CommonConfig,
    /// `CLAIMFLOW_WORKER_THREADS` (default: the number of CPUs): runs at once.
    pub threads: usize,
    /// `CLAIMFLOW_WORKFLOW_HEAP_MB` (default 64).
    pub heap_bytes: usize,
    /// `CLAIMFLOW_MAX_CLAIMS_BYTES` (default 16384).
    pub max_claims_bytes: usize,
    /// `CLAIMFLOW_FETCH_ALLOW`: hosts, IPs and CIDRs `kinde.fetch` may reach although they are
    /// private (the issuer's host is always reachable).
    pub fetch_allow: AllowList,
    /// `CLAIMFLOW_HEALTH_ADDR` (default `127.0.0.1:8082`, `off` to disable): `/healthz`,
    /// `/readyz`, `/metrics`.
    pub health_addr: Option<std::net::SocketAddr>,
    /// `CLAIMFLOW_WORKER_ID` (default: the host name, a container's id under Docker, and the
    /// process id): recorded with every run, so one can tell which worker ran what.
    pub worker_id: String,
}

impl Config {
    pub fn from_env() -> Result<Config, ConfigError> {
        let cpus = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2);
        let heap_mb: usize = config::parse_or("CLAIMFLOW_WORKFLOW_HEAP_MB", 64)?;
        if !(8..=4096).contains(&heap_mb) {
            return Err(ConfigError::new("CLAIMFLOW_WORKFLOW_HEAP_MB", "must be between 8 and 4096"));
        }
        Ok(Config {
            common: CommonConfig::from_env()?,
            threads: config::parse_or("CLAIMFLOW_WORKER_THREADS", cpus)?,
            heap_bytes: heap_mb * 1024 * 1024,
            max_claims_bytes: config::parse_or("CLAIMFLOW_MAX_CLAIMS_BYTES", 16 * 1024)?,
            fetch_allow: AllowList::parse(&config::var("CLAIMFLOW_FETCH_ALLOW").unwrap_or_default())
                .map_err(|message| ConfigError::new("CLAIMFLOW_FETCH_ALLOW", message))?,
            health_addr: config::health_addr(std::net::SocketAddr::from(([127, 0, 0, 1], 8082)))?,
            worker_id: config::var("CLAIMFLOW_WORKER_ID").unwrap_or_else(default_worker_id),
        })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Nats(#[from] nats::ConnectError),
    #[error("cannot subscribe: {0}")]
    Subscribe(#[from] async_nats::SubscribeError),
    #[error("cannot start the fetch runtime: {0}")]
    Network(#[source] std::io::Error),
    #[error(transparent)]
    HealthBind(#[from] claimflow_platform::health::BindError),
    #[error("cannot serve health and metrics on CLAIMFLOW_HEALTH_ADDR: {0}")]
    Health(#[source] std::io::Error),
}

/// Serves token-generation events until `shutdown`, then finishes in-flight runs and drains.
/// `engine` must have been started on the main thread (see [`Engine::start`]).
pub async fn run(config: Config, engine: Engine, shutdown: CancellationToken) -> Result<(), Error> {
    let health_listener = claimflow_platform::health::bind(config.health_addr).await?;
    let client =
        nats::connect(&config.common.nats_url, "workflow-worker", config.common.nats_credentials.as_ref()).await?;
    let worker = Arc::new(Worker {
        engine: engine.clone(),
        client: client.clone(),
        prefix: config.common.subject_prefix.clone(),
        heap_bytes: config.heap_bytes,
        max_claims_bytes: config.max_claims_bytes,
        worker_id: config.worker_id.clone(),
        services: Arc::new(Services {
            network: Network::new(config.fetch_allow.clone()).map_err(Error::Network)?,
            token_cache: TokenCache::default(),
        }),
        code: Mutex::default(),
    });
    tracing::info!(threads = engine.threads(), worker_id = %config.worker_id, "workflow-worker ready");
    let health = {
        let client = client.clone();
        let ready: claimflow_platform::health::ReadinessCheck = Arc::new(move || {
            let client = client.clone();
            Box::pin(async move { claimflow_platform::health::nats_ready(&client) })
        });
        let shutdown = shutdown.clone();
        async move { claimflow_platform::health::serve(health_listener, ready, shutdown).await.map_err(Error::Health) }
    };
    let inspections = nats::serve(
        client.clone(),
        ServeOptions {
            subject: ModuleInspectionRequest::subject_for(&config.common.subject_prefix),
            concurrency: engine.threads(),
        },
        shutdown.clone(),
        {
            let worker = worker.clone();
            move |request: ModuleInspectionRequest| {
                let worker = worker.clone();
                async move { worker.inspect(request).await }
            }
        },
    );
    let serving = nats::serve(
        client.clone(),
        ServeOptions {
            subject: all_workflow_subjects(&config.common.subject_prefix),
            // NOTE: one message per free isolate thread: a busy worker leaves work to idle ones.
            concurrency: engine.threads(),
        },
        shutdown,
        move |event: TokenGenerationEvent| {
            let worker = worker.clone();
            async move { worker.handle(event).await }
        },
    );
    let serving = async { serving.await.map_err(Error::from) };
    let inspections = async { inspections.await.map_err(Error::from) };
    tokio::try_join!(serving, inspections, health)?;
    let _ = tokio::time::timeout(Duration::from_secs(5), client.drain()).await;
    Ok(())
}

struct Worker {
    engine: Engine,
    client: async_nats::Client,
    prefix: String,
    heap_bytes: usize,
    max_claims_bytes: usize,
    worker_id: String,
    services: Arc<Services>,
    /// Transpiled code by content hash. Content-addressed, so entries never go stale.
    code: Mutex<HashMap<String, Arc<CachedCode>>>,
}

struct CachedCode {
    code: Arc<str>,
    source_path: String,
    source_map: Option<Arc<str>>,
    graph: Arc<ModuleGraph>,
}

/// How long a module's top level may run when deploy inspects it.
const INSPECTION_TIME_LIMIT: Duration = Duration::from_secs(1);

/// Cached code is bounded; workflows are few, so clearing on overflow is enough.
const MAX_CACHED_CODE: usize = 256;

impl Worker {
    #[tracing::instrument(
        name = "workflow.run",
        skip_all,
        fields(
            otel.name = %format!("run workflow {}", event.workflow.workflow_id),
            workflow.id = %event.workflow.workflow_id,
            workflow.version = event.workflow.version,
            workflow.trigger = event.trigger.as_str(),
            event_id = %event.event_id,
            workflow.status = tracing::field::Empty,
            workflow.duration_us = tracing::field::Empty,
        )
    )]
    async fn handle(&self, event: TokenGenerationEvent) -> Reply<WorkflowOutcome> {
        let workflow = event.workflow.clone();
        let code = self.code(&workflow.code_hash).await?;
        let mut base_claims = vec![(event.access_token_kind, event.base_claims.access.clone())];
        if let Some(id) = &event.base_claims.id {
            base_claims.push((TokenKind::Id, id.clone()));
        }
        let trusted_host = url::Url::parse(&event.event.context.domains.kinde_domain)
            .ok()
            .and_then(|url| url.host_str().map(str::to_owned));
        let request = RunRequest {
            code: code.code.clone(),
            source_name: code.source_path.clone(),
            source_map: code.source_map.clone(),
            graph: code.graph.clone(),
            workflow_id: workflow.workflow_id.clone(),
            environment: event
                .environment
                .iter()
                .map(|v| EnvironmentVariable { key: v.key.clone(), value: v.value.clone(), is_secret: v.is_secret })
                .collect(),
            secure_fetch_key: event.secure_fetch_key.as_deref().and_then(decode_key),
            trusted_host,
            services: self.services.clone(),
            span: tracing::Span::current(),
            bindings: workflow.bindings.clone(),
            event: serde_json::to_value(&event.event)
                .map_err(|err| ServiceError::new(ServiceErrorCode::BadRequest, err.to_string()))?,
            base_claims,
            reset_claims: workflow.reset_claims.clone(),
            limits: Limits {
                wall_time: Duration::from_millis(workflow.timeout_ms.clamp(10, 60_000)),
                heap_bytes: self.heap_bytes,
                max_claims_bytes: self.max_claims_bytes,
                ..Limits::default()
            },
            inspect_only: false,
        };
        let mut outcome = self
            .engine
            .run(request)
            .await
            .map_err(|err| ServiceError::new(ServiceErrorCode::Internal, err.to_string()))?;
        // NOTE: before anything is logged or sent back: what the event marked (a password)
        // never leaves the worker.
        redact_outcome(&mut outcome, &event.redact);
        let metrics = &claimflow_platform::metrics::METRICS;
        metrics
            .workflow_runs
            .get_or_create(&claimflow_platform::metrics::RunLabels { status: outcome.status.as_str().to_owned() })
            .inc();
        metrics.workflow_run_seconds.observe(outcome.duration.as_secs_f64());
        let span = tracing::Span::current();
        span.record("workflow.status", outcome.status.as_str());
        span.record("workflow.duration_us", outcome.duration.as_micros() as u64);
        if outcome.status != RunStatus::Ok {
            tracing::warn!(
                status = outcome.status.as_str(),
                error = outcome.error.as_deref().unwrap_or_default(),
                "workflow run did not complete"
            );
        }
        let patches = outcome
            .claims_set
            .into_iter()
            .map(|(token, set)| ClaimPatch {
                workflow_id: workflow.workflow_id.clone(),
                version: workflow.version,
                token,
                set,
            })
            .collect();
        Ok(WorkflowOutcome {
            patches,
            denied: outcome.denied.map(|reason| Denial { workflow_id: workflow.workflow_id.clone(), reason }),
            session_policy: outcome.session_policy,
            form_errors: outcome
                .form_errors
                .into_iter()
                .map(|(field, message)| claimflow_contracts::workflow::FormFieldError { field, message })
                .collect(),
            mfa_enforcement: outcome.mfa_enforcement,
            runs: vec![RunReport {
                workflow_id: workflow.workflow_id.clone(),
                deployment_id: workflow.deployment_id.clone(),
                version: workflow.version,
                status: outcome.status,
                duration_us: outcome.duration.as_micros() as u64,
                worker_id: self.worker_id.clone(),
                logs: outcome.logs,
                error: outcome.error,
            }],
        })
    }

    /// Deploy's check: the module's top level evaluated with no bindings, no network and a short
    /// time limit, and what it exports.
    #[tracing::instrument(name = "workflow.inspect", skip_all, fields(otel.name = %format!("inspect {}", request.source_path)))]
    async fn inspect(&self, request: ModuleInspectionRequest) -> Reply<ModuleInspection> {
        let run = RunRequest {
            code: request.code.into(),
            source_name: request.source_path,
            source_map: request.source_map.map(Into::into),
            graph: Arc::new(request.graph),
            workflow_id: String::new(),
            environment: Vec::new(),
            secure_fetch_key: None,
            trusted_host: None,
            services: self.services.clone(),
            span: tracing::Span::current(),
            bindings: Vec::new(),
            event: serde_json::Value::Null,
            base_claims: Vec::new(),
            reset_claims: Vec::new(),
            limits: Limits { wall_time: INSPECTION_TIME_LIMIT, heap_bytes: self.heap_bytes, ..Limits::default() },
            inspect_only: true,
        };
        let outcome =
            self.engine.run(run).await.map_err(|err| ServiceError::new(ServiceErrorCode::Internal, err.to_string()))?;
        Ok(match (outcome.exports, outcome.error) {
            (Some(exports), _) => ModuleInspection::Evaluated(exports),
            (None, error) => ModuleInspection::Failed(ModuleError {
                message: match outcome.status {
                    RunStatus::TimedOut => format!(
                        "the module's top level did not finish within {INSPECTION_TIME_LIMIT:?} (it runs at deploy)"
                    ),
                    _ => error.unwrap_or_else(|| "the module could not be evaluated".to_owned()),
                },
                path: outcome.error_location.as_ref().map(|(path, _, _)| path.clone()),
                position: outcome.error_location.map(|(_, line, column)| (line, column)),
            }),
        })
    }

    /// The deployment's code: from the cache, or fetched from auth-service and verified against
    /// its hash.
    async fn code(&self, code_hash: &str) -> Result<Arc<CachedCode>, ServiceError> {
        if let Some(code) = self.code.lock().expect("code cache poisoned").get(code_hash) {
            return Ok(code.clone());
        }
        let request = WorkflowCodeRequest { code_hash: code_hash.to_owned() };
        let fetched =
            nats::request(&self.client, &self.prefix, &request, Duration::from_secs(2)).await.map_err(|err| {
                ServiceError::new(ServiceErrorCode::Internal, format!("cannot fetch workflow code: {err}"))
            })?;
        let actual = claimflow_contracts::workflow::code_hash(&fetched.code, &fetched.graph);
        if actual != code_hash {
            return Err(ServiceError::new(
                ServiceErrorCode::Internal,
                format!("workflow code for {code_hash} has hash {actual}"),
            ));
        }
        let code = Arc::new(CachedCode {
            code: fetched.code.into(),
            source_path: fetched.source_path,
            source_map: fetched.source_map.map(Into::into),
            graph: Arc::new(fetched.graph),
        });
        let mut cache = self.code.lock().expect("code cache poisoned");
        if cache.len() >= MAX_CACHED_CODE {
            cache.clear();
        }
        cache.insert(code_hash.to_owned(), code.clone());
        Ok(code)
    }
}

/// Replaces every value of `secrets` in the run's logs and error with `[redacted]`.
fn redact_outcome(outcome: &mut claimflow_workflow_runtime::RunOutcome, secrets: &[String]) {
    let redact = |text: &mut String| {
        for secret in secrets.iter().filter(|secret| !secret.is_empty()) {
            if text.contains(secret.as_str()) {
                *text = text.replace(secret.as_str(), "[redacted]");
            }
        }
    };
    outcome.logs.iter_mut().for_each(|line| redact(&mut line.message));
    if let Some(error) = outcome.error.as_mut() {
        redact(error);
    }
}

fn decode_key(encoded: &str) -> Option<[u8; 32]> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.decode(encoded).ok()?.try_into().ok()
}

/// `<host name>-<process id>`: unique per process, also for several workers on one host.
pub fn default_worker_id() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|name| name.trim().to_owned())
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| "worker".to_owned());
    format!("{host}-{}", std::process::id())
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_default_worker_id_tells_processes_on_one_host_apart() {
        let id = super::default_worker_id();
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
        assert_eq!(id, format!("{}-{}", host.trim(), std::process::id()));
    }
}
