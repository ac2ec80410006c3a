//! `claimflow-load`: loads one HTTP endpoint and prints what a user of it would see: successful
//! requests per second, failures by status, and latency percentiles.
//!
//! Closed loop (`--connections N`, each sends its next request when the last one answered) finds
//! the maximum rate; open loop (`--rate R`) sends at a fixed rate and measures each latency from
//! the moment its request was due, so a stalled server shows up in the percentiles instead of
//! silently slowing the load (no coordinated omission).

use std::{
    collections::BTreeMap,
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc,
    },
    time::{Duration, Instant},
};

use anyhow::{bail, Context};
use bytes::Bytes;
use clap::Parser;
use hdrhistogram::Histogram;
use http_body_util::{BodyExt, Full};
use hyper::{header, Method, Request, Uri};
use hyper_util::rt::TokioIo;

#[derive(Parser, Debug, Clone)]
#[command(version, about)]
struct Args {
    /// The URL to load, `http://host:port/path`.
    url: String,
    /// Concurrent keep-alive connections.
    #[arg(long, default_value_t = 32)]
    connections: usize,
    /// Seconds of measured load.
    #[arg(long, default_value_t = 10.0)]
    duration: f64,
    /// Seconds of load before measuring (connections, caches and JIT warm up).
    #[arg(long, default_value_t = 1.0)]
    warmup: f64,
    /// Requests per second in all (open loop); without it, as fast as the server answers.
    #[arg(long)]
    rate: Option<f64>,
    /// A form field of a POST `application/x-www-form-urlencoded` body, `name=value` (repeatable).
    #[arg(long = "form")]
    form: Vec<String>,
    /// A request header, `Name: value` (repeatable).
    #[arg(long = "header")]
    headers: Vec<String>,
    /// A name for this run in the output.
    #[arg(long, default_value = "load")]
    label: String,
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
}

/// What one connection saw while measuring.
struct Tally {
    latencies: Histogram<u64>,
    by_status: BTreeMap<u16, u64>,
    transport_errors: u64,
}

impl Tally {
    fn new() -> Tally {
        Tally {
            latencies: Histogram::new_with_bounds(1, 60_000_000, 3).expect("valid histogram bounds"),
            by_status: BTreeMap::new(),
            transport_errors: 0,
        }
    }

    fn merge(&mut self, other: Tally) {
        self.latencies.add(other.latencies).expect("histograms share bounds");
        for (status, count) in other.by_status {
            *self.by_status.entry(status).or_default() += count;
        }
        self.transport_errors += other.transport_errors;
    }
}

struct Target {
    uri: Uri,
    authority: String,
    body: Option<Bytes>,
    headers: Vec<(String, String)>,
}

fn target(args: &Args) -> anyhow::Result<Target> {
    let uri: Uri = args.url.parse().with_context(|| format!("{} is not a URL", args.url))?;
    if uri.scheme_str() != Some("http") {
        bail!("only http:// URLs are supported: {}", args.url);
    }
    let authority = uri.authority().context("the URL has no host")?.to_string();
    let body = (!args.form.is_empty()).then(|| {
        let mut form = String::new();
        for (index, field) in args.form.iter().enumerate() {
            let (name, value) = field.split_once('=').unwrap_or((field, ""));
            if index > 0 {
                form.push('&');
            }
            form.push_str(&encode(name));
            form.push('=');
            form.push_str(&encode(value));
        }
        Bytes::from(form)
    });
    let headers = args
        .headers
        .iter()
        .map(|header| {
            let (name, value) = header.split_once(':').with_context(|| format!("--header {header:?}: no ':'"))?;
            Ok((name.trim().to_owned(), value.trim().to_owned()))
        })
        .collect::<anyhow::Result<_>>()?;
    Ok(Target { uri, authority, body, headers })
}

/// `application/x-www-form-urlencoded` encoding of one name or value.
fn encode(text: &str) -> String {
    let mut encoded = String::with_capacity(text.len());
    for byte in text.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'*' => encoded.push(byte as char),
            b' ' => encoded.push('+'),
            _ => encoded.push_str(&format!("%{byte:02X}")),
        }
    }
    encoded
}

fn request(target: &Target) -> Request<Full<Bytes>> {
    let path = target.uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
    let mut builder = Request::builder()
        .method(if target.body.is_some() { Method::POST } else { Method::GET })
        .uri(path)
        .header(header::HOST, &target.authority);
    if target.body.is_some() {
        builder = builder.header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
    }
    for (name, value) in &target.headers {
        builder = builder.header(name.as_str(), value.as_str());
    }
    builder.body(Full::new(target.body.clone().unwrap_or_default())).expect("a valid request")
}

