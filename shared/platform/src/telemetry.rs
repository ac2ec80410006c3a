//! Tracing and OpenTelemetry set-up for a service process.
//!
//! Every process gets a real tracer provider, exporter or not, so spans have trace ids that
//! travel over NATS and show in logs. With `OTEL_EXPORTER_OTLP_ENDPOINT` set, spans are exported
//! over OTLP/HTTP in batches. Logs go to stderr: human-readable by default, JSON with
//! `CLAIMFLOW_LOG_FORMAT=json`. `CLAIMFLOW_LOG` (or `RUST_LOG`) filters them.

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::{
    propagation::TraceContextPropagator,
    trace::{SdkTracerProvider, SpanExporter},
    Resource,
};
use tracing_subscriber::{layer::SubscriberExt, util::SubscriberInitExt, EnvFilter, Layer};

use crate::config;

#[derive(Debug, thiserror::Error)]
pub enum TelemetryError {
    #[error("OTEL_EXPORTER_OTLP_ENDPOINT: cannot build the OTLP exporter: {0}")]
    Exporter(String),
    #[error("a global tracing subscriber is already installed")]
    AlreadyInstalled,
}

/// Flushes and shuts the tracer provider down when the service stops.
#[must_use = "dropping the guard loses spans not yet exported; call shutdown()"]
pub struct TelemetryGuard {
    provider: SdkTracerProvider,
}

impl TelemetryGuard {
    /// Exports what is still buffered. Call last, after the service's `run` returned.
    pub fn shutdown(self) {
        if let Err(err) = self.provider.shutdown() {
            eprintln!("telemetry shutdown: {err}");
        }
    }

    pub fn provider(&self) -> &SdkTracerProvider {
        &self.provider
    }
}

/// Installs tracing for a service binary: OTLP export when `OTEL_EXPORTER_OTLP_ENDPOINT` is set.
pub fn init(service_name: &str) -> Result<TelemetryGuard, TelemetryError> {
    let mut builder = SdkTracerProvider::builder().with_resource(resource(service_name));
    if config::var("OTEL_EXPORTER_OTLP_ENDPOINT").is_some() {
        let exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_http()
            .build()
            .map_err(|err| TelemetryError::Exporter(err.to_string()))?;
        builder = builder.with_batch_exporter(exporter);
    }
    install(service_name, builder.build(), LogOutput::Stderr)
}

/// Where log lines go: stderr for services, the test harness's captured output for tests
/// (shown only for failing tests).
#[derive(Clone, Copy, PartialEq)]
enum LogOutput {
    Stderr,
    Test,
}

/// Installs tracing with a given exporter whose spans are exported as they end (tests).
pub fn init_with_exporter<E>(service_name: &str, exporter: E) -> Result<TelemetryGuard, TelemetryError>
where
    E: SpanExporter + 'static,
{
    let provider =
        SdkTracerProvider::builder().with_resource(resource(service_name)).with_simple_exporter(exporter).build();
    install(service_name, provider, LogOutput::Test)
}

/// Spans exported: ours at info and above, none of the libraries' internals.
const SPAN_FILTER: &str =
    "info,h2=off,hyper=off,hyper_util=off,reqwest=off,sqlx=off,sea_orm=off,async_nats=off,tower=off";

fn resource(service_name: &str) -> Resource {
    Resource::builder().with_service_name(service_name.to_owned()).build()
}

fn install(
    service_name: &str,
    provider: SdkTracerProvider,
    output: LogOutput,
) -> Result<TelemetryGuard, TelemetryError> {
    opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
    opentelemetry::global::set_tracer_provider(provider.clone());
    let tracer = provider.tracer(service_name.to_owned());
    let filter = config::var("CLAIMFLOW_LOG")
        .or_else(|| config::var("RUST_LOG"))
        .unwrap_or_else(|| "info,sqlx=warn,sea_orm=warn,async_nats=warn".to_owned());
    let filter = EnvFilter::try_new(&filter).unwrap_or_else(|_| EnvFilter::new("info"));
    let json = config::var("CLAIMFLOW_LOG_FORMAT").is_some_and(|format| format == "json");
    let fmt = if output == LogOutput::Test {
        tracing_subscriber::fmt::layer().compact().with_test_writer().boxed()
    } else if json {
        tracing_subscriber::fmt::layer()
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .with_writer(std::io::stderr)
            .boxed()
    } else {
        tracing_subscriber::fmt::layer().compact().with_writer(std::io::stderr).boxed()
    };
    tracing_subscriber::registry()
        .with(tracing_opentelemetry::layer().with_tracer(tracer).with_filter(EnvFilter::new(SPAN_FILTER)))
        .with(fmt.with_filter(filter))
        .try_init()
        .map_err(|_| TelemetryError::AlreadyInstalled)?;
    Ok(TelemetryGuard { provider })
}

/// The current span's trace id in hex, for error messages and logs.
pub fn current_trace_id() -> Option<String> {
    use opentelemetry::trace::TraceContextExt;
    use tracing_opentelemetry::OpenTelemetrySpanExt;
    let context = tracing::Span::current().context();
    let span_context = context.span().span_context().clone();
    span_context.is_valid().then(|| span_context.trace_id().to_string())
}
