//! Prometheus metrics, one registry per process, exposed at `/metrics` in the text format.
//!
//! Every family is registered up front so `/metrics` documents them all; a service only moves
//! the ones it owns.

use std::sync::{LazyLock, Mutex};

use prometheus_client::{
    encoding::{text::encode, EncodeLabelSet},
    metrics::{counter::Counter, family::Family, histogram::Histogram},
    registry::Registry,
};

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TokenLabels {
    pub grant_type: String,
    /// `issued` or the OAuth error code.
    pub outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RunLabels {
    pub status: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ServiceLabels {
    /// `signer`, `workflow-worker`, `auth-service`.
    pub service: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct SignerLabels {
    /// `issue` or `jwks`.
    pub operation: String,
    /// `ok` or `error`.
    pub outcome: String,
}

pub struct Metrics {
    pub token_requests: Family<TokenLabels, Counter>,
    pub workflow_runs: Family<RunLabels, Counter>,
    pub workflow_run_seconds: Histogram,
    pub nats_request_seconds: Family<ServiceLabels, Histogram>,
    /// Requests a service dropped unanswered because their caller's deadline had passed.
    pub nats_expired_requests: Family<ServiceLabels, Counter>,
    /// Requests sent again because the instance holding them fell silent (it died or was cut off).
    pub nats_resent_requests: Family<ServiceLabels, Counter>,
    pub signer_operations: Family<SignerLabels, Counter>,
    registry: Mutex<Registry>,
}

fn latency_buckets() -> impl Iterator<Item = f64> {
    [0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0].into_iter()
}

/// The process's metrics.
pub static METRICS: LazyLock<Metrics> = LazyLock::new(|| {
    let mut registry = Registry::with_prefix("claimflow");
    let token_requests = Family::<TokenLabels, Counter>::default();
    registry.register("token_requests", "Token requests by grant type and outcome", token_requests.clone());
    let workflow_runs = Family::<RunLabels, Counter>::default();
    registry.register("workflow_runs", "Workflow runs by status", workflow_runs.clone());
    let workflow_run_seconds = Histogram::new(latency_buckets());
    registry.register("workflow_run_seconds", "Duration of workflow runs in the sandbox", workflow_run_seconds.clone());
    let nats_request_seconds =
        Family::<ServiceLabels, Histogram>::new_with_constructor(|| Histogram::new(latency_buckets()));
    registry.register(
        "nats_request_seconds",
        "NATS request/reply latency by the service asked",
        nats_request_seconds.clone(),
    );
    let nats_expired_requests = Family::<ServiceLabels, Counter>::default();
    registry.register(
        "nats_expired_requests",
        "Requests dropped unanswered by the service asked: their caller had stopped waiting",
        nats_expired_requests.clone(),
    );
    let nats_resent_requests = Family::<ServiceLabels, Counter>::default();
    registry.register(
        "nats_resent_requests",
        "Requests sent again to the service asked: the instance holding them stopped sending heartbeats",
        nats_resent_requests.clone(),
    );
    let signer_operations = Family::<SignerLabels, Counter>::default();
    registry.register("signer_operations", "Signer operations by outcome", signer_operations.clone());
    Metrics {
        token_requests,
        workflow_runs,
        workflow_run_seconds,
        nats_request_seconds,
        nats_expired_requests,
        nats_resent_requests,
        signer_operations,
        registry: Mutex::new(registry),
    }
});

impl Metrics {
    /// The text exposition format.
    pub fn render(&self) -> String {
        let mut text = String::new();
        let registry = self.registry.lock().expect("metrics registry poisoned");
        if encode(&mut text, &registry).is_err() {
            text.clear();
        }
        text
    }
}
