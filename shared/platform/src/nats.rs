//! Typed NATS request/reply with W3C trace context in the headers.
//!
//! [`request`] sends a [`Request`] and decodes its typed [`Reply`]; [`serve`] answers one subject
//! in a queue group with bounded concurrency and a graceful drain. Both open spans named after
//! OpenTelemetry's messaging conventions, linked across the hop through `traceparent`.

use std::{future::Future, sync::Arc, time::Duration};

use async_nats::{Client, HeaderMap};
use claimflow_contracts::{Reply, Request, ServiceError, ServiceErrorCode};
use futures::StreamExt;
use opentelemetry::propagation::{Extractor, Injector};
use tokio::sync::Semaphore;
use tokio_util::{sync::CancellationToken, task::TaskTracker};
use tracing::{Instrument, Span};
use tracing_opentelemetry::OpenTelemetrySpanExt;

#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error("cannot connect to NATS at {url} (set NATS_URL to the right server): {source}")]
    Connect {
        url: String,
        #[source]
        source: async_nats::ConnectError,
    },
    #[error("NATS_URL: {0}")]
    Url(String),
}

/// The servers of `urls`: one URL, or several separated by commas (a cluster's servers).
pub fn server_addrs(urls: &str) -> Result<Vec<async_nats::ServerAddr>, String> {
    let addrs = urls
        .split(',')
        .map(str::trim)
        .filter(|url| !url.is_empty())
        .map(|url| {
            url.parse::<async_nats::ServerAddr>().map_err(|err| format!("{url:?} is not a NATS server URL: {err}"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    if addrs.is_empty() {
        return Err("names no server (expected nats://host:port, or several separated by commas)".to_owned());
    }
    Ok(addrs)
}

/// How long a request waits for a lost connection to come back when the broker is a cluster:
/// the client moves to another server within milliseconds, so waiting beats failing. A single
/// server that went away is not waited for: requests fail at once with a clear error.
pub const RECONNECT_GRACE: Duration = Duration::from_secs(1);

/// Whether `client` is on a cluster: its server names its cluster, and announces the members'
/// addresses (only its own once the others are gone).
pub fn in_cluster(client: &Client) -> bool {
    let info = client.server_info();
    info.cluster.is_some() || info.connect_urls.len() >= 2
}

/// How long a request that found no responders keeps trying on a cluster: the service's
/// instances may be moving from a lost server to another (each reconnects, then subscribes
/// again; the client tries the servers it knows in turn, dead ones included).
pub const NO_RESPONDERS_GRACE: Duration = Duration::from_secs(2);

/// Whether a request that found no responders may try again: on a cluster, for
/// [`NO_RESPONDERS_GRACE`] after it was first sent; on a single server, never (nothing is
/// moving: the service is not running).
pub(crate) fn may_retry_no_responders(client: &Client, first_sent: std::time::Instant) -> bool {
    first_sent.elapsed() < NO_RESPONDERS_GRACE && in_cluster(client)
}

/// How long a request waits before trying again when it found no responders on a cluster.
pub(crate) const NO_RESPONDERS_RETRY: Duration = Duration::from_millis(20);

/// Whether `client` is connected, waiting up to [`RECONNECT_GRACE`] for it to be again when it
/// knows of other servers (a cluster).
pub async fn connected(client: &Client) -> bool {
    use async_nats::connection::State;
    if client.connection_state() == State::Connected {
        return true;
    }
    if !in_cluster(client) {
        return false;
    }
    let until = tokio::time::Instant::now() + RECONNECT_GRACE;
    while tokio::time::Instant::now() < until {
        tokio::time::sleep(Duration::from_millis(5)).await;
        if client.connection_state() == State::Connected {
            return true;
        }
    }
    false
}

/// Connects to NATS, naming the connection after the service so `nats server report` shows who
/// is who. Replies come to `_INBOX_<service>.>`, so per-service permissions can keep each
/// service out of the others' replies (see `deploy/nats/nats.conf`).
pub async fn connect(url: &str, service: &str, credentials: Option<&(String, String)>) -> Result<Client, ConnectError> {
    connect_with_reconnect_hook(url, service, credentials, || {}).await
}

/// As [`connect`], calling `on_reconnect` each time the connection comes back after a loss
/// (a service that caches what other services announce may have missed announcements).
pub async fn connect_with_reconnect_hook(
    url: &str,
    service: &str,
    credentials: Option<&(String, String)>,
    on_reconnect: impl Fn() + Send + Sync + 'static,
) -> Result<Client, ConnectError> {
    let servers = server_addrs(url).map_err(ConnectError::Url)?;
    let on_reconnect = Arc::new(on_reconnect);
    let mut options = async_nats::ConnectOptions::new().event_callback(move |event| {
        let on_reconnect = on_reconnect.clone();
        async move {
            match event {
                async_nats::Event::Connected => on_reconnect(),
                async_nats::Event::Disconnected => tracing::warn!("disconnected from NATS; reconnecting"),
                _ => {}
            }
        }
    });
    if let Some((user, password)) = credentials {
        options = options.user_and_password(user.clone(), password.clone());
    }
    options
        .name(service)
        .custom_inbox_prefix(format!("_INBOX_{service}"))
        // NOTE: a broker that goes away is normal (restarts, rolling upgrades): keep
        // reconnecting forever; requests fail fast with a clear error meanwhile.
        .max_reconnects(None)
        // NOTE: async-nats backs off up to seconds between attempts; a broker that is back
        // should be in use within a second, and a retry every half second costs nothing. The
        // first attempt goes at once: in a cluster another server is there to take over.
        .reconnect_delay_callback(|attempts| Duration::from_millis((attempts.saturating_sub(1) as u64 * 100).min(500)))
        .connect(servers)
        .await
        .map_err(|source| ConnectError::Connect { url: url.to_owned(), source })
}

#[derive(Debug, thiserror::Error)]
pub enum RequestError {
    /// The client has lost the broker and is reconnecting: nothing is sent, at once, instead
    /// of a request that would wait out its timeout.
    #[error("not connected to NATS (reconnecting); {subject} was not sent")]
    Disconnected { subject: String },
    #[error("nothing is serving {subject} (is the {service} running?)")]
    NoResponders { subject: String, service: &'static str },
    #[error("{subject} did not answer within {timeout:?}")]
    TimedOut { subject: String, timeout: Duration },
    #[error("NATS request to {subject} failed: {message}")]
    Transport { subject: String, message: String },
    #[error("cannot decode the reply from {subject}: {message}")]
    Decode { subject: String, message: String },
    #[error("{subject} refused the request: {error}")]
    Remote {
        subject: String,
        #[source]
        error: ServiceError,
    },
}

impl RequestError {
    pub fn remote(&self) -> Option<&ServiceError> {
        match self {
            RequestError::Remote { error, .. } => Some(error),
            _ => None,
        }
    }
}

/// Carries the moment (Unix milliseconds) after which the caller no longer waits for a reply.
/// [`serve`] drops a request that waited past it in the queue: its work would be thrown away,
/// and would delay the requests behind it. (Wall clocks: replicas on several machines need NTP.)
pub const DEADLINE_HEADER: &str = "Claimflow-Deadline";

/// Asks [`serve`] to send a heartbeat to the reply subject every [`HEARTBEAT_EVERY`] while it
/// holds the request (queued or running), so the caller can tell a slow answer from a dead
/// instance (see [`crate::dispatch`]).
pub const HEARTBEAT_HEADER: &str = "Claimflow-Heartbeat";

/// A heartbeat is an empty message with this header set to [`WORKING`].
pub const STATUS_HEADER: &str = "Claimflow-Status";
pub const WORKING: &str = "working";

/// How often an instance holding a request says it is still alive.
pub const HEARTBEAT_EVERY: Duration = Duration::from_millis(250);

pub(crate) fn unix_ms() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}

fn header<'a>(message: &'a async_nats::Message, name: &str) -> Option<&'a str> {
    message.headers.as_ref().and_then(|headers| headers.get(name)).map(|value| value.as_str())
}

/// Whether `message` carries a deadline that has passed.
fn expired(message: &async_nats::Message) -> bool {
    header(message, DEADLINE_HEADER)
        .and_then(|value| value.parse::<u64>().ok())
        .is_some_and(|deadline| unix_ms() > deadline)
}

pub(crate) fn is_heartbeat(message: &async_nats::Message) -> bool {
    header(message, STATUS_HEADER) == Some(WORKING)
}

/// The client span of a request to `subject`.
pub(crate) fn request_span(subject: &str) -> Span {
    tracing::info_span!(
        "nats.request",
        otel.name = %format!("send {subject}"),
        otel.kind = "client",
        messaging.system = "nats",
        messaging.destination.name = %subject,
        messaging.operation.type = "send",
        messaging.message.body.size = tracing::field::Empty,
    )
}

/// The request's body, and its headers: the current span's context and the deadline.
pub(crate) fn encode<R: Request>(
    subject: &str,
    request: &R,
    timeout: Duration,
) -> Result<(Vec<u8>, HeaderMap), RequestError> {
    let payload = serde_json::to_vec(request).map_err(|err| RequestError::Transport {
        subject: subject.to_owned(),
        message: format!("cannot encode request: {err}"),
    })?;
    Span::current().record("messaging.message.body.size", payload.len());
    let mut headers = HeaderMap::new();
    inject_context(&Span::current(), &mut headers);
    headers.insert(DEADLINE_HEADER, (unix_ms() + timeout.as_millis() as u64).to_string().as_str());
    Ok((payload, headers))
}

pub(crate) fn decode_reply<R: Request>(
    subject: &str,
    message: &async_nats::Message,
) -> Result<R::Response, RequestError> {
    let reply: Reply<R::Response> = serde_json::from_slice(&message.payload)
        .map_err(|err| RequestError::Decode { subject: subject.to_owned(), message: err.to_string() })?;
    reply.map_err(|error| RequestError::Remote { subject: subject.to_owned(), error })
}

pub(crate) fn observe_latency(service: &str, started: std::time::Instant) {
    crate::metrics::METRICS
        .nats_request_seconds
        .get_or_create(&crate::metrics::ServiceLabels { service: service.to_owned() })
        .observe(started.elapsed().as_secs_f64());
}

/// Sends `request` and waits at most `timeout` for its typed reply.
pub async fn request<R: Request>(
    client: &Client,
    prefix: &str,
    request: &R,
    timeout: Duration,
) -> Result<R::Response, RequestError> {
    let subject = request.subject(prefix);
    if !connected(client).await {
        return Err(RequestError::Disconnected { subject });
    }
    async {
        let (payload, headers) = encode(&subject, request, timeout)?;
        let payload: bytes::Bytes = payload.into();
        let started = std::time::Instant::now();
        let sent = loop {
            let nats_request =
                async_nats::Request::new().payload(payload.clone()).headers(headers.clone()).timeout(Some(timeout));
            match client.send_request(subject.clone(), nats_request).await {
                Err(err)
                    if err.kind() == async_nats::client::RequestErrorKind::NoResponders
                        && may_retry_no_responders(client, started) =>
                {
                    tokio::time::sleep(NO_RESPONDERS_RETRY).await
                }
                sent => break sent,
            }
        };
        observe_latency(R::SERVICE.name(), started);
        let message = sent.map_err(|err| {
            use async_nats::client::RequestErrorKind;
            match err.kind() {
                RequestErrorKind::NoResponders => {
                    RequestError::NoResponders { subject: subject.clone(), service: R::SERVICE.name() }
                }
                RequestErrorKind::TimedOut => RequestError::TimedOut { subject: subject.clone(), timeout },
                _ => RequestError::Transport { subject: subject.clone(), message: err.to_string() },
            }
        })?;
        decode_reply::<R>(&subject, &message)
    }
    .instrument(request_span(&subject))
    .await
}

/// How [`serve`] listens (in the queue group of the request's service).
#[derive(Debug, Clone)]
pub struct ServeOptions {
    pub subject: String,
    /// Messages handled at once by this instance.
    pub concurrency: usize,
}

/// Answers `options.subject` in `options.queue_group` until `shutdown` is cancelled, then drains:
/// the subscription stops taking new messages, those already delivered are answered, in-flight
/// handlers finish, and the replies are flushed before this returns.
pub async fn serve<R, H, Fut>(
    client: Client,
    options: ServeOptions,
    shutdown: CancellationToken,
    handler: H,
) -> Result<(), async_nats::SubscribeError>
where
    R: Request,
    H: Fn(R) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Reply<R::Response>> + Send + 'static,
{
    let mut subscriber = client.queue_subscribe(options.subject.clone(), R::SERVICE.queue_group().to_owned()).await?;
    // NOTE: every delivered message is taken at once, so that this instance can send heartbeats
    // for the ones it holds; at most `concurrency` handlers run, the rest wait for a permit.
    // Core NATS pushes messages to a busy queue member anyway: holding them here rather than in
    // the client's buffer changes nothing but that the caller hears they are alive.
    let permits = Arc::new(Semaphore::new(options.concurrency.max(1)));
    let tracker = TaskTracker::new();
    let mut draining = false;
    loop {
        let next = if draining {
            subscriber.next().await
        } else {
            tokio::select! {
                message = subscriber.next() => message,
                _ = shutdown.cancelled() => {
                    tracing::info!(subject = %options.subject, "draining subscription");
                    // NOTE: drain unsubscribes at the server, then yields what was already
                    // delivered and ends: nothing accepted is dropped.
                    if let Err(err) = subscriber.drain().await {
                        tracing::warn!(%err, "drain failed; stopping without it");
                        break;
                    }
                    draining = true;
                    continue;
                }
            }
        };
        let Some(message) = next else { break };
        let heartbeats_to = message.reply.clone().filter(|_| header(&message, HEARTBEAT_HEADER).is_some());
        let client = client.clone();
        let handler = handler.clone();
        let permits = permits.clone();
        tracker.spawn(async move {
            let work = async {
                let Ok(_permit) = permits.acquire_owned().await else { return };
                if expired(&message) {
                    tracing::warn!(subject = %message.subject, "dropped a request whose caller stopped waiting");
                    crate::metrics::METRICS
                        .nats_expired_requests
                        .get_or_create(&crate::metrics::ServiceLabels { service: R::SERVICE.name().to_owned() })
                        .inc();
                    return;
                }
                handle_message::<R, H, Fut>(&client, message, handler).await;
            };
            with_heartbeats(&client, heartbeats_to, work).await;
        });
    }
    tracker.close();
    tracker.wait().await;
    if let Err(err) = client.flush().await {
        tracing::warn!(%err, "flushing replies failed");
    }
    Ok(())
}

/// Runs `work`, telling `reply_to` every [`HEARTBEAT_EVERY`] that it is still held.
async fn with_heartbeats(client: &Client, reply_to: Option<async_nats::Subject>, work: impl Future<Output = ()>) {
    let Some(reply_to) = reply_to else { return work.await };
    tokio::pin!(work);
    let mut beats = tokio::time::interval_at(tokio::time::Instant::now() + HEARTBEAT_EVERY, HEARTBEAT_EVERY);
    loop {
        tokio::select! {
            () = &mut work => return,
            _ = beats.tick() => {
                let mut headers = HeaderMap::new();
                headers.insert(STATUS_HEADER, WORKING);
                if let Err(err) = client.publish_with_headers(reply_to.clone(), headers, bytes::Bytes::new()).await {
                    tracing::debug!(%err, "cannot send a heartbeat");
                }
            }
        }
    }
}

async fn handle_message<R, H, Fut>(client: &Client, message: async_nats::Message, handler: H)
where
    R: Request,
    H: Fn(R) -> Fut,
    Fut: Future<Output = Reply<R::Response>>,
{
    let subject = message.subject.to_string();
    let span = tracing::info_span!(
        "nats.process",
        otel.name = %format!("process {subject}"),
        otel.kind = "server",
        messaging.system = "nats",
        messaging.destination.name = %subject,
        messaging.operation.type = "process",
        messaging.message.body.size = message.payload.len(),
    );
    let _ = span.set_parent(extract_context(message.headers.as_ref()));
    async {
        let reply: Reply<R::Response> = match serde_json::from_slice::<R>(&message.payload) {
            Ok(request) => handler(request).await,
            Err(err) => Err(ServiceError::new(
                ServiceErrorCode::BadRequest,
                format!("cannot decode {}: {err}", std::any::type_name::<R>()),
            )),
        };
        if let Err(error) = &reply {
            tracing::warn!(code = ?error.code, message = %error.message, "request refused");
        }
        let Some(reply_to) = message.reply else { return };
        let payload = match serde_json::to_vec(&reply) {
            Ok(payload) => payload,
            Err(err) => {
                tracing::error!(%err, "cannot encode reply");
                return;
            }
        };
        if let Err(err) = client.publish(reply_to, payload.into()).await {
            tracing::warn!(%err, "cannot send reply");
        }
    }
    .instrument(span)
    .await
}

struct HeaderInjector<'a>(&'a mut HeaderMap);

impl Injector for HeaderInjector<'_> {
    fn set(&mut self, key: &str, value: String) {
        self.0.insert(key, value.as_str());
    }
}

