//! `/api/v1/apis`: resource servers, the applications authorized for them, their scopes.

use axum::extract::{Path, State};
use serde::Deserialize;
use serde_json::{json, Value};

use super::{ok, paginate, ApiError, ApiJson, ApiQuery, Caller, Page};
use crate::AppState;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateApi {
    name: String,
    audience: String,
}

pub async fn list(
    caller: Caller,
    State(state): State<AppState>,
    ApiQuery(page): ApiQuery<Page>,
) -> Result<axum::Json<Value>, ApiError> {
    caller.require("read:apis")?;
    let apis: Vec<Value> = state
        .store
        .list_apis()
        .await?
        .into_iter()
        .map(|api| json!({ "id": api.id, "name": api.name, "audience": api.audience, "is_management_api": api.is_management_api }))
        .collect();
    let (apis, next_token) = paginate(apis, &page);
    Ok(ok("OK", "Success", json!({ "apis": apis, "next_token": next_token })))
}

pub async fn create(
    caller: Caller,
    State(state): State<AppState>,
    ApiJson(body): ApiJson<CreateApi>,
) -> Result<axum::Json<Value>, ApiError> {
    caller.require("create:apis")?;
    if body.name.trim().is_empty() {
        return Err(ApiError::bad_request("INVALID_NAME", "name must not be empty"));
    }
    if body.audience.trim().is_empty() || body.audience.chars().any(char::is_whitespace) {
        return Err(ApiError::bad_request("INVALID_AUDIENCE", "audience must be a non-empty string without spaces"));
    }
    let api = state.store.create_api(body.name.trim(), &body.audience).await?;
    Ok(ok("API_CREATED", "API created", json!({ "api": { "id": api.id } })))
}

pub async fn get_one(
    caller: Caller,
    State(state): State<AppState>,
    Path(api_id): Path<String>,
) -> Result<axum::Json<Value>, ApiError> {
    caller.require("read:apis")?;
    let api = state.store.find_api(&api_id).await?.ok_or_else(|| ApiError::not_found("API", &api_id))?;
    let scopes: Vec<Value> = state
        .store
        .list_api_scopes(&api.id)
        .await?
        .into_iter()
        .map(|scope| json!({ "id": scope.id, "key": scope.key, "description": scope.description }))
        .collect();
    Ok(ok(
        "OK",
        "success_response",
        json!({ "api": {
            "id": api.id, "name": api.name, "audience": api.audience, "is_management_api": api.is_management_api, "scopes": scopes,
        }}),
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateApplications {
    applications: Vec<ApplicationChange>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApplicationChange {
    id: String,
    /// Absent to authorize; `"delete"` to revoke.
    #[serde(default)]
    operation: Option<String>,
}

pub async fn update_applications(
    caller: Caller,
    State(state): State<AppState>,
    Path(api_id): Path<String>,
    ApiJson(body): ApiJson<UpdateApplications>,
) -> Result<axum::Json<Value>, ApiError> {
    caller.require("update:apis")?;
    let api = state.store.find_api(&api_id).await?.ok_or_else(|| ApiError::not_found("API", &api_id))?;
    let (mut connect, mut disconnect) = (Vec::new(), Vec::new());
    for (index, change) in body.applications.into_iter().enumerate() {
        match change.operation.as_deref() {
            None => connect.push(change.id),
            Some("delete") => disconnect.push(change.id),
            Some(other) => {
                return Err(ApiError::bad_request(
                    "INVALID_OPERATION",
                    format!("applications[{index}].operation {other:?} is not supported; omit it to authorize or use \"delete\""),
                ))
            }
        }
    }
    state.store.set_api_applications(&api.id, &connect, &disconnect).await?;
    Ok(ok(
        "API_APPLICATIONS_UPDATED",
        "API applications updated",
        json!({
            "applications_connected": connect, "applications_disconnected": disconnect,
        }),
    ))
}

pub async fn list_scopes(
    caller: Caller,
    State(state): State<AppState>,
    Path(api_id): Path<String>,
) -> Result<axum::Json<Value>, ApiError> {
    caller.require("read:api_scopes")?;
    state.store.find_api(&api_id).await?.ok_or_else(|| ApiError::not_found("API", &api_id))?;
    let scopes: Vec<Value> = state
        .store
        .list_api_scopes(&api_id)
        .await?
        .into_iter()
        .map(|scope| json!({ "id": scope.id, "key": scope.key, "description": scope.description }))
        .collect();
    Ok(ok("OK", "Success", json!({ "scopes": scopes })))
}

pub async fn grant_scope(
    caller: Caller,
    State(state): State<AppState>,
    Path((api_id, application_id, scope_id)): Path<(String, String, String)>,
) -> Result<axum::Json<Value>, ApiError> {
    caller.require("update:apis")?;
    state.store.grant_scope(&api_id, &application_id, &scope_id).await?;
    Ok(ok("API_APPLICATION_SCOPE_ADDED", "API application scope added", json!({})))
}

pub async fn delete(
    caller: Caller,
    State(state): State<AppState>,
    Path(api_id): Path<String>,
) -> Result<axum::Json<Value>, ApiError> {
    caller.require("delete:apis")?;
    state.store.delete_api(&api_id).await?;
    Ok(ok("API_DELETED", "API successfully deleted", json!({})))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateScope {
    key: String,
    #[serde(default)]
    description: Option<String>,
}

pub async fn create_scope(
    caller: Caller,
    State(state): State<AppState>,
    Path(api_id): Path<String>,
    ApiJson(body): ApiJson<CreateScope>,
) -> Result<axum::Json<Value>, ApiError> {
    caller.require("create:api_scopes")?;
    if body.key.is_empty() || body.key.chars().any(char::is_whitespace) {
        return Err(ApiError::bad_request("INVALID_KEY", "key must be a non-empty scope name without spaces"));
    }
    let scope =
        state.store.create_api_scope(&api_id, &body.key, body.description.as_deref().unwrap_or_default()).await?;
    Ok(ok("OK", "Success", json!({ "scope": { "id": scope.id } })))
}
