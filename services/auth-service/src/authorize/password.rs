//! `POST /oauth2/auth`: the sign-in form (an email or a username, and a password), throttled per
//! account and per address; `user:existing_password_provided` runs before the password is
//! checked.

use std::net::SocketAddr;

use axum::{
    extract::{ConnectInfo, State},
    http::{HeaderMap, StatusCode},
    response::Response,
};
use axum_extra::extract::cookie::CookieJar;

use super::{
    cookies, email, existing_password, pages, pages::FormPage, start_session, storage_page, throttled, try_again_in,
    with_prompt, with_retry_after, AuthorizationRequest,
};
use crate::{passwords, AppState};

/// `POST /oauth2/auth`: the sign-in form.
pub async fn sign_in(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    jar: CookieJar,
    posted: super::PostedForm,
) -> Response {
    let (request, nonce) = (posted.request, posted.nonce);
    let field = |name: &str| posted.fields.get(name).map(String::as_str).unwrap_or_default();
    let email = field("email").trim().to_owned();
    let password = field("password").to_owned();
    if email.is_empty() || password.is_empty() {
        return login_page(
            &state,
            &request,
            &nonce,
            &email,
            Some(if state.config.usernames.asked() {
                "Enter your email or username, and your password."
            } else {
                "Enter your email and password."
            }),
            StatusCode::BAD_REQUEST,
        );
    }
    let throttle = state.config.login_throttle;
    let account = format!("account:{}", email.to_lowercase());
    let address = format!("ip:{}", peer.ip());
    for (subject, limit) in [(&account, throttle.max_per_account), (&address, throttle.max_per_ip)] {
        match throttled(&state, subject, limit).await {
            Ok(Some(retry_after)) => {
                let message = format!("Too many failed sign-in attempts. {}", try_again_in(retry_after));
                let page = login_page(&state, &request, &nonce, &email, Some(&message), StatusCode::TOO_MANY_REQUESTS);
                return with_retry_after(page, retry_after);
            }
            Ok(None) => {}
            Err(err) => return storage_page(err).into_response(),
        }
    }
    // NOTE: an email has an `@`, a username never does.
    let by_username = !email.contains('@');
    let find = || async {
        match by_username {
            true => state.store.find_user_by_username(&email).await,
            false => state.store.find_user_by_email(&email).await,
        }
    };
    let mut user = match find().await {
        Ok(user) => user,
        Err(err) => return storage_page(err).into_response(),
    };
    let submitted = existing_password::Submitted { login: &email, by_username, password: &password };
    match existing_password::run(&state, &request, submitted, user.as_ref(), peer, &headers).await {
        Ok(None) => {}
        Ok(Some(refused)) if !refused.is_empty() => {
            // NOTE: a password the workflow refused counts as a wrong one for the throttle.
            if let Err(err) = state.store.record_login_failure(&[account, address]).await {
                return storage_page(err).into_response();
            }
            let messages: Vec<&str> = refused.iter().map(|error| error.message.as_str()).collect();
            return login_page(&state, &request, &nonce, &email, Some(&messages.join(" ")), StatusCode::UNAUTHORIZED);
        }
        // The workflow may have created the user, or set the password (drip-feed migration).
        Ok(Some(_)) => match find().await {
            Ok(found) => user = found,
            Err(err) => return storage_page(err).into_response(),
        },
        Err(error) if error.code.as_str() == "access_denied" => {
            return login_page(&state, &request, &nonce, &email, Some(&error.description), StatusCode::FORBIDDEN);
        }
        Err(error) => {
            tracing::warn!(error = error.code.as_str(), description = %error.description, "sign-in stopped by its password workflow");
            return pages::message(
                StatusCode::SERVICE_UNAVAILABLE,
                "Sign-in could not be completed",
                "Your password could not be checked just now. Try again in a moment.",
            );
        }
    }
    let stored = user.as_ref().and_then(|user| user.password_hash.clone());
    // NOTE: an unknown email costs the same argon2 verification as a wrong password, so response
    // times do not tell which accounts exist.
    let verified = tokio::task::spawn_blocking(move || match stored {
        Some(hash) => passwords::verify(&hash, &password),
        None => {
            passwords::verify(passwords::dummy_hash(), &password);
            false
        }
    })
    .await
    .unwrap_or(false);
    let Some(user) = user.filter(|_| verified) else {
        if let Err(err) = state.store.record_login_failure(&[account, address]).await {
            return storage_page(err).into_response();
        }
        return login_page(
            &state,
            &request,
            &nonce,
            &email,
            Some(if state.config.usernames.asked() {
                "The email, username or password is incorrect."
            } else {
                "The email or password is incorrect."
            }),
            StatusCode::UNAUTHORIZED,
        );
    };
    if let Err(err) = state.store.clear_login_failures(&account).await {
        return storage_page(err).into_response();
    }
    // With email, an address nobody proved yet is proved before the first session.
    if state.config.smtp.is_some() && !user.email_verified {
        return email::start_verification(&state, &request, &nonce, &user, false).await;
    }
    start_session(&state, &request, &user, false, peer, &headers, jar).await
}

pub(super) fn login_page(
    state: &AppState,
    request: &AuthorizationRequest,
    nonce: &str,
    email: &str,
    error: Option<&str>,
    status: StatusCode,
) -> Response {
    let name = &request.application.name;
    pages::LoginPage {
        app_name: name,
        app_initial: pages::initial(name),
        request: &request.raw,
        csrf: &cookies::csrf_token(state, nonce),
        email,
        usernames: state.config.usernames.asked(),
        error,
        sign_up_query: request.application.allow_signup.then(|| with_prompt(&request.raw, Some("create"))),
        can_reset: state.config.smtp.is_some(),
    }
    .respond(status, &request.redirect_uri)
}
