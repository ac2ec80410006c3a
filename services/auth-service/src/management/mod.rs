//! The management API under `/api/v1`, with Kinde's paths and JSON shapes.
//!
//! Every route needs a bearer token issued for the management API's audience (`<issuer>/api`)
//! carrying the route's scope. Errors are `{"errors": [{"code", "message"}]}` as in Kinde, and a
//! message names the field at fault.

mod apis;
mod applications;
mod audit;
mod environment_variables;
mod organizations;
mod properties;
mod users;
mod workflows;

use axum::{
    extract::{rejection::JsonRejection, FromRequest, FromRequestParts, Request},
    http::{request::Parts, StatusCode},
    response::{IntoResponse, Response},
    routing::{get, patch, post, put},
    Json, Router,
};
use serde::de::DeserializeOwned;

use crate::{jwks::Rejection, AppState};

/// Scopes of the management API, Kinde's names plus claimflow's own for workflows.
pub const SCOPES: &[&str] = &[
    "read:applications",
    "create:applications",
    "update:applications",
    "delete:applications",
    "read:application_properties",
    "update:application_properties",
    "read:apis",
    "create:apis",
    "update:apis",
    "delete:apis",
    "read:api_scopes",
    "create:api_scopes",
    "update:api_scopes",
    "delete:api_scopes",
    "read:organizations",
    "create:organizations",
    "update:organizations",
    "delete:organizations",
    "read:properties",
    "create:properties",
    "update:properties",
    "delete:properties",
    "read:environment_variables",
    "create:environment_variables",
    "update:environment_variables",
    "delete:environment_variables",
    "read:users",
    "create:users",
    "update:users",
    "delete:users",
    "read:roles",
    "create:roles",
    "update:roles",
    "read:permissions",
    "create:permissions",
    "read:feature_flags",
    "create:feature_flags",
    "read:organization_users",
    "create:organization_users",
    "delete:organization_users",
    "read:organization_properties",
    "update:organization_properties",
    "read:workflows",
    "create:workflows",
    "update:workflows",
    "delete:workflows",
    "read:audit",
];

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/openapi.json",
            get(|axum::extract::State(state): axum::extract::State<AppState>| async move {
                Json(crate::openapi::document(&state.config.issuer))
            }),
        )
        .route("/apis", get(apis::list).post(apis::create))
        .route("/apis/{api_id}", get(apis::get_one).delete(apis::delete))
        .route("/apis/{api_id}/applications", patch(apis::update_applications))
        .route("/apis/{api_id}/scopes", get(apis::list_scopes).post(apis::create_scope))
        .route("/apis/{api_id}/applications/{application_id}/scopes/{scope_id}", post(apis::grant_scope))
        .route("/applications", get(applications::list).post(applications::create))
        .route(
            "/applications/{application_id}",
            get(applications::get_one).patch(applications::update).delete(applications::delete),
        )
        .route("/applications/{application_id}/rotate_secret", post(applications::rotate_secret))
        .route("/applications/{app_id}/auth_redirect_urls", applications::url_routes("redirect", "redirect_urls"))
        .route("/applications/{app_id}/auth_logout_urls", applications::url_routes("logout", "logout_urls"))
        .route("/applications/{application_id}/properties", get(applications::list_properties))
        .route("/applications/{application_id}/properties/{property_key}", put(applications::set_property))
        .route("/applications/{application_id}/tokens", patch(applications::update_tokens))
        .route("/properties", get(properties::list).post(properties::create))
        .route("/properties/{property_id}", put(properties::update).delete(properties::delete))
        .route("/organization", get(organizations::get_one).post(organizations::create))
        .route("/organization/{org_code}", patch(organizations::update).delete(organizations::delete))
        .route("/organizations", get(organizations::list))
        .route("/organizations/{org_code}/users", get(users::organization_users).post(users::add_organization_users))
        .route("/organizations/{org_code}/users/{user_id}", axum::routing::delete(users::remove_organization_user))
        .route("/organizations/{org_code}/properties", get(users::organization_properties))
        .route("/organizations/{org_code}/properties/{property_key}", put(users::set_organization_property))
        .route("/user", get(users::get_user).post(users::create_user).delete(users::delete_user))
        .route("/users", get(users::list_users))
        .route("/users/{user_id}/password", put(users::set_password))
        .route("/roles", get(users::list_roles).post(users::create_role))
        .route("/roles/{role_id}/permissions", get(users::role_permissions).patch(users::update_role_permissions))
        .route("/permissions", get(users::list_permissions).post(users::create_permission))
        .route("/feature_flags", post(users::create_feature_flag))
        .route("/environment/feature_flags", get(users::environment_feature_flags))
        .route("/environment_variables", get(environment_variables::list).post(environment_variables::create))
        .route(
            "/environment_variables/{variable_id}",
            get(environment_variables::get_one)
                .patch(environment_variables::update)
                .delete(environment_variables::delete),
        )
        .route("/workflows", get(workflows::list))
        .route("/workflows/deployments", post(workflows::deploy))
        .route("/workflows/runs", get(workflows::list_runs))
        .route("/workflows/runs/{run_id}", get(workflows::get_run))
        .route("/workflows/{workflow_id}", axum::routing::delete(workflows::delete))
        .route("/workflows/{workflow_id}/rollback", post(workflows::rollback))
        .route("/audit/tokens", get(audit::list_tokens))
        .fallback(|| async {
            ApiError::new(StatusCode::NOT_FOUND, "ROUTE_NOT_FOUND", "the requested API route does not exist")
        })
}

