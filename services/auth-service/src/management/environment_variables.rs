//! `/api/v1/environment_variables`: values workflows read with `kinde.env.get`. A secret's value
//! is encrypted at rest and never returned after creation.

use axum::extract::State;
use serde::Deserialize;
use serde_json::{json, Value};

use super::{ok, ApiError, ApiJson, Caller};
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

pub async fn list(caller: Caller, State(state): State<AppState>) -> Result<axum::Json<Value>, ApiError> {
    caller.require("read:environment_variables")?;
    let variables: Vec<Value> = state
        .store
        .list_environment_variables()
        .await?
        .into_iter()
        .map(|variable| {
            json!({
                "id": variable.id,
                "key": variable.key,
                "value": if variable.is_secret { Value::Null } else { Value::String(variable.value) },
                "is_secret": variable.is_secret,
                "created_on": variable.created_at,
            })
        })
        .collect();
    Ok(ok("OK", "Success", json!({ "environment_variables": variables, "has_more": false })))
}

pub async fn create(
    caller: Caller,
    State(state): State<AppState>,
    ApiJson(body): ApiJson<CreateVariable>,
) -> Result<axum::Json<Value>, ApiError> {
    caller.require("create:environment_variables")?;
    let valid_key = !body.key.is_empty()
        && body.key.len() <= MAX_KEY_BYTES
        && body.key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !valid_key {
        return Err(ApiError::bad_request(
            "INVALID_KEY",
            format!("key must be 1 to {MAX_KEY_BYTES} letters, digits or underscores"),
        ));
    }
    if body.value.len() > MAX_VALUE_BYTES {
        return Err(ApiError::bad_request("INVALID_VALUE", format!("value must be at most {MAX_VALUE_BYTES} bytes")));
    }
    let stored = if body.is_secret { state.config.secrets.seal(&body.value) } else { body.value };
    let created = state.store.create_environment_variable(&body.key, &stored, body.is_secret).await?;
    Ok(ok("OK", "Environment variable created", json!({ "environment_variable": { "id": created.id } })))
}
