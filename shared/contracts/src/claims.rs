//! Token kinds, claim sets and the claims no workflow may touch.

use serde::{Deserialize, Serialize};

/// A JWT claim set.
pub type Claims = serde_json::Map<String, serde_json::Value>;

/// Which token a workflow's patch is for. Each kind needs its own binding declared in
/// `workflowSettings.bindings`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenKind {
    Access,
    Id,
    M2m,
}

impl TokenKind {
    /// The binding that lets a workflow patch this token.
    pub fn binding(self) -> crate::settings::Binding {
        use crate::settings::Binding;
        match self {
            TokenKind::Access => Binding::AccessToken,
            TokenKind::Id => Binding::IdToken,
            TokenKind::M2m => Binding::M2mToken,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            TokenKind::Access => "access",
            TokenKind::Id => "id",
            TokenKind::M2m => "m2m",
        }
    }
}

/// Claims that workflows may never set, per token kind (Kinde's lists).
pub struct ProhibitedClaims;

impl ProhibitedClaims {
    pub const M2M: &'static [&'static str] =
        &["azp", "exp", "iat", "iss", "nbf", "sid", "sub", "act", "aud", "gty", "jti", "scp"];
    pub const ACCESS: &'static [&'static str] =
        &["azp", "exp", "iat", "iss", "nbf", "sid", "sub", "act", "aud", "jti", "scp"];
    pub const ID: &'static [&'static str] =
        &["azp", "exp", "iat", "iss", "nbf", "sid", "sub", "act", "aud", "auth_time", "jti", "updated_at", "rat"];

    pub fn for_kind(kind: TokenKind) -> &'static [&'static str] {
        match kind {
            TokenKind::Access => Self::ACCESS,
            TokenKind::Id => Self::ID,
            TokenKind::M2m => Self::M2M,
        }
    }

    pub fn is_prohibited(kind: TokenKind, claim: &str) -> bool {
        Self::for_kind(kind).contains(&claim)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn m2m_prohibits_gty_but_access_tokens_do_not_have_it() {
        assert!(ProhibitedClaims::is_prohibited(TokenKind::M2m, "gty"));
        assert!(!ProhibitedClaims::is_prohibited(TokenKind::Access, "gty"));
        assert!(ProhibitedClaims::is_prohibited(TokenKind::Id, "auth_time"));
        assert!(!ProhibitedClaims::is_prohibited(TokenKind::M2m, "hello"));
    }
}