/// After a successful change (any method but GET and HEAD), every replica's token-path caches
/// are emptied, so the next token request sees the change.
pub async fn announce_changes(
    axum::extract::State(state): axum::extract::State<AppState>,
    request: Request,
    next: axum::middleware::Next,
) -> Response {
    let changes = !matches!(*request.method(), axum::http::Method::GET | axum::http::Method::HEAD);
    let response = next.run(request).await;
    if changes && response.status().is_success() {
        state.announce_change().await;
    }
    response
}

/// A management API error.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self { status, code, message: message.into() }
    }

    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }

    pub fn not_found(what: &str, id: &str) -> Self {
        Self::new(StatusCode::NOT_FOUND, "NOT_FOUND", format!("{what} {id} does not exist"))
    }

    pub fn internal(err: impl std::fmt::Display) -> Self {
        tracing::error!(%err, "management API failure");
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "INTERNAL_ERROR", "internal error; see the auth-service log")
    }
}

impl From<claimflow_storage::StorageError> for ApiError {
    fn from(err: claimflow_storage::StorageError) -> Self {
        use claimflow_storage::StorageError;
        match err {
            StorageError::Conflict(message) => ApiError::new(StatusCode::CONFLICT, "CONFLICT", message),
            StorageError::NotFound { what, id } => ApiError::not_found(what, &id),
            other => ApiError::internal(other),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({ "errors": [{ "code": self.code, "message": self.message }] });
        (self.status, Json(body)).into_response()
    }
}

/// A JSON body whose rejections (malformed JSON, unknown or missing fields) are [`ApiError`]s
/// naming the problem.
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match Json::<T>::from_request(req, state).await {
            Ok(Json(value)) => Ok(ApiJson(value)),
            Err(rejection) => Err(match rejection {
                JsonRejection::JsonDataError(err) => ApiError::bad_request("INVALID_BODY", err.body_text()),
                JsonRejection::JsonSyntaxError(err) => ApiError::bad_request("INVALID_JSON", err.body_text()),
                JsonRejection::MissingJsonContentType(_) => ApiError::new(
                    StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    "INVALID_CONTENT_TYPE",
                    "send the body as application/json",
                ),
                other => ApiError::bad_request("INVALID_BODY", other.body_text()),
            }),
        }
    }
}

/// Query parameters whose rejections (unknown or malformed parameters) are [`ApiError`]s.
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Query(value)| ApiQuery(value))
            .map_err(|rejection| ApiError::bad_request("INVALID_QUERY", rejection.body_text()))
    }
}

/// The caller of a management route: an application holding a valid management token.
pub struct Caller {
    pub client_id: String,
    scopes: Vec<String>,
}

