//! `GET /logout`.

use axum::{
    extract::{RawQuery, State},
    http::StatusCode,
    response::{IntoResponse, Response},
};
use axum_extra::extract::cookie::CookieJar;

use super::{browser_session, cookies, pages, redirect_to, storage_page};
use crate::AppState;

/// `GET /logout`: ends the browser's session (and the refresh tokens issued under it), then
/// returns to `post_logout_redirect_uri` (or Kinde's `redirect`) if an application registered it.
pub async fn logout(State(state): State<AppState>, jar: CookieJar, RawQuery(query): RawQuery) -> Response {
    let params: std::collections::HashMap<String, String> =
        url::form_urlencoded::parse(query.unwrap_or_default().as_bytes()).into_owned().collect();
    let target = params.get("post_logout_redirect_uri").or_else(|| params.get("redirect")).filter(|v| !v.is_empty());
    if let Some(target) = target {
        let allowed = match params.get("client_id").filter(|v| !v.is_empty()) {
            Some(client_id) => {
                state.store.application_urls(client_id, "logout").await.map(|urls| urls.contains(target))
            }
            None => state.store.is_registered_logout_url(target).await,
        };
        match allowed {
            Ok(true) => {}
            Ok(false) => {
                return pages::message(
                    StatusCode::BAD_REQUEST,
                    "Sign-out cannot redirect",
                    &format!(
                        "{target:?} is not a registered logout URL{}; you have not been signed out.",
                        params.get("client_id").map(|id| format!(" of application {id}")).unwrap_or_default()
                    ),
                )
            }
            Err(err) => return storage_page(err).into_response(),
        }
    }
    let ended = match browser_session(&state, &jar).await {
        Ok(Some(session)) => state.store.end_session(&session.id).await,
        Ok(None) => Ok(()),
        Err(err) => Err(err),
    };
    if let Err(err) = ended {
        return storage_page(err).into_response();
    }
    let response = match target {
        Some(target) => redirect_to(target, &[], params.get("state").map(String::as_str), StatusCode::FOUND),
        None => pages::message(StatusCode::OK, "Signed out", "You are signed out."),
    };
    (cookies::remove(jar, &state.config.issuer, cookies::SESSION), response).into_response()
}
