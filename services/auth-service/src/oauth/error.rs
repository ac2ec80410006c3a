//! OAuth 2.0 error responses (RFC 6749 §5.2): `{"error", "error_description"}`, never cached.
//!
//! An error has a code from the specifications, a description for the client, and, for failures
//! of claimflow itself (a database error, say), a cause that goes to the log with the request's
//! trace id and never into the response: a client learns that something failed, not how.

use axum::{
    http::{header, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
    Json,
};

/// The error codes of RFC 6749 §5.2, RFC 6750 and RFC 8707 that claimflow answers with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OAuthErrorCode {
    InvalidRequest,
    InvalidClient,
    InvalidGrant,
    UnauthorizedClient,
    UnsupportedGrantType,
    InvalidScope,
    /// RFC 8707: the requested audience is not a known API.
    InvalidTarget,
    AccessDenied,
    ServerError,
    TemporarilyUnavailable,
}

impl OAuthErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            OAuthErrorCode::InvalidRequest => "invalid_request",
            OAuthErrorCode::InvalidClient => "invalid_client",
            OAuthErrorCode::InvalidGrant => "invalid_grant",
            OAuthErrorCode::UnauthorizedClient => "unauthorized_client",
            OAuthErrorCode::UnsupportedGrantType => "unsupported_grant_type",
            OAuthErrorCode::InvalidScope => "invalid_scope",
            OAuthErrorCode::InvalidTarget => "invalid_target",
            OAuthErrorCode::AccessDenied => "access_denied",
            OAuthErrorCode::ServerError => "server_error",
            OAuthErrorCode::TemporarilyUnavailable => "temporarily_unavailable",
        }
    }

    fn status(self) -> StatusCode {
        match self {
            OAuthErrorCode::InvalidClient => StatusCode::UNAUTHORIZED,
            OAuthErrorCode::AccessDenied => StatusCode::FORBIDDEN,
            OAuthErrorCode::ServerError => StatusCode::INTERNAL_SERVER_ERROR,
            OAuthErrorCode::TemporarilyUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::BAD_REQUEST,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthError {
    pub code: OAuthErrorCode,
    /// What the client is told.
    pub description: String,
    /// What went wrong inside claimflow: logged, never sent.
    cause: Option<String>,
    /// Set when the client tried HTTP Basic: a 401 then carries `WWW-Authenticate`.
    basic_challenge: bool,
}

impl OAuthError {
    fn new(code: OAuthErrorCode, description: impl Into<String>) -> Self {
        Self { code, description: description.into(), cause: None, basic_challenge: false }
    }

    pub fn invalid_request(description: impl Into<String>) -> Self {
        Self::new(OAuthErrorCode::InvalidRequest, description)
    }

    pub fn invalid_client(description: impl Into<String>, basic_challenge: bool) -> Self {
        Self { basic_challenge, ..Self::new(OAuthErrorCode::InvalidClient, description) }
    }

    pub fn invalid_grant(description: impl Into<String>) -> Self {
        Self::new(OAuthErrorCode::InvalidGrant, description)
    }

    pub fn unsupported_grant_type(description: impl Into<String>) -> Self {
        Self::new(OAuthErrorCode::UnsupportedGrantType, description)
    }

    pub fn unauthorized_client(description: impl Into<String>) -> Self {
        Self::new(OAuthErrorCode::UnauthorizedClient, description)
    }

    pub fn invalid_scope(description: impl Into<String>) -> Self {
        Self::new(OAuthErrorCode::InvalidScope, description)
    }

    pub fn invalid_target(description: impl Into<String>) -> Self {
        Self::new(OAuthErrorCode::InvalidTarget, description)
    }

    pub fn access_denied(description: impl Into<String>) -> Self {
        Self::new(OAuthErrorCode::AccessDenied, description)
    }

    /// A failure the client can act on knowing its description (a workflow that failed, say).
    pub fn server_error(description: impl Into<String>) -> Self {
        Self::new(OAuthErrorCode::ServerError, description)
    }

    /// A failure of claimflow itself: the client is told only that.
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        Self { cause: Some(cause.to_string()), ..Self::new(OAuthErrorCode::ServerError, "internal error") }
    }

    pub fn temporarily_unavailable(description: impl Into<String>) -> Self {
        Self::new(OAuthErrorCode::TemporarilyUnavailable, description)
    }

    #[cfg(test)]
    fn cause(&self) -> Option<&str> {
        self.cause.as_deref()
    }
}

/// A database failure while answering an OAuth request.
impl From<claimflow_storage::StorageError> for OAuthError {
    fn from(err: claimflow_storage::StorageError) -> Self {
        OAuthError::internal(format!("storage: {err}"))
    }
}

/// RFC 6749 §5.2's error body.
#[derive(serde::Serialize)]
struct ErrorBody<'a> {
    error: &'a str,
    error_description: &'a str,
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        if let Some(cause) = &self.cause {
            // NOTE: logged inside the request's span, so the line carries its trace id.
            tracing::error!(error = self.code.as_str(), %cause, "request failed");
        }
        let body = Json(ErrorBody { error: self.code.as_str(), error_description: &self.description });
        let status = self.code.status();
        let mut response = (status, body).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        if status == StatusCode::UNAUTHORIZED && self.basic_challenge {
            headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Basic realm=\"claimflow\""));
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn an_internal_failure_reaches_the_log_but_not_the_client() {
        let error = OAuthError::from(claimflow_storage::StorageError::Conflict(
            "invalid byte sequence for encoding \"UTF8\": 0x00".into(),
        ));
        assert_eq!(error.code, OAuthErrorCode::ServerError);
        assert!(error.cause().is_some_and(|cause| cause.contains("0x00")));
        let response = error.into_response();
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let body = axum::body::to_bytes(response.into_body(), 4096).await.unwrap();
        let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(body, serde_json::json!({ "error": "server_error", "error_description": "internal error" }));
    }
}
