//! `/api/v1/workflows`: deploy a bundle of workflow files, list deployments and runs.
//! (Kinde offers these only in its dashboard.)

use axum::extract::{Query, State};
use claimflow_storage::{NewDeployment, RunFilter};
use serde::Deserialize;
use serde_json::{json, Value};

use super::{ok, ApiError, ApiJson, Caller};
use crate::{workflow_source, AppState};

/// The largest file a deployment accepts.
const MAX_FILE_BYTES: usize = 1024 * 1024;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Bundle {
    files: Vec<BundleFile>,
    /// Wall-time limit of each run of these workflows, milliseconds (default: the service's).
    #[serde(default)]
    timeout_ms: Option<i64>,
}

/// Bounds of a deployment's run time limit.
const TIMEOUT_MS_RANGE: std::ops::RangeInclusive<i64> = 10..=30_000;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BundleFile {
    /// Relative to the deployed directory, e.g. `kindeSrc/environment/workflows/hello/Workflow.ts`.
    path: String,
    content: String,
}

/// Compiles every file first; stores all of them, or none when any is invalid.
pub async fn deploy(
    caller: Caller,
    State(state): State<AppState>,
    ApiJson(bundle): ApiJson<Bundle>,
) -> Result<axum::Json<Value>, ApiError> {
    caller.require("create:workflows")?;
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
    let mut compiled = Vec::new();
    let mut errors = Vec::new();
    for (index, file) in bundle.files.iter().enumerate() {
        if file.path.split('/').any(|part| part == "..") || file.path.starts_with('/') {
            errors.push(format!("files[{index}].path {:?} must be relative, without `..`", file.path));
            continue;
        }
        if file.content.len() > MAX_FILE_BYTES {
            errors.push(format!("{}: larger than {} bytes", file.path, MAX_FILE_BYTES));
            continue;
        }
        match workflow_source::compile(&file.path, &file.content) {
            Ok(workflow) => compiled.push((file, workflow)),
            Err(err) => errors.push(err.to_string()),
        }
    }
    for (i, (file, workflow)) in compiled.iter().enumerate() {
        if let Some((other, _)) = compiled[..i].iter().find(|(_, w)| w.trigger == workflow.trigger) {
            errors.push(format!(
                "{} and {} both use the trigger {}; only one workflow per trigger can be live",
                other.path, file.path, workflow.trigger
            ));
        }
    }
    if !errors.is_empty() {
        return Err(ApiError::bad_request("INVALID_WORKFLOW", errors.join("\n")));
    }
    let deployments = compiled
        .into_iter()
        .map(|(file, workflow)| NewDeployment {
            workflow_id: workflow.workflow_id,
            name: workflow.name,
            trigger: workflow.trigger.as_str().to_owned(),
            settings: workflow.settings,
            source_path: file.path.clone(),
            source: file.content.clone(),
            code: workflow.code,
            code_hash: workflow.code_hash,
            source_map: workflow.source_map,
            timeout_ms: bundle.timeout_ms,
        })
        .collect();
    let deployed: Vec<Value> = state
        .store
        .deploy_workflows(deployments)
        .await?
        .into_iter()
        .map(|d| json!({ "workflow_id": d.workflow_id, "version": d.version, "deployment_id": d.id, "trigger": d.trigger, "source_path": d.source_path, "timeout_ms": d.timeout_ms }))
        .collect();
    Ok(ok("WORKFLOWS_DEPLOYED", "Workflows deployed", json!({ "deployments": deployed })))
}

pub async fn list(caller: Caller, State(state): State<AppState>) -> Result<axum::Json<Value>, ApiError> {
    caller.require("read:workflows")?;
    let live = state.store.live_deployment_ids().await?;
    let deployments: Vec<Value> = state
        .store
        .list_deployments()
        .await?
        .into_iter()
        .map(|d| json!({
            "workflow_id": d.workflow_id, "version": d.version, "deployment_id": d.id, "name": d.name,
            "trigger": d.trigger, "source_path": d.source_path, "live": live.contains(&d.id), "created_at": d.created_at,
        }))
        .collect();
    Ok(ok("OK", "Success", json!({ "deployments": deployments })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunQuery {
    workflow_id: Option<String>,
    status: Option<String>,
    page_size: Option<u64>,
}

pub async fn list_runs(
    caller: Caller,
    State(state): State<AppState>,
    Query(query): Query<RunQuery>,
) -> Result<axum::Json<Value>, ApiError> {
    caller.require("read:workflows")?;
    let filter =
        RunFilter { workflow_id: query.workflow_id, status: query.status, limit: query.page_size.unwrap_or(50) };
    let runs: Vec<Value> = state
        .store
        .list_runs(&filter)
        .await?
        .into_iter()
        .map(|run| {
            json!({
                "id": run.id, "event_id": run.event_id, "workflow_id": run.workflow_id, "version": run.version,
                "deployment_id": run.deployment_id, "trigger": run.trigger, "status": run.status,
                "duration_us": run.duration_us, "logs": run.logs, "claims_set": run.claims_set,
                "rejected": run.rejected, "error": run.error, "created_at": run.created_at, "worker_id": run.worker_id,
            })
        })
        .collect();
    Ok(ok("OK", "Success", json!({ "runs": runs })))
}
