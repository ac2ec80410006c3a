//! `/oauth2/auth`: the authorization code flow's front door, the sign-in page and the browser
//! session; `/logout`.
//!
//! A request whose client or redirect URI cannot be trusted is answered with a page, never a
//! redirect (no open redirects). Everything after that goes back to the client's redirect URI
//! as an OAuth error or a code.

use std::net::SocketAddr;

mod cookies;
mod email;
mod existing_password;
mod logout;
mod mfa;
pub(crate) mod pages;
mod password;
mod post_authentication;
mod request;
mod signup;

pub use email::{forgot_password, reset_password, send_reset_code, verify_email};
pub use mfa::second_factor;
pub use password::sign_in;
pub(crate) use signup::check_username;
pub use signup::sign_up;

use axum::{
    body::Bytes,
    extract::{ConnectInfo, RawQuery, State},
    http::{header, HeaderMap, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
};
use axum_extra::extract::cookie::CookieJar;
use claimflow_contracts::workflow::SessionPolicy;
use claimflow_storage::entity::{session, user};

pub use logout::logout;

use password::login_page;
use request::{parse_request, with_prompt, AuthorizationRequest};

use crate::{
    secrets,
    user_tokens::{self, NewCode, Origin, UserTokenRequest},
    AppState,
};

/// Why an authorization request stops.
pub(super) enum Refusal {
    /// The client or its redirect URI is not trusted: tell the person, redirect nowhere.
    Page(StatusCode, String),
    /// An OAuth error for the client, at its redirect URI.
    Redirect { redirect_uri: String, state: Option<String>, error: &'static str, description: String },
}

impl Refusal {
    fn into_response(self) -> Response {
        match self {
            Refusal::Page(status, message) => pages::message(status, "Sign-in cannot continue", &message),
            Refusal::Redirect { redirect_uri, state, error, description } => redirect_to(
                &redirect_uri,
                &[("error", error), ("error_description", &description)],
                state.as_deref(),
                StatusCode::FOUND,
            ),
        }
    }
}

pub(super) fn storage_page(err: claimflow_storage::StorageError) -> Refusal {
    tracing::error!(%err, "storage error during sign-in");
    Refusal::Page(StatusCode::INTERNAL_SERVER_ERROR, "The sign-in service cannot reach its database.".to_owned())
}

/// `GET /oauth2/auth`.
pub async fn authorize(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    jar: CookieJar,
    RawQuery(query): RawQuery,
) -> Response {
    let raw = query.unwrap_or_default();
    let request = match parse_request(&state, &raw).await {
        Ok(request) => request,
        Err(refusal) => return refusal.into_response(),
    };
    let session = match browser_session(&state, &jar).await {
        Ok(session) => session,
        Err(err) => return storage_page(err).into_response(),
    };
    // NOTE: `prompt=create` asks for the sign-up page, even with a session.
    let wants_login = matches!(request.prompt.as_deref(), Some("login") | Some("create"));
    let fresh_enough = |auth_time: i64| {
        request.max_age.is_none_or(|max_age| claimflow_storage::now_ms() - auth_time <= max_age * 1000)
    };
    if let Some(session) = session.filter(|session| !wants_login && fresh_enough(session.auth_time)) {
        let user = match state.store.find_user(&session.user_id).await {
            Ok(Some(user)) => user,
            Ok(None) => return pages::message(StatusCode::BAD_REQUEST, "Signed out", "This account no longer exists."),
            Err(err) => return storage_page(err).into_response(),
        };
        let signed_in = SignedIn { user: &user, session_id: &session.id, auth_time: session.auth_time, existing: true };
        return complete(&state, &request, signed_in, peer, &headers, jar, StatusCode::FOUND).await;
    }
    if request.prompt.as_deref() == Some("none") {
        return Refusal::Redirect {
            redirect_uri: request.redirect_uri,
            state: request.state,
            error: "login_required",
            description: "the user is not signed in (prompt=none)".to_owned(),
        }
        .into_response();
    }
    let (nonce, jar) = csrf_nonce(&state, jar);
    if request.prompt.as_deref() == Some("create") {
        return (jar, signup::page(&state, &request, &nonce)).into_response();
    }
    let hint = request.login_hint.clone().unwrap_or_default();
    (jar, login_page(&state, &request, &nonce, &hint, None, StatusCode::OK)).into_response()
}

/// The person is who they say (a password, a sign-up, a code from an email): the
/// post-authentication workflow, the second factor when one is asked for, a new session, the
/// code at the redirect.
async fn start_session(
    state: &AppState,
    request: &AuthorizationRequest,
    user: &user::Model,
    new_user: bool,
    peer: SocketAddr,
    headers: &HeaderMap,
    jar: CookieJar,
) -> Response {
    // NOTE: before the session exists, so that a denied sign-in leaves none behind.
    let session_policy = match post_authentication::run(state, request, user, new_user, peer, headers).await {
        Ok(policy) => policy,
        Err(error) => {
            tracing::info!(error = error.code.as_str(), description = %error.description, "sign-in refused by its workflow");
            let refusal = Refusal::Redirect {
                redirect_uri: request.redirect_uri.clone(),
                state: request.state.clone(),
                error: error.code.as_str(),
                description: error.description,
            };
            return refusal.into_response();
        }
    };
    let (nonce, jar) = csrf_nonce(state, jar);
    let first = mfa::FirstFactor { user, session_policy };
    if let Some(response) = mfa::gate(state, request, &nonce, &first, (peer, headers)).await {
        return (jar, response).into_response();
    }
    open_session(state, request, user, session_policy, peer, headers, jar).await
}

/// Every factor is done: a new session (its cookie as the post-authentication workflow set it),
/// then the code at the redirect.
async fn open_session(
    state: &AppState,
    request: &AuthorizationRequest,
    user: &user::Model,
    session_policy: Option<SessionPolicy>,
    peer: SocketAddr,
    headers: &HeaderMap,
    jar: CookieJar,
) -> Response {
    let secret = user_tokens::new_secret();
    let session = match state
        .store
        .create_session(&secrets::hash_secret(&secret), &user.id, state.config.session_lifetime.as_millis() as i64)
        .await
    {
        Ok(session) => session,
        Err(err) => return storage_page(err).into_response(),
    };
    let lifetime = match session_policy {
        Some(SessionPolicy::NonPersistent) => None,
        _ => Some(state.config.session_lifetime.as_secs()),
    };
    let jar = jar.add(cookies::cookie(&state.config.issuer, cookies::SESSION, secret, lifetime));
    let signed_in = SignedIn { user, session_id: &session.id, auth_time: session.auth_time, existing: false };
    complete(state, request, signed_in, peer, headers, jar, StatusCode::SEE_OTHER).await
}

struct SignedIn<'a> {
    user: &'a user::Model,
    session_id: &'a str,
    /// Unix milliseconds.
    auth_time: i64,
    existing: bool,
}

/// The user is known: choose the organization, run the workflow, sign, redirect with a code.
async fn complete(
    state: &AppState,
    request: &AuthorizationRequest,
    signed_in: SignedIn<'_>,
    peer: SocketAddr,
    headers: &HeaderMap,
    jar: CookieJar,
    status: StatusCode,
) -> Response {
    // NOTE: the jar carries a new session cookie when there is one: it is set on every answer,
    // a refusal too, since the person did sign in.
    let refuse = |error: &'static str, description: String| {
        let refusal = Refusal::Redirect {
            redirect_uri: request.redirect_uri.clone(),
            state: request.state.clone(),
            error,
            description,
        };
        (jar.clone(), refusal.into_response()).into_response()
    };
    let organizations = match state.store.user_organizations(&signed_in.user.id).await {
        Ok(organizations) => organizations,
        Err(err) => return storage_page(err).into_response(),
    };
    let org_code = match organization_for(request, &organizations) {
        Ok(org_code) => org_code,
        Err(description) => return refuse("access_denied", description),
    };
    let issued = user_tokens::issue_user_tokens(
        state,
        UserTokenRequest {
            application: &request.application,
            user: signed_in.user,
            session_id: signed_in.session_id,
            auth_time: (signed_in.auth_time / 1000) as u64,
            scopes: &request.scopes,
            audience: &request.audience,
            org_code: org_code.as_deref(),
            organizations: &organizations,
            nonce: request.nonce.as_deref(),
            origin: Origin::Authorization { existing_session: signed_in.existing },
            ip: peer.ip(),
            user_agent: headers.get(header::USER_AGENT).and_then(|v| v.to_str().ok()),
        },
    )
    .await;
    let tokens = match issued {
        Ok(tokens) => tokens,
        Err(error) => {
            tracing::info!(error = error.code.as_str(), description = %error.description, "authorization refused");
            return refuse(error.code.as_str(), error.description);
        }
    };
    // `kinde.ssoSession.setPolicy`: the session cookie outlives the browser, or ends with it.
    let signed_in_jar = match (tokens.session_policy, jar.get(cookies::SESSION).map(|cookie| cookie.value().to_owned()))
    {
        (Some(policy), Some(secret)) => {
            let lifetime = match policy {
                SessionPolicy::Persistent => Some(state.config.session_lifetime.as_secs()),
                SessionPolicy::NonPersistent => None,
            };
            jar.clone().add(cookies::cookie(&state.config.issuer, cookies::SESSION, secret, lifetime))
        }
        _ => jar.clone(),
    };
    let code = user_tokens::create_code(
        state,
        NewCode {
            client_id: &request.application.id,
            redirect_uri: &request.redirect_uri,
            session_id: signed_in.session_id,
            user_id: &signed_in.user.id,
            code_challenge: request.code_challenge.as_deref(),
            scope: &request.scopes.join(" "),
            org_code: org_code.as_deref(),
            audience: &request.audience,
            tokens: &tokens,
        },
    )
    .await;
    match code {
        Ok(code) => {
            let redirect = redirect_to(&request.redirect_uri, &[("code", &code)], request.state.as_deref(), status);
            (signed_in_jar, redirect).into_response()
        }
        Err(error) => refuse(error.code.as_str(), error.description),
    }
}

