//! Sign-up: `prompt=create` (or the login page's link) shows the sign-up page of an application
//! that allows it (`allow_signup`); `POST /oauth2/signup` creates the account and signs it in.
//!
//! With `CLAIMFLOW_USERNAMES`, the page asks for a username too, and `user:new_username_provided`
//! runs with it first (`invalidateFormField("p_username", ...)` refuses it, its message at the
//! field).
//!
//! On the way, `user:pre_registration` runs before anything exists (`denyAccess` stops the
//! sign-up, its reason on the page) and `user:new_password_provided` (reason `initial`) with the
//! password and its confirmation (`invalidateFormField` refuses it, its message at the password
//! fields). The user and the password are stored in one row, only once both workflows agreed:
//! a refusal or a failure leaves no user behind. Then `user:post_authentication` runs, with
//! `isNewUserRecordCreated: true`, and the sign-in completes as after a password.
//!
//! With `CLAIMFLOW_SMTP_URL`, the email address is proved with a code before the first session
//! (see [`super::email`]); without it, accounts are created with an unverified email.

use std::net::SocketAddr;

use axum::{
    extract::{ConnectInfo, State},
    http::{HeaderMap, StatusCode},
    response::Response,
};
use axum_extra::extract::cookie::CookieJar;
use claimflow_contracts::{
    event::{EventAuth, EventUser},
    Trigger,
};

use super::{cookies, pages, pages::FormPage, storage_page, AuthorizationRequest};
use claimflow_storage::NewUser;

use crate::{
    config::Usernames, issuance, oauth::error::OAuthError, passwords, user_tokens::PASSWORD_CONNECTION_ID, AppState,
};

/// What the sign-up form carried.
#[derive(Default)]
pub(super) struct Form {
    given_name: String,
    family_name: String,
    email: String,
    username: String,
    password: String,
    confirmation: String,
}

/// The sign-up page (`prompt=create`), or why there is none.
pub(super) fn page(state: &AppState, request: &AuthorizationRequest, nonce: &str) -> Response {
    if !request.application.allow_signup {
        return pages::message(
            StatusCode::FORBIDDEN,
            "Sign-up is not available",
            "This application does not let you create an account here. Ask its owner for one, or sign in.",
        );
    }
    render(state, request, nonce, &Form::default(), Errors::default(), StatusCode::OK)
}

/// What the page says is wrong: about the form as a whole, or next to a field.
#[derive(Default, Clone, Copy)]
struct Errors<'a> {
    form: Option<&'a str>,
    username: Option<&'a str>,
    password: Option<&'a str>,
}

fn render(
    state: &AppState,
    request: &AuthorizationRequest,
    nonce: &str,
    form: &Form,
    errors: Errors<'_>,
    status: StatusCode,
) -> Response {
    let name = &request.application.name;
    pages::SignUpPage {
        app_name: name,
        app_initial: pages::initial(name),
        request: &request.raw,
        csrf: &cookies::csrf_token(state, nonce),
        given_name: &form.given_name,
        family_name: &form.family_name,
        email: &form.email,
        username: state.config.usernames.asked().then_some(form.username.as_str()),
        username_required: state.config.usernames == Usernames::Required,
        error: errors.form,
        username_error: errors.username,
        password_error: errors.password,
        sign_in_query: super::with_prompt(&request.raw, None),
    }
    .respond(status, &request.redirect_uri)
}

