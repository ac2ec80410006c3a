//! The base claims: what a token carries before any workflow, in Kinde's shapes. Built here, from
//! plain values, by auth-service for real tokens and by `claimflow run` for a local run, so both
//! show a workflow the same token.

use serde_json::{json, Value};

use crate::Claims;

/// An M2M access token (`client_credentials`).
pub struct M2mClaims<'a> {
    pub issuer: &'a str,
    pub client_id: &'a str,
    pub audience: &'a str,
    pub scopes: &'a [String],
    /// Unix seconds.
    pub now: u64,
    pub lifetime_secs: u64,
    pub jti: &'a str,
    /// The application's property values marked for tokens (`org_code`, ...).
    pub token_properties: &'a [(String, String)],
}

impl M2mClaims<'_> {
    pub fn build(&self) -> Claims {
        let mut claims = json!({
            "aud": [self.audience],
            "azp": self.client_id,
            "exp": self.now + self.lifetime_secs,
            "gty": ["client_credentials"],
            "iat": self.now,
            "iss": self.issuer,
            "jti": self.jti,
            "scope": self.scopes.join(" "),
            "scp": self.scopes,
            "v": "2",
        });
        if !self.token_properties.is_empty() {
            // Kinde's shape: `application_properties: { org_code: { v: "org_..." } }`.
            let properties: serde_json::Map<String, Value> =
                self.token_properties.iter().map(|(key, value)| (key.clone(), json!({ "v": value }))).collect();
            claims["application_properties"] = Value::Object(properties);
        }
        into_claims(claims)
    }
}

/// Who a user token is for.
pub struct UserProfile<'a> {
    pub id: &'a str,
    pub email: &'a str,
    pub given_name: &'a str,
    pub family_name: &'a str,
    /// Unix seconds.
    pub updated_at: u64,
}

/// A user's access token and ID token (the authorization code and refresh token grants).
pub struct UserClaims<'a> {
    pub issuer: &'a str,
    pub client_id: &'a str,
    pub audience: &'a [String],
    pub scopes: &'a [String],
    pub user: UserProfile<'a>,
    pub session_id: &'a str,
    /// When the user entered their password, Unix seconds.
    pub auth_time: u64,
    /// The organization signed in to.
    pub org_code: Option<&'a str>,
    /// Every organization the user belongs to.
    pub organizations: &'a [String],
    /// `[{id, key, name}]` in the organization signed in to.
    pub roles: Vec<Value>,
    pub permissions: &'a [String],
    /// `{key: {t, v}}`.
    pub feature_flags: serde_json::Map<String, Value>,
    pub nonce: Option<&'a str>,
    /// Unix seconds.
    pub now: u64,
    pub lifetime_secs: u64,
    pub access_jti: &'a str,
    pub id_jti: &'a str,
}

impl UserClaims<'_> {
    /// The access token's claims, and the ID token's when `openid` was asked for.
    pub fn build(self) -> (Claims, Option<Claims>) {
        let mut access = json!({
            "aud": self.audience,
            "azp": self.client_id,
            "exp": self.now + self.lifetime_secs,
            "feature_flags": self.feature_flags,
            "iat": self.now,
            "iss": self.issuer,
            "jti": self.access_jti,
            "permissions": self.permissions,
            "roles": self.roles,
            "scp": self.scopes,
            "sub": self.user.id,
            "v": "2",
        });
        if let Some(org_code) = self.org_code {
            access["org_code"] = json!(org_code);
        }
        let id = self.scopes.iter().any(|scope| scope == "openid").then(|| {
            let user = &self.user;
            let mut id = json!({
                "aud": [self.client_id],
                "auth_time": self.auth_time,
                "azp": self.client_id,
                "email": user.email,
                "exp": self.now + self.lifetime_secs,
                "family_name": user.family_name,
                "given_name": user.given_name,
                "iat": self.now,
                "iss": self.issuer,
                "jti": self.id_jti,
                "name": format!("{} {}", user.given_name, user.family_name).trim().to_owned(),
                "org_codes": self.organizations,
                "rat": self.now,
                "sid": self.session_id,
                "sub": user.id,
                "updated_at": user.updated_at,
            });
            if let Some(nonce) = self.nonce {
                id["nonce"] = json!(nonce);
            }
            into_claims(id)
        });
        (into_claims(access), id)
    }
}

fn into_claims(value: Value) -> Claims {
    match value {
        Value::Object(map) => map,
        _ => Claims::new(),
    }
}

/// Now, in Unix seconds.
pub fn unix_now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn m2m_claims_carry_kindes_names_and_token_properties() {
        let scopes = vec!["read".to_owned(), "write".to_owned()];
        let properties = vec![("org_code".to_owned(), "org_1".to_owned())];
        let claims = M2mClaims {
            issuer: "https://auth.example",
            client_id: "c1",
            audience: "api",
            scopes: &scopes,
            now: 100,
            lifetime_secs: 60,
            jti: "j1",
            token_properties: &properties,
        }
        .build();
        assert_eq!(claims["aud"], json!(["api"]));
        assert_eq!(claims["exp"], 160);
        assert_eq!(claims["scope"], "read write");
        assert_eq!(claims["gty"], json!(["client_credentials"]));
        assert_eq!(claims["application_properties"], json!({ "org_code": { "v": "org_1" } }));
    }
}
