//! Requests that outlive the instance serving them.
//!
//! A plain request waits out its whole timeout when the instance that took it dies (`kill -9`,
//! a lost machine). A [`Dispatcher`] asks for heartbeats ([`nats::HEARTBEAT_HEADER`]): an
//! instance that holds the request says so every [`nats::HEARTBEAT_EVERY`]. When neither a
//! reply nor a heartbeat has come for [`SILENCE_LIMIT`], the request is sent again to the queue
//! group, where another instance takes it, up to [`MAX_ATTEMPTS`] times within the one deadline.
//!
//! Only for requests that may run twice: nothing a worker or the signer does takes effect until
//! the caller uses its reply, and the first reply wins (later ones are dropped).
//!
//! Every attempt of one request replies to the same subject, `<inbox>.<id>`; one wildcard
//! subscription per dispatcher takes all replies and routes them by id.

use std::{
    collections::HashMap,
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc, Mutex,
    },
    time::Duration,
};

use async_nats::{Client, HeaderMap, StatusCode};
use claimflow_contracts::Request;
use futures::StreamExt;
use tokio::{sync::mpsc, time::Instant};
use tracing::Instrument;

use crate::nats::{self, RequestError};

/// How long a held request may go without a heartbeat before it is sent again: four missed
/// beats, so a busy event loop or a slow network is not taken for a death.
pub const SILENCE_LIMIT: Duration = Duration::from_secs(1);

/// Sends of one request, the first included.
pub const MAX_ATTEMPTS: u32 = 3;

/// How often a waiting request checks that the connection to the broker still stands.
const CONNECTION_CHECK_EVERY: Duration = Duration::from_millis(50);

type Routes = Mutex<HashMap<u64, mpsc::UnboundedSender<async_nats::Message>>>;

/// Sends requests that are retried on another instance when the one holding them falls silent.
/// Cheap to clone; one per process and connection.
#[derive(Clone)]
pub struct Dispatcher {
    inner: Arc<Inner>,
}

struct Inner {
    client: Client,
    inbox: String,
    routes: Arc<Routes>,
    next_id: AtomicU64,
    router: tokio::task::AbortHandle,
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.router.abort();
    }
}

/// Takes a request's route out of the table when its caller is done, however it ends.
struct Route<'a> {
    routes: &'a Routes,
    id: u64,
}

impl Drop for Route<'_> {
    fn drop(&mut self) {
        self.routes.lock().expect("dispatch routes poisoned").remove(&self.id);
    }
}

impl Dispatcher {
    /// Subscribes to this dispatcher's replies (the subscription survives reconnects).
    pub async fn new(client: Client) -> Result<Self, async_nats::SubscribeError> {
        let inbox = client.new_inbox();
        let mut replies = client.subscribe(format!("{inbox}.*")).await?;
        let routes = Arc::new(Routes::default());
        let router = {
            let routes = routes.clone();
            tokio::spawn(async move {
                while let Some(message) = replies.next().await {
                    let id = message.subject.rsplit('.').next().and_then(|id| id.parse::<u64>().ok());
                    let route = id.and_then(|id| routes.lock().expect("dispatch routes poisoned").get(&id).cloned());
                    // NOTE: no route means the caller has its answer (or gave up): a late
                    // reply from an earlier attempt, or a heartbeat, is dropped.
                    if let Some(route) = route {
                        let _ = route.send(message);
                    }
                }
            })
            .abort_handle()
        };
        Ok(Self { inner: Arc::new(Inner { client, inbox, routes, next_id: AtomicU64::new(0), router }) })
    }

    /// Sends `request` and waits at most `timeout` for its typed reply, sending it again while
    /// the deadline allows when the instance holding it falls silent.
    pub async fn request<R: Request>(
        &self,
        prefix: &str,
        request: &R,
        timeout: Duration,
    ) -> Result<R::Response, RequestError> {
        let subject = request.subject(prefix);
        let span = nats::request_span(&subject);
        async {
            let (payload, mut headers) = nats::encode(&subject, request, timeout)?;
            headers.insert(nats::HEARTBEAT_HEADER, nats::HEARTBEAT_EVERY.as_millis().to_string().as_str());
            let payload = bytes::Bytes::from(payload);
            let deadline = Instant::now() + timeout;
            let id = self.inner.next_id.fetch_add(1, Ordering::Relaxed);
            let (sender, mut replies) = mpsc::unbounded_channel();
            self.inner.routes.lock().expect("dispatch routes poisoned").insert(id, sender);
            let _route = Route { routes: &self.inner.routes, id };
            let reply_to = format!("{}.{id}", self.inner.inbox);
            let started = std::time::Instant::now();
            let outcome =
                self.exchange::<R>(&subject, &reply_to, &headers, &payload, deadline, timeout, &mut replies).await;
            nats::observe_latency(R::SERVICE.name(), started);
            outcome
        }
        .instrument(span)
        .await
    }

