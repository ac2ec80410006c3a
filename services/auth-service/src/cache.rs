//! What the token path reads on every request, kept in memory so that a steady stream of token
//! requests queries no database: applications, APIs by audience, granted scopes, token
//! properties, the live deployment per trigger and the decrypted environment variables.
//!
//! Every change made through the management API empties the caches of every auth-service
//! replica: the replica that made it at once, before it answers, and the others when they hear
//! the `{prefix}cache.v1.invalidate` message it publishes. A replica that was cut off from NATS
//! may have missed messages, so it empties its caches when it reconnects; and an entry lives at
//! most [`TTL`] in any case.
//!
//! NOTE: a load that read the database before a change must not store its stale result after
//! the invalidation. Each load notes the generation before it reads and stores its result only if
//! the generation is unchanged, checked under the same lock the invalidation clears under.

use std::{
    collections::HashMap,
    future::Future,
    hash::Hash,
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc, Mutex,
    },
    time::{Duration, Instant},
};

use claimflow_contracts::{workflow::EnvironmentVariable, Trigger};
use claimflow_storage::{
    entity::{api, application, workflow_deployment},
    Store,
};
use serde::{Deserialize, Serialize};

/// The longest any entry is served, whatever the invalidation messages say.
const TTL: Duration = Duration::from_secs(60);
/// A map past this many entries is emptied rather than grown (ids that exist are few; this only
/// bounds what a flood of distinct lookups could hold).
const MAX_ENTRIES: usize = 10_000;

/// Published on every management change; every auth-service empties its caches on it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CacheInvalidation {
    /// The process that changed something, for the logs.
    pub origin: String,
}

impl CacheInvalidation {
    pub fn subject_for(prefix: &str) -> String {
        format!("{prefix}cache.v1.invalidate")
    }
}

/// One map of the cache.
struct Entries<K, V> {
    entries: Mutex<HashMap<K, (Instant, V)>>,
}

impl<K: Hash + Eq, V: Clone> Entries<K, V> {
    fn new() -> Self {
        Entries { entries: Mutex::new(HashMap::new()) }
    }

    fn get(&self, key: &K) -> Option<V> {
        let entries = self.entries.lock().expect("cache poisoned");
        entries.get(key).filter(|(stored, _)| stored.elapsed() < TTL).map(|(_, value)| value.clone())
    }

    fn store(&self, generation: &AtomicU64, seen: u64, key: K, value: V) {
        let mut entries = self.entries.lock().expect("cache poisoned");
        if generation.load(Ordering::SeqCst) != seen {
            return;
        }
        if entries.len() >= MAX_ENTRIES {
            entries.clear();
        }
        entries.insert(key, (Instant::now(), value));
    }

    fn clear(&self) {
        self.entries.lock().expect("cache poisoned").clear();
    }
}

pub struct TokenPathCache {
    generation: AtomicU64,
    applications: Entries<String, Option<Arc<application::Model>>>,
    apis: Entries<String, Option<Arc<api::Model>>>,
    grants: Entries<(String, String), Option<Arc<Vec<String>>>>,
    token_properties: Entries<String, Arc<Vec<(String, String)>>>,
    live: Entries<&'static str, Option<Arc<workflow_deployment::Model>>>,
    environment: Entries<(), Arc<Vec<EnvironmentVariable>>>,
}

impl Default for TokenPathCache {
    fn default() -> Self {
        TokenPathCache {
            generation: AtomicU64::new(0),
            applications: Entries::new(),
            apis: Entries::new(),
            grants: Entries::new(),
            token_properties: Entries::new(),
            live: Entries::new(),
            environment: Entries::new(),
        }
    }
}

impl TokenPathCache {
    /// Empties every map; loads under way store nothing.
    pub fn invalidate(&self) {
        self.generation.fetch_add(1, Ordering::SeqCst);
        self.applications.clear();
        self.apis.clear();
        self.grants.clear();
        self.token_properties.clear();
        self.live.clear();
        self.environment.clear();
    }

    /// `entries[key]`, or what `load` finds, stored unless `keep` says otherwise (unknown ids are
    /// not kept, so that guessing them fills nothing).
    async fn cached<K, V, E, Fut>(
        &self,
        entries: &Entries<K, V>,
        key: K,
        keep: impl FnOnce(&V) -> bool,
        load: impl FnOnce() -> Fut,
    ) -> Result<V, E>
    where
        K: Hash + Eq,
        V: Clone,
        Fut: Future<Output = Result<V, E>>,
    {
        if let Some(value) = entries.get(&key) {
            return Ok(value);
        }
        let seen = self.generation.load(Ordering::SeqCst);
        let value = load().await?;
        if keep(&value) {
            entries.store(&self.generation, seen, key, value.clone());
        }
        Ok(value)
    }

