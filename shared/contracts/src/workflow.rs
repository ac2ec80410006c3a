//! auth-service ⇄ workflow-worker: token-generation events and their outcomes.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::{event::WorkflowEvent, settings::Binding, Claims, Request, TokenKind, Trigger};

/// Which deployed workflow auth-service asks the pool to run. auth-service resolves the live
/// deployment for the trigger from the database; the worker never chooses what runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkflowRef {
    /// `workflowSettings.id`.
    pub workflow_id: String,
    pub deployment_id: String,
    pub version: i32,
    /// [`code_hash`] of the transpiled JavaScript and its project modules: workers cache compiled
    /// code under it.
    pub code_hash: String,
    /// The bindings the deployment declared (`kinde.m2mToken`, `kinde.fetch`, ...).
    pub bindings: Vec<Binding>,
    /// Token kinds whose binding is declared with `{ resetClaims: true }`: their custom claims
    /// start empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reset_claims: Vec<TokenKind>,
    /// Wall-time limit of one run, milliseconds.
    pub timeout_ms: u64,
}

/// The base claims: what would be issued if no workflow ran.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct BaseClaims {
    pub access: Claims,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<Claims>,
}

/// Published by auth-service on `{prefix}workflows.v1.<trigger>`; answered by one worker of the
/// `workflow-workers` queue group with a [`WorkflowOutcome`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TokenGenerationEvent {
    pub event_id: String,
    pub trigger: Trigger,
    pub workflow: WorkflowRef,
    /// The object passed to the workflow's default export.
    pub event: WorkflowEvent,
    /// Which token kind carries the access claims (`m2m` for client_credentials).
    pub access_token_kind: TokenKind,
    pub base_claims: BaseClaims,
    /// `kinde.env`: sent only when the deployment declared that binding. Secret values travel
    /// decrypted to the worker that needs them, and nowhere else.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub environment: Vec<EnvironmentVariable>,
    /// The environment's `kinde.secureFetch` key (base64), only when that binding is declared.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secure_fetch_key: Option<String>,
    /// Values of the event that must never reach a run record (the password a user typed):
    /// the worker replaces them with `[redacted]` in the run's logs and error.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub redact: Vec<String>,
}

#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnvironmentVariable {
    pub key: String,
    pub value: String,
    pub is_secret: bool,
}

impl std::fmt::Debug for EnvironmentVariable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let value = if self.is_secret { "[redacted]" } else { self.value.as_str() };
        f.debug_struct("EnvironmentVariable").field("key", &self.key).field("value", &value).finish()
    }
}

impl Request for TokenGenerationEvent {
    type Response = WorkflowOutcome;
    const SERVICE: crate::Service = crate::Service::WorkflowWorker;

    fn subject(&self, prefix: &str) -> String {
        workflow_subject(prefix, self.trigger)
    }
}

/// `{prefix}workflows.v1.<trigger token>`.
pub fn workflow_subject(prefix: &str, trigger: Trigger) -> String {
    format!("{prefix}workflows.v1.{}", trigger.subject_token())
}

/// The wildcard a worker subscribes to for every trigger.
pub fn all_workflow_subjects(prefix: &str) -> String {
    format!("{prefix}workflows.v1.*")
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct WorkflowOutcome {
    pub patches: Vec<ClaimPatch>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub denied: Option<Denial>,
    /// `kinde.ssoSession.setPolicy(...)`: the sign-in's session cookie outlives the browser or not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_policy: Option<SessionPolicy>,
    /// `kinde.widget.invalidateFormField(field, message)`: the form is refused, the message
    /// shown at the field.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub form_errors: Vec<FormFieldError>,
    /// `kinde.mfa.setEnforcementPolicy(...)`: whether this sign-in asks for a second factor.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mfa_enforcement: Option<crate::mfa::MfaEnforcement>,
    pub runs: Vec<RunReport>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FormFieldError {
    pub field: String,
    pub message: String,
}

/// Whether the session cookie of a sign-in persists when the browser closes (Kinde's SSO
/// session policy).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SessionPolicy {
    Persistent,
    NonPersistent,
}

impl SessionPolicy {
    /// Kinde's names; `non-persistent` too, as a Kinde staff workflow spells it.
    pub fn parse(name: &str) -> Option<SessionPolicy> {
        match name {
            "persistent" => Some(SessionPolicy::Persistent),
            "non_persistent" | "non-persistent" => Some(SessionPolicy::NonPersistent),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            SessionPolicy::Persistent => "persistent",
            SessionPolicy::NonPersistent => "non_persistent",
        }
    }
}

/// Claims one workflow set on one token. `set` replaces each named claim's value; setting `[]`
/// or `{}` is how Kinde workflows empty `permissions` / `feature_flags`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClaimPatch {
    pub workflow_id: String,
    pub version: i32,
    pub token: TokenKind,
    pub set: Claims,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Denial {
    pub workflow_id: String,
    pub reason: String,
}

/// How a run ended; also the `status` column of the runs table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "sea-orm", derive(sea_orm::EnumIter, sea_orm::DeriveActiveEnum))]
#[cfg_attr(feature = "sea-orm", sea_orm(rs_type = "String", db_type = "Text"))]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    #[cfg_attr(feature = "sea-orm", sea_orm(string_value = "ok"))]
    Ok,
    /// The workflow threw, or returned a rejected promise, or its code could not load.
    #[cfg_attr(feature = "sea-orm", sea_orm(string_value = "failed"))]
    Failed,
    /// The wall-time limit stopped it.
    #[cfg_attr(feature = "sea-orm", sea_orm(string_value = "timed_out"))]
    TimedOut,
    /// The V8 heap limit stopped it.
    #[cfg_attr(feature = "sea-orm", sea_orm(string_value = "out_of_memory"))]
    OutOfMemory,
}