/// `POST /oauth2/signup`.
pub async fn sign_up(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    jar: CookieJar,
    posted: super::PostedForm,
) -> Response {
    let field = |name: &str| posted.field(name);
    let (request, nonce) = (&posted.request, posted.nonce.as_str());
    if !request.application.allow_signup {
        return page(&state, request, nonce);
    }
    // NOTE: every sign-up sent counts, made or not: the form tells whether an email has an
    // account, so it is rate-limited per address like failed sign-ins.
    let address = format!("signup:{}", peer.ip());
    match super::throttled(&state, &address, state.config.login_throttle.max_per_ip).await {
        Ok(Some(retry_after)) => {
            let message = format!("Too many sign-ups from your network. {}", super::try_again_in(retry_after));
            let errors = Errors { form: Some(&message), ..Errors::default() };
            let page = render(&state, request, nonce, &Form::default(), errors, StatusCode::TOO_MANY_REQUESTS);
            return super::with_retry_after(page, retry_after);
        }
        Ok(None) => {}
        Err(err) => return storage_page(err).into_response(),
    }
    if let Err(err) = state.store.record_login_failure(&[address]).await {
        return storage_page(err).into_response();
    }
    let form = Form {
        given_name: field("given_name").trim().to_owned(),
        family_name: field("family_name").trim().to_owned(),
        email: field("email").trim().to_owned(),
        username: field("username").trim().to_lowercase(),
        password: field("password").to_owned(),
        confirmation: field("password_confirmation").to_owned(),
    };
    let refuse = |error: Option<&str>, password_error: Option<&str>, status: StatusCode| {
        render(&state, request, nonce, &form, Errors { form: error, password: password_error, username: None }, status)
    };
    let refuse_username = |message: &str, status: StatusCode| {
        render(&state, request, nonce, &form, Errors { username: Some(message), ..Errors::default() }, status)
    };
    if form.given_name.is_empty() || !valid_email(&form.email) {
        return refuse(Some("Enter your first name and a valid email address."), None, StatusCode::BAD_REQUEST);
    }
    match state.store.find_user_by_email(&form.email).await {
        Ok(None) => {}
        Ok(Some(_)) => {
            return refuse(
                Some("An account with this email already exists. Sign in instead."),
                None,
                StatusCode::CONFLICT,
            )
        }
        Err(err) => return storage_page(err).into_response(),
    }
    let username = Some(form.username.clone()).filter(|name| state.config.usernames.asked() && !name.is_empty());
    if username.is_none() && state.config.usernames == Usernames::Required {
        return refuse_username("Choose a username.", StatusCode::BAD_REQUEST);
    }
    if let Some(username) = &username {
        if let Err(message) = check_username(username) {
            return refuse_username(message, StatusCode::BAD_REQUEST);
        }
        match state.store.find_user_by_username(username).await {
            Ok(None) => {}
            Ok(Some(_)) => return refuse_username("This username is taken; choose another.", StatusCode::CONFLICT),
            Err(err) => return storage_page(err).into_response(),
        }
        // user:new_username_provided: the username as typed (lowercased), before anything exists.
        let auth =
            EventAuth { supplied_username: Some(username.clone()), ..EventAuth::connection(PASSWORD_CONNECTION_ID) };
        let trigger = Trigger::UserNewUsernameProvided;
        let event = super::sign_in_event(&state, request, trigger, (peer, &headers), auth, None);
        match issuance::run_sign_in_workflow(&state, event, Vec::new()).await {
            Ok(Some(outcome)) if !outcome.form_errors.is_empty() => {
                let messages: Vec<&str> = outcome.form_errors.iter().map(|error| error.message.as_str()).collect();
                return refuse_username(&messages.join(" "), StatusCode::BAD_REQUEST);
            }
            Ok(_) => {}
            Err(error) if error.code.as_str() == "access_denied" => {
                return refuse(Some(&error.description), None, StatusCode::FORBIDDEN)
            }
            Err(error) => return unavailable(&error),
        }
    }

    // user:pre_registration: nothing exists yet.
    let auth = EventAuth::connection(PASSWORD_CONNECTION_ID);
    let event = super::sign_in_event(&state, request, Trigger::UserPreRegistration, (peer, &headers), auth, None);
    match issuance::run_sign_in_workflow(&state, event, Vec::new()).await {
        Ok(_) => {}
        Err(error) if error.code.as_str() == "access_denied" => {
            return refuse(Some(&error.description), None, StatusCode::FORBIDDEN)
        }
        Err(error) => return unavailable(&error),
    }

    // user:new_password_provided (initial): the password and its confirmation.
    let user_id = claimflow_storage::new_user_id();
    let auth = EventAuth {
        first_password: Some(form.password.clone()),
        second_password: Some(form.confirmation.clone()),
        new_password_reason: Some("initial".to_owned()),
        ..EventAuth::connection(PASSWORD_CONNECTION_ID)
    };
    let user = EventUser { email: Some(form.email.clone()), ..EventUser::of(&user_id) };
    let event =
        super::sign_in_event(&state, request, Trigger::UserNewPasswordProvided, (peer, &headers), auth, Some(user));
    let redact = vec![form.password.clone(), form.confirmation.clone()];
    match issuance::run_sign_in_workflow(&state, event, redact).await {
        Ok(Some(outcome)) if !outcome.form_errors.is_empty() => {
            let messages: Vec<&str> = outcome.form_errors.iter().map(|error| error.message.as_str()).collect();
            return refuse(None, Some(&messages.join(" ")), StatusCode::BAD_REQUEST);
        }
        Ok(_) => {}
        Err(error) => return unavailable(&error),
    }
    if form.password != form.confirmation {
        return refuse(None, Some("The passwords do not match."), StatusCode::BAD_REQUEST);
    }
    let password = form.password.clone();
    let hash = match tokio::task::spawn_blocking(move || passwords::hash(&password)).await {
        Ok(Ok(hash)) => hash,
        Ok(Err(err)) => return refuse(None, Some(&capitalized(&err.to_string())), StatusCode::BAD_REQUEST),
        Err(_) => return unavailable(&OAuthError::server_error("the password could not be hashed")),
    };
    let new = NewUser {
        id: &user_id,
        email: &form.email,
        username: username.as_deref(),
        given_name: &form.given_name,
        family_name: &form.family_name,
        password_hash: Some(&hash),
    };
    let user = match state.store.create_user_with_password(new).await {
        Ok(user) => user,
        Err(claimflow_storage::StorageError::Conflict(_)) => {
            return refuse(
                Some("An account with this email or username already exists. Sign in instead."),
                None,
                StatusCode::CONFLICT,
            )
        }
        Err(err) => return storage_page(err).into_response(),
    };
    tracing::info!(user_id = %user.id, client_id = %request.application.id, "account created by sign-up");

    // With email, the address is proved first; then signed in as after a password.
    if state.config.smtp.is_some() {
        return super::email::start_verification(&state, request, nonce, &user, true).await;
    }
    super::start_session(&state, request, &user, true, peer, &headers, jar).await
}

