//! `/oauth2/auth`: the authorization code flow's front door, the sign-in page and the browser
//! session; `/logout`.
//!
//! A request whose client or redirect URI cannot be trusted is answered with a page, never a
//! redirect (no open redirects). Everything after that goes back to the client's redirect URI
//! as an OAuth error or a code.

use std::net::SocketAddr;

use axum::{
    body::Bytes,
    extract::{ConnectInfo, RawQuery, State},
    http::{header, HeaderMap, HeaderValue, StatusCode},
    response::{Html, IntoResponse, Response},
};
use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use claimflow_storage::entity::{application, session, user};
use hmac::{Mac, SimpleHmac};
use sha2::Sha256;

use crate::{
    passwords, secrets,
    user_tokens::{self, NewCode, Origin, UserTokenRequest, USER_SCOPES},
    AppState,
};

const SESSION_COOKIE: &str = "claimflow_session";
const CSRF_COOKIE: &str = "claimflow_csrf";

/// A validated authorization request.
struct AuthorizationRequest {
    /// The query string as received: carried through the sign-in form.
    raw: String,
    application: std::sync::Arc<application::Model>,
    redirect_uri: String,
    state: Option<String>,
    nonce: Option<String>,
    scopes: Vec<String>,
    audience: Vec<String>,
    code_challenge: Option<String>,
    prompt: Option<String>,
    org_code: Option<String>,
    /// Prefills the email field.
    login_hint: Option<String>,
    /// Seconds: an older sign-in asks for the password again.
    max_age: Option<i64>,
}