struct HeaderExtractor<'a>(&'a HeaderMap);

impl Extractor for HeaderExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).map(|value| value.as_str())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.iter().map(|(name, _)| name.as_ref()).collect()
    }
}

/// Calls `on_message` for every message published on `subject` (a notice, not a request) until
/// `shutdown` is cancelled or the subscription ends; a notice sent by [`announce`] is acknowledged
/// once `on_message` is done with it.
pub async fn follow<F, Fut>(
    client: &Client,
    subject: String,
    shutdown: CancellationToken,
    mut on_message: F,
) -> Result<(), async_nats::SubscribeError>
where
    F: FnMut(async_nats::Message) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let mut messages = client.subscribe(subject).await?;
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return Ok(()),
            message = messages.next() => match message {
                Some(message) => {
                    let reply = message.reply.clone();
                    on_message(message).await;
                    acknowledge(client, reply).await;
                }
                None => return Ok(()),
            },
        }
    }
}

/// Tells the announcer of a notice (see [`announce`]) that this process has acted on it.
pub async fn acknowledge(client: &Client, reply: Option<async_nats::Subject>) {
    if let Some(reply) = reply {
        if let Err(err) = client.publish(reply, bytes::Bytes::new()).await {
            tracing::debug!(%err, "cannot acknowledge a notice");
        }
    }
}

