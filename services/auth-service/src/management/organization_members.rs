//! `/api/v1/organizations/{org_code}/users` and `/properties`: an organization's members with
//! their roles and permissions, and its property values. Kinde's paths and shapes.

use axum::extract::{Path, State};
use claimflow_storage::NewMember;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{paginate, reply, users::UserView, Answer, ApiError, ApiJson, ApiQuery, Done, Page, Reply};
use super::{BadRequest, Conflict, NotFound};
use crate::AppState;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddMembers {
    users: Vec<MemberBody>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MemberBody {
    #[schema(max_length = 128)]
    id: String,
    /// Role keys.
    #[serde(default)]
    roles: Vec<String>,
    /// Permission keys.
    #[serde(default)]
    permissions: Vec<String>,
}

#[derive(Serialize, ToSchema)]
pub struct UsersAdded {
    users_added: Vec<String>,
}

#[utoipa::path(post, path = "/organizations/{org_code}/users", summary = "Add users with roles and permissions",
    request_body = AddMembers, security(("bearer" = ["create:organization_users"])),
    responses((status = 200, body = Reply<UsersAdded>), BadRequest, NotFound))]
pub async fn add_organization_users(
    State(state): State<AppState>,
    Path(org_code): Path<String>,
    ApiJson(body): ApiJson<AddMembers>,
) -> Answer<UsersAdded> {
    let added: Vec<String> = body.users.iter().map(|user| user.id.clone()).collect();
    let members = body
        .users
        .into_iter()
        .map(|user| NewMember { user_id: user.id, roles: user.roles, permissions: user.permissions })
        .collect();
    state.store.add_organization_members(&org_code, members).await?;
    reply("OK", "Users successfully added", UsersAdded { users_added: added })
}

/// A member: the user, and the keys of the roles and permissions they hold in the organization.
#[derive(Serialize, ToSchema)]
pub struct OrganizationUser {
    #[serde(flatten)]
    user: UserView,
    roles: Vec<String>,
    permissions: Vec<String>,
}

#[derive(Serialize, ToSchema)]
pub struct OrganizationUsers {
    organization_users: Vec<OrganizationUser>,
    next_token: Option<String>,
}

#[utoipa::path(get, path = "/organizations/{org_code}/users",
    summary = "An organization's users with their roles and permissions", params(Page),
    security(("bearer" = ["read:organization_users"])),
    responses((status = 200, body = Reply<OrganizationUsers>), BadRequest, NotFound))]
pub async fn organization_users(
    State(state): State<AppState>,
    Path(org_code): Path<String>,
    ApiQuery(page): ApiQuery<Page>,
) -> Answer<OrganizationUsers> {
    state.store.find_organization(&org_code).await?.ok_or_else(|| ApiError::not_found("organization", &org_code))?;
    let members: Vec<OrganizationUser> = state
        .store
        .organization_members(&org_code)
        .await?
        .into_iter()
        .map(|m| OrganizationUser { user: m.user.into(), roles: m.roles, permissions: m.permissions })
        .collect();
    let (members, next_token) = paginate(members, &page, |member| &member.user.id);
    reply("OK", "Success", OrganizationUsers { organization_users: members, next_token })
}

#[utoipa::path(delete, path = "/organizations/{org_code}/users/{user_id}",
    summary = "Remove a user from an organization", security(("bearer" = ["delete:organization_users"])),
    responses((status = 200, body = Reply<Done>), NotFound))]
pub async fn remove_organization_user(
    State(state): State<AppState>,
    Path((org_code, user_id)): Path<(String, String)>,
) -> Answer<Done> {
    state.store.remove_organization_member(&org_code, &user_id).await?;
    reply("OK", "User successfully removed", Done {})
}

/// A role or a permission, as Kinde lists them for a member.
#[derive(Serialize, ToSchema)]
pub struct GrantView {
    id: String,
    key: String,
    name: String,
}

impl From<claimflow_storage::entity::access_key::Model> for GrantView {
    fn from(key: claimflow_storage::entity::access_key::Model) -> Self {
        Self { id: key.id, key: key.key, name: key.name }
    }
}

#[derive(Serialize, ToSchema)]
pub struct MemberRoles {
    roles: Vec<GrantView>,
}

#[derive(Serialize, ToSchema)]
pub struct MemberPermissions {
    /// Granted directly and through the member's roles.
    permissions: Vec<GrantView>,
}

/// The member's roles and permissions in the organization; 404 unless both exist and the user
/// is a member.
async fn member_access(
    state: &AppState,
    org_code: &str,
    user_id: &str,
) -> Result<claimflow_storage::UserAccess, ApiError> {
    state.store.find_organization(org_code).await?.ok_or_else(|| ApiError::not_found("organization", org_code))?;
    state.store.find_user(user_id).await?.ok_or_else(|| ApiError::not_found("user", user_id))?;
    if !state.store.user_organizations(user_id).await?.iter().any(|code| code == org_code) {
        return Err(ApiError::new(
            axum::http::StatusCode::NOT_FOUND,
            "NOT_FOUND",
            format!("user {user_id:?} is not a member of organization {org_code:?}"),
        ));
    }
    Ok(state.store.user_access(org_code, user_id).await?)
}

