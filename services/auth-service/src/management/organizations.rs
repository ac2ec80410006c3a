//! `/api/v1/organization` and `/api/v1/organizations`, with Kinde's shapes: a single organization
//! is answered as the organization object itself.

use axum::{
    extract::{Path, State},
    Json,
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use claimflow_storage::OrganizationFields;

use super::{reply, Answer, ApiError, ApiJson, ApiQuery, BadRequest, Conflict, Done, NotFound, Page, Reply};
use crate::AppState;

const MAX_PAGE_SIZE: u64 = 500;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateOrganization {
    #[schema(max_length = 256)]
    name: String,
    #[serde(default)]
    #[schema(max_length = 256)]
    external_id: Option<String>,
    /// Unique: 1 to 64 lowercase letters, digits, `-` or `_`.
    #[serde(default)]
    #[schema(max_length = 64)]
    handle: Option<String>,
}

/// A handle as Kinde's: lowercase letters, digits, `-` and `_`.
fn checked_handle(handle: Option<String>) -> Result<Option<String>, ApiError> {
    match handle {
        Some(handle)
            if handle.is_empty()
                || handle.len() > 64
                || !handle.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_') =>
        {
            Err(ApiError::bad_request(
                "INVALID_HANDLE",
                format!("handle {handle:?} must be 1 to 64 lowercase letters, digits, `-` or `_`"),
            ))
        }
        handle => Ok(handle),
    }
}

/// An organization as Kinde shows it.
#[derive(Serialize, ToSchema)]
pub struct Organization {
    code: String,
    name: String,
    handle: Option<String>,
    is_default: bool,
    external_id: Option<String>,
    created_on: i64,
}

impl From<claimflow_storage::entity::organization::Model> for Organization {
    fn from(organization: claimflow_storage::entity::organization::Model) -> Self {
        Self {
            code: organization.code,
            name: organization.name,
            handle: organization.handle,
            is_default: false,
            external_id: organization.external_id,
            created_on: organization.created_at,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct OrganizationCode {
    code: String,
}

#[derive(Serialize, ToSchema)]
pub struct CreatedOrganization {
    organization: OrganizationCode,
}

#[utoipa::path(post, path = "/organization", summary = "Create an organization", request_body = CreateOrganization,
    security(("bearer" = ["create:organizations"])),
    responses((status = 200, body = Reply<CreatedOrganization>), BadRequest, Conflict))]
pub async fn create(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<CreateOrganization>,
) -> Answer<CreatedOrganization> {
    if body.name.trim().is_empty() {
        return Err(ApiError::bad_request("INVALID_NAME", "name must not be empty"));
    }
    let fields = OrganizationFields {
        name: Some(body.name.trim().to_owned()),
        external_id: body.external_id,
        handle: checked_handle(body.handle)?,
    };
    let organization = state.store.create_organization(fields).await?;
    reply("OK", "Success", CreatedOrganization { organization: OrganizationCode { code: organization.code } })
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ByCode {
    /// The organization's code (required).
    code: Option<String>,
    /// Kinde's only value is `billing`, which is not part of claimflow: a 404 that says so.
    expand: Option<String>,
}

/// Answered as the organization object itself, without `code` and `message` (as Kinde does).
#[utoipa::path(get, path = "/organization", summary = "Get an organization by code", params(ByCode),
    security(("bearer" = ["read:organizations"])),
    responses((status = 200, body = Organization), BadRequest, NotFound))]
pub async fn get_one(
    State(state): State<AppState>,
    ApiQuery(query): ApiQuery<ByCode>,
) -> Result<Json<Organization>, ApiError> {
    super::users::expansions(query.expand.as_deref(), &[])?;
    let code =
        query.code.ok_or_else(|| ApiError::bad_request("INVALID_REQUEST", "the query parameter code is required"))?;
    let organization =
        state.store.find_organization(&code).await?.ok_or_else(|| ApiError::not_found("organization", &code))?;
    Ok(Json(organization.into()))
}

#[derive(Serialize, ToSchema)]
pub struct OrganizationList {
    organizations: Vec<Organization>,
    next_token: Option<String>,
}

#[utoipa::path(get, path = "/organizations", summary = "List organizations", params(Page),
    security(("bearer" = ["read:organizations"])),
    responses((status = 200, body = Reply<OrganizationList>), BadRequest))]
pub async fn list(State(state): State<AppState>, ApiQuery(page): ApiQuery<Page>) -> Answer<OrganizationList> {
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
    let organizations = organizations.into_iter().map(Organization::from).collect();
    reply("OK", "Success", OrganizationList { organizations, next_token })
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateOrganization {
    #[schema(max_length = 256)]
    name: Option<String>,
    #[schema(max_length = 256)]
    external_id: Option<String>,
    #[schema(max_length = 64)]
    handle: Option<String>,
}

#[utoipa::path(patch, path = "/organization/{org_code}", summary = "Update an organization",
    request_body = UpdateOrganization, security(("bearer" = ["update:organizations"])),
    responses((status = 200, body = Reply<Done>), BadRequest, NotFound, Conflict))]
pub async fn update(
    State(state): State<AppState>,
    Path(code): Path<String>,
    ApiJson(body): ApiJson<UpdateOrganization>,
) -> Answer<Done> {
    if body.name.as_deref().is_some_and(|name| name.trim().is_empty()) {
        return Err(ApiError::bad_request("INVALID_NAME", "name must not be empty"));
    }
    let change = OrganizationFields {
        name: body.name.map(|name| name.trim().to_owned()),
        external_id: body.external_id,
        handle: checked_handle(body.handle)?,
    };
    state.store.update_organization(&code, change).await?;
    reply("OK", "Organization updated", Done {})
}

#[utoipa::path(delete, path = "/organization/{org_code}", summary = "Delete an organization",
    security(("bearer" = ["delete:organizations"])), responses((status = 200, body = Reply<Done>), NotFound))]
pub async fn delete(State(state): State<AppState>, Path(code): Path<String>) -> Answer<Done> {
    state.store.delete_organization(&code).await?;
    reply("OK", "Organization deleted", Done {})
}
