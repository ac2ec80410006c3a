//! `/api/v1/workflows`: deploy a bundle of workflow files, list deployments and runs.
//! (Kinde offers these only in its dashboard.)

use axum::extract::{Path, State};
use claimflow_contracts::{
    workflow::{ModuleInspection, ModuleInspectionRequest, RunStatus},
    Trigger,
};
use claimflow_storage::entity::{workflow_deployment, workflow_run};
use claimflow_storage::{NewDeployment, RunFilter};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use super::{
    keyset_after, keyset_page, paginate, reply, Answer, ApiError, ApiJson, ApiQuery, BadRequest, NotFound, Page, Reply,
    Unavailable,
};
use crate::AppState;

/// The largest file a deployment accepts.
const MAX_FILE_BYTES: usize = 1024 * 1024;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Bundle {
    /// The workflows and the project files they import. A file is a workflow when its name ends
    /// in `workflow.ts` or `workflow.js` (any case) or when no other file imports it; `.d.ts`
    /// files are types only and ignored.
    files: Vec<BundleFile>,
    /// Wall-time limit of each run of these workflows, milliseconds (default: the service's).
    #[serde(default)]
    timeout_ms: Option<i64>,
}

/// Bounds of a deployment's run time limit.
const TIMEOUT_MS_RANGE: std::ops::RangeInclusive<i64> = 10..=30_000;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BundleFile {
    /// Relative to the deployed directory, e.g. `kindeSrc/environment/workflows/hello/Workflow.ts`.
    #[schema(max_length = 1024)]
    path: String,
    content: String,
}

/// How long deploy waits for a worker to evaluate a module (whose top level may run for 1 s).
const INSPECTION_WAIT: std::time::Duration = std::time::Duration::from_secs(3);

/// Has a worker evaluate the top level of `workflow`'s module and of the project modules it imports.
async fn inspect(
    state: &AppState,
    workflow: &claimflow_workflow_source::LinkedWorkflow,
) -> Result<ModuleInspection, ApiError> {
    let (path, module) = (&workflow.path, &workflow.module);
    // NOTE: the modules travel to workers (now, and on every cache miss) in one NATS message.
    let size = module.code.len() + module.source_map.as_ref().map_or(0, String::len) + workflow.graph.size();
    let carried = state.nats.server_info().max_payload.saturating_sub(64 * 1024);
    if size > carried {
        return Err(ApiError::bad_request(
            "INVALID_WORKFLOW",
            format!(
                "{path}: the transpiled modules and their source maps are {size} bytes; the broker carries at most \
                 {carried}"
            ),
        ));
    }
    let request = ModuleInspectionRequest {
        source_path: path.clone(),
        code: module.code.clone(),
        source_map: module.source_map.clone(),
        graph: workflow.graph.clone(),
    };
    state.dispatcher.request(&state.config.common.subject_prefix, &request, INSPECTION_WAIT).await.map_err(|err| {
        tracing::error!(%err, path, "no worker evaluated a deployed module");
        ApiError::new(
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            "WORKER_UNAVAILABLE",
            "deploy evaluates each workflow on a workflow-worker, and none answered: start one and deploy again",
        )
    })
}

/// A deployed version of a workflow.
#[derive(Serialize, ToSchema)]
pub struct DeployedVersion {
    workflow_id: String,
    version: i32,
    deployment_id: String,
    #[schema(value_type = String)]
    trigger: Trigger,
    source_path: String,
    timeout_ms: Option<i64>,
}

#[derive(Serialize, ToSchema)]
pub struct DeployedVersions {
    deployments: Vec<DeployedVersion>,
}

/// Compiles and links every file first; stores all of the workflows, or none when any file is
/// invalid.
#[utoipa::path(post, path = "/workflows/deployments", summary = "Deploy workflow files (all or nothing)",
    request_body = Bundle, security(("bearer" = ["create:workflows"])),
    responses((status = 200, body = Reply<DeployedVersions>), BadRequest, Unavailable))]
