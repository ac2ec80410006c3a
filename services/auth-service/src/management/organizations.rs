//! `/api/v1/organization` and `/api/v1/organizations`, with Kinde's shapes: a single organization
//! is answered as the organization object itself.

use axum::extract::{Path, State};
use serde::Deserialize;
use serde_json::{json, Value};

use super::{ok, ApiError, ApiJson, ApiQuery, Caller};
use crate::AppState;

const MAX_PAGE_SIZE: u64 = 500;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateOrganization {
    name: String,
    #[serde(default)]
    external_id: Option<String>,
}

fn describe(organization: &claimflow_storage::entity::organization::Model) -> Value {
    json!({
        "code": organization.code,
        "name": organization.name,
        "handle": null,
        "is_default": false,
        "external_id": organization.external_id,
        "created_on": organization.created_at,
    })
}

pub async fn create(
    caller: Caller,
    State(state): State<AppState>,
    ApiJson(body): ApiJson<CreateOrganization>,
) -> Result<axum::Json<Value>, ApiError> {
    caller.require("create:organizations")?;
    if body.name.trim().is_empty() {
        return Err(ApiError::bad_request("INVALID_NAME", "name must not be empty"));
    }
    let organization = state.store.create_organization(body.name.trim(), body.external_id).await?;
    Ok(ok("OK", "Success", json!({ "organization": { "code": organization.code } })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ByCode {
    code: Option<String>,
}

pub async fn get_one(
    caller: Caller,
    State(state): State<AppState>,
    ApiQuery(query): ApiQuery<ByCode>,
) -> Result<axum::Json<Value>, ApiError> {
    caller.require("read:organizations")?;
    let code =
        query.code.ok_or_else(|| ApiError::bad_request("INVALID_REQUEST", "the query parameter code is required"))?;
    let organization =
        state.store.find_organization(&code).await?.ok_or_else(|| ApiError::not_found("organization", &code))?;
    Ok(axum::Json(describe(&organization)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Page {
    page_size: Option<u64>,
    next_token: Option<String>,
    #[serde(default)]
    sort: Option<String>,
}

pub async fn list(
    caller: Caller,
    State(state): State<AppState>,
    ApiQuery(page): ApiQuery<Page>,
) -> Result<axum::Json<Value>, ApiError> {
    caller.require("read:organizations")?;
    let _ = page.sort;
    let size = page.page_size.unwrap_or(10).clamp(1, MAX_PAGE_SIZE);
    // NOTE: one more than asked tells whether another page exists.
    let mut organizations = state.store.list_organizations(page.next_token.as_deref(), size + 1).await?;
    let next_token = if organizations.len() as u64 > size {
        organizations.truncate(size as usize);
        organizations.last().map(|organization| organization.code.clone())
    } else {
        None
    };
    let listed: Vec<Value> = organizations.iter().map(describe).collect();
    Ok(ok("OK", "Success", json!({ "organizations": listed, "next_token": next_token })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateOrganization {
    name: Option<String>,
    external_id: Option<String>,
}

pub async fn update(
    caller: Caller,
    State(state): State<AppState>,
    Path(code): Path<String>,
    ApiJson(body): ApiJson<UpdateOrganization>,
) -> Result<axum::Json<Value>, ApiError> {
    caller.require("update:organizations")?;
    if body.name.as_deref().is_some_and(|name| name.trim().is_empty()) {
        return Err(ApiError::bad_request("INVALID_NAME", "name must not be empty"));
    }
    state.store.update_organization(&code, body.name.map(|n| n.trim().to_owned()), body.external_id).await?;
    Ok(ok("OK", "Organization updated", json!({})))
}

pub async fn delete(
    caller: Caller,
    State(state): State<AppState>,
    Path(code): Path<String>,
) -> Result<axum::Json<Value>, ApiError> {
    caller.require("delete:organizations")?;
    state.store.delete_organization(&code).await?;
    Ok(ok("OK", "Organization deleted", json!({})))
}
