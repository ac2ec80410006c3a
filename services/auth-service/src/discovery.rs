//! `/.well-known/openid-configuration` and `/.well-known/jwks.json`.

use axum::{
    extract::State,
    http::{header, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
    Json,
};
use serde_json::json;

use crate::AppState;

pub async fn openid_configuration(State(state): State<AppState>) -> Json<serde_json::Value> {
    let issuer = &state.config.issuer;
    Json(json!({
        "issuer": issuer,
        "token_endpoint": format!("{issuer}/oauth2/token"),
        "jwks_uri": format!("{issuer}/.well-known/jwks.json"),
        "grant_types_supported": ["client_credentials"],
        "token_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic"],
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "scopes_supported": ["openid"],
        "claims_supported": ["aud", "azp", "exp", "gty", "iat", "iss", "jti", "scope", "scp", "v"],
    }))
}

pub async fn jwks(State(state): State<AppState>) -> Response {
    match state.jwks.document().await {
        Ok(document) => {
            let mut response = Json(document).into_response();
            response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=300"));
            response
        }
        Err(err) => {
            tracing::error!(%err, "cannot get the signer's keys");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(json!({ "error": "the signer's keys are unavailable; is the signer running?" })),
            )
                .into_response()
        }
    }
}