/// Publishes a notice on `subject` to every follower and waits until they have acted on it:
/// until no acknowledgement came for `quiet` after the last one, `max` at most (nobody knows how
/// many replicas follow, so silence ends the wait). Returns how many acknowledged.
pub async fn announce(
    client: &Client,
    subject: String,
    payload: bytes::Bytes,
    quiet: Duration,
    max: Duration,
) -> Result<usize, async_nats::Error> {
    let inbox = client.new_inbox();
    let mut acks = client.subscribe(inbox.clone()).await?;
    client.publish_with_reply(subject, inbox, payload).await?;
    client.flush().await?;
    let deadline = tokio::time::Instant::now() + max;
    let mut heard = 0;
    // NOTE: the first wait is the longest: the announcer follows the subject too, so one
    // acknowledgement comes unless the broker went away.
    let mut wait = max;
    loop {
        let until = deadline.min(tokio::time::Instant::now() + wait);
        match tokio::time::timeout_at(until, acks.next()).await {
            Ok(Some(_)) => heard += 1,
            Ok(None) | Err(_) => break,
        }
        wait = quiet;
    }
    let _ = acks.unsubscribe().await;
    Ok(heard)
}

/// Writes `span`'s context as `traceparent` / `tracestate` headers.
pub fn inject_context(span: &Span, headers: &mut HeaderMap) {
    let context = span.context();
    opentelemetry::global::get_text_map_propagator(|propagator| {
        propagator.inject_context(&context, &mut HeaderInjector(headers))
    });
}

