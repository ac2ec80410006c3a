//! `/oauth2/userinfo` (OpenID Connect Core §5.3; also at Kinde's `/oauth2/v2/user_profile`).

use axum::{
    extract::State,
    http::{header, HeaderMap, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
    Json,
};
use serde_json::json;

use crate::{
    jwks::{bearer_token, Rejection},
    AppState,
};

/// The signed-in user's profile, for a user access token of this issuer.
pub async fn userinfo(State(state): State<AppState>, headers: HeaderMap) -> Response {
    match profile(&state, &headers).await {
        Ok(profile) => {
            let mut response = Json(profile).into_response();
            response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            response
        }
        Err(description) => {
            let challenge =
                format!("Bearer error=\"invalid_token\", error_description=\"{}\"", description.replace('"', "'"));
            let mut response =
                (StatusCode::UNAUTHORIZED, Json(json!({ "error": "invalid_token", "error_description": description })))
                    .into_response();
            if let Ok(value) = HeaderValue::from_str(&challenge) {
                response.headers_mut().insert(header::WWW_AUTHENTICATE, value);
            }
            response
        }
    }
}

async fn profile(state: &AppState, headers: &HeaderMap) -> Result<serde_json::Value, String> {
    let token = bearer_token(headers).ok_or("a user access token is required (Authorization: Bearer)")?;
    // NOTE: user access tokens are for APIs (or none); any audience may ask who the user is.
    let claims = state.jwks.verify(token, &state.config.issuer, None).await.map_err(|rejection| match rejection {
        Rejection::NotJwt => "the access token is not a JWT".to_owned(),
        Rejection::NoKid => "the access token has no kid".to_owned(),
        Rejection::UnknownKey => "the access token was not signed by this issuer".to_owned(),
        Rejection::Keys(err) => format!("the signer's keys are unavailable: {err}"),
        Rejection::Invalid(err) => format!("the access token is not valid: {err}"),
    })?;
    let user_id = claims.get("sub").and_then(|sub| sub.as_str()).filter(|sub| sub.starts_with("kp_"));
    let user_id = user_id.ok_or("the access token is not a user's (no user sub)")?;
    let user = state
        .store
        .find_user(user_id)
        .await
        .map_err(|err| format!("storage: {err}"))?
        .ok_or("the user of this access token no longer exists")?;
    Ok(json!({
        "sub": user.id,
        "id": user.id,
        "email": user.email,
        "given_name": user.given_name,
        "family_name": user.family_name,
        "name": format!("{} {}", user.given_name, user.family_name).trim(),
        "updated_at": user.updated_at / 1000,
        // Kinde's `/oauth2/v2/user_profile` names, for its SDKs.
        "preferred_email": user.email,
        "first_name": user.given_name,
        "last_name": user.family_name,
    }))
}
