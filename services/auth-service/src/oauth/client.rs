//! Client authentication: who the client is, and whether it may use the grant it asked for.

use std::sync::Arc;

use claimflow_storage::entity::application::{self, AppType};

use super::{
    error::OAuthError,
    request::{ClientAuth, GrantType},
};
use crate::{secrets, AppState};

/// The application `client` authenticates as, allowed to use `grant`.
///
/// M2M applications use `client_credentials` with their secret. Regular web applications
/// (confidential, with their secret) and SPAs (public, by `client_id` alone) use the user grants.
pub async fn authenticate(
    state: &AppState,
    client: &ClientAuth,
    grant: GrantType,
) -> Result<Arc<application::Model>, OAuthError> {
    let application = match client {
        ClientAuth::Basic { client_id, secret } | ClientAuth::Post { client_id, secret } => {
            with_secret(state, client_id, secret, client.basic()).await?
        }
        ClientAuth::Public { client_id } if grant != GrantType::ClientCredentials => public(state, client_id).await?,
        ClientAuth::Public { .. } => {
            return Err(OAuthError::invalid_client(
                "client authentication is required: client_secret is missing",
                false,
            ))
        }
        ClientAuth::Missing => {
            return Err(OAuthError::invalid_client("client authentication is required: client_id is missing", false))
        }
    };
    let allowed = match grant {
        GrantType::ClientCredentials => application.app_type == AppType::M2m,
        GrantType::AuthorizationCode | GrantType::RefreshToken => application.app_type.signs_users_in(),
    };
    if !allowed {
        return Err(OAuthError::unauthorized_client(match grant {
            GrantType::ClientCredentials => format!(
                "application {} is a {} application; client_credentials needs an m2m application",
                application.id, application.app_type
            ),
            _ => format!(
                "application {} is a {} application; user sign-in needs a regular web application or a SPA",
                application.id, application.app_type
            ),
        }));
    }
    Ok(application)
}

/// The application whose secret the client presented.
async fn with_secret(
    state: &AppState,
    client_id: &str,
    secret: &str,
    basic: bool,
) -> Result<Arc<application::Model>, OAuthError> {
    let application = state.cache.application(&state.store, client_id).await?;
    // NOTE: unknown client and wrong secret get the same answer, so client ids cannot be probed.
    let authenticated = application
        .as_ref()
        .is_some_and(|app| app.client_secret_hash.as_deref().is_some_and(|hash| secrets::verify_secret(secret, hash)));
    application
        .filter(|_| authenticated)
        .ok_or_else(|| OAuthError::invalid_client("client authentication failed", basic))
}

/// A public client: an application without a secret.
async fn public(state: &AppState, client_id: &str) -> Result<Arc<application::Model>, OAuthError> {
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
    Ok(application)
}
