//! What claimflow does by email (`CLAIMFLOW_SMTP_URL`): a 6-digit code proves an address before
//! its first session (after a sign-up, or at the first sign-in of a user nobody verified), and a
//! code lets a person who forgot their password choose a new one.
//!
//! The browser holds a ticket (a random secret in the form) and the person types the code from
//! the email; both are stored hashed, a code works for 15 minutes and 5 tries, and a new code
//! replaces the old. A reset never tells whether an email has an account: the same page follows
//! either way, as fast (its email goes out after the answer, a failure to send only logged). The new password goes through `user:new_password_provided` (reason `reset`).

use std::net::SocketAddr;

use axum::{
    extract::{ConnectInfo, RawQuery, State},
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
};
use axum_extra::extract::cookie::CookieJar;
use claimflow_contracts::{
    event::{EventAuth, EventUser},
    Trigger,
};
use claimflow_storage::{entity::user, CodeCheck};

use super::{cookies, pages, pages::FormPage, parse_request, storage_page, AuthorizationRequest};
use crate::{
    issuance, oauth::error::OAuthError, passwords, secrets, user_tokens, user_tokens::PASSWORD_CONNECTION_ID, AppState,
};

/// The code proves the address of a user who has just signed up.
const VERIFY_SIGN_UP: &str = "verify_sign_up";
/// The code proves the address of an existing user.
const VERIFY_EMAIL: &str = "verify_email";
const RESET_PASSWORD: &str = "reset_password";
const CODE_LIFETIME_MS: i64 = 15 * 60 * 1000;

/// Sends `user` a code to prove their address; the page to type it into. `new_user`: the user
/// has just signed up (post-authentication will hear so once the code is typed).
pub(super) async fn start_verification(
    state: &AppState,
    request: &AuthorizationRequest,
    nonce: &str,
    user: &user::Model,
    new_user: bool,
) -> Response {
    let purpose = if new_user { VERIFY_SIGN_UP } else { VERIFY_EMAIL };
    let subject = format!("Your code for {}", request.application.name);
    match send_code(state, user, purpose, &subject, Delivery::Wait).await {
        Ok(ticket) => code_page(state, request, nonce, &user.email, &ticket, false, None, StatusCode::OK),
        Err(response) => response,
    }
}

/// How a code's email goes out.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Delivery {
    /// Before the page answers: a failure is shown (verification).
    Wait,
    /// After it (a reset): the code is stored and mailed once the page has answered, so the
    /// answer takes as long whether or not the email has an account; a failure is only logged.
    Background,
}

/// Stores a new code for `user` and mails it; the ticket the form carries.
async fn send_code(
    state: &AppState,
    user: &user::Model,
    purpose: &str,
    subject: &str,
    delivery: Delivery,
) -> Result<String, Response> {
    let Some(smtp) = &state.config.smtp else {
        return Err(pages::message(StatusCode::NOT_FOUND, "Email is not set up", "This service sends no email."));
    };
    let ticket = user_tokens::new_secret();
    let code = format!("{:06}", rand::random::<u32>() % 1_000_000);
    let body = format!(
        "Hello {},\n\nYour code is {code}. Type it on the page that asked for it; it works for 15 minutes.\n\n\
         If you did not ask for it, you can ignore this email.\n",
        if user.given_name.is_empty() { "there" } else { &user.given_name }
    );
    let (store, ticket_hash, code_hash) =
        (state.store.clone(), secrets::hash_secret(&ticket), secrets::hash_secret(&code));
    let (user_id, purpose) = (user.id.clone(), purpose.to_owned());
    let stored =
        async move { store.create_email_code(&ticket_hash, &user_id, &purpose, &code_hash, CODE_LIFETIME_MS).await };
    if delivery == Delivery::Background {
        let (smtp, to, subject, user_id) = (smtp.clone(), user.email.clone(), subject.to_owned(), user.id.clone());
        tokio::spawn(async move {
            if let Err(err) = stored.await {
                return tracing::error!(%err, %user_id, "cannot store a password reset code");
            }
            if let Err(err) = smtp.send(&to, &subject, body).await {
                tracing::error!(%err, %user_id, "cannot send a password reset code by email");
            }
        });
        return Ok(ticket);
    }
    if let Err(err) = stored.await {
        return Err(storage_page(err).into_response());
    }
    if let Err(err) = smtp.send(&user.email, subject, body).await {
        tracing::error!(%err, user_id = %user.id, "cannot send a code by email");
        return Err(pages::message(
            StatusCode::SERVICE_UNAVAILABLE,
            "The email could not be sent",
            "We could not send you the code just now. Try again in a moment.",
        ));
    }
    Ok(ticket)
}

