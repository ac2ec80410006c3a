//! `POST /oauth2/token` and `POST /oauth2/revoke`: a request parsed once ([`request`]), its client
//! authenticated ([`client`]), then the grant's own exchange ([`grant`]).
//!
//! Every refusal is an RFC 6749 error ([`error`]) and issues nothing.

mod client;
pub mod error;
mod grant;
pub(crate) mod request;
pub(crate) mod response;
mod revocation;

use std::net::SocketAddr;

use axum::{
    body::Bytes,
    extract::{ConnectInfo, State},
    http::{header, HeaderMap, HeaderValue},
    response::{IntoResponse, Response},
    Json,
};

pub use revocation::revoke;

use crate::AppState;
use request::{Caller, ClientAuth, Grant, GrantType, TokenForm};

pub async fn token(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let span = tracing::Span::current();
    let mut grant_type = None;
    let result = async {
        let form = TokenForm::parse(&headers, &body)?;
        let kind = GrantType::from_form(&form)?;
        grant_type = Some(kind);
        let client = ClientAuth::from_request(&headers, &form)?;
        let application = client::authenticate(&state, &client, kind).await?;
        let caller = Caller { peer, user_agent: headers.get(header::USER_AGENT).and_then(|value| value.to_str().ok()) };
        match Grant::from_form(kind, &form)? {
            Grant::ClientCredentials { audience, scope } => {
                grant::client_credentials::exchange(&state, &application, &audience, scope, &caller).await
            }
            Grant::AuthorizationCode { code, redirect_uri, code_verifier } => {
                grant::authorization_code::exchange(
                    &state,
                    &application,
                    &code,
                    &redirect_uri,
                    code_verifier.as_deref(),
                )
                .await
            }
            Grant::RefreshToken { refresh_token } => {
                grant::refresh_token::exchange(&state, &application, &refresh_token, &caller).await
            }
        }
    }
    .await;
    let outcome = match &result {
        Ok(_) => "issued",
        Err(error) => error.code.as_str(),
    };
    claimflow_platform::metrics::METRICS
        .token_requests
        .get_or_create(&claimflow_platform::metrics::TokenLabels {
            grant_type: grant_type.map(GrantType::as_str).unwrap_or("other").to_owned(),
            outcome: outcome.to_owned(),
        })
        .inc();
    match result {
        Ok(response) => {
            let mut response = Json(response).into_response();
            response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            response
        }
        Err(error) => {
            span.in_scope(|| {
                tracing::info!(error = error.code.as_str(), description = %error.description, "token request refused")
            });
            error.into_response()
        }
    }
}