impl RunStatus {
    pub const ALL: [RunStatus; 4] = [RunStatus::Ok, RunStatus::Failed, RunStatus::TimedOut, RunStatus::OutOfMemory];

    pub fn parse(name: &str) -> Option<RunStatus> {
        RunStatus::ALL.into_iter().find(|status| status.as_str() == name)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Ok => "ok",
            RunStatus::Failed => "failed",
            RunStatus::TimedOut => "timed_out",
            RunStatus::OutOfMemory => "out_of_memory",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogLine {
    /// `log`, `info`, `warn` or `error`, after the console method called.
    pub level: String,
    pub message: String,
}

/// What happened in one run, recorded by auth-service.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunReport {
    pub workflow_id: String,
    pub deployment_id: String,
    pub version: i32,
    pub status: RunStatus,
    pub duration_us: u64,
    /// Which worker ran it (`CLAIMFLOW_WORKER_ID`, by default the host name).
    #[serde(default)]
    pub worker_id: String,
    pub logs: Vec<LogLine>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Asked by a worker on a cache miss: the transpiled JavaScript of a deployment, by content hash.
/// Answered by auth-service, which owns the database.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkflowCodeRequest {
    pub code_hash: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkflowCode {
    pub code_hash: String,
    pub code: String,
    /// The deployed file, as stack traces should name it.
    pub source_path: String,
    /// Maps `code` back to the original TypeScript.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_map: Option<String>,
    /// The project files the workflow imports.
    #[serde(default, skip_serializing_if = "ModuleGraph::is_empty")]
    pub graph: ModuleGraph,
}

/// A project file a workflow imports (`../utils/getKindeAPI.ts`), transpiled: deployed with the
/// workflow, as Kinde bundles a project.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProjectModule {
    /// Relative to the deployed directory, e.g. `utils/utils.ts`.
    pub path: String,
    /// The transpiled ES module.
    pub code: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_map: Option<String>,
}

/// The project modules a workflow imports and where each of its imports leads, settled at
/// deploy: the runtime follows this and nothing else.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModuleGraph {
    /// Per importing file (the workflow's own path among them): the specifier as written (`./hello`)
    /// → the path of the project module it names (`kindeSrc/.../hello.ts`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub imports: BTreeMap<String, BTreeMap<String, String>>,
    /// Sorted by path.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub modules: Vec<ProjectModule>,
}

impl ModuleGraph {
    pub fn is_empty(&self) -> bool {
        self.imports.is_empty() && self.modules.is_empty()
    }

    pub fn module(&self, path: &str) -> Option<&ProjectModule> {
        self.modules.iter().find(|module| module.path == path)
    }

    /// Bytes of code and source maps, as carried in one message.
    pub fn size(&self) -> usize {
        self.modules.iter().map(|m| m.path.len() + m.code.len() + m.source_map.as_ref().map_or(0, String::len)).sum()
    }
}

/// SHA-256, hex, of a workflow's transpiled module and the project modules it imports: what a
/// worker verifies fetched code against. A workflow without imports hashes its code alone.
pub fn code_hash(code: &str, graph: &ModuleGraph) -> String {
    let mut hash = Sha256::new();
    hash.update(code.as_bytes());
    if !graph.is_empty() {
        hash.update([0]);
        hash.update(serde_json::to_vec(graph).expect("a module graph is always JSON"));
    }
    hex::encode(hash.finalize())
}

impl WorkflowCodeRequest {
    pub fn subject_for(prefix: &str) -> String {
        format!("{prefix}workflows.v1.code.get")
    }
}

impl Request for WorkflowCodeRequest {
    type Response = WorkflowCode;
    const SERVICE: crate::Service = crate::Service::AuthService;

    fn subject(&self, prefix: &str) -> String {
        Self::subject_for(prefix)
    }
}

/// Asked by auth-service at deploy, answered by a worker: evaluate a workflow module's top level
/// in the sandbox (no bindings, no network, a short time limit) and report what it exports, as
/// Kinde's runtime reads a workflow's settings. Keeps V8 out of auth-service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModuleInspectionRequest {
    /// The file as deployed, for error positions.
    pub source_path: String,
    /// The transpiled ES module.
    pub code: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_map: Option<String>,
    /// The project files it imports: their top levels run too.
    #[serde(default, skip_serializing_if = "ModuleGraph::is_empty")]
    pub graph: ModuleGraph,
}

impl ModuleInspectionRequest {
    pub fn subject_for(prefix: &str) -> String {
        format!("{prefix}workflows.v1.inspect.module")
    }
}

impl Request for ModuleInspectionRequest {
    type Response = ModuleInspection;
    const SERVICE: crate::Service = crate::Service::WorkflowWorker;

    fn subject(&self, prefix: &str) -> String {
        Self::subject_for(prefix)
    }
}

/// What evaluating a module's top level gave: its exports, or why it could not run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ModuleInspection {
    Evaluated(ModuleExports),
    /// The module threw, failed to link (a missing import) or ran out of time.
    Failed(ModuleError),
}

/// The exports of an evaluated workflow module that deploy checks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModuleExports {
    /// `workflowSettings` as JSON (`JSON.stringify`); `None` when not exported.
    pub workflow_settings: Option<serde_json::Value>,
    /// `typeof` the default export: `"function"` for a runnable workflow.
    pub default_export: String,
}

/// An error in a module, where in the original source it arose when known.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModuleError {
    pub message: String,
    /// The deployed file it arose in, when not the workflow's own (a project module it imports).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// 1-based line and column in that file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub position: Option<(usize, usize)>,
}
