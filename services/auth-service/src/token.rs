//! `POST /oauth2/token`: client authentication, base claims, the workflow round trip and the
//! signer round trip.
//!
//! Every refusal is an RFC 6749 error and issues nothing.

use std::{collections::HashMap, net::SocketAddr, sync::Arc, time::Duration};

use axum::{
    body::Bytes,
    extract::{ConnectInfo, State},
    http::{header, HeaderMap, HeaderValue},
    response::{IntoResponse, Response},
    Json,
};
use base64::{engine::general_purpose::STANDARD, Engine};
use claimflow_contracts::{
    event::{
        EventApplication, EventContext, EventDomains, EventRequest, EventRequestAuth, EventWorkflow, WorkflowEvent,
    },
    records::IssuanceRecord,
    signer::{IssueRequest, IssueResponse},
    workflow::{
        BaseClaims, EnvironmentVariable, RunReport, RunStatus, TokenGenerationEvent, WorkflowOutcome, WorkflowRef,
    },
    Claims, TokenKind, Trigger,
};
use claimflow_platform::nats::{self, RequestError};
use claimflow_storage::entity::{application, workflow_deployment};
use serde_json::{json, Value};

use crate::{oauth_error::OAuthError, records, secrets, workflow_source::FailurePolicy, AppState};

/// The form parameters, each present at most once (RFC 6749 §3.2).
pub(crate) struct TokenForm(HashMap<String, String>);

impl TokenForm {
    pub(crate) fn parse(headers: &HeaderMap, body: &[u8]) -> Result<TokenForm, OAuthError> {
        let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
        if !content_type.starts_with("application/x-www-form-urlencoded") {
            return Err(OAuthError::invalid_request(
                "the token request must be sent as application/x-www-form-urlencoded",
            ));
        }
        let mut params = HashMap::new();
        for (name, value) in url::form_urlencoded::parse(body) {
            if params.insert(name.to_string(), value.into_owned()).is_some() {
                return Err(OAuthError::invalid_request(format!("parameter {name} is repeated")));
            }
        }
        Ok(TokenForm(params))
    }

    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str).filter(|value| !value.is_empty())
    }
}

/// Credentials from HTTP Basic (`client_secret_basic`) or the form (`client_secret_post`).
pub(crate) struct ClientCredentials {
    pub(crate) client_id: String,
    pub(crate) client_secret: String,
    pub(crate) basic: bool,
}

pub(crate) fn client_credentials(headers: &HeaderMap, form: &TokenForm) -> Result<ClientCredentials, OAuthError> {
    if let Some(authorization) = headers.get(header::AUTHORIZATION) {
        let decoded = authorization
            .to_str()
            .ok()
            .and_then(|value| value.strip_prefix("Basic "))
            .and_then(|encoded| STANDARD.decode(encoded.trim()).ok())
            .and_then(|bytes| String::from_utf8(bytes).ok())
            .ok_or_else(|| OAuthError::invalid_client("the Authorization header is not valid HTTP Basic", true))?;
        let (id, secret) = decoded
            .split_once(':')
            .ok_or_else(|| OAuthError::invalid_client("the Authorization header is not valid HTTP Basic", true))?;
        let decode = |part: &str| {
            url::form_urlencoded::parse(format!("x={part}").as_bytes()).next().map(|(_, v)| v.into_owned())
        };
        if form.get("client_secret").is_some() {
            return Err(OAuthError::invalid_request("use one client authentication method, not both"));
        }
        return Ok(ClientCredentials {
            client_id: decode(id).unwrap_or_default(),
            client_secret: decode(secret).unwrap_or_default(),
            basic: true,
        });
    }
    match (form.get("client_id"), form.get("client_secret")) {
        (Some(id), Some(secret)) => {
            Ok(ClientCredentials { client_id: id.to_owned(), client_secret: secret.to_owned(), basic: false })
        }
        (None, _) => Err(OAuthError::invalid_client("client authentication is required: client_id is missing", false)),
        (Some(_), None) => {
            Err(OAuthError::invalid_client("client authentication is required: client_secret is missing", false))
        }
    }
}

/// The application whose secret `credentials` presents.
pub(crate) async fn authenticate_secret(
    state: &AppState,
    credentials: &ClientCredentials,
) -> Result<Arc<application::Model>, OAuthError> {
    let application = state.cache.application(&state.store, &credentials.client_id).await?;
    // NOTE: unknown client and wrong secret get the same answer, so client ids cannot be probed.
    let authenticated = application.as_ref().is_some_and(|app| {
        app.client_secret_hash.as_deref().is_some_and(|hash| secrets::verify_secret(&credentials.client_secret, hash))
    });
    application
        .filter(|_| authenticated)
        .ok_or_else(|| OAuthError::invalid_client("client authentication failed", credentials.basic))
}

#[derive(serde::Serialize)]
pub(crate) struct TokenResponse {
    pub(crate) access_token: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) id_token: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) refresh_token: Option<String>,
    pub(crate) expires_in: u64,
    pub(crate) scope: String,
    pub(crate) token_type: &'static str,
}

