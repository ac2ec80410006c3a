//! The workflow sandbox: runs a deployed workflow (an ES module) in V8, with Kinde's `kinde`
//! global and `@kinde/infrastructure` module, under limits enforced from outside the isolate.
//!
//! deno_core provides V8 and its platform. Each pool thread keeps one warm isolate and gives
//! every run a fresh V8 context in it ([`isolate`]), which is what makes a run cheap; deno_core's
//! `JsRuntime` cannot serve here, as it owns exactly one context per isolate and its isolate-wide
//! hooks assume that context.
//!
//! Dependencies run one way: [`engine`] → [`run`] → [`ops`], [`loader`], [`watchdog`]. This crate
//! never does NATS I/O and is testable on its own. What a workflow can do is exactly what the
//! functions in [`ops`] allow; it must never see the file system, the host object or another
//! run's state.

mod engine;
mod isolate;
mod loader;
pub mod network;
mod ops;
mod run;
pub mod token_cache;
mod watchdog;

use std::time::Duration;

use claimflow_contracts::{
    workflow::{LogLine, RunStatus},
    Claims, TokenKind,
};

pub use engine::Engine;
pub use network::{AllowList, FetchLimits, Network};
pub use token_cache::TokenCache;

/// Limits of one run. Every limit is enforced outside the workflow's control.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Wall time, enforced by a watchdog thread that terminates the isolate.
    pub wall_time: Duration,
    /// V8 heap; reaching it ends the run as `out_of_memory` (the process survives).
    pub heap_bytes: usize,
    /// Console output kept per run; more is dropped with a note.
    pub max_log_bytes: usize,
    /// JSON size of the claims one run may set on one token.
    pub max_claims_bytes: usize,
    /// Number of claims one run may set on one token.
    pub max_claims: usize,
    pub fetch: FetchLimits,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            wall_time: Duration::from_secs(5),
            heap_bytes: 64 * 1024 * 1024,
            max_log_bytes: 64 * 1024,
            max_claims_bytes: 16 * 1024,
            max_claims: 64,
            fetch: FetchLimits::default(),
        }
    }
}

/// What a run may reach outside the isolate, shared by the runs of one worker.
pub struct Services {
    pub network: Network,
    /// `kinde.cache`, kept across runs.
    pub token_cache: TokenCache,
}

/// An environment variable as `kinde.env.get` returns it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvironmentVariable {
    pub key: String,
    pub value: String,
    pub is_secret: bool,
}

/// One run to do.
#[derive(Clone)]
pub struct RunRequest {
    /// The workflow's ES module (types already stripped).
    pub code: std::sync::Arc<str>,
    /// The original file, for stack traces (`kindeSrc/environment/workflows/x/Workflow.ts`).
    pub source_name: String,
    /// Maps `code` back to the original TypeScript, so errors name its lines.
    pub source_map: Option<std::sync::Arc<str>>,
    /// The project files the workflow imports, linked at deploy.
    pub graph: std::sync::Arc<claimflow_contracts::workflow::ModuleGraph>,
    /// The workflow's id: `kinde.cache` entries are kept per workflow.
    pub workflow_id: String,
    /// `kinde.env`, when the workflow declared it.
    pub environment: Vec<EnvironmentVariable>,
    /// The environment's key for `kinde.secureFetch` bodies, when the workflow declared it.
    pub secure_fetch_key: Option<[u8; 32]>,
    /// The issuer's host: `createKindeAPI` calls it, so it is reachable whatever its address.
    pub trusted_host: Option<String>,
    pub services: std::sync::Arc<Services>,
    /// The span runs and their fetches are recorded under.
    pub span: tracing::Span,
    /// The bindings the workflow declared.
    pub bindings: Vec<claimflow_contracts::settings::Binding>,
    /// The `event` argument, Kinde's shape.
    pub event: serde_json::Value,
    /// The token claims before the workflow, per token kind it may patch.
    pub base_claims: Vec<(TokenKind, Claims)>,
    /// Token kinds whose binding says `resetClaims: true`: `getCustomClaims()` starts empty.
    pub reset_claims: Vec<TokenKind>,
    pub limits: Limits,
    /// Evaluate the module's top level and report its exports ([`RunOutcome::exports`]) instead
    /// of calling the default export: how deploy reads a workflow's settings.
    pub inspect_only: bool,
}

/// What a run produced.
#[derive(Debug, Clone, PartialEq)]
pub struct RunOutcome {
    pub status: RunStatus,
    /// Claims the workflow set, per token kind, in the order set.
    pub claims_set: Vec<(TokenKind, Claims)>,
    /// `kinde.auth.denyAccess(reason)`.
    pub denied: Option<String>,
    /// `kinde.ssoSession.setPolicy(policy)`.
    pub session_policy: Option<claimflow_contracts::workflow::SessionPolicy>,
    /// `kinde.widget.invalidateFormField(field, message)`, in call order.
    pub form_errors: Vec<(String, String)>,
    /// `kinde.mfa.setEnforcementPolicy(policy)`.
    pub mfa_enforcement: Option<claimflow_contracts::mfa::MfaEnforcement>,
    pub logs: Vec<LogLine>,
    /// What went wrong, with where in the workflow's source when known (`... (Workflow.ts:3:9)`;
    /// for an inspection, the text alone: the place is in `error_location`).
    pub error: Option<String>,
    /// Where the error arose in the original source: the file as deployed (the workflow's own or a
    /// project module's), 1-based line and column.
    pub error_location: Option<(String, usize, usize)>,
    /// The module's exports, from an inspection that evaluated it.
    pub exports: Option<claimflow_contracts::workflow::ModuleExports>,
    pub duration: Duration,
}