#[utoipa::path(get, path = "/organizations/{org_code}/users/{user_id}/roles",
    summary = "A member's roles in an organization", security(("bearer" = ["read:organization_user_roles"])),
    responses((status = 200, body = Reply<MemberRoles>), NotFound))]
pub async fn member_roles(
    State(state): State<AppState>,
    Path((org_code, user_id)): Path<(String, String)>,
) -> Answer<MemberRoles> {
    let access = member_access(&state, &org_code, &user_id).await?;
    reply("OK", "Success", MemberRoles { roles: access.roles.into_iter().map(Into::into).collect() })
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MemberRole {
    /// The role's id (`role_...`).
    #[schema(max_length = 64)]
    role_id: String,
}

#[utoipa::path(post, path = "/organizations/{org_code}/users/{user_id}/roles",
    summary = "Give a member a role in an organization", request_body = MemberRole,
    security(("bearer" = ["create:organization_user_roles"])),
    responses((status = 200, body = Reply<Done>), BadRequest, NotFound))]
pub async fn add_member_role(
    State(state): State<AppState>,
    Path((org_code, user_id)): Path<(String, String)>,
    ApiJson(body): ApiJson<MemberRole>,
) -> Answer<Done> {
    member_access(&state, &org_code, &user_id).await?;
    state.store.grant_member_role(&org_code, &user_id, &body.role_id).await?;
    reply("OK", "Role added to the member", Done {})
}

#[utoipa::path(delete, path = "/organizations/{org_code}/users/{user_id}/roles/{role_id}",
    summary = "Take a role from a member of an organization",
    security(("bearer" = ["delete:organization_user_roles"])),
    responses((status = 200, body = Reply<Done>), NotFound))]
pub async fn remove_member_role(
    State(state): State<AppState>,
    Path((org_code, user_id, role_id)): Path<(String, String, String)>,
) -> Answer<Done> {
    member_access(&state, &org_code, &user_id).await?;
    state.store.revoke_member_role(&org_code, &user_id, &role_id).await?;
    reply("OK", "Role removed from the member", Done {})
}

#[utoipa::path(get, path = "/organizations/{org_code}/users/{user_id}/permissions",
    summary = "A member's permissions in an organization",
    security(("bearer" = ["read:organization_user_permissions"])),
    responses((status = 200, body = Reply<MemberPermissions>), NotFound))]
pub async fn member_permissions(
    State(state): State<AppState>,
    Path((org_code, user_id)): Path<(String, String)>,
) -> Answer<MemberPermissions> {
    let access = member_access(&state, &org_code, &user_id).await?;
    let permissions = state
        .store
        .list_access_keys(claimflow_storage::entity::access_key::AccessKind::Permission)
        .await?
        .into_iter()
        .filter(|permission| access.permissions.contains(&permission.key))
        .map(Into::into)
        .collect();
    reply("OK", "Success", MemberPermissions { permissions })
}

/// An `org` property with the organization's value (empty when unset).
#[derive(Serialize, ToSchema)]
pub struct OrganizationProperty {
    id: String,
    key: String,
    name: String,
    value: String,
}

#[derive(Serialize, ToSchema)]
pub struct OrganizationProperties {
    properties: Vec<OrganizationProperty>,
}

#[utoipa::path(get, path = "/organizations/{org_code}/properties", summary = "An organization's property values",
    security(("bearer" = ["read:organization_properties"])),
    responses((status = 200, body = Reply<OrganizationProperties>), NotFound))]
pub async fn organization_properties(
    State(state): State<AppState>,
    Path(org_code): Path<String>,
) -> Answer<OrganizationProperties> {
    state.store.find_organization(&org_code).await?.ok_or_else(|| ApiError::not_found("organization", &org_code))?;
    let properties = state
        .store
        .organization_properties(&org_code)
        .await?
        .into_iter()
        .map(|(p, value)| OrganizationProperty { id: p.id, key: p.key, name: p.name, value })
        .collect();
    reply("OK", "Success", OrganizationProperties { properties })
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PropertyValueQuery {
    /// The new value; required.
    pub(super) value: Option<String>,
}

/// Kinde passes the value as a query parameter here.
#[utoipa::path(put, path = "/organizations/{org_code}/properties/{property_key}",
    summary = "Set an organization's property value", params(PropertyValueQuery),
    security(("bearer" = ["update:organization_properties"])),
    responses((status = 200, body = Reply<Done>), BadRequest, NotFound, Conflict))]
pub async fn set_organization_property(
    State(state): State<AppState>,
    Path((org_code, key)): Path<(String, String)>,
    ApiQuery(query): ApiQuery<PropertyValueQuery>,
) -> Answer<Done> {
    let value =
        query.value.ok_or_else(|| ApiError::bad_request("INVALID_REQUEST", "the query parameter value is required"))?;
    state.store.set_organization_property(&org_code, &key, &value).await?;
    reply("OK", "Property updated", Done {})
}