/// Reads the caller's context from `traceparent` / `tracestate` headers.
pub fn extract_context(headers: Option<&HeaderMap>) -> opentelemetry::Context {
    match headers {
        Some(headers) => {
            opentelemetry::global::get_text_map_propagator(|propagator| propagator.extract(&HeaderExtractor(headers)))
        }
        None => opentelemetry::Context::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::server_addrs;

    #[test]
    fn nats_url_takes_one_server_or_a_cluster_separated_by_commas() {
        assert_eq!(server_addrs("nats://127.0.0.1:4222").unwrap().len(), 1);
        let cluster = server_addrs("nats://nats-1:4222, nats://nats-2:4222,nats://nats-3:4222,").unwrap();
        let ports: Vec<u16> = cluster.iter().map(|addr| addr.port()).collect();
        assert_eq!(ports, [4222, 4222, 4222]);
        assert_eq!(cluster[1].host(), "nats-2");
    }

    #[test]
    fn a_bad_nats_url_names_the_server_at_fault() {
        let err = server_addrs("nats://ok:4222,nats://bad host:4222").unwrap_err();
        assert!(err.contains("\"nats://bad host:4222\" is not a NATS server URL"), "{err}");
        assert!(server_addrs(" , ").unwrap_err().contains("names no server"));
    }
}
