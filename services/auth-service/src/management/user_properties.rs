//! `/api/v1/users/{user_id}/properties`: a user's values for `usr` properties, as workflows read
//! and set them through `createKindeAPI`. Kinde's paths and shapes.

use std::collections::BTreeMap;

use axum::extract::{Path, State};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{
    applications::PropertyView, organization_members::PropertyValueQuery, reply, Answer, ApiError, ApiJson, ApiQuery,
    Done, Reply,
};
use super::{BadRequest, Conflict, NotFound};
use crate::AppState;

/// The longest property value stored.
const MAX_VALUE_CHARS: usize = 4096;

#[derive(Serialize, ToSchema)]
pub struct UserProperties {
    properties: Vec<PropertyView>,
}

#[utoipa::path(get, path = "/users/{user_id}/properties", summary = "A user's property values",
    security(("bearer" = ["read:user_properties"])),
    responses((status = 200, body = Reply<UserProperties>), NotFound))]
pub async fn list(State(state): State<AppState>, Path(user_id): Path<String>) -> Answer<UserProperties> {
    let properties = state
        .store
        .user_properties(&user_id)
        .await?
        .into_iter()
        .map(|(property, value)| PropertyView::new(property, value))
        .collect();
    reply("OK", "Success", UserProperties { properties })
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateUserProperties {
    /// Values by property key; every key must name a `usr` property.
    properties: BTreeMap<String, String>,
}

/// Sets several values at once: all of them, or none when one key is unknown.
#[utoipa::path(patch, path = "/users/{user_id}/properties", summary = "Set a user's property values",
    request_body = UpdateUserProperties, security(("bearer" = ["update:user_properties"])),
    responses((status = 200, body = Reply<Done>), BadRequest, NotFound, Conflict))]
pub async fn update(
    State(state): State<AppState>,
    Path(user_id): Path<String>,
    ApiJson(body): ApiJson<UpdateUserProperties>,
) -> Answer<Done> {
    let values: Vec<(String, String)> = body.properties.into_iter().collect();
    for (key, value) in &values {
        check_value(key, value)?;
    }
    state.store.set_user_properties(&user_id, &values).await?;
    reply("OK", "Properties updated", Done {})
}

/// Kinde passes the value as a query parameter here.
#[utoipa::path(put, path = "/users/{user_id}/properties/{property_key}", summary = "Set a user's property value",
    params(PropertyValueQuery), security(("bearer" = ["update:user_properties"])),
    responses((status = 200, body = Reply<Done>), BadRequest, NotFound, Conflict))]
pub async fn set(
    State(state): State<AppState>,
    Path((user_id, key)): Path<(String, String)>,
    ApiQuery(query): ApiQuery<PropertyValueQuery>,
) -> Answer<Done> {
    let value =
        query.value.ok_or_else(|| ApiError::bad_request("INVALID_REQUEST", "the query parameter value is required"))?;
    check_value(&key, &value)?;
    state.store.set_user_properties(&user_id, &[(key, value)]).await?;
    reply("OK", "Property updated", Done {})
}

fn check_value(key: &str, value: &str) -> Result<(), ApiError> {
    if value.chars().count() > MAX_VALUE_CHARS {
        return Err(ApiError::bad_request(
            "INVALID_VALUE",
            format!("properties.{key}: at most {MAX_VALUE_CHARS} characters"),
        ));
    }
    Ok(())
}
