//! `POST /oauth2/revoke` (RFC 7009): revokes a refresh token and its whole family. Unknown tokens
//! and access tokens (JWTs cannot be recalled; they expire) are answered 200 as well.

use axum::{
    body::Bytes,
    extract::State,
    http::{header, HeaderMap, StatusCode},
    response::{IntoResponse, Response},
};

use super::{
    client,
    error::OAuthError,
    request::{ClientAuth, GrantType, TokenForm},
};
use crate::{secrets, AppState};

pub async fn revoke(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let result = async {
        let form = TokenForm::parse(&headers, &body)?;
        // NOTE: the clients that hold refresh tokens are those of the user grants.
        let client = ClientAuth::from_request(&headers, &form)?;
        let application = client::authenticate(&state, &client, GrantType::RefreshToken).await?;
        let token = form.get("token").ok_or_else(|| OAuthError::invalid_request("token is required"))?;
        if let Some(found) = state.store.find_refresh_token(&secrets::hash_secret(token)).await? {
            if found.client_id == application.id {
                state.store.revoke_refresh_family(&found.family_id).await?;
            }
        }
        Ok::<_, OAuthError>(())
    }
    .await;
    match result {
        Ok(()) => (StatusCode::OK, [(header::CACHE_CONTROL, "no-store")]).into_response(),
        Err(error) => error.into_response(),
    }
}
