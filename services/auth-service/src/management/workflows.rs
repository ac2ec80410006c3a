//! `/api/v1/workflows`: deploy a bundle of workflow files, list deployments and runs.
//! (Kinde offers these only in its dashboard.)

use axum::extract::{Path, State};
use claimflow_storage::{NewDeployment, RunFilter};
use serde::Deserialize;
use serde_json::{json, Value};

use super::{keyset_after, keyset_page, ok, ApiError, ApiJson, ApiQuery, Caller};
use crate::AppState;

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
        match claimflow_workflow_source::compile(&file.path, &file.content) {
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

pub async fn list(
    caller: Caller,
    State(state): State<AppState>,
    ApiQuery(page): ApiQuery<super::Page>,
) -> Result<axum::Json<Value>, ApiError> {
    caller.require("read:workflows")?;
    let live = state.store.live_deployment_ids().await?;
    let deployments: Vec<Value> = state
        .store
        .list_deployments()
        .await?
        .into_iter()
        .map(|d| {
            json!({
                "id": d.id, "workflow_id": d.workflow_id, "version": d.version, "deployment_id": d.id, "name": d.name,
                "trigger": d.trigger, "source_path": d.source_path, "live": live.contains(&d.id), "created_at": d.created_at,
                "timeout_ms": d.timeout_ms,
            })
        })
        .collect();
    let (mut deployments, next_token) = super::paginate(deployments, &page);
    // Shown by workflow, then version.
    deployments.sort_by_key(|d| {
        (d["workflow_id"].as_str().unwrap_or_default().to_owned(), d["version"].as_i64().unwrap_or_default())
    });
    Ok(ok("OK", "Success", json!({ "deployments": deployments, "next_token": next_token })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunQuery {
    workflow_id: Option<String>,
    status: Option<String>,
    /// RFC 3339 times: runs created at or after `since`, before `until`.
    since: Option<String>,
    until: Option<String>,
    page_size: Option<u64>,
    next_token: Option<String>,
}

const RUN_STATUSES: &[&str] = &["ok", "failed", "timed_out", "out_of_memory"];

pub(super) fn parse_time(name: &str, value: &str) -> Result<i64, ApiError> {
    time::OffsetDateTime::parse(value, &time::format_description::well_known::Rfc3339)
        .map(|time| (time.unix_timestamp_nanos() / 1_000_000) as i64)
        .map_err(|_| {
            ApiError::bad_request("INVALID_TIME", format!("{name} must be an RFC 3339 time, e.g. 2026-11-23T10:00:00Z"))
        })
}

fn describe_run(run: claimflow_storage::entity::workflow_run::Model) -> Value {
    json!({
        "id": run.id, "event_id": run.event_id, "workflow_id": run.workflow_id, "version": run.version,
        "deployment_id": run.deployment_id, "trigger": run.trigger, "status": run.status,
        "duration_us": run.duration_us, "logs": run.logs, "claims_set": run.claims_set,
        "rejected": run.rejected, "error": run.error, "created_at": run.created_at, "worker_id": run.worker_id,
    })
}

pub async fn list_runs(
    caller: Caller,
    State(state): State<AppState>,
    ApiQuery(query): ApiQuery<RunQuery>,
) -> Result<axum::Json<Value>, ApiError> {
    caller.require("read:workflows")?;
    if let Some(status) = &query.status {
        if !RUN_STATUSES.contains(&status.as_str()) {
            return Err(ApiError::bad_request(
                "INVALID_STATUS",
                format!("status must be one of {}", RUN_STATUSES.join(", ")),
            ));
        }
    }
    let before = keyset_after(query.next_token.as_deref())?;
    let page_size = query.page_size.unwrap_or(50).clamp(1, 500);
    let filter = RunFilter {
        workflow_id: query.workflow_id,
        status: query.status,
        since_ms: query.since.as_deref().map(|since| parse_time("since", since)).transpose()?,
        until_ms: query.until.as_deref().map(|until| parse_time("until", until)).transpose()?,
        before,
        limit: page_size + 1,
    };
    let runs = state.store.list_runs(&filter).await?;
    let (runs, next_token) = keyset_page(runs, page_size, |run| (run.created_at, run.id.as_str()));
    let runs: Vec<Value> = runs.into_iter().map(describe_run).collect();
    Ok(ok("OK", "Success", json!({ "runs": runs, "next_token": next_token })))
}

pub async fn get_run(
    caller: Caller,
    State(state): State<AppState>,
    Path(run_id): Path<String>,
) -> Result<axum::Json<Value>, ApiError> {
    caller.require("read:workflows")?;
    let run = state.store.find_run(&run_id).await?.ok_or_else(|| ApiError::not_found("run", &run_id))?;
    Ok(ok("OK", "Success", json!({ "run": describe_run(run) })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rollback {
    version: i32,
}

/// Makes an earlier version live again (or any version: this is also roll-forward).
pub async fn rollback(
    caller: Caller,
    State(state): State<AppState>,
    Path(workflow_id): Path<String>,
    ApiJson(body): ApiJson<Rollback>,
) -> Result<axum::Json<Value>, ApiError> {
    caller.require("update:workflows")?;
    let deployment = state.store.make_live(&workflow_id, body.version).await?;
    Ok(ok(
        "WORKFLOW_LIVE",
        "Workflow version is live",
        json!({ "deployment": {
            "workflow_id": deployment.workflow_id, "version": deployment.version,
            "deployment_id": deployment.id, "trigger": deployment.trigger,
        }}),
    ))
}

pub async fn delete(
    caller: Caller,
    State(state): State<AppState>,
    Path(workflow_id): Path<String>,
) -> Result<axum::Json<Value>, ApiError> {
    caller.require("delete:workflows")?;
    let versions = state.store.delete_workflow(&workflow_id).await?;
    Ok(ok("WORKFLOW_DELETED", "Workflow deleted", json!({ "versions_deleted": versions })))
}
