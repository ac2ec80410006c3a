//! `/api/v1/properties`: custom property definitions.

use axum::extract::{Path, State};
use claimflow_storage::NewProperty;
use serde::Deserialize;
use serde_json::{json, Value};

use super::{ok, paginate, ApiError, ApiJson, ApiQuery, Caller, Page};
use crate::AppState;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateProperty {
    name: String,
    key: String,
    #[serde(default)]
    description: Option<String>,
    /// Kinde's `single_line_text` / `multi_line_text`; values are text either way.
    #[serde(rename = "type", default)]
    _kind: Option<String>,
    context: String,
    #[serde(default)]
    is_private: bool,
    #[serde(default)]
    category_id: Option<String>,
}

fn describe(property: &claimflow_storage::entity::property::Model) -> Value {
    json!({
        "id": property.id, "key": property.key, "name": property.name, "description": property.description,
        "context": property.context, "is_private": property.is_private, "is_kinde_property": false,
    })
}

pub async fn list(
    caller: Caller,
    State(state): State<AppState>,
    ApiQuery(page): ApiQuery<Page>,
) -> Result<axum::Json<Value>, ApiError> {
    caller.require("read:properties")?;
    let properties: Vec<Value> = state.store.list_properties().await?.iter().map(describe).collect();
    let (properties, next_token) = paginate(properties, &page);
    Ok(ok(
        "OK",
        "Success",
        json!({ "properties": properties, "has_more": next_token.is_some(), "next_token": next_token }),
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateProperty {
    name: Option<String>,
    description: Option<String>,
    is_private: Option<bool>,
    #[serde(default)]
    category_id: Option<String>,
}

pub async fn update(
    caller: Caller,
    State(state): State<AppState>,
    Path(property_id): Path<String>,
    ApiJson(body): ApiJson<UpdateProperty>,
) -> Result<axum::Json<Value>, ApiError> {
    caller.require("update:properties")?;
    let _ = body.category_id;
    if body.name.as_deref().is_some_and(|name| name.trim().is_empty()) {
        return Err(ApiError::bad_request("INVALID_NAME", "name must not be empty"));
    }
    state.store.update_property(&property_id, body.name, body.description, body.is_private).await?;
    Ok(ok("OK", "Property updated", json!({})))
}

pub async fn delete(
    caller: Caller,
    State(state): State<AppState>,
    Path(property_id): Path<String>,
) -> Result<axum::Json<Value>, ApiError> {
    caller.require("delete:properties")?;
    state.store.delete_property(&property_id).await?;
    Ok(ok("OK", "Property deleted", json!({})))
}

pub async fn create(
    caller: Caller,
    State(state): State<AppState>,
    ApiJson(body): ApiJson<CreateProperty>,
) -> Result<axum::Json<Value>, ApiError> {
    caller.require("create:properties")?;
    let _ = body.category_id;
    if !matches!(body.context.as_str(), "usr" | "org" | "app") {
        return Err(ApiError::bad_request(
            "INVALID_CONTEXT",
            format!("context {:?} must be \"usr\", \"org\" or \"app\"", body.context),
        ));
    }
    let valid_key =
        !body.key.is_empty() && body.key.len() <= 64 && body.key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !valid_key {
        return Err(ApiError::bad_request("INVALID_KEY", "key must be 1 to 64 letters, digits or underscores"));
    }
    if body.name.trim().is_empty() {
        return Err(ApiError::bad_request("INVALID_NAME", "name must not be empty"));
    }
    let property = state
        .store
        .create_property(NewProperty {
            key: body.key,
            name: body.name,
            description: body.description.unwrap_or_default(),
            context: body.context,
            is_private: body.is_private,
        })
        .await?;
    Ok(ok("OK", "Property created", json!({ "property": { "id": property.id } })))
}
