//! User tokens: the claims Kinde puts in user access and ID tokens, the `user:tokens_generation`
//! round trip, and the `authorization_code` and `refresh_token` grants.
//!
//! Tokens are signed when the authorization request completes, so that a workflow denying
//! access is answered at the redirect (as Kinde does); the code exchange hands them out once.

use std::net::{IpAddr, SocketAddr};

use axum::http::{header, HeaderMap};
use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use claimflow_contracts::{
    event::{
        EventApplication, EventAuth, EventContext, EventDomains, EventOrganization, EventRequest, EventRequestAuth,
        EventUser, EventWorkflow, WorkflowEvent,
    },
    workflow::BaseClaims,
    TokenKind, Trigger,
};
use claimflow_storage::{
    entity::{
        application,
        identity::user,
        sign_in::{authorization_code, refresh_token},
    },
    CodeRedemption, RotationRefused,
};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::{
    oauth_error::OAuthError,
    secrets,
    token::{as_claims, authenticate_secret, client_credentials, run_and_sign, time_now, TokenForm, TokenResponse},
    AppState,
};

/// The scopes a user token request may ask for.
pub const USER_SCOPES: [&str; 4] = ["openid", "profile", "email", "offline"];

/// The one sign-in connection claimflow has: email and password.
pub const PASSWORD_CONNECTION_ID: &str = "conn_password";

/// How long an authorization code can be exchanged.
const CODE_LIFETIME_MS: i64 = 60_000;

/// Why tokens are being generated: `context.auth` of the event.
#[derive(Debug, Clone, Copy)]
pub enum Origin {
    /// A sign-in; `existing_session` when the browser's session answered without a password.
    Authorization {
        existing_session: bool,
    },
    Refresh,
}

/// Everything a user token is built from.
pub struct UserTokenRequest<'a> {
    pub application: &'a application::Model,
    pub user: &'a user::Model,
    pub session_id: &'a str,
    /// When the user entered their password, Unix seconds.
    pub auth_time: u64,
    pub scopes: &'a [String],
    pub audience: &'a [String],
    pub org_code: Option<&'a str>,
    /// Every organization the user belongs to (`org_codes`).
    pub organizations: &'a [String],
    pub nonce: Option<&'a str>,
    pub origin: Origin,
    pub ip: IpAddr,
    pub user_agent: Option<&'a str>,
}

/// Signed tokens, ready to hand out.
#[derive(serde::Serialize, serde::Deserialize)]
pub struct IssuedTokens {
    pub access_token: String,
    pub id_token: Option<String>,
    /// Unix seconds.
    pub expires_at: u64,
    pub scope: String,
}

/// The access and ID token claims Kinde issues, before any workflow.
async fn base_claims(state: &AppState, request: &UserTokenRequest<'_>) -> Result<BaseClaims, OAuthError> {
    let now = time_now();
    let lifetime = request
        .application
        .access_token_lifetime
        .and_then(|seconds| u64::try_from(seconds).ok())
        .unwrap_or(state.config.user_token_lifetime.as_secs());
    let (roles, permissions) = match request.org_code {
        Some(org_code) => {
            let access = state.store.user_access(org_code, &request.user.id).await?;
            let roles: Vec<Value> =
                access.roles.iter().map(|role| json!({ "id": role.id, "key": role.key, "name": role.name })).collect();
            (roles, access.permissions)
        }
        None => (Vec::new(), Vec::new()),
    };
    let feature_flags: serde_json::Map<String, Value> = state
        .store
        .list_feature_flags()
        .await?
        .into_iter()
        .map(|flag| {
            let kind = match flag.flag_type.as_str() {
                "int" => "i",
                "bool" => "b",
                _ => "s",
            };
            (flag.key, json!({ "t": kind, "v": flag.default_value }))
        })
        .collect();
    let mut access = json!({
        "aud": request.audience,
        "azp": request.application.id,
        "exp": now + lifetime,
        "feature_flags": feature_flags,
        "iat": now,
        "iss": state.config.issuer,
        "jti": uuid::Uuid::new_v4().to_string(),
        "permissions": permissions,
        "roles": roles,
        "scp": request.scopes,
        "sub": request.user.id,
        "v": "2",
    });
    if let Some(org_code) = request.org_code {
        access["org_code"] = json!(org_code);
    }
    let id = if request.scopes.iter().any(|scope| scope == "openid") {
        let user = request.user;
        let mut id = json!({
            "aud": [request.application.id],
            "auth_time": request.auth_time,
            "azp": request.application.id,
            "email": user.email,
            "exp": now + lifetime,
            "family_name": user.family_name,
            "given_name": user.given_name,
            "iat": now,
            "iss": state.config.issuer,
            "jti": uuid::Uuid::new_v4().to_string(),
            "name": format!("{} {}", user.given_name, user.family_name).trim().to_owned(),
            "org_codes": request.organizations,
            "rat": now,
            "sid": request.session_id,
            "sub": user.id,
            "updated_at": user.updated_at / 1000,
        });
        if let Some(nonce) = request.nonce {
            id["nonce"] = json!(nonce);
        }
        Some(as_claims(id))
    } else {
        None
    };
    Ok(BaseClaims { access: as_claims(access), id })
}