/// The organization a sign-in is to: the one asked for (`org_code`), if the user is a member of
/// it, else the user's first, if any.
fn organization_for(request: &AuthorizationRequest, organizations: &[String]) -> Result<Option<String>, String> {
    match &request.org_code {
        Some(code) if organizations.contains(code) => Ok(Some(code.clone())),
        Some(code) => Err(format!("the user is not a member of organization {code}")),
        None => Ok(organizations.first().cloned()),
    }
}

pub(super) fn redirect_to(base: &str, params: &[(&str, &str)], state: Option<&str>, status: StatusCode) -> Response {
    let location = match url::Url::parse(base) {
        Ok(mut url) => {
            {
                let mut query = url.query_pairs_mut();
                for (name, value) in params {
                    query.append_pair(name, value);
                }
                if let Some(state) = state {
                    query.append_pair("state", state);
                }
            }
            if url.query() == Some("") {
                url.set_query(None);
            }
            url.to_string()
        }
        Err(_) => base.to_owned(),
    };
    let mut response = status.into_response();
    if let Ok(value) = HeaderValue::from_str(&location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// The live session this browser's session cookie names, if any.
pub(super) async fn browser_session(
    state: &AppState,
    jar: &CookieJar,
) -> Result<Option<session::Model>, claimflow_storage::StorageError> {
    match cookies::value(jar, cookies::SESSION) {
        Some(secret) => state.store.active_session(&secrets::hash_secret(&secret)).await,
        None => Ok(None),
    }
}

/// A form posted by one of the sign-in pages: its authorization request (checked again), this
/// browser's CSRF nonce, and the fields. As an extractor, it refuses a form that fails
/// [`PostedForm::parse`] with the page that says why.
pub struct PostedForm {
    request: AuthorizationRequest,
    nonce: String,
    fields: std::collections::HashMap<String, String>,
}

impl PostedForm {
    /// Refuses a form without the MAC of this browser's CSRF cookie (login CSRF: another site
    /// can neither read nor set it). `what` names the form on the refusal page.
    async fn parse(state: &AppState, jar: &CookieJar, body: &Bytes, what: &str) -> Result<PostedForm, Response> {
        let fields: std::collections::HashMap<String, String> =
            url::form_urlencoded::parse(body).map(|(k, v)| (k.into_owned(), v.into_owned())).collect();
        let raw = fields.get("request").map(String::as_str).unwrap_or_default();
        let request = parse_request(state, raw).await.map_err(|refusal| refusal.into_response())?;
        let nonce = cookies::value(jar, cookies::CSRF).unwrap_or_default();
        let csrf = fields.get("csrf").map(String::as_str).unwrap_or_default();
        if nonce.is_empty() || !cookies::csrf_matches(state, &nonce, csrf) {
            let mut title = format!("{what} form expired");
            title[..1].make_ascii_uppercase();
            let message = format!(
                "This {what} form has expired or was not sent from this site. Go back to the application and try again."
            );
            return Err(pages::message(StatusCode::FORBIDDEN, &title, &message));
        }
        Ok(PostedForm { request, nonce, fields })
    }

    fn field(&self, name: &str) -> &str {
        self.fields.get(name).map(String::as_str).unwrap_or_default()
    }
}

impl axum::extract::FromRequest<AppState> for PostedForm {
    type Rejection = Response;

    async fn from_request(request: axum::extract::Request, state: &AppState) -> Result<Self, Response> {
        // The form's name on the refusal page, from the route it was posted to.
        let what = match request.uri().path() {
            "/oauth2/signup" => "sign-up",
            "/oauth2/verify" | "/oauth2/mfa" => "verification",
            "/oauth2/reset" | "/oauth2/reset/confirm" => "password reset",
            _ => "sign-in",
        };
        let jar = CookieJar::from_headers(request.headers());
        let body = Bytes::from_request(request, state).await.map_err(IntoResponse::into_response)?;
        PostedForm::parse(state, &jar, &body, what).await
    }
}

/// The event of a sign-in trigger: the authorization request's parameters, who (when known).
fn sign_in_event(
    state: &AppState,
    request: &AuthorizationRequest,
    trigger: claimflow_contracts::Trigger,
    caller: (SocketAddr, &HeaderMap),
    auth: claimflow_contracts::event::EventAuth,
    user: Option<claimflow_contracts::event::EventUser>,
) -> claimflow_contracts::event::WorkflowEvent {
    use claimflow_contracts::event::*;
    let (peer, headers) = caller;
    WorkflowEvent {
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
            workflow: EventWorkflow { trigger },
            application: EventApplication { client_id: request.application.id.clone() },
            auth: Some(auth),
            user,
            organization: None,
            mfa: None,
        },
    }
}

/// How long `subject` (`account:…`, `ip:…`, `mfa:…`, `signup:…`) must wait, in milliseconds: `Some`
/// when it has `limit` or more failures recorded within the sign-in throttle's window.
async fn throttled(
    state: &AppState,
    subject: &str,
    limit: u64,
) -> Result<Option<i64>, claimflow_storage::StorageError> {
    let window = state.config.login_throttle.window.as_millis() as i64;
    let now = claimflow_storage::now_ms();
    let (count, oldest) = state.store.login_failures_since(subject, now - window).await?;
    if count < limit {
        return Ok(None);
    }
    tracing::warn!(%subject, failures = count, "throttled");
    Ok(Some(oldest.map(|at| at + window - now).unwrap_or(0).max(1000)))
}

/// "Try again in N minutes."
fn try_again_in(retry_after_ms: i64) -> String {
    let minutes = (retry_after_ms + 59_999) / 60_000;
    format!("Try again in {minutes} minute{}.", if minutes == 1 { "" } else { "s" })
}

/// A throttled answer: 429 with `Retry-After` (whole seconds).
fn with_retry_after(mut response: Response, retry_after_ms: i64) -> Response {
    *response.status_mut() = StatusCode::TOO_MANY_REQUESTS;
    response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from((retry_after_ms / 1000).max(1)));
    response
}

/// This browser's CSRF nonce, made (and its cookie set) when it has none.
fn csrf_nonce(state: &AppState, jar: CookieJar) -> (String, CookieJar) {
    match cookies::value(&jar, cookies::CSRF) {
        Some(nonce) if nonce.len() == 43 => (nonce, jar),
        _ => {
            let nonce = user_tokens::new_secret();
            let cookie = cookies::cookie(&state.config.issuer, cookies::CSRF, nonce.clone(), None);
            (nonce, jar.add(cookie))
        }
    }
}
