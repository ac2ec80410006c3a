//! `/oauth2/userinfo` (OpenID Connect Core §5.3; also at Kinde's `/oauth2/v2/user_profile`).

use axum::{
    extract::State,
    http::{header, HeaderMap, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
    Json,
};
use serde::Serialize;

use crate::{
    jwks::{bearer_token, Rejection},
    AppState,
};

/// The claims about the user, with Kinde's `/oauth2/v2/user_profile` names beside OIDC's.
#[derive(Serialize)]
struct Profile {
    sub: String,
    id: String,
    email: String,
    given_name: String,
    family_name: String,
    name: String,
    updated_at: i64,
    preferred_email: String,
    first_name: String,
    last_name: String,
}

/// `{"error", "error_description"}`, as RFC 6750 §3 answers.
#[derive(Serialize)]
struct ErrorBody<'a> {
    error: &'a str,
    error_description: &'a str,
}

enum Refusal {
    /// 401 `invalid_token`, with a challenge naming why.
    Token(String),
    /// 503: the signer's keys cannot be read now.
    Unavailable,
    /// 500; the cause is logged, never shown.
    Internal(String),
}

/// The signed-in user's profile, for a user access token of this issuer.
pub async fn userinfo(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let (status, error, description) = match profile(&state, &headers).await {
        Ok(profile) => {
            let mut response = Json(profile).into_response();
            response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            return response;
        }
        Err(Refusal::Token(description)) => (StatusCode::UNAUTHORIZED, "invalid_token", description),
        Err(Refusal::Unavailable) => (
            StatusCode::SERVICE_UNAVAILABLE,
            "temporarily_unavailable",
            "the signer's keys are unavailable; try again shortly".to_owned(),
        ),
        Err(Refusal::Internal(cause)) => {
            tracing::error!(%cause, "userinfo failed");
            (StatusCode::INTERNAL_SERVER_ERROR, "server_error", "internal error".to_owned())
        }
    };
    let mut response = (status, Json(ErrorBody { error, error_description: &description })).into_response();
    if status == StatusCode::UNAUTHORIZED {
        let challenge =
            format!("Bearer error=\"invalid_token\", error_description=\"{}\"", description.replace('"', "'"));
        if let Ok(value) = HeaderValue::from_str(&challenge) {
            response.headers_mut().insert(header::WWW_AUTHENTICATE, value);
        }
    }
    response
}

async fn profile(state: &AppState, headers: &HeaderMap) -> Result<Profile, Refusal> {
    let invalid = |description: &str| Refusal::Token(description.to_owned());
    let token =
        bearer_token(headers).ok_or_else(|| invalid("a user access token is required (Authorization: Bearer)"))?;
    // NOTE: user access tokens are for APIs (or none); any audience may ask who the user is.
    let claims = state.jwks.verify(token, &state.config.issuer, None).await.map_err(|rejection| match rejection {
        Rejection::NotJwt => invalid("the access token is not a JWT"),
        Rejection::NoKid => invalid("the access token has no kid"),
        Rejection::UnknownKey => invalid("the access token was not signed by this issuer"),
        Rejection::Keys(err) => {
            tracing::warn!(%err, "userinfo cannot read the signer's keys");
            Refusal::Unavailable
        }
        Rejection::Invalid(err) => Refusal::Token(format!("the access token is not valid: {err}")),
    })?;
    let user_id = claims.get("sub").and_then(|sub| sub.as_str()).filter(|sub| sub.starts_with("kp_"));
    let user_id = user_id.ok_or_else(|| invalid("the access token is not a user's (no user sub)"))?;
    let user = state
        .store
        .find_user(user_id)
        .await
        .map_err(|err| Refusal::Internal(format!("storage: {err}")))?
        .ok_or_else(|| invalid("the user of this access token no longer exists"))?;
    Ok(Profile {
        sub: user.id.clone(),
        id: user.id,
        name: format!("{} {}", user.given_name, user.family_name).trim().to_owned(),
        updated_at: user.updated_at / 1000,
        preferred_email: user.email.clone(),
        first_name: user.given_name.clone(),
        last_name: user.family_name.clone(),
        email: user.email,
        given_name: user.given_name,
        family_name: user.family_name,
    })
}
