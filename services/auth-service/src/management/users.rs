//! Users, roles, permissions and feature flags: what user tokens are built from. Kinde's paths
//! and shapes.

use std::collections::BTreeMap;

use axum::{extract::Path, extract::State, Json};
use claimflow_storage::{entity::access_key, entity::user, AccessKind, NewMember};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use super::{paginate, reply, Answer, ApiError, ApiJson, ApiQuery, Done, Id, Page, Reply};
use super::{BadRequest, Conflict, NotFound};
use crate::AppState;

/// What Kinde answers without `code` and `message`: the user itself, or a creation's result.
type Bare<T> = Result<Json<T>, ApiError>;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateUser {
    profile: Profile,
    identities: Vec<Identity>,
    #[serde(default)]
    #[schema(max_length = 128)]
    organization_code: Option<String>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    #[serde(default)]
    #[schema(max_length = 256)]
    given_name: String,
    #[serde(default)]
    #[schema(max_length = 256)]
    family_name: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Identity {
    #[serde(rename = "type")]
    #[schema(max_length = 32)]
    kind: String,
    /// Accepted from Kinde clients; claimflow does not verify emails yet.
    #[serde(default, rename = "is_verified")]
    _is_verified: Option<bool>,
    details: IdentityDetails,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IdentityDetails {
    /// `"type": "email"`.
    #[schema(max_length = 320)]
    email: Option<String>,
    /// `"type": "username"`: 3 to 64 lowercase letters, digits, `.`, `_` or `-`.
    #[schema(max_length = 64)]
    username: Option<String>,
}

/// A user as Kinde describes one.
#[derive(Serialize, ToSchema)]
pub struct UserView {
    pub(super) id: String,
    email: String,
    preferred_email: String,
    first_name: String,
    last_name: String,
    full_name: String,
    /// The username identity, when the user has one.
    username: Option<String>,
    /// Whether the user enrolled an authenticator app.
    is_mfa_enrolled: bool,
    /// Unix milliseconds.
    created_on: i64,
}

impl From<user::Model> for UserView {
    fn from(user: user::Model) -> Self {
        Self {
            full_name: format!("{} {}", user.given_name, user.family_name).trim().to_owned(),
            preferred_email: user.email.clone(),
            is_mfa_enrolled: user.totp_secret.is_some(),
            username: user.username,
            id: user.id,
            email: user.email,
            first_name: user.given_name,
            last_name: user.family_name,
            created_on: user.created_at,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct CreatedUser {
    id: String,
    created: bool,
    identities: Vec<CreatedIdentity>,
}

#[derive(Serialize, ToSchema)]
pub struct CreatedIdentity {
    #[serde(rename = "type")]
    kind: &'static str,
    result: IdentityResult,
}

#[derive(Serialize, ToSchema)]
pub struct IdentityResult {
    created: bool,
}

#[utoipa::path(post, path = "/user", summary = "Create a user", request_body = CreateUser,
    security(("bearer" = ["create:users"])),
    responses((status = 200, body = CreatedUser), BadRequest, NotFound, Conflict))]
pub async fn create_user(State(state): State<AppState>, ApiJson(body): ApiJson<CreateUser>) -> Bare<CreatedUser> {
    let email = body
        .identities
        .iter()
        .find(|identity| identity.kind == "email")
        .and_then(|identity| identity.details.email.clone())
        .ok_or_else(|| {
            ApiError::bad_request(
                "INVALID_IDENTITIES",
                "identities must hold one {\"type\": \"email\", \"details\": {\"email\"}}",
            )
        })?;
    let email = email.trim().to_ascii_lowercase();
    if !email.contains('@') || email.starts_with('@') || email.ends_with('@') {
        return Err(ApiError::bad_request(
            "INVALID_EMAIL",
            format!("identities[].details.email {email:?} is not an email address"),
        ));
    }
    let username = match body.identities.iter().find(|identity| identity.kind == "username") {
        Some(identity) => {
            let username = identity.details.username.as_deref().unwrap_or_default().trim().to_lowercase();
            crate::authorize::check_username(&username).map_err(|message| {
                ApiError::bad_request(
                    "INVALID_USERNAME",
                    format!("identities[].details.username {username:?}: {message}"),
                )
            })?;
            Some(username)
        }
        None => None,
    };
    if let Some(other) =
        body.identities.iter().map(|identity| identity.kind.as_str()).find(|kind| !["email", "username"].contains(kind))
    {
        return Err(ApiError::bad_request(
            "INVALID_IDENTITIES",
            format!("identities[].type {other:?} is not supported: claimflow has email and username identities"),
        ));
    }
    let (given, family) = (body.profile.given_name.trim(), body.profile.family_name.trim());
    let user = state.store.create_user(&email, username.as_deref(), given, family).await?;
    if let Some(org_code) = body.organization_code {
        let member = NewMember { user_id: user.id.clone(), roles: vec![], permissions: vec![] };
        state.store.add_organization_members(&org_code, vec![member]).await?;
    }
    let mut identities = vec![CreatedIdentity { kind: "email", result: IdentityResult { created: true } }];
    if user.username.is_some() {
        identities.push(CreatedIdentity { kind: "username", result: IdentityResult { created: true } });
    }
    Ok(Json(CreatedUser { id: user.id, created: true, identities }))
}

#[derive(Serialize, ToSchema)]
pub struct UserList {
    users: Vec<UserView>,
    next_token: Option<String>,
}

#[utoipa::path(get, path = "/users", summary = "List users", params(Page),
    security(("bearer" = ["read:users"])), responses((status = 200, body = Reply<UserList>), BadRequest))]
pub async fn list_users(State(state): State<AppState>, ApiQuery(page): ApiQuery<Page>) -> Answer<UserList> {
    let users: Vec<UserView> = state.store.list_users().await?.into_iter().map(UserView::from).collect();
    let (users, next_token) = paginate(users, &page, |user| &user.id);
    reply("OK", "Success", UserList { users, next_token })
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct UserId {
    /// The user's id; required.
    id: Option<String>,
    /// Comma-separated: `organizations` (their codes), `identities`. `billing` is not part of
    /// claimflow: asking for it is a 404 that says so.
    expand: Option<String>,
}

/// A user with what `expand` asked for.
#[derive(Serialize, ToSchema)]
pub struct UserDetail {
    #[serde(flatten)]
    user: UserView,
    #[serde(skip_serializing_if = "Option::is_none")]
    organizations: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    identities: Option<Vec<IdentityView>>,
}

/// How a user signs in: an email, and a username when they have one.
#[derive(Serialize, ToSchema)]
pub struct IdentityView {
    r#type: &'static str,
    identity: String,
}

/// What claimflow answers where Kinde would show billing.
pub(super) fn billing_is_not_part_of_claimflow() -> ApiError {
    ApiError::new(
        axum::http::StatusCode::NOT_FOUND,
        "BILLING_NOT_SUPPORTED",
        "billing is not part of claimflow: it has no plans, subscriptions or entitlements",
    )
}

/// The values of an `expand` parameter, each one of `allowed` (else a 400 naming it), or the
/// billing 404.
pub(super) fn expansions<'a>(expand: Option<&'a str>, allowed: &[&str]) -> Result<Vec<&'a str>, ApiError> {
    let values: Vec<&str> = expand.unwrap_or_default().split(',').map(str::trim).filter(|v| !v.is_empty()).collect();
    for value in &values {
        if *value == "billing" {
            return Err(billing_is_not_part_of_claimflow());
        }
        if !allowed.contains(value) {
            return Err(ApiError::bad_request(
                "INVALID_EXPAND",
                format!("expand: unknown value {value:?} (allowed: {})", allowed.join(", ")),
            ));
        }
    }
    Ok(values)
}

