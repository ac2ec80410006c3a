//! Users, roles, permissions, feature flags, and organizations' members and properties: what
//! user tokens are built from. Kinde's paths and shapes.

use axum::extract::{Path, State};
use claimflow_storage::{AccessKind, NewMember};
use serde::Deserialize;
use serde_json::{json, Value};

use super::{ok, paginate, ApiError, ApiJson, ApiQuery, Caller, Page};
use crate::AppState;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateUser {
    profile: Profile,
    identities: Vec<Identity>,
    #[serde(default)]
    organization_code: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    #[serde(default)]
    given_name: String,
    #[serde(default)]
    family_name: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Identity {
    #[serde(rename = "type")]
    kind: String,
    /// Accepted from Kinde clients; claimflow does not verify emails yet.
    #[serde(default, rename = "is_verified")]
    _is_verified: Option<bool>,
    details: IdentityDetails,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IdentityDetails {
    email: Option<String>,
}

fn describe_user(user: &claimflow_storage::entity::user::Model) -> Value {
    json!({
        "id": user.id, "email": user.email, "preferred_email": user.email,
        "first_name": user.given_name, "last_name": user.family_name,
        "full_name": format!("{} {}", user.given_name, user.family_name).trim(),
        "created_on": user.created_at,
    })
}

pub async fn create_user(
    caller: Caller,
    State(state): State<AppState>,
    ApiJson(body): ApiJson<CreateUser>,
) -> Result<axum::Json<Value>, ApiError> {
    caller.require("create:users")?;
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
    let user = state.store.create_user(&email, body.profile.given_name.trim(), body.profile.family_name.trim()).await?;
    if let Some(org_code) = body.organization_code {
        state
            .store
            .add_organization_members(
                &org_code,
                vec![NewMember { user_id: user.id.clone(), roles: vec![], permissions: vec![] }],
            )
            .await?;
    }
    Ok(axum::Json(json!({
        "id": user.id, "created": true,
        "identities": [{ "type": "email", "result": { "created": true } }],
    })))
}

pub async fn list_users(
    caller: Caller,
    State(state): State<AppState>,
    ApiQuery(page): ApiQuery<Page>,
) -> Result<axum::Json<Value>, ApiError> {
    caller.require("read:users")?;
    let users: Vec<Value> = state.store.list_users().await?.iter().map(describe_user).collect();
    let (users, next_token) = paginate(users, &page);
    Ok(ok("OK", "Success", json!({ "users": users, "next_token": next_token })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserId {
    id: Option<String>,
}

fn user_id(query: UserId) -> Result<String, ApiError> {
    query.id.ok_or_else(|| ApiError::bad_request("INVALID_REQUEST", "the query parameter id is required"))
}

pub async fn get_user(
    caller: Caller,
    State(state): State<AppState>,
    ApiQuery(query): ApiQuery<UserId>,
) -> Result<axum::Json<Value>, ApiError> {
    caller.require("read:users")?;
    let id = user_id(query)?;
    let user = state.store.find_user(&id).await?.ok_or_else(|| ApiError::not_found("user", &id))?;
    Ok(axum::Json(describe_user(&user)))
}

pub async fn delete_user(
    caller: Caller,
    State(state): State<AppState>,
    ApiQuery(query): ApiQuery<UserId>,
) -> Result<axum::Json<Value>, ApiError> {
    caller.require("delete:users")?;
    state.store.delete_user(&user_id(query)?).await?;
    Ok(ok("OK", "User successfully deleted", json!({})))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateAccessKey {
    name: String,
    key: String,
    #[serde(default)]
    description: Option<String>,
}

fn describe_access_key(item: &claimflow_storage::entity::access_key::Model) -> Value {
    json!({ "id": item.id, "key": item.key, "name": item.name, "description": item.description })
}

async fn create_access_key(state: &AppState, kind: AccessKind, body: CreateAccessKey) -> Result<Value, ApiError> {
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
    Ok(json!({ kind.as_str(): { "id": created.id } }))
}

pub async fn create_role(
    caller: Caller,
    State(state): State<AppState>,
    ApiJson(body): ApiJson<CreateAccessKey>,
) -> Result<axum::Json<Value>, ApiError> {
    caller.require("create:roles")?;
    Ok(ok("OK", "Role successfully created", create_access_key(&state, AccessKind::Role, body).await?))
}

pub async fn create_permission(
    caller: Caller,
    State(state): State<AppState>,
    ApiJson(body): ApiJson<CreateAccessKey>,
) -> Result<axum::Json<Value>, ApiError> {
    caller.require("create:permissions")?;
    Ok(ok("OK", "Permission successfully created", create_access_key(&state, AccessKind::Permission, body).await?))
}

pub async fn list_roles(
    caller: Caller,
    State(state): State<AppState>,
    ApiQuery(page): ApiQuery<Page>,
) -> Result<axum::Json<Value>, ApiError> {
    caller.require("read:roles")?;
    let roles: Vec<Value> =
        state.store.list_access_keys(AccessKind::Role).await?.iter().map(describe_access_key).collect();
    let (roles, next_token) = paginate(roles, &page);
    Ok(ok("OK", "Success", json!({ "roles": roles, "next_token": next_token })))
}

pub async fn list_permissions(
    caller: Caller,
    State(state): State<AppState>,
    ApiQuery(page): ApiQuery<Page>,
) -> Result<axum::Json<Value>, ApiError> {
    caller.require("read:permissions")?;
    let permissions: Vec<Value> =
        state.store.list_access_keys(AccessKind::Permission).await?.iter().map(describe_access_key).collect();
    let (permissions, next_token) = paginate(permissions, &page);
    Ok(ok("OK", "Success", json!({ "permissions": permissions, "next_token": next_token })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RolePermissions {
    permissions: Vec<PermissionChange>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PermissionChange {
    id: String,
    #[serde(default)]
    operation: Option<String>,
}

pub async fn update_role_permissions(
    caller: Caller,
    State(state): State<AppState>,
    Path(role_id): Path<String>,
    ApiJson(body): ApiJson<RolePermissions>,
) -> Result<axum::Json<Value>, ApiError> {
    caller.require("update:roles")?;
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
    Ok(ok("OK", "Permissions updated", json!({ "permissions_added": add, "permissions_removed": remove })))
}

pub async fn role_permissions(
    caller: Caller,
    State(state): State<AppState>,
    Path(role_id): Path<String>,
) -> Result<axum::Json<Value>, ApiError> {
    caller.require("read:roles")?;
    let keys = state.store.role_permission_keys(&role_id).await?;
    Ok(ok("OK", "Success", json!({ "permissions": keys.iter().map(|key| json!({ "key": key })).collect::<Vec<_>>() })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateFeatureFlag {
    name: String,
    key: String,
    #[serde(rename = "type")]
    flag_type: String,
    default_value: Value,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    allow_override_level: Option<String>,
}

pub async fn create_feature_flag(
    caller: Caller,
    State(state): State<AppState>,
    ApiJson(body): ApiJson<CreateFeatureFlag>,
) -> Result<axum::Json<Value>, ApiError> {
    caller.require("create:feature_flags")?;
    let _ = body.allow_override_level;
    // Kinde sends default values as strings; they are stored typed.
    let value = match (body.flag_type.as_str(), &body.default_value) {
        ("str", Value::String(text)) => Value::String(text.clone()),
        ("int", Value::Number(n)) if n.is_i64() => body.default_value.clone(),
        ("int", Value::String(text)) if text.parse::<i64>().is_ok() => json!(text.parse::<i64>().unwrap_or_default()),
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
    state
        .store
        .create_feature_flag(
            &body.key,
            body.name.trim(),
            body.description.as_deref().unwrap_or(""),
            &body.flag_type,
            value,
        )
        .await?;
    Ok(ok("OK", "Feature flag created", json!({})))
}

pub async fn environment_feature_flags(
    caller: Caller,
    State(state): State<AppState>,
) -> Result<axum::Json<Value>, ApiError> {
    caller.require("read:feature_flags")?;
    let flags: serde_json::Map<String, Value> = state
        .store
        .list_feature_flags()
        .await?
        .into_iter()
        .map(|flag| (flag.key, json!({ "type": flag.flag_type, "value": flag.default_value })))
        .collect();
    Ok(ok("OK", "Success", json!({ "feature_flags": flags })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AddMembers {
    users: Vec<MemberBody>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MemberBody {
    id: String,
    #[serde(default)]
    roles: Vec<String>,
    #[serde(default)]
    permissions: Vec<String>,
}

pub async fn add_organization_users(
    caller: Caller,
    State(state): State<AppState>,
    Path(org_code): Path<String>,
    ApiJson(body): ApiJson<AddMembers>,
) -> Result<axum::Json<Value>, ApiError> {
    caller.require("create:organization_users")?;
    let added: Vec<String> = body.users.iter().map(|user| user.id.clone()).collect();
    let members = body
        .users
        .into_iter()
        .map(|user| NewMember { user_id: user.id, roles: user.roles, permissions: user.permissions })
        .collect();
    state.store.add_organization_members(&org_code, members).await?;
    Ok(ok("OK", "Users successfully added", json!({ "users_added": added })))
}

pub async fn organization_users(
    caller: Caller,
    State(state): State<AppState>,
    Path(org_code): Path<String>,
    ApiQuery(page): ApiQuery<Page>,
) -> Result<axum::Json<Value>, ApiError> {
    caller.require("read:organization_users")?;
    state.store.find_organization(&org_code).await?.ok_or_else(|| ApiError::not_found("organization", &org_code))?;
    let members: Vec<Value> = state
        .store
        .organization_members(&org_code)
        .await?
        .into_iter()
        .map(|member| {
            let mut user = describe_user(&member.user);
            user["roles"] = json!(member.roles);
            user["permissions"] = json!(member.permissions);
            user
        })
        .collect();
    let (members, next_token) = paginate(members, &page);
    Ok(ok("OK", "Success", json!({ "organization_users": members, "next_token": next_token })))
}

pub async fn remove_organization_user(
    caller: Caller,
    State(state): State<AppState>,
    Path((org_code, user_id)): Path<(String, String)>,
) -> Result<axum::Json<Value>, ApiError> {
    caller.require("delete:organization_users")?;
    state.store.remove_organization_member(&org_code, &user_id).await?;
    Ok(ok("OK", "User successfully removed", json!({})))
}

pub async fn organization_properties(
    caller: Caller,
    State(state): State<AppState>,
    Path(org_code): Path<String>,
) -> Result<axum::Json<Value>, ApiError> {
    caller.require("read:organization_properties")?;
    state.store.find_organization(&org_code).await?.ok_or_else(|| ApiError::not_found("organization", &org_code))?;
    let properties: Vec<Value> = state
        .store
        .organization_properties(&org_code)
        .await?
        .into_iter()
        .map(|(property, value)| json!({ "id": property.id, "key": property.key, "name": property.name, "value": value }))
        .collect();
    Ok(ok("OK", "Success", json!({ "properties": properties })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PropertyValueQuery {
    value: Option<String>,
}

/// Kinde passes the value as a query parameter here.
pub async fn set_organization_property(
    caller: Caller,
    State(state): State<AppState>,
    Path((org_code, key)): Path<(String, String)>,
    ApiQuery(query): ApiQuery<PropertyValueQuery>,
) -> Result<axum::Json<Value>, ApiError> {
    caller.require("update:organization_properties")?;
    let value =
        query.value.ok_or_else(|| ApiError::bad_request("INVALID_REQUEST", "the query parameter value is required"))?;
    state.store.set_organization_property(&org_code, &key, &value).await?;
    Ok(ok("OK", "Property updated", json!({})))
}

/// Kinde's body (`hashed_password` with `hashing_method`, for migrations) or a plain `password`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SetPassword {
    password: Option<String>,
    hashed_password: Option<String>,
    hashing_method: Option<String>,
    #[serde(default)]
    is_temporary_password: Option<bool>,
}

pub async fn set_password(
    caller: Caller,
    State(state): State<AppState>,
    Path(user_id): Path<String>,
    ApiJson(body): ApiJson<SetPassword>,
) -> Result<axum::Json<Value>, ApiError> {
    caller.require("update:users")?;
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
    Ok(ok("OK", "User successfully updated", json!({})))
}