/// Builds the claims, runs the live `user:tokens_generation` workflow and signs. A workflow's
/// `denyAccess` comes back as `access_denied` with its reason.
pub async fn issue_user_tokens(state: &AppState, request: UserTokenRequest<'_>) -> Result<IssuedTokens, OAuthError> {
    let base = base_claims(state, &request).await?;
    let deployment = state.cache.live_deployment(&state.store, Trigger::UserTokensGeneration).await?;
    let (origin, existing_session, grant_type) = match request.origin {
        Origin::Authorization { existing_session } => ("authorization_request", existing_session, "authorization_code"),
        Origin::Refresh => ("refresh_token_request", false, "refresh_token"),
    };
    let event = WorkflowEvent {
        request: EventRequest {
            auth: EventRequestAuth { audience: request.audience.to_vec() },
            ip: request.ip.to_string(),
            user_agent: request.user_agent.map(str::to_owned),
            locale: None,
        },
        context: EventContext {
            domains: EventDomains { kinde_domain: state.config.issuer.clone() },
            workflow: EventWorkflow { trigger: Trigger::UserTokensGeneration },
            application: EventApplication { client_id: request.application.id.clone() },
            auth: Some(EventAuth {
                origin: origin.to_owned(),
                connection_id: PASSWORD_CONNECTION_ID.to_owned(),
                is_existing_session: existing_session,
            }),
            user: Some(EventUser {
                id: request.user.id.clone(),
                identity_id: format!("identity_{}", request.user.id.trim_start_matches("kp_")),
            }),
            organization: request.org_code.map(|code| EventOrganization { code: code.to_owned() }),
        },
    };
    let exp = base.access.get("exp").and_then(Value::as_u64).unwrap_or_default();
    let issued = run_and_sign(state, deployment.as_deref(), event, base, TokenKind::Access, grant_type).await?;
    Ok(IssuedTokens {
        access_token: issued.access_token,
        id_token: issued.id_token,
        expires_at: exp,
        scope: request.scopes.join(" "),
    })
}

/// A new random secret (256 bits, base64url): codes, refresh tokens, session cookies.
pub fn new_secret() -> String {
    URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>())
}

/// Stores a code for tokens signed at the end of an authorization request.
pub struct NewCode<'a> {
    pub client_id: &'a str,
    pub redirect_uri: &'a str,
    pub session_id: &'a str,
    pub user_id: &'a str,
    pub code_challenge: Option<&'a str>,
    pub scope: &'a str,
    pub org_code: Option<&'a str>,
    pub audience: &'a [String],
    pub tokens: &'a IssuedTokens,
}

pub async fn create_code(state: &AppState, new: NewCode<'_>) -> Result<String, OAuthError> {
    let code = new_secret();
    let sealed = state.config.secrets.seal(&serde_json::to_string(new.tokens).unwrap_or_default());
    state
        .store
        .insert_authorization_code(authorization_code::Model {
            code_hash: secrets::hash_secret(&code),
            client_id: new.client_id.to_owned(),
            redirect_uri: new.redirect_uri.to_owned(),
            session_id: new.session_id.to_owned(),
            user_id: new.user_id.to_owned(),
            code_challenge: new.code_challenge.map(str::to_owned),
            scope: new.scope.to_owned(),
            org_code: new.org_code.map(str::to_owned),
            audience: json!(new.audience),
            sealed_tokens: sealed,
            expires_at: claimflow_storage::now_ms() + CODE_LIFETIME_MS,
            redeemed_at: None,
            refresh_family: None,
        })
        .await?;
    Ok(code)
}