fn user_id(query: UserId) -> Result<String, ApiError> {
    query.id.ok_or_else(|| ApiError::bad_request("INVALID_REQUEST", "the query parameter id is required"))
}

/// The user itself, as Kinde answers, with what `expand` asks for.
#[utoipa::path(get, path = "/user", summary = "Get a user by id", params(UserId),
    security(("bearer" = ["read:users"])), responses((status = 200, body = UserDetail), BadRequest, NotFound))]
pub async fn get_user(State(state): State<AppState>, ApiQuery(query): ApiQuery<UserId>) -> Bare<UserDetail> {
    let expand = expansions(query.expand.as_deref(), &["organizations", "identities"])?;
    let id = user_id(UserId { expand: None, ..query })?;
    let user = state.store.find_user(&id).await?.ok_or_else(|| ApiError::not_found("user", &id))?;
    let organizations = match expand.contains(&"organizations") {
        true => Some(state.store.user_organizations(&id).await?),
        false => None,
    };
    let identities = expand.contains(&"identities").then(|| {
        let email = IdentityView { r#type: "email", identity: user.email.clone() };
        let username = user.username.clone().map(|name| IdentityView { r#type: "username", identity: name });
        std::iter::once(email).chain(username).collect()
    });
    Ok(Json(UserDetail { user: user.into(), organizations, identities }))
}

#[utoipa::path(delete, path = "/user", summary = "Delete a user", params(UserId),
    security(("bearer" = ["delete:users"])), responses((status = 200, body = Reply<Done>), BadRequest, NotFound))]
pub async fn delete_user(State(state): State<AppState>, ApiQuery(query): ApiQuery<UserId>) -> Answer<Done> {
    if query.expand.is_some() {
        return Err(ApiError::bad_request("INVALID_REQUEST", "expand: not a parameter of DELETE /user"));
    }
    state.store.delete_user(&user_id(query)?).await?;
    reply("OK", "User successfully deleted", Done {})
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateAccessKey {
    #[schema(max_length = 256)]
    name: String,
    /// The name in tokens; no spaces.
    #[schema(max_length = 128)]
    key: String,
    #[serde(default)]
    #[schema(max_length = 1024)]
    description: Option<String>,
}

/// A role or a permission.
#[derive(Serialize, ToSchema)]
pub struct AccessKeyView {
    id: String,
    key: String,
    name: String,
    description: String,
}

impl From<access_key::Model> for AccessKeyView {
    fn from(item: access_key::Model) -> Self {
        Self { id: item.id, key: item.key, name: item.name, description: item.description }
    }
}

async fn create_access_key(state: &AppState, kind: AccessKind, body: CreateAccessKey) -> Result<Id, ApiError> {
    if body.key.is_empty() || body.key.chars().any(char::is_whitespace) {
        return Err(ApiError::bad_request("INVALID_KEY", "key must be non-empty, without spaces"));
    }
    if body.name.trim().is_empty() {
        return Err(ApiError::bad_request("INVALID_NAME", "name must not be empty"));
    }
    let created = state
        .store
        .create_access_key(kind, &body.key, body.name.trim(), body.description.as_deref().unwrap_or(""))
        .await?;
    Ok(Id { id: created.id })
}

#[derive(Serialize, ToSchema)]
pub struct CreatedRole {
    role: Id,
}

#[utoipa::path(post, path = "/roles", summary = "Create a role", request_body = CreateAccessKey,
    security(("bearer" = ["create:roles"])),
    responses((status = 200, body = Reply<CreatedRole>), BadRequest, Conflict))]
