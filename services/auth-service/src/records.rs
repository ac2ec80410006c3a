//! The records stream: every token request's audit event and workflow runs go to JetStream, and
//! a writer stores them in the database in batches (see `claimflow_contracts::records`).
//!
//! The token path waits for the stream's acknowledgement, never for the database: an issued
//! token's record is durable before the client sees the token, and a token whose record cannot
//! be made durable is not handed out. While the stream cannot take records (a cluster electing
//! a new leader for it, a broker without JetStream for a moment), the token path stores them in
//! the database itself, and tries the stream again after [`DIRECT_FOR`].

use std::{
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc,
    },
    time::Duration,
};

use async_nats::jetstream::{self, consumer::pull, stream};
use claimflow_contracts::{
    records::{stream_name, IssuanceRecord, RunRecord, TokenAudit, WorkflowVersion, WRITER_CONSUMER},
    signer::{IssueResponse, RejectedClaim},
    workflow::WorkflowOutcome,
    Claims,
};
use claimflow_storage::Store;
use futures::StreamExt;
use serde_json::Value;
use tokio::sync::{mpsc, oneshot, Semaphore};
use tokio_util::sync::CancellationToken;

/// How long records are kept in the stream when nothing writes them (the database is down, no
/// auth-service runs).
const MAX_AGE: Duration = Duration::from_secs(7 * 24 * 3600);
/// Records in one message, and messages stored in one transaction, at most.
const BATCH: usize = 500;
/// How long the writer waits for a batch to fill once its first record arrived: the bound on
/// how far the runs and audit APIs trail the token path.
const BATCH_WINDOW: Duration = Duration::from_millis(50);
/// A record handed to a writer that died is redelivered after this.
const ACK_WAIT: Duration = Duration::from_secs(10);
/// How long the stream may take to acknowledge a message before the records go to the database.
const PUBLISH_TIMEOUT: Duration = Duration::from_secs(1);
/// How long start-up waits for JetStream to take the stream.
const JETSTREAM_WAIT: Duration = Duration::from_secs(30);
/// After the stream failed to take records, how long they go to the database directly.
const DIRECT_FOR: Duration = Duration::from_secs(5);

#[derive(Debug, thiserror::Error)]
pub enum RecordsError {
    #[error("cannot set up the JetStream stream {stream} (is JetStream enabled on the NATS server?): {message}")]
    Setup { stream: String, message: String },
    #[error("the record of this request could not be stored in JetStream: {0}")]
    Publish(String),
}

/// Records waiting for a place in the next message.
struct Pending {
    record: IssuanceRecord,
    stored: oneshot::Sender<Result<(), String>>,
}

/// The publishing side: a record handed to [`Records::publish`] is sent with whatever other
/// records are waiting at that moment, as one JetStream message.
///
/// NOTE: batching is opportunistic. A record waits for no timer: a message goes out as soon as
/// the one before it is on its way, with every record that queued meanwhile. At low load each
/// message carries one record; under load one message (one publish, one acknowledgement, one
/// delivery to the writer, one acknowledgement from it) serves many token requests.
#[derive(Clone)]
pub struct Records {
    queue: mpsc::Sender<Pending>,
    stream: Arc<StreamHandle>,
}

/// The stream and its writer consumer, made again when found missing.
struct StreamHandle {
    jetstream: jetstream::Context,
    stream: String,
    subject: String,
    /// Copies of the stream the cluster keeps (1 on a single server).
    replicas: usize,
    /// Where records go while the stream does not take them.
    store: Store,
    /// Until when (Unix ms) records go to the database directly.
    direct_until: AtomicU64,
}

/// Copies of the records stream: 3 on a cluster of 3 or more servers (the NATS documentation's
/// advice: a majority survives one lost server), as many as there are on a smaller one.
pub fn stream_replicas(info: &async_nats::ServerInfo) -> usize {
    if info.cluster.is_none() {
        return 1;
    }
    info.connect_urls.len().clamp(1, 3)
}

/// Messages on their way to the stream at once.
const MESSAGES_IN_FLIGHT: usize = 4;

