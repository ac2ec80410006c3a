//! `/api/v1/apis`: resource servers, the applications authorized for them, their scopes.

use axum::extract::{Path, State};
use claimflow_storage::entity::{api, api_scope};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{
    paginate, reply, Answer, ApiError, ApiJson, ApiQuery, BadRequest, Conflict, Done, Id, NotFound, Page, Reply,
};
use crate::AppState;

#[derive(Serialize, ToSchema)]
pub struct ApiSummary {
    id: String,
    name: String,
    audience: String,
    is_management_api: bool,
}

impl From<api::Model> for ApiSummary {
    fn from(api: api::Model) -> Self {
        Self { id: api.id, name: api.name, audience: api.audience, is_management_api: api.is_management_api }
    }
}

#[derive(Serialize, ToSchema)]
pub struct ScopeView {
    id: String,
    key: String,
    description: String,
}

impl From<api_scope::Model> for ScopeView {
    fn from(scope: api_scope::Model) -> Self {
        Self { id: scope.id, key: scope.key, description: scope.description }
    }
}

#[derive(Serialize, ToSchema)]
pub struct ApiList {
    apis: Vec<ApiSummary>,
    next_token: Option<String>,
}

#[utoipa::path(get, path = "/apis", summary = "List APIs", params(Page),
    security(("bearer" = ["read:apis"])), responses((status = 200, body = Reply<ApiList>), BadRequest))]
pub async fn list(State(state): State<AppState>, ApiQuery(page): ApiQuery<Page>) -> Answer<ApiList> {
    let apis: Vec<ApiSummary> = state.store.list_apis().await?.into_iter().map(ApiSummary::from).collect();
    let (apis, next_token) = paginate(apis, &page, |api| &api.id);
    reply("OK", "Success", ApiList { apis, next_token })
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateApi {
    #[schema(max_length = 256)]
    name: String,
    /// The `aud` of the API's tokens; no spaces.
    #[schema(max_length = 1024)]
    audience: String,
}

#[derive(Serialize, ToSchema)]
pub struct CreatedApi {
    api: Id,
}

#[utoipa::path(post, path = "/apis", summary = "Create an API", request_body = CreateApi,
    security(("bearer" = ["create:apis"])), responses((status = 200, body = Reply<CreatedApi>), BadRequest, Conflict))]
pub async fn create(State(state): State<AppState>, ApiJson(body): ApiJson<CreateApi>) -> Answer<CreatedApi> {
    if body.name.trim().is_empty() {
        return Err(ApiError::bad_request("INVALID_NAME", "name must not be empty"));
    }
    if body.audience.trim().is_empty() || body.audience.chars().any(char::is_whitespace) {
        return Err(ApiError::bad_request("INVALID_AUDIENCE", "audience must be a non-empty string without spaces"));
    }
    let api = state.store.create_api(body.name.trim(), &body.audience).await?;
    reply("API_CREATED", "API created", CreatedApi { api: Id { id: api.id } })
}

#[derive(Serialize, ToSchema)]
pub struct ApiDetail {
    #[serde(flatten)]
    api: ApiSummary,
    scopes: Vec<ScopeView>,
}

#[derive(Serialize, ToSchema)]
pub struct OneApi {
    api: ApiDetail,
}

#[utoipa::path(get, path = "/apis/{api_id}", summary = "Get an API with its scopes",
    security(("bearer" = ["read:apis"])), responses((status = 200, body = Reply<OneApi>), NotFound))]