pub async fn create_role(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<CreateAccessKey>,
) -> Answer<CreatedRole> {
    let role = create_access_key(&state, AccessKind::Role, body).await?;
    reply("OK", "Role successfully created", CreatedRole { role })
}

#[derive(Serialize, ToSchema)]
pub struct CreatedPermission {
    permission: Id,
}

#[utoipa::path(post, path = "/permissions", summary = "Create a permission", request_body = CreateAccessKey,
    security(("bearer" = ["create:permissions"])),
    responses((status = 200, body = Reply<CreatedPermission>), BadRequest, Conflict))]
pub async fn create_permission(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<CreateAccessKey>,
) -> Answer<CreatedPermission> {
    let permission = create_access_key(&state, AccessKind::Permission, body).await?;
    reply("OK", "Permission successfully created", CreatedPermission { permission })
}

#[derive(Serialize, ToSchema)]
pub struct RoleList {
    roles: Vec<AccessKeyView>,
    next_token: Option<String>,
}

#[utoipa::path(get, path = "/roles", summary = "List roles", params(Page),
    security(("bearer" = ["read:roles"])), responses((status = 200, body = Reply<RoleList>), BadRequest))]
pub async fn list_roles(State(state): State<AppState>, ApiQuery(page): ApiQuery<Page>) -> Answer<RoleList> {
    let roles: Vec<AccessKeyView> =
        state.store.list_access_keys(AccessKind::Role).await?.into_iter().map(AccessKeyView::from).collect();
    let (roles, next_token) = paginate(roles, &page, |role| &role.id);
    reply("OK", "Success", RoleList { roles, next_token })
}

