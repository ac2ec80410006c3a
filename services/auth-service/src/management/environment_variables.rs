//! `/api/v1/environment_variables`: values workflows read with `kinde.env.get`. A secret's value
//! is encrypted at rest and never returned after creation.

use axum::extract::{Path, State};
use serde::Deserialize;
use serde_json::{json, Value};

use super::{ok, paginate, ApiError, ApiJson, ApiQuery, Caller, Page};
use crate::AppState;

/// Kinde limits environment variable values; so does claimflow.
pub const MAX_VALUE_BYTES: usize = 2048;
const MAX_KEY_BYTES: usize = 128;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateVariable {
    key: String,
    value: String,
    #[serde(default)]
    is_secret: bool,
}

/// A variable as the API shows it: a secret's value never leaves.
fn describe(variable: claimflow_storage::entity::environment_variable::Model) -> Value {
    json!({
        "id": variable.id,
        "key": variable.key,
        "value": if variable.is_secret { Value::Null } else { Value::String(variable.value) },
        "is_secret": variable.is_secret,
        "created_on": variable.created_at,
    })
}

pub async fn list(
    caller: Caller,
    State(state): State<AppState>,
    ApiQuery(page): ApiQuery<Page>,
) -> Result<axum::Json<Value>, ApiError> {
    caller.require("read:environment_variables")?;
    let variables: Vec<Value> = state.store.list_environment_variables().await?.into_iter().map(describe).collect();
    let (variables, next_token) = paginate(variables, &page);
    Ok(ok(
        "OK",
        "Success",
        json!({ "environment_variables": variables, "has_more": next_token.is_some(), "next_token": next_token }),
    ))
}

pub async fn get_one(
    caller: Caller,
    State(state): State<AppState>,
    Path(variable_id): Path<String>,
) -> Result<axum::Json<Value>, ApiError> {
    caller.require("read:environment_variables")?;
    let variable = state
        .store
        .find_environment_variable(&variable_id)
        .await?
        .ok_or_else(|| ApiError::not_found("environment variable", &variable_id))?;
    Ok(ok("OK", "Success", json!({ "environment_variable": describe(variable) })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateVariable {
    key: Option<String>,
    value: Option<String>,
    is_secret: Option<bool>,
}

pub async fn update(
    caller: Caller,
    State(state): State<AppState>,
    Path(variable_id): Path<String>,
    ApiJson(body): ApiJson<UpdateVariable>,
) -> Result<axum::Json<Value>, ApiError> {
    caller.require("update:environment_variables")?;
    let current = state
        .store
        .find_environment_variable(&variable_id)
        .await?
        .ok_or_else(|| ApiError::not_found("environment variable", &variable_id))?;
    if let Some(key) = &body.key {
        validate_key(key)?;
    }
    if body.is_secret == Some(false) && current.is_secret {
        return Err(ApiError::bad_request(
            "INVALID_IS_SECRET",
            "a secret cannot be made public; delete it and create a new one",
        ));
    }
    let is_secret = body.is_secret.unwrap_or(current.is_secret);
    let stored_value = match (body.value, is_secret && !current.is_secret) {
        (Some(value), _) => {
            validate_value(&value)?;
            Some(if is_secret { state.config.secrets.seal(&value) } else { value })
        }
        // Becoming secret: the stored plain value is encrypted now.
        (None, true) => Some(state.config.secrets.seal(&current.value)),
        (None, false) => None,
    };
    let change = claimflow_storage::VariableChange { key: body.key, stored_value, is_secret: body.is_secret };
    state.store.update_environment_variable(&variable_id, change).await?;
    Ok(ok("OK", "Environment variable updated", json!({})))
}

pub async fn delete(
    caller: Caller,
    State(state): State<AppState>,
    Path(variable_id): Path<String>,
) -> Result<axum::Json<Value>, ApiError> {
    caller.require("delete:environment_variables")?;
    state.store.delete_environment_variable(&variable_id).await?;
    Ok(ok("OK", "Environment variable deleted", json!({})))
}

fn validate_key(key: &str) -> Result<(), ApiError> {
    let valid =
        !key.is_empty() && key.len() <= MAX_KEY_BYTES && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if valid {
        Ok(())
    } else {
        Err(ApiError::bad_request(
            "INVALID_KEY",
            format!("key must be 1 to {MAX_KEY_BYTES} letters, digits or underscores"),
        ))
    }
}

fn validate_value(value: &str) -> Result<(), ApiError> {
    if value.len() > MAX_VALUE_BYTES {
        return Err(ApiError::bad_request("INVALID_VALUE", format!("value must be at most {MAX_VALUE_BYTES} bytes")));
    }
    Ok(())
}

pub async fn create(
    caller: Caller,
    State(state): State<AppState>,
    ApiJson(body): ApiJson<CreateVariable>,
) -> Result<axum::Json<Value>, ApiError> {
    caller.require("create:environment_variables")?;
    validate_key(&body.key)?;
    validate_value(&body.value)?;
    let stored = if body.is_secret { state.config.secrets.seal(&body.value) } else { body.value };
    let created = state.store.create_environment_variable(&body.key, &stored, body.is_secret).await?;
    Ok(ok("OK", "Environment variable created", json!({ "environment_variable": { "id": created.id } })))
}
