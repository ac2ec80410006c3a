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