#[derive(Serialize, ToSchema)]
pub struct PermissionList {
    permissions: Vec<AccessKeyView>,
    next_token: Option<String>,
}

#[utoipa::path(get, path = "/permissions", summary = "List permissions", params(Page),
    security(("bearer" = ["read:permissions"])), responses((status = 200, body = Reply<PermissionList>), BadRequest))]
pub async fn list_permissions(State(state): State<AppState>, ApiQuery(page): ApiQuery<Page>) -> Answer<PermissionList> {
    let permissions: Vec<AccessKeyView> =
        state.store.list_access_keys(AccessKind::Permission).await?.into_iter().map(AccessKeyView::from).collect();
    let (permissions, next_token) = paginate(permissions, &page, |permission| &permission.id);
    reply("OK", "Success", PermissionList { permissions, next_token })
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RolePermissions {
    permissions: Vec<PermissionChange>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PermissionChange {
    #[schema(max_length = 128)]
    id: String,
    /// Absent to add; `"delete"` to remove.
    #[serde(default)]
    #[schema(max_length = 32)]
    operation: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct PermissionsChanged {
    permissions_added: Vec<String>,
    permissions_removed: Vec<String>,
}

#[utoipa::path(patch, path = "/roles/{role_id}/permissions", summary = "Add or remove a role's permissions",
    request_body = RolePermissions, security(("bearer" = ["update:roles"])),
    responses((status = 200, body = Reply<PermissionsChanged>), BadRequest, NotFound))]
pub async fn update_role_permissions(
    State(state): State<AppState>,
    Path(role_id): Path<String>,
    ApiJson(body): ApiJson<RolePermissions>,
) -> Answer<PermissionsChanged> {
    let (mut add, mut remove) = (Vec::new(), Vec::new());
    for (index, change) in body.permissions.into_iter().enumerate() {
        match change.operation.as_deref() {
            None => add.push(change.id),
            Some("delete") => remove.push(change.id),
            Some(other) => {
                return Err(ApiError::bad_request(
                    "INVALID_OPERATION",
                    format!("permissions[{index}].operation {other:?}: omit it to add or use \"delete\""),
                ))
            }
        }
    }
    state.store.change_role_permissions(&role_id, &add, &remove).await?;
    reply("OK", "Permissions updated", PermissionsChanged { permissions_added: add, permissions_removed: remove })
}

#[derive(Serialize, ToSchema)]
pub struct PermissionKey {
    key: String,
}

#[derive(Serialize, ToSchema)]
pub struct PermissionKeys {
    permissions: Vec<PermissionKey>,
}

#[utoipa::path(get, path = "/roles/{role_id}/permissions", summary = "A role's permissions",
    security(("bearer" = ["read:roles"])), responses((status = 200, body = Reply<PermissionKeys>), NotFound))]
pub async fn role_permissions(State(state): State<AppState>, Path(role_id): Path<String>) -> Answer<PermissionKeys> {
    let keys = state.store.role_permission_keys(&role_id).await?;
    reply("OK", "Success", PermissionKeys { permissions: keys.into_iter().map(|key| PermissionKey { key }).collect() })
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateFeatureFlag {
    #[schema(max_length = 256)]
    name: String,
    #[schema(max_length = 128)]
    key: String,
    /// `str`, `int` or `bool`.
    #[serde(rename = "type")]
    #[schema(max_length = 32)]
    flag_type: String,
    /// Of the flag's type, or that value as a string as Kinde sends it.
    default_value: Value,
    #[serde(default)]
    #[schema(max_length = 1024)]
    description: Option<String>,
    #[serde(default)]
    #[schema(max_length = 32)]
    allow_override_level: Option<String>,
}

#[utoipa::path(post, path = "/feature_flags", summary = "Create a feature flag", request_body = CreateFeatureFlag,
    security(("bearer" = ["create:feature_flags"])),
    responses((status = 200, body = Reply<Done>), BadRequest, Conflict))]
