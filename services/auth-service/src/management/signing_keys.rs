//! `/api/v1/signing_keys`: the deployment's signing keys, rotated and revoked by the signers
//! (auth-service holds no private key). claimflow's own.

use axum::{
    extract::{Path, State},
    http::StatusCode,
};
use claimflow_contracts::{
    signer::{KeyCommand, KeyInfo},
    ServiceErrorCode,
};
use serde::Serialize;
use utoipa::ToSchema;

use super::{reply, Answer, ApiError, NotFound, Reply, Unavailable};
use crate::AppState;

/// A signing key; never the key itself.
#[derive(Serialize, ToSchema)]
pub struct SigningKeyView {
    kid: String,
    /// `RS256`, `ES256` or `EdDSA`.
    alg: String,
    /// `next` (published, not signing yet), `active`, `retiring` (superseded, published until the
    /// last token it signed expires), `retired` or `revoked`.
    state: String,
    /// Unix milliseconds.
    created_at: i64,
    /// Unix milliseconds: it signs from then until a newer key signs.
    signs_from: i64,
    revoked_at: Option<i64>,
    /// Unix seconds: no token it signed expires later.
    last_exp: i64,
}

impl From<KeyInfo> for SigningKeyView {
    fn from(key: KeyInfo) -> Self {
        Self {
            kid: key.kid,
            alg: key.alg,
            state: key.state,
            created_at: key.created_at,
            signs_from: key.signs_from,
            revoked_at: key.revoked_at,
            last_exp: key.last_exp,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct SigningKeyList {
    /// Newest first.
    keys: Vec<SigningKeyView>,
}

/// Sends `command` to a signer; the keys as they are after it.
async fn ask(state: &AppState, command: KeyCommand) -> Result<SigningKeyList, ApiError> {
    let wait = std::time::Duration::from_secs(10);
    let keys =
        state.dispatcher.request(&state.config.common.subject_prefix, &command, wait).await.map_err(|err| match err
            .remote()
        {
            Some(remote) if remote.code == ServiceErrorCode::NotFound => {
                ApiError::new(StatusCode::NOT_FOUND, "NOT_FOUND", remote.message.clone())
            }
            _ => {
                tracing::error!(%err, "no signer answered a key command");
                ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "SIGNER_UNAVAILABLE",
                    "no signer answered: start one and try again",
                )
            }
        })?;
    // NOTE: this replica's verifier forgets the key set now; the others hear the signer's notice.
    state.jwks.forget().await;
    Ok(SigningKeyList { keys: keys.into_iter().map(Into::into).collect() })
}

#[utoipa::path(get, path = "/signing_keys", summary = "List the signing keys",
    security(("bearer" = ["read:signing_keys"])), responses((status = 200, body = Reply<SigningKeyList>), Unavailable))]
pub async fn list(State(state): State<AppState>) -> Answer<SigningKeyList> {
    reply("OK", "Success", ask(&state, KeyCommand::List).await?)
}

/// The new key is published at once and signs after `CLAIMFLOW_KEY_PUBLISH_LEAD_SECS`.
#[utoipa::path(post, path = "/signing_keys/rotate", summary = "Rotate the signing key",
    security(("bearer" = ["create:signing_keys"])), responses((status = 200, body = Reply<SigningKeyList>), Unavailable))]
pub async fn rotate(State(state): State<AppState>) -> Answer<SigningKeyList> {
    reply("KEY_ROTATED", "A new signing key is published", ask(&state, KeyCommand::Rotate).await?)
}

/// Unpublished at once: tokens it signed stop verifying. When it was signing, a new key signs
/// at once.
#[utoipa::path(delete, path = "/signing_keys/{kid}", summary = "Revoke a signing key",
    security(("bearer" = ["delete:signing_keys"])),
    responses((status = 200, body = Reply<SigningKeyList>), NotFound, Unavailable))]
pub async fn revoke(State(state): State<AppState>, Path(kid): Path<String>) -> Answer<SigningKeyList> {
    reply("KEY_REVOKED", "The signing key is revoked", ask(&state, KeyCommand::Revoke { kid }).await?)
}
