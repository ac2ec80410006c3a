//! The signer's public keys, cached: served at `/.well-known/jwks.json` and used to verify
//! management API tokens. auth-service never holds a private key.

use std::{
    collections::HashMap,
    sync::Arc,
    time::{Duration, Instant},
};

use claimflow_contracts::signer::JwksRequest;
use claimflow_platform::nats::{self, RequestError};
use jsonwebtoken::DecodingKey;
use tokio::sync::RwLock;

/// How long a fetched key set is served before asking the signer again. An unknown `kid`
/// refreshes at once (key rotation), at most once per [`MIN_REFRESH`].
const TTL: Duration = Duration::from_secs(300);
const MIN_REFRESH: Duration = Duration::from_secs(5);

/// Why a bearer token was not accepted.
#[derive(Debug)]
pub enum Rejection {
    NotJwt,
    NoKid,
    /// No published key has its `kid`.
    UnknownKey,
    /// The signer could not be asked for its keys.
    Keys(RequestError),
    /// Signature, issuer, audience or expiry.
    Invalid(jsonwebtoken::errors::Error),
}

/// The token of an `Authorization: Bearer` header.
pub fn bearer_token(headers: &axum::http::HeaderMap) -> Option<&str> {
    headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer ").or_else(|| value.strip_prefix("bearer ")))
}

#[derive(Clone)]
pub struct JwksCache {
    client: async_nats::Client,
    prefix: String,
    inner: Arc<RwLock<Option<Cached>>>,
}

struct Cached {
    fetched: Instant,
    document: serde_json::Value,
    keys: HashMap<String, Arc<DecodingKey>>,
}

impl JwksCache {
    pub fn new(client: async_nats::Client, prefix: String) -> Self {
        Self { client, prefix, inner: Arc::default() }
    }

    /// The JWK set document.
    pub async fn document(&self) -> Result<serde_json::Value, RequestError> {
        if let Some(cached) = self.inner.read().await.as_ref().filter(|c| c.fetched.elapsed() < TTL) {
            return Ok(cached.document.clone());
        }
        Ok(self.refresh().await?.0)
    }

    /// The verification key for `kid`, refreshing once if it is not known yet.
    pub async fn key(&self, kid: &str) -> Result<Option<Arc<DecodingKey>>, RequestError> {
        {
            let guard = self.inner.read().await;
            if let Some(cached) = guard.as_ref() {
                if let Some(key) = cached.keys.get(kid).filter(|_| cached.fetched.elapsed() < TTL) {
                    return Ok(Some(key.clone()));
                }
                if cached.fetched.elapsed() < MIN_REFRESH {
                    return Ok(cached.keys.get(kid).cloned());
                }
            }
        }
        Ok(self.refresh().await?.1.get(kid).cloned())
    }

    /// The claims of an RS256 token signed by the signer for `issuer`, and for `audience` when
    /// one is given.
    pub async fn verify(
        &self,
        token: &str,
        issuer: &str,
        audience: Option<&str>,
    ) -> Result<serde_json::Value, Rejection> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| Rejection::NotJwt)?;
        let kid = header.kid.ok_or(Rejection::NoKid)?;
        let key = self.key(&kid).await.map_err(Rejection::Keys)?.ok_or(Rejection::UnknownKey)?;
        let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
        validation.set_issuer(&[issuer]);
        match audience {
            Some(audience) => validation.set_audience(&[audience]),
            None => validation.validate_aud = false,
        }
        Ok(jsonwebtoken::decode::<serde_json::Value>(token, &key, &validation).map_err(Rejection::Invalid)?.claims)
    }

    async fn refresh(&self) -> Result<(serde_json::Value, HashMap<String, Arc<DecodingKey>>), RequestError> {
        let document = nats::request(&self.client, &self.prefix, &JwksRequest {}, Duration::from_secs(2)).await?;
        let mut keys = HashMap::new();
        for jwk in document.get("keys").and_then(|k| k.as_array()).into_iter().flatten() {
            let (Some(kid), Some(n), Some(e)) = (
                jwk.get("kid").and_then(|v| v.as_str()),
                jwk.get("n").and_then(|v| v.as_str()),
                jwk.get("e").and_then(|v| v.as_str()),
            ) else {
                continue;
            };
            match DecodingKey::from_rsa_components(n, e) {
                Ok(key) => {
                    keys.insert(kid.to_owned(), Arc::new(key));
                }
                Err(err) => tracing::warn!(kid, %err, "signer published an unusable key"),
            }
        }
        *self.inner.write().await =
            Some(Cached { fetched: Instant::now(), document: document.clone(), keys: keys.clone() });
        Ok((document, keys))
    }
}
