//! One server span per HTTP request (tower-http's trace layer), continuing the caller's W3C
//! trace context when present, with OpenTelemetry's HTTP semantic-convention attributes.

use std::time::Duration;

use axum::{body::Body, extract::MatchedPath, http::Request, response::Response};
use opentelemetry::propagation::Extractor;
use tower_http::{
    classify::{ServerErrorsAsFailures, SharedClassifier},
    trace::TraceLayer,
};
use tracing::Span;
use tracing_opentelemetry::OpenTelemetrySpanExt;

struct HttpHeaders<'a>(&'a axum::http::HeaderMap);

impl Extractor for HttpHeaders<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|value| value.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(|name| name.as_str()).collect()
    }
}

type MakeSpan = fn(&Request<Body>) -> Span;
type OnResponse = fn(&Response, Duration, &Span);

/// The layer for the whole router (inside the routing, so the matched route is known).
pub fn layer() -> TraceLayer<SharedClassifier<ServerErrorsAsFailures>, MakeSpan, (), OnResponse> {
    TraceLayer::new_for_http()
        .make_span_with(make_span as MakeSpan)
        .on_request(())
        .on_response(on_response as OnResponse)
}

fn make_span(request: &Request<Body>) -> Span {
    let method = request.method();
    let route = request.extensions().get::<MatchedPath>().map_or(request.uri().path(), |path| path.as_str());
    let span = tracing::info_span!(
        "http.request",
        otel.name = %format!("{method} {route}"),
        otel.kind = "server",
        http.request.method = %method,
        http.route = %route,
        url.path = %request.uri().path(),
        http.response.status_code = tracing::field::Empty,
        event_id = tracing::field::Empty,
    );
    let parent = opentelemetry::global::get_text_map_propagator(|propagator| {
        propagator.extract(&HttpHeaders(request.headers()))
    });
    let _ = span.set_parent(parent);
    span
}

fn on_response(response: &Response, _latency: Duration, span: &Span) {
    span.record("http.response.status_code", response.status().as_u16());
}