/// Why an authorization request stops.
enum Refusal {
    /// The client or its redirect URI is not trusted: tell the person, redirect nowhere.
    Page(StatusCode, String),
    /// An OAuth error for the client, at its redirect URI.
    Redirect { redirect_uri: String, state: Option<String>, error: &'static str, description: String },
}

impl Refusal {
    fn into_response(self) -> Response {
        match self {
            Refusal::Page(status, message) => message_page(status, "Sign-in cannot continue", &message),
            Refusal::Redirect { redirect_uri, state, error, description } => redirect_to(
                &redirect_uri,
                &[("error", error), ("error_description", &description)],
                state.as_deref(),
                StatusCode::FOUND,
            ),
        }
    }
}

fn storage_page(err: claimflow_storage::StorageError) -> Refusal {
    tracing::error!(%err, "storage error during sign-in");
    Refusal::Page(StatusCode::INTERNAL_SERVER_ERROR, "The sign-in service cannot reach its database.".to_owned())
}

async fn parse_request(state: &AppState, raw: &str) -> Result<AuthorizationRequest, Refusal> {
    let mut params: std::collections::HashMap<String, String> = std::collections::HashMap::new();
    let mut audience = Vec::new();
    let mut repeated = None;
    for (name, value) in url::form_urlencoded::parse(raw.as_bytes()) {
        if name == "audience" {
            audience.extend(value.split_whitespace().map(str::to_owned));
        } else if params.insert(name.to_string(), value.into_owned()).is_some() {
            repeated = Some(name.into_owned());
        }
    }
    let get = |name: &str| params.get(name).map(String::as_str).filter(|v| !v.is_empty());
    let page = |message: String| Refusal::Page(StatusCode::BAD_REQUEST, message);
    let client_id =
        get("client_id").ok_or_else(|| page("The request names no application (client_id is missing).".into()))?;
    let application = state
        .cache
        .application(&state.store, client_id)
        .await
        .map_err(storage_page)?
        .ok_or_else(|| page(format!("No application has the client_id {client_id:?}.")))?;
    if !application.app_type.signs_users_in() {
        return Err(page(format!(
            "Application {client_id} is a machine-to-machine application; people cannot sign in to it."
        )));
    }
    let redirect_uri = get("redirect_uri").ok_or_else(|| page("The request has no redirect_uri.".into()))?;
    let registered = state.store.application_urls(&application.id, "redirect").await.map_err(storage_page)?;
    // NOTE: exact string match (RFC 9700 §4.1.3): no prefix, no normalisation, so no open redirect.
    if !registered.iter().any(|url| url == redirect_uri) {
        return Err(page(format!(
            "The redirect_uri {redirect_uri:?} is not registered for application {client_id}; \
             add it to the application's callback URLs."
        )));
    }
    let redirect_uri = redirect_uri.to_owned();
    let client_state = get("state").map(str::to_owned);
    let refuse = |error: &'static str, description: String| Refusal::Redirect {
        redirect_uri: redirect_uri.clone(),
        state: client_state.clone(),
        error,
        description,
    };
    if let Some(name) = repeated {
        return Err(refuse("invalid_request", format!("parameter {name} is repeated")));
    }
    match get("response_type") {
        Some("code") => {}
        Some(other) => {
            return Err(refuse(
                "unsupported_response_type",
                format!("response_type {other:?} is not supported; use code"),
            ))
        }
        None => return Err(refuse("invalid_request", "response_type is required (code)".into())),
    }
    if let Some(mode) = get("response_mode").filter(|mode| *mode != "query") {
        return Err(refuse("invalid_request", format!("response_mode {mode:?} is not supported; use query")));
    }
    let scopes: Vec<String> = get("scope").unwrap_or("openid").split_whitespace().map(str::to_owned).collect();
    if let Some(unknown) = scopes.iter().find(|scope| !USER_SCOPES.contains(&scope.as_str())) {
        return Err(refuse(
            "invalid_scope",
            format!("scope {unknown:?} is not supported; use {}", USER_SCOPES.join(" ")),
        ));
    }
    let code_challenge = match (get("code_challenge"), get("code_challenge_method")) {
        (Some(challenge), Some("S256")) => Some(challenge.to_owned()),
        (Some(_), None | Some("plain")) => {
            return Err(refuse("invalid_request", "code_challenge_method must be S256 (plain is not accepted)".into()))
        }
        (Some(_), Some(other)) => {
            return Err(refuse(
                "invalid_request",
                format!("code_challenge_method {other:?} is not supported; use S256"),
            ))
        }
        (None, _) if application.client_secret_hash.is_none() => {
            return Err(refuse(
                "invalid_request",
                "code_challenge is required: public clients (SPAs) must use PKCE with S256".into(),
            ))
        }
        (None, _) => None,
    };
    if let Some(challenge) = &code_challenge {
        if challenge.len() != 43 || URL_SAFE_NO_PAD.decode(challenge).is_err() {
            return Err(refuse("invalid_request", "code_challenge is not a base64url SHA-256 (43 characters)".into()));
        }
    }
    for audience in &audience {
        let api = state.cache.api_by_audience(&state.store, audience).await.map_err(storage_page)?;
        let authorized = match &api {
            Some(api) => state
                .cache
                .granted_scopes(&state.store, &api.id, &application.id)
                .await
                .map_err(storage_page)?
                .is_some(),
            None => false,
        };
        if !authorized {
            return Err(refuse(
                "invalid_target",
                format!("application {client_id} is not authorized for an API with the audience {audience:?}"),
            ));
        }
    }
    let prompt = get("prompt").map(str::to_owned);
    if let Some(prompt) =
        prompt.as_deref().filter(|p| !["none", "login", "consent", "select_account", "create"].contains(p))
    {
        return Err(refuse("invalid_request", format!("prompt {prompt:?} is not supported")));
    }
    let max_age = match get("max_age").map(str::parse::<i64>) {
        None => None,
        Some(Ok(seconds)) if seconds >= 0 => Some(seconds),
        Some(_) => return Err(refuse("invalid_request", "max_age must be a number of seconds".into())),
    };
    Ok(AuthorizationRequest {
        login_hint: get("login_hint").map(str::to_owned),
        max_age,
        raw: raw.to_owned(),
        redirect_uri: redirect_uri.clone(),
        state: client_state.clone(),
        nonce: get("nonce").map(str::to_owned),
        scopes,
        audience,
        code_challenge,
        prompt,
        org_code: get("org_code").map(str::to_owned),
        application,
    })
}