#[allow(clippy::too_many_arguments)]
fn code_page(
    state: &AppState,
    request: &AuthorizationRequest,
    nonce: &str,
    email: &str,
    ticket: &str,
    reset: bool,
    error: Option<&str>,
    status: StatusCode,
) -> Response {
    let name = &request.application.name;
    pages::CodePage {
        app_name: name,
        app_initial: pages::initial(name),
        heading: if reset { "Choose a new password" } else { "Check your email" },
        email,
        action: if reset { "reset/confirm" } else { "verify" },
        button: if reset { "Set the password" } else { "Continue" },
        request: &request.raw,
        csrf: &cookies::csrf_token(state, nonce),
        ticket,
        new_password: reset,
        error,
    }
    .respond(status, &request.redirect_uri)
}

fn expired() -> Response {
    pages::message(
        StatusCode::GONE,
        "This code has expired",
        "The code has expired, was used, or was typed wrong too many times. Go back to the application and \
         sign in again to get a new one.",
    )
}

/// `POST /oauth2/verify`: the code that proves an address; then the session.
pub async fn verify_email(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    jar: CookieJar,
    posted: super::PostedForm,
) -> Response {
    let ticket = secrets::hash_secret(posted.field("ticket"));
    let code = secrets::hash_secret(posted.field("code").trim());
    let checked = state.store.check_email_code(&ticket, &[VERIFY_SIGN_UP, VERIFY_EMAIL], &code).await;
    let (user_id, purpose) = match checked {
        Ok(CodeCheck::Accepted { user_id, purpose }) => (user_id, purpose),
        Ok(CodeCheck::Wrong { attempts_left }) => return wrong_code(&state, &posted, false, attempts_left),
        Ok(CodeCheck::Expired) => return expired(),
        Err(err) => return storage_page(err).into_response(),
    };
    if let Err(err) = state.store.set_email_verified(&user_id).await {
        return storage_page(err).into_response();
    }
    let user = match state.store.find_user(&user_id).await {
        Ok(Some(user)) => user,
        Ok(None) => return expired(),
        Err(err) => return storage_page(err).into_response(),
    };
    tracing::info!(user_id = %user.id, "email address verified");
    super::start_session(&state, &posted.request, &user, purpose == VERIFY_SIGN_UP, peer, &headers, jar).await
}

/// `GET /oauth2/reset?<authorization request>`: "forgot your password?".
pub async fn forgot_password(State(state): State<AppState>, jar: CookieJar, RawQuery(query): RawQuery) -> Response {
    let raw = query.unwrap_or_default();
    let request = match parse_request(&state, &raw).await {
        Ok(request) => request,
        Err(refusal) => return refusal.into_response(),
    };
    if state.config.smtp.is_none() {
        return pages::message(
            StatusCode::NOT_FOUND,
            "Password reset is not available",
            "This service sends no email, so a password cannot be reset here. Ask the application's owner.",
        );
    }
    let (nonce, jar) = super::csrf_nonce(&state, jar);
    let name = &request.application.name;
    let page = pages::ForgotPage {
        app_name: name,
        app_initial: pages::initial(name),
        request: &request.raw,
        csrf: &cookies::csrf_token(&state, &nonce),
        email: request.login_hint.as_deref().unwrap_or_default(),
    };
    (jar, page.respond(StatusCode::OK)).into_response()
}

/// `POST /oauth2/reset`: mails a reset code if the email has an account; the same page follows
/// either way.
pub async fn send_reset_code(State(state): State<AppState>, posted: super::PostedForm) -> Response {
    let email = posted.field("email").trim().to_owned();
    let ticket = match state.store.find_user_by_email(&email).await {
        Ok(Some(user)) => {
            match send_code(
                &state,
                &user,
                RESET_PASSWORD,
                &format!("Reset your password for {}", posted.request.application.name),
                Delivery::Background,
            )
            .await
            {
                Ok(ticket) => ticket,
                Err(response) => return response,
            }
        }
        // NOTE: a ticket that names nothing: the page cannot tell which emails have accounts.
        Ok(None) => user_tokens::new_secret(),
        Err(err) => return storage_page(err).into_response(),
    };
    code_page(&state, &posted.request, &posted.nonce, &email, &ticket, true, None, StatusCode::OK)
}