pub(super) fn unavailable(error: &OAuthError) -> Response {
    tracing::warn!(error = error.code.as_str(), description = %error.description, "sign-up stopped by a workflow");
    pages::message(
        StatusCode::SERVICE_UNAVAILABLE,
        "This could not be completed",
        "A check this service runs could not be made just now; nothing was saved. Try again in a moment.",
    )
}

/// A username: 3 to 64 lowercase letters, digits, `.`, `_` or `-`, starting with a letter or a
/// digit, and no `@` (what tells a username from an email at sign-in).
pub(crate) fn check_username(username: &str) -> Result<(), &'static str> {
    let allowed = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || ".-_".contains(c);
    let starts_well = username.chars().next().is_some_and(|c| c.is_ascii_alphanumeric());
    if (3..=64).contains(&username.len()) && username.chars().all(allowed) && starts_well {
        Ok(())
    } else {
        Err("A username has 3 to 64 letters, digits, dots, dashes or underscores, and starts with a letter or a digit.")
    }
}

fn valid_email(email: &str) -> bool {
    let Some((local, domain)) = email.split_once('@') else { return false };
    !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && email.len() <= 320
        && !email.contains(char::is_whitespace)
}

pub(super) fn capitalized(text: &str) -> String {
    let mut chars = text.chars();
    chars.next().map(|first| first.to_uppercase().chain(chars).collect::<String>()).unwrap_or_default() + "."
}