    #[allow(clippy::too_many_arguments)]
    async fn exchange<R: Request>(
        &self,
        subject: &str,
        reply_to: &str,
        headers: &HeaderMap,
        payload: &bytes::Bytes,
        deadline: Instant,
        timeout: Duration,
        replies: &mut mpsc::UnboundedReceiver<async_nats::Message>,
    ) -> Result<R::Response, RequestError> {
        let mut attempt = 1;
        let first_sent = std::time::Instant::now();
        self.send(subject, reply_to, headers, payload).await?;
        let mut heard_at = Instant::now();
        // NOTE: a lost broker loses every reply: the caller hears so at once, not at the deadline.
        let mut watch = tokio::time::interval(CONNECTION_CHECK_EVERY);
        loop {
            // NOTE: the last attempt waits for the deadline, heartbeats or not: there is no
            // other instance left to try.
            let wait_until = if attempt < MAX_ATTEMPTS { (heard_at + SILENCE_LIMIT).min(deadline) } else { deadline };
            let received = tokio::select! {
                received = tokio::time::timeout_at(wait_until, replies.recv()) => received,
                _ = watch.tick() => {
                    if self.inner.client.connection_state() == async_nats::connection::State::Connected {
                        continue;
                    }
                    // NOTE: in a cluster the client is on another server within milliseconds;
                    // what was sent through the lost one may be lost with it: send it again.
                    if !nats::connected(&self.inner.client).await || attempt >= MAX_ATTEMPTS {
                        return Err(RequestError::Disconnected { subject: subject.to_owned() });
                    }
                    attempt += 1;
                    tracing::warn!(subject, attempt, "the NATS connection moved to another server; sending the request again");
                    self.send(subject, reply_to, headers, payload).await?;
                    heard_at = Instant::now();
                    continue;
                }
            };
            match received {
                Ok(Some(message)) if message.status == Some(StatusCode::NO_RESPONDERS) => {
                    if !nats::may_retry_no_responders(&self.inner.client, first_sent) {
                        return Err(RequestError::NoResponders {
                            subject: subject.to_owned(),
                            service: R::SERVICE.name(),
                        });
                    }
                    tokio::time::sleep(nats::NO_RESPONDERS_RETRY).await;
                    self.send(subject, reply_to, headers, payload).await?;
                    heard_at = Instant::now();
                }
                Ok(Some(message)) if nats::is_heartbeat(&message) => heard_at = Instant::now(),
                Ok(Some(message)) => return nats::decode_reply::<R>(subject, &message),
                Ok(None) => {
                    return Err(RequestError::Transport {
                        subject: subject.to_owned(),
                        message: "the reply subscription ended".to_owned(),
                    })
                }
                Err(_) if Instant::now() >= deadline => {
                    return Err(RequestError::TimedOut { subject: subject.to_owned(), timeout })
                }
                Err(_) => {
                    attempt += 1;
                    tracing::warn!(
                        subject,
                        attempt,
                        "no reply and no heartbeat for {SILENCE_LIMIT:?}: the {} holding the request is gone; sending it again",
                        R::SERVICE.name()
                    );
                    crate::metrics::METRICS
                        .nats_resent_requests
                        .get_or_create(&crate::metrics::ServiceLabels { service: R::SERVICE.name().to_owned() })
                        .inc();
                    self.send(subject, reply_to, headers, payload).await?;
                    heard_at = Instant::now();
                }
            }
        }
    }

    async fn send(
        &self,
        subject: &str,
        reply_to: &str,
        headers: &HeaderMap,
        payload: &bytes::Bytes,
    ) -> Result<(), RequestError> {
        let client = &self.inner.client;
        if !nats::connected(client).await {
            return Err(RequestError::Disconnected { subject: subject.to_owned() });
        }
        client
            .publish_with_reply_and_headers(subject.to_owned(), reply_to.to_owned(), headers.clone(), payload.clone())
            .await
            .map_err(|err| RequestError::Transport { subject: subject.to_owned(), message: err.to_string() })
    }
}
