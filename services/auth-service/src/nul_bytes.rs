//! Refuses a NUL character anywhere in a request, before any handler sees it (and a body over
//! the limit, with a 413 in the caller's error format).
//!
//! No field of claimflow's holds one, PostgreSQL's text cannot store one, and a handler that
//! passes one to storage would turn a bad request into a server error. A NUL arrives raw, as
//! `%00` in a query or a form, or as `\u0000` in JSON; each is answered with a 400 in the form
//! the caller speaks: an OAuth error, a management-API error, or a page.

use axum::{
    body::{to_bytes, Body},
    extract::Request,
    http::{header, StatusCode},
    middleware::Next,
    response::{IntoResponse, Response},
};

use crate::{authorize::pages, management::ApiError, oauth::error::OAuthError};

/// The largest body read to look for a NUL; larger bodies are refused by the routes anyway.
const BODY_LIMIT: usize = 2 * 1024 * 1024;

pub async fn refuse_nul(request: Request, next: Next) -> Response {
    let path = request.uri().path().to_owned();
    if has_nul(request.uri().path().as_bytes(), true)
        || request.uri().query().is_some_and(|q| has_nul(q.as_bytes(), true))
    {
        return refusal(&path, "the URL");
    }
    if request.headers().values().any(|value| value.as_bytes().contains(&0)) {
        return refusal(&path, "a header");
    }
    let content_type = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    let (parts, body) = request.into_parts();
    let bytes = match to_bytes(body, BODY_LIMIT).await {
        Ok(bytes) => bytes,
        Err(_) => return too_large(&path),
    };
    let form = content_type.starts_with("application/x-www-form-urlencoded");
    let json = content_type.contains("json");
    if has_nul(&bytes, form) || (json && has_json_nul(&bytes)) {
        return refusal(&path, "the body");
    }
    next.run(Request::from_parts(parts, Body::from(bytes))).await
}

/// A raw NUL, or `%00` when `percent_encoded`.
fn has_nul(bytes: &[u8], percent_encoded: bool) -> bool {
    bytes.contains(&0) || (percent_encoded && bytes.windows(3).any(|w| w == b"%00"))
}

/// `\u0000` in JSON text (an escaped backslash before it, `\\u0000`, is not one).
fn has_json_nul(bytes: &[u8]) -> bool {
    let mut backslashes = 0usize;
    for (i, &byte) in bytes.iter().enumerate() {
        if byte == b'\\' {
            backslashes += 1;
            continue;
        }
        if byte == b'u' && backslashes % 2 == 1 && bytes.get(i + 1..i + 5) == Some(b"0000") {
            return true;
        }
        backslashes = 0;
    }
    false
}

fn too_large(path: &str) -> Response {
    let message = format!("the request body is larger than {} MiB", BODY_LIMIT / (1024 * 1024));
    in_callers_format(path, StatusCode::PAYLOAD_TOO_LARGE, "PAYLOAD_TOO_LARGE", message)
}

fn refusal(path: &str, place: &str) -> Response {
    let message = format!("{place} holds a NUL character (\\0, %00 or \\u0000), which no field may contain");
    in_callers_format(path, StatusCode::BAD_REQUEST, "INVALID_REQUEST", message)
}

/// `status` with `message` as the caller at `path` reads errors: a management-API error (with
/// `api_code`), a page for the sign-in pages, an OAuth `invalid_request` for the rest.
fn in_callers_format(path: &str, status: StatusCode, api_code: &'static str, message: String) -> Response {
    let mut response = if path.starts_with("/api/") {
        ApiError::bad_request(api_code, message).into_response()
    } else if path.starts_with("/oauth2/auth") || path.starts_with("/logout") {
        pages::message(status, "Sign-in cannot continue", &message)
    } else {
        OAuthError::invalid_request(message).into_response()
    };
    *response.status_mut() = status;
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_nul_in_each_of_its_spellings() {
        assert!(has_nul(b"client_id=%00", true) && has_nul(b"a\0b", false));
        assert!(!has_nul(b"100%25 sure", true) && !has_nul(b"%00", false));
        assert!(has_json_nul(br#"{"name":"a\u0000"}"#) && has_json_nul(br#"{"name":"\\\u0000"}"#));
        assert!(!has_json_nul(br#"{"name":"a\\u0000"}"#) && !has_json_nul(br#"{"name":"u0000"}"#));
    }
}
