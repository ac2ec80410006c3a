//! The messages claimflow services exchange over NATS, and the subjects they travel on.
//!
//! This crate is the contract between auth-service, the workflow-worker pool and the signer.
//! It must never do I/O or depend on a runtime: every service (and every test) links it, and a
//! change here is a change of wire format.

pub mod base_claims;
pub mod claims;
pub mod event;
pub mod mfa;
pub mod records;
pub mod settings;
pub mod signer;
pub mod trigger;
pub mod workflow;

use serde::{de::DeserializeOwned, Deserialize, Serialize};

pub use claims::{Claims, ProhibitedClaims, TokenKind};
pub use trigger::Trigger;

/// A request that travels over NATS request/reply and knows its own subject, the service that
/// answers it and its reply type.
///
/// The subject is always prefixed (`{prefix}{subject}`) so that tests and tenants can share one
/// broker without seeing each other's traffic.
pub trait Request: Serialize + DeserializeOwned + Send + Sync + 'static {
    type Response: Serialize + DeserializeOwned + Send + Sync + 'static;

    /// The service whose members answer it (in its queue group).
    const SERVICE: Service;

    /// The subject this particular message goes to (some requests pick it from their content).
    fn subject(&self, prefix: &str) -> String;
}

/// What a service replies: either the response or a typed error. Errors cross NATS as replies,
/// never as timeouts, so the caller can tell "the signer refused" from "nobody answered".
pub type Reply<T> = Result<T, ServiceError>;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{message}")]
pub struct ServiceError {
    pub code: ServiceErrorCode,
    pub message: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ServiceErrorCode {
    /// The request could not be decoded or violates the contract.
    BadRequest,
    /// Something the request refers to does not exist (a deployment, a workflow's code).
    NotFound,
    /// The service failed while handling a valid request.
    Internal,
}

impl ServiceError {
    pub fn new(code: ServiceErrorCode, message: impl Into<String>) -> Self {
        Self { code, message: message.into() }
    }
}

/// Header names claimflow sets on NATS messages besides W3C trace context.
pub mod headers {
    /// Milliseconds since the Unix epoch after which the caller no longer waits for a reply.
    pub const DEADLINE: &str = "Claimflow-Deadline";
}

/// The services that answer requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    AuthService,
    WorkflowWorker,
    Signer,
}

impl Service {
    /// As errors and metrics name it.
    pub fn name(self) -> &'static str {
        match self {
            Service::AuthService => "auth-service",
            Service::WorkflowWorker => "workflow-worker",
            Service::Signer => "signer",
        }
    }

    /// Its queue group: every member of a group shares the subject's messages.
    pub fn queue_group(self) -> &'static str {
        match self {
            Service::AuthService => "auth-service",
            Service::WorkflowWorker => "workflow-workers",
            Service::Signer => "signer",
        }
    }
}