pub async fn deploy(State(state): State<AppState>, ApiJson(bundle): ApiJson<Bundle>) -> Answer<DeployedVersions> {
    if bundle.files.is_empty() {
        return Err(ApiError::bad_request("INVALID_BUNDLE", "files must list at least one workflow file"));
    }
    if let Some(timeout) = bundle.timeout_ms {
        if !TIMEOUT_MS_RANGE.contains(&timeout) {
            return Err(ApiError::bad_request(
                "INVALID_TIMEOUT",
                format!("timeout_ms must be between {} and {}", TIMEOUT_MS_RANGE.start(), TIMEOUT_MS_RANGE.end()),
            ));
        }
    }
    let mut errors = Vec::new();
    let mut files: Vec<(String, String)> = Vec::new();
    for (index, file) in bundle.files.into_iter().enumerate() {
        if file.path.starts_with('/') || file.path.split('/').any(|part| matches!(part, "" | "." | "..")) {
            errors.push(format!("files[{index}].path {:?} must be relative, without `..`, `.` or `//`", file.path));
            continue;
        }
        if file.content.len() > MAX_FILE_BYTES {
            errors.push(format!("{}: larger than {} bytes", file.path, MAX_FILE_BYTES));
            continue;
        }
        if files.iter().any(|(path, _)| *path == file.path) {
            errors.push(format!("files[{index}].path {:?} is listed twice", file.path));
            continue;
        }
        files.push((file.path, file.content));
    }
    // NOTE: a file no other file imports is a workflow; the rest are the project modules they
    // import, linked here as Kinde bundles a project.
    let (linked, link_errors) = claimflow_workflow_source::link_bundle(&files);
    errors.extend(link_errors.iter().map(ToString::to_string));
    // NOTE: as Kinde's runtime does, settings are what the module exports once evaluated: a
    // worker evaluates its top level (auth-service links no JavaScript engine).
    let mut compiled = Vec::new();
    for workflow in linked {
        match inspect(&state, &workflow).await? {
            ModuleInspection::Evaluated(exports) => {
                let claimflow_workflow_source::LinkedWorkflow { path, source, module, graph, module_sources } =
                    workflow;
                let settled =
                    claimflow_workflow_source::read_settings(&path, &source, module, &exports).and_then(|settled| {
                        for (path, source) in &module_sources {
                            claimflow_workflow_source::check_module_bindings(path, source, &settled.settings)?;
                        }
                        Ok(settled)
                    });
                match settled {
                    Ok(settled) => compiled.push(((path, source, graph), settled)),
                    Err(err) => errors.push(err.to_string()),
                }
            }
            ModuleInspection::Failed(error) => {
                // NOTE: the position is in whichever file the error arose in.
                let (line, column) = error.position.unwrap_or((1, 1));
                let path = error.path.as_deref().unwrap_or(&workflow.path);
                errors.push(format!("{path}:{line}:{column}: {}", error.message));
            }
        }
    }
    for (i, ((path, _, _), workflow)) in compiled.iter().enumerate() {
        if let Some(((other, _, _), _)) = compiled[..i].iter().find(|(_, w)| w.trigger == workflow.trigger) {
            errors.push(format!(
                "{other} and {path} both use the trigger {}; only one workflow per trigger can be live",
                workflow.trigger
            ));
        }
    }
    if !errors.is_empty() {
        return Err(ApiError::bad_request("INVALID_WORKFLOW", errors.join("\n")));
    }
    let deployments = compiled
        .into_iter()
        .map(|((path, source, graph), workflow)| NewDeployment {
            code_hash: claimflow_contracts::workflow::code_hash(&workflow.code, &graph),
            workflow_id: workflow.workflow_id,
            name: workflow.name,
            trigger: workflow.trigger,
            settings: workflow.settings,
            source_path: path,
            source,
            code: workflow.code,
            source_map: workflow.source_map,
            graph,
            timeout_ms: bundle.timeout_ms,
        })
        .collect();
    let deployments = state
        .store
        .deploy_workflows(deployments)
        .await?
        .into_iter()
        .map(|d| DeployedVersion {
            workflow_id: d.workflow_id,
            version: d.version,
            deployment_id: d.id,
            trigger: d.trigger,
            source_path: d.source_path,
            timeout_ms: d.timeout_ms,
        })
        .collect();
    reply("WORKFLOWS_DEPLOYED", "Workflows deployed", DeployedVersions { deployments })
}

