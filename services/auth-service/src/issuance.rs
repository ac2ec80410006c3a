//! The workflow-then-signer round trip every token goes through, whatever its grant: the live
//! workflow runs on a worker (its failure policy applied), the signer merges what the workflow
//! may set and signs, and the token's record is made durable before the token is handed out.
//!
//! This module knows nothing of grants: it takes base claims and an event, and gives back signed
//! tokens or an OAuth error.

use std::time::Duration;

use base64::Engine;
use claimflow_contracts::{
    event::WorkflowEvent,
    records::IssuanceRecord,
    settings::{Binding, FailureAction},
    signer::{IssueRequest, IssueResponse},
    workflow::{
        BaseClaims, EnvironmentVariable, RunReport, RunStatus, SessionPolicy, TokenGenerationEvent, WorkflowOutcome,
        WorkflowRef,
    },
    TokenKind,
};
use claimflow_platform::nats::RequestError;
use claimflow_storage::entity::workflow_deployment;

use crate::{oauth::error::OAuthError, records, AppState};

/// Runs the live workflow (if there is one) on `event`, has the signer merge its patches into
/// `base` and sign, and records the token and the runs (the runs also when no token is issued).
/// The token is returned only once its record is durable.
pub async fn run_and_sign(
    state: &AppState,
    deployment: Option<&workflow_deployment::Model>,
    event: WorkflowEvent,
    base: BaseClaims,
    access_token_kind: TokenKind,
    grant_type: &'static str,
) -> Result<Signed, OAuthError> {
    let event_id = uuid::Uuid::new_v4().to_string();
    tracing::Span::current().record("event_id", event_id.as_str());
    let trigger = deployment.map(|deployment| deployment.trigger);
    let (workflow, outcome) = match deployment {
        Some(deployment) => {
            let (workflow, outcome) =
                run_workflow(state, deployment, &event_id, (event, Vec::new()), &base, access_token_kind, grant_type)
                    .await?;
            (Some(workflow), outcome)
        }
        None => (None, WorkflowOutcome::default()),
    };
    let issue = IssueRequest {
        event_id: event_id.clone(),
        access_token_kind,
        base_claims: base,
        workflow,
        patches: outcome.patches.clone(),
    };
    let issued =
        state.dispatcher.request(&state.config.common.subject_prefix, &issue, state.config.signer_timeout).await;
    let record = records::issuance_record(&event_id, grant_type, trigger, &outcome, issued.as_ref().ok());
    match issued {
        Ok(issued) => {
            state.records.publish(record).await.map_err(|err| {
                tracing::error!(%err, event_id, "token withheld: its record is not durable");
                OAuthError::temporarily_unavailable("the token could not be recorded; try again shortly")
            })?;
            Ok(Signed { tokens: issued, session_policy: outcome.session_policy })
        }
        Err(err) => {
            publish_runs(state, record).await;
            Err(signer_unavailable(&err))
        }
    }
}

/// Runs the live workflow, if there is one, of the trigger that shapes a sign-in rather than a
/// token named by `event` (`user:post_authentication`, ...): its failure policy applied (a
/// denial, or a failure under `stop`, is the error), its runs recorded. `None`: no live workflow.
pub async fn run_sign_in_workflow(
    state: &AppState,
    event: WorkflowEvent,
    redact: Vec<String>,
) -> Result<Option<WorkflowOutcome>, OAuthError> {
    let trigger = event.context.workflow.trigger;
    let Some(deployment) = state.cache.live_deployment(&state.store, trigger).await? else { return Ok(None) };
    let deployment = deployment.as_ref();
    let event_id = uuid::Uuid::new_v4().to_string();
    tracing::Span::current().record("event_id", event_id.as_str());
    let grant_type = "authorization_code";
    // NOTE: no token exists yet: the worker gets no claims, and deploy refused token bindings.
    let base = BaseClaims { access: Default::default(), id: None };
    let (_, outcome) =
        run_workflow(state, deployment, &event_id, (event, redact), &base, TokenKind::Access, grant_type).await?;
    publish_runs(state, records::issuance_record(&event_id, grant_type, Some(deployment.trigger), &outcome, None))
        .await;
    Ok(Some(outcome))
}

/// Signed tokens, and what the workflow decided about the sign-in's session.
pub struct Signed {
    pub tokens: IssueResponse,
    pub session_policy: Option<SessionPolicy>,
}

/// Records the runs of a request that issued nothing; a failure to record is logged, and the
/// refusal stands.
async fn publish_runs(state: &AppState, record: IssuanceRecord) {
    if record.runs.is_empty() {
        return;
    }
    let event_id = record.event_id.clone();
    if let Err(err) = state.records.publish(record).await {
        tracing::error!(%err, event_id, "workflow runs not recorded");
    }
}

fn broker_unavailable() -> OAuthError {
    OAuthError::temporarily_unavailable("the message broker is unreachable; try again shortly")
}

fn signer_unavailable(err: &RequestError) -> OAuthError {
    tracing::error!(%err, "signer request failed");
    match err {
        RequestError::NoResponders { .. } | RequestError::TimedOut { .. } => {
            OAuthError::temporarily_unavailable("the token signer is unavailable; try again shortly")
        }
        RequestError::Disconnected { .. } => broker_unavailable(),
        _ => OAuthError::server_error("the token could not be signed"),
    }
}