impl Caller {
    /// 403 naming the scope when the token lacks it.
    pub fn require(&self, scope: &str) -> Result<(), ApiError> {
        if self.scopes.iter().any(|granted| granted == scope) {
            tracing::debug!(client_id = %self.client_id, scope, "management call authorized");
            Ok(())
        } else {
            Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "INSUFFICIENT_SCOPE",
                format!("this route needs the scope {scope}"),
            ))
        }
    }
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let unauthorized = |message: &str| ApiError::new(StatusCode::UNAUTHORIZED, "UNAUTHORIZED", message);
        let token = crate::jwks::bearer_token(&parts.headers)
            .ok_or_else(|| unauthorized("a bearer token for the management API is required"))?;
        let audience = state.config.management_audience();
        let claims =
            state.jwks.verify(token, &state.config.issuer, Some(&audience)).await.map_err(
                |rejection| match rejection {
                    Rejection::NotJwt => unauthorized("the bearer token is not a JWT"),
                    Rejection::NoKid => unauthorized("the bearer token has no kid"),
                    Rejection::UnknownKey => unauthorized("the bearer token was not signed by this issuer"),
                    Rejection::Keys(err) => ApiError::internal(err),
                    Rejection::Invalid(err) => {
                        unauthorized(&format!("the bearer token is not valid for the management API: {err}"))
                    }
                },
            )?;
        let scopes = claims
            .get("scp")
            .and_then(|scp| scp.as_array())
            .map(|scp| scp.iter().filter_map(|s| s.as_str().map(str::to_owned)).collect())
            .unwrap_or_default();
        let client_id = claims.get("azp").and_then(|azp| azp.as_str()).unwrap_or_default().to_owned();
        let caller = Caller { client_id, scopes };
        // NOTE: the route's scope is checked here, before its body or query is read: a caller
        // without the scope learns nothing about what the route would accept.
        if let Some(scope) = route_scope(parts) {
            caller.require(scope)?;
        }
        Ok(caller)
    }
}

/// `page_size` / `next_token`, as Kinde's list endpoints take them.
#[derive(serde::Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Page {
    page_size: Option<u64>,
    next_token: Option<String>,
    /// Accepted for Kinde clients; lists are in id order.
    #[serde(default)]
    sort: Option<String>,
}

const DEFAULT_PAGE_SIZE: u64 = 100;
const MAX_PAGE_SIZE: u64 = 500;

/// One page of `items` in the order of their `id` field, and the token of the next page.
/// (Administrative lists are small; they are paginated after loading.)
pub fn paginate(mut items: Vec<serde_json::Value>, page: &Page) -> (Vec<serde_json::Value>, Option<String>) {
    let _ = &page.sort;
    let id = |item: &serde_json::Value| item.get("id").and_then(|id| id.as_str()).unwrap_or_default().to_owned();
    items.sort_by_key(|item| id(item));
    if let Some(after) = &page.next_token {
        items.retain(|item| id(item).as_str() > after.as_str());
    }
    let size = page.page_size.unwrap_or(DEFAULT_PAGE_SIZE).clamp(1, MAX_PAGE_SIZE) as usize;
    let next = (items.len() > size).then(|| id(&items[size - 1]));
    items.truncate(size);
    (items, next)
}

/// Where the next page of a newest-first list starts: its `next_token` is `<ms>.<id>` of the
/// previous page's last item.
pub fn keyset_after(next_token: Option<&str>) -> Result<Option<(i64, String)>, ApiError> {
    next_token
        .map(|token| {
            token
                .split_once('.')
                .and_then(|(ms, id)| Some((ms.parse::<i64>().ok()?, id.to_owned())))
                .ok_or_else(|| ApiError::bad_request("INVALID_NEXT_TOKEN", "next_token is not one this API returned"))
        })
        .transpose()
}

/// Cuts a newest-first list read with one item more than `page_size` (which tells whether
/// another page exists) and gives the next page's token.
pub fn keyset_page<T>(mut items: Vec<T>, page_size: u64, key: impl Fn(&T) -> (i64, &str)) -> (Vec<T>, Option<String>) {
    if items.len() as u64 <= page_size {
        return (items, None);
    }
    items.truncate(page_size as usize);
    let next = items.last().map(|last| {
        let (ms, id) = key(last);
        format!("{ms}.{id}")
    });
    (items, next)
}

/// The scope the OpenAPI table documents for this request's route.
fn route_scope(parts: &Parts) -> Option<&'static str> {
    let matched = parts.extensions.get::<axum::extract::MatchedPath>()?.as_str();
    let path = matched.strip_prefix("/api/v1").unwrap_or(matched);
    let method = parts.method.as_str().to_ascii_lowercase();
    crate::openapi::OPERATIONS.iter().find(|op| op.path == path && op.method == method).map(|op| op.scope)
}

/// `{"code": "OK", "message": "Success", ...fields}`.
pub fn ok(code: &str, message: &str, fields: serde_json::Value) -> Json<serde_json::Value> {
    let mut body = serde_json::json!({ "code": code, "message": message });
    if let (Some(body), serde_json::Value::Object(fields)) = (body.as_object_mut(), fields) {
        body.extend(fields);
    }
    Json(body)
}
