//! `/.well-known/openid-configuration` and `/.well-known/jwks.json`.

use axum::{
    extract::State,
    http::{header, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
    Json,
};
use serde::Serialize;

use crate::AppState;

/// OpenID Connect Discovery 1.0 §3: what this issuer offers.
#[derive(Serialize)]
pub struct ProviderMetadata {
    issuer: String,
    authorization_endpoint: String,
    token_endpoint: String,
    userinfo_endpoint: String,
    revocation_endpoint: String,
    end_session_endpoint: String,
    jwks_uri: String,
    grant_types_supported: &'static [&'static str],
    response_types_supported: &'static [&'static str],
    response_modes_supported: &'static [&'static str],
    code_challenge_methods_supported: &'static [&'static str],
    token_endpoint_auth_methods_supported: &'static [&'static str],
    revocation_endpoint_auth_methods_supported: &'static [&'static str],
    subject_types_supported: &'static [&'static str],
    id_token_signing_alg_values_supported: Vec<String>,
    scopes_supported: &'static [&'static str],
    prompt_values_supported: &'static [&'static str],
    claims_supported: &'static [&'static str],
}

const CLIENT_AUTH_METHODS: &[&str] = &["client_secret_basic", "client_secret_post", "none"];

pub async fn openid_configuration(State(state): State<AppState>) -> Json<ProviderMetadata> {
    let issuer = &state.config.issuer;
    // NOTE: what the signer's keys say, its signing key's first; RS256 (the default) while the
    // signer cannot be asked.
    let algorithms = state.jwks.algorithms().await.unwrap_or_else(|err| {
        tracing::warn!(%err, "cannot read the signer's keys for discovery");
        vec!["RS256".to_owned()]
    });
    Json(ProviderMetadata {
        issuer: issuer.clone(),
        authorization_endpoint: format!("{issuer}/oauth2/auth"),
        token_endpoint: format!("{issuer}/oauth2/token"),
        userinfo_endpoint: format!("{issuer}/oauth2/userinfo"),
        revocation_endpoint: format!("{issuer}/oauth2/revoke"),
        end_session_endpoint: format!("{issuer}/logout"),
        jwks_uri: format!("{issuer}/.well-known/jwks.json"),
        grant_types_supported: &["authorization_code", "refresh_token", "client_credentials"],
        response_types_supported: &["code"],
        response_modes_supported: &["query"],
        code_challenge_methods_supported: &["S256"],
        token_endpoint_auth_methods_supported: CLIENT_AUTH_METHODS,
        revocation_endpoint_auth_methods_supported: CLIENT_AUTH_METHODS,
        subject_types_supported: &["public"],
        id_token_signing_alg_values_supported: algorithms,
        scopes_supported: &crate::user_tokens::USER_SCOPES,
        prompt_values_supported: &["none", "login"],
        claims_supported: &[
            "aud",
            "auth_time",
            "azp",
            "email",
            "exp",
            "family_name",
            "feature_flags",
            "given_name",
            "gty",
            "iat",
            "iss",
            "jti",
            "name",
            "nonce",
            "org_code",
            "org_codes",
            "permissions",
            "rat",
            "roles",
            "scope",
            "scp",
            "sid",
            "sub",
            "updated_at",
            "v",
        ],
    })
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
                Json(Unavailable { error: "the signer's keys are unavailable; is the signer running?" }),
            )
                .into_response()
        }
    }
}

#[derive(Serialize)]
struct Unavailable {
    error: &'static str,
}