/// A deployment as the list shows it; `id` and `deployment_id` are the same.
#[derive(Serialize, ToSchema)]
pub struct DeploymentView {
    id: String,
    workflow_id: String,
    version: i32,
    deployment_id: String,
    name: String,
    #[schema(value_type = String)]
    trigger: Trigger,
    source_path: String,
    live: bool,
    created_at: i64,
    timeout_ms: Option<i64>,
}

impl DeploymentView {
    fn new(d: workflow_deployment::Model, live: &[String]) -> Self {
        Self {
            live: live.contains(&d.id),
            deployment_id: d.id.clone(),
            id: d.id,
            workflow_id: d.workflow_id,
            version: d.version,
            name: d.name,
            trigger: d.trigger,
            source_path: d.source_path,
            created_at: d.created_at,
            timeout_ms: d.timeout_ms,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct DeploymentList {
    deployments: Vec<DeploymentView>,
    next_token: Option<String>,
}

#[utoipa::path(get, path = "/workflows", summary = "List workflow deployments", params(Page),
    security(("bearer" = ["read:workflows"])), responses((status = 200, body = Reply<DeploymentList>), BadRequest))]
pub async fn list(State(state): State<AppState>, ApiQuery(page): ApiQuery<Page>) -> Answer<DeploymentList> {
    let live = state.store.live_deployment_ids().await?;
    let deployments: Vec<DeploymentView> =
        state.store.list_deployments().await?.into_iter().map(|d| DeploymentView::new(d, &live)).collect();
    let (mut deployments, next_token) = paginate(deployments, &page, |d| &d.id);
    // Shown by workflow, then version.
    deployments.sort_by(|a, b| (&a.workflow_id, a.version).cmp(&(&b.workflow_id, b.version)));
    reply("OK", "Success", DeploymentList { deployments, next_token })
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct RunQuery {
    workflow_id: Option<String>,
    status: Option<String>,
    /// RFC 3339 times: runs created at or after `since`, before `until`.
    since: Option<String>,
    until: Option<String>,
    page_size: Option<u64>,
    next_token: Option<String>,
}

pub(super) fn parse_time(name: &str, value: &str) -> Result<i64, ApiError> {
    time::OffsetDateTime::parse(value, &time::format_description::well_known::Rfc3339)
        .map(|time| (time.unix_timestamp_nanos() / 1_000_000) as i64)
        .map_err(|_| {
            ApiError::bad_request("INVALID_TIME", format!("{name} must be an RFC 3339 time, e.g. 2026-11-23T10:00:00Z"))
        })
}

#[derive(Serialize, ToSchema)]
pub struct RunView {
    id: String,
    event_id: String,
    workflow_id: String,
    version: i32,
    deployment_id: String,
    #[schema(value_type = String)]
    trigger: Trigger,
    /// `ok`, `failed`, `timed_out` or `out_of_memory`.
    #[schema(value_type = String)]
    status: RunStatus,
    duration_us: i64,
    /// Console output: `[{level, message}]`.
    #[schema(value_type = Vec<Object>)]
    logs: Value,
    /// Claims the run set, per token kind: `{"m2m": {...}}`.
    #[schema(value_type = Object)]
    claims_set: Value,
    /// Claims the signer refused: `[{token, claim, reason}]`.
    #[schema(value_type = Vec<Object>)]
    rejected: Value,
    error: Option<String>,
    created_at: i64,
    worker_id: String,
}

impl From<workflow_run::Model> for RunView {
    fn from(run: workflow_run::Model) -> Self {
        Self {
            id: run.id,
            event_id: run.event_id,
            workflow_id: run.workflow_id,
            version: run.version,
            deployment_id: run.deployment_id,
            trigger: run.trigger,
            status: run.status,
            duration_us: run.duration_us,
            logs: run.logs,
            claims_set: run.claims_set,
            rejected: run.rejected,
            error: run.error,
            created_at: run.created_at,
            worker_id: run.worker_id,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct RunList {
    runs: Vec<RunView>,
    next_token: Option<String>,
}

#[utoipa::path(get, path = "/workflows/runs", summary = "List runs, newest first", params(RunQuery),
    security(("bearer" = ["read:workflows"])), responses((status = 200, body = Reply<RunList>), BadRequest))]
pub async fn list_runs(State(state): State<AppState>, ApiQuery(query): ApiQuery<RunQuery>) -> Answer<RunList> {
    let status = query
        .status
        .as_deref()
        .map(|status| {
            RunStatus::parse(status).ok_or_else(|| {
                let all: Vec<&str> = RunStatus::ALL.iter().map(|status| status.as_str()).collect();
                ApiError::bad_request("INVALID_STATUS", format!("status must be one of {}", all.join(", ")))
            })
        })
        .transpose()?;
    let before = keyset_after(query.next_token.as_deref())?;
    let page_size = query.page_size.unwrap_or(50).clamp(1, claimflow_storage::MAX_PAGE_SIZE);
    let filter = RunFilter {
        workflow_id: query.workflow_id,
        status,
        since_ms: query.since.as_deref().map(|since| parse_time("since", since)).transpose()?,
        until_ms: query.until.as_deref().map(|until| parse_time("until", until)).transpose()?,
        before,
        limit: page_size + 1,
    };
    let runs = state.store.list_runs(&filter).await?;
    let (runs, next_token) = keyset_page(runs, page_size, |run| (run.created_at, run.id.as_str()));
    let runs = runs.into_iter().map(RunView::from).collect();
    reply("OK", "Success", RunList { runs, next_token })
}

#[derive(Serialize, ToSchema)]
pub struct OneRun {
    run: RunView,
}

#[utoipa::path(get, path = "/workflows/runs/{run_id}", summary = "Get one run",
    security(("bearer" = ["read:workflows"])), responses((status = 200, body = Reply<OneRun>), NotFound))]
pub async fn get_run(State(state): State<AppState>, Path(run_id): Path<String>) -> Answer<OneRun> {
    let run = state.store.find_run(&run_id).await?.ok_or_else(|| ApiError::not_found("run", &run_id))?;
    reply("OK", "Success", OneRun { run: run.into() })
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Rollback {
    version: i32,
}

#[derive(Serialize, ToSchema)]
pub struct LiveDeployment {
    workflow_id: String,
    version: i32,
    deployment_id: String,
    #[schema(value_type = String)]
    trigger: Trigger,
}

#[derive(Serialize, ToSchema)]
pub struct MadeLive {
    deployment: LiveDeployment,
}

/// Makes an earlier version live again (or any version: this is also roll-forward).
#[utoipa::path(post, path = "/workflows/{workflow_id}/rollback", summary = "Make a version live",
    request_body = Rollback, security(("bearer" = ["update:workflows"])),
    responses((status = 200, body = Reply<MadeLive>), BadRequest, NotFound))]
pub async fn rollback(
    State(state): State<AppState>,
    Path(workflow_id): Path<String>,
    ApiJson(body): ApiJson<Rollback>,
) -> Answer<MadeLive> {
    let deployment = state.store.make_live(&workflow_id, body.version).await?;
    reply(
        "WORKFLOW_LIVE",
        "Workflow version is live",
        MadeLive {
            deployment: LiveDeployment {
                workflow_id: deployment.workflow_id,
                version: deployment.version,
                deployment_id: deployment.id,
                trigger: deployment.trigger,
            },
        },
    )
}

#[derive(Serialize, ToSchema)]
pub struct WorkflowDeleted {
    versions_deleted: u64,
}

#[utoipa::path(delete, path = "/workflows/{workflow_id}", summary = "Delete a workflow and its versions",
    security(("bearer" = ["delete:workflows"])), responses((status = 200, body = Reply<WorkflowDeleted>), NotFound))]
pub async fn delete(State(state): State<AppState>, Path(workflow_id): Path<String>) -> Answer<WorkflowDeleted> {
    let versions_deleted = state.store.delete_workflow(&workflow_id).await?;
    reply("WORKFLOW_DELETED", "Workflow deleted", WorkflowDeleted { versions_deleted })
}