pub async fn get_one(State(state): State<AppState>, Path(api_id): Path<String>) -> Answer<OneApi> {
    let api = state.store.find_api(&api_id).await?.ok_or_else(|| ApiError::not_found("API", &api_id))?;
    let scopes = state.store.list_api_scopes(&api.id).await?.into_iter().map(ScopeView::from).collect();
    reply("OK", "success_response", OneApi { api: ApiDetail { api: api.into(), scopes } })
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateApplications {
    applications: Vec<ApplicationChange>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApplicationChange {
    #[schema(max_length = 128)]
    id: String,
    /// Absent to authorize; `"delete"` to revoke.
    #[serde(default)]
    #[schema(max_length = 32)]
    operation: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct ApplicationsChanged {
    applications_connected: Vec<String>,
    applications_disconnected: Vec<String>,
}

#[utoipa::path(patch, path = "/apis/{api_id}/applications", summary = "Authorize or revoke applications",
    request_body = UpdateApplications, security(("bearer" = ["update:apis"])),
    responses((status = 200, body = Reply<ApplicationsChanged>), BadRequest, NotFound))]
pub async fn update_applications(
    State(state): State<AppState>,
    Path(api_id): Path<String>,
    ApiJson(body): ApiJson<UpdateApplications>,
) -> Answer<ApplicationsChanged> {
    let api = state.store.find_api(&api_id).await?.ok_or_else(|| ApiError::not_found("API", &api_id))?;
    let (mut connect, mut disconnect) = (Vec::new(), Vec::new());
    for (index, change) in body.applications.into_iter().enumerate() {
        match change.operation.as_deref() {
            None => connect.push(change.id),
            Some("delete") => disconnect.push(change.id),
            Some(other) => {
                return Err(ApiError::bad_request(
                    "INVALID_OPERATION",
                    format!("applications[{index}].operation {other:?} is not supported; omit it to authorize or use \"delete\""),
                ))
            }
        }
    }
    state.store.set_api_applications(&api.id, &connect, &disconnect).await?;
    reply(
        "API_APPLICATIONS_UPDATED",
        "API applications updated",
        ApplicationsChanged { applications_connected: connect, applications_disconnected: disconnect },
    )
}

#[derive(Serialize, ToSchema)]
pub struct ScopeList {
    scopes: Vec<ScopeView>,
}

#[utoipa::path(get, path = "/apis/{api_id}/scopes", summary = "List an API's scopes",
    security(("bearer" = ["read:api_scopes"])), responses((status = 200, body = Reply<ScopeList>), NotFound))]
pub async fn list_scopes(State(state): State<AppState>, Path(api_id): Path<String>) -> Answer<ScopeList> {
    state.store.find_api(&api_id).await?.ok_or_else(|| ApiError::not_found("API", &api_id))?;
    let scopes = state.store.list_api_scopes(&api_id).await?.into_iter().map(ScopeView::from).collect();
    reply("OK", "Success", ScopeList { scopes })
}

#[utoipa::path(post, path = "/apis/{api_id}/applications/{application_id}/scopes/{scope_id}",
    summary = "Grant a scope to an authorized application", security(("bearer" = ["update:apis"])),
    responses((status = 200, body = Reply<Done>), NotFound, Conflict))]
pub async fn grant_scope(
    State(state): State<AppState>,
    Path((api_id, application_id, scope_id)): Path<(String, String, String)>,
) -> Answer<Done> {
    state.store.grant_scope(&api_id, &application_id, &scope_id).await?;
    reply("API_APPLICATION_SCOPE_ADDED", "API application scope added", Done {})
}

#[utoipa::path(delete, path = "/apis/{api_id}", summary = "Delete an API",
    security(("bearer" = ["delete:apis"])), responses((status = 200, body = Reply<Done>), NotFound, Conflict))]
pub async fn delete(State(state): State<AppState>, Path(api_id): Path<String>) -> Answer<Done> {
    state.store.delete_api(&api_id).await?;
    reply("API_DELETED", "API successfully deleted", Done {})
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateScope {
    /// The scope's name in tokens, e.g. `read:orders`; no spaces.
    #[schema(max_length = 128)]
    key: String,
    #[serde(default)]
    #[schema(max_length = 1024)]
    description: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct CreatedScope {
    scope: Id,
}

#[utoipa::path(post, path = "/apis/{api_id}/scopes", summary = "Create a scope", request_body = CreateScope,
    security(("bearer" = ["create:api_scopes"])),
    responses((status = 200, body = Reply<CreatedScope>), BadRequest, NotFound, Conflict))]
pub async fn create_scope(
    State(state): State<AppState>,
    Path(api_id): Path<String>,
    ApiJson(body): ApiJson<CreateScope>,
) -> Answer<CreatedScope> {
    if body.key.is_empty() || body.key.chars().any(char::is_whitespace) {
        return Err(ApiError::bad_request("INVALID_KEY", "key must be a non-empty scope name without spaces"));
    }
    let scope =
        state.store.create_api_scope(&api_id, &body.key, body.description.as_deref().unwrap_or_default()).await?;
    reply("OK", "Success", CreatedScope { scope: Id { id: scope.id } })
}
