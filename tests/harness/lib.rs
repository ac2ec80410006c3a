//! The end-to-end test harness: a whole claimflow stack per test, in-process, against a real
//! `nats-server` child process, a real database (a SQLite file, or a fresh PostgreSQL database
//! when `DATABASE_URL` is set) and real V8. Each stack has its own broker, database, data
//! directory and subject prefix, so tests run in parallel and may kill their broker.

mod api;
mod mail;
mod sign_in;
mod stack;
mod workflows;

pub use mail::*;
pub use sign_in::*;
pub use stack::*;
pub use workflows::*;

use std::{sync::OnceLock, time::Duration};

use claimflow_workflow_runtime::Engine;
use opentelemetry_sdk::trace::InMemorySpanExporter;

/// One workflow engine per test process (V8's platform is per process).
pub fn engine() -> Engine {
    static ENGINE: OnceLock<Engine> = OnceLock::new();
    ENGINE.get_or_init(|| Engine::start(2).expect("the workflow engine starts")).clone()
}

/// Spans of every stack in this process, exported as they end.
pub fn spans() -> &'static InMemorySpanExporter {
    static EXPORTER: OnceLock<InMemorySpanExporter> = OnceLock::new();
    EXPORTER.get_or_init(|| {
        let exporter = InMemorySpanExporter::default();
        let guard = claimflow_platform::telemetry::init_with_exporter("claimflow-e2e", exporter.clone())
            .expect("telemetry installs once");
        // NOTE: the provider must outlive every test; the process exit ends it.
        std::mem::forget(guard);
        exporter
    })
}

/// Benchmarks: the median duration of every span name recorded at least `min_count` times.
pub fn print_span_medians(min_count: usize) {
    let mut by_name: std::collections::BTreeMap<String, Vec<Duration>> = Default::default();
    for span in spans().get_finished_spans().expect("spans") {
        let took = span.end_time.duration_since(span.start_time).unwrap_or_default();
        by_name.entry(span.name.to_string()).or_default().push(took);
    }
    println!("  span medians:");
    for (name, mut took) in by_name {
        if took.len() < min_count {
            continue;
        }
        took.sort();
        let median = took[(took.len() - 1) / 2];
        println!("    {:<48} {:>7.3} ms  ({} spans)", name, median.as_secs_f64() * 1e3, took.len());
    }
}
