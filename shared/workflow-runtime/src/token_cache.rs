//! `kinde.cache.jwtToken`: tokens a workflow obtained (typically with `getM2MToken`), kept across
//! runs of the same workflow until they expire, and only after their signature checked out
//! against the JWKS the workflow named.

use std::{
    collections::HashMap,
    sync::Mutex,
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

use crate::network::{FetchRequest, FetchResponse};

/// Tokens are dropped this long before they expire, so a run never starts with one about to lapse.
const EXPIRY_MARGIN_SECS: u64 = 30;
const JWKS_TTL: Duration = Duration::from_secs(300);
const MAX_ENTRIES: usize = 1024;

#[derive(Default)]
pub struct TokenCache {
    tokens: Mutex<HashMap<(String, String), (String, u64)>>,
    jwks: Mutex<HashMap<String, (Instant, jsonwebtoken::jwk::JwkSet)>>,
}

impl TokenCache {
    /// The cached token for `(scope, name)` if it is still valid.
    pub fn get(&self, scope: &str, name: &str) -> Option<String> {
        let now = unix_now();
        let tokens = self.tokens.lock().expect("token cache poisoned");
        tokens
            .get(&(scope.to_owned(), name.to_owned()))
            .filter(|(_, exp)| *exp > now + EXPIRY_MARGIN_SECS)
            .map(|(token, _)| token.clone())
    }

    /// Verifies `token` against the JWKS at `jwks_url` (fetched with `fetch`, so the run's network
    /// rules apply) and caches it until its `exp`.
    pub fn put(
        &self,
        scope: &str,
        name: &str,
        token: &str,
        jwks_url: &str,
        fetch: impl FnOnce(FetchRequest) -> Result<FetchResponse, String>,
    ) -> Result<(), String> {
        let header = jsonwebtoken::decode_header(token).map_err(|err| format!("not a JWT: {err}"))?;
        let jwks = self.jwks(jwks_url, fetch)?;
        let jwk = match &header.kid {
            Some(kid) => jwks.find(kid).ok_or_else(|| format!("key {kid} is not in {jwks_url}"))?,
            None => jwks.keys.first().ok_or_else(|| format!("{jwks_url} has no keys"))?,
        };
        let key =
            jsonwebtoken::DecodingKey::from_jwk(jwk).map_err(|err| format!("unusable key in {jwks_url}: {err}"))?;
        let mut validation = jsonwebtoken::Validation::new(header.alg);
        validation.validate_aud = false;
        validation.set_required_spec_claims(&["exp"]);
        let claims = jsonwebtoken::decode::<serde_json::Value>(token, &key, &validation)
            .map_err(|err| format!("token failed validation: {err}"))?
            .claims;
        let exp = claims.get("exp").and_then(|exp| exp.as_u64()).unwrap_or_default();
        let mut tokens = self.tokens.lock().expect("token cache poisoned");
        if tokens.len() >= MAX_ENTRIES {
            tokens.retain(|_, (_, expires)| *expires > unix_now());
        }
        tokens.insert((scope.to_owned(), name.to_owned()), (token.to_owned(), exp));
        Ok(())
    }

    fn jwks(
        &self,
        url: &str,
        fetch: impl FnOnce(FetchRequest) -> Result<FetchResponse, String>,
    ) -> Result<jsonwebtoken::jwk::JwkSet, String> {
        if let Some((fetched, set)) = self.jwks.lock().expect("jwks cache poisoned").get(url) {
            if fetched.elapsed() < JWKS_TTL {
                return Ok(set.clone());
            }
        }
        let request = FetchRequest { url: url.to_owned(), method: None, headers: vec![], body: None };
        let response = fetch(request).map_err(|err| format!("cannot fetch {url}: {err}"))?;
        if response.status != 200 {
            return Err(format!("{url} answered {}", response.status));
        }
        let set: jsonwebtoken::jwk::JwkSet =
            serde_json::from_str(&response.body).map_err(|err| format!("{url} is not a JWK set: {err}"))?;
        self.jwks.lock().expect("jwks cache poisoned").insert(url.to_owned(), (Instant::now(), set.clone()));
        Ok(set)
    }
}

fn unix_now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or_default()
}
