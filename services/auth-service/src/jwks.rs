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
    keys: HashMap<String, Arc<VerifyingKey>>,
}

/// A published key and the one algorithm a token it verifies may name.
pub struct VerifyingKey {
    key: DecodingKey,
    alg: jsonwebtoken::Algorithm,
}

impl JwksCache {
    pub fn new(client: async_nats::Client, prefix: String) -> Self {
        Self { client, prefix, inner: Arc::default() }
    }

    /// Forgets the cached key set: the next use asks a signer (keys rotated or revoked).
    pub async fn forget(&self) {
        *self.inner.write().await = None;
    }

    /// Forgets the cached key set whenever a signer says the keys changed.
    pub async fn follow_key_changes(
        self,
        shutdown: tokio_util::sync::CancellationToken,
    ) -> Result<(), async_nats::SubscribeError> {
        let subject = claimflow_contracts::signer::KeyCommand::changed_subject(&self.prefix);
        nats::follow(&self.client, subject, shutdown, |_| async {
            self.forget().await;
            tracing::info!("signing keys changed: the JWK set is fetched again");
        })
        .await
    }

    /// The JWK set document.
    pub async fn document(&self) -> Result<serde_json::Value, RequestError> {
        if let Some(cached) = self.inner.read().await.as_ref().filter(|c| c.fetched.elapsed() < TTL) {
            return Ok(cached.document.clone());
        }
        Ok(self.refresh().await?.0)
    }

    /// The algorithms of the published keys, the signing key's first (for discovery).
    pub async fn algorithms(&self) -> Result<Vec<String>, RequestError> {
        let document = self.document().await?;
        let mut algorithms: Vec<String> = Vec::new();
        for alg in document["keys"].as_array().into_iter().flatten().filter_map(|key| key["alg"].as_str()) {
            if !algorithms.iter().any(|known| known == alg) {
                algorithms.push(alg.to_owned());
            }
        }
        Ok(algorithms)
    }

    /// The verification key for `kid`, refreshing once if it is not known yet.
    pub async fn key(&self, kid: &str) -> Result<Option<Arc<VerifyingKey>>, RequestError> {
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

    /// The claims of a token signed by the signer for `issuer`, and for `audience` when one is
    /// given. The token's `alg` must be its key's.
    pub async fn verify(
        &self,
        token: &str,
        issuer: &str,
        audience: Option<&str>,
    ) -> Result<serde_json::Value, Rejection> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| Rejection::NotJwt)?;
        let kid = header.kid.ok_or(Rejection::NoKid)?;
        let key = self.key(&kid).await.map_err(Rejection::Keys)?.ok_or(Rejection::UnknownKey)?;
        let mut validation = jsonwebtoken::Validation::new(key.alg);
        validation.set_issuer(&[issuer]);
        match audience {
            Some(audience) => validation.set_audience(&[audience]),
            None => validation.validate_aud = false,
        }
        Ok(jsonwebtoken::decode::<serde_json::Value>(token, &key.key, &validation).map_err(Rejection::Invalid)?.claims)
    }

    async fn refresh(&self) -> Result<(serde_json::Value, HashMap<String, Arc<VerifyingKey>>), RequestError> {
        let document = nats::request(&self.client, &self.prefix, &JwksRequest {}, Duration::from_secs(2)).await?;
        let mut keys = HashMap::new();
        for jwk in document.get("keys").and_then(|k| k.as_array()).into_iter().flatten() {
            let parsed = serde_json::from_value::<jsonwebtoken::jwk::Jwk>(jwk.clone()).map_err(|err| err.to_string());
            let key = parsed.and_then(|jwk| {
                let alg = jwk
                    .common
                    .key_algorithm
                    .and_then(|alg| alg.to_string().parse::<jsonwebtoken::Algorithm>().ok())
                    .ok_or("the key names no signing algorithm")?;
                let kid = jwk.common.key_id.clone().ok_or("the key has no kid")?;
                let key = DecodingKey::from_jwk(&jwk).map_err(|err| err.to_string())?;
                Ok::<_, String>((kid, VerifyingKey { key, alg }))
            });
            match key {
                Ok((kid, key)) => {
                    keys.insert(kid, Arc::new(key));
                }
                Err(err) => tracing::warn!(%err, "signer published an unusable key"),
            }
        }
        *self.inner.write().await =
            Some(Cached { fetched: Instant::now(), document: document.clone(), keys: keys.clone() });
        Ok((document, keys))
    }
}
