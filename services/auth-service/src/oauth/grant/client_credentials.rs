//! `grant_type=client_credentials`: an M2M token for one API, shaped by the live
//! `m2m:token_generation` workflow.

use claimflow_contracts::{
    base_claims::{unix_now, M2mClaims},
    event::{
        EventApplication, EventContext, EventDomains, EventRequest, EventRequestAuth, EventWorkflow, WorkflowEvent,
    },
    workflow::BaseClaims,
    TokenKind, Trigger,
};
use claimflow_storage::entity::application;
use serde_json::Value;

use crate::{
    issuance::run_and_sign,
    oauth::{error::OAuthError, request::Caller, response::TokenResponse},
    AppState,
};

pub async fn exchange(
    state: &AppState,
    application: &application::Model,
    audience: &str,
    requested_scopes: Option<Vec<String>>,
    caller: &Caller<'_>,
) -> Result<TokenResponse, OAuthError> {
    let api = state
        .cache
        .api_by_audience(&state.store, audience)
        .await?
        .ok_or_else(|| OAuthError::invalid_target(format!("no API has the audience {audience:?}")))?;
    let granted = state.cache.granted_scopes(&state.store, &api.id, &application.id).await?.ok_or_else(|| {
        OAuthError::access_denied(format!("application {} is not authorized for the API {audience:?}", application.id))
    })?;
    let scopes = match requested_scopes {
        None => granted.to_vec(),
        Some(requested) => {
            if let Some(missing) = requested.iter().find(|scope| !granted.contains(scope)) {
                return Err(OAuthError::invalid_scope(format!(
                    "scope {missing:?} is not granted to this application for {audience:?}"
                )));
            }
            requested
        }
    };
    let lifetime = application
        .access_token_lifetime
        .and_then(|seconds| u64::try_from(seconds).ok())
        .unwrap_or(state.config.m2m_token_lifetime.as_secs());
    let token_properties = state.cache.token_properties(&state.store, &application.id).await?;
    let jti = uuid::Uuid::new_v4().to_string();
    let access = M2mClaims {
        issuer: &state.config.issuer,
        client_id: &application.id,
        audience,
        scopes: &scopes,
        now: unix_now(),
        lifetime_secs: lifetime,
        jti: &jti,
        token_properties: &token_properties,
    }
    .build();

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
            ip: caller.peer.ip().to_string(),
            user_agent: caller.user_agent.map(str::to_owned),
            locale: None,
            auth_url_params: None,
        },
        context: EventContext {
            domains: EventDomains { kinde_domain: state.config.issuer.clone() },
            workflow: EventWorkflow { trigger: Trigger::M2mTokenGeneration },
            application: EventApplication { client_id: application.id.clone() },
            auth: None,
            user: None,
            organization: None,
            mfa: None,
        },
    };
    let base = BaseClaims { access, id: None };
    let issued =
        run_and_sign(state, deployment.as_deref(), event, base, TokenKind::M2m, "client_credentials").await?.tokens;
    Ok(TokenResponse {
        access_token: issued.access_token,
        id_token: None,
        refresh_token: None,
        expires_in: lifetime,
        scope: issued.access_claims.get("scope").and_then(Value::as_str).unwrap_or_default().to_owned(),
        token_type: "bearer",
    })
}
