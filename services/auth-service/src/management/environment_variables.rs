//! `/api/v1/environment_variables`: values workflows read with `kinde.env.get`. A secret's value
//! is encrypted at rest and never returned after creation.

use axum::extract::{Path, State};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{
    paginate, reply, Answer, ApiError, ApiJson, ApiQuery, BadRequest, Conflict, Done, Id, NotFound, Page, Reply,
};
use crate::AppState;

/// Kinde limits environment variable values; so does claimflow.
pub const MAX_VALUE_BYTES: usize = 2048;
const MAX_KEY_BYTES: usize = 128;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateVariable {
    #[schema(max_length = 128)]
    key: String,
    value: String,
    #[serde(default)]
    is_secret: bool,
}

/// A variable as the API shows it: a secret's value never leaves.
#[derive(Serialize, ToSchema)]
pub struct VariableView {
    id: String,
    key: String,
    /// Null for a secret.
    value: Option<String>,
    is_secret: bool,
    created_on: i64,
}

impl From<claimflow_storage::entity::environment_variable::Model> for VariableView {
    fn from(variable: claimflow_storage::entity::environment_variable::Model) -> Self {
        Self {
            id: variable.id,
            key: variable.key,
            value: if variable.is_secret { None } else { Some(variable.value) },
            is_secret: variable.is_secret,
            created_on: variable.created_at,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct VariableList {
    environment_variables: Vec<VariableView>,
    has_more: bool,
    next_token: Option<String>,
}

#[utoipa::path(get, path = "/environment_variables",
    summary = "List environment variables (secret values are never returned)", params(Page),
    security(("bearer" = ["read:environment_variables"])),
    responses((status = 200, body = Reply<VariableList>), BadRequest))]
pub async fn list(State(state): State<AppState>, ApiQuery(page): ApiQuery<Page>) -> Answer<VariableList> {
    let variables: Vec<VariableView> =
        state.store.list_environment_variables().await?.into_iter().map(VariableView::from).collect();
    let (environment_variables, next_token) = paginate(variables, &page, |variable| &variable.id);
    reply("OK", "Success", VariableList { environment_variables, has_more: next_token.is_some(), next_token })
}

#[derive(Serialize, ToSchema)]
pub struct OneVariable {
    environment_variable: VariableView,
}

#[utoipa::path(get, path = "/environment_variables/{variable_id}", summary = "Get an environment variable",
    security(("bearer" = ["read:environment_variables"])),
    responses((status = 200, body = Reply<OneVariable>), NotFound))]
pub async fn get_one(State(state): State<AppState>, Path(variable_id): Path<String>) -> Answer<OneVariable> {
    let variable = state
        .store
        .find_environment_variable(&variable_id)
        .await?
        .ok_or_else(|| ApiError::not_found("environment variable", &variable_id))?;
    reply("OK", "Success", OneVariable { environment_variable: variable.into() })
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateVariable {
    #[schema(max_length = 128)]
    key: Option<String>,
    value: Option<String>,
    is_secret: Option<bool>,
}

#[utoipa::path(patch, path = "/environment_variables/{variable_id}", summary = "Update an environment variable",
    request_body = UpdateVariable, security(("bearer" = ["update:environment_variables"])),
    responses((status = 200, body = Reply<Done>), BadRequest, NotFound, Conflict))]
pub async fn update(
    State(state): State<AppState>,
    Path(variable_id): Path<String>,
    ApiJson(body): ApiJson<UpdateVariable>,
) -> Answer<Done> {
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
    reply("OK", "Environment variable updated", Done {})
}

#[utoipa::path(delete, path = "/environment_variables/{variable_id}", summary = "Delete an environment variable",
    security(("bearer" = ["delete:environment_variables"])), responses((status = 200, body = Reply<Done>), NotFound))]
pub async fn delete(State(state): State<AppState>, Path(variable_id): Path<String>) -> Answer<Done> {
    state.store.delete_environment_variable(&variable_id).await?;
    reply("OK", "Environment variable deleted", Done {})
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

#[derive(Serialize, ToSchema)]
pub struct CreatedVariable {
    environment_variable: Id,
}

#[utoipa::path(post, path = "/environment_variables", summary = "Create an environment variable",
    request_body = CreateVariable, security(("bearer" = ["create:environment_variables"])),
    responses((status = 200, body = Reply<CreatedVariable>), BadRequest, Conflict))]
pub async fn create(State(state): State<AppState>, ApiJson(body): ApiJson<CreateVariable>) -> Answer<CreatedVariable> {
    validate_key(&body.key)?;
    validate_value(&body.value)?;
    let stored = if body.is_secret { state.config.secrets.seal(&body.value) } else { body.value };
    let created = state.store.create_environment_variable(&body.key, &stored, body.is_secret).await?;
    reply("OK", "Environment variable created", CreatedVariable { environment_variable: Id { id: created.id } })
}