type Sender = hyper::client::conn::http1::SendRequest<Full<Bytes>>;

async fn connect(authority: &str) -> anyhow::Result<Sender> {
    let stream = tokio::net::TcpStream::connect(authority).await?;
    stream.set_nodelay(true)?;
    let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(async move {
        let _ = connection.await;
    });
    Ok(sender)
}

/// The shared clock of a run: when measuring starts and ends, and for an open loop, the next
/// request's due time.
struct Schedule {
    started: Instant,
    measure_from: Instant,
    end: Instant,
    interval: Option<Duration>,
    next_ticket: AtomicU64,
}

impl Schedule {
    /// When this connection's next request is due; `None` once the run is over.
    fn next_due(&self) -> Option<Instant> {
        let due = match self.interval {
            Some(interval) => self.started + interval * self.next_ticket.fetch_add(1, Ordering::Relaxed) as u32,
            None => Instant::now(),
        };
        (due < self.end).then_some(due)
    }
}

async fn connection(target: Arc<Target>, schedule: Arc<Schedule>) -> Tally {
    let mut tally = Tally::new();
    let mut sender: Option<Sender> = None;
    while let Some(due) = schedule.next_due() {
        tokio::time::sleep_until(due.into()).await;
        let sent = async {
            let client = match sender.as_mut() {
                Some(client) if client.is_ready() => client,
                _ => sender.insert(connect(&target.authority).await?),
            };
            client.ready().await?;
            let response = client.send_request(request(&target)).await?;
            let status = response.status().as_u16();
            response.into_body().collect().await?;
            anyhow::Ok(status)
        }
        .await;
        let finished = Instant::now();
        if due < schedule.measure_from {
            continue;
        }
        match sent {
            Ok(status) => {
                *tally.by_status.entry(status).or_default() += 1;
                let micros = finished.saturating_duration_since(due).as_micros() as u64;
                tally.latencies.saturating_record(micros.max(1));
            }
            Err(_) => {
                sender = None;
                tally.transport_errors += 1;
            }
        }
    }
    tally
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if args.connections == 0 {
        bail!("--connections must be at least 1");
    }
    let target = Arc::new(target(&args)?);
    // NOTE: one thread: the load generator shares the machine with what it measures, so it
    // must not take more than one core however fast the server is.
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let tally = runtime.block_on(async {
        let started = Instant::now() + Duration::from_millis(50);
        let measure_from = started + Duration::from_secs_f64(args.warmup);
        let schedule = Arc::new(Schedule {
            started,
            measure_from,
            end: measure_from + Duration::from_secs_f64(args.duration),
            interval: args.rate.map(|rate| Duration::from_secs_f64(1.0 / rate)),
            next_ticket: AtomicU64::new(0),
        });
        let tasks: Vec<_> =
            (0..args.connections).map(|_| tokio::spawn(connection(target.clone(), schedule.clone()))).collect();
        let mut tally = Tally::new();
        for task in tasks {
            tally.merge(task.await?);
        }
        anyhow::Ok(tally)
    })?;
    report(&args, &tally);
    Ok(())
}

fn report(args: &Args, tally: &Tally) {
    let ok: u64 = tally.by_status.iter().filter(|(status, _)| (200..300).contains(*status)).map(|(_, n)| n).sum();
    let failed: u64 = tally.by_status.iter().filter(|(status, _)| !(200..300).contains(*status)).map(|(_, n)| n).sum();
    let ms = |quantile: f64| tally.latencies.value_at_quantile(quantile) as f64 / 1000.0;
    let per_second = ok as f64 / args.duration;
    if args.json {
        let statuses: serde_json::Map<String, serde_json::Value> =
            tally.by_status.iter().map(|(status, n)| (status.to_string(), (*n).into())).collect();
        println!(
            "{}",
            serde_json::json!({
                "label": args.label,
                "connections": args.connections,
                "rate": args.rate,
                "duration_s": args.duration,
                "ok": ok,
                "failed": failed + tally.transport_errors,
                "transport_errors": tally.transport_errors,
                "statuses": statuses,
                "per_second": per_second,
                "p50_ms": ms(0.5),
                "p90_ms": ms(0.9),
                "p99_ms": ms(0.99),
                "max_ms": tally.latencies.max() as f64 / 1000.0,
            })
        );
    } else {
        println!(
            "{}: {per_second:.0} ok/s, {failed} failed by status, {} transport errors; p50 {:.2} ms, p90 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
            args.label,
            tally.transport_errors,
            ms(0.5),
            ms(0.9),
            ms(0.99),
            tally.latencies.max() as f64 / 1000.0
        );
    }
}
