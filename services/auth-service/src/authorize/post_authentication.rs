//! `user:post_authentication`: the live workflow of that trigger runs once the password is
//! checked, before the session and the code exist, so a denial leaves nothing behind. It sees
//! the authorization request's parameters and who signed in; `kinde.auth.denyAccess` ends the
//! sign-in with `access_denied` at the client's redirect, and `kinde.ssoSession.setPolicy` sets
//! the new session's persistence.

use std::net::SocketAddr;

use axum::http::{header, HeaderMap};
use claimflow_contracts::{
    event::{
        AuthUrlParams, EventApplication, EventAuth, EventContext, EventDomains, EventRequest, EventRequestAuth,
        EventUser, EventWorkflow, WorkflowEvent,
    },
    workflow::SessionPolicy,
    Trigger,
};
use claimflow_storage::entity::user;

use super::AuthorizationRequest;
use crate::{issuance, oauth::error::OAuthError, user_tokens::PASSWORD_CONNECTION_ID, AppState};

/// Runs the live workflow, if there is one: the session policy it set, or why the sign-in stops.
pub(super) async fn run(
    state: &AppState,
    request: &AuthorizationRequest,
    user: &user::Model,
    new_user: bool,
    peer: SocketAddr,
    headers: &HeaderMap,
) -> Result<Option<SessionPolicy>, OAuthError> {
    let Some(deployment) = state.cache.live_deployment(&state.store, Trigger::UserPostAuthentication).await? else {
        return Ok(None);
    };
    let event = WorkflowEvent {
        request: EventRequest {
            auth: EventRequestAuth { audience: request.audience.clone() },
            ip: peer.ip().to_string(),
            user_agent: headers.get(header::USER_AGENT).and_then(|v| v.to_str().ok()).map(str::to_owned),
            locale: None,
            auth_url_params: Some(AuthUrlParams {
                state: request.state.clone(),
                client_id: request.application.id.clone(),
                redirect_uri: request.redirect_uri.clone(),
                org_code: request.org_code.clone(),
                login_hint: request.login_hint.clone(),
                scope: request.scopes.join(" "),
                audience: request.audience.clone(),
                prompt: request.prompt.clone(),
            }),
        },
        context: EventContext {
            domains: EventDomains { kinde_domain: state.config.issuer.clone() },
            workflow: EventWorkflow { trigger: Trigger::UserPostAuthentication },
            application: EventApplication { client_id: request.application.id.clone() },
            auth: Some(EventAuth {
                is_new_user_record_created: Some(new_user),
                ..EventAuth::connection(PASSWORD_CONNECTION_ID)
            }),
            user: Some(EventUser::of(&user.id)),
            organization: None,
        },
    };
    let outcome = issuance::run_sign_in_workflow(state, &deployment, event, Vec::new()).await?;
    Ok(outcome.session_policy)
}