/// Authenticates the client of an `authorization_code`, `refresh_token` or revocation request:
/// a regular web application with its secret, or a SPA (public) by its `client_id` alone.
pub async fn authenticate_user_client(
    state: &AppState,
    headers: &HeaderMap,
    form: &TokenForm,
) -> Result<std::sync::Arc<application::Model>, OAuthError> {
    let presents_secret = headers.contains_key(header::AUTHORIZATION) || form.get("client_secret").is_some();
    let application = if presents_secret {
        authenticate_secret(state, &client_credentials(headers, form)?).await?
    } else {
        let client_id = form.get("client_id").ok_or_else(|| {
            OAuthError::invalid_client("client authentication is required: client_id is missing", false)
        })?;
        let application = state
            .cache
            .application(&state.store, client_id)
            .await?
            .ok_or_else(|| OAuthError::invalid_client("client authentication failed", false))?;
        if application.client_secret_hash.is_some() {
            return Err(OAuthError::invalid_client(
                format!("application {client_id} is confidential: authenticate with its client_secret"),
                false,
            ));
        }
        application
    };
    if !matches!(application.app_type.as_str(), "reg" | "spa") {
        return Err(OAuthError::unauthorized_client(format!(
            "application {} is a {} application; user sign-in needs a regular web application or a SPA",
            application.id, application.app_type
        )));
    }
    Ok(application)
}

/// RFC 7636 S256: BASE64URL(SHA256(verifier)) == challenge.
fn pkce_matches(verifier: &str, challenge: &str) -> bool {
    let computed = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    subtle::ConstantTimeEq::ct_eq(computed.as_bytes(), challenge.as_bytes()).into()
}

fn scope_list(scope: &str) -> Vec<String> {
    scope.split_whitespace().map(str::to_owned).collect()
}

fn audience_list(audience: &Value) -> Vec<String> {
    audience.as_array().into_iter().flatten().filter_map(|a| a.as_str().map(str::to_owned)).collect()
}

/// `grant_type=authorization_code`: spends the code and hands out what was signed for it.
pub async fn authorization_code_grant(
    state: &AppState,
    _peer: SocketAddr,
    headers: &HeaderMap,
    form: &TokenForm,
) -> Result<TokenResponse, OAuthError> {
    let application = authenticate_user_client(state, headers, form).await?;
    let code = form.get("code").ok_or_else(|| OAuthError::invalid_request("code is required"))?;
    let redirect_uri =
        form.get("redirect_uri").ok_or_else(|| OAuthError::invalid_request("redirect_uri is required"))?;
    // NOTE: the code is spent before anything else is checked: a code tried with a wrong
    // verifier or by another client cannot be tried again.
    let code = match state.store.redeem_authorization_code(&secrets::hash_secret(code)).await? {
        CodeRedemption::Redeemed(code) => code,
        CodeRedemption::Replayed(_) => {
            return Err(OAuthError::invalid_grant(
                "the authorization code was already used; the refresh tokens issued with it are revoked",
            ))
        }
        CodeRedemption::Unknown => return Err(OAuthError::invalid_grant("the authorization code is not valid")),
    };
    if code.client_id != application.id {
        return Err(OAuthError::invalid_grant("the authorization code was issued to another client"));
    }
    if code.expires_at <= claimflow_storage::now_ms() {
        return Err(OAuthError::invalid_grant("the authorization code has expired"));
    }
    if code.redirect_uri != redirect_uri {
        return Err(OAuthError::invalid_grant("redirect_uri does not match the one of the authorization request"));
    }
    match (&code.code_challenge, form.get("code_verifier")) {
        (Some(challenge), Some(verifier)) => {
            if !pkce_matches(verifier, challenge) {
                return Err(OAuthError::invalid_grant("code_verifier does not match the code_challenge (PKCE S256)"));
            }
        }
        (Some(_), None) => {
            return Err(OAuthError::invalid_grant("code_verifier is required: the authorization request used PKCE"))
        }
        (None, Some(_)) => {
            return Err(OAuthError::invalid_grant("code_verifier was sent but the authorization request had no PKCE"))
        }
        (None, None) => {}
    }
    let tokens: IssuedTokens = state
        .config
        .secrets
        .open(&code.sealed_tokens)
        .ok()
        .and_then(|json| serde_json::from_str(&json).ok())
        .ok_or_else(|| {
            OAuthError::server_error("the tokens of this code cannot be read (was CLAIMFLOW_SECRETS_KEY changed?)")
        })?;
    let refresh_token = if scope_list(&code.scope).iter().any(|scope| scope == "offline") {
        let session = state.store.find_session(&code.session_id).await?;
        let now = claimflow_storage::now_ms();
        let secret = new_secret();
        let first = refresh_token::Model {
            token_hash: secrets::hash_secret(&secret),
            family_id: uuid::Uuid::new_v4().to_string(),
            client_id: code.client_id.clone(),
            user_id: code.user_id.clone(),
            session_id: code.session_id.clone(),
            scope: code.scope.clone(),
            org_code: code.org_code.clone(),
            audience: code.audience.clone(),
            auth_time: session.map(|s| s.auth_time).unwrap_or(now),
            created_at: now,
            expires_at: now + state.config.refresh_token_lifetime.as_millis() as i64,
            used_at: None,
            revoked_at: None,
        };
        state.store.start_refresh_family(&code.code_hash, first).await?;
        Some(secret)
    } else {
        None
    };
    Ok(token_response(tokens, refresh_token))
}