/// Asks the worker pool to run the live workflow; applies its failure policy.
async fn run_workflow(
    state: &AppState,
    deployment: &workflow_deployment::Model,
    event_id: &str,
    (event, redact): (WorkflowEvent, Vec<String>),
    base: &BaseClaims,
    access_token_kind: TokenKind,
    grant_type: &str,
) -> Result<(WorkflowRef, WorkflowOutcome), OAuthError> {
    let refused = |outcome: &WorkflowOutcome| {
        records::issuance_record(event_id, grant_type, Some(deployment.trigger), outcome, None)
    };
    let settings = &deployment.settings;
    let timeout = deployment
        .timeout_ms
        .and_then(|ms| u64::try_from(ms).ok())
        .map(Duration::from_millis)
        .unwrap_or(state.config.workflow_timeout);
    let workflow = WorkflowRef {
        workflow_id: deployment.workflow_id.clone(),
        deployment_id: deployment.id.clone(),
        version: deployment.version,
        code_hash: deployment.code_hash.clone(),
        reset_claims: settings.reset_claims(),
        bindings: settings.bindings.keys().copied().collect(),
        timeout_ms: timeout.as_millis() as u64,
    };
    let environment = if settings.declares(Binding::Env) {
        state.cache.environment(|| environment_for_workflow(state)).await?.to_vec()
    } else {
        Vec::new()
    };
    let request = TokenGenerationEvent {
        event_id: event_id.to_owned(),
        trigger: event.context.workflow.trigger,
        workflow: workflow.clone(),
        event,
        access_token_kind,
        base_claims: base.clone(),
        environment,
        secure_fetch_key: settings
            .declares(Binding::SecureFetch)
            .then(|| base64::engine::general_purpose::STANDARD.encode(state.config.secure_fetch_key)),
        redact,
    };
    let policy = settings.failure_policy.action;
    // NOTE: the worker enforces the run's wall time itself; the extra second covers fetching
    // code on a cold worker and the NATS round trip, so a slow run ends as `timed_out` in the
    // worker's report rather than as a lost reply here.
    let wait = timeout + Duration::from_secs(1);
    let mut outcome = match state.dispatcher.request(&state.config.common.subject_prefix, &request, wait).await {
        Ok(outcome) => outcome,
        Err(err) => {
            tracing::error!(%err, workflow_id = %workflow.workflow_id, "workflow dispatch failed");
            // NOTE: without a broker or a worker nothing can be issued, whatever the failure
            // policy says: the signer is reached through the same broker. A 503 tells the
            // client to retry; a workflow that ran and failed is a different answer.
            match &err {
                RequestError::Disconnected { .. } => return Err(broker_unavailable()),
                RequestError::NoResponders { .. } => {
                    return Err(OAuthError::temporarily_unavailable("no workflow-worker is running; try again shortly"))
                }
                _ => {}
            }
            let (status, message) = match &err {
                RequestError::TimedOut { .. } => {
                    (RunStatus::TimedOut, "no workflow-worker answered in time".to_owned())
                }
                other => (RunStatus::Failed, other.to_string()),
            };
            WorkflowOutcome {
                patches: vec![],
                denied: None,
                session_policy: None,
                form_errors: Vec::new(),
                mfa_enforcement: None,
                runs: vec![RunReport {
                    workflow_id: workflow.workflow_id.clone(),
                    deployment_id: workflow.deployment_id.clone(),
                    version: workflow.version,
                    status,
                    duration_us: 0,
                    worker_id: String::new(),
                    logs: vec![],
                    error: Some(message),
                }],
            }
        }
    };
    if let Some(denied) = &outcome.denied {
        publish_runs(state, refused(&outcome)).await;
        return Err(OAuthError::access_denied(denied.reason.clone()));
    }
    let failure = outcome.runs.iter().find(|run| run.status != RunStatus::Ok).cloned();
    if let Some(failed) = failure {
        let detail = failed.error.clone().unwrap_or_else(|| failed.status.as_str().to_owned());
        match policy {
            FailureAction::Stop => {
                publish_runs(state, refused(&outcome)).await;
                return Err(OAuthError::server_error(format!(
                    "workflow {:?} (version {}) {}: {detail}",
                    failed.workflow_id,
                    failed.version,
                    match failed.status {
                        RunStatus::TimedOut => "timed out",
                        RunStatus::OutOfMemory => "ran out of memory",
                        _ => "failed",
                    }
                )));
            }
            FailureAction::Continue => {
                tracing::warn!(workflow_id = %failed.workflow_id, %detail, "workflow failed; issuing without its claims (failurePolicy: continue)");
                outcome.patches.retain(|patch| patch.workflow_id != failed.workflow_id);
            }
        }
    }
    Ok((workflow, outcome))
}

/// Every environment variable, secrets decrypted: only for a workflow that declared `kinde.env`.
async fn environment_for_workflow(state: &AppState) -> Result<Vec<EnvironmentVariable>, OAuthError> {
    let stored = state.store.list_environment_variables().await?;
    stored
        .into_iter()
        .map(|variable| {
            let value = if variable.is_secret {
                state.config.secrets.open(&variable.value).map_err(|err| {
                    tracing::error!(key = %variable.key, %err, "cannot decrypt an environment variable");
                    OAuthError::server_error(format!("environment variable {} cannot be decrypted", variable.key))
                })?
            } else {
                variable.value
            };
            Ok(EnvironmentVariable { key: variable.key, value, is_secret: variable.is_secret })
        })
        .collect()
}