/// `POST /oauth2/reset/confirm`: the code and the new password; then the session.
pub async fn reset_password(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    jar: CookieJar,
    posted: super::PostedForm,
) -> Response {
    let (password, confirmation) =
        (posted.field("password").to_owned(), posted.field("password_confirmation").to_owned());
    let ticket = secrets::hash_secret(posted.field("ticket"));
    let code = secrets::hash_secret(posted.field("code").trim());
    let user_id = match state.store.check_email_code(&ticket, &[RESET_PASSWORD], &code).await {
        Ok(CodeCheck::Accepted { user_id, .. }) => user_id,
        Ok(CodeCheck::Wrong { attempts_left }) => return wrong_code(&state, &posted, true, attempts_left),
        Ok(CodeCheck::Expired) => return expired(),
        Err(err) => return storage_page(err).into_response(),
    };
    let user = match state.store.find_user(&user_id).await {
        Ok(Some(user)) => user,
        Ok(None) => return expired(),
        Err(err) => return storage_page(err).into_response(),
    };
    let auth = EventAuth {
        first_password: Some(password.clone()),
        second_password: Some(confirmation.clone()),
        new_password_reason: Some("reset".to_owned()),
        ..EventAuth::connection(PASSWORD_CONNECTION_ID)
    };
    let user_event = EventUser { email: Some(user.email.clone()), ..EventUser::of(&user.id) };
    let trigger = Trigger::UserNewPasswordProvided;
    let event = super::sign_in_event(&state, &posted.request, trigger, (peer, &headers), auth, Some(user_event));
    // NOTE: the code was right and is spent: a refused password gets a new ticket for the same
    // code (no new email) to try again.
    let again = |message: String| retry_reset(&state, &posted, &user, message);
    match issuance::run_sign_in_workflow(&state, event, vec![password.clone(), confirmation.clone()]).await {
        Ok(Some(outcome)) if !outcome.form_errors.is_empty() => {
            let messages: Vec<&str> = outcome.form_errors.iter().map(|error| error.message.as_str()).collect();
            return again(messages.join(" ")).await;
        }
        Ok(_) => {}
        Err(error) => return super::signup::unavailable(&error),
    }
    if password != confirmation {
        return again("The passwords do not match.".to_owned()).await;
    }
    let hash = match tokio::task::spawn_blocking(move || passwords::hash(&password)).await {
        Ok(Ok(hash)) => hash,
        Ok(Err(err)) => return again(super::signup::capitalized(&err.to_string())).await,
        Err(_) => return super::signup::unavailable(&OAuthError::server_error("the password could not be hashed")),
    };
    for step in [state.store.set_user_password(&user.id, &hash).await, state.store.set_email_verified(&user.id).await] {
        if let Err(err) = step {
            return storage_page(err).into_response();
        }
    }
    if let Err(err) = state.store.clear_login_failures(&format!("account:{}", user.email.to_lowercase())).await {
        return storage_page(err).into_response();
    }
    tracing::info!(user_id = %user.id, "password reset by email code");
    super::start_session(&state, &posted.request, &user, false, peer, &headers, jar).await
}

/// The reset page again, with `message`, under a new ticket for the code just typed.
async fn retry_reset(state: &AppState, posted: &super::PostedForm, user: &user::Model, message: String) -> Response {
    let ticket = user_tokens::new_secret();
    let code = secrets::hash_secret(posted.field("code").trim());
    let stored = state
        .store
        .create_email_code(&secrets::hash_secret(&ticket), &user.id, RESET_PASSWORD, &code, CODE_LIFETIME_MS)
        .await;
    if let Err(err) = stored {
        return storage_page(err).into_response();
    }
    code_page(
        state,
        &posted.request,
        &posted.nonce,
        &user.email,
        &ticket,
        true,
        Some(&message),
        StatusCode::BAD_REQUEST,
    )
}

/// The code page again, saying the code was wrong.
fn wrong_code(state: &AppState, posted: &super::PostedForm, reset: bool, attempts_left: i32) -> Response {
    let message = format!("That code is not right: {attempts_left} tries left.");
    let (email, ticket) = (posted.field("email"), posted.field("ticket"));
    code_page(state, &posted.request, &posted.nonce, email, ticket, reset, Some(&message), StatusCode::BAD_REQUEST)
}