pub async fn create_feature_flag(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<CreateFeatureFlag>,
) -> Answer<Done> {
    let _ = body.allow_override_level;
    // Kinde sends default values as strings; they are stored typed.
    let value = match (body.flag_type.as_str(), &body.default_value) {
        ("str", Value::String(text)) => Value::String(text.clone()),
        ("int", Value::Number(n)) if n.is_i64() => body.default_value.clone(),
        ("int", Value::String(text)) if text.parse::<i64>().is_ok() => {
            Value::from(text.parse::<i64>().unwrap_or_default())
        }
        ("bool", Value::Bool(flag)) => Value::Bool(*flag),
        ("bool", Value::String(text)) if text == "true" || text == "false" => Value::Bool(text == "true"),
        (kind @ ("str" | "int" | "bool"), _) => {
            return Err(ApiError::bad_request("INVALID_DEFAULT_VALUE", format!("default_value is not a valid {kind}")))
        }
        (other, _) => {
            return Err(ApiError::bad_request(
                "INVALID_TYPE",
                format!("type {other:?} must be \"str\", \"int\" or \"bool\""),
            ))
        }
    };
    let description = body.description.as_deref().unwrap_or("");
    state.store.create_feature_flag(&body.key, body.name.trim(), description, &body.flag_type, value).await?;
    reply("OK", "Feature flag created", Done {})
}

/// A flag's type and its value in that type.
#[derive(Serialize, ToSchema)]
pub struct FlagValue {
    #[serde(rename = "type")]
    flag_type: String,
    value: Value,
}

#[derive(Serialize, ToSchema)]
pub struct FeatureFlags {
    /// By flag key.
    feature_flags: BTreeMap<String, FlagValue>,
}

#[utoipa::path(get, path = "/environment/feature_flags", summary = "The environment's feature flags",
    security(("bearer" = ["read:feature_flags"])), responses((status = 200, body = Reply<FeatureFlags>)))]
pub async fn environment_feature_flags(State(state): State<AppState>) -> Answer<FeatureFlags> {
    let feature_flags = state
        .store
        .list_feature_flags()
        .await?
        .into_iter()
        .map(|flag| (flag.key, FlagValue { flag_type: flag.flag_type, value: flag.default_value }))
        .collect();
    reply("OK", "Success", FeatureFlags { feature_flags })
}

/// Kinde's body (`hashed_password` with `hashing_method`, for migrations) or a plain `password`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetPassword {
    password: Option<String>,
    #[schema(max_length = 256)]
    hashed_password: Option<String>,
    #[schema(max_length = 32)]
    hashing_method: Option<String>,
    #[serde(default)]
    is_temporary_password: Option<bool>,
}

#[utoipa::path(put, path = "/users/{user_id}/password",
    summary = "Set a password: in clear (stored argon2id) or Kinde's pre-hashed bcrypt", request_body = SetPassword,
    security(("bearer" = ["update:users"])), responses((status = 200, body = Reply<Done>), BadRequest, NotFound))]
pub async fn set_password(
    State(state): State<AppState>,
    Path(user_id): Path<String>,
    ApiJson(body): ApiJson<SetPassword>,
) -> Answer<Done> {
    let _ = body.is_temporary_password;
    let invalid = |err: crate::passwords::PasswordError| ApiError::bad_request("INVALID_PASSWORD", err.to_string());
    let stored = match (body.password, body.hashed_password) {
        (Some(password), None) => crate::passwords::hash(&password).map_err(invalid)?,
        (None, Some(hashed)) => {
            let method = body.hashing_method.as_deref().unwrap_or("bcrypt");
            crate::passwords::import(method, &hashed).map_err(invalid)?
        }
        _ => {
            return Err(ApiError::bad_request(
                "INVALID_PASSWORD",
                "send either password (in clear) or hashed_password with hashing_method",
            ))
        }
    };
    state.store.set_user_password(&user_id, &stored).await?;
    reply("OK", "User successfully updated", Done {})
}
