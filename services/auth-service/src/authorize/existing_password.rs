//! `user:existing_password_provided`: the live workflow of that trigger runs when a password is
//! submitted at sign-in, before claimflow checks it, whether claimflow knows the email or not.
//! That is what drip-feed migration needs: for an email claimflow does not know, the workflow
//! asks the legacy system whether the password is right and, if it is, creates the user and
//! sets the password through the management API; the sign-in then finds the user and goes on.
//! `kinde.widget.invalidateFormField(field, message)` refuses the password with its message.
//!
//! The password travels to the worker in the event and nowhere else: the worker removes it
//! from the run's logs and error before anything is recorded.

use std::net::SocketAddr;

use axum::http::HeaderMap;
use claimflow_contracts::{
    event::{EventAuth, EventUser},
    workflow::FormFieldError,
    Trigger,
};
use claimflow_storage::entity::user;

use super::AuthorizationRequest;
use crate::{issuance, oauth::error::OAuthError, user_tokens::PASSWORD_CONNECTION_ID, AppState};

/// What was typed into the sign-in form.
pub(super) struct Submitted<'a> {
    /// An email, or a username (`by_username`).
    pub login: &'a str,
    pub by_username: bool,
    pub password: &'a str,
}

/// Runs the live workflow, if there is one (`None` when there is none): the form errors it
/// raised (none: go on).
pub(super) async fn run(
    state: &AppState,
    request: &AuthorizationRequest,
    submitted: Submitted<'_>,
    user: Option<&user::Model>,
    peer: SocketAddr,
    headers: &HeaderMap,
) -> Result<Option<Vec<FormFieldError>>, OAuthError> {
    let auth = EventAuth {
        password: Some(submitted.password.to_owned()),
        // NOTE: signed in with a username, the email is the user's, when claimflow knows them.
        provided_email: match submitted.by_username {
            false => Some(submitted.login.to_owned()),
            true => user.map(|user| user.email.clone()),
        },
        supplied_username: submitted.by_username.then(|| submitted.login.to_lowercase()),
        hashed_password: user.and_then(|user| user.password_hash.clone()),
        has_user_record_in_kinde: Some(user.is_some()),
        ..EventAuth::connection(PASSWORD_CONNECTION_ID)
    };
    let user_event = user.map(|user| EventUser::of(&user.id));
    let trigger = Trigger::UserExistingPasswordProvided;
    let event = super::sign_in_event(state, request, trigger, (peer, headers), auth, user_event);
    let outcome = issuance::run_sign_in_workflow(state, event, vec![submitted.password.to_owned()]).await?;
    Ok(outcome.map(|outcome| outcome.form_errors))
}
