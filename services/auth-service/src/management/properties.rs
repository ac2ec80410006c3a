//! `/api/v1/properties`: custom property definitions.

use axum::extract::{Path, State};
use claimflow_storage::{entity::property::PropertyContext, NewProperty};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{
    paginate, reply, Answer, ApiError, ApiJson, ApiQuery, BadRequest, Conflict, Done, Id, NotFound, Page, Reply,
};
use crate::AppState;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateProperty {
    #[schema(max_length = 256)]
    name: String,
    #[schema(max_length = 128)]
    key: String,
    #[serde(default)]
    #[schema(max_length = 1024)]
    description: Option<String>,
    /// Kinde's `single_line_text` / `multi_line_text`; values are text either way.
    #[serde(rename = "type", default)]
    _kind: Option<String>,
    #[schema(max_length = 32)]
    context: String,
    #[serde(default)]
    is_private: bool,
    #[serde(default)]
    #[schema(max_length = 128)]
    category_id: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct PropertyDefinition {
    id: String,
    key: String,
    name: String,
    description: String,
    context: String,
    is_private: bool,
    is_kinde_property: bool,
}

impl From<claimflow_storage::entity::property::Model> for PropertyDefinition {
    fn from(property: claimflow_storage::entity::property::Model) -> Self {
        Self {
            id: property.id,
            key: property.key,
            name: property.name,
            description: property.description,
            context: property.context.as_str().to_owned(),
            is_private: property.is_private,
            is_kinde_property: false,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct PropertyDefinitionList {
    properties: Vec<PropertyDefinition>,
    has_more: bool,
    next_token: Option<String>,
}

#[utoipa::path(get, path = "/properties", summary = "List properties", params(Page),
    security(("bearer" = ["read:properties"])),
    responses((status = 200, body = Reply<PropertyDefinitionList>), BadRequest))]
pub async fn list(State(state): State<AppState>, ApiQuery(page): ApiQuery<Page>) -> Answer<PropertyDefinitionList> {
    let properties: Vec<PropertyDefinition> =
        state.store.list_properties().await?.into_iter().map(PropertyDefinition::from).collect();
    let (properties, next_token) = paginate(properties, &page, |property| &property.id);
    reply("OK", "Success", PropertyDefinitionList { properties, has_more: next_token.is_some(), next_token })
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateProperty {
    #[schema(max_length = 256)]
    name: Option<String>,
    #[schema(max_length = 1024)]
    description: Option<String>,
    is_private: Option<bool>,
    #[serde(default)]
    #[schema(max_length = 128)]
    category_id: Option<String>,
}

#[utoipa::path(put, path = "/properties/{property_id}", summary = "Update a property", request_body = UpdateProperty,
    security(("bearer" = ["update:properties"])),
    responses((status = 200, body = Reply<Done>), BadRequest, NotFound))]
pub async fn update(
    State(state): State<AppState>,
    Path(property_id): Path<String>,
    ApiJson(body): ApiJson<UpdateProperty>,
) -> Answer<Done> {
    let _ = body.category_id;
    if body.name.as_deref().is_some_and(|name| name.trim().is_empty()) {
        return Err(ApiError::bad_request("INVALID_NAME", "name must not be empty"));
    }
    state.store.update_property(&property_id, body.name, body.description, body.is_private).await?;
    reply("OK", "Property updated", Done {})
}

#[utoipa::path(delete, path = "/properties/{property_id}", summary = "Delete a property",
    security(("bearer" = ["delete:properties"])), responses((status = 200, body = Reply<Done>), NotFound))]
pub async fn delete(State(state): State<AppState>, Path(property_id): Path<String>) -> Answer<Done> {
    state.store.delete_property(&property_id).await?;
    reply("OK", "Property deleted", Done {})
}

#[derive(Serialize, ToSchema)]
pub struct CreatedProperty {
    property: Id,
}

#[utoipa::path(post, path = "/properties", summary = "Create a property", request_body = CreateProperty,
    security(("bearer" = ["create:properties"])),
    responses((status = 200, body = Reply<CreatedProperty>), BadRequest, Conflict))]
pub async fn create(State(state): State<AppState>, ApiJson(body): ApiJson<CreateProperty>) -> Answer<CreatedProperty> {
    let _ = body.category_id;
    let Some(context) = PropertyContext::parse(&body.context) else {
        return Err(ApiError::bad_request(
            "INVALID_CONTEXT",
            format!("context {:?} must be \"usr\", \"org\" or \"app\"", body.context),
        ));
    };
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
            context,
            is_private: body.is_private,
        })
        .await?;
    reply("OK", "Property created", CreatedProperty { property: Id { id: property.id } })
}
