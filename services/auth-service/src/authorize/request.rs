//! The authorization request (`/oauth2/auth?...`): checked once when the page is asked for, and
//! again with every form a sign-in page posts (the form carries the query as it came).

use axum::http::StatusCode;
use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use claimflow_storage::entity::application;

use super::{storage_page, Refusal};
use crate::{user_tokens::USER_SCOPES, AppState};

/// A validated authorization request.
pub(super) struct AuthorizationRequest {
    /// The query string as received: carried through the sign-in form.
    pub(super) raw: String,
    pub(super) application: std::sync::Arc<application::Model>,
    pub(super) redirect_uri: String,
    pub(super) state: Option<String>,
    pub(super) nonce: Option<String>,
    pub(super) scopes: Vec<String>,
    pub(super) audience: Vec<String>,
    pub(super) code_challenge: Option<String>,
    pub(super) prompt: Option<String>,
    pub(super) org_code: Option<String>,
    /// Prefills the email field.
    pub(super) login_hint: Option<String>,
    /// Seconds: an older sign-in asks for the password again.
    pub(super) max_age: Option<i64>,
}

pub(super) async fn parse_request(state: &AppState, raw: &str) -> Result<AuthorizationRequest, Refusal> {
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

/// The authorization request's query with its `prompt` replaced (or removed).
pub(super) fn with_prompt(raw: &str, prompt: Option<&str>) -> String {
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    query.extend_pairs(url::form_urlencoded::parse(raw.as_bytes()).filter(|(name, _)| name != "prompt"));
    if let Some(prompt) = prompt {
        query.append_pair("prompt", prompt);
    }
    query.finish()
}
