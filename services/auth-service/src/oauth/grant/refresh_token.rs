//! `grant_type=refresh_token`: new tokens (the workflow runs again, with
//! `origin: refresh_token_request`) and a new refresh token; the old one is spent. A refresh
//! token used twice revokes its whole family (RFC 9700 §4.14.2).

use claimflow_storage::{
    entity::{application, refresh_token},
    RotationRefused,
};

use crate::{
    oauth::{error::OAuthError, request::Caller, response::TokenResponse},
    secrets,
    user_tokens::{audience_list, issue_user_tokens, new_secret, scope_list, Origin, UserTokenRequest},
    AppState,
};

pub async fn exchange(
    state: &AppState,
    application: &application::Model,
    presented: &str,
    caller: &Caller<'_>,
) -> Result<TokenResponse, OAuthError> {
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
            application,
            user: &user,
            session_id: &old.session_id,
            auth_time: (old.auth_time / 1000) as u64,
            scopes: &scopes,
            audience: &audience,
            org_code: old.org_code.as_deref(),
            organizations: &organizations,
            nonce: None,
            origin: Origin::Refresh,
            ip: caller.peer.ip(),
            user_agent: caller.user_agent,
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
    Ok(TokenResponse::for_user(tokens, Some(secret)))
}

fn rotation_refused(refused: RotationRefused) -> OAuthError {
    match refused {
        RotationRefused::Reused => OAuthError::invalid_grant(
            "the refresh token was already used; every token issued from it is now revoked, sign in again",
        ),
        RotationRefused::Revoked => OAuthError::invalid_grant("the refresh token was revoked; sign in again"),
    }
}