fn token_response(tokens: IssuedTokens, refresh_token: Option<String>) -> TokenResponse {
    TokenResponse {
        access_token: tokens.access_token,
        id_token: tokens.id_token,
        refresh_token,
        expires_in: tokens.expires_at.saturating_sub(time_now()),
        scope: tokens.scope,
        token_type: "bearer",
    }
}

/// `grant_type=refresh_token`: new tokens (the workflow runs again, with
/// `origin: refresh_token_request`) and a new refresh token; the old one is spent.
pub async fn refresh_token_grant(
    state: &AppState,
    peer: SocketAddr,
    headers: &HeaderMap,
    form: &TokenForm,
) -> Result<TokenResponse, OAuthError> {
    let application = authenticate_user_client(state, headers, form).await?;
    let presented =
        form.get("refresh_token").ok_or_else(|| OAuthError::invalid_request("refresh_token is required"))?;
    let old_hash = secrets::hash_secret(presented);
    let old = state
        .store
        .find_refresh_token(&old_hash)
        .await?
        .ok_or_else(|| OAuthError::invalid_grant("the refresh token is not valid"))?;
    if old.client_id != application.id {
        return Err(OAuthError::invalid_grant("the refresh token was issued to another client"));
    }
    // NOTE: checked before the workflow runs; the rotation below checks again, atomically.
    if old.revoked_at.is_some() {
        return Err(rotation_refused(RotationRefused::Revoked));
    }
    if old.used_at.is_some() {
        state.store.revoke_refresh_family(&old.family_id).await?;
        return Err(rotation_refused(RotationRefused::Reused));
    }
    if old.expires_at <= claimflow_storage::now_ms() {
        return Err(OAuthError::invalid_grant("the refresh token has expired; sign in again"));
    }
    let user = state
        .store
        .find_user(&old.user_id)
        .await?
        .ok_or_else(|| OAuthError::invalid_grant("the user of this refresh token no longer exists"))?;
    let scopes = scope_list(&old.scope);
    let audience = audience_list(&old.audience);
    let organizations = state.store.user_organizations(&user.id).await?;
    let tokens = issue_user_tokens(
        state,
        UserTokenRequest {
            application: &application,
            user: &user,
            session_id: &old.session_id,
            auth_time: (old.auth_time / 1000) as u64,
            scopes: &scopes,
            audience: &audience,
            org_code: old.org_code.as_deref(),
            organizations: &organizations,
            nonce: None,
            origin: Origin::Refresh,
            ip: peer.ip(),
            user_agent: headers.get(header::USER_AGENT).and_then(|v| v.to_str().ok()),
        },
    )
    .await?;
    let secret = new_secret();
    let now = claimflow_storage::now_ms();
    let successor = refresh_token::Model {
        token_hash: secrets::hash_secret(&secret),
        created_at: now,
        expires_at: now + state.config.refresh_token_lifetime.as_millis() as i64,
        used_at: None,
        revoked_at: None,
        ..old
    };
    state.store.rotate_refresh_token(&old_hash, successor).await?.map_err(rotation_refused)?;
    Ok(token_response(tokens, Some(secret)))
}

fn rotation_refused(refused: RotationRefused) -> OAuthError {
    match refused {
        RotationRefused::Reused => OAuthError::invalid_grant(
            "the refresh token was already used; every token issued from it is now revoked, sign in again",
        ),
        RotationRefused::Revoked => OAuthError::invalid_grant("the refresh token was revoked; sign in again"),
    }
}

/// `POST /oauth2/revoke` (RFC 7009): revokes a refresh token and its whole family. Unknown
/// tokens and access tokens (JWTs cannot be recalled; they expire) are answered 200 as well.
pub async fn revoke(state: &AppState, headers: &HeaderMap, form: &TokenForm) -> Result<(), OAuthError> {
    let application = authenticate_user_client(state, headers, form).await?;
    let token = form.get("token").ok_or_else(|| OAuthError::invalid_request("token is required"))?;
    if let Some(found) = state.store.find_refresh_token(&secrets::hash_secret(token)).await? {
        if found.client_id == application.id {
            state.store.revoke_refresh_family(&found.family_id).await?;
        }
    }
    Ok(())
}