impl Records {
    /// Makes sure the stream and its writer consumer exist and starts the publisher.
    pub async fn setup(client: async_nats::Client, prefix: &str, store: Store) -> Result<Records, RecordsError> {
        let replicas = stream_replicas(&client.server_info());
        let mut jetstream = jetstream::new(client);
        jetstream.set_timeout(PUBLISH_TIMEOUT);
        let stream = Arc::new(StreamHandle {
            jetstream,
            stream: stream_name(prefix),
            subject: IssuanceRecord::subject_for(prefix),
            replicas,
            store,
            direct_until: AtomicU64::new(0),
        });
        // NOTE: a cluster that has just started elects a JetStream leader before it takes streams.
        let waiting_since = std::time::Instant::now();
        while let Err(err) = stream.writer_consumer().await {
            if waiting_since.elapsed() > JETSTREAM_WAIT {
                return Err(err);
            }
            tracing::info!(%err, "waiting for JetStream");
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        let (queue, waiting) = mpsc::channel(4 * BATCH);
        tokio::spawn(send_batches(stream.clone(), waiting));
        Ok(Records { queue, stream })
    }

    /// Publishes `record` and waits until the stream has it.
    pub async fn publish(&self, record: IssuanceRecord) -> Result<(), RecordsError> {
        let (stored, outcome) = oneshot::channel();
        let lost = || RecordsError::Publish("the records publisher has stopped".to_owned());
        self.queue.send(Pending { record, stored }).await.map_err(|_| lost())?;
        outcome.await.map_err(|_| lost())?.map_err(RecordsError::Publish)
    }
}

impl StreamHandle {
    /// The stream's writer consumer, creating the stream and the consumer if they are missing
    /// (a broker that lost its storage, a first start).
    async fn writer_consumer(&self) -> Result<jetstream::consumer::Consumer<pull::Config>, RecordsError> {
        let failed = |message: String| RecordsError::Setup { stream: self.stream.clone(), message };
        let stream = self
            .jetstream
            .get_or_create_stream(stream::Config {
                name: self.stream.clone(),
                subjects: vec![self.subject.clone()],
                retention: stream::RetentionPolicy::WorkQueue,
                storage: stream::StorageType::File,
                max_age: MAX_AGE,
                duplicate_window: Duration::from_secs(120),
                num_replicas: self.replicas,
                ..Default::default()
            })
            .await
            .map_err(|err| failed(err.to_string()))?;
        stream
            .get_or_create_consumer(
                WRITER_CONSUMER,
                pull::Config {
                    durable_name: Some(WRITER_CONSUMER.to_owned()),
                    ack_policy: jetstream::consumer::AckPolicy::Explicit,
                    ack_wait: ACK_WAIT,
                    max_ack_pending: 20_000,
                    ..Default::default()
                },
            )
            .await
            .map_err(|err| failed(err.to_string()))
    }

    /// Makes `records` durable: in the stream, or in the database while the stream fails.
    async fn store(&self, records: &[IssuanceRecord]) -> Result<(), String> {
        let now = claimflow_storage::now_ms() as u64;
        if now >= self.direct_until.load(Ordering::Relaxed) {
            match self.send(records).await {
                Ok(()) => return Ok(()),
                Err(err) => {
                    tracing::warn!(%err, "the records stream did not take records; storing them directly for {DIRECT_FOR:?}");
                    self.direct_until.store(now + DIRECT_FOR.as_millis() as u64, Ordering::Relaxed);
                }
            }
        }
        // NOTE: a message the stream took after all (its acknowledgement lost) is stored twice,
        // and the database keeps one copy.
        self.store.write_records(records).await.map_err(|err| {
            tracing::error!(%err, "cannot store records in the database either");
            "neither the records stream nor the database took the record".to_owned()
        })
    }

