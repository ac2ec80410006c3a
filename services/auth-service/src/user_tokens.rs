//! User tokens: the claims Kinde puts in user access and ID tokens and the
//! `user:tokens_generation` round trip, for the sign-in and the refresh grant, and the codes a
//! sign-in ends with.
//!
//! Tokens are signed when the authorization request completes, so that a workflow denying
//! access is answered at the redirect (as Kinde does); the code exchange hands them out once.

use std::net::IpAddr;

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use claimflow_contracts::{
    base_claims::{unix_now, UserClaims, UserProfile},
    event::{
        EventApplication, EventAuth, EventContext, EventDomains, EventOrganization, EventRequest, EventRequestAuth,
        EventUser, EventWorkflow, WorkflowEvent,
    },
    workflow::BaseClaims,
    TokenKind, Trigger,
};
use claimflow_storage::entity::{application, authorization_code, user};
use serde_json::{json, Value};

use crate::{issuance::run_and_sign, oauth::error::OAuthError, secrets, AppState};

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
    /// What the workflow set for the sign-in's session; applied to its cookie, not stored.
    #[serde(skip)]
    pub session_policy: Option<claimflow_contracts::workflow::SessionPolicy>,
}

pub fn scope_list(scope: &str) -> Vec<String> {
    scope.split_whitespace().map(str::to_owned).collect()
}

pub fn audience_list(audience: &Value) -> Vec<String> {
    audience.as_array().into_iter().flatten().filter_map(|a| a.as_str().map(str::to_owned)).collect()
}

/// The access and ID token claims Kinde issues, before any workflow.
async fn base_claims(state: &AppState, request: &UserTokenRequest<'_>) -> Result<BaseClaims, OAuthError> {
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
    let user = request.user;
    let (access_jti, id_jti) = (uuid::Uuid::new_v4().to_string(), uuid::Uuid::new_v4().to_string());
    let (access, id) = UserClaims {
        issuer: &state.config.issuer,
        client_id: &request.application.id,
        audience: request.audience,
        scopes: request.scopes,
        user: UserProfile {
            id: &user.id,
            email: &user.email,
            given_name: &user.given_name,
            family_name: &user.family_name,
            updated_at: (user.updated_at / 1000) as u64,
        },
        session_id: request.session_id,
        auth_time: request.auth_time,
        org_code: request.org_code,
        organizations: request.organizations,
        roles,
        permissions: &permissions,
        feature_flags,
        nonce: request.nonce,
        now: unix_now(),
        lifetime_secs: lifetime,
        access_jti: &access_jti,
        id_jti: &id_jti,
    }
    .build();
    Ok(BaseClaims { access, id })
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
            auth_url_params: None,
        },
        context: EventContext {
            domains: EventDomains { kinde_domain: state.config.issuer.clone() },
            workflow: EventWorkflow { trigger: Trigger::UserTokensGeneration },
            application: EventApplication { client_id: request.application.id.clone() },
            auth: Some(EventAuth {
                origin: Some(origin.to_owned()),
                is_existing_session: Some(existing_session),
                ..EventAuth::connection(PASSWORD_CONNECTION_ID)
            }),
            user: Some(EventUser::of(&request.user.id)),
            organization: request.org_code.map(|code| EventOrganization { code: code.to_owned() }),
            mfa: None,
        },
    };
    let exp = base.access.get("exp").and_then(Value::as_u64).unwrap_or_default();
    let signed = run_and_sign(state, deployment.as_deref(), event, base, TokenKind::Access, grant_type).await?;
    Ok(IssuedTokens {
        access_token: signed.tokens.access_token,
        id_token: signed.tokens.id_token,
        expires_at: exp,
        scope: request.scopes.join(" "),
        session_policy: signed.session_policy,
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
