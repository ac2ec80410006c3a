//! What every claimflow service shares: configuration from the environment, telemetry, typed
//! NATS request/serve helpers that carry W3C trace context, and shutdown.
//!
//! Services must not talk to NATS with raw subjects and bytes: they go through [`nats`] so that
//! every hop is traced, typed and bounded.

pub mod config;
pub mod dispatch;
pub mod health;
pub mod metrics;
pub mod nats;
pub mod nats_server;
pub mod secret_box;
pub mod shutdown;
pub mod telemetry;

pub use config::ConfigError;
