//! `grant_type=authorization_code`: spends the code and hands out what was signed for it when
//! the authorization request completed (with a first refresh token when `offline` was granted).

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use claimflow_storage::{
    entity::{application, refresh_token},
    CodeRedemption,
};
use sha2::{Digest, Sha256};

use crate::{
    oauth::{error::OAuthError, response::TokenResponse},
    secrets,
    user_tokens::{new_secret, scope_list, IssuedTokens},
    AppState,
};

pub async fn exchange(
    state: &AppState,
    application: &application::Model,
    code: &str,
    redirect_uri: &str,
    code_verifier: Option<&str>,
) -> Result<TokenResponse, OAuthError> {
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
    match (&code.code_challenge, code_verifier) {
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
            OAuthError::internal(
                "the tokens of an authorization code cannot be read (was CLAIMFLOW_SECRETS_KEY changed?)",
            )
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
    Ok(TokenResponse::for_user(tokens, refresh_token))
}

/// RFC 7636 S256: BASE64URL(SHA256(verifier)) == challenge.
fn pkce_matches(verifier: &str, challenge: &str) -> bool {
    let computed = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    subtle::ConstantTimeEq::ct_eq(computed.as_bytes(), challenge.as_bytes()).into()
}