pub async fn token(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let grant = tracing::Span::current();
    let result = issue_token(&state, peer, &headers, &body).await;
    let grant_type = url::form_urlencoded::parse(&body)
        .find(|(name, _)| name == "grant_type")
        .map(|(_, value)| value.into_owned())
        .filter(|value| ["client_credentials", "authorization_code", "refresh_token"].contains(&value.as_str()))
        .unwrap_or_else(|| "other".to_owned());
    let outcome = match &result {
        Ok(_) => "issued",
        Err(error) => error.error,
    };
    claimflow_platform::metrics::METRICS
        .token_requests
        .get_or_create(&claimflow_platform::metrics::TokenLabels { grant_type, outcome: outcome.to_owned() })
        .inc();
    match result {
        Ok(response) => {
            let mut response = Json(response).into_response();
            response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            response
        }
        Err(error) => {
            grant.in_scope(
                || tracing::info!(error = error.error, description = %error.description, "token request refused"),
            );
            error.into_response()
        }
    }
}

async fn issue_token(
    state: &AppState,
    peer: SocketAddr,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<TokenResponse, OAuthError> {
    let form = TokenForm::parse(headers, body)?;
    let grant_type = form.get("grant_type").ok_or_else(|| OAuthError::invalid_request("grant_type is required"))?;
    match grant_type {
        "client_credentials" => {}
        "authorization_code" => return crate::user_tokens::authorization_code_grant(state, peer, headers, &form).await,
        "refresh_token" => return crate::user_tokens::refresh_token_grant(state, peer, headers, &form).await,
        other => {
            return Err(OAuthError::unsupported_grant_type(format!(
                "grant_type {other:?} is not supported; use client_credentials, authorization_code or refresh_token"
            )))
        }
    }
    let application = authenticate_secret(state, &client_credentials(headers, &form)?).await?;
    if application.app_type != "m2m" {
        return Err(OAuthError::unauthorized_client(format!(
            "application {} is a {} application; client_credentials needs an m2m application",
            application.id, application.app_type
        )));
    }
    let audience = form
        .get("audience")
        .or_else(|| form.get("resource"))
        .ok_or_else(|| OAuthError::invalid_request("audience is required: the audience of the API the token is for"))?;
    let api = state
        .cache
        .api_by_audience(&state.store, audience)
        .await?
        .ok_or_else(|| OAuthError::invalid_target(format!("no API has the audience {audience:?}")))?;
    let granted = state.cache.granted_scopes(&state.store, &api.id, &application.id).await?.ok_or_else(|| {
        OAuthError::access_denied(format!("application {} is not authorized for the API {audience:?}", application.id))
    })?;
    let scopes = match form.get("scope") {
        None => granted.to_vec(),
        Some(requested) => {
            let requested: Vec<String> = requested.split_whitespace().map(str::to_owned).collect();
            if let Some(missing) = requested.iter().find(|scope| !granted.contains(scope)) {
                return Err(OAuthError::invalid_scope(format!(
                    "scope {missing:?} is not granted to this application for {audience:?}"
                )));
            }
            requested
        }
    };

    let now = time_now();
    let lifetime = application
        .access_token_lifetime
        .and_then(|seconds| u64::try_from(seconds).ok())
        .unwrap_or(state.config.m2m_token_lifetime.as_secs());
    let token_properties = state.cache.token_properties(&state.store, &application.id).await?;
    let mut base = json!({
        "aud": [audience],
        "azp": application.id,
        "exp": now + lifetime,
        "gty": ["client_credentials"],
        "iat": now,
        "iss": state.config.issuer,
        "jti": uuid::Uuid::new_v4().to_string(),
        "scope": scopes.join(" "),
        "scp": scopes,
        "v": "2",
    });
    if !token_properties.is_empty() {
        // Kinde's shape: `application_properties: { org_code: { v: "org_..." } }`.
        let properties: serde_json::Map<String, Value> =
            token_properties.iter().map(|(key, value)| (key.clone(), json!({ "v": value }))).collect();
        base["application_properties"] = Value::Object(properties);
    }
    let base = BaseClaims { access: as_claims(base), id: None };

    // NOTE: tokens for the management API never run workflows: a workflow calling
    // createKindeAPI would otherwise re-enter itself, and a broken workflow must not lock the
    // admin out of fixing it.
    let deployment = if api.is_management_api {
        None
    } else {
        state.cache.live_deployment(&state.store, Trigger::M2mTokenGeneration).await?
    };
    let event = WorkflowEvent {
        request: EventRequest {
            auth: EventRequestAuth { audience: vec![audience.to_owned()] },
            ip: peer.ip().to_string(),
            user_agent: headers.get(header::USER_AGENT).and_then(|v| v.to_str().ok()).map(str::to_owned),
            locale: None,
        },
        context: EventContext {
            domains: EventDomains { kinde_domain: state.config.issuer.clone() },
            workflow: EventWorkflow { trigger: Trigger::M2mTokenGeneration },
            application: EventApplication { client_id: application.id.clone() },
            auth: None,
            user: None,
            organization: None,
        },
    };
    let issued = run_and_sign(state, deployment.as_deref(), event, base, TokenKind::M2m, "client_credentials").await?;
    Ok(TokenResponse {
        access_token: issued.access_token,
        id_token: None,
        refresh_token: None,
        expires_in: lifetime,
        scope: issued.access_claims.get("scope").and_then(Value::as_str).unwrap_or_default().to_owned(),
        token_type: "bearer",
    })
}

/// Runs the live workflow (if there is one) on `event`, has the signer merge its patches into
/// `base` and sign, and records the token and the runs (the runs also when no token is issued).
/// The token is returned only once its record is durable.
pub(crate) async fn run_and_sign(
    state: &AppState,
    deployment: Option<&workflow_deployment::Model>,
    event: WorkflowEvent,
    base: BaseClaims,
    access_token_kind: TokenKind,
    grant_type: &'static str,
) -> Result<IssueResponse, OAuthError> {
    let event_id = uuid::Uuid::new_v4().to_string();
    tracing::Span::current().record("event_id", event_id.as_str());
    let trigger = deployment.map(|deployment| deployment.trigger.as_str());
    let (workflow, outcome) = match deployment {
        Some(deployment) => {
            let (workflow, outcome) =
                run_workflow(state, deployment, &event_id, event, &base, access_token_kind, grant_type).await?;
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
        nats::request(&state.nats, &state.config.common.subject_prefix, &issue, state.config.signer_timeout).await;
    let record = records::issuance_record(&event_id, grant_type, trigger, &outcome, issued.as_ref().ok());
    match issued {
        Ok(issued) => {
            state.records.publish(record).await.map_err(|err| {
                tracing::error!(%err, event_id, "token withheld: its record is not durable");
                OAuthError::temporarily_unavailable("the token could not be recorded; try again shortly")
            })?;
            Ok(issued)
        }
        Err(err) => {
            publish_runs(state, record).await;
            Err(signer_unavailable(&err))
        }
    }
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

fn signer_unavailable(err: &RequestError) -> OAuthError {
    tracing::error!(%err, "signer request failed");
    match err {
        RequestError::NoResponders { .. } | RequestError::TimedOut { .. } => {
            OAuthError::temporarily_unavailable("the token signer is unavailable; try again shortly")
        }
        _ => OAuthError::server_error("the token could not be signed"),
    }
}

/// Asks the worker pool to run the live workflow; applies its failure policy.
async fn run_workflow(
    state: &AppState,
    deployment: &workflow_deployment::Model,
    event_id: &str,
    event: WorkflowEvent,
    base: &BaseClaims,
    access_token_kind: TokenKind,
    grant_type: &str,
) -> Result<(WorkflowRef, WorkflowOutcome), OAuthError> {
    let refused = |outcome: &WorkflowOutcome| {
        records::issuance_record(event_id, grant_type, Some(deployment.trigger.as_str()), outcome, None)
    };
    let bindings: Vec<String> = deployment
        .settings
        .get("bindings")
        .and_then(Value::as_object)
        .map(|bindings| bindings.keys().cloned().collect())
        .unwrap_or_default();
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
        reset_claims: deployment
            .settings
            .get("bindings")
            .and_then(Value::as_object)
            .map(|bindings| {
                bindings
                    .iter()
                    .filter(|(_, options)| options.get("resetClaims").and_then(Value::as_bool) == Some(true))
                    .map(|(binding, _)| binding.clone())
                    .collect()
            })
            .unwrap_or_default(),
        bindings,
        timeout_ms: timeout.as_millis() as u64,
    };
    let environment = if workflow.bindings.iter().any(|binding| binding == "kinde.env") {
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
        secure_fetch_key: workflow
            .bindings
            .iter()
            .any(|binding| binding == "kinde.secureFetch")
            .then(|| base64::engine::general_purpose::STANDARD.encode(state.config.secure_fetch_key)),
    };
    let policy = FailurePolicy::from_settings(&deployment.settings);
    // NOTE: the worker enforces the run's wall time itself; the extra second covers fetching
    // code on a cold worker and the NATS round trip, so a slow run ends as `timed_out` in the
    // worker's report rather than as a lost reply here.
    let wait = timeout + Duration::from_secs(1);
    let mut outcome = match nats::request(&state.nats, &state.config.common.subject_prefix, &request, wait).await {
        Ok(outcome) => outcome,
        Err(err) => {
            tracing::error!(%err, workflow_id = %workflow.workflow_id, "workflow dispatch failed");
            let (status, message) = match &err {
                RequestError::TimedOut { .. } => {
                    (RunStatus::TimedOut, "no workflow-worker answered in time".to_owned())
                }
                RequestError::NoResponders { .. } => (RunStatus::Failed, "no workflow-worker is running".to_owned()),
                other => (RunStatus::Failed, other.to_string()),
            };
            WorkflowOutcome {
                patches: vec![],
                denied: None,
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
            FailurePolicy::Stop => {
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
            FailurePolicy::Continue => {
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

pub(crate) fn as_claims(value: Value) -> Claims {
    match value {
        Value::Object(map) => map,
        _ => Claims::new(),
    }
}

pub(crate) fn time_now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or_default()
}