/// `GET /oauth2/auth`.
pub async fn authorize(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let raw = query.unwrap_or_default();
    let request = match parse_request(&state, &raw).await {
        Ok(request) => request,
        Err(refusal) => return refusal.into_response(),
    };
    let session = match browser_session(&state, &headers).await {
        Ok(session) => session,
        Err(err) => return storage_page(err).into_response(),
    };
    let wants_login = request.prompt.as_deref() == Some("login");
    let fresh_enough = |auth_time: i64| {
        request.max_age.is_none_or(|max_age| claimflow_storage::now_ms() - auth_time <= max_age * 1000)
    };
    if let Some(session) = session.filter(|session| !wants_login && fresh_enough(session.auth_time)) {
        let user = match state.store.find_user(&session.user_id).await {
            Ok(Some(user)) => user,
            Ok(None) => return message_page(StatusCode::BAD_REQUEST, "Signed out", "This account no longer exists."),
            Err(err) => return storage_page(err).into_response(),
        };
        let signed_in = SignedIn { user: &user, session_id: &session.id, auth_time: session.auth_time, existing: true };
        return complete(&state, &request, signed_in, peer, &headers, None, StatusCode::FOUND).await;
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
    let (nonce, new_cookie) = match cookie(&headers, CSRF_COOKIE) {
        Some(nonce) if nonce.len() == 43 => (nonce, None),
        _ => {
            let nonce = user_tokens::new_secret();
            let cookie = set_cookie(&state, CSRF_COOKIE, &nonce, None);
            (nonce, Some(cookie))
        }
    };
    let hint = request.login_hint.clone().unwrap_or_default();
    let mut response = login_page(&state, &request, &nonce, &hint, None, StatusCode::OK);
    if let Some(cookie) = new_cookie {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    response
}

/// `POST /oauth2/auth`: the sign-in form.
pub async fn sign_in(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let form: std::collections::HashMap<String, String> =
        url::form_urlencoded::parse(&body).map(|(k, v)| (k.into_owned(), v.into_owned())).collect();
    let field = |name: &str| form.get(name).map(String::as_str).unwrap_or_default();
    let request = match parse_request(&state, field("request")).await {
        Ok(request) => request,
        Err(refusal) => return refusal.into_response(),
    };
    // NOTE: login CSRF: the form's token must be the MAC of this browser's CSRF cookie, which
    // another site can neither read nor set.
    let nonce = cookie(&headers, CSRF_COOKIE).unwrap_or_default();
    if nonce.is_empty() || !csrf_matches(&state, &nonce, field("csrf")) {
        return message_page(
            StatusCode::FORBIDDEN,
            "Sign-in form expired",
            "This sign-in form has expired or was not sent from this site. Go back to the application and sign in again.",
        );
    }
    let email = field("email").trim().to_owned();
    let password = field("password").to_owned();
    if email.is_empty() || password.is_empty() {
        return login_page(
            &state,
            &request,
            &nonce,
            &email,
            Some("Enter your email and password."),
            StatusCode::BAD_REQUEST,
        );
    }
    let throttle = state.config.login_throttle;
    let account = format!("account:{}", email.to_lowercase());
    let address = format!("ip:{}", peer.ip());
    let now = claimflow_storage::now_ms();
    let since = now - throttle.window.as_millis() as i64;
    for (subject, limit) in [(&account, throttle.max_per_account), (&address, throttle.max_per_ip)] {
        match state.store.login_failures_since(subject, since).await {
            Ok((count, oldest)) if count >= limit => {
                let retry_after = oldest.map(|at| at + throttle.window.as_millis() as i64 - now).unwrap_or(0).max(1000);
                let minutes = (retry_after + 59_999) / 60_000;
                tracing::warn!(subject = %subject, failures = count, "sign-in throttled");
                let mut response = login_page(
                    &state,
                    &request,
                    &nonce,
                    &email,
                    Some(&format!(
                        "Too many failed sign-in attempts. Try again in {minutes} minute{}.",
                        if minutes == 1 { "" } else { "s" }
                    )),
                    StatusCode::TOO_MANY_REQUESTS,
                );
                response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from((retry_after / 1000).max(1)));
                return response;
            }
            Ok(_) => {}
            Err(err) => return storage_page(err).into_response(),
        }
    }
    let user = match state.store.find_user_by_email(&email).await {
        Ok(user) => user,
        Err(err) => return storage_page(err).into_response(),
    };
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
            Some("The email or password is incorrect."),
            StatusCode::UNAUTHORIZED,
        );
    };
    if let Err(err) = state.store.clear_login_failures(&account).await {
        return storage_page(err).into_response();
    }
    let secret = user_tokens::new_secret();
    let session = match state
        .store
        .create_session(&secrets::hash_secret(&secret), &user.id, state.config.session_lifetime.as_millis() as i64)
        .await
    {
        Ok(session) => session,
        Err(err) => return storage_page(err).into_response(),
    };
    let cookie = set_cookie(&state, SESSION_COOKIE, &secret, Some(state.config.session_lifetime.as_secs()));
    let signed_in = SignedIn { user: &user, session_id: &session.id, auth_time: session.auth_time, existing: false };
    complete(&state, &request, signed_in, peer, &headers, Some(cookie), StatusCode::SEE_OTHER).await
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
    session_cookie: Option<HeaderValue>,
    status: StatusCode,
) -> Response {
    let refuse = |error: &'static str, description: String| {
        let mut response = Refusal::Redirect {
            redirect_uri: request.redirect_uri.clone(),
            state: request.state.clone(),
            error,
            description,
        }
        .into_response();
        if let Some(cookie) = &session_cookie {
            response.headers_mut().append(header::SET_COOKIE, cookie.clone());
        }
        response
    };
    let organizations = match state.store.user_organizations(&signed_in.user.id).await {
        Ok(organizations) => organizations,
        Err(err) => return storage_page(err).into_response(),
    };
    let org_code = match &request.org_code {
        Some(code) if organizations.contains(code) => Some(code.clone()),
        Some(code) => return refuse("access_denied", format!("the user is not a member of organization {code}")),
        None => organizations.first().cloned(),
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
    let mut response = match code {
        Ok(code) => redirect_to(&request.redirect_uri, &[("code", &code)], request.state.as_deref(), status),
        Err(error) => return refuse(error.code.as_str(), error.description),
    };
    if let Some(cookie) = session_cookie {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    response
}

/// `GET /logout`: ends the browser's session (and the refresh tokens issued under it), then
/// returns to `post_logout_redirect_uri` (or Kinde's `redirect`) if an application registered it.
pub async fn logout(State(state): State<AppState>, headers: HeaderMap, RawQuery(query): RawQuery) -> Response {
    let params: std::collections::HashMap<String, String> =
        url::form_urlencoded::parse(query.unwrap_or_default().as_bytes()).into_owned().collect();
    let target = params.get("post_logout_redirect_uri").or_else(|| params.get("redirect")).filter(|v| !v.is_empty());
    if let Some(target) = target {
        let allowed = match params.get("client_id").filter(|v| !v.is_empty()) {
            Some(client_id) => {
                state.store.application_urls(client_id, "logout").await.map(|urls| urls.contains(target))
            }
            None => state.store.is_registered_logout_url(target).await,
        };
        match allowed {
            Ok(true) => {}
            Ok(false) => {
                return message_page(
                    StatusCode::BAD_REQUEST,
                    "Sign-out cannot redirect",
                    &format!(
                        "{target:?} is not a registered logout URL{}; you have not been signed out.",
                        params.get("client_id").map(|id| format!(" of application {id}")).unwrap_or_default()
                    ),
                )
            }
            Err(err) => return storage_page(err).into_response(),
        }
    }
    let ended = match browser_session(&state, &headers).await {
        Ok(Some(session)) => state.store.end_session(&session.id).await,
        Ok(None) => Ok(()),
        Err(err) => Err(err),
    };
    if let Err(err) = ended {
        return storage_page(err).into_response();
    }
    let mut response = match target {
        Some(target) => redirect_to(target, &[], params.get("state").map(String::as_str), StatusCode::FOUND),
        None => message_page(StatusCode::OK, "Signed out", "You are signed out."),
    };
    response.headers_mut().append(header::SET_COOKIE, clear_cookie(&state, SESSION_COOKIE));
    response
}

fn redirect_to(base: &str, params: &[(&str, &str)], state: Option<&str>, status: StatusCode) -> Response {
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
async fn browser_session(
    state: &AppState,
    headers: &HeaderMap,
) -> Result<Option<session::Model>, claimflow_storage::StorageError> {
    match cookie(headers, SESSION_COOKIE) {
        Some(secret) => state.store.active_session(&secrets::hash_secret(&secret)).await,
        None => Ok(None),
    }
}

fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value.to_owned())
}

