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
        tracing_subscriber::fmt::layer().event_format(JsonLines).with_writer(std::io::stderr).boxed()
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

/// One JSON object per log line, with the OpenTelemetry `trace_id` and `span_id` of the request
/// it belongs to, so a log line leads to its trace and back.
pub struct JsonLines;

impl<S, N> tracing_subscriber::fmt::FormatEvent<S, N> for JsonLines
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
    N: for<'a> tracing_subscriber::fmt::FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &tracing_subscriber::fmt::FmtContext<'_, S, N>,
        mut writer: tracing_subscriber::fmt::format::Writer<'_>,
        event: &tracing::Event<'_>,
    ) -> std::fmt::Result {
        use opentelemetry::trace::TraceContextExt;
        let metadata = event.metadata();
        let mut line = serde_json::Map::new();
        let timestamp =
            time::OffsetDateTime::now_utc().format(&time::format_description::well_known::Rfc3339).unwrap_or_default();
        line.insert("timestamp".into(), timestamp.into());
        line.insert("level".into(), metadata.level().as_str().into());
        line.insert("target".into(), metadata.target().into());
        let mut fields = JsonFields(serde_json::Map::new());
        event.record(&mut fields);
        if let Some(span) = ctx.lookup_current() {
            line.insert("span".into(), span.name().into());
        }
        // NOTE: tracing-opentelemetry makes the entered span's context current.
        let context = opentelemetry::Context::current();
        let span_context = context.span().span_context().clone();
        if span_context.is_valid() {
            line.insert("trace_id".into(), span_context.trace_id().to_string().into());
            line.insert("span_id".into(), span_context.span_id().to_string().into());
        }
        line.extend(fields.0);
        writeln!(writer, "{}", serde_json::Value::Object(line))
    }
}

struct JsonFields(serde_json::Map<String, serde_json::Value>);

impl tracing::field::Visit for JsonFields {
    fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
        self.0.insert(field.name().into(), value.into());
    }
    fn record_i64(&mut self, field: &tracing::field::Field, value: i64) {
        self.0.insert(field.name().into(), value.into());
    }
    fn record_u64(&mut self, field: &tracing::field::Field, value: u64) {
        self.0.insert(field.name().into(), value.into());
    }
    fn record_bool(&mut self, field: &tracing::field::Field, value: bool) {
        self.0.insert(field.name().into(), value.into());
    }
    fn record_f64(&mut self, field: &tracing::field::Field, value: f64) {
        self.0.insert(field.name().into(), value.into());
    }
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        self.0.insert(field.name().into(), format!("{value:?}").into());
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use opentelemetry::trace::TracerProvider as _;
    use tracing_subscriber::layer::SubscriberExt;

    use super::*;

    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Buffer {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn json_log_lines_carry_the_trace_id_of_their_request() {
        let provider = SdkTracerProvider::builder().build();
        let buffer = Buffer::default();
        let writer = buffer.clone();
        let subscriber = tracing_subscriber::registry()
            .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("test")))
            .with(tracing_subscriber::fmt::layer().event_format(JsonLines).with_writer(move || writer.clone()));
        let trace_id = tracing::subscriber::with_default(subscriber, || {
            let span = tracing::info_span!("token request");
            let _entered = span.enter();
            tracing::info!(client_id = "abc", attempt = 2, "issued");
            current_trace_id()
        })
        .expect("a trace id");
        let output = String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap();
        let line: serde_json::Value = serde_json::from_str(output.lines().next().unwrap()).unwrap();
        assert_eq!(line["trace_id"], trace_id);
        assert_eq!(line["message"], "issued");
        assert_eq!(line["client_id"], "abc");
        assert_eq!(line["attempt"], 2);
        assert_eq!(line["level"], "INFO");
        assert_eq!(line["span"], "token request");
    }
}
