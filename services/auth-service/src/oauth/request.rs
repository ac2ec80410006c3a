//! A token request, parsed once: the form, the client's authentication and the grant with its
//! parameters. What is missing or malformed is refused here, naming the parameter.

use std::{collections::HashMap, net::SocketAddr};

use axum::http::{header, HeaderMap};
use base64::{engine::general_purpose::STANDARD, Engine};

use super::error::OAuthError;

/// Where a token request came from, for the workflow's event.
pub struct Caller<'a> {
    pub peer: SocketAddr,
    pub user_agent: Option<&'a str>,
}

/// The form parameters, each present at most once (RFC 6749 §3.2).
pub struct TokenForm(HashMap<String, String>);

impl TokenForm {
    pub fn parse(headers: &HeaderMap, body: &[u8]) -> Result<TokenForm, OAuthError> {
        let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
        if !content_type.starts_with("application/x-www-form-urlencoded") {
            return Err(OAuthError::invalid_request(
                "the token request must be sent as application/x-www-form-urlencoded",
            ));
        }
        let mut params = HashMap::new();
        for (name, value) in url::form_urlencoded::parse(body) {
            if params.insert(name.to_string(), value.into_owned()).is_some() {
                return Err(OAuthError::invalid_request(format!("parameter {name} is repeated")));
            }
        }
        Ok(TokenForm(params))
    }

    /// A parameter's value; an empty one counts as absent.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str).filter(|value| !value.is_empty())
    }

    fn required(&self, name: &str) -> Result<String, OAuthError> {
        self.get(name).map(str::to_owned).ok_or_else(|| OAuthError::invalid_request(format!("{name} is required")))
    }
}

/// How the client said who it is.
pub enum ClientAuth {
    /// `client_secret_basic`: HTTP Basic.
    Basic { client_id: String, secret: String },
    /// `client_secret_post`: both in the form.
    Post { client_id: String, secret: String },
    /// A public client (a SPA): its `client_id` alone.
    Public { client_id: String },
    /// No `client_id` at all.
    Missing,
}

impl ClientAuth {
    pub fn from_request(headers: &HeaderMap, form: &TokenForm) -> Result<ClientAuth, OAuthError> {
        if let Some(authorization) = headers.get(header::AUTHORIZATION) {
            let not_basic = || OAuthError::invalid_client("the Authorization header is not valid HTTP Basic", true);
            let decoded = authorization
                .to_str()
                .ok()
                .and_then(|value| value.strip_prefix("Basic "))
                .and_then(|encoded| STANDARD.decode(encoded.trim()).ok())
                .and_then(|bytes| String::from_utf8(bytes).ok())
                .ok_or_else(not_basic)?;
            let (id, secret) = decoded.split_once(':').ok_or_else(not_basic)?;
            // NOTE: RFC 6749 §2.3.1: both are form-encoded before they are joined.
            let decode = |part: &str| {
                url::form_urlencoded::parse(format!("x={part}").as_bytes()).next().map(|(_, v)| v.into_owned())
            };
            if form.get("client_secret").is_some() {
                return Err(OAuthError::invalid_request("use one client authentication method, not both"));
            }
            let (client_id, secret) = (decode(id).unwrap_or_default(), decode(secret).unwrap_or_default());
            // NOTE: the request-wide NUL check sees the header before these decodings.
            if client_id.contains('\0') || secret.contains('\0') {
                return Err(OAuthError::invalid_client("the Basic credentials contain a NUL character", true));
            }
            return Ok(ClientAuth::Basic { client_id, secret });
        }
        Ok(match (form.get("client_id"), form.get("client_secret")) {
            (Some(id), Some(secret)) => ClientAuth::Post { client_id: id.to_owned(), secret: secret.to_owned() },
            (Some(id), None) => ClientAuth::Public { client_id: id.to_owned() },
            (None, _) => ClientAuth::Missing,
        })
    }

    /// Whether a 401 should challenge for HTTP Basic.
    pub fn basic(&self) -> bool {
        matches!(self, ClientAuth::Basic { .. })
    }
}

/// The grant types of `/oauth2/token`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GrantType {
    ClientCredentials,
    AuthorizationCode,
    RefreshToken,
}

impl GrantType {
    pub fn from_form(form: &TokenForm) -> Result<GrantType, OAuthError> {
        match form.get("grant_type") {
            None => Err(OAuthError::invalid_request("grant_type is required")),
            Some("client_credentials") => Ok(GrantType::ClientCredentials),
            Some("authorization_code") => Ok(GrantType::AuthorizationCode),
            Some("refresh_token") => Ok(GrantType::RefreshToken),
            Some(other) => Err(OAuthError::unsupported_grant_type(format!(
                "grant_type {other:?} is not supported; use client_credentials, authorization_code or refresh_token"
            ))),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            GrantType::ClientCredentials => "client_credentials",
            GrantType::AuthorizationCode => "authorization_code",
            GrantType::RefreshToken => "refresh_token",
        }
    }
}

/// A grant with its parameters.
pub enum Grant {
    ClientCredentials {
        /// `audience`, or RFC 8707's `resource`.
        audience: String,
        /// The scopes asked for; all granted ones when absent.
        scope: Option<Vec<String>>,
    },
    AuthorizationCode {
        code: String,
        redirect_uri: String,
        code_verifier: Option<String>,
    },
    RefreshToken {
        refresh_token: String,
    },
}

impl Grant {
    /// The grant's parameters, once the client is known to be allowed to use it.
    pub fn from_form(grant_type: GrantType, form: &TokenForm) -> Result<Grant, OAuthError> {
        Ok(match grant_type {
            GrantType::ClientCredentials => Grant::ClientCredentials {
                audience: form.get("audience").or_else(|| form.get("resource")).map(str::to_owned).ok_or_else(
                    || OAuthError::invalid_request("audience is required: the audience of the API the token is for"),
                )?,
                scope: form.get("scope").map(|scope| scope.split_whitespace().map(str::to_owned).collect()),
            },
            GrantType::AuthorizationCode => Grant::AuthorizationCode {
                code: form.required("code")?,
                redirect_uri: form.required("redirect_uri")?,
                code_verifier: form.get("code_verifier").map(str::to_owned),
            },
            GrantType::RefreshToken => Grant::RefreshToken { refresh_token: form.required("refresh_token")? },
        })
    }
}