fn cookie_attributes(issuer: &str) -> &'static str {
    if issuer.starts_with("https://") {
        "Path=/; HttpOnly; Secure; SameSite=Lax"
    } else {
        "Path=/; HttpOnly; SameSite=Lax"
    }
}

fn set_cookie(state: &AppState, name: &str, value: &str, max_age: Option<u64>) -> HeaderValue {
    let max_age = max_age.map(|seconds| format!("; Max-Age={seconds}")).unwrap_or_default();
    HeaderValue::from_str(&format!("{name}={value}; {}{max_age}", cookie_attributes(&state.config.issuer)))
        .expect("cookie values are base64url")
}

fn clear_cookie(state: &AppState, name: &str) -> HeaderValue {
    HeaderValue::from_str(&format!("{name}=; {}; Max-Age=0", cookie_attributes(&state.config.issuer)))
        .expect("static cookie")
}

fn csrf_token(state: &AppState, nonce: &str) -> String {
    let mut mac = <SimpleHmac<Sha256> as Mac>::new_from_slice(&state.config.session_key).expect("any key length");
    mac.update(b"claimflow sign-in form\0");
    mac.update(nonce.as_bytes());
    URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
}

fn csrf_matches(state: &AppState, nonce: &str, presented: &str) -> bool {
    subtle::ConstantTimeEq::ct_eq(csrf_token(state, nonce).as_bytes(), presented.as_bytes()).into()
}