    /// Sends one message of records and waits for the stream's acknowledgement. A stream found
    /// missing is made again and the message sent once more.
    async fn send(&self, records: &[IssuanceRecord]) -> Result<(), String> {
        let payload: bytes::Bytes = serde_json::to_vec(records).map_err(|err| err.to_string())?.into();
        // NOTE: a message sent twice (the retry below) is stored once.
        let id = uuid::Uuid::new_v4().simple().to_string();
        match self.send_once(&id, payload.clone()).await {
            Err(err) if err.kind() == jetstream::context::PublishErrorKind::StreamNotFound => {
                self.writer_consumer().await.map_err(|err| err.to_string())?;
                self.send_once(&id, payload).await
            }
            other => other,
        }
        .map_err(|err| err.to_string())
    }

    async fn send_once(&self, id: &str, payload: bytes::Bytes) -> Result<(), jetstream::context::PublishError> {
        let mut headers = async_nats::HeaderMap::new();
        headers.insert("Nats-Msg-Id", id);
        let ack = self.jetstream.publish_with_headers(self.subject.clone(), headers, payload).await?;
        ack.await?;
        Ok(())
    }
}

/// Takes what is waiting, sends it as one message, tells every waiting request how it went.
async fn send_batches(stream: Arc<StreamHandle>, mut waiting: mpsc::Receiver<Pending>) {
    let in_flight = Arc::new(Semaphore::new(MESSAGES_IN_FLIGHT));
    while let Some(first) = waiting.recv().await {
        let Ok(permit) = in_flight.clone().acquire_owned().await else { return };
        let mut batch = vec![first];
        while batch.len() < BATCH {
            match waiting.try_recv() {
                Ok(pending) => batch.push(pending),
                Err(_) => break,
            }
        }
        let stream = stream.clone();
        tokio::spawn(async move {
            let (records, stored): (Vec<IssuanceRecord>, Vec<_>) =
                batch.into_iter().map(|pending| (pending.record, pending.stored)).unzip();
            let outcome = stream.store(&records).await;
            for stored in stored {
                let _ = stored.send(outcome.clone());
            }
            drop(permit);
        });
    }
}

/// What one token request produced, as a record: the audit of the token (when one was issued)
/// and a run record per workflow run, with the claims the signer dropped.
pub fn issuance_record(
    event_id: &str,
    grant_type: &str,
    trigger: Option<claimflow_contracts::Trigger>,
    outcome: &WorkflowOutcome,
    issued: Option<&IssueResponse>,
) -> IssuanceRecord {
    let now = claimflow_storage::now_ms();
    // NOTE: runs exist only where a deployment ran, which names the trigger.
    let runs = outcome
        .runs
        .iter()
        .filter_map(|run| Some((run, trigger?)))
        .map(|(run, trigger)| {
            let mut claims_set = serde_json::Map::new();
            for patch in outcome.patches.iter().filter(|p| p.workflow_id == run.workflow_id) {
                claims_set.insert(patch.token.as_str().to_owned(), Value::Object(patch.set.clone()));
            }
            let rejected: Vec<&RejectedClaim> = issued
                .map(|issued| issued.rejected.iter().filter(|r| r.workflow_id == run.workflow_id).collect())
                .unwrap_or_default();
            RunRecord {
                id: uuid::Uuid::new_v4().simple().to_string(),
                deployment_id: run.deployment_id.clone(),
                workflow_id: run.workflow_id.clone(),
                version: run.version,
                trigger,
                status: run.status,
                duration_us: run.duration_us as i64,
                logs: run.logs.clone(),
                claims_set: Value::Object(claims_set),
                rejected: serde_json::to_value(&rejected).unwrap_or_default(),
                error: run.error.clone(),
                worker_id: run.worker_id.clone(),
                created_at_ms: now,
            }
        })
        .collect();
    let audit = issued.map(|issued| {
        let claims = &issued.access_claims;
        TokenAudit {
            jti: text(claims, "jti").unwrap_or_default(),
            client_id: text(claims, "azp").or_else(|| text(claims, "client_id")).unwrap_or_default(),
            grant_type: grant_type.to_owned(),
            audience: match claims.get("aud") {
                Some(Value::String(audience)) => vec![audience.clone()],
                Some(Value::Array(audiences)) => {
                    audiences.iter().filter_map(|a| a.as_str().map(str::to_owned)).collect()
                }
                _ => Vec::new(),
            },
            org_code: text(claims, "org_code").or_else(|| {
                let property = claims.get("application_properties")?.pointer("/org_code/v")?;
                property.as_str().map(str::to_owned)
            }),
            subject: text(claims, "sub"),
            scope: text(claims, "scope").unwrap_or_else(|| {
                claims
                    .get("scp")
                    .and_then(Value::as_array)
                    .map(|scopes| scopes.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(" "))
                    .unwrap_or_default()
            }),
            workflows: outcome
                .runs
                .iter()
                .map(|run| WorkflowVersion { workflow_id: run.workflow_id.clone(), version: run.version })
                .collect(),
            trace_id: claimflow_platform::telemetry::current_trace_id(),
            issued_at_ms: now,
            expires_at: claims.get("exp").and_then(Value::as_i64).unwrap_or_default(),
        }
    });
    IssuanceRecord { event_id: event_id.to_owned(), audit, runs }
}

fn text(claims: &Claims, name: &str) -> Option<String> {
    claims.get(name).and_then(Value::as_str).map(str::to_owned)
}

/// Stores what the stream holds, in batches, until `shutdown`. A batch is acknowledged only
/// after its transaction committed; one that fails is redelivered, to this writer or another.
pub async fn write_to_database(records: Records, store: Store, shutdown: CancellationToken) {
    loop {
        let subscribed = async {
            let consumer = records.stream.writer_consumer().await?;
            let messages = consumer.stream().max_messages_per_batch(BATCH).heartbeat(Duration::from_secs(5));
            messages
                .messages()
                .await
                .map_err(|err| RecordsError::Setup { stream: records.stream.stream.clone(), message: err.to_string() })
        };
        let mut messages = tokio::select! {
            _ = shutdown.cancelled() => return,
            messages = subscribed => match messages {
                Ok(messages) => messages,
                Err(err) => {
                    tracing::warn!(%err, "cannot read the records stream; retrying in a second");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    continue;
                }
            },
        };
        loop {
            let first = tokio::select! {
                _ = shutdown.cancelled() => return,
                first = messages.next() => first,
            };
            let first = match first {
                Some(Ok(message)) => message,
                Some(Err(err)) => {
                    tracing::warn!(%err, "records stream interrupted; resubscribing");
                    break;
                }
                None => break,
            };
            let mut batch = vec![first];
            let window = tokio::time::Instant::now() + BATCH_WINDOW;
            while batch.len() < BATCH {
                match tokio::time::timeout_at(window, messages.next()).await {
                    Ok(Some(Ok(message))) => batch.push(message),
                    _ => break,
                }
            }
            write_batch(&store, batch).await;
        }
    }
}

async fn write_batch(store: &Store, batch: Vec<jetstream::Message>) {
    let mut records = Vec::with_capacity(batch.len());
    let mut stored = Vec::with_capacity(batch.len());
    for message in batch {
        match serde_json::from_slice::<Vec<IssuanceRecord>>(&message.payload) {
            Ok(batch) => {
                records.extend(batch);
                stored.push(message);
            }
            Err(err) => {
                // NOTE: a record that cannot be read never will be: dropped, said so, not retried.
                tracing::error!(%err, subject = %message.subject, "unreadable record dropped");
                let _ = message.ack_with(jetstream::AckKind::Term).await;
            }
        }
    }
    if records.is_empty() {
        return;
    }
    match store.write_records(&records).await {
        Ok(()) => {
            for message in stored {
                if let Err(err) = message.ack().await {
                    tracing::warn!(%err, "cannot acknowledge a stored record; it will be stored again, once");
                }
            }
        }
        Err(err) => {
            tracing::error!(%err, records = records.len(), "cannot store records; they stay in the stream");
            for message in stored {
                let _ = message.ack_with(jetstream::AckKind::Nak(Some(Duration::from_secs(1)))).await;
            }
        }
    }
}