    pub async fn application(
        &self,
        store: &Store,
        id: &str,
    ) -> Result<Option<Arc<application::Model>>, claimflow_storage::StorageError> {
        self.cached(&self.applications, id.to_owned(), Option::is_some, || async {
            Ok(store.find_application(id).await?.map(Arc::new))
        })
        .await
    }

    pub async fn api_by_audience(
        &self,
        store: &Store,
        audience: &str,
    ) -> Result<Option<Arc<api::Model>>, claimflow_storage::StorageError> {
        self.cached(&self.apis, audience.to_owned(), Option::is_some, || async {
            Ok(store.find_api_by_audience(audience).await?.map(Arc::new))
        })
        .await
    }

    /// The scopes granted to the application for the API, `None` when it is not authorized.
    pub async fn granted_scopes(
        &self,
        store: &Store,
        api_id: &str,
        application_id: &str,
    ) -> Result<Option<Arc<Vec<String>>>, claimflow_storage::StorageError> {
        let key = (api_id.to_owned(), application_id.to_owned());
        self.cached(
            &self.grants,
            key,
            |_| true,
            || async { Ok(store.granted_scopes(api_id, application_id).await?.map(Arc::new)) },
        )
        .await
    }

    pub async fn token_properties(
        &self,
        store: &Store,
        application_id: &str,
    ) -> Result<Arc<Vec<(String, String)>>, claimflow_storage::StorageError> {
        self.cached(
            &self.token_properties,
            application_id.to_owned(),
            |_| true,
            || async { Ok(Arc::new(store.token_property_values(application_id).await?)) },
        )
        .await
    }

    pub async fn live_deployment(
        &self,
        store: &Store,
        trigger: Trigger,
    ) -> Result<Option<Arc<workflow_deployment::Model>>, claimflow_storage::StorageError> {
        self.cached(
            &self.live,
            trigger.as_str(),
            |_| true,
            || async { Ok(store.live_deployment(trigger).await?.map(Arc::new)) },
        )
        .await
    }

    /// The environment variables as `kinde.env` sees them, decrypted by `load`.
    pub async fn environment<E, Fut>(&self, load: impl FnOnce() -> Fut) -> Result<Arc<Vec<EnvironmentVariable>>, E>
    where
        Fut: Future<Output = Result<Vec<EnvironmentVariable>, E>>,
    {
        self.cached(&self.environment, (), |_| true, || async { load().await.map(Arc::new) }).await
    }
}

/// Empties `cache` whenever another replica announces a change, until `shutdown`.
pub async fn follow_invalidations(
    client: async_nats::Client,
    prefix: String,
    cache: Arc<TokenPathCache>,
    shutdown: tokio_util::sync::CancellationToken,
) -> Result<(), async_nats::SubscribeError> {
    claimflow_platform::nats::follow(&client, CacheInvalidation::subject_for(&prefix), shutdown, |message| {
        cache.invalidate();
        let origin =
            serde_json::from_slice::<CacheInvalidation>(&message.payload).map(|m| m.origin).unwrap_or_default();
        tracing::debug!(%origin, "caches emptied: the management API changed something");
        std::future::ready(())
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_load_that_raced_an_invalidation_stores_nothing() {
        let cache = TokenPathCache::default();
        let stale: Result<Arc<Vec<(String, String)>>, ()> = cache
            .cached(
                &cache.token_properties,
                "app".to_owned(),
                |_| true,
                || async {
                    // The management API changes the data while this load is reading it.
                    cache.invalidate();
                    Ok(Arc::new(vec![("org_code".to_owned(), "old".to_owned())]))
                },
            )
            .await;
        assert_eq!(stale.unwrap()[0].1, "old", "the caller still gets what it read");
        assert!(cache.token_properties.get(&"app".to_owned()).is_none(), "but it is not kept");
        let fresh: Result<_, ()> = cache
            .cached(
                &cache.token_properties,
                "app".to_owned(),
                |_| true,
                || async { Ok(Arc::new(vec![("org_code".to_owned(), "new".to_owned())])) },
            )
            .await;
        assert_eq!(fresh.unwrap()[0].1, "new");
        assert_eq!(cache.token_properties.get(&"app".to_owned()).unwrap()[0].1, "new");
    }
}
