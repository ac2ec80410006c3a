//! The token endpoint's answer (RFC 6749 §5.1).

use claimflow_contracts::base_claims::unix_now;

use crate::user_tokens::IssuedTokens;

#[derive(serde::Serialize)]
pub struct TokenResponse {
    pub access_token: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id_token: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    pub expires_in: u64,
    pub scope: String,
    pub token_type: &'static str,
}

impl TokenResponse {
    /// User tokens signed earlier (at sign-in) or now (a refresh), and the refresh token.
    pub fn for_user(tokens: IssuedTokens, refresh_token: Option<String>) -> TokenResponse {
        TokenResponse {
            access_token: tokens.access_token,
            id_token: tokens.id_token,
            refresh_token,
            expires_in: tokens.expires_at.saturating_sub(unix_now()),
            scope: tokens.scope,
            token_type: "bearer",
        }
    }
}