fn escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#39;"),
            c => escaped.push(c),
        }
    }
    escaped
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;background:#f4f4f5;color:#18181b;margin:0}\
main{max-width:24rem;margin:4rem auto;background:#fff;padding:2rem;border-radius:.5rem;box-shadow:0 1px 3px #0002}\
h1{font-size:1.5rem;margin:0 0 .25rem}label{display:block;margin:1rem 0 .25rem;font-weight:600}\
input{width:100%;box-sizing:border-box;padding:.6rem;font-size:1rem;border:1px solid #71717a;border-radius:.25rem}\
input:focus,button:focus{outline:3px solid #2563eb;outline-offset:1px}\
button{margin-top:1.5rem;width:100%;padding:.7rem;font-size:1rem;background:#18181b;color:#fff;border:0;border-radius:.25rem}\
.error{background:#fef2f2;color:#991b1b;border:1px solid #fca5a5;padding:.75rem;border-radius:.25rem}";

fn document(status: StatusCode, title: &str, body: &str) -> Response {
    let html = format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{}</title><style>{STYLE}</style></head><body><main>{body}</main></body></html>\n",
        escape(title)
    );
    let mut response = (status, Html(html)).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'",
        ),
    );
    response
}

fn message_page(status: StatusCode, title: &str, message: &str) -> Response {
    document(status, title, &format!("<h1>{}</h1><p role=\"alert\">{}</p>", escape(title), escape(message)))
}

fn login_page(
    state: &AppState,
    request: &AuthorizationRequest,
    nonce: &str,
    email: &str,
    error: Option<&str>,
    status: StatusCode,
) -> Response {
    let error = error
        .map(|message| format!("<p class=\"error\" role=\"alert\" id=\"sign-in-error\">{}</p>", escape(message)))
        .unwrap_or_default();
    let described = if error.is_empty() { "" } else { " aria-describedby=\"sign-in-error\"" };
    let body = format!(
        "<h1>Sign in</h1><p>to continue to <strong>{app}</strong></p>{error}\
         <form method=\"post\" action=\"auth\">\
         <input type=\"hidden\" name=\"request\" value=\"{request}\">\
         <input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
         <label for=\"email\">Email</label>\
         <input id=\"email\" name=\"email\" type=\"email\" autocomplete=\"username\" required value=\"{email}\"{described}>\
         <label for=\"password\">Password</label>\
         <input id=\"password\" name=\"password\" type=\"password\" autocomplete=\"current-password\" required{described}>\
         <button type=\"submit\">Sign in</button></form>",
        app = escape(&request.application.name),
        request = escape(&request.raw),
        csrf = csrf_token(state, nonce),
        email = escape(email),
    );
    document(status, &format!("Sign in · {}", request.application.name), &body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_are_secure_exactly_when_the_issuer_is_https() {
        assert!(cookie_attributes("https://id.example.com").contains("; Secure"));
        assert!(!cookie_attributes("http://127.0.0.1:8080").contains("Secure"));
        for issuer in ["https://id.example.com", "http://localhost"] {
            assert!(
                cookie_attributes(issuer).contains("HttpOnly") && cookie_attributes(issuer).contains("SameSite=Lax")
            );
        }
    }

    #[test]
    fn page_text_is_escaped() {
        assert_eq!(escape(r#"<a href="x">'&'</a>"#), "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;");
    }
}
