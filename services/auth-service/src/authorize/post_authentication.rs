//! `user:post_authentication`: the live workflow of that trigger runs once the password is
//! checked, before the session and the code exist, so a denial leaves nothing behind. It sees
//! the authorization request's parameters and who signed in; `kinde.auth.denyAccess` ends the
//! sign-in with `access_denied` at the client's redirect, and `kinde.ssoSession.setPolicy` sets
//! the new session's persistence.

use std::net::SocketAddr;

use axum::http::HeaderMap;
use claimflow_contracts::{
    event::{EventAuth, EventUser},
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
    let auth =
        EventAuth { is_new_user_record_created: Some(new_user), ..EventAuth::connection(PASSWORD_CONNECTION_ID) };
    let user = Some(EventUser::of(&user.id));
    let event = super::sign_in_event(state, request, Trigger::UserPostAuthentication, (peer, headers), auth, user);
    let outcome = issuance::run_sign_in_workflow(state, event, Vec::new()).await?;
    Ok(outcome.and_then(|outcome| outcome.session_policy))
}
